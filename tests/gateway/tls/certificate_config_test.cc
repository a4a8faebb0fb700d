// Config validation of the certificate and internal-listener TLS fields (gateway/config/config.cc): CRL files,
// verify depth, paths that are not regular files, internal_listener.ca_bundle / .peer_names.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "gateway/config/config.h"
#include "tests/gateway/tls/tls_test_support.h"

namespace fedgw::config {
namespace {

using tls::testing::cert_path;

std::string base(const std::string& certificate, const std::string& internal) {
  return "mode: DIRECT\ndomains: \"a.test\"\ncertificate { cert_file: \"" + cert_path("good.pem") +
         "\" key_file: \"" + cert_path("good.key") + "\" " + certificate + " }\ninternal_listener { bind_ip: "
         "\"127.0.0.1\" " + internal + " }\n";
}

bool has(const std::vector<std::string>& errors, const std::string& text) {
  return std::any_of(errors.begin(), errors.end(), [&](const std::string& e) { return e == text; });
}

std::string all(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += e + "\n";
  return out;
}

TEST(CertificateConfig, NewFieldsAndDefaults) {
  auto loaded = parse_config(base("crl_files: \"" + cert_path("inter.crl.pem") + "\" require_client_auth_eku: true",
                                  "transport: MTLS ca_bundle: \"" + cert_path("uc_ca.pem") +
                                      "\" peer_names: \"uc.internal\""),
                             "t");
  ASSERT_TRUE(loaded.ok()) << all(loaded.errors);
  EXPECT_EQ(loaded.config.certificate().verify_depth(), 5u);
  EXPECT_TRUE(loaded.config.certificate().require_client_auth_eku());
  EXPECT_EQ(loaded.config.internal_listener().peer_names(0), "uc.internal");
}

TEST(CertificateConfig, VerifyDepthRange) {
  for (const char* bad : {"0", "11"}) {
    auto loaded = parse_config(base(std::string("verify_depth: ") + bad, ""), "t");
    EXPECT_TRUE(has(loaded.errors, std::string("certificate.verify_depth: ") + bad + " is out of range (1..10)"))
        << all(loaded.errors);
  }
  EXPECT_TRUE(parse_config(base("verify_depth: 10", ""), "t").ok());
}

TEST(CertificateConfig, PathsThatAreNotRegularFilesAreRefusedWithoutOpening) {
  auto fifo = cert_path("config-fifo.pem");
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto text = "mode: DIRECT\ndomains: \"a.test\"\ncertificate { cert_file: \"" + fifo + "\" key_file: \"" +
              tls::testing::cert_dir() + "\" ca_bundle: \"/dev/zero\" crl_files: \"" + fifo +
              "\" }\ninternal_listener { bind_ip: \"127.0.0.1\" transport: MTLS ca_bundle: \"" + fifo + "\" }\n";
  // On its own thread: opening the FIFO would block the check forever.
  auto done = std::make_shared<std::promise<load_result>>();
  auto future = done->get_future();
  std::thread([text, done] { done->set_value(parse_config(text, "t")); }).detach();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready) << "blocked on the FIFO";
  auto errors = future.get().errors;
  EXPECT_TRUE(has(errors, "certificate.cert_file: " + fifo + " is a FIFO, not a regular file")) << all(errors);
  EXPECT_TRUE(has(errors, "certificate.key_file: " + tls::testing::cert_dir() + " is a directory, not a regular file"))
      << all(errors);
  EXPECT_TRUE(has(errors, "certificate.ca_bundle: /dev/zero is a character device, not a regular file"))
      << all(errors);
  EXPECT_TRUE(has(errors, "certificate.crl_files[0]: " + fifo + " is a FIFO, not a regular file")) << all(errors);
  EXPECT_TRUE(has(errors, "internal_listener.ca_bundle: " + fifo + " is a FIFO, not a regular file")) << all(errors);
  ::unlink(fifo.c_str());
}

TEST(CertificateConfig, InternalListenerIdentityFields) {
  // Only the internal listener has a UC server to pin.
  auto loaded = parse_config(base("", "transport: MTLS") + "federation_listener { bind_ip: \"127.0.0.1\" ca_bundle: \"" +
                                 cert_path("uc_ca.pem") + "\" peer_names: \"x.test\" }\n",
                             "t");
  EXPECT_TRUE(has(loaded.errors, "federation_listener.ca_bundle: is only used on internal_listener"))
      << all(loaded.errors);
  EXPECT_TRUE(has(loaded.errors, "federation_listener.peer_names: is only used on internal_listener"))
      << all(loaded.errors);

  // Plain TCP asks for no certificate: the fields would silently do nothing.
  loaded = parse_config(base("", "transport: TCP peer_names: \"uc.internal\""), "t");
  EXPECT_TRUE(has(loaded.errors, "internal_listener.peer_names: needs client certificates: transport TCP does not ask "
                                 "for one (use MTLS, or TLS with request_client_cert)"))
      << all(loaded.errors);
  EXPECT_TRUE(parse_config(base("", "transport: TLS request_client_cert: true peer_names: \"uc.internal\""), "t").ok());

  loaded = parse_config(base("", "transport: MTLS peer_names: \"*.internal\" peer_names: \"\""), "t");
  EXPECT_TRUE(has(loaded.errors, "internal_listener.peer_names[0]: \"*.internal\": wildcards are not accepted, exact "
                                 "names only"))
      << all(loaded.errors);
  EXPECT_TRUE(has(loaded.errors, "internal_listener.peer_names[1]: \"\" is not a certificate name"))
      << all(loaded.errors);

  loaded = parse_config(base("", "transport: MTLS ca_bundle: \"" + cert_path("nope.pem") + "\""), "t");
  EXPECT_TRUE(has(loaded.errors, "internal_listener.ca_bundle: \"" + cert_path("nope.pem") + "\" cannot be read"))
      << all(loaded.errors);
}

}  // namespace
}  // namespace fedgw::config
