// The certificate manager actor: shared contexts, all-or-nothing reloads (command, config apply, file change),
// status-log entries.
#include "actors/cert_manager.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <thread>

#include <sys/stat.h>
#include <unistd.h>

#include "tests/gateway/tls/tls_test_support.h"

namespace fedgw {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using tls::testing::cert_path;

class CertManager : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fedgw-certmgr-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    log_ = spawn_status_log(system_, {1000, false});
  }

  void TearDown() override {
    for (auto& a : spawned_) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(log_, caf::exit_reason::user_shutdown);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Puts NAME.pem / NAME.key of the generated set in place of gw.pem / gw.key, each by an atomic rename.
  void install(const std::string& name) {
    for (const char* ext : {".pem", ".key"}) {
      fs::copy_file(cert_path(name + ext), dir_ + "/tmp" + ext, fs::copy_options::overwrite_existing);
      fs::rename(dir_ + "/tmp" + ext, dir_ + "/gw" + ext);
    }
  }

  config::Certificate files_config() {
    config::Certificate c;
    c.set_cert_file(dir_ + "/gw.pem");
    c.set_key_file(dir_ + "/gw.key");
    c.set_ca_bundle(cert_path("ca.pem"));
    return c;
  }

  cert_manager_actor spawn(std::chrono::milliseconds watch = 0ms, bool mutual_tls = true,
                           std::vector<std::string> domains = {},
                           std::optional<config::Certificate> certificate = std::nullopt,
                           config::Listener internal = {}) {
    cert_manager_options o;
    o.certificate = certificate ? *certificate : files_config();
    o.internal_listener = std::move(internal);
    o.log = log_;
    o.watch_interval = watch;
    o.mutual_tls = mutual_tls;
    o.domains = std::move(domains);
    auto a = spawn_cert_manager(system_, std::move(o));
    spawned_.push_back(caf::actor_cast<caf::actor>(a));
    return a;
  }

  template <class... Ts>
  tls::validation_result ask_result(const cert_manager_actor& cm, Ts&&... xs) {
    tls::validation_result out;
    self_->request(cm, 10s, std::forward<Ts>(xs)...)
      .receive([&](tls::validation_result& v) { out = std::move(v); },
               [&](caf::error& e) { ADD_FAILURE() << system_.render(e); });
    return out;
  }

  tls::contexts_ptr get(const cert_manager_actor& cm) {
    tls::contexts_ptr out;
    self_->request(cm, 10s, caf::get_atom::value)
      .receive([&](tls::contexts_ptr& p) { out = std::move(p); },
               [&](caf::error& e) { ADD_FAILURE() << system_.render(e); });
    return out;
  }

  std::vector<status_entry> log_entries() {
    std::vector<status_entry> out;
    self_->request(log_, 10s, caf::get_atom::value)
      .receive([&](std::vector<status_entry>& v) { out = std::move(v); },
               [&](caf::error& e) { ADD_FAILURE() << system_.render(e); });
    return out;
  }

  // The entry of component "cert" containing `part` at `level` (or any level when 0); empty text when none.
  std::string logged(const std::string& part, uint8_t level = 0) {
    for (const auto& e : log_entries())
      if (e.component == "cert" && e.text.find(part) != std::string::npos && (level == 0 || e.level == level))
        return e.text;
    return {};
  }

  std::string all_logged() {
    std::string out;
    for (const auto& e : log_entries()) out += format_status_line(e) + "\n";
    return out;
  }

  // Polls until pred() holds or the deadline passes (the sleep is the poll step,
  // not a fixed wait: a condition that holds returns at once).
  template <class Pred>
  bool eventually(Pred pred, std::chrono::milliseconds deadline = 8s) {
    auto end = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < end) {
      if (pred()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return pred();
  }

  std::string dir_;
  caf::actor_system_config config_;
  caf::actor_system system_{config_};
  caf::scoped_actor self_{system_};
  status_log_actor log_;
  std::vector<caf::actor> spawned_;
};

constexpr uint8_t error_level = static_cast<uint8_t>(severity::error);
constexpr uint8_t warning_level = static_cast<uint8_t>(severity::warning);

TEST_F(CertManager, LoadsAtStartupAndSharesOneContextsObject) {
  install("good");
  auto cm = spawn();
  auto a = get(cm);
  ASSERT_NE(a, nullptr) << all_logged();
  auto b = get(cm);
  EXPECT_EQ(a.get(), b.get()) << "contexts are shared, not copied";
  EXPECT_EQ(a->generation(), 1u);
  EXPECT_EQ(a->certificate().subject, "CN=gw.a.test,O=fedgw test");
  auto status = ask_result(cm, status_atom::value);
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.fingerprint, a->certificate().fingerprint);
  EXPECT_NE(logged("startup: certificate \"CN=gw.a.test,O=fedgw test\" (sha256 "), "") << all_logged();
  // One entry for a good certificate: the details are in the status reply (fedctl cert), not the log.
  EXPECT_TRUE(status.has_problem(tls::level::info, "certificate chain verified: ")) << status.to_text();
  size_t entries = 0;
  for (const auto& e : log_entries()) entries += e.component == "cert";
  EXPECT_EQ(entries, 1u) << all_logged();
}

