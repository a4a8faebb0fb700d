#include "gateway/tls/file_watch.h"

#include <sys/stat.h>

namespace fedgw::tls {

std::vector<std::string> certificate_files(const config::Certificate& cfg) {
  std::vector<std::string> out;
  for (const std::string* p : {&cfg.cert_file(), &cfg.key_file(), &cfg.pkcs12_file(), &cfg.ca_bundle()})
    if (!p->empty()) out.push_back(*p);
  out.insert(out.end(), cfg.crl_files().begin(), cfg.crl_files().end());
  return out;
}

std::vector<std::string> certificate_files(const config::Certificate& cfg, const config::Listener& internal) {
  auto out = certificate_files(cfg);
  if (!internal.ca_bundle().empty()) out.push_back(internal.ca_bundle());
  return out;
}

std::vector<file_stamp> stamp_files(const std::vector<std::string>& paths) {
  std::vector<file_stamp> out;
  out.reserve(paths.size());
  for (const auto& path : paths) {
    file_stamp s;
    s.path = path;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
      s.exists = true;
      s.device = static_cast<uint64_t>(st.st_dev);
      s.inode = static_cast<uint64_t>(st.st_ino);
      s.size = static_cast<int64_t>(st.st_size);
      s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    }
    out.push_back(std::move(s));
  }
  return out;
}

void change_detector::reset(std::vector<file_stamp> loaded) {
  previous_ = loaded;
  loaded_ = std::move(loaded);
}

bool change_detector::settled_change(const std::vector<file_stamp>& now) {
  bool settled = now == previous_;
  previous_ = now;
  return settled && now != loaded_;
}

}  // namespace fedgw::tls
