// Talking to systemd without libsystemd: the sd_notify(3) protocol (one datagram
// of "KEY=value" lines to the Unix socket named by $NOTIFY_SOCKET; a name starting
// with '@' is in the abstract namespace) and journald's stderr conventions.
#pragma once

#include <string>

namespace fedgw::service {

// Sends `state` (e.g. "READY=1\nSTATUS=serving") to `socket_path`. True when the
// datagram was sent; false with `error` set otherwise.
bool notify_socket(const std::string& socket_path, const std::string& state, std::string& error);

// Sends `state` to $NOTIFY_SOCKET. Without $NOTIFY_SOCKET (not started by
// systemd with Type=notify) nothing is sent and the result is true.
bool notify(const std::string& state, std::string& error);

// The messages fedgw sends; `status` becomes STATUS= (one line, free text).
std::string ready_message(const std::string& status);
std::string reloading_message(const std::string& status);  // RELOADING=1 with MONOTONIC_USEC
std::string stopping_message(const std::string& status);

// True when stderr is connected to the journal: $JOURNAL_STREAM names the
// device and inode ("DEV:INODE") of the stream stderr is. A stderr redirected
// elsewhere by the service (e.g. to a file) does not count.
bool stderr_is_journal();
// The same test on given values (for tests): `journal_stream` is $JOURNAL_STREAM.
bool is_journal_stream(const char* journal_stream, int fd);

}  // namespace fedgw::service
