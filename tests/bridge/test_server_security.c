/* test_server_security.c: CURVE on tcp (only listed client keys get in) and the refusal to
 * bind a non-loopback address without --allow-remote and keys. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "o2o_bridge.h"
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
