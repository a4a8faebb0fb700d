#include "gateway/admin/password.h"
#include "gateway/config/config.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace fedgw::config {
namespace {

const std::string minimal_base = R"(
domains: "a.test"
internal_listener { bind_ip: "127.0.0.1" }
)";
const std::string minimal = "mode: DIRECT\n" + minimal_base;
const std::string minimal_proxy = "mode: SIP_PROXY\n" + minimal_base;

bool contains(const std::vector<std::string>& errors, const std::string& text) {
  return std::any_of(errors.begin(), errors.end(),
                     [&](const std::string& e) { return e.find(text) != std::string::npos; });
}

TEST(Config, ShippedDefaultLoadsAndMatchesFedctlDefaultSocket) {
  auto loaded = load_config_file(FEDGW_SOURCE_DIR "/gateway/config/default.textproto");
  ASSERT_TRUE(loaded.ok()) << loaded.errors.front();
  EXPECT_EQ(loaded.config.mode(), DIRECT);
  EXPECT_EQ(loaded.config.control_socket(), default_control_socket);
  EXPECT_EQ(loaded.config.internal_listener().transport(), TCP);
  EXPECT_EQ(loaded.config.internal_listener().bind_ip(), "127.0.0.1");
  EXPECT_FALSE(loaded.config.has_federation_listener());
}

TEST(Config, MinimalConfigGetsDefaults) {
  auto loaded = parse_config(minimal, "t");
  ASSERT_TRUE(loaded.ok()) << loaded.errors.front();
  const auto& c = loaded.config;
  EXPECT_EQ(c.internal_listener().port(), 5060u);
  EXPECT_EQ(c.internal_listener().transport(), TCP);
  EXPECT_EQ(c.limits().max_body_bytes(), 65536u);
  EXPECT_EQ(c.dns().timeout_ms(), 2000u);
  EXPECT_EQ(c.partners().discovered_rate_limit(), 20u);
  EXPECT_EQ(c.certificate().expiry_warning_days(), 30u);
  EXPECT_EQ(c.control_socket(), default_control_socket);
}

TEST(Config, SyntaxErrorsCarryLineAndColumn) {
  auto loaded = parse_config("mode: DIRECT\ndomains: \"a.test\"\nbogus_field: 1\n", "my.textproto");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.errors.front().rfind("my.textproto:3:", 0), 0u) << loaded.errors.front();
  EXPECT_TRUE(contains(loaded.errors, "bogus_field"));

  loaded = parse_config("mode: SIDEWAYS domains: \"a.test\"\n", "x");
  ASSERT_FALSE(loaded.ok());
  EXPECT_TRUE(contains(loaded.errors, "x:1:")) << loaded.errors.front();
  EXPECT_TRUE(contains(loaded.errors, "\"SIDEWAYS\" for field \"mode\""));

  loaded = parse_config("mode: DIRECT\nmode: SIP_PROXY\n", "x");
  ASSERT_FALSE(loaded.ok());
  EXPECT_TRUE(contains(loaded.errors, "x:2:")) << loaded.errors.front();
}

TEST(Config, ProxyPortOutOfRangeNamesFieldAndValue) {
  auto loaded = parse_config(minimal_proxy + R"(
    sip_proxy { username: "u" password: "p" ip: "192.0.2.1" port: 70000 transport: TCP
                incoming { bind_ip: "127.0.0.1" port: 5062 } })", "t");
  ASSERT_FALSE(loaded.ok());
  EXPECT_TRUE(contains(loaded.errors, "sip_proxy.port: 70000 is not a valid port"));
}

