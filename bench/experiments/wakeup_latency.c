// The VM's own delivery stalls, with no SIP and no gateway: one process writes a time stamp into a Unix
// socket pair at a fixed rate (absolute clock_nanosleep pacing), another waits in epoll_wait (timeout in ms,
// -1: none) and records how late each stamp arrives. README Performance: "Stalls of the VM".
//
//   gcc -O2 -o /tmp/wakeup_latency bench/experiments/wakeup_latency.c
//   /tmp/wakeup_latency TIMEOUT_MS SECONDS RATE [even|poisson]    e.g. /tmp/wakeup_latency 100 12 5000
// even (the default): a stamp every 1/RATE s; poisson: exponentially distributed gaps of mean 1/RATE s.
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int receive(int fd, int timeout_ms, double seconds) {
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) return perror("epoll"), 1;
  long n = 0, over_1ms = 0, over_5ms = 0, over_50ms = 0;
  double worst_ms = 0, end = now_s() + seconds + 1;
  while (now_s() < end) {
    struct epoll_event ready;
    if (epoll_wait(ep, &ready, 1, timeout_ms) <= 0) continue;
    double stamps[64];
    ssize_t got = read(fd, stamps, sizeof stamps);
    if (got <= 0) break;  // the sender finished
    double t = now_s();
    for (ssize_t i = 0; i < got / (ssize_t)sizeof(double); ++i) {
      double late_ms = (t - stamps[i]) * 1e3;
      ++n;
      if (late_ms > worst_ms) worst_ms = late_ms;
      over_1ms += late_ms > 1;
      over_5ms += late_ms > 5;
      over_50ms += late_ms > 50;
    }
  }
  printf("epoll timeout %d ms: %ld stamps, later than 1 ms %ld, 5 ms %ld, 50 ms %ld; latest %.1f ms\n", timeout_ms, n,
         over_1ms, over_5ms, over_50ms, worst_ms);
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) return fprintf(stderr, "usage: %s TIMEOUT_MS SECONDS RATE [even|poisson]\n", argv[0]), 2;
  int poisson = argc == 5 && strcmp(argv[4], "poisson") == 0;
  if (argc == 5 && !poisson && strcmp(argv[4], "even") != 0) return fprintf(stderr, "pacing: even or poisson\n"), 2;
  int timeout_ms = atoi(argv[1]);
  double seconds = atof(argv[2]);
  long rate = atol(argv[3]);
  if (seconds <= 0 || seconds > 600 || rate <= 0 || rate > 1000000) return fprintf(stderr, "bad SECONDS or RATE\n"), 2;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return perror("socketpair"), 1;
  pid_t child = fork();
  if (child == 0) {
    close(sv[0]);
    return receive(sv[1], timeout_ms, seconds);
  }
  close(sv[1]);
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  long step_ns = 1000000000L / rate;
  srand48(1);
  for (long i = 0; i < (long)(seconds * (double)rate); ++i) {
    next.tv_nsec += poisson ? (long)(-log(1.0 - drand48()) * (double)step_ns) : step_ns;
    while (next.tv_nsec >= 1000000000L) next.tv_nsec -= 1000000000L, ++next.tv_sec;
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    double t = now_s();
    if (write(sv[0], &t, sizeof t) != (ssize_t)sizeof t) return perror("write"), 1;
  }
  close(sv[0]);
  waitpid(child, NULL, 0);
  return 0;
}
