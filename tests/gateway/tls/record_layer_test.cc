// The TLS 1.3 record layer (gateway/tls/record_layer): against real OpenSSL peers (the gateway's tls_stream on
// one side, a plain OpenSSL session on the other: every byte the layer seals OpenSSL must open and the
// reverse), and two layers back to back for what OpenSSL would never send.
#include "gateway/tls/record_layer.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "gateway/tls/contexts.h"
#include "gateway/tls/errors.h"
#include "gateway/tls/tls_stream.h"
#include "tests/gateway/tls/tls_test_support.h"

namespace fedgw::tls {
namespace {

contexts_ptr built(const std::string& name) { return testing::built_contexts(testing::pem_config(name)); }

// A session driven by OpenSSL alone (memory BIOs), as a partner's stack would be.
struct openssl_peer {
  ssl_ptr ssl;
  BIO* in = nullptr;
  BIO* out = nullptr;
  std::string plain;
  bool closed = false;
  bool failed = false;
  std::string error;

  explicit openssl_peer(ssl_ptr s) : ssl(std::move(s)) {
    in = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in, -1);
    out = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl.get(), in, out);
  }
  void feed(std::string& bytes) {
    if (!bytes.empty()) BIO_write(in, bytes.data(), static_cast<int>(bytes.size()));
    bytes.clear();
  }
  std::string take() {
    char* data = nullptr;
    long n = BIO_get_mem_data(out, &data);
    std::string bytes(data ? data : "", n > 0 ? static_cast<size_t>(n) : 0);
    (void)BIO_reset(out);
    return bytes;
  }
  void drive() {
    if (failed || closed) return;
    if (!SSL_is_init_finished(ssl.get())) {
      int rc = SSL_do_handshake(ssl.get());
      if (rc != 1) {
        int e = SSL_get_error(ssl.get(), rc);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
          failed = true;
          error = handshake_error(ssl.get(), rc);
        }
        return;
      }
    }
    char buffer[4096];
    for (;;) {
      int n = SSL_read(ssl.get(), buffer, sizeof buffer);
      if (n > 0) {
        plain.append(buffer, static_cast<size_t>(n));
        continue;
      }
      int e = SSL_get_error(ssl.get(), n);
      if (e == SSL_ERROR_ZERO_RETURN) closed = true;
      else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        failed = true;
        error = handshake_error(ssl.get(), n);
      }
      ERR_clear_error();
      return;
    }
  }
  void write(std::string_view s) {
    size_t written = 0;
    ASSERT_EQ(SSL_write_ex(ssl.get(), s.data(), s.size(), &written), 1);
    ASSERT_EQ(written, s.size());
  }
};

// The gateway's side: a tls_stream.
struct stream_side {
  tls_stream stream;
  std::string plain, wire;
  tls_stream::result last;
  explicit stream_side(ssl_ptr s) : stream(std::move(s)) {}
};

void exchange(stream_side& ours, openssl_peer& theirs, size_t chunk = 65536) {
  for (int round = 0; round < 20; ++round) {
    theirs.feed(ours.wire);
    theirs.drive();
    std::string bytes = theirs.take();
    if (bytes.empty() && ours.wire.empty()) return;
    for (size_t i = 0; i < bytes.size() && !ours.last.failed; i += chunk)
      ours.last = ours.stream.receive(std::string_view(bytes).substr(i, chunk), ours.plain, ours.wire);
  }
}

struct server_pair {
  contexts_ptr server_ctx = built("good");  // a.test, the gateway
  contexts_ptr client_ctx = built("peer");  // b.test, the partner
  stream_side gateway{server_ctx->new_server_session()};
  openssl_peer partner{client_ctx->new_client_session("a.test")};
};

