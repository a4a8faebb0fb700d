#include "gateway/config/config.h"

#include "gateway/net/file_kind.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "gateway/admin/password.h"
#include "gateway/net/address.h"

namespace fedgw::config {

namespace {

class collect_errors : public google::protobuf::io::ErrorCollector {
public:
  collect_errors(std::string_view source, std::vector<std::string>& out)
    : source_(source), out_(out) {}
  void AddError(int line, int column, const std::string& message) override {
    // Protobuf counts lines and columns from zero.
    out_.push_back(source_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) +
                   ": " + message);
  }
  void AddWarning(int line, int column, const std::string& message) override {
    AddError(line, column, message);
  }

private:
  std::string source_;
  std::vector<std::string>& out_;
};

template <typename Setter>
void set_default(bool has, Setter set) {
  if (!has) set();
}

std::string quoted(std::string_view value) { return "\"" + std::string(value) + "\""; }

// A field's value as text format prints it; repeated values in brackets.
std::string field_text(const google::protobuf::Message& message, const google::protobuf::FieldDescriptor* field) {
  std::string out, value;
  if (!field->is_repeated()) {
    google::protobuf::TextFormat::PrintFieldValueToString(message, field, -1, &out);
    return out;
  }
  int size = message.GetReflection()->FieldSize(message, field);
  for (int i = 0; i < size; ++i) {
    google::protobuf::TextFormat::PrintFieldValueToString(message, field, i, &value);
    out += (i ? ", " : "") + value;
  }
  return "[" + out + "]";
}

struct checker {
  std::vector<std::string> errors;

  void fail(const std::string& field, const std::string& message) {
    errors.push_back(field + ": " + message);
  }
  void port(const std::string& field, uint32_t value) {
    if (!net::is_valid_port(value)) fail(field, std::to_string(value) + " is not a valid port");
  }
  void ip(const std::string& field, const std::string& value, bool required) {
    if (value.empty()) {
      if (required) fail(field, "is required");
    } else if (!net::is_ip(value)) {
      fail(field, quoted(value) + " is not an IP address");
    }
  }
  void domain(const std::string& field, const std::string& value) {
    if (!net::is_hostname(value)) fail(field, quoted(value) + " is not a valid domain name");
  }
  void range(const std::string& field, uint64_t value, uint64_t lo, uint64_t hi) {
    if (value < lo || value > hi)
      fail(field, std::to_string(value) + " is out of range (" + std::to_string(lo) + ".." +
                      std::to_string(hi) + ")");
  }
  // stat first: opening a FIFO would block the config check, a device may never end.
  void file(const std::string& field, const std::string& path) {
    if (path.empty()) return;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      fail(field, path + " is " + net::file_kind(st.st_mode) + ", not a regular file");
      return;
    }
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) fail(field, quoted(path) + " cannot be read");
    else ::close(fd);
  }
  void listener(const std::string& field, const Listener& l, bool tls_only, bool internal = false) {
    ip(field + ".bind_ip", l.bind_ip(), true);
    port(field + ".port", l.port());
    if (l.transport() == TRANSPORT_UNSPECIFIED) {
      fail(field + ".transport", "is required (TCP, TLS or MTLS)");
    } else if (tls_only && l.transport() == TCP) {
      fail(field + ".transport", "TCP is not allowed here (MTLS)");
    } else if (tls_only && l.transport() == TLS) {
      // Partners are identified by their client certificate; without one every request would be refused.
      fail(field + ".transport", "TLS without client certificates cannot identify partners (use MTLS)");
    }
    if (!l.public_host().empty() && !net::is_hostname(l.public_host()) && !net::is_ip(l.public_host()))
      fail(field + ".public_host", quoted(l.public_host()) + " is not a host name or IP address");
    if (l.public_host().empty() && (l.bind_ip() == "0.0.0.0" || l.bind_ip() == "::"))
      fail(field + ".public_host", "is required when bind_ip is " + l.bind_ip() +
                                     " (Via and Record-Route must name an address peers can reach)");
    for (int i = 0; i < l.allowed_peers_size(); ++i)
      if (!net::parse_prefix(l.allowed_peers(i)))
        fail(field + ".allowed_peers[" + std::to_string(i) + "]",
             quoted(l.allowed_peers(i)) + " is not an IP address or IP/prefix");
    // The UC server's certificate: only the internal listener has one to pin.
    if (!internal) {
      if (!l.ca_bundle().empty()) fail(field + ".ca_bundle", "is only used on internal_listener");
      if (!l.peer_names().empty()) fail(field + ".peer_names", "is only used on internal_listener");
      return;
    }
    bool client_certs = l.transport() == MTLS || (l.transport() == TLS && l.request_client_cert());
    if (!client_certs && (!l.ca_bundle().empty() || !l.peer_names().empty()))
      fail(field + (l.ca_bundle().empty() ? ".peer_names" : ".ca_bundle"),
           std::string("needs client certificates: transport ") + transport_name(l.transport()) +
               " does not ask for one (use MTLS, or TLS with request_client_cert)");
    file(field + ".ca_bundle", l.ca_bundle());
    for (int i = 0; i < l.peer_names_size(); ++i) {
      const auto& name = l.peer_names(i);
      auto f = field + ".peer_names[" + std::to_string(i) + "]";
      if (name.empty() || name.size() > 253) fail(f, quoted(name) + " is not a certificate name");
      else if (name.find('*') != std::string::npos) fail(f, quoted(name) + ": wildcards are not accepted, exact names only");
    }
  }
};

}  // namespace