// One status entry per attempt naming every problem, so that the 30-entry window stays useful.
TEST_F(CertManager, OneStatusLogEntryPerAttemptNamesEveryProblem) {
  install("noclient");
  auto cfg = files_config();
  cfg.set_require_client_auth_eku(true);
  auto cm = spawn(0ms, true, {"a.test", "c.test"}, cfg);
  EXPECT_EQ(get(cm), nullptr);
  const std::string lacks = "certificate lacks the clientAuth extended key usage needed for mutual TLS "
                            "(certificate.require_client_auth_eku is set)";
  auto entry = logged("startup: certificate from " + dir_ + "/gw.pem + " + dir_ + "/gw.key refused (1 error: " +
                          lacks + "); also: ",
                      error_level);
  EXPECT_NE(entry.find("certificate does not cover the served domain c.test"), std::string::npos) << all_logged();
  EXPECT_NE(entry.find("; no certificate is in use: TLS connections are not possible"), std::string::npos) << entry;
  size_t entries = 0;
  for (const auto& e : log_entries()) entries += e.component == "cert";
  EXPECT_EQ(entries, 1u) << all_logged();
  auto status = ask_result(cm, status_atom::value);
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(status.has_problem(tls::level::error, "clientAuth"));
}

TEST_F(CertManager, ServerAuthOnlyCertificateIsUsedWithAWarning) {
  install("noclient");
  auto cm = spawn();
  auto ctx = get(cm);
  ASSERT_NE(ctx, nullptr) << all_logged();
  // One entry: in use, with the warning.
  auto entry = logged("startup: certificate \"CN=noclient.a.test,O=fedgw test\"", warning_level);
  EXPECT_NE(entry.find("is now in use; needs attention: certificate lacks the clientAuth extended key usage: fedgw "
                       "accepts it for mutual TLS"),
            std::string::npos)
      << all_logged();
}

TEST_F(CertManager, WithoutMutualTlsServerAuthIsEnough) {
  install("noclient");
  auto cm = spawn(0ms, false);
  EXPECT_NE(get(cm), nullptr) << all_logged();
}

