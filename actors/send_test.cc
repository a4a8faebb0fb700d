#include "actors/send_test.h"

#include <chrono>

#include "actors/proxy_core.h"
#include "gateway/sip/response.h"

namespace fedgw {

namespace {

struct send_test_state {
  caf::response_promise promise;
  std::chrono::steady_clock::time_point started;
  bool done = false;
};

caf::behavior send_test_impl(caf::stateful_actor<send_test_state>* self, std::vector<proxy_core_actor> shards,
                             std::string from_domain, std::string to_domain) {
  return {
    [=](send_test_atom) {
      auto& st = self->state;
      st.promise = self->make_response_promise();
      st.started = std::chrono::steady_clock::now();
      auto call_id = "sendtest-" + sip::generate_tag() + "@" + from_domain;
      std::string text = "OPTIONS sip:" + to_domain + " SIP/2.0\r\n"
                         "Via: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK-test" + sip::generate_tag() + "\r\n"
                         "Max-Forwards: 70\r\n"
                         "From: <sip:fedgw@" + from_domain + ">;tag=" + sip::generate_tag() + "\r\n"
                         "To: <sip:" + to_domain + ">\r\n"
                         "Call-ID: " + call_id + "\r\n"
                         "CSeq: 1 OPTIONS\r\n"
                         "Accept: application/sdp\r\n"
                         "Content-Length: 0\r\n\r\n";
      auto request = sip::parse_message(text);
      if (!request) {
        st.promise.deliver(send_test_result{400, "cannot build the test request: " + request.error().message, 0});
        self->quit();
        return;
      }
      sip_origin origin{caf::actor_cast<response_sink>(self), proxy::side::internal, {}, "fedctl send-test"};
      auto shard = shards[shard_for_call(call_id, shards.size())];
      caf::anon_send(shard, request_atom::value, std::move(origin), std::move(*request));
    },
    [=](respond_atom, const std::string& wire) {
      auto& st = self->state;
      auto response = sip::parse_message(wire);
      if (!response || response->status_code() < 200 || st.done) return;
      st.done = true;
      auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - st.started).count();
      st.promise.deliver(send_test_result{response->status_code(), std::string(response->reason()), ms});
      self->quit();
    },
  };
}

}  // namespace

caf::actor spawn_send_test(caf::actor_system& system, std::vector<proxy_core_actor> shards, std::string from_domain,
                           std::string to_domain) {
  return system.spawn(send_test_impl, std::move(shards), std::move(from_domain), std::move(to_domain));
}

}  // namespace fedgw
