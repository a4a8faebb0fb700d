// Change detection of the certificate files (stat of inode, size, mtime).
#include "gateway/tls/file_watch.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/gateway/tls/tls_test_support.h"

namespace fedgw::tls {
namespace {

namespace fs = std::filesystem;

TEST(FileWatch, CertificateFilesOfAConfig) {
  config::Certificate pem;
  pem.set_cert_file("/c.pem");
  pem.set_key_file("/k.pem");
  pem.set_ca_bundle("/ca.pem");
  EXPECT_EQ(certificate_files(pem), (std::vector<std::string>{"/c.pem", "/k.pem", "/ca.pem"}));
  config::Certificate p12;
  p12.set_pkcs12_file("/x.p12");
  EXPECT_EQ(certificate_files(p12), (std::vector<std::string>{"/x.p12"}));
}

TEST(FileWatch, StampsSeeRewriteReplaceAndRemoval) {
  auto dir = testing::cert_dir() + "/watch";
  fs::create_directories(dir);
  auto path = dir + "/cert.pem";
  std::ofstream(path) << "one";
  auto s1 = stamp_files({path});
  ASSERT_EQ(s1.size(), 1u);
  EXPECT_TRUE(s1[0].exists);
  EXPECT_EQ(s1[0].size, 3);
  EXPECT_EQ(stamp_files({path}), s1);

  std::ofstream(path) << "two!";  // rewritten in place
  auto s2 = stamp_files({path});
  EXPECT_NE(s2, s1);
  EXPECT_EQ(s2[0].inode, s1[0].inode);

  std::ofstream(dir + "/new.pem") << "two!";  // replaced by rename: new inode
  fs::rename(dir + "/new.pem", path);
  auto s3 = stamp_files({path});
  EXPECT_NE(s3, s2);

  fs::remove(path);
  auto s4 = stamp_files({path});
  EXPECT_FALSE(s4[0].exists);
  EXPECT_NE(s4, s3);
}

TEST(FileWatch, ChangeDetectorWaitsUntilFilesSettle) {
  auto stamp = [](int64_t size) {
    file_stamp s;
    s.path = "/c.pem";
    s.exists = true;
    s.size = size;
    return std::vector<file_stamp>{s};
  };
  change_detector d;
  d.reset(stamp(1));
  EXPECT_FALSE(d.settled_change(stamp(1)));  // unchanged
  EXPECT_FALSE(d.settled_change(stamp(2)));  // changed, maybe still being written
  EXPECT_FALSE(d.settled_change(stamp(3)));  // still changing
  EXPECT_TRUE(d.settled_change(stamp(3)));   // stable for one interval: reload
  d.reset(stamp(3));                         // loaded (or refused): no retry
  EXPECT_FALSE(d.settled_change(stamp(3)));
  EXPECT_FALSE(d.settled_change(stamp(3)));
  EXPECT_FALSE(d.settled_change(stamp(1)));  // changed back to the old file
  EXPECT_TRUE(d.settled_change(stamp(1)));
}

}  // namespace
}  // namespace fedgw::tls
