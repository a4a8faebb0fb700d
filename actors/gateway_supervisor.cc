#include "actors/gateway_supervisor.h"

#include <google/protobuf/util/message_differencer.h>

#include <chrono>

#include "gateway/config/config.h"
#include "gateway/net/address.h"

namespace fedgw {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch()).count();
}

struct supervisor_state {
  supervisor_options options;
  int64_t started_ms = 0;
  uint64_t config_applies = 0;
};

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

supervisor_actor::behavior_type
supervisor_impl(supervisor_actor::stateful_pointer<supervisor_state> self, supervisor_options options) {
  self->state.options = std::move(options);
  self->state.started_ms = now_ms();
  const auto& opts = self->state.options;
  report(opts.log, severity::info, "config",
         "applied " + opts.source + " (" + summary(opts.config) + ")");
  return {
    [=](status_atom) {
      auto& st = self->state;
      const auto& c = st.options.config;
      control::GatewayStatus status;
      status.set_version(FEDGW_VERSION);
      status.set_mode(c.mode());
      for (const auto& d : c.domains()) status.add_domains(d);
      status.set_started_unix_ms(st.started_ms);
      status.set_uptime_s(static_cast<uint64_t>((now_ms() - st.started_ms) / 1000));
      status.set_config_source(st.options.source);
      status.set_worker_threads(st.options.worker_threads);
      auto* control = status.add_listeners();
      control->set_name("control");
      control->set_address(c.control_socket());
      control->set_state("listening");
      // The SIP listeners open with the federation data path (not built yet).
      const char* sip_state = "not listening (SIP data path not built yet)";
      add_listener(status, "internal", c.internal_listener(), sip_state);
      if (c.has_federation_listener())
        add_listener(status, "federation", c.federation_listener(), sip_state);
      if (c.mode() == config::SIP_PROXY)
        add_listener(status, "sip_proxy.incoming", c.sip_proxy().incoming(), sip_state);
      status.mutable_counters()->set_config_applies(st.config_applies);
      return status;
    },
    [=](config_atom) { return config::to_masked_text(self->state.options.config); },
    [=](check_atom, const std::string& text, const std::string& source) {
      auto loaded = config::parse_config(text, source);
      if (loaded.ok()) loaded.errors = config::validate_change(self->state.options.config, loaded.config);
      return loaded.errors;
    },
    [=](apply_atom, const std::string& text, const std::string& source) {
      auto& st = self->state;
      auto loaded = config::parse_config(text, source);
      if (loaded.ok()) loaded.errors = config::validate_change(st.options.config, loaded.config);
      if (!loaded.ok()) {
        report(st.options.log, severity::error, "config",
               "refused " + source + ", running config unchanged: " + loaded.errors.front() +
                 (loaded.errors.size() > 1
                    ? " (and " + std::to_string(loaded.errors.size() - 1) + " more)" : ""));
        return loaded.errors;
      }
      auto changes = changed_sections(st.options.config, loaded.config);
      st.options.config = std::move(loaded.config);
      st.options.source = source;
      ++st.config_applies;
      report(st.options.log, severity::info, "config",
             "applied " + source + " (" + summary(st.options.config) + "; " + changes + ")");
      return std::vector<std::string>{};
    },
  };
}

}  // namespace

supervisor_actor spawn_gateway_supervisor(caf::actor_system& system, supervisor_options options) {
  return system.spawn(supervisor_impl, std::move(options));
}

}  // namespace fedgw