TEST(RecordLayer, TakesOverAnEstablishedServerSessionAndOpenSslReadsIt) {
  for (size_t chunk : {1u, 5u, 6u, 333u, 65536u}) {
    server_pair p;
    p.partner.drive();  // ClientHello
    std::string hello = p.partner.take();
    p.gateway.last = p.gateway.stream.receive(hello, p.gateway.plain, p.gateway.wire);
    p.partner.feed(p.gateway.wire);  // the server's flight
    p.partner.drive();               // the client's Certificate ... Finished
    ASSERT_TRUE(SSL_is_init_finished(p.partner.ssl.get()));
    p.partner.write("MESSAGE sent with the Finished");
    std::string flight = p.partner.take();
    for (size_t i = 0; i < flight.size(); i += chunk)
      p.gateway.last = p.gateway.stream.receive(std::string_view(flight).substr(i, chunk), p.gateway.plain, p.gateway.wire);
    exchange(p.gateway, p.partner, chunk);
    ASSERT_TRUE(p.gateway.stream.established()) << chunk;
    ASSERT_NE(p.gateway.stream.records(), nullptr) << "a TLS 1.3 session moves to the record layer";
    EXPECT_EQ(p.gateway.plain, "MESSAGE sent with the Finished") << chunk;
    // Large writes are split into records of at most 16 KiB both ways.
    std::string big(100000, 'x');
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
    ASSERT_FALSE(p.gateway.stream.send(big, p.gateway.wire).failed);
    p.partner.write(big);
    p.gateway.plain.clear();
    exchange(p.gateway, p.partner, chunk);
    EXPECT_EQ(p.partner.plain.substr(p.partner.plain.size() - big.size()), big) << chunk;
    EXPECT_EQ(p.gateway.plain, big) << chunk;
    EXPECT_FALSE(p.partner.failed) << p.partner.error;
    EXPECT_GE(p.gateway.stream.records()->records_written(), 7u);
  }
}

TEST(RecordLayer, ReleasingFreesTheSslObjectAndKeepsThePeerCertificate) {
  server_pair p;
  p.partner.drive();
  exchange(p.gateway, p.partner);
  ASSERT_NE(p.gateway.stream.records(), nullptr);
  auto before = p.gateway.stream.peer_certificate();
  ASSERT_NE(before, nullptr);
  EXPECT_TRUE(p.server_ctx->check_peer(p.gateway.stream.session(), "b.test").ok);
  p.gateway.stream.release_buffers();
  EXPECT_EQ(p.gateway.stream.session(), nullptr);
  EXPECT_EQ(p.gateway.stream.buffer_capacity(), 0u);
  auto after = p.gateway.stream.peer_certificate();
  ASSERT_NE(after, nullptr);
  EXPECT_EQ(X509_cmp(before.get(), after.get()), 0);
  EXPECT_EQ(p.gateway.stream.description().rfind("TLSv1.3 TLS_", 0), 0u) << p.gateway.stream.description();
  // The session goes on without OpenSSL's object.
  p.partner.write("OPTIONS sip:a.test SIP/2.0\r\n\r\n");
  exchange(p.gateway, p.partner);
  EXPECT_EQ(p.gateway.plain, "OPTIONS sip:a.test SIP/2.0\r\n\r\n");
  ASSERT_FALSE(p.gateway.stream.send("SIP/2.0 200 OK\r\n\r\n", p.gateway.wire).failed);
  exchange(p.gateway, p.partner);
  EXPECT_EQ(p.partner.plain, "SIP/2.0 200 OK\r\n\r\n");
  p.gateway.stream.release_buffers();  // again: nothing left to free, still working
  ASSERT_FALSE(p.gateway.stream.send("again", p.gateway.wire).failed);
  exchange(p.gateway, p.partner);
  EXPECT_EQ(p.partner.plain, "SIP/2.0 200 OK\r\n\r\nagain");
}

// The partner asks for a key update: the layer moves to the next read keys, answers with its own, and both
// directions keep working (OpenSSL checks every record).
TEST(RecordLayer, KeyUpdateFromThePeerIsFollowedAndAnswered) {
  server_pair p;
  p.partner.drive();
  exchange(p.gateway, p.partner);
  p.gateway.stream.release_buffers();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(SSL_key_update(p.partner.ssl.get(), SSL_KEY_UPDATE_REQUESTED), 1);
    p.partner.write("after update " + std::to_string(i) + ";");
    exchange(p.gateway, p.partner);
    ASSERT_FALSE(p.gateway.last.failed) << p.gateway.last.error;
    ASSERT_FALSE(p.gateway.stream.send("reply " + std::to_string(i) + ";", p.gateway.wire).failed);
    exchange(p.gateway, p.partner);
    ASSERT_FALSE(p.partner.failed) << p.partner.error;
  }
  EXPECT_EQ(p.gateway.plain, "after update 0;after update 1;after update 2;");
  EXPECT_EQ(p.partner.plain, "reply 0;reply 1;reply 2;");
  EXPECT_EQ(p.gateway.stream.records()->key_updates_read(), 3u);
  // A key update of our own (not requested by the peer) is read by OpenSSL too.
  ASSERT_EQ(SSL_key_update(p.partner.ssl.get(), SSL_KEY_UPDATE_NOT_REQUESTED), 1);
  p.partner.write("x");
  exchange(p.gateway, p.partner);
  EXPECT_EQ(p.gateway.stream.records()->key_updates_read(), 4u);
  EXPECT_EQ(p.gateway.plain.back(), 'x');
}