TEST_F(CertManager, BadConfigApplyIsRefusedAndOldContextsStay) {
  install("good");
  auto cm = spawn();
  auto before = get(cm);
  ASSERT_NE(before, nullptr);
  auto r = ask_result(cm, apply_atom::value, tls::testing::pem_config("expired"));
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.has_problem(tls::level::error, "certificate expired on 2021-01-01 00:00:00 UTC")) << r.to_text();
  EXPECT_EQ(get(cm).get(), before.get());
  EXPECT_NE(logged("config apply: certificate from " + cert_path("expired.pem") + " + " + cert_path("expired.key") +
                       " refused (1 error: certificate expired on 2021-01-01 00:00:00 UTC",
                   error_level),
            "")
      << all_logged();
  EXPECT_NE(logged("; keeping the certificate in use \"CN=gw.a.test,O=fedgw test\""), "") << all_logged();
  // The config in use did not change: a reload still reads gw.pem.
  auto again = ask_result(cm, reload_atom::value);
  EXPECT_TRUE(again.ok()) << again.to_text();
  EXPECT_EQ(again.subject, "CN=gw.a.test,O=fedgw test");

  // A good new section is applied.
  auto p12 = config::Certificate{};
  p12.set_pkcs12_file(cert_path("good.p12"));
  p12.set_pkcs12_password("secret");
  p12.set_ca_bundle(cert_path("ca.pem"));
  auto ok = ask_result(cm, apply_atom::value, p12);
  EXPECT_TRUE(ok.ok()) << ok.to_text();
  auto after = get(cm);
  ASSERT_NE(after, nullptr);
  EXPECT_NE(after.get(), before.get());
  EXPECT_EQ(after->certificate().source, cert_path("good.p12"));
}

TEST_F(CertManager, CheckValidatesWithoutChangingAnything) {
  install("good");
  auto cm = spawn();
  auto before = get(cm);
  auto entries = log_entries().size();
  auto r = ask_result(cm, check_atom::value, tls::testing::pem_config("wrongkey"));
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.has_problem(tls::level::error, "private key does not match the certificate"));
  EXPECT_TRUE(ask_result(cm, check_atom::value, tls::testing::pem_config("peer")).ok());
  EXPECT_EQ(get(cm).get(), before.get());
  EXPECT_EQ(log_entries().size(), entries);
}

TEST_F(CertManager, ReloadKeepsEstablishedConnectionsAndRefusesBadCertificate) {
  install("good");
  auto cm = spawn();
  auto old_ctx = get(cm);
  ASSERT_NE(old_ctx, nullptr);
  auto peer = tls::build_contexts(tls::testing::pem_config("peer"), {}, 1).contexts;
  ASSERT_NE(peer, nullptr);
  // An established connection on the old contexts.
  auto conn = tls::testing::handshake(peer->new_client_session("a.test"), old_ctx->new_server_session());
  ASSERT_TRUE(conn.client_ok && conn.server_ok) << conn.client_error << conn.server_error;

  // Bad files: refused, the old contexts stay in use.
  install("wrongkey");
  auto bad = ask_result(cm, reload_atom::value);
  EXPECT_FALSE(bad.ok());
  EXPECT_TRUE(bad.has_problem(tls::level::error, "private key does not match the certificate")) << bad.to_text();
  EXPECT_EQ(get(cm).get(), old_ctx.get());
  EXPECT_NE(logged("reload: certificate from " + dir_ + "/gw.pem + " + dir_ +
                   "/gw.key refused (1 error: private key does not match the certificate"),
            "")
      << all_logged();

  // Good new files: new contexts for new connections.
  install("peer");
  auto good = ask_result(cm, reload_atom::value);
  EXPECT_TRUE(good.ok()) << good.to_text();
  auto new_ctx = get(cm);
  ASSERT_NE(new_ctx, nullptr);
  EXPECT_NE(new_ctx.get(), old_ctx.get());
  EXPECT_EQ(new_ctx->generation(), 2u);
  EXPECT_EQ(new_ctx->certificate().subject, "CN=gw.b.test,O=fedgw test");
  EXPECT_NE(logged("reload: certificate \"CN=gw.b.test,O=fedgw test\""), "") << all_logged();
  EXPECT_NE(logged("replacing \"CN=gw.a.test,O=fedgw test\""), "") << all_logged();

  // The old contexts are still fully usable by whoever holds them ...
  auto late = tls::testing::handshake(peer->new_client_session("a.test"), old_ctx->new_server_session());
  EXPECT_TRUE(late.client_ok && late.server_ok) << late.client_error << late.server_error;
  // ... and the established connection survives even when the last reference to them goes away.
  std::weak_ptr<const tls::tls_contexts> weak = old_ctx;
  old_ctx.reset();
  EXPECT_TRUE(weak.expired()) << "the manager must not keep old contexts";
  ASSERT_EQ(SSL_write(conn.client.get(), "after reload", 12), 12);
  char buf[32];
  int n = SSL_read(conn.server.get(), buf, sizeof buf);
  ASSERT_EQ(n, 12);
  EXPECT_EQ(std::string(buf, 12), "after reload");
  // New connections present the new certificate.
  auto fresh = tls::testing::handshake(peer->new_client_session("b.test"), new_ctx->new_server_session());
  ASSERT_TRUE(fresh.client_ok) << fresh.client_error;
  EXPECT_TRUE(peer->check_peer(fresh.client.get(), "b.test").ok);
}

