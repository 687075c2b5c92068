/* sim_proc.h: start a real o2o-sim for a test and stop it (header-only test helper). */
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "o2o_bridge.h"
#include "../test_require.h"

typedef struct sim_proc {
  pid_t pid;
  char endpoint[256];
} sim_proc;

static inline const char *sim_exe(void) {
  static char path[1024];
  const char *dir = getenv("O2O_BUILD_DIR");
  snprintf(path, sizeof path, "%s/o2o-sim", dir ? dir : O2O_TEST_BUILD_DIR);
  return path;
}

static inline void sim_unique_ipc(char *out, size_t len) {
  static int counter = 0;
  snprintf(out, len, "ipc:///tmp/o2o-test-%ld-%d.ipc", (long)getpid(), counter++);
}

/* Starts o2o-sim with the given extra arguments (NULL-terminated) on endpoint ep. */
static inline pid_t sim_spawn_args(const char *const *args) {
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test must not leave a server behind */
    execv(sim_exe(), (char *const *)args);
    perror("execv o2o-sim");
    _exit(127);
  }
  return pid;
}

/* o2o-sim --scenario scenario --envs N --endpoint (fresh ipc) --quiet [extra...]. Its stdout
 * (MuJoCo's warnings about the garbage states the fuzz tests send) goes to /dev/null. */
static inline int sim_start(sim_proc *p, const char *scenario, int envs, const char *extra) {
  sim_unique_ipc(p->endpoint, sizeof p->endpoint);
  char envs_s[16];
  snprintf(envs_s, sizeof envs_s, "%d", envs);
  const char *args[16] = {sim_exe(), "--scenario", scenario,    "--envs",
                          envs_s,    "--endpoint", p->endpoint, "--quiet"};
  int n = 8;
  if (extra) args[n++] = extra;
  args[n] = NULL;
  fflush(stdout);
  int saved = dup(1), devnull = open("/dev/null", O_WRONLY);
  if (devnull >= 0) dup2(devnull, 1);
  p->pid = sim_spawn_args(args);
  if (saved >= 0) dup2(saved, 1);
  if (saved >= 0) close(saved);
  if (devnull >= 0) close(devnull);
  return p->pid > 0 ? 0 : -1;
}

/* Connects, retrying while the server starts (up to ~20 s). */
static inline o2o_client *sim_connect(const char *endpoint, int timeout_ms, char *err,
                                      size_t errlen) {
  for (int i = 0; i < 100; i++) {
    o2o_client *c = o2o_client_connect(endpoint, timeout_ms, err, errlen);
    if (c) return c;
    usleep(200000);
  }
  return NULL;
}

/* Waits for the child to exit (up to timeout_ms); returns its wait status or -1. */
static inline int sim_wait(pid_t pid, int timeout_ms) {
  for (int t = 0; t < timeout_ms; t += 10) {
    int status;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) return -1;
    usleep(10000);
  }
  return -1;
}

static inline void sim_stop(sim_proc *p) {
  if (p->pid <= 0) return;
  kill(p->pid, SIGTERM);
  if (sim_wait(p->pid, 5000) == -1) {
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
  }
  p->pid = 0;
}

/* Resident memory of a process in KiB (/proc/PID/status VmRSS), -1 if unreadable. */
static inline long sim_rss_kib(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
  FILE *f = fopen(path, "r");
  long kib = -1;
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld", &kib) == 1) break;
  fclose(f);
  return kib;
}
