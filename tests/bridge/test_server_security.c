/* test_server_security.c: CURVE on tcp (only listed client keys get in) and the refusal to
 * bind a non-loopback address without --allow-remote and keys. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "o2o_bridge.h"
#include "server.h"
#include "sim_proc.h"

static char err[O2O_BRIDGE_ERRLEN];

static int run_and_wait(const char *const *args) {
  pid_t pid = sim_spawn_args(args);
  int status = sim_wait(pid, 20000);
  if (status == -1) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
  }
  return status;
}

static int port(int k) {
  return 20000 + (int)(getpid() % 20000) + k;
}

Test(security, curve_admits_only_listed_client_keys, .timeout = 90) {
  char dir[256];
  snprintf(dir, sizeof dir, "/tmp/o2o-test-keys-%ld", (long)getpid());
  const char *names[] = {"server", "client", "intruder"};
  for (int i = 0; i < 3; i++) {
    const char *args[] = {sim_exe(), "--gen-keys", dir, "--key-name", names[i], NULL};
    int st = run_and_wait(args);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "--gen-keys %s failed", names[i]);
  }
  char skey[300], spub[300], cpub[300], ckey[300], ikey[300], ep[64];
  snprintf(skey, sizeof skey, "%s/server.key", dir);
  snprintf(spub, sizeof spub, "%s/server.pub", dir);
  snprintf(cpub, sizeof cpub, "%s/client.pub", dir);
  snprintf(ckey, sizeof ckey, "%s/client.key", dir);
  snprintf(ikey, sizeof ikey, "%s/intruder.key", dir);
  snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port(0));
  const char *args[] = {sim_exe(), "--scenario",         "pendulum", "--endpoint",          ep,
                        "--quiet", "--curve-server-key", skey,       "--curve-client-keys", cpub,
                        NULL};
  pid_t pid = sim_spawn_args(args);

  o2o_client_options opt = {.timeout_ms = 5000, .curve_server_key = spub, .curve_client_key = ckey};
  o2o_client *c = NULL;
  for (int i = 0; i < 100 && !c; i++) {
    c = o2o_client_connect_opts(ep, &opt, err, sizeof err);
    if (!c) usleep(200000);
  }
  cr_assert(c, "the listed client could not connect: %s", err);
  uint64_t seed = 1;
  cr_assert_eq(o2o_client_reset(c, &seed, NULL, err, sizeof err), 0, "%s", err);

  o2o_client_options bad = {.timeout_ms = 800, .curve_server_key = spub, .curve_client_key = ikey};
  o2o_client *i1 = o2o_client_connect_opts(ep, &bad, err, sizeof err);
  cr_assert_null(i1, "a client with an unlisted key got in");
  cr_assert(strstr(err, "no reply"), "%s", err);
  o2o_client_options eph = {.timeout_ms = 800, .curve_server_key = spub};
  cr_assert_null(o2o_client_connect_opts(ep, &eph, err, sizeof err), "an ephemeral key got in");
  cr_assert_null(o2o_client_connect(ep, 800, err, sizeof err), "a plain-text client got in");

  /* keys from the environment (how the agent and the pool get them) */
  setenv("O2O_CURVE_SERVER_KEY", spub, 1);
  setenv("O2O_CURVE_CLIENT_KEY", ckey, 1);
  o2o_client *c3 = o2o_client_connect(ep, 5000, err, sizeof err);
  cr_assert(c3, "keys from O2O_CURVE_* were not used: %s", err);
  o2o_client_destroy(c3);
  unsetenv("O2O_CURVE_SERVER_KEY");
  unsetenv("O2O_CURVE_CLIENT_KEY");

  /* the admitted client was not disturbed */
  cr_assert_eq(o2o_client_reset(c, &seed, NULL, err, sizeof err), 0, "%s", err);
  o2o_client_destroy(c);
  kill(pid, SIGTERM);
  int st = sim_wait(pid, 5000);
  cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
  const char *rm[] = {skey, spub, cpub, ckey, ikey};
  for (int k = 0; k < 5; k++)
    unlink(rm[k]);
  char ipub[300];
  snprintf(ipub, sizeof ipub, "%s/intruder.pub", dir);
  unlink(ipub);
  rmdir(dir);
}

Test(security, non_loopback_bind_needs_explicit_flags, .timeout = 60) {
  char ep[64];
  snprintf(ep, sizeof ep, "tcp://0.0.0.0:%d", port(1));
  const char *a1[] = {sim_exe(), "--scenario", "pendulum", "--endpoint", ep, NULL};
  int st = run_and_wait(a1);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "bound 0.0.0.0 without --allow-remote");
  const char *a2[] = {sim_exe(), "--scenario",     "pendulum", "--endpoint",
                      ep,        "--allow-remote", NULL};
  st = run_and_wait(a2);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "bound 0.0.0.0 without keys or --insecure");
  const char *a3[] = {sim_exe(), "--scenario", "pendulum", "--endpoint", "inproc://x", NULL};
  st = run_and_wait(a3);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "accepted an inproc endpoint");
  const char *a4[] = {sim_exe(), "--scenario", "no-such-scenario", NULL};
  st = run_and_wait(a4);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "started with an unknown scenario");
  const char *a5[] = {sim_exe(), "--envs", "0", "--scenario", "pendulum", NULL};
  st = run_and_wait(a5);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "accepted --envs 0");
}

/* Runs o2o-sim with its stderr in a file; returns the exit status (or -1 if it was still
 * running after wait_ms and had to be killed) and the file's first bytes in out. */
