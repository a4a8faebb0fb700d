#include "actors/cert_manager.h"

#include <ctime>

#include "gateway/tls/file_watch.h"

namespace fedgw {

namespace {

constexpr const char* component = "cert";
constexpr int64_t day_seconds = 86400;

struct cert_manager_state {
  cert_manager_options options;
  config::Certificate config;          // the section in use (or tried first, while nothing is in use)
  config::Listener internal;           // the internal listener section that goes with it
  tls::contexts_ptr active;            // null until a certificate passed validation
  tls::validation_result last_failed;  // the latest refused attempt
  uint64_t generation = 0;
  tls::change_detector files;
  std::chrono::milliseconds interval{0};
  int64_t last_expiry_report = 0;      // unix seconds
  std::vector<caf::actor> subscribers; // told about reloads caused by changed files
};

using self_ptr = cert_manager_actor::stateful_pointer<cert_manager_state>;

tls::validate_options options_for(const cert_manager_state& st, const config::Certificate& cfg) {
  auto o = tls::options_for(cfg, st.options.mutual_tls);
  o.domains = st.options.domains;
  return o;
}

void log(const cert_manager_state& st, severity level, std::string text) {
  if (st.options.log) report(st.options.log, level, component, std::move(text));
}

std::string short_id(const tls::validation_result& v) {
  return "\"" + v.subject + "\" (sha256 " + v.fingerprint.substr(0, 23) + "..., valid until " +
         tls::format_utc(v.not_after) + ")";
}

// Loads, validates and builds; switches to the new contexts only when everything is fine.
tls::validation_result attempt(self_ptr self, const config::Certificate& cfg, const config::Listener& internal,
                               const std::string& trigger) {
  auto& st = self->state;
  auto stamps = tls::stamp_files(tls::certificate_files(cfg, internal));
  auto built = tls::build_contexts(cfg, options_for(st, cfg), st.generation + 1, &internal);
  // One status entry per attempt, so the 30-entry window stays useful: what is in use (or
  // refused) and every warning and error; info lines stay in the reply (fedctl cert).
  std::string warnings;
  for (const auto& p : built.result.problems)
    if (p.severity == tls::level::warning) warnings += (warnings.empty() ? "" : "; ") + p.text;
  if (built.contexts) {
    std::string text = trigger + ": certificate " + short_id(built.result) + " from " + built.result.source +
                       " is now in use";
    if (st.active) text += ", replacing " + short_id(st.active->certificate()) + "; established connections keep it";
    if (!warnings.empty()) text += "; needs attention: " + warnings;
    st.generation += 1;
    st.active = std::move(built.contexts);
    st.config = cfg;
    st.internal = internal;
    st.files.reset(std::move(stamps));
    st.last_expiry_report = std::time(nullptr);  // validation just reported the dates
    log(st, warnings.empty() ? severity::info : severity::warning, std::move(text));
  } else {
    auto errors = built.result.errors();
    std::string listed;
    for (const auto& e : errors) listed += (listed.empty() ? "" : "; ") + e;
    std::string text = trigger + ": certificate from " + built.result.source + " refused (" +
                       std::to_string(errors.size()) + (errors.size() == 1 ? " error" : " errors") +
                       (listed.empty() ? std::string() : ": " + listed) + ")" +
                       (warnings.empty() ? std::string() : "; also: " + warnings) + "; ";
    text += st.active ? "keeping the certificate in use " + short_id(st.active->certificate())
                      : std::string("no certificate is in use: TLS connections are not possible");
    log(st, severity::error, std::move(text));
    st.last_failed = built.result;
    // Do not retry the same files on every tick; a new change triggers a new attempt.
    if (!st.active) {
      st.config = cfg;
      st.internal = internal;
    }
    if (cfg.SerializeAsString() == st.config.SerializeAsString() &&
        internal.SerializeAsString() == st.internal.SerializeAsString())
      st.files.reset(std::move(stamps));
  }
  return built.result;
}

// The boundary of every handler: whatever throws becomes an error result, never the manager's death.
template <class F>
tls::validation_result guarded(const cert_manager_state& st, const std::string& trigger, bool logged, F&& f) {
  std::string why;
  try {
    return f();
  } catch (const std::exception& e) {
    why = e.what();
  } catch (...) {
    why = "unknown exception";
  }
  tls::validation_result v;
  v.problems.push_back({tls::level::error, trigger + ": certificate check failed: " + why});
  if (logged) log(st, severity::error, v.problems.back().text);
  return v;
}

void check_expiry(self_ptr self) {
  auto& st = self->state;
  if (!st.active) return;
  const auto& v = st.active->certificate();
  int64_t now = std::time(nullptr);
  if (now - st.last_expiry_report < day_seconds) return;
  uint32_t warn_days = st.config.has_expiry_warning_days() ? st.config.expiry_warning_days() : 30;
  if (now > v.not_after) {
    log(st, severity::error, "certificate in use " + short_id(v) + " has expired: peers refuse it, replace it");
    st.last_expiry_report = now;
  } else if (v.not_after - now < static_cast<int64_t>(warn_days) * day_seconds) {
    log(st, severity::warning, "certificate in use " + short_id(v) + " expires in " +
                                   std::to_string((v.not_after - now) / day_seconds) + " days: renew it");
    st.last_expiry_report = now;
  }
}

void schedule_tick(self_ptr self) {
  if (self->state.interval.count() > 0) self->delayed_send(self, self->state.interval, cert_tick_atom::value);
}

cert_manager_actor::behavior_type cert_manager_impl(self_ptr self, cert_manager_options options) {
  auto& st = self->state;
  st.options = std::move(options);
  st.config = st.options.certificate;
  st.internal = st.options.internal_listener;
  auto interval = st.options.watch_interval;
  if (interval.count() > 0 && interval < std::chrono::seconds(1)) interval = std::chrono::seconds(1);
  // Without file watching the timer still checks the expiry, hourly.
  st.interval = interval.count() > 0 ? interval : std::chrono::milliseconds(std::chrono::hours(1));
  guarded(st, "startup", true, [&] {
    return attempt(self, st.options.certificate, st.options.internal_listener, "startup");
  });
  schedule_tick(self);
  bool watch = st.options.watch_interval.count() > 0;
  return {
    [=](caf::get_atom) -> tls::contexts_ptr { return self->state.active; },
    [=](status_atom) -> tls::validation_result {
      auto& s = self->state;
      return s.active ? s.active->certificate() : s.last_failed;
    },
    [=](reload_atom) -> tls::validation_result {
      config::Certificate cfg = self->state.config;
      config::Listener internal = self->state.internal;
      return guarded(self->state, "reload", true, [&] { return attempt(self, cfg, internal, "reload"); });
    },
    [=](apply_atom, const config::Certificate& cfg) -> tls::validation_result {
      config::Listener internal = self->state.internal;
      return guarded(self->state, "config apply", true,
                     [&] { return attempt(self, cfg, internal, "config apply"); });
    },
    [=](apply_atom, const config::Certificate& cfg, const config::Listener& internal) -> tls::validation_result {
      return guarded(self->state, "config apply", true,
                     [&] { return attempt(self, cfg, internal, "config apply"); });
    },
    [=](check_atom, const config::Certificate& cfg) -> tls::validation_result {
      return guarded(self->state, "check", false, [&] {
        return tls::load_and_validate(cfg, options_for(self->state, cfg), nullptr, &self->state.internal);
      });
    },
    [=](check_atom, const config::Certificate& cfg, const config::Listener& internal) -> tls::validation_result {
      return guarded(self->state, "check", false,
                     [&] { return tls::load_and_validate(cfg, options_for(self->state, cfg), nullptr, &internal); });
    },
    [=](config_atom, std::vector<std::string>& domains) { self->state.options.domains = std::move(domains); },
    [=](caf::subscribe_atom, caf::actor& subscriber) {
      self->state.subscribers.push_back(std::move(subscriber));
    },
    [=](cert_tick_atom) {
      auto& s = self->state;
      if (watch) {
        auto stamps = tls::stamp_files(tls::certificate_files(s.config, s.internal));
        if (s.files.settled_change(stamps)) {
          config::Certificate cfg = s.config;
          config::Listener internal = s.internal;
          guarded(s, "certificate files changed", true,
                  [&] { return attempt(self, cfg, internal, "certificate files changed"); });
          for (const auto& sub : s.subscribers) caf::anon_send(sub, cert_changed_atom::value);
        }
      }
      check_expiry(self);
      schedule_tick(self);
    },
  };
}

}  // namespace

cert_manager_actor spawn_cert_manager(caf::actor_system& system, cert_manager_options options) {
  return system.spawn(cert_manager_impl, std::move(options));
}

}  // namespace fedgw