TEST(Config, EachFieldProblemIsNamed) {
  auto loaded = parse_config(R"(
    domains: "ok.test"
    domains: "bad domain"
    domains: "ok.test"
    internal_listener { bind_ip: "999.1.1.1" port: 0 }
    federation_listener { bind_ip: "127.0.0.1" transport: TCP }
    certificate { cert_file: "/nonexistent/cert.pem" }
    dns { servers: "127.0.0.1" timeout_ms: 1 srv { name: "example.com" target: "a b" } }
    partners { blocked: "-x-" }
    limits { max_body_bytes: 999999999 }
    control_socket: "relative.sock"
  )", "t");
  ASSERT_FALSE(loaded.ok());
  const auto& e = loaded.errors;
  EXPECT_TRUE(contains(e, "mode: is required"));
  EXPECT_TRUE(contains(e, "domains[1]: \"bad domain\" is not a valid domain name"));
  EXPECT_TRUE(contains(e, "domains[2]: \"ok.test\" is listed twice"));
  EXPECT_TRUE(contains(e, "internal_listener.bind_ip: \"999.1.1.1\" is not an IP address"));
  EXPECT_TRUE(contains(e, "internal_listener.port: 0 is not a valid port"));
  EXPECT_TRUE(contains(e, "federation_listener.transport: TCP is not allowed here"));
  EXPECT_TRUE(contains(e, "certificate.key_file: is required with cert_file"));
  EXPECT_TRUE(contains(e, "certificate.cert_file: \"/nonexistent/cert.pem\" cannot be read"));
  EXPECT_TRUE(contains(e, "dns.servers[0]: \"127.0.0.1\" is not ip:port"));
  EXPECT_TRUE(contains(e, "dns.timeout_ms: 1 is out of range"));
  EXPECT_TRUE(contains(e, "dns.srv[0].name: \"example.com\" is not an SRV name"));
  EXPECT_TRUE(contains(e, "dns.srv[0].target: \"a b\" is not a host name"));
  EXPECT_TRUE(contains(e, "partners.blocked[0]: \"-x-\" is not a valid domain name"));
  EXPECT_TRUE(contains(e, "limits.max_body_bytes: 999999999 is out of range"));
  EXPECT_TRUE(contains(e, "control_socket: \"relative.sock\" must be an absolute path"));
}

TEST(Config, ValidOverridesPass) {
  auto loaded = parse_config(minimal + R"(
    dns { servers: "127.0.0.1:5353" servers: "[::1]:53"
          srv { name: "_sipfederationtls._tcp.b.test" port: 5061 target: "sip.b.test" }
          srv { name: "_sips._tcp.none.test" target: "." }
          hosts { host: "sip.b.test" addresses: "127.0.0.2" addresses: "::1" } }
    partners { allowed: "b.test" blocked: "c.test" })", "t");
  EXPECT_TRUE(loaded.ok()) << loaded.errors.front();
}

TEST(Config, ProxyModeRequirements) {
  auto loaded = parse_config(minimal_proxy, "t");
  EXPECT_TRUE(contains(loaded.errors, "sip_proxy: is required in SIP_PROXY mode"));
  loaded = parse_config(minimal_proxy + R"(
    sip_proxy { ip: "192.0.2.1" transport: MTLS interface: "nope" })", "t");
  EXPECT_TRUE(contains(loaded.errors, "sip_proxy.username: is required"));
  EXPECT_TRUE(contains(loaded.errors, "sip_proxy.password: is required"));
  EXPECT_TRUE(contains(loaded.errors, "sip_proxy.interface: \"nope\" is not an IP address"));
  EXPECT_TRUE(contains(loaded.errors, "sip_proxy.transport: MTLS needs a certificate"));
  EXPECT_TRUE(contains(loaded.errors, "sip_proxy.incoming: is required"));
}

TEST(Config, ProxyTlsNeedsAServerNameAndIncomingItsOwnAddress) {
  auto loaded = parse_config(minimal_proxy + R"(
    sip_proxy { username: "u" password: "p" ip: "192.0.2.1" transport: TLS
                incoming { bind_ip: "127.0.0.1" port: 5060 transport: TCP } })", "t");
  EXPECT_TRUE(contains(loaded.errors, "sip_proxy.transport: TLS needs the certificate section"));
  EXPECT_TRUE(contains(loaded.errors, "sip_proxy.server_name: is required with TLS (the name the proxy's certificate carries)"));
  EXPECT_TRUE(contains(loaded.errors, "sip_proxy.incoming: 127.0.0.1:5060 overlaps the internal_listener's address"));
  loaded = parse_config(minimal_proxy + R"(
    sip_proxy { username: "u" password: "p" ip: "192.0.2.1" transport: TCP server_name: "not a name"
                incoming { bind_ip: "127.0.0.2" port: 5060 } })", "t");
  EXPECT_TRUE(loaded.ok()) << loaded.errors.front();  // the name is checked only with TLS and MTLS; another IP, same port
  loaded = parse_config(minimal_proxy + R"(
    certificate { cert_file: "c" key_file: "k" }
    sip_proxy { username: "u" password: "p" ip: "192.0.2.1" transport: MTLS server_name: "not a name"
                incoming { bind_ip: "127.0.0.1" port: 5062 } })", "t");
  EXPECT_TRUE(contains(loaded.errors, "sip_proxy.server_name: \"not a name\" is not a valid domain name"));
}