// OpenSSL pads its records (RFC 8446 §5.4) when asked: the padding is removed.
TEST(RecordLayer, PaddedRecordsFromOpenSsl) {
  server_pair p;
  ASSERT_EQ(SSL_set_block_padding(p.partner.ssl.get(), 512), 1);
  p.partner.drive();
  exchange(p.gateway, p.partner);
  p.partner.write("MESSAGE");
  std::string wire = p.partner.take();
  EXPECT_GE(wire.size(), 512u);
  p.gateway.last = p.gateway.stream.receive(wire, p.gateway.plain, p.gateway.wire);
  ASSERT_FALSE(p.gateway.last.failed) << p.gateway.last.error;
  EXPECT_EQ(p.gateway.plain, "MESSAGE");
}

TEST(RecordLayer, CloseNotifyBothWays) {
  server_pair p;
  p.partner.drive();
  exchange(p.gateway, p.partner);
  p.gateway.stream.shutdown(p.gateway.wire);
  exchange(p.gateway, p.partner);
  EXPECT_TRUE(p.partner.closed);
  server_pair q;
  q.partner.drive();
  exchange(q.gateway, q.partner);
  q.partner.write("last words");
  ASSERT_EQ(SSL_shutdown(q.partner.ssl.get()), 0);
  exchange(q.gateway, q.partner);
  EXPECT_EQ(q.gateway.plain, "last words");
  EXPECT_TRUE(q.gateway.last.peer_closed);
}

TEST(RecordLayer, TamperedRecordFailsWithBadRecordMacAndAnAlert) {
  server_pair p;
  p.partner.drive();
  exchange(p.gateway, p.partner);
  p.partner.write("MESSAGE sip:bob@a.test SIP/2.0\r\n\r\n");
  std::string wire = p.partner.take();
  ASSERT_GT(wire.size(), 30u);
  wire[20] ^= 1;
  auto r = p.gateway.stream.receive(wire, p.gateway.plain, p.gateway.wire);
  ASSERT_TRUE(r.failed);
  EXPECT_NE(r.error.find("bad record MAC"), std::string::npos) << r.error;
  EXPECT_TRUE(p.gateway.plain.empty());
  p.partner.feed(p.gateway.wire);  // the alert
  p.partner.drive();
  EXPECT_TRUE(p.partner.failed);
  EXPECT_NE(p.partner.error.find("bad record mac"), std::string::npos) << p.partner.error;
  EXPECT_TRUE(p.gateway.stream.send("x", p.gateway.wire).failed);
}

// The gateway as the client of a partner whose server issues session tickets: they are read and dropped.
TEST(RecordLayer, ClientIgnoresSessionTicketsOfAPartner) {
  auto partner_ctx = built("peer");
  auto gateway_ctx = built("good");
  openssl_peer partner{partner_ctx->new_server_session()};
  SSL_clear_options(partner.ssl.get(), SSL_OP_NO_TICKET);
  SSL_set_num_tickets(partner.ssl.get(), 2);
  SSL_CTX_set_session_cache_mode(SSL_get_SSL_CTX(partner.ssl.get()), SSL_SESS_CACHE_SERVER);
  stream_side gateway{gateway_ctx->new_client_session("b.test")};
  ASSERT_FALSE(gateway.stream.start(gateway.wire).failed);
  exchange(gateway, partner);
  ASSERT_TRUE(gateway.stream.established());
  ASSERT_NE(gateway.stream.records(), nullptr);
  partner.write("SIP/2.0 200 OK\r\n\r\n");
  exchange(gateway, partner);
  EXPECT_EQ(gateway.plain, "SIP/2.0 200 OK\r\n\r\n");
  EXPECT_EQ(gateway.stream.records()->tickets_ignored(), 2u);
  ASSERT_FALSE(gateway.stream.send("ACK", gateway.wire).failed);
  exchange(gateway, partner);
  EXPECT_EQ(partner.plain, "ACK");
}