TEST_F(CertManager, StartsWithoutCertificateUntilFixed) {
  install("selfsigned");
  auto cm = spawn();
  EXPECT_EQ(get(cm), nullptr);
  auto status = ask_result(cm, status_atom::value);
  EXPECT_TRUE(status.has_problem(tls::level::error, "self-signed certificates are refused for federation"));
  EXPECT_NE(logged("certificate is self-signed", error_level), "") << all_logged();
  install("good");
  EXPECT_TRUE(ask_result(cm, reload_atom::value).ok());
  auto ctx = get(cm);
  ASSERT_NE(ctx, nullptr);
  EXPECT_EQ(ctx->generation(), 1u);
}

TEST_F(CertManager, FileChangesAreDetected) {
  install("good");
  auto cm = spawn(1s);
  auto first = get(cm);
  ASSERT_NE(first, nullptr);
  install("peer");
  ASSERT_TRUE(eventually([&] {
    auto c = get(cm);
    return c && c->generation() == 2;
  })) << all_logged();
  auto second = get(cm);
  EXPECT_EQ(second->certificate().subject, "CN=gw.b.test,O=fedgw test");
  EXPECT_NE(logged("certificate files changed: certificate \"CN=gw.b.test,O=fedgw test\""), "") << all_logged();

  // A bad replacement is refused and logged; the current contexts stay.
  install("expired");
  ASSERT_TRUE(eventually([&] { return !logged("certificate files changed: certificate from").empty(); }))
      << all_logged();
  EXPECT_NE(logged("refused (1 error: certificate expired on 2021-01-01 00:00:00 UTC"), "") << all_logged();
  EXPECT_EQ(get(cm).get(), second.get());
  EXPECT_EQ(ask_result(cm, status_atom::value).fingerprint, second->certificate().fingerprint);
}

TEST_F(CertManager, FifoIsRefusedPromptlyAndTheManagerKeepsAnswering) {
  install("good");
  auto cm = spawn();
  auto before = get(cm);
  ASSERT_NE(before, nullptr);
  auto fifo = dir_ + "/fifo.pem";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto cfg = files_config();
  cfg.set_cert_file(fifo);
  // Each request has a 10 s deadline: a manager blocked on the FIFO fails the test instead of hanging it.
  auto start = std::chrono::steady_clock::now();
  auto r = ask_result(cm, apply_atom::value, cfg);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.has_problem(tls::level::error, "certificate.cert_file: " + fifo + " is a FIFO, not a regular file"))
      << r.to_text();
  auto checked = ask_result(cm, check_atom::value, cfg);
  EXPECT_TRUE(checked.has_problem(tls::level::error, "certificate.cert_file: " + fifo + " is a FIFO")) << checked.to_text();
  // Still alive, still serving the certificate in use.
  EXPECT_EQ(get(cm).get(), before.get());
  EXPECT_TRUE(ask_result(cm, status_atom::value).ok());
  EXPECT_TRUE(ask_result(cm, reload_atom::value).ok());
}

config::Listener internal_mtls(const std::string& ca_bundle, const std::vector<std::string>& names) {
  config::Listener l;
  l.set_bind_ip("127.0.0.1");
  l.set_transport(config::MTLS);
  l.set_ca_bundle(ca_bundle);
  for (const auto& n : names) l.add_peer_names(n);
  return l;
}

