#include "actors/gateway_supervisor.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <chrono>

#include "gateway/config/config.h"
#include "gateway/io_scheduling.h"
#include "actors/proxy_core.h"
#include "gateway/metrics/metrics.h"
#include "gateway/net/address.h"

namespace fedgw {

namespace {

// Asks answered from another actor's state (counters, peers, contexts): shorter
// than the control server's 10 s for such requests, so a partial answer wins.
constexpr auto ask_timeout = std::chrono::seconds(5);
// Readiness problems logged one by one; the rest are counted (fedctl check shows all).
constexpr size_t logged_problems = 5;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch()).count();
}

control::CertificateSummary certificate_summary(const tls::validation_result& v, int64_t now_s) {
  control::CertificateSummary out;
  out.set_subject(v.subject);
  out.set_issuer(v.issuer);
  out.set_not_before_unix(v.not_before);
  out.set_not_after_unix(v.not_after);
  if (v.loaded()) out.set_days_left((v.not_after - now_s) / 86400);
  out.set_fingerprint(v.fingerprint);
  out.set_source(v.source);
  for (const auto& p : v.problems)  // the descriptive info lines are not problems
    if (p.severity != tls::level::info) out.add_problems(std::string(tls::level_name(p.severity)) + ": " + p.text);
  return out;
}

struct supervisor_state {
  supervisor_options options;
  int64_t started_ms = 0;
  uint64_t config_applies = 0;
  proxy_session_actor proxy_session;  // SIP_PROXY mode
};

using self_ptr = supervisor_actor::stateful_pointer<supervisor_state>;

// Names of the top-level sections that differ, for the status log.
std::string changed_sections(const config::Config& before, const config::Config& after) {
  std::string names;
  const auto* descriptor = config::Config::descriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    std::vector<const google::protobuf::FieldDescriptor*> field{descriptor->field(i)};
    google::protobuf::util::MessageDifferencer differ;
    if (differ.CompareWithFields(before, after, field, field)) continue;
    names += (names.empty() ? "" : ", ") + field[0]->name();
  }
  return names.empty() ? "nothing changed" : "changed: " + names;
}

