#include "actors/readiness_check.h"

#include <chrono>
#include <memory>

#include "gateway/net/interfaces.h"

namespace fedgw {

namespace {

constexpr auto ask_timeout = std::chrono::seconds(30);

struct pending_check {
  tls::validation_result certificate;
  std::vector<dns::resolution> resolutions;
  size_t outstanding = 0;
};

readiness_check_actor::behavior_type
readiness_impl(readiness_check_actor::pointer self, config::Config config, cert_manager_actor certificates,
               dns_resolver_actor dns) {
  return {
    [=](readiness_atom) -> caf::result<readiness::report> {
      auto promise = self->make_response_promise<readiness::report>();
      auto finish = [=](const pending_check& p) mutable {
        promise.deliver(readiness::analyze(config, p.certificate, p.resolutions, net::is_local_address));
        self->quit();
      };
      self->request(certificates, ask_timeout, status_atom::value)
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
              self->request(dns, ask_timeout, resolve_atom::value, name)
                .then(done, [=](const caf::error& e) mutable {
                  dns::resolution failed;
                  failed.domain = name;
                  failed.error = "DNS resolver did not answer: " + self->system().render(e);
                  done(std::move(failed));
                });
            }
          },
          [=](const caf::error& e) mutable {
            promise.deliver(e);
            self->quit();
          });
      return promise;
    },
  };
}

}  // namespace

readiness_check_actor spawn_readiness_check(caf::actor_system& system, config::Config config,
                                            cert_manager_actor certificates, dns_resolver_actor dns) {
  return system.spawn(readiness_impl, std::move(config), std::move(certificates), std::move(dns));
}

}  // namespace fedgw
