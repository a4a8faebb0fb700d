#include "actors/status_log.h"

#include <gtest/gtest.h>

#include <regex>

namespace fedgw {
namespace {

struct status_log_test : ::testing::Test {
  caf::actor_system_config config;
  caf::actor_system system{config};
  caf::scoped_actor self{system};

  std::vector<status_entry> window(const status_log_actor& log) {
    std::vector<status_entry> result;
    self->request(log, std::chrono::seconds(5), caf::get_atom::value)
      .receive([&](const std::vector<status_entry>& w) { result = w; },
               [&](const caf::error& e) { ADD_FAILURE() << system.render(e); });
    return result;
  }
};

TEST_F(status_log_test, KeepsNewestThirtyOldestFirst) {
  auto log = spawn_status_log(system, {.write_stderr = false});
  for (int i = 0; i < 45; ++i) report(log, severity::info, "test", "entry " + std::to_string(i));
  auto w = window(log);
  ASSERT_EQ(w.size(), 30u);
  EXPECT_EQ(w.front().text, "entry 15");
  EXPECT_EQ(w.back().text, "entry 44");
  anon_send_exit(log, caf::exit_reason::user_shutdown);
}

TEST_F(status_log_test, LinesStartWithTimeStamp) {
  status_entry e{1764000000000, static_cast<uint8_t>(severity::error), "dns", "server timed out"};
  auto line = format_status_line(e);
  EXPECT_TRUE(std::regex_match(line, std::regex(R"(\(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\) ERROR dns: server timed out)")))
    << line;
  e.level = static_cast<uint8_t>(severity::warning);
  EXPECT_NE(format_status_line(e).find(" WARN  dns: "), std::string::npos);
}

TEST_F(status_log_test, JournalLinesCarryTheSyslogPriority) {
  status_entry e{1764000000000, static_cast<uint8_t>(severity::error), "dns", "server timed out"};
  EXPECT_EQ(stderr_status_line(e, false), format_status_line(e));
  EXPECT_EQ(stderr_status_line(e, true), "<3>" + format_status_line(e));
  e.level = static_cast<uint8_t>(severity::warning);
  EXPECT_EQ(stderr_status_line(e, true), "<4>" + format_status_line(e));
  e.level = static_cast<uint8_t>(severity::info);
  EXPECT_EQ(stderr_status_line(e, true), "<6>" + format_status_line(e));
  // The message window keeps the entries themselves: no prefix there.
  auto log = spawn_status_log(system, {.write_stderr = false, .syslog_prefix = true});
  report(log, severity::warning, "cert", "expires soon");
  auto w = window(log);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(format_status_line(w.front()).find('<'), std::string::npos);
  anon_send_exit(log, caf::exit_reason::user_shutdown);
}

TEST_F(status_log_test, SubscribersGetNewEntries) {
  auto log = spawn_status_log(system, {.write_stderr = false});
  report(log, severity::info, "test", "before");
  window(log);  // "before" is processed before we subscribe
  anon_send(log, caf::subscribe_atom::value, caf::actor_cast<caf::actor>(self));
  report(log, severity::warning, "cert", "expires soon");
  bool got = false;
  self->receive([&](entry_atom, const status_entry& e) {
    got = true;
    EXPECT_EQ(e.text, "expires soon");
    EXPECT_EQ(e.component, "cert");
    EXPECT_EQ(e.level, static_cast<uint8_t>(severity::warning));
  }, caf::after(std::chrono::seconds(5)) >> [] {});
  EXPECT_TRUE(got);
  anon_send_exit(log, caf::exit_reason::user_shutdown);
}

}  // namespace
}  // namespace fedgw