static int run_capture(const char *const *args, int wait_ms, char *out, size_t outlen) {
  char path[128];
  snprintf(path, sizeof path, "/tmp/o2o-test-sec-%ld.err", (long)getpid());
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) dup2(fd, 2);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execv(sim_exe(), (char *const *)args);
    _exit(127);
  }
  int st = sim_wait(pid, wait_ms);
  if (st == -1) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
  }
  out[0] = 0;
  FILE *f = fopen(path, "r");
  if (f) {
    size_t n = fread(out, 1, outlen - 1, f);
    out[n] = 0;
    fclose(f);
  }
  unlink(path);
  return st;
}

/* ZeroMQ's tcp://SOURCE;ADDRESS binds ADDRESS: "127.0.0.1:0;0.0.0.0:PORT" passed the old
 * prefix test and listened on every interface in plain text. */
Test(security, source_syntax_and_names_cannot_bypass_the_loopback_guard, .timeout = 60) {
  char eps[4][96], text[2048];
  snprintf(eps[0], sizeof eps[0], "tcp://127.0.0.1:0;0.0.0.0:%d", port(2));
  snprintf(eps[1], sizeof eps[1], "tcp://127.0.0.1:0;*:%d", port(3));
  snprintf(eps[2], sizeof eps[2], "tcp://127.0.0.1;0.0.0.0:%d", port(4));
  snprintf(eps[3], sizeof eps[3], "tcp://127.evil:%d", port(5)); /* a name, not an address */
  for (int i = 0; i < 4; i++) {
    const char *a[] = {sim_exe(), "--scenario", "pendulum", "--endpoint", eps[i], NULL};
    int st = run_capture(a, 5000, text, sizeof text);
    cr_assert(st != -1, "'%s' was bound and served", eps[i]);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "'%s': status %d", eps[i], st);
    cr_assert(strstr(text, i < 3 ? "SOURCE;ADDRESS" : "not a loopback address"), "'%s': %s", eps[i],
              text);
  }
  /* the address test itself */
  cr_assert(o2o_server_endpoint_is_loopback("tcp://127.0.0.1:5"));
  cr_assert(o2o_server_endpoint_is_loopback("tcp://127.200.3.4:5"));
  cr_assert(o2o_server_endpoint_is_loopback("tcp://[::1]:5"));
  cr_assert_not(o2o_server_endpoint_is_loopback("tcp://127.0.0.1:0;0.0.0.0:5"));
  cr_assert_not(o2o_server_endpoint_is_loopback("tcp://127.1:5"));
  cr_assert_not(o2o_server_endpoint_is_loopback("tcp://127.evil:5"));
  cr_assert_not(o2o_server_endpoint_is_loopback("tcp://0.0.0.0:5"));
  cr_assert_not(o2o_server_endpoint_is_loopback("tcp://*:5"));
  cr_assert_not(o2o_server_endpoint_is_loopback("tcp://[::]:5"));
  cr_assert_not(o2o_server_endpoint_is_loopback("tcp://10.0.0.1:5"));
}

/* Connects while the server pid is alive (up to ~15 s); NULL once it has exited. */
static o2o_client *connect_while_alive(pid_t pid, const char *ep) {
  for (int i = 0; i < 30; i++) {
    if (waitpid(pid, NULL, WNOHANG) == pid) return NULL;
    o2o_client *c = o2o_client_connect(ep, 500, err, sizeof err);
    if (c) return c;
  }
  return NULL;
}

/* tcp://localhost:PORT is bound as 127.0.0.1 (ZeroMQ cannot bind host names: it failed
 * with "No such device"), and the endpoint printed is the address actually bound, with the
 * real port for PORT 0 (ZMQ_LAST_ENDPOINT). */
Test(security, localhost_and_port_zero_are_bound_on_loopback, .timeout = 60) {
  char ep[64];
  snprintf(ep, sizeof ep, "tcp://localhost:%d", port(6));
  const char *a1[] = {sim_exe(), "--scenario", "pendulum", "--endpoint", ep, "--quiet", NULL};
  pid_t pid = sim_spawn_args(a1);
  char want[64];
  snprintf(want, sizeof want, "tcp://127.0.0.1:%d", port(6));
  o2o_client *c = connect_while_alive(pid, want);
  cr_assert(c, "tcp://localhost was not served on 127.0.0.1: %s", err);
  o2o_client_destroy(c);
  kill(pid, SIGTERM);
  cr_assert_neq(sim_wait(pid, 5000), -1);

  char path[128], text[4096] = {0};
  snprintf(path, sizeof path, "/tmp/o2o-test-sec0-%ld.err", (long)getpid());
  pid = fork();
  if (pid == 0) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) dup2(fd, 2);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execl(sim_exe(), sim_exe(), "--scenario", "pendulum", "--endpoint", "tcp://127.0.0.1:0",
          (char *)NULL);
    _exit(127);
  }
  const char *at = NULL;
  for (int i = 0; i < 200 && !at; i++) {
    usleep(100000);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    at = strstr(text, " on tcp://127.0.0.1:");
  }
  cr_assert(at, "no 'serving ... on tcp://127.0.0.1:PORT' line: %s", text);
  int bound = atoi(at + strlen(" on tcp://127.0.0.1:"));
  cr_assert_gt(bound, 0, "printed port 0 instead of the port bound: %s", text);
  snprintf(want, sizeof want, "tcp://127.0.0.1:%d", bound);
  c = connect_while_alive(pid, want);
  cr_assert(c, "%s: %s", want, err);
  o2o_client_destroy(c);
  kill(pid, SIGTERM);
  cr_assert_neq(sim_wait(pid, 5000), -1);
  unlink(path);
}