TEST(Config, ProxySettingsAndIncomingListenerChangeAtRunTime) {
  auto a = parse_config(minimal_proxy + R"(
    sip_proxy { username: "u" password: "p" ip: "192.0.2.1" transport: TCP incoming { bind_ip: "127.0.0.1" } })", "a")
             .config;
  auto b = a;
  b.mutable_sip_proxy()->set_password("other");  // the session starts again: no restart
  EXPECT_TRUE(validate_change(a, b).empty());
  b.mutable_sip_proxy()->mutable_incoming()->set_port(5070);  // the supervisor moves the listener
  EXPECT_TRUE(validate_change(a, b).empty());
}

TEST(Config, FederationListenerNeedsCertificate) {
  auto loaded = parse_config(minimal + R"(federation_listener { bind_ip: "127.0.0.1" })", "t");
  EXPECT_TRUE(contains(loaded.errors, "certificate: the federation listener needs a certificate"));
}

// Partners are identified by their client certificate: a plain TLS federation
// listener would answer every request 403, so it is refused at start.
TEST(Config, FederationListenerWithoutClientCertificatesIsRefused) {
  auto loaded = parse_config(minimal + R"(federation_listener { bind_ip: "127.0.0.1" transport: TLS })", "t");
  EXPECT_TRUE(contains(loaded.errors,
                       "federation_listener.transport: TLS without client certificates cannot identify partners (use MTLS)"));
}

TEST(Config, WildcardBindNeedsAPublicHostForViaAndRecordRoute) {
  auto loaded = parse_config(minimal + R"(federation_listener { bind_ip: "0.0.0.0" })", "t");
  EXPECT_TRUE(contains(loaded.errors, "federation_listener.public_host: is required when bind_ip is 0.0.0.0"));
  loaded = parse_config(minimal + R"(federation_listener { bind_ip: "0.0.0.0" public_host: "sip..x" })", "t");
  EXPECT_TRUE(contains(loaded.errors, "federation_listener.public_host: \"sip..x\" is not a host name or IP address"));
}

TEST(Config, AllowedPeersAreAddressesOrPrefixes) {
  auto loaded = parse_config(R"(mode: DIRECT
domains: "a.test"
internal_listener { bind_ip: "127.0.0.1" allowed_peers: "10.0.0.0/8" allowed_peers: "::1" allowed_peers: "10.0.0.0/33" }
partners { identity_trusted: "not a domain" })", "t");
  EXPECT_TRUE(contains(loaded.errors, "internal_listener.allowed_peers[2]: \"10.0.0.0/33\" is not an IP address or IP/prefix"));
  EXPECT_FALSE(contains(loaded.errors, "allowed_peers[0]"));
  EXPECT_FALSE(contains(loaded.errors, "allowed_peers[1]"));
  EXPECT_TRUE(contains(loaded.errors, "partners.identity_trusted[0]"));
}

TEST(Config, ControlSocketModeAndGroup) {
  auto loaded = parse_config(minimal, "t");
  ASSERT_TRUE(loaded.ok()) << loaded.errors.front();
  EXPECT_EQ(loaded.config.control_socket_mode(), "0600");
  EXPECT_EQ(loaded.config.control_socket_group(), "");
  EXPECT_EQ(parse_socket_mode("0660"), 0660);
  EXPECT_EQ(parse_socket_mode("600"), 0600);
  EXPECT_EQ(parse_socket_mode("0x60"), -1);
  EXPECT_EQ(parse_socket_mode("06600"), -1);
  // Operators in a group: the packaged configuration's setting.
  loaded = parse_config(minimal + "control_socket_mode: \"0660\" control_socket_group: \"root\"\n", "t");
  ASSERT_TRUE(loaded.ok()) << loaded.errors.front();
  unsigned gid = 1;
  std::string error;
  EXPECT_TRUE(resolve_group("root", gid, error)) << error;
  EXPECT_EQ(gid, 0u);
  EXPECT_TRUE(resolve_group("4242", gid, error));
  EXPECT_EQ(gid, 4242u);
  auto errors_of = [](const std::string& text) { return parse_config(minimal + text, "t").errors; };
  EXPECT_TRUE(contains(errors_of("control_socket_mode: \"rw-rw----\""),
                       "control_socket_mode: \"rw-rw----\" is not an octal mode such as \"0660\""));
  EXPECT_TRUE(contains(errors_of("control_socket_mode: \"0666\""),
                       "control_socket_mode: \"0666\" gives other users access: at most \"0770\" (owner and group)"));
  EXPECT_TRUE(contains(errors_of("control_socket_mode: \"4660\""),
                       "control_socket_mode: \"4660\" has setuid, setgid or sticky bits"));
  EXPECT_TRUE(contains(errors_of("control_socket_mode: \"0060\""),
                       "control_socket_mode: \"0060\" must let the owner read and write (0600)"));
  EXPECT_TRUE(contains(errors_of("control_socket_group: \"no-such-group-fedgw\""),
                       "control_socket_group: no group \"no-such-group-fedgw\" on this machine"));
}

