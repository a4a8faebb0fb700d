// Change detection for the certificate files by periodic stat() (mtime, size, inode, device).
//
// Chosen over inotify: CAF 0.17 has no public API to hand a foreign file descriptor to its multiplexer, the
// files are few, and stat() follows symlinks, so certbot-style "live" links switching to new files and
// editors that replace files by rename are both seen. The certificate manager checks every watch interval
// (at least 1 s) and reloads once the stamps have changed and then stayed the same for one more interval
// (so a half-written pair of cert and key files is not loaded).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proto/config.pb.h"

namespace fedgw::tls {

struct file_stamp {
  std::string path;
  bool exists = false;
  uint64_t device = 0;
  uint64_t inode = 0;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const file_stamp&) const = default;
};

// The files a Certificate config reads: cert_file, key_file, pkcs12_file, ca_bundle, crl_files (those set).
std::vector<std::string> certificate_files(const config::Certificate& cfg);
// The same plus the internal listener's ca_bundle.
std::vector<std::string> certificate_files(const config::Certificate& cfg, const config::Listener& internal);
std::vector<file_stamp> stamp_files(const std::vector<std::string>& paths);

// Decides when to reload. Feed it the current stamps at every check.
class change_detector {
 public:
  // The stamps of the files as they were when last loaded (or tried).
  void reset(std::vector<file_stamp> loaded);
  // true when the files differ from the loaded ones and were unchanged since the previous call.
  bool settled_change(const std::vector<file_stamp>& now);
  const std::vector<file_stamp>& loaded() const { return loaded_; }

 private:
  std::vector<file_stamp> loaded_;
  std::vector<file_stamp> previous_;
};

}  // namespace fedgw::tls
