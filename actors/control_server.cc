#include "actors/control_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <set>

#include <google/protobuf/text_format.h>

#include "actors/proxy_messages.h"
#include "actors/socket_bridge.h"
#include "gateway/config/config.h"
#include "gateway/control/frame.h"
#include "gateway/net/interfaces.h"

namespace fedgw {

namespace {

// Requests answered from the supervisor's or the log's state, without waiting for other work.
constexpr auto request_timeout = std::chrono::seconds(10);

struct client {
  control::frame_decoder decoder;
};

struct control_state {
  control_server_options options;
  std::map<conn_id, client> clients;
  std::set<std::pair<conn_id, uint64_t>> followers;  // (connection, request id) of log --follow
  uint64_t requests = 0;
};

using self_ptr = caf::stateful_actor<control_state>*;

control::LogEntry to_proto(const status_entry& entry) {
  control::LogEntry out;
  out.set_unix_ms(entry.unix_ms);
  out.set_severity(static_cast<control::Severity>(entry.level));
  out.set_component(entry.component);
  out.set_text(entry.text);
  out.set_line(format_status_line(entry));
  return out;
}

void send_response(self_ptr self, conn_id conn, const control::Response& response) {
  auto& reactor = *self->state.options.reactor;
  if (!reactor.write(conn, control::encode_frame(response))) reactor.close(conn, false);
}

// Where a request's answer goes: the control socket's client or the admin page's waiting request.
using reply_fn = std::function<void(control::Response)>;

control::Response with_id(uint64_t id) {
  control::Response response;
  response.set_id(id);
  return response;
}

auto on_error(self_ptr self, const reply_fn& reply, uint64_t id, const char* what) {
  return [=](const caf::error& err) {
    auto response = with_id(id);
    response.set_error(std::string(what) + " failed: " + self->system().render(err));
    reply(std::move(response));
  };
}

// Answers a command with the gateway's text about what it does (proxy_login, peer_action).
auto on_notice(const reply_fn& reply, uint64_t id) {
  return [=](const std::string& text) {
    auto response = with_id(id);
    response.set_notice(text);
    reply(std::move(response));
  };
}

void answer_config(const reply_fn& reply, uint64_t id, const std::vector<std::string>& errors) {
  auto response = with_id(id);
  auto* result = response.mutable_config_result();
  for (const auto& e : errors) result->add_errors(e);
  if (!errors.empty())
    response.set_error(std::to_string(errors.size()) + (errors.size() == 1 ? " problem" : " problems") +
                       " found");
  reply(std::move(response));
}

void answer_readiness(const reply_fn& reply, uint64_t id, const readiness::report& report) {
  auto response = with_id(id);
  auto* out = response.mutable_readiness();
  out->set_consistent(report.consistent);
  for (const auto& p : report.problems) out->add_problems(p);
  for (const auto& l : report.lines) out->add_lines(l);
  for (const auto& n : report.names) {
    auto* name = out->add_names();
    name->set_name(n.name);
    name->set_served(n.served);
    name->set_found(n.found);
    name->set_srv_name(n.srv_name);
    name->set_host(n.host);
    name->set_host_ip(n.host_ip);
    name->set_port(n.port);
    for (const auto& q : n.queries) name->add_queries(q);
    for (const auto& p : n.problems) name->add_problems(p);
  }
  reply(std::move(response));
}

void answer_peers(const reply_fn& reply, uint64_t id, const std::string& domain, const std::vector<peer_info>& peers) {
  auto response = with_id(id);
  auto* list = response.mutable_peers();
  for (const auto& p : peers) {
    if (!domain.empty() && p.domain != domain) continue;
    auto* out = list->add_peers();
    out->set_domain(p.domain);
    out->set_address(p.address);
    out->set_direction(p.direction);
    out->set_tls(p.tls);
    out->set_state(p.state);
    out->set_since_unix_ms(p.since_ms);
    out->set_queued(p.queued);
    out->set_backoff_until_unix_ms(p.backoff_until_ms);
    out->set_failures(p.failures);
    out->set_last_error(p.last_error);
    out->set_node(p.node);
    out->set_certificate_subject(p.certificate_subject);
    out->set_certificate_issuer(p.certificate_issuer);
    out->set_certificate_not_after_unix(p.certificate_not_after);
    out->set_certificate_fingerprint(p.certificate_fingerprint);
  }
  if (!domain.empty() && list->peers_size() == 0)
    response.set_error("no partner domain " + domain + " is known (fedctl peers lists them)");
  reply(std::move(response));
}

// Asks the supervisor for the running config's readiness budget, then calls
// `then(budget)`; the deadlines of check and apply are derived from it.
template <class Then>
void with_budget(self_ptr self, const reply_fn& reply, uint64_t id, const char* what, Then then) {
  self->request(self->state.options.supervisor, request_timeout, budget_atom::value)
    .then([=](caf::timespan budget) mutable { then(std::chrono::duration_cast<std::chrono::milliseconds>(budget)); },
          on_error(self, reply, id, what));
}

// Answers one request through `reply` (once). A log request with follow set also needs `follow`:
// called after the window was sent, it registers the client for new entries.
void dispatch(self_ptr self, const control::Request& request, const reply_fn& reply,
              std::function<void()> follow = {}) {
  auto& st = self->state;
  ++st.requests;
  auto id = request.id();
  switch (request.command_case()) {
    case control::Request::kStatus:
      self->request(st.options.supervisor, request_timeout, status_atom::value)
        .then(
          [=](control::GatewayStatus& status) {
            status.mutable_counters()->set_control_requests(self->state.requests);
            auto response = with_id(id);
            *response.mutable_status() = std::move(status);
            reply(std::move(response));
          },
          on_error(self, reply, id, "status"));
      break;
    case control::Request::kLog: {
      bool following = request.log().follow() && follow;
      self->request(st.options.log, request_timeout, caf::get_atom::value)
        .then(
          [=](const std::vector<status_entry>& window) {
            auto response = with_id(id);
            auto* log = response.mutable_log();
            for (const auto& e : window) *log->add_entries() = to_proto(e);
            reply(std::move(response));
            // Entries newer than the window arrive after this reply (same sender, FIFO).
            if (following) follow();
          },
          on_error(self, reply, id, "log"));
      break;
    }
    case control::Request::kConfigShow:
      if (request.config_show().as_message())
        self->request(st.options.supervisor, request_timeout, config_atom::value, caf::get_atom::value)
          .then(
            [=](config::Config& config) {
              auto response = with_id(id);
              *response.mutable_config() = std::move(config);
              reply(std::move(response));
            },
            on_error(self, reply, id, "config show"));
      else
        self->request(st.options.supervisor, request_timeout, config_atom::value)
          .then(
            [=](const std::string& text) {
              auto response = with_id(id);
              response.set_config_text(text);
              reply(std::move(response));
            },
            on_error(self, reply, id, "config show"));
      break;
    case control::Request::kConfigCheck:
    case control::Request::kConfigApply: {
      bool apply = request.command_case() == control::Request::kConfigApply;
      const auto& file = apply ? request.config_apply() : request.config_check();
      auto source = file.source().empty() ? std::string("(control request)") : file.source();
      auto text = file.text();
      if (file.has_config()) google::protobuf::TextFormat::PrintToString(file.config(), &text);
      auto answer = [=](const std::vector<std::string>& errors) { answer_config(reply, id, errors); };
      // Each deadline is longer than the supervisor's own for the same work, so
      // the answer carries its diagnosis, and an apply never commits after we gave up.
      if (apply)
        with_budget(self, reply, id, "config apply", [=](std::chrono::milliseconds budget) {
          self->request(self->state.options.supervisor, config::apply_answer_budget(budget) + config::budget_margin,
                        apply_atom::value, text, source, caf::timespan(budget))
            .then(answer, on_error(self, reply, id, "config apply"));
        });
      else
        self->request(st.options.supervisor, config::certificate_budget + config::budget_margin, check_atom::value,
                      text, source)
          .then(answer, on_error(self, reply, id, "config check"));
      break;
    }
    case control::Request::kInterfaces: {
      auto response = with_id(id);
      for (const auto& i : net::list_interfaces()) {
        auto* out = response.mutable_interfaces()->add_interfaces();
        out->set_name(i.name);
        out->set_up(i.up);
        out->set_loopback(i.loopback);
        for (const auto& a : i.addresses) out->add_addresses(a);
      }
      reply(std::move(response));
      break;
    }
    case control::Request::kCheck:
      with_budget(self, reply, id, "check", [=](std::chrono::milliseconds budget) {
        self->request(self->state.options.supervisor, config::check_answer_budget(budget) + config::budget_margin,
                      readiness_atom::value, caf::timespan(budget))
          .then([=](const readiness::report& report) { answer_readiness(reply, id, report); },
                on_error(self, reply, id, "check"));
      });
      break;
    case control::Request::kCertReload:
      self->request(st.options.supervisor, config::certificate_budget + config::budget_margin, reload_atom::value)
        .then(
          [=](const tls::validation_result& result) {
            auto response = with_id(id);
            response.mutable_certificate()->set_in_use(result.ok());
            response.mutable_certificate()->set_text(result.to_text());
            reply(std::move(response));
          },
          on_error(self, reply, id, "cert reload"));
      break;
    case control::Request::kPeers:
      self->request(st.options.supervisor, request_timeout, peers_atom::value)
        .then([=, domain = request.peers().domain()](
                const std::vector<peer_info>& peers) { answer_peers(reply, id, domain, peers); },
              on_error(self, reply, id, "peers"));
      break;
    case control::Request::kSendTest: {
      auto domain = request.send_test().domain();
      // DNS answers and timer F may take long: wait for the gateway's own final response.
      self->request(st.options.supervisor, std::chrono::seconds(120), send_test_atom::value, domain)
        .then(
          [=](const send_test_result& r) {
            auto response = with_id(id);
            response.mutable_send_test()->set_status(r.status);
            response.mutable_send_test()->set_reason(r.reason);
            response.mutable_send_test()->set_milliseconds(r.milliseconds);
            reply(std::move(response));
          },
          on_error(self, reply, id, "send-test"));
      break;
    }
    case control::Request::kProxyLogin:
      self->request(st.options.supervisor, request_timeout, login_atom::value)
        .then(on_notice(reply, id), on_error(self, reply, id, "proxy login"));
      break;
    case control::Request::kPeerAction: {
      const auto& a = request.peer_action();
      if (a.action() == control::PeerActionRequest::RESET)
        self->request(st.options.supervisor, request_timeout, peer_reset_atom::value, a.domain())
          .then(on_notice(reply, id), on_error(self, reply, id, "peers reset"));
      else if (a.action() == control::PeerActionRequest::CLOSE)
        self->request(st.options.supervisor, request_timeout, peer_close_atom::value, a.domain())
          .then(on_notice(reply, id), on_error(self, reply, id, "peers close"));
      else {
        auto response = with_id(id);
        response.set_error("peer_action: action is required (RESET or CLOSE)");
        reply(std::move(response));
      }
      break;
    }
    case control::Request::kMetrics:
      self->request(st.options.supervisor, request_timeout, metrics_atom::value)
        .then(
          [=](std::string& text) {
            auto response = with_id(id);
            response.set_metrics_text(std::move(text));
            reply(std::move(response));
          },
          on_error(self, reply, id, "metrics"));
      break;
    case control::Request::COMMAND_NOT_SET: {
      auto response = with_id(id);
      response.set_error("request carries no command (this fedgw understands status, log, "
                         "config_show, config_check, config_apply, interfaces, check, cert_reload, peers, send_test, "
                         "proxy_login, peer_action, metrics)");
      reply(std::move(response));
      break;
    }
  }
}

caf::behavior control_server_impl(self_ptr self, control_server_options options) {
  self->state.options = std::move(options);
  caf::anon_send(self->state.options.log, caf::subscribe_atom::value, caf::actor_cast<caf::actor>(self));
  return {
    [=](data_atom, conn_id conn, const std::string& bytes) {
      auto& st = self->state;
      st.options.reactor->consumed(conn, bytes.size());
      auto& c = st.clients[conn];
      c.decoder.feed(bytes);
      std::string payload;
      for (;;) {
        auto status = c.decoder.next(payload);
        if (status == control::frame_decoder::status::need_more) break;
        if (status == control::frame_decoder::status::too_large) {
          auto response = with_id(0);
          response.set_error("malformed frame: length prefix invalid or over " +
                             std::to_string(control::max_frame_bytes) + " bytes; closing");
          send_response(self, conn, response);
          st.options.reactor->close(conn);
          st.clients.erase(conn);
          return;
        }
        control::Request request;
        if (!request.ParseFromString(payload)) {
          auto response = with_id(0);
          response.set_error("malformed frame: not a fedgw.control.Request (" + std::to_string(payload.size()) +
                             " bytes)");
          send_response(self, conn, response);
          continue;
        }
        auto id = request.id();
        dispatch(
          self, request, [self, conn](control::Response response) { send_response(self, conn, response); },
          [self, conn, id] {
            if (self->state.clients.count(conn)) self->state.followers.emplace(conn, id);
          });
      }
    },
    // The admin page's requests (gateway/admin): answered like the socket's, never followed.
    [=](const control::Request& request) -> caf::result<control::Response> {
      auto promise = self->make_response_promise<control::Response>();
      dispatch(self, request, [promise](control::Response response) mutable { promise.deliver(std::move(response)); });
      return promise;
    },
    [=](closed_atom, conn_id conn, const std::string&) {
      auto& st = self->state;
      st.clients.erase(conn);
      for (auto it = st.followers.begin(); it != st.followers.end();)
        it = it->first == conn ? st.followers.erase(it) : std::next(it);
    },
    [=](entry_atom, const status_entry& entry) {
      auto& st = self->state;
      if (st.followers.empty()) return;
      auto line = to_proto(entry);
      for (const auto& [conn, id] : st.followers) {
        control::Response response;
        response.set_id(id);
        *response.mutable_log()->add_entries() = line;
        send_response(self, conn, response);
      }
    },
  };
}

}  // namespace

caf::actor spawn_control_server(caf::actor_system& system, control_server_options options) {
  return system.spawn(control_server_impl, std::move(options));
}

uint64_t listen_control_socket(net::reactor& reactor, const std::string& path,
                               const caf::actor& server, std::string& error, mode_t mode, const std::string& group) {
  // Created for the owner only, then given to the group, then opened to it: at no moment may
  // members of another group (fedgw's own) connect.
  auto id = reactor.listen_unix(
    path, mode & 0700, [server](conn_id, const std::string&) { return std::make_shared<socket_bridge<>>(server); },
    error);
  if (id == 0) return 0;
  auto fail = [&](const std::string& text) {
    error = text;
    reactor.stop_listening(id);
    return uint64_t{0};
  };
  if (!group.empty()) {
    unsigned gid = 0;
    std::string problem;
    if (!config::resolve_group(group, gid, problem)) return fail("control_socket_group: " + problem);
    // Already the group (fedgw's own, as packaged): no chown, which the service's system-call filter forbids.
    struct stat st{};
    bool same_group = ::stat(path.c_str(), &st) == 0 && st.st_gid == static_cast<gid_t>(gid);
    if (!same_group && ::chown(path.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(gid)) != 0) {
      int e = errno;
      return fail("control_socket_group: cannot give " + path + " to group \"" + group + "\": " + std::strerror(e) +
                  (e == EPERM ? " (fedgw's user must be a member of the group)" : ""));
    }
  }
  if ((mode & 0070) != 0 && ::chmod(path.c_str(), mode) != 0)
    return fail("control_socket_mode: cannot change the mode of " + path + ": " + std::strerror(errno));
  return id;
}

}  // namespace fedgw
