// The gateway the proxy-layer tests and proxy_fuzz route for: a.test, internal
// 127.0.0.1:5060 TCP, federation on 0.0.0.0:5061 MTLS named gw.a.test,
// blocked.test blocked, trusted.test trusted for RFC 3325 identities.
#pragma once

#include "proto/config.pb.h"

namespace fedgw::proxy::testing {

inline config::Config gateway_a() {
  config::Config c;
  c.set_mode(config::DIRECT);
  c.add_domains("a.test");
  auto* in = c.mutable_internal_listener();
  in->set_bind_ip("127.0.0.1");
  in->set_port(5060);
  in->set_transport(config::TCP);
  auto* fed = c.mutable_federation_listener();
  fed->set_bind_ip("0.0.0.0");
  fed->set_public_host("gw.a.test");
  fed->set_port(5061);
  fed->set_transport(config::MTLS);
  c.mutable_partners()->add_blocked("blocked.test");
  c.mutable_partners()->add_identity_trusted("trusted.test");
  return c;
}

}  // namespace fedgw::proxy::testing
