#include "actors/gateway_supervisor.h"

#include <google/protobuf/util/message_differencer.h>

#include <chrono>

#include "gateway/config/config.h"
#include "gateway/net/address.h"

namespace fedgw {

namespace {

constexpr auto ask_timeout = std::chrono::seconds(60);
// Readiness problems logged one by one; the rest are counted (fedctl check shows all).
constexpr size_t logged_problems = 5;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch()).count();
}

struct supervisor_state {
  supervisor_options options;
  int64_t started_ms = 0;
  uint64_t config_applies = 0;
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

void add_listener(control::GatewayStatus& status, const char* name, const config::Listener& l,
                  const char* state) {
  auto* out = status.add_listeners();
  out->set_name(name);
  out->set_address(net::endpoint{l.bind_ip(), static_cast<uint16_t>(l.port())}.to_string());
  out->set_transport(l.transport());
  out->set_state(state);
}

std::string summary(const config::Config& c) {
  std::string domains;
  for (const auto& d : c.domains()) domains += (domains.empty() ? "" : ",") + d;
  return std::string("mode ") + config::mode_name(c.mode()) + ", domains " + domains;
}

void log_readiness(self_ptr self, const readiness::report& report, const std::string& reason) {
  const auto& log = self->state.options.log;
  for (const auto& n : report.names)
    if (n.found)
      fedgw::report(log, severity::info, "check",
                    n.name + ": DNS host IP " + n.host_ip + ", DNS port " + std::to_string(n.port));
  if (report.consistent) {
    fedgw::report(log, severity::info, "check", "federation readiness (" + reason + "): consistent");
    return;
  }
  fedgw::report(log, severity::warning, "check",
                "federation readiness (" + reason + "): NOT consistent, " +
                  std::to_string(report.problems.size()) + " problem(s); details: fedctl check");
  for (size_t i = 0; i < report.problems.size() && i < logged_problems; ++i)
    fedgw::report(log, severity::warning, "check", report.problems[i]);
  if (report.problems.size() > logged_problems)
    fedgw::report(log, severity::warning, "check",
                  "... and " + std::to_string(report.problems.size() - logged_problems) + " more");
}

// Runs a readiness check on the running config; `then` gets the report.
template <class Then>
void run_readiness(self_ptr self, const std::string& reason, Then then) {
  auto& opts = self->state.options;
  auto check = spawn_readiness_check(self->system(), opts.config, opts.certificates, opts.dns);
  self->request(check, ask_timeout, readiness_atom::value)
    .then(
      [=](readiness::report& report) mutable {
        log_readiness(self, report, reason);
        then(std::move(report));
      },
      [=](const caf::error& e) mutable {
        readiness::report failed;
        failed.problems.push_back("readiness check failed: " + self->system().render(e));
        failed.lines = failed.problems;
        fedgw::report(self->state.options.log, severity::error, "check", failed.problems.front());
        then(std::move(failed));
      });
}

// Parses and validates a config text against the running one.
config::load_result load_change(self_ptr self, const std::string& text, const std::string& source) {
  auto loaded = config::parse_config(text, source);
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
  self->request(self->state.options.certificates, ask_timeout, check_atom::value, certificate)
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

// Commits a validated config whose certificate section (if changed) was checked.
void commit(self_ptr self, config::Config next, const std::string& source) {
  auto& st = self->state;
  auto changes = changed_sections(st.options.config, next);
  bool certificate_changed = !same(st.options.config.certificate(), next.certificate());
  bool dns_changed = !same(st.options.config.dns(), next.dns());
  st.options.config = std::move(next);
  st.options.source = source;
  ++st.config_applies;
  report(st.options.log, severity::info, "config",
         "applied " + source + " (" + summary(st.options.config) + "; " + changes + ")");
  if (dns_changed) caf::anon_send(st.options.dns, config_atom::value, st.options.config.dns());
  // Domains and partner policy take effect for the next request.
  if (st.options.proxy_settings) {
    st.options.proxy_settings = std::make_shared<const proxy::settings>(
      proxy::settings::from_config(st.options.config, st.options.proxy_settings->keys));
    for (const auto& shard : st.options.shards) caf::anon_send(shard, config_atom::value, st.options.proxy_settings);
    if (st.options.policy) st.options.policy->set(st.options.proxy_settings);
    const auto& partners = st.options.config.partners();
    caf::anon_send(st.options.registry, config_atom::value,
                   std::vector<std::string>(partners.allowed().begin(), partners.allowed().end()),
                   partners.discovered_rate_limit());
  }
  if (certificate_changed) {
    self->request(st.options.certificates, ask_timeout, apply_atom::value, st.options.config.certificate())
      .then(
        [=](const tls::validation_result&) {
          refresh_tls(self);
          run_readiness(self, "config applied", [](auto&&) {});
        },
        [=](const caf::error&) { run_readiness(self, "config applied", [](auto&&) {}); });
  } else {
    run_readiness(self, "config applied", [](auto&&) {});
  }
}

supervisor_actor::behavior_type supervisor_impl(self_ptr self, supervisor_options options) {
  self->state.options = std::move(options);
  self->state.started_ms = now_ms();
  const auto& opts = self->state.options;
  report(opts.log, severity::info, "config", "applied " + opts.source + " (" + summary(opts.config) + ")");
  run_readiness(self, "start-up", [](auto&&) {});
  caf::anon_send(opts.certificates, caf::subscribe_atom::value, caf::actor_cast<caf::actor>(self));
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
      if (c.mode() == config::SIP_PROXY)
        add_listener(*status, "sip_proxy.incoming", c.sip_proxy().incoming(), "not listening (SIP proxy mode not built yet)");
      status->mutable_counters()->set_config_applies(st.config_applies);
      auto promise = self->make_response_promise<control::GatewayStatus>();
      auto pending = std::make_shared<size_t>(st.options.shards.size());
      if (*pending == 0) {
        promise.deliver(*status);
        return promise;
      }
      for (const auto& shard : st.options.shards) {
        auto done = [=]() mutable {
          if (--*pending == 0) promise.deliver(*status);
        };
        self->request(shard, ask_timeout, counters_atom::value)
          .then(
            [=](const control::Counters& part) mutable {
              auto* sum = status->mutable_counters();
              sum->set_requests_in(sum->requests_in() + part.requests_in());
              sum->set_requests_out(sum->requests_out() + part.requests_out());
              sum->set_responses_1xx(sum->responses_1xx() + part.responses_1xx());
              sum->set_responses_2xx(sum->responses_2xx() + part.responses_2xx());
              sum->set_responses_3xx(sum->responses_3xx() + part.responses_3xx());
              sum->set_responses_4xx(sum->responses_4xx() + part.responses_4xx());
              sum->set_responses_5xx(sum->responses_5xx() + part.responses_5xx());
              sum->set_responses_6xx(sum->responses_6xx() + part.responses_6xx());
              sum->set_responses_dropped(sum->responses_dropped() + part.responses_dropped());
              done();
            },
            [=](const caf::error&) mutable { done(); });
      }
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
    [=](config_atom) { return config::to_masked_text(self->state.options.config); },
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
    [=](apply_atom, const std::string& text, const std::string& source)
      -> caf::result<std::vector<std::string>> {
      auto& st = self->state;
      auto loaded = load_change(self, text, source);
      if (!loaded.ok()) {
        refuse(self, source, loaded.errors);
        return loaded.errors;
      }
      if (same(loaded.config.certificate(), st.options.config.certificate())) {
        commit(self, std::move(loaded.config), source);
        return std::vector<std::string>{};
      }
      // All or nothing: a certificate section that does not validate refuses the whole file.
      auto promise = self->make_response_promise<std::vector<std::string>>();
      auto next = std::make_shared<config::Config>(std::move(loaded.config));
      check_certificate(self, next->certificate(), [=](std::vector<std::string> errors) mutable {
        if (!errors.empty())
          refuse(self, source, errors);
        else
          commit(self, std::move(*next), source);
        promise.deliver(std::move(errors));
      });
      return promise;
    },
    [=](readiness_atom) -> caf::result<readiness::report> {
      auto promise = self->make_response_promise<readiness::report>();
      run_readiness(self, "on request", [=](readiness::report r) mutable { promise.deliver(std::move(r)); });
      return promise;
    },
    [=](cert_changed_atom) {
      refresh_tls(self);
      run_readiness(self, "certificate files changed", [](auto&&) {});
    },
    [=](reload_atom) -> caf::result<tls::validation_result> {
      auto promise = self->make_response_promise<tls::validation_result>();
      self->request(self->state.options.certificates, ask_timeout, reload_atom::value)
        .then(
          [=](tls::validation_result& v) mutable {
            promise.deliver(v);
            refresh_tls(self);
            run_readiness(self, "certificate reloaded", [](auto&&) {});
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
