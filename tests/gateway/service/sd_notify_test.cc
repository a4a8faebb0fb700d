// The sd_notify client against real Unix datagram sockets (a path and an abstract name).
#include "gateway/service/sd_notify.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

namespace fedgw::service {
namespace {

// A datagram socket bound to `name` (a path, or "@..." for the abstract namespace), as systemd's.
struct listener {
  int fd = -1;
  std::string name;

  explicit listener(std::string n) : name(std::move(n)) {
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    if (name[0] == '@')
      addr.sun_path[0] = '\0';
    else
      ++length;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), length) != 0) ADD_FAILURE() << std::strerror(errno);
  }
  ~listener() {
    ::close(fd);
    if (name[0] == '/') ::unlink(name.c_str());
  }
  // The next datagram, or "" after 2 s.
  std::string receive() {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) != 1) return "";
    char buffer[4096];
    auto n = ::recv(fd, buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "";
  }
};

std::string unique(const std::string& stem) { return stem + std::to_string(::getpid()) + "-" + std::to_string(::rand()); }

TEST(SdNotify, SendsToASocketPath) {
  auto path = (std::filesystem::temp_directory_path() / unique("fedgw-notify-")).string();
  listener l(path);
  std::string error;
  ASSERT_TRUE(notify_socket(path, ready_message("serving a.test"), error)) << error;
  EXPECT_EQ(l.receive(), "READY=1\nSTATUS=serving a.test");
}

TEST(SdNotify, SendsToAnAbstractSocket) {
  auto name = "@" + unique("fedgw-notify-test-");
  listener l(name);
  std::string error;
  ASSERT_TRUE(notify_socket(name, stopping_message(""), error)) << error;
  EXPECT_EQ(l.receive(), "STOPPING=1");
}

TEST(SdNotify, NotifyUsesTheEnvironment) {
  std::string error;
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(notify("READY=1", error)) << "no NOTIFY_SOCKET: nothing to do";
  auto name = "@" + unique("fedgw-notify-env-");
  listener l(name);
  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  EXPECT_TRUE(notify(reloading_message("reading /etc/fedgw/fedgw.textproto"), error)) << error;
  ::unsetenv("NOTIFY_SOCKET");
  auto got = l.receive();
  EXPECT_EQ(got.rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u) << got;
  EXPECT_NE(got.find("\nSTATUS=reading /etc/fedgw/fedgw.textproto"), std::string::npos) << got;
}

TEST(SdNotify, StatusIsOneLine) {
  EXPECT_EQ(ready_message("a\nb"), "READY=1\nSTATUS=a b");
  EXPECT_EQ(ready_message(""), "READY=1");
}

TEST(SdNotify, ErrorsNameTheSocket) {
  std::string error;
  EXPECT_FALSE(notify_socket("relative/path", "READY=1", error));
  EXPECT_NE(error.find("neither an absolute path nor an abstract name"), std::string::npos) << error;
  error.clear();
  auto missing = (std::filesystem::temp_directory_path() / unique("fedgw-no-such-socket-")).string();
  EXPECT_FALSE(notify_socket(missing, "READY=1", error));
  EXPECT_NE(error.find(missing), std::string::npos) << error;
  error.clear();
  EXPECT_FALSE(notify_socket("/" + std::string(200, 'x'), "READY=1", error));
  EXPECT_NE(error.find("too long"), std::string::npos) << error;
}

TEST(Journal, StreamMatchesDeviceAndInode) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  struct stat st{};
  ASSERT_EQ(::fstat(fds[1], &st), 0);
  auto value = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  EXPECT_TRUE(is_journal_stream(value.c_str(), fds[1]));
  auto other = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1);
  EXPECT_FALSE(is_journal_stream(other.c_str(), fds[1]));
  EXPECT_FALSE(is_journal_stream(nullptr, fds[1]));
  EXPECT_FALSE(is_journal_stream("", fds[1]));
  EXPECT_FALSE(is_journal_stream("garbage", fds[1]));
  EXPECT_FALSE(is_journal_stream((value + "x").c_str(), fds[1]));
  ::close(fds[0]);
  ::close(fds[1]);
}

}  // namespace
}  // namespace fedgw::service
