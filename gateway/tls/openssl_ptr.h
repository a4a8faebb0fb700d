// Owning smart pointers for OpenSSL objects.
#pragma once

#include <memory>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace fedgw::tls {

template <class T, void (*Free)(T*)>
struct openssl_deleter {
  void operator()(T* p) const noexcept { Free(p); }
};

using x509_ptr = std::unique_ptr<X509, openssl_deleter<X509, X509_free>>;
using crl_ptr = std::unique_ptr<X509_CRL, openssl_deleter<X509_CRL, X509_CRL_free>>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_deleter<EVP_PKEY, EVP_PKEY_free>>;
using store_ptr = std::unique_ptr<X509_STORE, openssl_deleter<X509_STORE, X509_STORE_free>>;
using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, openssl_deleter<SSL_CTX, SSL_CTX_free>>;
using ssl_ptr = std::unique_ptr<SSL, openssl_deleter<SSL, SSL_free>>;
using bio_ptr = std::unique_ptr<BIO, openssl_deleter<BIO, BIO_free_all>>;

// Takes a new reference to `x` (X509_up_ref) and owns it.
inline x509_ptr share(X509* x) {
  if (x) X509_up_ref(x);
  return x509_ptr{x};
}

}  // namespace fedgw::tls