TEST(Config, RuntimeChangesThatNeedRestartAreNamed) {
  auto a = parse_config(minimal, "a").config;
  auto b = a;
  EXPECT_TRUE(validate_change(a, b).empty());
  b.set_control_socket("/tmp/other.sock");
  b.set_worker_threads(4);
  b.set_spread_when_cores_busy(true);
  auto errors = validate_change(a, b);
  EXPECT_TRUE(contains(errors, "control_socket: changing"));
  EXPECT_TRUE(contains(errors, "worker_threads: changing 0 to 4 needs a restart"));
  EXPECT_TRUE(contains(errors, "spread_when_cores_busy: changing false to true needs a restart"));
  b = a;
  b.set_control_socket_mode("0660");
  b.set_control_socket_group("root");
  errors = validate_change(a, b);
  EXPECT_TRUE(contains(errors, "control_socket_mode: changing \"0600\" to \"0660\" needs a restart"));
  EXPECT_TRUE(contains(errors, "control_socket_group: changing \"\" to \"root\" needs a restart"));
}

TEST(Config, EveryLimitNeedsRestartOneLineEachButTheModeDoesNot) {
  auto a = parse_config(minimal, "a").config;
  auto b = a;
  b.set_mode(SIP_PROXY);  // switched at run time: the proxy session starts or stops
  b.mutable_limits()->set_max_body_bytes(100);
  auto errors = validate_change(a, b);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "limits.max_body_bytes: changing 65536 to 100 needs a restart of fedgw");
  // Every limits field, also one added later, is refused with its own line.
  auto c = a;
  const auto* d = Limits::descriptor();
  const auto* r = Limits::GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    ASSERT_EQ(f->cpp_type(), google::protobuf::FieldDescriptor::CPPTYPE_UINT32) << f->name();
    r->SetUInt32(c.mutable_limits(), f, r->GetUInt32(a.limits(), f) + 1);
  }
  errors = validate_change(a, c);
  ASSERT_EQ(errors.size(), static_cast<size_t>(d->field_count()));
  for (int i = 0; i < d->field_count(); ++i)
    EXPECT_TRUE(contains(errors, "limits." + d->field(i)->name() + ": changing ")) << d->field(i)->name();
  EXPECT_TRUE(contains(errors, "limits.idle_timeout_s: changing 600 to 601 needs a restart of fedgw"));
}

TEST(Config, ReadinessBudgetCoversEverySequentialDnsQuestion) {
  auto c = parse_config(minimal, "t").config;
  c.mutable_dns()->add_servers("127.0.0.1:53");
  c.mutable_dns()->set_timeout_ms(500);
  c.mutable_dns()->set_tries(2);
  // c-ares doubles the timeout per round: 500 + 1000.
  EXPECT_EQ(dns_question_budget(c.dns()), std::chrono::milliseconds(1500));
  // Certificate status, three SRV names and the addresses, one after the other, plus 1 s.
  EXPECT_EQ(readiness_budget(c), certificate_budget + std::chrono::milliseconds(4 * 1500 + 1000));
  c.mutable_dns()->set_allow_tcp_federation(true);
  EXPECT_EQ(readiness_budget(c), certificate_budget + std::chrono::milliseconds(5 * 1500 + 1000));
  c.mutable_dns()->add_servers("127.0.0.1:54");
  c.mutable_dns()->set_tries(3);
  EXPECT_EQ(dns_question_budget(c.dns()), std::chrono::milliseconds(2 * 500 * 7));
  c.mutable_dns()->clear_servers();  // /etc/resolv.conf: up to 3 servers
  EXPECT_EQ(dns_question_budget(c.dns()), std::chrono::milliseconds(3 * 500 * 7));
}

