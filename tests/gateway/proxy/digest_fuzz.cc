// libFuzzer target: a challenge value from the proxy (hostile input) -> parse_challenge; when it parses, the
// answer built from it must read back with the same realm, nonce and opaque (quoting round trip).
#include <cstdlib>
#include <string>

#include "gateway/proxy/digest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedgw::proxy::digest;
  std::string value(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto c = parse_challenge(value, error);
  if (!c) {
    if (error.empty()) std::abort();  // every refusal says why
    return 0;
  }
  auto answer = authorization(*c, {"gw", "secret"}, "REGISTER", "sip:proxy.test", 1, "0123");
  auto back = parse_challenge(answer, error);
  if (!back || back->realm != c->realm || back->nonce != c->nonce || back->opaque != c->opaque ||
      back->alg != c->alg || back->session != c->session)
    std::abort();
  return 0;
}
