// tls_stream: TLS over memory BIOs, driven the way a connection actor drives it,
// with bytes delivered in arbitrary chunks.
#include "gateway/tls/tls_stream.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include "gateway/tls/contexts.h"
#include "tests/gateway/tls/tls_test_support.h"

namespace fedgw::tls {
namespace {

using testing::pem_config;
using testing::raw_contexts;

contexts_ptr built(const std::string& name) {
  auto r = build_contexts(pem_config(name), {}, 1);
  EXPECT_NE(r.contexts, nullptr) << r.result.to_text();
  return r.contexts;
}

struct side {
  tls_stream stream;
  std::string plain;   // received application data
  std::string wire;    // bytes to deliver to the other side
  tls_stream::result last;
  bool established_event = false;
  explicit side(ssl_ptr s) : stream(std::move(s)) {}
};

// Delivers `from.wire` to `to` in chunks of `chunk` bytes.
void deliver(side& from, side& to, size_t chunk) {
  std::string wire;
  wire.swap(from.wire);
  for (size_t i = 0; i < wire.size(); i += chunk) {
    to.last = to.stream.receive(std::string_view(wire).substr(i, chunk), to.plain, to.wire);
    to.established_event |= to.last.handshake_completed;
    if (to.last.failed) return;
  }
}

void pump(side& client, side& server, size_t chunk) {
  for (int round = 0; round < 20 && (!client.wire.empty() || !server.wire.empty()); ++round) {
    deliver(client, server, chunk);
    deliver(server, client, chunk);
  }
}

TEST(TlsStream, MutualHandshakeAndDataInEveryChunkSize) {
  auto server_ctx = built("good");  // a.test
  auto client_ctx = built("peer");  // b.test
  ASSERT_TRUE(server_ctx && client_ctx);
  for (size_t chunk : {1u, 7u, 100u, 65536u}) {
    side client(client_ctx->new_client_session("a.test"));
    side server(server_ctx->new_server_session());
    // Sent before the handshake: held back, then delivered.
    ASSERT_FALSE(client.stream.send("MESSAGE early", client.wire).failed);
    ASSERT_FALSE(client.stream.start(client.wire).failed);
    pump(client, server, chunk);
    ASSERT_TRUE(client.stream.established()) << chunk;
    ASSERT_TRUE(server.stream.established()) << chunk;
    EXPECT_TRUE(client.established_event && server.established_event);
    EXPECT_EQ(server.plain, "MESSAGE early");
    EXPECT_EQ(client.stream.held_back_bytes(), 0u);
    std::string big(100000, 'x');
    ASSERT_FALSE(server.stream.send(big, server.wire).failed);
    pump(client, server, chunk);
    EXPECT_EQ(client.plain, big);
    EXPECT_TRUE(server_ctx->check_peer(server.stream.session(), "b.test").ok);
    EXPECT_EQ(client.stream.description().rfind("TLSv1.3 ", 0), 0u);
    client.stream.shutdown(client.wire);
    deliver(client, server, chunk);
    EXPECT_TRUE(server.last.peer_closed);
  }
}

// A client (b.test) and a server (a.test) whose mutual handshake has run.
struct handshaken {
  contexts_ptr server_ctx = built("good");
  contexts_ptr client_ctx = built("peer");
  side client{client_ctx->new_client_session("a.test")};
  side server{server_ctx->new_server_session()};
  handshaken() {
    EXPECT_FALSE(client.stream.start(client.wire).failed);
    pump(client, server, 65536);
  }
};

// Idle connections give their BIO buffers back (each keeps the capacity of the largest flight it held) and
// keep working afterwards.
TEST(TlsStream, ReleasedBuffersAreFreedAndTheSessionGoesOn) {
  handshaken pair;
  auto& [server_ctx, client_ctx, client, server] = pair;
  ASSERT_TRUE(server.stream.established());
  ASSERT_GT(server.stream.buffer_capacity(), 1000u);  // the certificate flight went through it
  server.stream.release_buffers();
  client.stream.release_buffers();
  EXPECT_EQ(server.stream.buffer_capacity(), 0u);
  EXPECT_EQ(client.stream.buffer_capacity(), 0u);
  ASSERT_FALSE(client.stream.send("OPTIONS after release", client.wire).failed);
  pump(client, server, 100);
  EXPECT_EQ(server.plain, "OPTIONS after release");
  ASSERT_FALSE(server.stream.send("SIP/2.0 200 OK", server.wire).failed);
  pump(client, server, 100);
  EXPECT_EQ(client.plain, "SIP/2.0 200 OK");
}

// The gateway offers no resumption: no ticket reaches the client (it would hold the client's certificate).
TEST(TlsStream, ServerIssuesNoSessionTicket) {
  handshaken pair;
  auto& [server_ctx, client_ctx, client, server] = pair;
  ASSERT_TRUE(client.stream.established() && server.stream.established());
  ASSERT_FALSE(server.stream.send("SIP/2.0 200 OK", server.wire).failed);
  pump(client, server, 65536);
  ASSERT_EQ(client.plain, "SIP/2.0 200 OK");
  // The client's record layer reads (and drops) any ticket after the handshake: it counted none.
  ASSERT_NE(client.stream.records(), nullptr);
  EXPECT_EQ(client.stream.records()->tickets_ignored(), 0u);
  SSL_SESSION* session = SSL_get_session(client.stream.session());
  ASSERT_NE(session, nullptr);
  EXPECT_EQ(SSL_SESSION_has_ticket(session), 0);
  EXPECT_EQ(SSL_SESSION_is_resumable(session), 0);
}

TEST(TlsStream, UntrustedPeerFailsWithReasonAndAlert) {
  auto server_ctx = raw_contexts("untrusted");  // issued by a CA nobody trusts
  auto client_ctx = built("peer");
  ASSERT_TRUE(server_ctx && client_ctx);
  side client(client_ctx->new_client_session("a.test"));
  side server(server_ctx->new_server_session());
  client.stream.start(client.wire);
  deliver(client, server, 65536);
  deliver(server, client, 65536);
  ASSERT_TRUE(client.last.failed);
  EXPECT_NE(client.last.error.find("certificate verif"), std::string::npos) << client.last.error;
  EXPECT_FALSE(client.wire.empty());  // the alert for the server
  deliver(client, server, 65536);
  EXPECT_TRUE(server.last.failed);
  EXPECT_TRUE(client.stream.send("x", client.wire).failed);
}

TEST(TlsStream, GarbageIsAFailureNotACrash) {
  auto server_ctx = built("good");
  side server(server_ctx->new_server_session());
  std::string plain, out;
  auto r = server.stream.receive("INVITE sip:bob@b.test SIP/2.0\r\n\r\n", plain, out);
  EXPECT_TRUE(r.failed);
  EXPECT_FALSE(r.error.empty());
  EXPECT_TRUE(plain.empty());
}

}  // namespace
}  // namespace fedgw::tls

