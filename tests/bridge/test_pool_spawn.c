/* test_pool_spawn.c: the pool's child-process manager (bridge/spawn.c) with dummy
 * children (/bin/sh scripts), so it is tested independently of o2o-sim. */
#include <criterion/criterion.h>

#include "o2o_bridge.h"
#include "spawn.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* 1 if pid is gone entirely: not running and not a zombie waiting to be reaped. */
static int pid_gone(pid_t pid) {
  return kill(pid, 0) != 0 && errno == ESRCH && waitpid(pid, NULL, WNOHANG) < 0;
}

static void tmp_path(char *out, size_t len, const char *tag) {
  char dir[256];
  o2o_spawn_runtime_dir(dir, sizeof dir);
  snprintf(out, len, "%s/o2o-test-spawn-%d-%s", dir, (int)getpid(), tag);
  unlink(out);
}

Test(pool_spawn, starts_waits_for_path_and_stops_without_zombie) {
  char path[PATH_MAX], script[PATH_MAX + 64], err[O2O_BRIDGE_ERRLEN];
  tmp_path(path, sizeof path, "ready");
  snprintf(script, sizeof script, "sleep 0.1; : > %s; exec sleep 100", path);
  const char *argv[] = {"/bin/sh", "-c", script, NULL};
  o2o_spawn s;
  cr_assert_eq(o2o_spawn_start(&s, argv, 0, err, sizeof err), 0, "%s", err);
  cr_assert_gt(s.pid, 0);
  cr_assert_eq(o2o_spawn_wait_path(&s, path, 5000, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_spawn_alive(&s), 1);
  pid_t pid = s.pid;
  double t0 = now_ms();
  o2o_spawn_stop(&s, 2000);
  cr_assert_lt(now_ms() - t0, 1500.0, "a child that obeys SIGTERM must not wait out the grace");
  cr_assert(s.reaped);
  cr_assert(WIFSIGNALED(s.status) && WTERMSIG(s.status) == SIGTERM);
  cr_assert(pid_gone(pid), "child %d left behind", (int)pid);
  unlink(path);
}

Test(pool_spawn, sigterm_ignored_is_killed_after_grace) {
  char err[O2O_BRIDGE_ERRLEN];
  const char *argv[] = {"/bin/sh", "-c", "trap '' TERM; while :; do sleep 0.05; done", NULL};
  o2o_spawn s;
  cr_assert_eq(o2o_spawn_start(&s, argv, 0, err, sizeof err), 0, "%s", err);
  usleep(100000); /* let the shell install its trap */
  pid_t pid = s.pid;
  double t0 = now_ms();
  o2o_spawn_stop(&s, 300);
  double dt = now_ms() - t0;
  cr_assert_geq(dt, 250.0, "the grace period was not honoured (%.0f ms)", dt);
  cr_assert(WIFSIGNALED(s.status) && WTERMSIG(s.status) == SIGKILL);
  cr_assert(pid_gone(pid));
}

Test(pool_spawn, stopped_child_is_still_reaped) {
  char err[O2O_BRIDGE_ERRLEN];
  const char *argv[] = {"/bin/sleep", "100", NULL};
  o2o_spawn s;
  cr_assert_eq(o2o_spawn_start(&s, argv, 0, err, sizeof err), 0, "%s", err);
  pid_t pid = s.pid;
  kill(pid, SIGSTOP);
  o2o_spawn_stop(&s, 1000);
  cr_assert(s.reaped);
  cr_assert(pid_gone(pid));
}

Test(pool_spawn, death_is_noticed_and_described) {
  char err[O2O_BRIDGE_ERRLEN], why[128];
  const char *argv[] = {"/bin/sleep", "100", NULL};
  o2o_spawn s;
  cr_assert_eq(o2o_spawn_start(&s, argv, 0, err, sizeof err), 0, "%s", err);
  cr_assert_geq(s.pidfd, 0, "pidfd_open should work on this kernel");
  cr_assert_eq(o2o_spawn_alive(&s), 1);
  kill(s.pid, SIGKILL);
  /* The pidfd becomes readable when the child dies: no timeout needed. */
  double t0 = now_ms();
  while (o2o_spawn_alive(&s) && now_ms() - t0 < 2000)
    usleep(1000);
  cr_assert_eq(o2o_spawn_alive(&s), 0);
  o2o_spawn_describe(&s, why, sizeof why);
  cr_assert(strstr(why, "signal 9"), "%s", why);
  o2o_spawn_stop(&s, 100); /* already reaped: a no-op */
}

Test(pool_spawn, child_that_exits_before_binding_is_reported) {
  char path[PATH_MAX], err[O2O_BRIDGE_ERRLEN];
  tmp_path(path, sizeof path, "never");
  const char *argv[] = {"/bin/sh", "-c", "echo 'dummy: bad scenario' >&2; exit 3", NULL};
  o2o_spawn s;
  cr_assert_eq(o2o_spawn_start(&s, argv, 0, err, sizeof err), 0, "%s", err);
  double t0 = now_ms();
  cr_assert_eq(o2o_spawn_wait_path(&s, path, 10000, err, sizeof err), O2O_BRIDGE_ESPAWN);
  cr_assert_lt(now_ms() - t0, 2000.0, "exit must be noticed at once, not at the timeout");
  cr_assert(strstr(err, "exited with status 3"), "%s", err);
  o2o_spawn_stop(&s, 100);
}

Test(pool_spawn, wait_path_times_out) {
  char path[PATH_MAX], err[O2O_BRIDGE_ERRLEN];
  tmp_path(path, sizeof path, "late");
  const char *argv[] = {"/bin/sleep", "100", NULL};
  o2o_spawn s;
  cr_assert_eq(o2o_spawn_start(&s, argv, 0, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_spawn_wait_path(&s, path, 200, err, sizeof err), O2O_BRIDGE_ESPAWN);
  cr_assert(strstr(err, "within 200 ms"), "%s", err);
  o2o_spawn_stop(&s, 500);
}

Test(pool_spawn, exec_failure_is_an_error_not_a_child) {
  char err[O2O_BRIDGE_ERRLEN];
  const char *argv[] = {"/nonexistent/o2o-sim", NULL};
  o2o_spawn s;
  cr_assert_eq(o2o_spawn_start(&s, argv, 0, err, sizeof err), O2O_BRIDGE_ESPAWN);
  cr_assert(strstr(err, "/nonexistent/o2o-sim") && strstr(err, "exec"), "%s", err);
  cr_assert_eq(s.pid, 0);
}

Test(pool_spawn, find_exe_order) {
  char out[PATH_MAX], err[O2O_BRIDGE_ERRLEN];
  /* On PATH. */
  cr_assert_eq(o2o_spawn_find_exe("sh", out, sizeof out, err, sizeof err), 0, "%s", err);
  cr_assert(strstr(out, "/sh"), "%s", out);
  /* $O2O_BUILD_DIR wins over PATH. */
  char dir[256], fake[PATH_MAX];
  snprintf(dir, sizeof dir, "/tmp/o2o-test-find-%d", (int)getpid());
  mkdir(dir, 0700);
  snprintf(fake, sizeof fake, "%s/sh", dir);
  FILE *f = fopen(fake, "w");
  cr_assert(f);
  fputs("#!/bin/sh\n", f);
  fclose(f);
  chmod(fake, 0700);
  setenv("O2O_BUILD_DIR", dir, 1);
  cr_assert_eq(o2o_spawn_find_exe("sh", out, sizeof out, err, sizeof err), 0, "%s", err);
  cr_assert_str_eq(out, fake);
  /* Missing everywhere: the error says where it looked. */
  cr_assert_eq(o2o_spawn_find_exe("o2o-no-such-program", out, sizeof out, err, sizeof err),
               O2O_BRIDGE_ESPAWN);
  cr_assert(strstr(err, "o2o-no-such-program") && strstr(err, "O2O_BUILD_DIR"), "%s", err);
  unlink(fake);
  rmdir(dir);
}

/* The child gets stdin/stdout/stderr and nothing else of the parent's. */
Test(pool_spawn, child_inherits_no_other_fd) {
  int pfd[2];
  cr_assert_eq(pipe(pfd), 0); /* deliberately not close-on-exec */
  char err[O2O_BRIDGE_ERRLEN], path[512], script[2048];
  tmp_path(path, sizeof path, "fds");
  snprintf(script, sizeof script, "ls /proc/self/fd > %s.tmp; mv %s.tmp %s", path, path, path);
  const char *argv[] = {"/bin/sh", "-c", script, NULL};
  o2o_spawn s;
  cr_assert_eq(o2o_spawn_start(&s, argv, 0, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_spawn_wait_path(&s, path, 5000, err, sizeof err), 0, "%s", err);
  o2o_spawn_stop(&s, 1000);
  FILE *f = fopen(path, "r");
  cr_assert(f);
  char line[64];
  while (fgets(line, sizeof line, f)) {
    int fd = atoi(line);
    /* 0-2, plus the one ls itself opens to read the directory */
    cr_assert(fd <= 3, "fd %d leaked into the child", fd);
  }
  fclose(f);
  unlink(path);
  close(pfd[0]);
  close(pfd[1]);
}