const char* mode_name(Mode mode) {
  switch (mode) {
    case DIRECT: return "DIRECT";
    case SIP_PROXY: return "SIP_PROXY";
    default: return "UNSPECIFIED";
  }
}

const char* transport_name(Transport transport) {
  switch (transport) {
    case TCP: return "TCP";
    case TLS: return "TLS";
    case MTLS: return "MTLS";
    default: return "UNSPECIFIED";
  }
}

int parse_socket_mode(std::string_view text) {
  if (text.size() < 3 || text.size() > 4) return -1;
  int mode = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '7') return -1;
    mode = mode * 8 + (ch - '0');
  }
  return mode;
}

bool resolve_group(const std::string& group, unsigned& gid, std::string& error) {
  if (!group.empty() && std::all_of(group.begin(), group.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) &&
      group.size() <= 9) {
    gid = static_cast<unsigned>(std::stoul(group));
    return true;
  }
  std::vector<char> buffer(16384);
  struct group entry{};
  struct group* found = nullptr;
  int rc;
  while ((rc = ::getgrnam_r(group.c_str(), &entry, buffer.data(), buffer.size(), &found)) == ERANGE &&
         buffer.size() < (1u << 20))
    buffer.resize(buffer.size() * 4);
  if (rc != 0 || found == nullptr) {
    error = "no group " + quoted(group) + " on this machine";
    return false;
  }
  gid = static_cast<unsigned>(found->gr_gid);
  return true;
}

void apply_defaults(Config& c) {
  if (c.control_socket().empty()) c.set_control_socket(default_control_socket);
  if (c.control_socket_mode().empty()) c.set_control_socket_mode(default_control_socket_mode);
  set_default(c.has_worker_threads(), [&] { c.set_worker_threads(0); });
  auto& cert = *c.mutable_certificate();
  set_default(cert.has_expiry_warning_days(), [&] { cert.set_expiry_warning_days(30); });
  set_default(cert.has_verify_depth(), [&] { cert.set_verify_depth(5); });
  if (c.has_admin_http() && c.admin_http().bind_ip().empty()) c.mutable_admin_http()->set_bind_ip("127.0.0.1");
  auto& dns = *c.mutable_dns();
  set_default(dns.has_timeout_ms(), [&] { dns.set_timeout_ms(2000); });
  set_default(dns.has_tries(), [&] { dns.set_tries(2); });
  set_default(dns.has_max_cache_ttl_s(), [&] { dns.set_max_cache_ttl_s(3600); });
  for (auto& srv : *dns.mutable_srv()) {
    set_default(srv.has_priority(), [&] { srv.set_priority(10); });
    set_default(srv.has_weight(), [&] { srv.set_weight(10); });
    set_default(srv.has_port(), [&] { srv.set_port(5061); });
  }
  auto& partners = *c.mutable_partners();
  set_default(partners.has_discovered_rate_limit(), [&] { partners.set_discovered_rate_limit(20); });
  auto& l = *c.mutable_limits();
  set_default(l.has_max_header_bytes(), [&] { l.set_max_header_bytes(16384); });
  set_default(l.has_max_body_bytes(), [&] { l.set_max_body_bytes(65536); });
  set_default(l.has_max_header_count(), [&] { l.set_max_header_count(128); });
  set_default(l.has_max_header_line_bytes(), [&] { l.set_max_header_line_bytes(8192); });
  set_default(l.has_max_queued_per_domain(), [&] { l.set_max_queued_per_domain(1000); });
  set_default(l.has_transaction_timeout_ms(), [&] { l.set_transaction_timeout_ms(32000); });
  set_default(l.has_idle_timeout_s(), [&] { l.set_idle_timeout_s(600); });
  set_default(l.has_max_connections(), [&] { l.set_max_connections(10000); });
  set_default(l.has_keepalive_interval_s(), [&] { l.set_keepalive_interval_s(30); });
  set_default(l.has_max_connections_per_source(), [&] { l.set_max_connections_per_source(50); });
  set_default(l.has_establish_timeout_s(), [&] { l.set_establish_timeout_s(10); });
  // Listener defaults: ports and transports only where the section is in use.
  auto listener_defaults = [](Listener& listener, uint32_t port, Transport transport) {
    set_default(listener.has_port(), [&] { listener.set_port(port); });
    if (listener.transport() == TRANSPORT_UNSPECIFIED) listener.set_transport(transport);
  };
  if (c.has_internal_listener()) listener_defaults(*c.mutable_internal_listener(), 5060, TCP);
  if (c.has_federation_listener())
    listener_defaults(*c.mutable_federation_listener(), 5061, MTLS);
  if (c.has_sip_proxy()) {
    auto& p = *c.mutable_sip_proxy();
    set_default(p.has_port(), [&] { p.set_port(p.transport() == TCP ? 5060 : 5061); });
    if (p.has_incoming()) listener_defaults(*p.mutable_incoming(), 5062, p.transport() == TCP ? TCP : MTLS);
  }
}

