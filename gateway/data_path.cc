#include "gateway/data_path.h"

#include "actors/peer_registry.h"
#include "gateway/config/config.h"
#include "actors/proxy_core.h"

namespace fedgw {

namespace {

proxy::transaction_timers transaction_timers(const config::Config& config) {
  proxy::transaction_timers t;
  t.final_response = std::chrono::milliseconds(config.limits().transaction_timeout_ms());
  t.linger = t.final_response;  // 64*T1, as timer B
  return t;
}

sip::Limits parse_limits(const config::Config& config) {
  const auto& l = config.limits();
  sip::Limits limits;
  limits.max_header_bytes = l.max_header_bytes();
  limits.max_body_bytes = l.max_body_bytes();
  limits.max_header_count = l.max_header_count();
  limits.max_line_bytes = l.max_header_line_bytes();
  return limits;
}

peer_connection_options connection_options(const config::Config& config, const data_path& path,
                                           const std::shared_ptr<net::reactor>& reactor, const status_log_actor& log,
                                           const dns_resolver_actor& dns) {
  peer_connection_options o;
  o.reactor = reactor;
  o.settings = path.settings;
  o.policy = path.policy;
  o.shards = path.shards;
  o.registry = path.registry;
  o.log = log;
  o.dns = dns;
  const auto& l = config.limits();
  o.limits = parse_limits(config);
  o.max_queued = l.max_queued_per_domain();
  o.idle_timeout = std::chrono::seconds(l.idle_timeout_s());
  o.keepalive = std::chrono::seconds(l.keepalive_interval_s());
  o.timers = transaction_timers(config);
  o.establish_timeout = std::chrono::seconds(l.establish_timeout_s());
  o.stray_responses = path.stray_responses;
  o.inbound_limits = path.inbound_limits;
  o.connection_counters = path.connection_counters;
  return o;
}

tls::client_cert_mode client_certs(const config::Listener& l) {
  if (l.transport() == config::MTLS) return tls::client_cert_mode::require;
  return l.request_client_cert() ? tls::client_cert_mode::request : tls::client_cert_mode::none;
}

}  // namespace

uint64_t open_listener(caf::actor_system& system, const config::Config& config, data_path& path,
                       const std::shared_ptr<net::reactor>& reactor, const status_log_actor& log,
                       const dns_resolver_actor& dns, const char* name, const config::Listener& l, proxy::side where,
                       bool from_sip_proxy, std::string& error) {
  auto o = connection_options(config, path, reactor, log, dns);
  o.where = where;
  o.from_sip_proxy = from_sip_proxy;
  if (from_sip_proxy) o.inbound_limits = nullptr;  // the proxy carries every partner: no per-sender limit
  if (l.transport() != config::TCP) o.tls = path.tls;
  o.client_certs = client_certs(l);
  for (const auto& p : l.allowed_peers())
    if (auto prefix = net::parse_prefix(p)) o.allowed_peers.push_back(*prefix);
  o.uc_server_authenticated = where == proxy::side::internal &&
                              (!o.allowed_peers.empty() || l.transport() == config::MTLS);
  net::endpoint at{l.bind_ip(), static_cast<uint16_t>(l.port())};
  auto id = reactor->listen_tcp(at, accept_connections(system, std::move(o)), error);
  if (id == 0) {
    error = std::string(name) + ": " + error;
    return 0;
  }
  path.listeners.push_back(id);
  path.listener_status.push_back(listener_status(name, l, "listening"));
  report(log, severity::info, "listener",
         std::string(name) + " listening on " + at.to_string() + " (" + config::transport_name(l.transport()) + ")");
  return id;
}

control::ListenerStatus listener_status(const std::string& name, const config::Listener& l, const std::string& state) {
  control::ListenerStatus status;
  status.set_name(name);
  status.set_address(net::endpoint{l.bind_ip(), static_cast<uint16_t>(l.port())}.to_string());
  status.set_transport(l.transport());
  status.set_state(state);
  return status;
}

proxy_session_options proxy_session_settings(const config::Config& config, const data_path& path,
                                             const std::shared_ptr<net::reactor>& reactor,
                                             const status_log_actor& log) {
  proxy_session_options o;
  o.settings = config.sip_proxy();
  o.aor_domain = config.domains().empty() ? std::string("localhost") : config.domains(0);
  o.reactor = reactor;
  o.tls = path.tls;
  o.log = log;
  o.shards = path.shards;
  o.limits = parse_limits(config);
  o.timers = transaction_timers(config);
  o.keepalive = std::chrono::seconds(config.limits().keepalive_interval_s());
  return o;
}

void data_path::stop(net::reactor& reactor) {
  for (auto id : listeners) reactor.stop_listening(id);
  for (auto& s : shards) caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  if (registry) caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
}

bool start_data_path(caf::actor_system& system, const config::Config& config, size_t workers,
                     const std::shared_ptr<net::reactor>& reactor, const status_log_actor& log,
                     const dns_resolver_actor& dns, const cert_manager_actor& certificates, data_path& out,
                     std::string& error) {
  out.settings = std::make_shared<const proxy::settings>(
    proxy::settings::from_config(config, proxy::instance_keys::random()));
  out.stray_responses = std::make_shared<std::atomic<uint64_t>>(0);
  out.connection_counters = std::make_shared<metrics::shared_connection_counters>();
  // One active discovered partner per connection at most, and never fewer than 4,096 tracked.
  out.inbound_limits = std::make_shared<proxy::partner_rate_limiter>(
    std::max<size_t>(4096, config.limits().max_connections()));
  out.outbound_limits = std::make_shared<proxy::partner_rate_limiter>(
    std::max<size_t>(4096, config.limits().max_connections()));
  out.tls = std::make_shared<tls_source>();
  out.policy = std::make_shared<policy_source>();
  out.policy->set(out.settings);
  {
    caf::scoped_actor self{system};
    self->request(certificates, std::chrono::seconds(10), caf::get_atom::value)
      .receive([&](const tls::contexts_ptr& contexts) { out.tls->set(contexts); }, [](const caf::error&) {});
  }
  // The registry spawns outbound connections with the same options as inbound ones.
  auto connect_options = std::make_shared<peer_connection_options>();
  peer_registry_options registry_options;
  registry_options.log = log;
  registry_options.max_queued_per_domain = config.limits().max_queued_per_domain();
  registry_options.connection_counters = out.connection_counters;
  registry_options.connect = [&system, connect_options](const std::string& domain, const std::string& node) {
    auto o = *connect_options;
    o.where = proxy::side::external;
    return spawn_outbound_connection(system, std::move(o), domain, node);
  };
  out.registry = spawn_peer_registry(system, std::move(registry_options));
  size_t shard_count = proxy_core_shards(workers);
  size_t flows_per_shard = dialog_flows_per_shard(workers);
  for (size_t i = 0; i < shard_count; ++i)
    out.shards.push_back(spawn_proxy_core(system, {out.settings, i, out.registry, log, transaction_timers(config),
                                                   parse_limits(config), out.stray_responses, out.outbound_limits,
                                                   flows_per_shard}));
  *connect_options = connection_options(config, out, reactor, log, dns);
  connect_options->tls = out.tls;

  auto open = [&](const char* name, const config::Listener& l, proxy::side where, bool from_sip_proxy = false) {
    return open_listener(system, config, out, reactor, log, dns, name, l, where, from_sip_proxy, error) != 0;
  };
  if (!open("internal", config.internal_listener(), proxy::side::internal)) return false;
  if (config.has_federation_listener() &&
      !open("federation", config.federation_listener(), proxy::side::external))
    return false;
  // Open whenever configured, so that switching to SIP_PROXY needs no restart; it accepts only the
  // proxy's address, and only in SIP_PROXY mode.
  if (config.has_sip_proxy() && config.sip_proxy().has_incoming()) {
    if (!open("sip_proxy.incoming", config.sip_proxy().incoming(), proxy::side::external, true)) return false;
    out.proxy_incoming = out.listeners.back();
  }
  return true;
}

}  // namespace fedgw
