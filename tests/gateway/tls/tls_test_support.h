// Shared by the TLS tests: the generated test certificates (make_test_certs.sh, run on first use once per test
// process into a temporary directory, removed by a GoogleTest environment) and an in-memory TLS handshake driver.
#pragma once

#include <string>

#include "gateway/tls/contexts.h"
#include "proto/config.pb.h"

namespace fedgw::tls::testing {

// The directory holding the generated certificates (see make_test_certs.sh for the list).
const std::string& cert_dir();
std::string cert_path(const std::string& file);

// cert_file = NAME.pem, key_file = NAME.key, ca_bundle = ca.pem
config::Certificate pem_config(const std::string& name);
// Loads NAME.pem/NAME.key with ca.pem as trust and builds contexts without validating (may be bad on purpose).
contexts_ptr raw_contexts(const std::string& name);

// Validates and builds contexts as the certificate manager does (options from `cfg`); null when refused (the
// test fails then, with the validation text).
contexts_ptr built_contexts(const config::Certificate& cfg, const config::Listener* internal = nullptr);

// Runs a command, returns its stdout; fails the test when it exits non-zero.
std::string run(const std::string& command);

struct handshake_outcome {
  bool client_ok = false;
  bool server_ok = false;
  std::string client_error;  // handshake_error() of the side that failed
  std::string server_error;
  std::string received;      // what the server read from the client after the handshake
  ssl_ptr client;
  ssl_ptr server;
};

// Connects the two sessions by a BIO pair, runs the handshake to its end, then sends "ping" from the client to
// the server (in TLS 1.3 the client learns about a refused client certificate only there).
handshake_outcome handshake(ssl_ptr client, ssl_ptr server);

}  // namespace fedgw::tls::testing
