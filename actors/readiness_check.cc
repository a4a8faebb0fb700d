#include "actors/readiness_check.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "gateway/config/config.h"
#include "gateway/net/interfaces.h"

namespace fedgw {

namespace {

struct pending_check {
  tls::validation_result certificate;
  std::vector<dns::resolution> resolutions;
  size_t outstanding = 0;
};

std::string seconds_text(std::chrono::milliseconds ms) {
  auto tenths = (ms.count() + 99) / 100;
  return std::to_string(tenths / 10) + (tenths % 10 ? "." + std::to_string(tenths % 10) : "") + " s";
}

readiness_check_actor::behavior_type
readiness_impl(readiness_check_actor::pointer self, config::Config config, cert_manager_actor certificates,
               dns_resolver_actor dns, std::chrono::milliseconds budget,
               std::optional<readiness::proxy_session_view> proxy) {
  return {
    [=](readiness_atom) -> caf::result<readiness::report> {
      auto promise = self->make_response_promise<readiness::report>();
      // Every ask gets what is left of the budget, so the report is never late.
      auto deadline = std::chrono::steady_clock::now() + budget;
      auto left = [deadline] {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        return std::max(ms, std::chrono::milliseconds(1));
      };
      auto finish = [=](const pending_check& p) mutable {
        promise.deliver(readiness::analyze(config, p.certificate, p.resolutions, net::is_local_address, proxy));
        self->quit();
      };
      self->request(certificates, std::min(left(), config::certificate_budget), status_atom::value)
        .then(
          [=](tls::validation_result& certificate) mutable {
            auto names = readiness::names_to_check(certificate);
            auto p = std::make_shared<pending_check>();
            p->certificate = std::move(certificate);
            p->outstanding = names.size();
            if (names.empty()) return finish(*p);
            for (const auto& name : names) {
              auto done = [=](dns::resolution r) mutable {
                p->resolutions.push_back(std::move(r));
                if (--p->outstanding == 0) finish(*p);
              };
              self->request(dns, left(), resolve_atom::value, name)
                .then(done, [=](const caf::error& e) mutable {
                  dns::resolution failed;
                  failed.domain = name;
                  failed.error = e == caf::sec::request_timeout
                                   ? "DNS: " + name + ": no answer within the check's " + seconds_text(budget) +
                                       " (dns.timeout_ms x tries x servers for each question)"
                                   : "DNS resolver did not answer: " + self->system().render(e);
                  done(std::move(failed));
                });
            }
          },
          [=](const caf::error& e) mutable {
            readiness::report failed;
            failed.problems.push_back(e == caf::sec::request_timeout
                                        ? "the certificate manager did not answer within " +
                                            seconds_text(std::min(budget, config::certificate_budget))
                                        : "the certificate manager did not answer: " + self->system().render(e));
            failed.lines = failed.problems;
            promise.deliver(std::move(failed));
            self->quit();
          });
      return promise;
    },
  };
}

}  // namespace

readiness_check_actor spawn_readiness_check(caf::actor_system& system, config::Config config,
                                            cert_manager_actor certificates, dns_resolver_actor dns,
                                            std::chrono::milliseconds budget,
                                            std::optional<readiness::proxy_session_view> proxy) {
  return system.spawn(readiness_impl, std::move(config), std::move(certificates), std::move(dns), budget,
                      std::move(proxy));
}

}  // namespace fedgw