std::vector<std::string> validate(const Config& c) {
  checker check;
  if (c.mode() == MODE_UNSPECIFIED) check.fail("mode", "is required (DIRECT or SIP_PROXY)");
  if (c.domains().empty()) check.fail("domains", "at least one SIP domain is required");
  std::set<std::string> seen;
  for (int i = 0; i < c.domains_size(); ++i) {
    auto field = "domains[" + std::to_string(i) + "]";
    check.domain(field, c.domains(i));
    if (!seen.insert(c.domains(i)).second) check.fail(field, quoted(c.domains(i)) + " is listed twice");
  }

  const auto& cert = c.certificate();
  bool pem = !cert.cert_file().empty() || !cert.key_file().empty();
  if (pem && !cert.pkcs12_file().empty())
    check.fail("certificate.pkcs12_file", "set either cert_file + key_file or pkcs12_file, not both");
  if (!cert.cert_file().empty() && cert.key_file().empty())
    check.fail("certificate.key_file", "is required with cert_file");
  if (cert.cert_file().empty() && !cert.key_file().empty())
    check.fail("certificate.cert_file", "is required with key_file");
  check.file("certificate.cert_file", cert.cert_file());
  check.file("certificate.key_file", cert.key_file());
  check.file("certificate.pkcs12_file", cert.pkcs12_file());
  check.file("certificate.ca_bundle", cert.ca_bundle());
  check.range("certificate.expiry_warning_days", cert.expiry_warning_days(), 0, 3650);
  for (int i = 0; i < cert.crl_files_size(); ++i)
    check.file("certificate.crl_files[" + std::to_string(i) + "]", cert.crl_files(i));
  check.range("certificate.verify_depth", cert.verify_depth(), 1, 10);

  if (!c.has_internal_listener()) {
    check.fail("internal_listener", "is required (where the internal UC server connects)");
  } else {
    check.listener("internal_listener", c.internal_listener(), false, true);
  }
  if (c.has_federation_listener()) check.listener("federation_listener", c.federation_listener(), true);
  if (c.mode() == SIP_PROXY) {
    if (!c.has_sip_proxy()) {
      check.fail("sip_proxy", "is required in SIP_PROXY mode");
    } else {
      const auto& p = c.sip_proxy();
      if (p.username().empty()) check.fail("sip_proxy.username", "is required");
      if (p.password().empty()) check.fail("sip_proxy.password", "is required");
      check.ip("sip_proxy.interface", p.interface(), false);
      check.ip("sip_proxy.ip", p.ip(), true);
      check.port("sip_proxy.port", p.port());
      if (p.transport() == TRANSPORT_UNSPECIFIED)
        check.fail("sip_proxy.transport", "is required (TCP, TLS or MTLS)");
      bool no_certificate = cert.cert_file().empty() && cert.pkcs12_file().empty();
      if (p.transport() == MTLS && no_certificate)
        check.fail("sip_proxy.transport", "MTLS needs a certificate (certificate.cert_file or pkcs12_file)");
      if (p.transport() == TLS && no_certificate)
        check.fail("sip_proxy.transport",
                   "TLS needs the certificate section (its ca_bundle checks the proxy's certificate)");
      if (p.transport() == TLS || p.transport() == MTLS) {
        if (p.server_name().empty())
          check.fail("sip_proxy.server_name",
                     std::string("is required with ") + (p.transport() == TLS ? "TLS" : "MTLS") +
                       " (the name the proxy's certificate carries)");
        else
          check.domain("sip_proxy.server_name", p.server_name());
      }
      if (!p.has_incoming()) {
        check.fail("sip_proxy.incoming", "is required (where the proxy connects to the gateway)");
      } else {
        check.listener("sip_proxy.incoming", p.incoming(), false);
      }
    }
  }
  // sip_proxy.incoming is opened whenever configured (mode switches need no restart): its own address.
  if (c.has_sip_proxy() && c.sip_proxy().has_incoming()) {
    const auto& in = c.sip_proxy().incoming();
    auto overlaps = [&](const Listener& other) {
      auto wildcard = [](const std::string& ip) { return ip == "0.0.0.0" || ip == "::"; };
      return other.port() == in.port() &&
             (other.bind_ip() == in.bind_ip() || wildcard(other.bind_ip()) || wildcard(in.bind_ip()));
    };
    auto at = in.bind_ip() + ":" + std::to_string(in.port());
    if (c.has_internal_listener() && overlaps(c.internal_listener()))
      check.fail("sip_proxy.incoming", at + " overlaps the internal_listener's address");
    if (c.has_federation_listener() && overlaps(c.federation_listener()))
      check.fail("sip_proxy.incoming", at + " overlaps the federation_listener's address");
  }
  if (c.has_admin_http()) {
    const auto& admin = c.admin_http();
    check.ip("admin_http.bind_ip", admin.bind_ip(), true);
    if (!admin.has_port()) check.fail("admin_http.port", "is required");
    else check.port("admin_http.port", admin.port());
    if (admin.password_hash().empty())
      check.fail("admin_http.password_hash", "is required (make one with: fedctl hash-password)");
    else if (!password::is_hash(admin.password_hash()))
      check.fail("admin_http.password_hash", quoted(admin.password_hash().substr(0, 24)) +
                                               " is not a hash made by fedctl hash-password (pbkdf2-sha256$...)");
  }
  if (c.mode() == DIRECT && c.has_federation_listener() && cert.cert_file().empty() &&
      cert.pkcs12_file().empty())
    check.fail("certificate", "the federation listener needs a certificate (cert_file + key_file or pkcs12_file)");

  const auto& dns = c.dns();
  for (int i = 0; i < dns.servers_size(); ++i)
    if (!net::parse_endpoint(dns.servers(i)))
      check.fail("dns.servers[" + std::to_string(i) + "]",
                 quoted(dns.servers(i)) + " is not ip:port or [ipv6]:port");
  check.range("dns.timeout_ms", dns.timeout_ms(), 10, 60000);
  check.range("dns.tries", dns.tries(), 1, 10);
  check.range("dns.max_cache_ttl_s", dns.max_cache_ttl_s(), 0, 7 * 86400);
  for (int i = 0; i < dns.srv_size(); ++i) {
    const auto& srv = dns.srv(i);
    auto field = "dns.srv[" + std::to_string(i) + "]";
    if (!net::is_srv_owner_name(srv.name()) || srv.name().front() != '_')
      check.fail(field + ".name", quoted(srv.name()) + " is not an SRV name like _sipfederationtls._tcp.example.com");
    check.range(field + ".priority", srv.priority(), 0, 65535);
    check.range(field + ".weight", srv.weight(), 0, 65535);
    check.port(field + ".port", srv.port());
    if (srv.target() != "." && !net::is_hostname(srv.target()))
      check.fail(field + ".target", quoted(srv.target()) + " is not a host name (or \".\")");
  }
  for (int i = 0; i < dns.hosts_size(); ++i) {
    const auto& h = dns.hosts(i);
    auto field = "dns.hosts[" + std::to_string(i) + "]";
    check.domain(field + ".host", h.host());
    if (h.addresses().empty()) check.fail(field + ".addresses", "at least one address is required");
    for (int j = 0; j < h.addresses_size(); ++j)
      check.ip(field + ".addresses[" + std::to_string(j) + "]", h.addresses(j), true);
  }

  const auto& partners = c.partners();
  for (int i = 0; i < partners.allowed_size(); ++i)
    check.domain("partners.allowed[" + std::to_string(i) + "]", partners.allowed(i));
  for (int i = 0; i < partners.blocked_size(); ++i)
    check.domain("partners.blocked[" + std::to_string(i) + "]", partners.blocked(i));
  for (int i = 0; i < partners.identity_trusted_size(); ++i)
    check.domain("partners.identity_trusted[" + std::to_string(i) + "]", partners.identity_trusted(i));
  check.range("partners.discovered_rate_limit", partners.discovered_rate_limit(), 1, 1000000);

  const auto& l = c.limits();
  check.range("limits.max_header_bytes", l.max_header_bytes(), 1024, 1 << 20);
  check.range("limits.max_body_bytes", l.max_body_bytes(), 0, 16 << 20);
  check.range("limits.max_header_count", l.max_header_count(), 16, 4096);
  check.range("limits.max_header_line_bytes", l.max_header_line_bytes(), 256, 1 << 20);
  check.range("limits.max_queued_per_domain", l.max_queued_per_domain(), 1, 1000000);
  check.range("limits.transaction_timeout_ms", l.transaction_timeout_ms(), 500, 300000);
  check.range("limits.idle_timeout_s", l.idle_timeout_s(), 1, 86400);
  check.range("limits.max_connections", l.max_connections(), 1, 1000000);
  check.range("limits.keepalive_interval_s", l.keepalive_interval_s(), 1, 3600);
  check.range("limits.max_connections_per_source", l.max_connections_per_source(), 1, 1000000);
  check.range("limits.establish_timeout_s", l.establish_timeout_s(), 1, 600);

  if (c.control_socket().front() != '/')
    check.fail("control_socket", quoted(c.control_socket()) + " must be an absolute path");
  else if (c.control_socket().size() > 107)
    check.fail("control_socket", quoted(c.control_socket()) + " is longer than a Unix socket path may be (107)");
  auto socket_mode = parse_socket_mode(c.control_socket_mode());
  if (socket_mode < 0)
    check.fail("control_socket_mode", quoted(c.control_socket_mode()) + " is not an octal mode such as \"0660\"");
  else if ((socket_mode & 07000) != 0)
    check.fail("control_socket_mode", quoted(c.control_socket_mode()) + " has setuid, setgid or sticky bits: at most \"0770\"");
  else if ((socket_mode & 07) != 0)
    check.fail("control_socket_mode", quoted(c.control_socket_mode()) +
                                        " gives other users access: at most \"0770\" (owner and group)");
  else if ((socket_mode & 0600) != 0600)
    check.fail("control_socket_mode", quoted(c.control_socket_mode()) + " must let the owner read and write (0600)");
  if (!c.control_socket_group().empty()) {
    unsigned gid = 0;
    std::string problem;
    if (!resolve_group(c.control_socket_group(), gid, problem)) check.fail("control_socket_group", problem);
  }
  check.range("worker_threads", c.worker_threads(), 0, 256);
  return check.errors;
}

