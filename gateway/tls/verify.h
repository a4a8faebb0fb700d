// Peer certificate verification during the handshake: which failures are forgiven (a serverAuth-only client
// certificate, a CA without a configured CRL), and the first real failure recorded on the SSL object so that
// describe_verify_failure() can word it for an operator.
#pragma once

#include <string>

#include <openssl/ssl.h>

namespace fedgw::tls {

// Verify callbacks for SSL_CTX_set_verify / SSL_set_verify. Both forgive X509_V_ERR_UNABLE_TO_GET_CRL (a CA
// with no CRL in certificate.crl_files is not checked for revocation) and record the first failure.
//
// verify_either_purpose is for the server role while certificate.require_client_auth_eku is unset: a client
// certificate, or a CA in its chain, whose extended key usage allows serverAuth but not clientAuth is accepted,
// because public CAs stopped putting clientAuth into server certificates (Let's Encrypt since 2026).
int verify_either_purpose(int ok, X509_STORE_CTX* ctx);
// The purpose set on the context (clientAuth or serverAuth) is required as is.
int verify_recording(int ok, X509_STORE_CTX* ctx);

// Why the peer's certificate was refused, for the log (one line, naming the presented certificate's subject and
// issuer); empty when the verification passed. Wording by cause: "the partner did not send its intermediate
// certificate" (the chain it sent ends at its own certificate, whose issuer we do not have), "issued by a CA we
// do not trust" (the chain ends at a CA or a root we do not trust), "lacks the clientAuth extended key usage",
// "expired on", "is not yet valid", "certificate revoked ... (serial ...)", CRL problems, chain too long.
std::string describe_verify_failure(const SSL* ssl);

}  // namespace fedgw::tls