TEST(RecordLayer, EveryTls13SuiteInteroperates) {
  for (const char* suite : {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}) {
    server_pair p;
    ASSERT_EQ(SSL_set_ciphersuites(p.partner.ssl.get(), suite), 1);
    p.partner.drive();
    exchange(p.gateway, p.partner);
    ASSERT_NE(p.gateway.stream.records(), nullptr) << suite;
    EXPECT_NE(p.gateway.stream.description().find(suite), std::string::npos) << p.gateway.stream.description();
    p.gateway.stream.release_buffers();
    p.partner.write("ping");
    exchange(p.gateway, p.partner);
    ASSERT_FALSE(p.gateway.stream.send("pong", p.gateway.wire).failed);
    exchange(p.gateway, p.partner);
    EXPECT_EQ(p.gateway.plain, "ping") << suite;
    EXPECT_EQ(p.partner.plain, "pong") << suite;
  }
}

// TLS 1.2 stays with OpenSSL's own record layer.
TEST(RecordLayer, Tls12StaysWithOpenSsl) {
  server_pair p;
  ASSERT_EQ(SSL_set_max_proto_version(p.partner.ssl.get(), TLS1_2_VERSION), 1);
  p.partner.drive();
  exchange(p.gateway, p.partner);
  ASSERT_TRUE(p.gateway.stream.established());
  EXPECT_EQ(p.gateway.stream.records(), nullptr);
  p.gateway.stream.release_buffers();
  EXPECT_NE(p.gateway.stream.session(), nullptr);
  p.partner.write("ping");
  exchange(p.gateway, p.partner);
  EXPECT_EQ(p.gateway.plain, "ping");
  EXPECT_NE(p.gateway.stream.peer_certificate(), nullptr);
}

// Two layers back to back (the client's and the server's keys), for records OpenSSL would never send.
struct layer_pair {
  std::string client_secret = std::string(32, '\x11');
  std::string server_secret = std::string(32, '\x22');
  std::unique_ptr<record_layer> client = record_layer::create(0x1301, true, server_secret, client_secret);
  std::unique_ptr<record_layer> server = record_layer::create(0x1301, false, client_secret, server_secret);
  std::string plain, out;
  record_layer::result to_server(content_type type, std::string_view payload) {
    std::string wire;
    client->seal_record(type, payload, wire);
    return server->open(wire, plain, out);
  }
};

