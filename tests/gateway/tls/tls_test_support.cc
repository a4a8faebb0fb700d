#include "tests/gateway/tls/tls_test_support.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <openssl/err.h>

namespace fedgw::tls::testing {

namespace {

std::string& dir_storage() {
  static std::string dir;
  return dir;
}

// Generated on first use, so test programs that link this but run a test without certificates
// (gtest_discover_tests runs one process per test) do not pay for make_test_certs.sh.
const std::string& generated_dir() {
  static const bool generated = [] {
    char tmpl[] = "/tmp/fedgw-tls-test-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      ADD_FAILURE() << "mkdtemp failed";
      return false;
    }
    dir_storage() = tmpl;
    run(std::string("sh ") + FEDGW_TLS_TEST_SCRIPT + " " + dir_storage() + " 2>&1");
    return true;
  }();
  (void)generated;
  return dir_storage();
}

class cert_environment : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code ec;
    if (!dir_storage().empty()) std::filesystem::remove_all(dir_storage(), ec);
  }
};

[[maybe_unused]] ::testing::Environment* const environment =
    ::testing::AddGlobalTestEnvironment(new cert_environment);

}  // namespace

const std::string& cert_dir() { return generated_dir(); }

std::string cert_path(const std::string& file) { return cert_dir() + "/" + file; }

config::Certificate pem_config(const std::string& name) {
  config::Certificate c;
  c.set_cert_file(cert_path(name + ".pem"));
  c.set_key_file(cert_path(name + ".key"));
  c.set_ca_bundle(cert_path("ca.pem"));
  return c;
}

contexts_ptr raw_contexts(const std::string& name) {
  auto loaded = load_credentials(pem_config(name));
  EXPECT_TRUE(loaded.creds.has_value()) << name;
  if (!loaded.creds) return nullptr;
  auto v = validate(*loaded.creds, {});
  std::string error;
  auto ctx = make_contexts(*loaded.creds, v, false, 1, &error);
  EXPECT_NE(ctx, nullptr) << error;
  return ctx;
}

contexts_ptr built_contexts(const config::Certificate& cfg, const config::Listener* internal) {
  auto r = build_contexts(cfg, options_for(cfg), 1, internal);
  EXPECT_NE(r.contexts, nullptr) << r.result.to_text();
  return r.contexts;
}

std::string run(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (!p) {
    ADD_FAILURE() << "cannot run " << command;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  EXPECT_EQ(rc, 0) << command << " failed:\n" << out;
  return out;
}

handshake_outcome handshake(ssl_ptr client, ssl_ptr server) {
  handshake_outcome o;
  BIO* a = nullptr;
  BIO* b = nullptr;
  BIO_new_bio_pair(&a, 0, &b, 0);
  SSL_set_bio(client.get(), a, a);
  SSL_set_bio(server.get(), b, b);
  bool client_failed = false, server_failed = false;
  auto step = [](SSL* ssl, bool& ok, bool& failed, std::string& error) {
    if (ok || failed) return;
    ERR_clear_error();
    int r = SSL_do_handshake(ssl);
    if (r == 1) {
      ok = true;
      return;
    }
    int e = SSL_get_error(ssl, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      failed = true;
      error = handshake_error(ssl, r);
    }
  };
  for (int round = 0; round < 20; ++round) {
    step(client.get(), o.client_ok, client_failed, o.client_error);
    step(server.get(), o.server_ok, server_failed, o.server_error);
    if ((o.client_ok || client_failed) && (o.server_ok || server_failed)) break;
  }
  if (o.client_ok) {
    // Application data: TLS 1.3 clients see a refused client certificate only now.
    ERR_clear_error();
    SSL_write(client.get(), "ping", 4);
    char buf[64];
    if (o.server_ok) {
      int n = SSL_read(server.get(), buf, sizeof buf);
      if (n > 0) o.received.assign(buf, static_cast<size_t>(n));
    }
    ERR_clear_error();
    int n = SSL_read(client.get(), buf, sizeof buf);
    if (n <= 0 && SSL_get_error(client.get(), n) != SSL_ERROR_WANT_READ) {
      o.client_ok = false;
      o.client_error = handshake_error(client.get(), n);
    }
  }
  o.client = std::move(client);
  o.server = std::move(server);
  return o;
}

}  // namespace fedgw::tls::testing
