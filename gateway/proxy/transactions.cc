#include "gateway/proxy/transactions.h"

namespace fedgw::proxy {

std::string follow_up_request(const sip::Message& invite, std::string_view method, std::string_view to) {
  std::string text = std::string(method) + " " + std::string(invite.request_uri()) + " SIP/2.0\r\n";
  text += "Via: " + std::string(invite.get_all("Via").front()) + "\r\n";
  for (auto route : invite.get_all("Route")) text += "Route: " + std::string(route) + "\r\n";
  text += "Max-Forwards: 70\r\n";
  text += "From: " + std::string(invite.get("From").value_or("")) + "\r\n";
  text += "To: " + std::string(to) + "\r\n";
  text += "Call-ID: " + std::string(invite.call_id()) + "\r\n";
  text += "CSeq: " + std::to_string(invite.cseq().number) + " " + std::string(method) + "\r\n";
  return text + "Content-Length: 0\r\n\r\n";
}

}  // namespace fedgw::proxy