TEST_F(CertManager, InternalListenerCaBundleAndNamesAreAppliedTogether) {
  install("good");
  auto cm = spawn(0ms, true, {}, std::nullopt, internal_mtls(cert_path("uc_ca.pem"), {"uc.internal"}));
  auto first = get(cm);
  ASSERT_NE(first, nullptr) << all_logged();
  auto uc = tls::testing::raw_contexts("uc");
  auto o = tls::testing::handshake(uc->new_client_session("a.test"), first->new_internal_server_session());
  ASSERT_TRUE(o.server_ok) << o.server_error;
  EXPECT_TRUE(first->check_internal_peer(o.server.get()).ok);

  // Another name pinned: the same UC server is refused on new connections.
  auto r = ask_result(cm, apply_atom::value, files_config(), internal_mtls(cert_path("uc_ca.pem"), {"uc9.internal"}));
  EXPECT_TRUE(r.ok()) << r.to_text();
  auto second = get(cm);
  ASSERT_NE(second, nullptr);
  EXPECT_NE(second.get(), first.get());
  auto p = tls::testing::handshake(uc->new_client_session("a.test"), second->new_internal_server_session());
  ASSERT_TRUE(p.server_ok) << p.server_error;
  auto id = second->check_internal_peer(p.server.get());
  EXPECT_FALSE(id.ok);
  EXPECT_NE(id.reason.find("is not one of internal_listener.peer_names (uc9.internal)"), std::string::npos) << id.reason;

  // A missing internal CA bundle refuses the whole apply; the contexts in use stay.
  auto bad = ask_result(cm, apply_atom::value, files_config(), internal_mtls(dir_ + "/nope.pem", {}));
  EXPECT_FALSE(bad.ok());
  EXPECT_TRUE(bad.has_problem(tls::level::error, "cannot read internal_listener.ca_bundle " + dir_ + "/nope.pem"))
      << bad.to_text();
  EXPECT_EQ(get(cm).get(), second.get());

  // MTLS that would accept any trusted certificate as the UC server: a warning.
  auto open = ask_result(cm, check_atom::value, files_config(), internal_mtls("", {}));
  EXPECT_TRUE(open.has_problem(tls::level::warning, "internal_listener: any client certificate the CA bundle " +
                                                        cert_path("ca.pem") + " (certificate.ca_bundle) trusts is "
                                                        "accepted as the UC server"))
      << open.to_text();
}

TEST_F(CertManager, ChangedCrlFileIsReloadedAndRevokesThePartner) {
  install("good");
  auto copy = [&](const std::string& crl) {
    fs::copy_file(cert_path(crl), dir_ + "/tmp.crl", fs::copy_options::overwrite_existing);
    fs::rename(dir_ + "/tmp.crl", dir_ + "/partners.crl");
  };
  copy("clean.crl.pem");
  auto cfg = files_config();
  cfg.add_crl_files(dir_ + "/partners.crl");
  auto cm = spawn(1s, true, {}, cfg);
  auto first = get(cm);
  ASSERT_NE(first, nullptr) << all_logged();
  auto partner = tls::testing::raw_contexts("revoked");
  auto o = tls::testing::handshake(partner->new_client_session("a.test"), first->new_server_session());
  EXPECT_TRUE(o.server_ok) << "not revoked yet: " << o.server_error;

  copy("inter.crl.pem");
  ASSERT_TRUE(eventually([&] {
    auto c = get(cm);
    return c && c->generation() == 2;
  })) << all_logged();
  EXPECT_NE(logged("certificate files changed: certificate \"CN=gw.a.test,O=fedgw test\""), "") << all_logged();
  auto p = tls::testing::handshake(partner->new_client_session("a.test"), get(cm)->new_server_session());
  EXPECT_FALSE(p.server_ok);
  EXPECT_NE(p.server_error.find("certificate revoked: the partner's certificate (serial "), std::string::npos)
      << p.server_error;
}

}  // namespace
}  // namespace fedgw
