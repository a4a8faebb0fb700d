#include "gateway/proxy/registration.h"

#include <algorithm>
#include <charconv>

#include "gateway/sip/syntax.h"

namespace fedgw::proxy {
namespace {

std::optional<uint32_t> seconds_value(std::string_view text) {
  text = sip::detail::trim_ws(text);
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::string status_text(const sip::Message& r) {
  return std::to_string(r.status_code()) + " " + std::string(r.reason());
}

constexpr std::chrono::seconds max_retry_delay{300};

}  // namespace

registration::registration(options o) : opts_(std::move(o)) {}

std::string_view registration::state_name(state s) {
  switch (s) {
    case state::disconnected: return "disconnected";
    case state::connecting: return "connecting";
    case state::authenticating: return "authenticating";
    case state::registered: return "registered";
    case state::rejected: return "rejected";
  }
  return "?";
}

std::string registration::aor() const { return "sip:" + opts_.login.username + "@" + opts_.aor_domain; }

void registration::connecting() {
  if (state_ != state::rejected) state_ = state::connecting;
  branch_.clear();
}

registration::step registration::connected(std::string_view sent_by, clock::time_point now) {
  sent_by_ = std::string(sent_by);
  // A new connection is a new registration (RFC 5626 flow): new Call-ID, CSeq from 1.
  call_id_ = digest::make_cnonce() + "@fedgw";
  from_tag_ = digest::make_cnonce().substr(0, 16);
  cseq_ = 0;
  if (state_ == state::rejected) return {};  // waits for relogin(): no retry storm with a wrong password
  state_ = state::authenticating;
  return send_register(now, digest_.ready());
}

void registration::disconnected(std::string reason) {
  if (state_ != state::rejected) {
    state_ = state::disconnected;
    last_error_ = std::move(reason);
  }
  branch_.clear();
  sent_by_.clear();
  next_action_ = clock::time_point::max();
}

registration::step registration::relogin(clock::time_point now) {
  digest_.forget();
  retry_delay_ = {};
  last_error_.clear();
  state_ = sent_by_.empty() ? state::disconnected : state::authenticating;
  if (sent_by_.empty()) return {};
  return send_register(now, false);
}

registration::step registration::send_register(clock::time_point now, bool with_credentials) {
  branch_ = "z9hG4bK-fgwreg" + digest::make_cnonce().substr(0, 20);
  sent_at_ = now;
  next_action_ = now + opts_.response_timeout;
  ++cseq_;
  ++registers_sent_;
  credentials_sent_ = with_credentials && digest_.ready();
  answered_fresh_challenge_ = false;
  std::string transport = opts_.transport;
  std::string lower_transport = transport;
  for (auto& c : lower_transport) c = sip::detail::lower(c);
  std::string m;
  m.reserve(700);
  m.append("REGISTER ").append(opts_.registrar_uri).append(" SIP/2.0\r\n");
  m.append("Via: SIP/2.0/").append(transport).append(" ").append(sent_by_).append(";branch=").append(branch_)
    .append(";rport\r\n");
  m.append("Max-Forwards: 70\r\n");
  m.append("From: <").append(aor()).append(">;tag=").append(from_tag_).append("\r\n");
  m.append("To: <").append(aor()).append(">\r\n");
  m.append("Call-ID: ").append(call_id_).append("\r\n");
  m.append("CSeq: ").append(std::to_string(cseq_)).append(" REGISTER\r\n");
  m.append("Contact: <sip:").append(opts_.login.username).append("@").append(opts_.contact_host)
    .append(";transport=").append(lower_transport).append(">\r\n");
  m.append("Expires: ").append(std::to_string(opts_.expires.count())).append("\r\n");
  if (credentials_sent_) {
    m.append(digest_.header()).append(": ").append(digest_.next(opts_.login, "REGISTER", opts_.registrar_uri))
      .append("\r\n");
  }
  m.append("User-Agent: fedgw\r\nContent-Length: 0\r\n\r\n");
  return {std::move(m), std::nullopt, false};
}

registration::step registration::fail(std::string why, clock::time_point now, bool reject) {
  branch_.clear();
  last_error_ = why;
  if (reject) {
    state_ = state::rejected;
    next_action_ = clock::time_point::max();
    return {std::nullopt, std::move(why), true};
  }
  if (state_ != state::registered || now >= expires_at_) state_ = state::authenticating;  // a binding still holds
  retry_delay_ = retry_delay_.count() == 0 ? opts_.retry_after : std::min(retry_delay_ * 2, max_retry_delay);
  next_action_ = now + retry_delay_;
  return {std::nullopt, why + "; retrying in " + std::to_string(retry_delay_.count()) + " s", true};
}

registration::step registration::on_response(const sip::Message& r, clock::time_point now, bool& handled) {
  handled = false;
  auto branch = r.top_via_branch();
  if (branch_.empty() || !branch || *branch != branch_ || r.call_id() != call_id_ || r.cseq().number != cseq_ ||
      r.cseq().method != "REGISTER")
    return {};
  handled = true;
  int code = r.status_code();
  if (code < 200) return {};  // provisional: keep waiting
  branch_.clear();
  const std::string who = "user \"" + opts_.login.username + "\"";
  if (code == 401 || code == 407) {
    bool proxy = code == 407;
    std::string why;
    auto c = digest::pick_challenge(r.get_all(proxy ? "Proxy-Authenticate" : "WWW-Authenticate"), why);
    if (!c) return fail("SIP proxy sent a challenge the gateway cannot answer (" + status_text(r) + "): " + why, now, true);
    // Credentials answering the challenge the proxy has just sent were refused, and it does not call the
    // nonce stale: wrong user name or password. (Credentials from an older challenge, on a refresh or a
    // new connection, may just carry a nonce the proxy forgot: answer the new challenge.)
    if (credentials_sent_ && answered_fresh_challenge_ && !c->stale)
      return fail("SIP proxy rejected the login of " + who +
                    ": check the user name and password for typing mistakes (" + status_text(r) + ")",
                  now, true);
    digest_.challenged(std::move(*c), proxy);
    auto next = send_register(now, true);
    answered_fresh_challenge_ = true;
    return next;
  }
  if (code == 423) {
    auto min = r.get("Min-Expires");
    auto v = min ? seconds_value(*min) : std::nullopt;
    if (!v || *v == 0 || std::chrono::seconds(*v) <= opts_.expires || *v > 86400)
      return fail("SIP proxy answered REGISTER with " + status_text(r) + " and no usable Min-Expires", now, false);
    opts_.expires = std::chrono::seconds(*v);
    return send_register(now, digest_.ready());
  }
  if (code >= 200 && code < 300) {
    // The granted time: our Contact's expires parameter, else Expires, else what we asked for.
    std::chrono::seconds granted = opts_.expires;
    if (auto e = r.get("Expires"))
      if (auto v = seconds_value(*e)) granted = std::chrono::seconds(*v);
    if (auto contacts = r.contacts(); contacts.ok())
      for (const auto& c : contacts.value())
        if (c.uri_text.find(opts_.contact_host) != std::string_view::npos)
          if (auto e = c.param("expires"))
            if (auto v = seconds_value(*e)) granted = std::chrono::seconds(*v);
    if (granted.count() == 0)
      return fail("SIP proxy answered REGISTER with " + status_text(r) + " but kept no binding", now, false);
    bool was_registered = state_ == state::registered;
    state_ = state::registered;
    granted_ = granted;
    retry_delay_ = {};
    last_error_.clear();
    expires_at_ = now + granted;
    next_action_ = now + granted / 2;
    if (was_registered) return {};
    return {std::nullopt,
            "registered at the SIP proxy as " + aor() + " for " + std::to_string(granted.count()) + " s", false};
  }
  if (code == 403 || code == 404)
    return fail("SIP proxy rejected the login of " + who + ": " + status_text(r) +
                  (credentials_sent_ ? "; check the user name and password for typing mistakes" : ""),
                now, true);
  if (code == 408 || code >= 500)
    return fail("SIP proxy answered REGISTER with " + status_text(r), now, false);
  return fail("SIP proxy refused the registration of " + who + ": " + status_text(r), now, true);
}

registration::step registration::tick(clock::time_point now) {
  if (now < next_action_ || sent_by_.empty() || state_ == state::rejected || state_ == state::disconnected ||
      state_ == state::connecting)
    return {};
  if (!branch_.empty()) {
    // No answer in time: count it as a failure and try again later.
    auto waited = std::chrono::duration_cast<std::chrono::seconds>(now - sent_at_).count();
    return fail("SIP proxy did not answer REGISTER within " + std::to_string(waited) + " s", now, false);
  }
  // Refresh (or retry): reuse the nonce with the next count; the proxy challenges again when it expired.
  return send_register(now, digest_.ready());
}

}  // namespace fedgw::proxy