TEST(RecordLayer, RefusesWhatTls13ForbidsAfterTheHandshake) {
  {
    layer_pair l;
    ASSERT_TRUE(l.client && l.server);
    auto r = l.to_server(content_type::handshake, std::string("\x04\x00\x00\x01\x00", 5));
    EXPECT_TRUE(r.failed);
    EXPECT_NE(r.error.find("post-handshake message of type 4"), std::string::npos) << r.error;  // a ticket to a server
    EXPECT_FALSE(l.out.empty());  // the fatal alert
  }
  {
    layer_pair l;
    auto r = l.to_server(content_type::handshake, std::string("\x18\x00\x00\x01\x00\x18\x00\x00\x01\x00", 10));
    EXPECT_TRUE(r.failed);
    EXPECT_NE(r.error.find("not at the end of its record"), std::string::npos) << r.error;
  }
  {
    layer_pair l;
    auto r = l.to_server(content_type::handshake, std::string("\x18\x00\x00\x01\x02", 5));
    EXPECT_TRUE(r.failed);
    EXPECT_NE(r.error.find("request_update 2"), std::string::npos) << r.error;
  }
  {
    layer_pair l;  // half a handshake message, then application data
    EXPECT_FALSE(l.to_server(content_type::handshake, std::string("\x18\x00", 2)).failed);
    auto r = l.to_server(content_type::application_data, "x");
    EXPECT_TRUE(r.failed);
    EXPECT_NE(r.error.find("inside a handshake message"), std::string::npos) << r.error;
  }
  {
    layer_pair l;
    auto r = l.to_server(content_type::change_cipher_spec, "\x01");
    EXPECT_TRUE(r.failed);
    EXPECT_NE(r.error.find("protected record of type 20"), std::string::npos) << r.error;
  }
  {
    layer_pair l;  // an unprotected record (outer type handshake)
    std::string wire("\x16\x03\x03\x00\x05hello", 10);
    auto r = l.server->open(wire, l.plain, l.out);
    EXPECT_TRUE(r.failed);
    EXPECT_NE(r.error.find("record of type 22"), std::string::npos) << r.error;
  }
  {
    layer_pair l;  // announced longer than any record may be: refused before its bytes arrive
    std::string header("\x17\x03\x03\x48\x00", 5);
    auto r = l.server->open(header, l.plain, l.out);
    EXPECT_TRUE(r.failed);
    EXPECT_NE(r.error.find("18432 bytes"), std::string::npos) << r.error;
  }
  {
    layer_pair l;  // a fatal alert from the peer
    auto r = l.to_server(content_type::alert, std::string("\x02\x28", 2));
    EXPECT_TRUE(r.failed);
    EXPECT_NE(r.error.find("handshake failure"), std::string::npos) << r.error;
    EXPECT_TRUE(l.out.empty());  // nothing sent back
  }
  {
    layer_pair l;  // TLS 1.3's own alerts are named too (a refused client certificate arrives after the handshake)
    auto r = l.to_server(content_type::alert, std::string("\x02\x74", 2));
    EXPECT_EQ(r.error, "TLS alert from the peer: certificate required");
  }
  {
    layer_pair l;  // user_canceled is a warning; close_notify ends the stream and later bytes are ignored
    EXPECT_FALSE(l.to_server(content_type::alert, std::string("\x01\x5a", 2)).failed);
    std::string wire;
    l.client->seal_record(content_type::application_data, "before", wire);
    l.client->close_notify(wire);
    l.client->seal_record(content_type::application_data, "after", wire);
    auto r = l.server->open(wire, l.plain, l.out);
    EXPECT_FALSE(r.failed);
    EXPECT_TRUE(r.peer_closed);
    EXPECT_EQ(l.plain, "before");
  }
}

TEST(RecordLayer, PaddingAndEmptyRecordsAndEveryChunking) {
  layer_pair l;
  std::string wire;
  l.client->seal_record(content_type::application_data, "", wire);
  l.client->seal_record(content_type::application_data, std::string("abc\x17\x00\x00\x00", 7), wire);
  l.client->update_write_keys(false, wire);
  auto sealed = l.client->seal("after the key update", wire);
  ASSERT_FALSE(sealed.failed);
  for (size_t chunk = 1; chunk <= wire.size(); chunk += 7) {
    layer_pair m;
    std::string plain, out;
    for (size_t i = 0; i < wire.size(); i += chunk) {
      auto r = m.server->open(std::string_view(wire).substr(i, chunk), plain, out);
      ASSERT_FALSE(r.failed) << chunk << ": " << r.error;
    }
    // Zeros inside the content are content: only those after the inner type byte are padding.
    EXPECT_EQ(plain, std::string("abc\x17\x00\x00\x00", 7) + "after the key update") << chunk;
    EXPECT_EQ(m.server->key_updates_read(), 1u);
    EXPECT_EQ(m.server->records_read(), 4u);
    EXPECT_TRUE(out.empty());
  }
}

TEST(RecordLayer, UnknownSuitesAndWrongSecretsAreNotTakenOver) {
  EXPECT_EQ(record_layer::create(0x1304, false, std::string(32, 'a'), std::string(32, 'b')), nullptr);  // CCM
  EXPECT_EQ(record_layer::create(0x1302, false, std::string(32, 'a'), std::string(32, 'b')), nullptr);  // SHA-384: 48
  EXPECT_NE(record_layer::create(0x1302, false, std::string(48, 'a'), std::string(48, 'b')), nullptr);
}

}  // namespace
}  // namespace fedgw::tls