TEST(Config, MaskedTextHidesSecrets) {
  auto c = parse_config(minimal, "t").config;
  c.mutable_sip_proxy()->set_password("hunter2");
  c.mutable_certificate()->set_pkcs12_password("p12secret");
  auto text = to_masked_text(c);
  EXPECT_EQ(text.find("hunter2"), std::string::npos);
  EXPECT_EQ(text.find("p12secret"), std::string::npos);
  EXPECT_NE(text.find("***"), std::string::npos);
}

TEST(Config, AdminHttpNeedsAPortAndAPasswordHash) {
  auto loaded = parse_config(minimal + R"(admin_http { })", "t");
  EXPECT_TRUE(contains(loaded.errors, "admin_http.port: is required"));
  EXPECT_TRUE(contains(loaded.errors, "admin_http.password_hash: is required (make one with: fedctl hash-password)"));
  loaded = parse_config(minimal + R"(admin_http { bind_ip: "localhost" port: 70000 password_hash: "secret" })", "t");
  EXPECT_TRUE(contains(loaded.errors, "admin_http.bind_ip: \"localhost\" is not an IP address"));
  EXPECT_TRUE(contains(loaded.errors, "admin_http.port: 70000 is not a valid port"));
  EXPECT_TRUE(contains(loaded.errors, "admin_http.password_hash: \"secret\" is not a hash made by fedctl hash-password"));
  auto hash = password::make_hash("pw", 1000);
  loaded = parse_config(minimal + R"(admin_http { port: 8080 password_hash: ")" + hash + R"(" })", "t");
  EXPECT_TRUE(loaded.ok()) << loaded.errors.front();
  EXPECT_EQ(loaded.config.admin_http().bind_ip(), "127.0.0.1");  // the default: loopback only
}

TEST(Config, AdminHttpChangesNeedARestart) {
  auto hash = password::make_hash("pw", 1000);
  auto a = parse_config(minimal + R"(admin_http { port: 8080 password_hash: ")" + hash + R"(" })", "a").config;
  auto b = a;
  b.mutable_admin_http()->set_port(8081);
  EXPECT_TRUE(contains(validate_change(a, b),
                       "admin_http: changing 127.0.0.1:8080 to 127.0.0.1:8081 needs a restart of fedgw"));
  b = a;
  b.mutable_admin_http()->set_password_hash(password::make_hash("other", 1000));
  EXPECT_TRUE(contains(validate_change(a, b), "admin_http.password_hash: changing"));
}

// config show (and the admin page) print "***" for passwords; sending that back keeps them.
TEST(Config, MaskedSecretsSentBackKeepTheRunningOnes) {
  auto hash = password::make_hash("pw", 1000);
  auto running = parse_config(minimal_proxy + R"(
    sip_proxy { username: "u" password: "secret" ip: "192.0.2.1" transport: TCP incoming { bind_ip: "127.0.0.1" } }
    admin_http { port: 8080 password_hash: ")" + hash + R"(" })", "a").config;
  auto shown = to_masked_text(running);
  EXPECT_EQ(shown.find("secret"), std::string::npos);
  EXPECT_EQ(shown.find(hash), std::string::npos);
  auto back = parse_config(shown, "shown", &running);
  ASSERT_TRUE(back.ok()) << back.errors.front();
  EXPECT_EQ(back.config.sip_proxy().password(), "secret");
  EXPECT_EQ(back.config.admin_http().password_hash(), hash);
  EXPECT_TRUE(validate_change(running, back.config).empty());
  // Without the running config, "***" is taken as it is (and is no password hash).
  EXPECT_FALSE(parse_config(shown, "shown").ok());
}

TEST(Config, UnreadableFileIsAnError) {
  auto loaded = load_config_file("/nonexistent/fedgw.textproto");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.errors.front(), "/nonexistent/fedgw.textproto: cannot be read");
}

}  // namespace
}  // namespace fedgw::config