std::vector<std::string> validate_change(const Config& running, const Config& next) {
  std::vector<std::string> errors;
  auto restart = [&](const std::string& field, const std::string& before, const std::string& after) {
    errors.push_back(field + ": changing " + before + " to " + after + " needs a restart of fedgw");
  };
  if (running.control_socket() != next.control_socket())
    restart("control_socket", quoted(running.control_socket()), quoted(next.control_socket()));
  if (running.control_socket_mode() != next.control_socket_mode())
    restart("control_socket_mode", quoted(running.control_socket_mode()), quoted(next.control_socket_mode()));
  if (running.control_socket_group() != next.control_socket_group())
    restart("control_socket_group", quoted(running.control_socket_group()), quoted(next.control_socket_group()));
  auto listener_text = [](const Listener& l, bool present) {
    if (!present) return std::string("none");
    return l.bind_ip() + ":" + std::to_string(l.port()) + " " + transport_name(l.transport()) +
           (l.request_client_cert() ? " (client cert)" : "");
  };
  auto before = listener_text(running.internal_listener(), running.has_internal_listener());
  auto after = listener_text(next.internal_listener(), next.has_internal_listener());
  if (before != after) restart("internal_listener", before, after);
  before = listener_text(running.federation_listener(), running.has_federation_listener());
  after = listener_text(next.federation_listener(), next.has_federation_listener());
  if (before != after) restart("federation_listener", before, after);
  // The data path reads its limits once at start; every limits field (also
  // those added later) is compared by reflection.
  const auto* limits = Limits::descriptor();
  for (int i = 0; i < limits->field_count(); ++i) {
    const auto* field = limits->field(i);
    auto old_value = field_text(running.limits(), field);
    auto new_value = field_text(next.limits(), field);
    if (old_value != new_value) restart("limits." + field->name(), old_value, new_value);
  }
  // The admin listener is opened once at start.
  auto admin_text = [](const Config& c) {
    return c.has_admin_http() ? c.admin_http().bind_ip() + ":" + std::to_string(c.admin_http().port())
                              : std::string("none");
  };
  if (admin_text(running) != admin_text(next))
    restart("admin_http", admin_text(running), admin_text(next));
  else if (running.admin_http().password_hash() != next.admin_http().password_hash())
    restart("admin_http.password_hash", "the hash", "another one");
  if (running.worker_threads() != next.worker_threads())
    restart("worker_threads", std::to_string(running.worker_threads()), std::to_string(next.worker_threads()));
  if (running.spread_when_cores_busy() != next.spread_when_cores_busy())
    restart("spread_when_cores_busy", running.spread_when_cores_busy() ? "true" : "false",
            next.spread_when_cores_busy() ? "true" : "false");
  return errors;
}