bool same(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

// New connections take the certificate manager's current contexts.
void refresh_tls(self_ptr self) {
  auto& st = self->state;
  if (!st.options.tls) return;
  auto source = st.options.tls;
  self->request(st.options.certificates, ask_timeout, caf::get_atom::value)
    .then([=](const tls::contexts_ptr& contexts) { source->set(contexts); }, [](const caf::error&) {});
}

// A partner action (fedctl peers reset / close) answered by the registry.
template <class Atom>
caf::result<std::string> ask_registry(self_ptr self, Atom atom, const std::string& domain) {
  auto& st = self->state;
  if (!st.options.registry) return std::string("the data path is not running");
  auto promise = self->make_response_promise<std::string>();
  self->request(st.options.registry, ask_timeout, atom, domain)
    .then([=](std::string& text) mutable { promise.deliver(std::move(text)); },
          [=](const caf::error& e) mutable { promise.deliver(e); });
  return promise;
}

// sip_proxy.incoming follows the configuration (opened whenever configured: a mode switch needs no change).
void update_proxy_incoming(self_ptr self, const config::Config& before) {
  auto& st = self->state;
  const auto& c = st.options.config;
  auto configured = [](const config::Config& x) { return x.has_sip_proxy() && x.sip_proxy().has_incoming(); };
  bool unchanged = configured(before) == configured(c) &&
                   (!configured(c) || same(before.sip_proxy().incoming(), c.sip_proxy().incoming()));
  if (unchanged || !st.options.open_proxy_incoming) return;
  auto& listeners = st.options.listeners;
  listeners.erase(std::remove_if(listeners.begin(), listeners.end(),
                                 [](const control::ListenerStatus& l) { return l.name() == "sip_proxy.incoming"; }),
                  listeners.end());
  if (st.options.proxy_incoming_listener != 0) {
    st.options.close_listener(st.options.proxy_incoming_listener);
    st.options.proxy_incoming_listener = 0;
    report(st.options.log, severity::info, "listener", "sip_proxy.incoming closed (its settings changed)");
  }
  if (!configured(c)) return;
  control::ListenerStatus status;
  st.options.proxy_incoming_listener = st.options.open_proxy_incoming(c, status);
  if (st.options.proxy_incoming_listener == 0)
    report(st.options.log, severity::error, "listener", "sip_proxy.incoming " + status.state());
  listeners.push_back(std::move(status));
}

// SIP_PROXY mode runs a session with the proxy; new proxy settings (or certificate, or domains) start a new
// one; DIRECT mode stops it.
void update_proxy_session(self_ptr self, bool settings_changed) {
  auto& st = self->state;
  const auto& c = st.options.config;
  bool wanted = c.mode() == config::SIP_PROXY && st.options.start_proxy_session;
  if (st.proxy_session && (!wanted || settings_changed)) {
    caf::anon_send_exit(st.proxy_session, caf::exit_reason::user_shutdown);
    st.proxy_session = nullptr;
    report(st.options.log, severity::info, "sip_proxy",
           wanted ? "SIP proxy settings changed: the session with the proxy starts again"
                  : "mode DIRECT: the session with the SIP proxy is closed");
  }
  if (wanted && !st.proxy_session) st.proxy_session = st.options.start_proxy_session(c);
  // The registry sends every request for a partner to the session (SIP_PROXY) or by DNS (DIRECT).
  if (st.options.registry) {
    std::string reason;
    if (c.mode() == config::SIP_PROXY && !st.proxy_session) reason = "SIP proxy mode: the session with the proxy is not running";
    caf::anon_send(st.options.registry, via_proxy_atom::value, caf::actor_cast<connection_actor>(st.proxy_session),
                   reason);
  }
}

std::string summary(const config::Config& c) {
  std::string domains;
  for (const auto& d : c.domains()) domains += (domains.empty() ? "" : ",") + d;
  return std::string("mode ") + config::mode_name(c.mode()) + ", domains " + domains;
}

// "consistent (a.test: DNS host IP ..., DNS port ...)" or "NOT consistent, 2 problem(s); details: fedctl check".
std::string readiness_text(const readiness::report& report) {
  if (!report.consistent)
    return "NOT consistent, " + std::to_string(report.problems.size()) + " problem(s); details: fedctl check";
  std::string fields;
  for (const auto& n : report.names)
    if (n.found)
      fields += (fields.empty() ? "" : "; ") + n.name + ": DNS host IP " + n.host_ip + ", DNS port " +
                std::to_string(n.port);
  return "consistent" + (fields.empty() ? std::string() : " (" + fields + ")");
}

// One entry per problem, at most logged_problems, so the 30-entry window stays useful.
void log_problems(self_ptr self, const readiness::report& report) {
  const auto& log = self->state.options.log;
  for (size_t i = 0; i < report.problems.size() && i < logged_problems; ++i)
    fedgw::report(log, severity::warning, "check", report.problems[i]);
  if (report.problems.size() > logged_problems)
    fedgw::report(log, severity::warning, "check",
                  "... and " + std::to_string(report.problems.size() - logged_problems) + " more");
}

void log_readiness(self_ptr self, const readiness::report& report, const std::string& reason) {
  fedgw::report(self->state.options.log, report.consistent ? severity::info : severity::warning, "check",
                "federation readiness (" + reason + "): " + readiness_text(report));
  log_problems(self, report);
}

std::chrono::milliseconds running_budget(self_ptr self) {
  return config::readiness_budget(self->state.options.config);
}

// The readiness check itself, with what the session with the proxy said.
template <class Then>
void run_checks(self_ptr self, std::chrono::milliseconds budget, std::optional<readiness::proxy_session_view> proxy,
                Then then);

// Runs a readiness check on the running config within `budget`; `then` gets
// the report (a failed check is a report with that one problem). In SIP_PROXY
// mode the session with the proxy is asked first (reachability, TLS, login).
template <class Then>
void run_readiness(self_ptr self, std::chrono::milliseconds budget, Then then) {
  auto& st = self->state;
  if (st.options.config.mode() != config::SIP_PROXY || !st.proxy_session)
    return run_checks(self, budget, std::nullopt, std::move(then));
  auto ask = std::min<std::chrono::milliseconds>(budget / 4, std::chrono::seconds(1));
  self->request(st.proxy_session, ask, status_atom::value)
    .then(
      [=](const control::ProxySessionStatus& s) mutable {
        readiness::proxy_session_view view{s.state(), s.proxy(), s.transport(), s.user(), s.last_error(), s.expires_in_s()};
        run_checks(self, budget - ask, view, std::move(then));
      },
      [=](const caf::error&) mutable { run_checks(self, budget - ask, std::nullopt, std::move(then)); });
}

template <class Then>
void run_checks(self_ptr self, std::chrono::milliseconds budget, std::optional<readiness::proxy_session_view> proxy,
                Then then) {
  auto& opts = self->state.options;
  auto check = spawn_readiness_check(self->system(), opts.config, opts.certificates, opts.dns, budget, std::move(proxy));
  // The check answers within its budget; the margin only guards against it dying.
  self->request(check, budget + config::budget_margin, readiness_atom::value)
    .then([=](readiness::report& report) mutable { then(std::move(report)); },
          [=](const caf::error& e) mutable {
            readiness::report failed;
            failed.problems.push_back("readiness check failed: " + self->system().render(e));
            failed.lines = failed.problems;
            then(std::move(failed));
          });
}

// Parses and validates a config text against the running one.
config::load_result load_change(self_ptr self, const std::string& text, const std::string& source) {
  // A config shown by config show (or the admin page) carries "***" for the passwords it did not change.
  auto loaded = config::parse_config(text, source, &self->state.options.config);
  if (loaded.ok()) loaded.errors = config::validate_change(self->state.options.config, loaded.config);
  return loaded;
}

void refuse(self_ptr self, const std::string& source, const std::vector<std::string>& errors) {
  report(self->state.options.log, severity::error, "config",
         "refused " + source + ", running config unchanged: " + errors.front() +
           (errors.size() > 1 ? " (and " + std::to_string(errors.size() - 1) + " more)" : ""));
}

// Dry run of a certificate section at the certificate manager; `then` gets
// its errors, each prefixed "certificate: " (empty: usable).
template <class Then>
void check_certificate(self_ptr self, const config::Certificate& certificate, Then then) {
  // The internal listener's CA and names are built into the same contexts (listener changes need a restart,
  // so the running section is the one to check with).
  self->request(self->state.options.certificates, config::certificate_budget, check_atom::value, certificate,
                self->state.options.config.internal_listener())
    .then(
      [=](const tls::validation_result& v) mutable {
        std::vector<std::string> errors;
        for (const auto& e : v.errors()) errors.push_back("certificate: " + e);
        then(std::move(errors));
      },
      [=](const caf::error& e) mutable {
        then(std::vector<std::string>{"certificate: check failed: " + self->system().render(e)});
      });
}

// Commits a validated config whose certificate section (if changed) was
// checked, runs the readiness check within `budget` and logs one summary line
// (plus one per problem); then calls `done`.
template <class Done>
void commit(self_ptr self, config::Config next, const std::string& source, std::chrono::milliseconds budget,
            Done done) {
  auto& st = self->state;
  auto changes = changed_sections(st.options.config, next);
  bool certificate_changed = !same(st.options.config.certificate(), next.certificate());
  bool dns_changed = !same(st.options.config.dns(), next.dns());
  bool domains_changed = !std::equal(st.options.config.domains().begin(), st.options.config.domains().end(),
                                     next.domains().begin(), next.domains().end());
  bool proxy_changed = !same(st.options.config.sip_proxy(), next.sip_proxy()) || certificate_changed || domains_changed;
  auto before = std::move(st.options.config);
  st.options.config = std::move(next);
  st.options.source = source;
  ++st.config_applies;
  const auto& c = st.options.config;
  if (dns_changed) caf::anon_send(st.options.dns, config_atom::value, c.dns());
  // The certificate manager warns about served domains its certificate does not
  // cover; sent before a new certificate section so that it is judged by them.
  if (domains_changed)
    caf::anon_send(st.options.certificates, config_atom::value,
                   std::vector<std::string>(c.domains().begin(), c.domains().end()));
  // Domains and partner policy take effect for the next request.
  if (st.options.proxy_settings) {
    st.options.proxy_settings = std::make_shared<const proxy::settings>(
      proxy::settings::from_config(c, st.options.proxy_settings->keys));
    for (const auto& shard : st.options.shards) caf::anon_send(shard, config_atom::value, st.options.proxy_settings);
    if (st.options.policy) st.options.policy->set(st.options.proxy_settings);
  }
  auto applied = "applied " + source + " (" + summary(c) + "; " + changes + ")";
  update_proxy_incoming(self, before);
  update_proxy_session(self, proxy_changed);
  auto finish = [=](std::string certificate_note) mutable {
    run_readiness(self, budget, [=](readiness::report r) mutable {
      fedgw::report(self->state.options.log, r.consistent ? severity::info : severity::warning, "config",
                    applied + certificate_note + "; federation readiness: " + readiness_text(r));
      log_problems(self, r);
      done();
    });
  };
  if (!certificate_changed) return finish("");
  self->request(st.options.certificates, config::certificate_budget, apply_atom::value, c.certificate(),
                c.internal_listener())
    .then(
      [=](const tls::validation_result& v) mutable {
        refresh_tls(self);
        // The dry run passed; the files can still have changed since (the manager logged why).
        finish(v.ok() ? std::string() : "; the new certificate was refused at the switch, the previous one stays in use");
      },
      [=](const caf::error& e) mutable {
        finish("; the certificate manager did not take the new certificate: " + self->system().render(e));
      });
}

// /metrics: each owner's block (proxy-core shards, peer registry, DNS resolver) and the certificate in use,
// merged and rendered. Every ask has its own deadline: an actor that does not answer is left out (counted
// in fedgw_scrape_parts_missing), so a scrape never waits longer than metrics_timeout.
constexpr auto metrics_timeout = std::chrono::seconds(2);

caf::result<std::string> gather_metrics(self_ptr self) {
  auto& st = self->state;
  auto data = std::make_shared<metrics::snapshot_data>();
  data->version = FEDGW_VERSION;
  data->process = metrics::read_process_stats();
  data->scheduler = {io_stealing::cores_busy(), io_stealing::cores_busy_total()};
  const auto& allowed = st.options.config.partners().allowed();
  data->allowed_partners.assign(allowed.begin(), allowed.end());
  auto pending = std::make_shared<size_t>(st.options.shards.size() + (st.options.registry ? 1 : 0) +
                                          (st.options.dns ? 1 : 0) + (st.options.certificates ? 1 : 0));
  if (*pending == 0) return metrics::render(*data);
  auto promise = self->make_response_promise<std::string>();
  auto done = [=](bool answered) mutable {
    if (!answered) ++data->parts_missing;
    if (--*pending == 0) promise.deliver(metrics::render(*data));
  };
  auto missing = [=](const caf::error&) mutable { done(false); };
  for (const auto& shard : st.options.shards)
    self->request(shard, metrics_timeout, metrics_atom::value).then([=](const metrics::sip_block& part) mutable {
      data->sip += part;
      done(true);
    }, missing);
  if (st.options.registry)
    self->request(st.options.registry, metrics_timeout, metrics_atom::value)
      .then([=](metrics::peer_block& part) mutable {
        data->peers = std::move(part);
        done(true);
      }, missing);
  if (st.options.dns)
    self->request(st.options.dns, metrics_timeout, metrics_atom::value).then([=](const metrics::dns_block& part) mutable {
      data->dns = part;
      done(true);
    }, missing);
  if (st.options.certificates)
    self->request(st.options.certificates, metrics_timeout, status_atom::value)
      .then([=](const tls::validation_result& v) mutable {
        data->certificate_in_use = v.ok();
        if (v.ok()) data->certificate_not_after = v.not_after;
        done(true);
      }, missing);
  return promise;
}

supervisor_actor::behavior_type supervisor_impl(self_ptr self, supervisor_options options) {
  self->state.options = std::move(options);
  self->state.started_ms = now_ms();
  const auto& opts = self->state.options;
  report(opts.log, severity::info, "config", "applied " + opts.source + " (" + summary(opts.config) + ")");
  update_proxy_session(self, false);
  run_readiness(self, running_budget(self), [=](readiness::report r) { log_readiness(self, r, "start-up"); });
  caf::anon_send(opts.certificates, caf::subscribe_atom::value, caf::actor_cast<caf::actor>(self));
  self->attach_functor([=](const caf::error&) {
    auto& st = self->state;
    if (st.proxy_session) caf::anon_send_exit(st.proxy_session, caf::exit_reason::user_shutdown);
  });
  return {
    [=](status_atom) -> caf::result<control::GatewayStatus> {
      auto& st = self->state;
      const auto& c = st.options.config;
      auto status = std::make_shared<control::GatewayStatus>();
      status->set_version(FEDGW_VERSION);
      status->set_mode(c.mode());
      for (const auto& d : c.domains()) status->add_domains(d);
      status->set_started_unix_ms(st.started_ms);
      status->set_uptime_s(static_cast<uint64_t>((now_ms() - st.started_ms) / 1000));
      status->set_config_source(st.options.source);
      status->set_worker_threads(st.options.worker_threads);
      auto* control = status->add_listeners();
      control->set_name("control");
      control->set_address(c.control_socket());
      control->set_state("listening");
      for (const auto& l : st.options.listeners) *status->add_listeners() = l;
      status->mutable_counters()->set_config_applies(st.config_applies);
      auto promise = self->make_response_promise<control::GatewayStatus>();
      auto pending = std::make_shared<size_t>(st.options.shards.size() + (st.proxy_session ? 1 : 0) +
                                              (st.options.certificates ? 1 : 0) + (st.options.registry ? 1 : 0));
      if (*pending == 0) {
        promise.deliver(*status);
        return promise;
      }
      // The shards' requests and responses: the same blocks /metrics sums (fedctl status and /metrics agree).
      auto sip = std::make_shared<metrics::sip_block>();
      auto done = [=]() mutable {
        if (--*pending != 0) return;
        auto counters = status_counters(*sip);
        counters.set_config_applies(status->counters().config_applies());
        *status->mutable_counters() = std::move(counters);
        promise.deliver(*status);
      };
      if (st.options.certificates)
        self->request(st.options.certificates, ask_timeout, status_atom::value)
          .then(
            [=](const tls::validation_result& v) mutable {
              *status->mutable_certificate() = certificate_summary(v, now_ms() / 1000);
              done();
            },
            [=](const caf::error&) mutable { done(); });
      if (st.options.registry)
        self->request(st.options.registry, ask_timeout, uc_server_atom::value)
          .then(
            [=](const std::vector<std::string>& addresses) mutable {
              for (const auto& a : addresses) status->add_uc_servers(a);
              done();
            },
            [=](const caf::error&) mutable { done(); });
      if (st.proxy_session)
        self->request(st.proxy_session, ask_timeout, status_atom::value)
          .then(
            [=](const control::ProxySessionStatus& session) mutable {
              *status->mutable_proxy_session() = session;
              done();
            },
            [=](const caf::error&) mutable { done(); });
      for (const auto& shard : st.options.shards)
        self->request(shard, ask_timeout, metrics_atom::value)
          .then(
            [=](const metrics::sip_block& part) mutable {
              *sip += part;
              done();
            },
            [=](const caf::error&) mutable { done(); });
      return promise;
    },
    [=](send_test_atom, const std::string& domain) -> caf::result<send_test_result> {
      auto& st = self->state;
      if (st.options.shards.empty()) return send_test_result{503, "the data path is not running", 0};
      auto from = st.options.config.domains().empty() ? std::string("localhost") : st.options.config.domains(0);
      auto test = spawn_send_test(self->system(), st.options.shards, from, domain);
      auto promise = self->make_response_promise<send_test_result>();
      // Longer than timer F, so the gateway's own 408 arrives first.
      auto limit = std::chrono::milliseconds(st.options.config.limits().transaction_timeout_ms()) + std::chrono::seconds(5);
      self->request(test, limit, send_test_atom::value)
        .then([=](send_test_result& r) mutable { promise.deliver(std::move(r)); },
              [=](const caf::error& e) mutable { promise.deliver(e); });
      return promise;
    },
    [=](peers_atom) -> caf::result<std::vector<peer_info>> {
      auto& st = self->state;
      if (!st.options.registry) return std::vector<peer_info>{};
      auto promise = self->make_response_promise<std::vector<peer_info>>();
      self->request(st.options.registry, ask_timeout, peers_atom::value)
        .then([=](std::vector<peer_info>& peers) mutable { promise.deliver(std::move(peers)); },
              [=](const caf::error& e) mutable { promise.deliver(e); });
      return promise;
    },
    [=](peer_reset_atom atom, const std::string& domain) -> caf::result<std::string> {
      return ask_registry(self, atom, domain);
    },
    [=](peer_close_atom atom, const std::string& domain) -> caf::result<std::string> {
      return ask_registry(self, atom, domain);
    },
    [=](config_atom) { return config::to_masked_text(self->state.options.config); },
    [=](config_atom, caf::get_atom) { return config::masked(self->state.options.config); },
    [=](check_atom, const std::string& text, const std::string& source)
      -> caf::result<std::vector<std::string>> {
      auto loaded = load_change(self, text, source);
      if (!loaded.ok() || same(loaded.config.certificate(), self->state.options.config.certificate()))
        return loaded.errors;
      // A new certificate section must also load and validate.
      auto promise = self->make_response_promise<std::vector<std::string>>();
      check_certificate(self, loaded.config.certificate(),
                        [=](std::vector<std::string> errors) mutable { promise.deliver(std::move(errors)); });
      return promise;
    },
    [=](apply_atom, const std::string& text, const std::string& source, caf::timespan budget)
      -> caf::result<std::vector<std::string>> {
      auto& st = self->state;
      auto loaded = load_change(self, text, source);
      if (!loaded.ok()) {
        refuse(self, source, loaded.errors);
        return loaded.errors;
      }
      auto readiness = std::chrono::duration_cast<std::chrono::milliseconds>(budget);
      auto promise = self->make_response_promise<std::vector<std::string>>();
      auto applied = [=]() mutable { promise.deliver(std::vector<std::string>{}); };
      if (same(loaded.config.certificate(), st.options.config.certificate())) {
        commit(self, std::move(loaded.config), source, readiness, applied);
        return promise;
      }
      // All or nothing: a certificate section that does not validate refuses the
      // whole file. The dry run is bounded by config::certificate_budget, so a
      // late answer never commits after the control server gave up waiting.
      auto next = std::make_shared<config::Config>(std::move(loaded.config));
      check_certificate(self, next->certificate(), [=](std::vector<std::string> errors) mutable {
        if (errors.empty()) return commit(self, std::move(*next), source, readiness, applied);
        refuse(self, source, errors);
        promise.deliver(std::move(errors));
      });
      return promise;
    },
    [=](budget_atom) -> caf::timespan { return running_budget(self); },
    [=](readiness_atom, caf::timespan budget) -> caf::result<readiness::report> {
      auto promise = self->make_response_promise<readiness::report>();
      run_readiness(self, std::chrono::duration_cast<std::chrono::milliseconds>(budget),
                    [=](readiness::report r) mutable {
                      log_readiness(self, r, "on request");
                      promise.deliver(std::move(r));
                    });
      return promise;
    },
    [=](cert_changed_atom) {
      refresh_tls(self);
      run_readiness(self, running_budget(self),
                    [=](readiness::report r) { log_readiness(self, r, "certificate files changed"); });
    },
    [=](login_atom) -> std::string {
      auto& st = self->state;
      if (!st.proxy_session) return "not in SIP_PROXY mode: there is no proxy login";
      caf::anon_send(st.proxy_session, login_atom::value);
      return "login at the SIP proxy requested: see fedctl status and fedctl log";
    },
    [=](metrics_atom) -> caf::result<std::string> { return gather_metrics(self); },
    [=](reload_atom) -> caf::result<tls::validation_result> {
      auto promise = self->make_response_promise<tls::validation_result>();
      self->request(self->state.options.certificates, config::certificate_budget, reload_atom::value)
        .then(
          [=](tls::validation_result& v) mutable {
            promise.deliver(v);
            refresh_tls(self);
            run_readiness(self, running_budget(self),
                          [=](readiness::report r) { log_readiness(self, r, "certificate reloaded"); });
          },
          [=](const caf::error& e) mutable { promise.deliver(e); });
      return promise;
    },
  };
}

}  // namespace

supervisor_actor spawn_gateway_supervisor(caf::actor_system& system, supervisor_options options) {
  return system.spawn(supervisor_impl, std::move(options));
}

}  // namespace fedgw
