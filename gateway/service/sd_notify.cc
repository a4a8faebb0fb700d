#include "gateway/service/sd_notify.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace fedgw::service {

namespace {

// STATUS= is one line: newlines would start new assignments.
std::string one_line(std::string text) {
  for (auto& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  return text;
}

std::string with_status(std::string message, const std::string& status) {
  if (!status.empty()) message += "\nSTATUS=" + one_line(status);
  return message;
}

}  // namespace

bool notify_socket(const std::string& socket_path, const std::string& state, std::string& error) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // A name starting with '@' is in the abstract namespace: a leading NUL byte, no terminator.
  if (socket_path.size() < 2 || (socket_path[0] != '/' && socket_path[0] != '@')) {
    error = "NOTIFY_SOCKET \"" + socket_path + "\" is neither an absolute path nor an abstract name (@...)";
    return false;
  }
  if (socket_path.size() >= sizeof addr.sun_path) {
    error = "NOTIFY_SOCKET \"" + socket_path + "\" is too long for a Unix socket";
    return false;
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path.size());
  if (socket_path[0] == '@')
    addr.sun_path[0] = '\0';
  else
    length += 1;  // the terminating NUL of a path
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  ssize_t sent;
  do {
    sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), length);
  } while (sent < 0 && errno == EINTR);
  int saved = errno;
  ::close(fd);
  if (sent < 0) {
    error = "sending to NOTIFY_SOCKET " + socket_path + ": " + std::strerror(saved);
    return false;
  }
  if (static_cast<size_t>(sent) != state.size()) {
    error = "sending to NOTIFY_SOCKET " + socket_path + ": message truncated";
    return false;
  }
  return true;
}

bool notify(const std::string& state, std::string& error) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || *path == '\0') return true;
  return notify_socket(path, state, error);
}

std::string ready_message(const std::string& status) { return with_status("READY=1", status); }

std::string reloading_message(const std::string& status) {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  auto usec = static_cast<unsigned long long>(now.tv_sec) * 1000000ULL + static_cast<unsigned long long>(now.tv_nsec) / 1000;
  return with_status("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec), status);
}

std::string stopping_message(const std::string& status) { return with_status("STOPPING=1", status); }

bool is_journal_stream(const char* journal_stream, int fd) {
  if (journal_stream == nullptr || *journal_stream == '\0') return false;
  unsigned long long dev = 0, inode = 0;
  char extra = 0;
  if (std::sscanf(journal_stream, "%llu:%llu%c", &dev, &inode, &extra) != 2) return false;
  struct stat st{};
  if (::fstat(fd, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev && static_cast<unsigned long long>(st.st_ino) == inode;
}

bool stderr_is_journal() { return is_journal_stream(std::getenv("JOURNAL_STREAM"), STDERR_FILENO); }

}  // namespace fedgw::service