std::chrono::milliseconds dns_question_budget(const Dns& dns) {
  uint64_t servers = dns.servers_size() > 0 ? static_cast<uint64_t>(dns.servers_size()) : 3;
  uint64_t timeout = dns.has_timeout_ms() ? dns.timeout_ms() : 2000;
  uint64_t tries = dns.has_tries() ? dns.tries() : 2;
  tries = std::min<uint64_t>(std::max<uint64_t>(tries, 1), 30);
  return std::chrono::milliseconds(servers * timeout * ((uint64_t{1} << tries) - 1));
}

std::chrono::milliseconds readiness_budget(const Config& config) {
  // _sipfederationtls._tcp, _sips._tcp, _sip._tls (and _sip._tcp), then the addresses.
  uint64_t questions = (config.dns().allow_tcp_federation() ? 4 : 3) + 1;
  // One second for the actors' own work.
  return certificate_budget + dns_question_budget(config.dns()) * questions + std::chrono::seconds(1);
}

load_result parse_config(std::string_view text, std::string_view source, const Config* running) {
  load_result result;
  collect_errors collector(source, result.errors);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&collector);
  if (!parser.ParseFromString(std::string(text), &result.config)) {
    if (result.errors.empty()) result.errors.push_back(std::string(source) + ": cannot be parsed");
    return result;
  }
  if (running) keep_masked_secrets(result.config, *running);
  apply_defaults(result.config);
  result.errors = validate(result.config);
  return result;
}

load_result load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    load_result result;
    result.errors.push_back(path + ": cannot be read");
    return result;
  }
  std::stringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

Config masked(const Config& config) {
  Config out = config;
  if (!out.sip_proxy().password().empty()) out.mutable_sip_proxy()->set_password(std::string(masked_secret));
  if (!out.certificate().pkcs12_password().empty())
    out.mutable_certificate()->set_pkcs12_password(std::string(masked_secret));
  // The hash is not the password, but it would allow guessing it offline.
  if (!out.admin_http().password_hash().empty())
    out.mutable_admin_http()->set_password_hash(std::string(masked_secret));
  return out;
}

void keep_masked_secrets(Config& next, const Config& running) {
  if (next.sip_proxy().password() == masked_secret)
    next.mutable_sip_proxy()->set_password(running.sip_proxy().password());
  if (next.certificate().pkcs12_password() == masked_secret)
    next.mutable_certificate()->set_pkcs12_password(running.certificate().pkcs12_password());
  if (next.admin_http().password_hash() == masked_secret)
    next.mutable_admin_http()->set_password_hash(running.admin_http().password_hash());
}

std::string to_masked_text(const Config& config) {
  std::string text;
  google::protobuf::TextFormat::PrintToString(masked(config), &text);
  return text;
}

}  // namespace fedgw::config
