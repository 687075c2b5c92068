/* test_pool.c: the pool against real o2o-sim children (hopper): shape and spec, seeds,
 * faults (kill -9, SIGSTOP, a server restarted behind an endpoint), clean teardown. */
#include <criterion/criterion.h>

#include "o2o_bridge.h"
#include "spawn.h"
#include "../test_require.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <sched.h>
#include <unistd.h>

#define ERR O2O_BRIDGE_ERRLEN

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int pid_gone(pid_t pid) {
  return pid > 0 && kill(pid, 0) != 0 && errno == ESRCH;
}

static o2o_pool *make_pool(int procs, int envs, int timeout_ms, int quiet) {
  char err[ERR];
  o2o_pool_config cfg = {0};
  cfg.scenario = "hopper";
  cfg.num_procs = procs;
  cfg.envs_per_proc = envs;
  cfg.timeout_ms = timeout_ms;
  cfg.quiet = quiet;
  o2o_pool *p = o2o_pool_create(&cfg, err, sizeof err);
  cr_assert(p, "pool: %s", err);
  return p;
}

/* Actions that differ per env and step, so a swapped row shows up. */
static void fill_actions(float *a, int n, int act_dim, int step) {
  for (int i = 0; i < n * act_dim; i++)
    a[i] = (float)sin(0.37 * i + 0.91 * step);
}

Test(pool, two_spawned_processes_give_one_batch) {
  o2o_pool *p = make_pool(2, 3, 5000, 1);
  const o2o_bridge_spec *s = o2o_pool_spec(p);
  cr_assert_eq(s->num_envs, 6);
  cr_assert_eq(s->obs_dim, 11, "hopper obs is 11-dim, got %d", s->obs_dim);
  cr_assert_eq(s->act_dim, 3);
  cr_assert_str_eq(s->scenario, "hopper");
  cr_assert_str_eq(s->variant, "real");
  cr_assert_eq(o2o_pool_num_procs(p), 2);
  cr_assert_neq(o2o_pool_child_pid(p, 0), o2o_pool_child_pid(p, 1));
  char err[ERR];
  float obs[6 * 11], act[6 * 3];
  cr_assert_eq(o2o_pool_reset(p, 3, obs, err, sizeof err), 0, "%s", err);
  o2o_bridge_batch b;
  int expect[6] = {0};
  for (int t = 0; t < 20; t++) {
    fill_actions(act, 6, 3, t);
    cr_assert_eq(o2o_pool_step(p, act, &b, err, sizeof err), 0, "%s", err);
    cr_assert_eq(b.num_envs, 6);
    for (int i = 0; i < 6 * 11; i++)
      cr_assert(isfinite(b.obs[i]));
    for (int j = 0; j < 6; j++) {
      cr_assert_eq(o2o_pool_lost(p)[j], 0);
      expect[j] = b.terminated[j] || b.truncated[j] ? 0 : expect[j] + 1;
      cr_assert_eq(b.episode_step[j], expect[j], "env %d step %d", j, t);
    }
  }
  /* NaN is refused before anything is sent, naming the env of the batch. */
  act[4 * 3 + 1] = NAN;
  cr_assert_eq(o2o_pool_step(p, act, &b, err, sizeof err), O2O_BRIDGE_EINVAL);
  cr_assert(strstr(err, "env 4"), "%s", err);
  cr_assert_eq(o2o_pool_restarts(p), 0);
  o2o_pool_destroy(p);
}

/* Env j of the pool must be exactly a single server's env seeded with seed + j. */
Test(pool, seeds_match_a_single_client) {
  const int K = 2, N = 2, T = 30;
  o2o_pool *p = make_pool(K, N, 5000, 1);
  char err[ERR], exe[PATH_MAX], path[256], ep[300];
  cr_assert_eq(o2o_spawn_find_exe("o2o-sim", exe, sizeof exe, err, sizeof err), 0, "%s", err);
  snprintf(path, sizeof path, "/tmp/o2o-test-pool-single-%d.ipc", (int)getpid());
  snprintf(ep, sizeof ep, "ipc://%s", path);
  unlink(path);
  const char *argv[] = {exe,          "--scenario", "hopper",  "--envs", "4",
                        "--endpoint", ep,           "--quiet", NULL};
  o2o_spawn child;
  cr_assert_eq(o2o_spawn_start(&child, argv, 1, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_spawn_wait_path(&child, path, 30000, err, sizeof err), 0, "%s", err);
  o2o_client *c = o2o_client_connect(ep, 10000, err, sizeof err);
  cr_assert(c, "%s", err);
  uint64_t seeds[4] = {100, 101, 102, 103};
  float obs_pool[4 * 11], obs_one[4 * 11], act[4 * 3];
  cr_assert_eq(o2o_pool_reset(p, 100, obs_pool, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_client_reset(c, seeds, obs_one, err, sizeof err), 0, "%s", err);
  cr_assert_arr_eq(obs_pool, obs_one, sizeof obs_pool, "reset obs differ");
  /* Different seeds really give different starts (so the check above means something). */
  cr_assert(memcmp(obs_pool, obs_pool + 11, 11 * sizeof(float)) != 0);
  for (int t = 0; t < T; t++) {
    fill_actions(act, 4, 3, t);
    o2o_bridge_batch a, b;
    cr_assert_eq(o2o_pool_step(p, act, &a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(o2o_client_step(c, act, &b, err, sizeof err), 0, "%s", err);
    cr_assert_arr_eq(a.obs, b.obs, 4 * 11 * sizeof(float), "step %d: obs differ", t);
    cr_assert_arr_eq(a.reward, b.reward, 4 * sizeof(float), "step %d: rewards differ", t);
    cr_assert_arr_eq(a.terminated, b.terminated, 4);
  }
  /* The same seed again reproduces the same start. */
  float again[4 * 11];
  cr_assert_eq(o2o_pool_reset(p, 100, again, err, sizeof err), 0, "%s", err);
  cr_assert_arr_eq(again, obs_one, sizeof again);
  o2o_client_destroy(c);
  o2o_spawn_stop(&child, 2000);
  unlink(path);
  o2o_pool_destroy(p);
}

/* kill -9 a child between steps: noticed at once (pidfd), restarted, rows truncated. */
Test(pool, killed_child_is_restarted_and_episodes_truncated) {
  const int K = 2, N = 2, n = K * N;
  o2o_pool *p = make_pool(K, N, 20000, 0);
  char err[ERR];
  float obs[4 * 11], act[4 * 3], before[4 * 11];
  cr_assert_eq(o2o_pool_reset(p, 5, obs, err, sizeof err), 0, "%s", err);
  o2o_bridge_batch b;
  for (int t = 0; t < 5; t++) {
    fill_actions(act, n, 3, t);
    cr_assert_eq(o2o_pool_step(p, act, &b, err, sizeof err), 0, "%s", err);
  }
  memcpy(before, b.obs, sizeof before);
  int32_t steps_before[4];
  memcpy(steps_before, b.episode_step, sizeof steps_before);
  pid_t victim = o2o_pool_child_pid(p, 1), other = o2o_pool_child_pid(p, 0);
  cr_assert_eq(kill(victim, SIGKILL), 0);
  usleep(50000);
  fill_actions(act, n, 3, 5);
  double t0 = now_ms();
  cr_assert_eq(o2o_pool_step(p, act, &b, err, sizeof err), 0, "%s", err);
  double dt = now_ms() - t0;
  cr_assert_lt(dt, 10000.0, "a dead child must be noticed without waiting for the 20 s timeout");
  cr_assert_eq(o2o_pool_restarts(p), 1);
  pid_t fresh = o2o_pool_child_pid(p, 1);
  cr_assert(fresh > 0 && fresh != victim);
  cr_assert_eq(o2o_pool_child_pid(p, 0), other, "the healthy child must not be touched");
  cr_assert(pid_gone(victim), "the dead child was not reaped");
  const uint8_t *lost = o2o_pool_lost(p);
  for (int j = 0; j < N; j++) { /* healthy process: a normal step */
    cr_assert_eq(lost[j], 0);
    cr_assert_eq(b.truncated[j], 0);
    cr_assert_eq(b.episode_step[j], steps_before[j] + 1);
  }
  for (int j = N; j < n; j++) { /* restarted process: truncated, last obs kept */
    cr_assert_eq(lost[j], 1);
    cr_assert_eq(b.truncated[j], 1);
    cr_assert_eq(b.terminated[j], 0);
    cr_assert_eq(b.reward[j], 0.0f);
    cr_assert_eq(b.episode_step[j], 0);
    cr_assert_arr_eq(b.final_obs + j * 11, before + j * 11, 11 * sizeof(float),
                     "final_obs of env %d must be the last obs the caller had", j);
    cr_assert(memcmp(b.obs + j * 11, before + j * 11, 11 * sizeof(float)) != 0);
  }
  /* It carries on. */
  for (int t = 0; t < 10; t++) {
    fill_actions(act, n, 3, 6 + t);
    cr_assert_eq(o2o_pool_step(p, act, &b, err, sizeof err), 0, "%s", err);
    for (int j = 0; j < n; j++)
      cr_assert_eq(o2o_pool_lost(p)[j], 0);
  }
  cr_assert_eq(b.episode_step[N], 10);
  cr_assert_eq(o2o_pool_restarts(p), 1);
  o2o_pool_destroy(p);
  cr_assert(pid_gone(fresh) && pid_gone(other));
}

/* A child killed while its STEP is in flight (split phase). */
Test(pool, child_killed_during_step_is_recovered) {
  o2o_pool *p = make_pool(2, 2, 20000, 1);
  char err[ERR];
  float obs[4 * 11], act[4 * 3];
  cr_assert_eq(o2o_pool_reset(p, 9, obs, err, sizeof err), 0, "%s", err);
  fill_actions(act, 4, 3, 0);
  pid_t victim = o2o_pool_child_pid(p, 0);
  cr_assert_eq(o2o_pool_step_send(p, act, err, sizeof err), 0, "%s", err);
  kill(victim, SIGKILL);
  o2o_bridge_batch b;
  cr_assert_eq(o2o_pool_step_recv(p, &b, err, sizeof err), 0, "%s", err);
  /* If the reply made it before the kill, that step was real and the death shows at the
   * next step (whose request is lost); else this step already reports it. Either way the
   * fault step has process 0's envs truncated with a fresh episode. */
  if (o2o_pool_restarts(p) == 0) {
    cr_assert_eq(b.episode_step[0] + b.terminated[0] + b.truncated[0] >= 1, 1);
    cr_assert_eq(o2o_pool_step(p, act, &b, err, sizeof err), 0, "%s", err);
  }
  cr_assert_eq(o2o_pool_restarts(p), 1);
  for (int j = 0; j < 2; j++) {
    cr_assert_eq(b.truncated[j] | b.terminated[j], 1);
    cr_assert_eq(b.episode_step[j], 0);
  }
  cr_assert_eq(o2o_pool_step(p, act, &b, err, sizeof err), 0, "%s", err);
  cr_assert_eq(b.episode_step[0], 1);
  o2o_pool_destroy(p);
  cr_assert(pid_gone(victim));
}

/* SIGSTOP: the process is alive but silent; only the timeout can tell. */
Test(pool, stopped_child_is_caught_by_the_timeout) {
  const int timeout = 800;
  o2o_pool *p = make_pool(2, 2, timeout, 0);
  char err[ERR];
  float obs[4 * 11], act[4 * 3];
  cr_assert_eq(o2o_pool_reset(p, 1, obs, err, sizeof err), 0, "%s", err);
  fill_actions(act, 4, 3, 0);
  o2o_bridge_batch b;
  cr_assert_eq(o2o_pool_step(p, act, &b, err, sizeof err), 0, "%s", err);
  pid_t victim = o2o_pool_child_pid(p, 0);
  cr_assert_eq(kill(victim, SIGSTOP), 0);
  double t0 = now_ms();
  cr_assert_eq(o2o_pool_step(p, act, &b, err, sizeof err), 0, "%s", err);
  double dt = now_ms() - t0;
  cr_assert_geq(dt, timeout - 5.0, "gave up before the timeout (%.0f ms)", dt);
  cr_assert_lt(dt, timeout + 5000.0, "detection + restart took %.0f ms", dt);
  /* On a loaded CI machine (sanitizers, parallel tests) the healthy child may miss a
   * short deadline too; then it is (correctly) restarted as well. */
  int faults = o2o_pool_restarts(p);
  cr_assert(faults == 1 || faults == 2, "%d faults", faults);
  for (int j = 0; j < 2; j++)
    cr_assert(o2o_pool_lost(p)[j] && b.truncated[j]);
  for (int j = 2; j < 4 && faults == 1; j++)
    cr_assert(!o2o_pool_lost(p)[j] && b.episode_step[j] == 2);
  cr_assert(pid_gone(victim), "the stopped child must be killed and reaped");
  cr_assert_eq(o2o_pool_step(p, act, &b, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_pool_restarts(p), faults);
  o2o_pool_destroy(p);
}

Test(pool, destroy_leaves_no_child_and_no_socket_file) {
  o2o_pool *p = make_pool(3, 1, 5000, 1);
  pid_t pids[3];
  char paths[3][300];
  for (int k = 0; k < 3; k++) {
    pids[k] = o2o_pool_child_pid(p, k);
    cr_assert_gt(pids[k], 0);
    const char *ep = o2o_pool_endpoint(p, k);
    cr_assert(!strncmp(ep, "ipc://", 6), "%s", ep);
    snprintf(paths[k], sizeof paths[k], "%s", ep + 6);
    char pidtag[32];
    snprintf(pidtag, sizeof pidtag, "-%d-", (int)getpid());
    cr_assert(strstr(paths[k], pidtag), "endpoint %s should carry the pid", ep);
  }
  kill(pids[2], SIGSTOP); /* a stopped child must not block the teardown */
  double t0 = now_ms();
  o2o_pool_destroy(p);
  cr_assert_lt(now_ms() - t0, 4000.0);
  for (int k = 0; k < 3; k++) {
    cr_assert(pid_gone(pids[k]), "child %d left behind", (int)pids[k]);
    cr_assert(waitpid(pids[k], NULL, WNOHANG) < 0 && errno == ECHILD, "zombie %d", (int)pids[k]);
    struct stat st;
    cr_assert(stat(paths[k], &st) != 0, "%s left behind", paths[k]);
  }
}

Test(pool, bad_scenario_is_a_clear_error) {
  char err[ERR];
  o2o_pool_config cfg = {0};
  cfg.scenario = "no-such-scenario";
  cfg.num_procs = 2;
  cfg.envs_per_proc = 1;
  cfg.quiet = 1;
  o2o_pool *p = o2o_pool_create(&cfg, err, sizeof err);
  cr_assert_null(p);
  cr_assert(strstr(err, "failed to start") && strstr(err, "exited with status"), "%s", err);
  cfg.scenario = "hopper";
  cfg.variant = "simm";
  cr_assert_null(o2o_pool_create(&cfg, err, sizeof err));
  cr_assert(strstr(err, "simm"), "%s", err);
}

/* Endpoints: the pool connects; a server that dies and comes back is reconnected. */
Test(pool, endpoints_are_reconnected_after_a_server_restart) {
  char err[ERR], exe[PATH_MAX], path[2][256], ep[2][300];
  cr_assert_eq(o2o_spawn_find_exe("o2o-sim", exe, sizeof exe, err, sizeof err), 0, "%s", err);
  o2o_spawn srv[2];
  for (int k = 0; k < 2; k++) {
    snprintf(path[k], sizeof path[k], "/tmp/o2o-test-pool-ep-%d-%d.ipc", (int)getpid(), k);
    snprintf(ep[k], sizeof ep[k], "ipc://%s", path[k]);
    unlink(path[k]);
    const char *argv[] = {exe,          "--scenario", "hopper",  "--envs", k ? "3" : "2",
                          "--endpoint", ep[k],        "--quiet", NULL};
    cr_assert_eq(o2o_spawn_start(&srv[k], argv, 1, err, sizeof err), 0, "%s", err);
    cr_assert_eq(o2o_spawn_wait_path(&srv[k], path[k], 30000, err, sizeof err), 0, "%s", err);
  }
  const char *eps[2] = {ep[0], ep[1]};
  o2o_pool_config cfg = {0};
  cfg.endpoints = eps;
  cfg.num_endpoints = 2;
  cfg.timeout_ms = 1000;
  o2o_pool *p = o2o_pool_create(&cfg, err, sizeof err);
  cr_assert(p, "%s", err);
  cr_assert_eq(o2o_pool_spec(p)->num_envs, 5);
  float obs[5 * 11], act[5 * 3];
  cr_assert_eq(o2o_pool_reset(p, 0, obs, err, sizeof err), 0, "%s", err);
  fill_actions(act, 5, 3, 0);
  o2o_bridge_batch b;
  cr_assert_eq(o2o_pool_step(p, act, &b, err, sizeof err), 0, "%s", err);
  /* Server 1 dies and an operator restarts it on the same endpoint. */
  o2o_spawn_stop(&srv[1], 0);
  unlink(path[1]);
  const char *argv[] = {exe,          "--scenario", "hopper",  "--envs", "3",
                        "--endpoint", ep[1],        "--quiet", NULL};
  cr_assert_eq(o2o_spawn_start(&srv[1], argv, 1, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_spawn_wait_path(&srv[1], path[1], 30000, err, sizeof err), 0, "%s", err);
  /* The first step after the restart sees the dropped connection (ZeroMQ monitor): one
   * reconnect, and server 1's envs (rows 2-4) start fresh episodes marked truncated; the
   * new server's start-up state must never pass for the old episodes' next step. */
  cr_assert_eq(o2o_pool_step(p, act, &b, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_pool_restarts(p), 1, "the restarted server went unnoticed (%d reconnects)",
               o2o_pool_restarts(p));
  for (int j = 0; j < 5; j++) {
    if (j < 2) {
      cr_assert(!b.truncated[j] && !o2o_pool_lost(p)[j], "row %d of the live server was marked", j);
      cr_assert_eq(b.episode_step[j], 2, "row %d", j);
    } else {
      cr_assert(b.truncated[j], "row %d crossed the server restart without truncation", j);
      cr_assert_eq(b.episode_step[j], 0, "row %d", j);
    }
  }
  int lost_rows = o2o_pool_lost(p)[2] + o2o_pool_lost(p)[3] + o2o_pool_lost(p)[4];
  cr_assert(lost_rows == 0 || lost_rows == 3, "rows of one server lost together, got %d",
            lost_rows);
  cr_assert_eq(o2o_pool_step(p, act, &b, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_pool_restarts(p), 1);
  for (int j = 0; j < 5; j++) {
    cr_assert(!o2o_pool_lost(p)[j] && !b.truncated[j], "row %d", j);
    cr_assert_eq(b.episode_step[j], j < 2 ? 3 : 1, "row %d", j);
  }
  /* A server that is gone for good: an error naming it, not a hang or a crash. */
  o2o_spawn_stop(&srv[1], 0);
  unlink(path[1]);
  int rc = o2o_pool_step(p, act, &b, err, sizeof err);
  cr_assert_neq(rc, 0);
  cr_assert(strstr(err, ep[1]), "%s", err);
  o2o_pool_destroy(p);
  o2o_spawn_stop(&srv[0], 2000);
  unlink(path[0]);
}

/* Chunk-by-chunk driving keeps each chunk's envs in step. */
Test(pool, chunk_api_steps_every_env) {
  o2o_pool *p = make_pool(2, 2, 5000, 1);
  char err[ERR];
  float obs[4 * 11], act[4 * 3];
  cr_assert_eq(o2o_pool_reset(p, 0, obs, err, sizeof err), 0, "%s", err);
  int nc = o2o_pool_num_chunks(p);
  cr_assert_geq(nc, 2);
  for (int c = 0; c < nc; c++) {
    int first, count;
    o2o_pool_chunk_range(p, c, &first, &count);
    fill_actions(act, count, 3, 0);
    cr_assert_eq(o2o_pool_chunk_send(p, c, act, err, sizeof err), 0, "%s", err);
  }
  int steps[4] = {0}, rounds[64] = {0}, inflight = nc;
  while (inflight > 0) {
    int c;
    o2o_bridge_batch b;
    cr_assert_eq(o2o_pool_chunk_recv(p, &c, &b, err, sizeof err), 0, "%s", err);
    inflight--;
    int first, count;
    o2o_pool_chunk_range(p, c, &first, &count);
    cr_assert_eq(b.num_envs, count);
    for (int j = 0; j < count; j++)
      steps[first + j]++;
    if (++rounds[c] < 20) {
      fill_actions(act, count, 3, rounds[c]);
      cr_assert_eq(o2o_pool_chunk_send(p, c, act, err, sizeof err), 0, "%s", err);
      inflight++;
    }
  }
  /* Nothing left in flight: receiving now is a clear error, not a hang. */
  cr_assert_eq(o2o_pool_chunk_recv(p, NULL, NULL, err, sizeof err), O2O_BRIDGE_EINVAL);
  for (int j = 0; j < 4; j++)
    cr_assert_eq(steps[j], 20, "env %d got %d steps", j, steps[j]);
  o2o_pool_destroy(p);
}

/* --pin: each child's simulator thread on its own CPU, the rest of the child elsewhere. */
Test(pool, pinned_children_get_their_own_cpu) {
  cpu_set_t all;
  cr_assert_eq(sched_getaffinity(0, sizeof all, &all), 0);
  o2o_test_require(CPU_COUNT(&all) >= 2, "pinning needs 2 CPUs, this machine offers %d",
                   CPU_COUNT(&all));
  char err[ERR];
  o2o_pool_config cfg = {.scenario = "hopper", .num_procs = 2, .envs_per_proc = 2, .quiet = 1};
  o2o_pool_options opt = {.pin_cpus = 1};
  o2o_pool *p = o2o_pool_create_opts(&cfg, &opt, err, sizeof err);
  cr_assert(p, "%s", err);
  int cpu[2];
  for (int k = 0; k < 2; k++) {
    cpu_set_t s;
    cr_assert_eq(sched_getaffinity(o2o_pool_child_pid(p, k), sizeof s, &s), 0);
    cr_assert_eq(CPU_COUNT(&s), 1, "child %d main thread should be on one CPU", k);
    for (cpu[k] = 0; !CPU_ISSET(cpu[k], &s); cpu[k]++) {
    }
  }
  cr_assert_neq(cpu[0], cpu[1]);
  float obs[4 * 11], act[4 * 3] = {0};
  o2o_bridge_batch b;
  cr_assert_eq(o2o_pool_reset(p, 0, obs, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_pool_step(p, act, &b, err, sizeof err), 0, "%s", err);
  o2o_pool_destroy(p);
  /* auto (the default) pins 2 children on a machine with 2+ CPUs; -1 never pins. */
  opt.pin_cpus = 0;
  p = o2o_pool_create_opts(&cfg, &opt, err, sizeof err);
  cr_assert(p, "%s", err);
  cpu_set_t s;
  cr_assert_eq(sched_getaffinity(o2o_pool_child_pid(p, 1), sizeof s, &s), 0);
  cr_assert_eq(CPU_COUNT(&s), 1);
  o2o_pool_destroy(p);
  opt.pin_cpus = -1;
  p = o2o_pool_create_opts(&cfg, &opt, err, sizeof err);
  cr_assert(p, "%s", err);
  cr_assert_eq(sched_getaffinity(o2o_pool_child_pid(p, 1), sizeof s, &s), 0);
  cr_assert_eq(CPU_COUNT(&s), CPU_COUNT(&all));
  o2o_pool_destroy(p);
}

/* A child that cannot be restarted gives a clear error and the pool tries again later;
 * a child that fails again and again is given up on instead of restarted forever. */
Test(pool, failed_restart_and_crash_loop_are_errors) {
  char err[ERR], exe[PATH_MAX], script[256], marker[256];
  cr_assert_eq(o2o_spawn_find_exe("o2o-sim", exe, sizeof exe, err, sizeof err), 0, "%s", err);
  snprintf(script, sizeof script, "/tmp/o2o-test-pool-wrap-%d.sh", (int)getpid());
  snprintf(marker, sizeof marker, "/tmp/o2o-test-pool-wrap-%d.fail", (int)getpid());
  unlink(marker);
  FILE *f = fopen(script, "w");
  cr_assert(f);
  fprintf(f,
          "#!/bin/sh\n[ -e %s ] && { echo 'wrapper: refusing to start' >&2; exit 3; }\n"
          "exec %s \"$@\"\n",
          marker, exe);
  fclose(f);
  chmod(script, 0700);
  o2o_pool_config cfg = {
      .scenario = "hopper", .num_procs = 1, .envs_per_proc = 1, .sim_exe = script, .quiet = 1};
  o2o_pool *p = o2o_pool_create(&cfg, err, sizeof err);
  cr_assert(p, "%s", err);
  float obs[11], act[3] = {0};
  o2o_bridge_batch b;
  cr_assert_eq(o2o_pool_reset(p, 0, obs, err, sizeof err), 0, "%s", err);
  FILE *m = fopen(marker, "w");
  fclose(m);
  kill(o2o_pool_child_pid(p, 0), SIGKILL);
  int rc = o2o_pool_step(p, act, &b, err, sizeof err);
  cr_assert_eq(rc, O2O_BRIDGE_ESPAWN, "rc %d: %s", rc, err);
  cr_assert(strstr(err, "could not be restarted") && strstr(err, "exited with status 3"), "%s",
            err);
  /* The cause goes away: the next call brings the process back. */
  unlink(marker);
  cr_assert_eq(o2o_pool_step(p, act, &b, err, sizeof err), 0, "%s", err);
  cr_assert(b.truncated[0] && o2o_pool_lost(p)[0]);
  /* Crash loop: killed again and again. */
  rc = 0;
  for (int i = 0; i < 10 && rc != O2O_BRIDGE_ESPAWN; i++) {
    kill(o2o_pool_child_pid(p, 0), SIGKILL);
    rc = o2o_pool_step(p, act, &b, err, sizeof err);
  }
  cr_assert_eq(rc, O2O_BRIDGE_ESPAWN, "%s", err);
  cr_assert(strstr(err, "times within"), "%s", err);
  o2o_pool_destroy(p);
  unlink(script);
}

/* Dynamics the caller set survive a restart: the new child gets them again. */
Test(pool, dynamics_are_reapplied_after_a_restart) {
  o2o_pool *p = make_pool(2, 1, 5000, 1);
  char err[ERR];
  const char names[2][32] = {"gravity_scale", "mass_scale"};
  const double values[2] = {2.0, 0.5};
  cr_assert_eq(o2o_pool_set_dynamics(p, 2, names, values, err, sizeof err), 0, "%s", err);
  float obs[2 * 11], act[2 * 3] = {0};
  o2o_bridge_batch b;
  cr_assert_eq(o2o_pool_reset(p, 0, obs, err, sizeof err), 0, "%s", err);
  kill(o2o_pool_child_pid(p, 1), SIGKILL);
  cr_assert_eq(o2o_pool_step(p, act, &b, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_pool_restarts(p), 1);
  /* Ask the new child itself (a server serves several clients). */
  o2o_client *c = o2o_client_connect(o2o_pool_endpoint(p, 1), 5000, err, sizeof err);
  cr_assert(c, "%s", err);
  const o2o_bridge_spec *s = o2o_client_spec(c);
  int seen = 0;
  for (int i = 0; i < s->num_params; i++) {
    if (!strcmp(s->param_names[i], "gravity_scale")) seen += s->params[i] == 2.0;
    if (!strcmp(s->param_names[i], "mass_scale")) seen += s->params[i] == 0.5;
  }
  cr_assert_eq(seen, 2, "the restarted o2o-sim lost the caller's dynamics");
  o2o_client_destroy(c);
  o2o_pool_destroy(p);
}

/* Sub-batches (STEP of a range of a server's envs) change nothing in the results. */
Test(pool, sub_batches_give_the_same_trajectories) {
  char err[ERR];
  o2o_pool_config cfg = {.scenario = "hopper", .num_procs = 2, .envs_per_proc = 5, .quiet = 1};
  o2o_pool_options opt = {.chunks_per_proc = 3};
  o2o_pool *one = make_pool(2, 5, 5000, 1);
  o2o_pool *sub = o2o_pool_create_opts(&cfg, &opt, err, sizeof err);
  cr_assert(sub, "%s", err);
  cr_assert_eq(o2o_pool_num_chunks(sub), 6);
  int first, count;
  o2o_pool_chunk_range(sub, 4, &first, &count); /* process 1, envs 1..2 of it */
  cr_assert(first == 6 && count == 2, "chunk 4 = [%d, +%d)", first, count);
  float o1[10 * 11], o2[10 * 11], act[10 * 3];
  cr_assert_eq(o2o_pool_reset(one, 42, o1, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_pool_reset(sub, 42, o2, err, sizeof err), 0, "%s", err);
  cr_assert_arr_eq(o1, o2, sizeof o1);
  for (int t = 0; t < 40; t++) {
    fill_actions(act, 10, 3, t);
    o2o_bridge_batch a, b;
    cr_assert_eq(o2o_pool_step(one, act, &a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(o2o_pool_step(sub, act, &b, err, sizeof err), 0, "%s", err);
    cr_assert_arr_eq(a.obs, b.obs, 10 * 11 * sizeof(float), "step %d", t);
    cr_assert_arr_eq(a.final_obs, b.final_obs, 10 * 11 * sizeof(float), "step %d", t);
    cr_assert_arr_eq(a.reward, b.reward, 10 * sizeof(float));
    cr_assert_arr_eq(a.terminated, b.terminated, 10);
    cr_assert_arr_eq(a.episode_step, b.episode_step, 10 * sizeof(int32_t));
  }
  /* A fault with sub-batches: every chunk of the killed process is recovered. */
  kill(o2o_pool_child_pid(sub, 0), SIGKILL);
  o2o_bridge_batch b;
  cr_assert_eq(o2o_pool_step(sub, act, &b, err, sizeof err), 0, "%s", err);
  for (int j = 0; j < 10; j++)
    cr_assert_eq(o2o_pool_lost(sub)[j], j < 5, "env %d", j);
  cr_assert_eq(o2o_pool_step(sub, act, &b, err, sizeof err), 0, "%s", err);
  o2o_pool_destroy(one);
  o2o_pool_destroy(sub);
}

/* Chunk by chunk, a fault hits a chunk in flight and a chunk the caller holds: both come
 * back lost, the held one with final_obs = the obs the caller had. */
Test(pool, fault_while_the_caller_holds_a_sub_batch) {
  char err[ERR];
  o2o_pool_config cfg = {.scenario = "hopper", .num_procs = 2, .envs_per_proc = 4, .quiet = 1};
  o2o_pool_options opt = {.chunks_per_proc = 2};
  o2o_pool *p = o2o_pool_create_opts(&cfg, &opt, err, sizeof err);
  cr_assert(p, "%s", err);
  float obs[8 * 11], act[8 * 3], held[2 * 11];
  cr_assert_eq(o2o_pool_reset(p, 3, obs, err, sizeof err), 0, "%s", err);
  fill_actions(act, 8, 3, 0);
  for (int c = 0; c < 4; c++)
    cr_assert_eq(o2o_pool_chunk_send(p, c, act + c * 2 * 3, err, sizeof err), 0, "%s", err);
  o2o_bridge_batch b[4];
  for (int i = 0; i < 4; i++) {
    int c;
    o2o_bridge_batch x;
    cr_assert_eq(o2o_pool_chunk_recv(p, &c, &x, err, sizeof err), 0, "%s", err);
    b[c] = x;
  }
  memcpy(held, b[2].obs, sizeof held);     /* chunk 2 = process 1, envs 0-1: the caller holds it */
  kill(o2o_pool_child_pid(p, 1), SIGSTOP); /* so chunk 3 cannot be answered before the kill */
  for (int c = 0; c < 4; c++)
    if (c != 2)
      cr_assert_eq(o2o_pool_chunk_send(p, c, act + c * 2 * 3, err, sizeof err), 0, "%s", err);
  kill(o2o_pool_child_pid(p, 1), SIGKILL);
  int got[4] = {0};
  for (int i = 0; i < 3; i++) {
    int c;
    o2o_bridge_batch x;
    cr_assert_eq(o2o_pool_chunk_recv(p, &c, &x, err, sizeof err), 0, "%s", err);
    got[c] = 1;
    for (int j = 0; j < 2; j++)
      cr_assert_eq(o2o_pool_lost(p)[2 * c + j], c == 3, "chunk %d env %d", c, j);
  }
  cr_assert(got[0] && got[1] && got[3] && !got[2]);
  cr_assert_eq(o2o_pool_restarts(p), 1);
  /* The held chunk's actions were meant for an episode that no longer exists. */
  cr_assert_eq(o2o_pool_chunk_send(p, 2, act + 2 * 2 * 3, err, sizeof err), 0, "%s", err);
  int c;
  o2o_bridge_batch x;
  cr_assert_eq(o2o_pool_chunk_recv(p, &c, &x, err, sizeof err), 0, "%s", err);
  cr_assert_eq(c, 2);
  for (int j = 0; j < 2; j++) {
    cr_assert(o2o_pool_lost(p)[4 + j] && x.truncated[j] && x.reward[j] == 0.0f);
    cr_assert_arr_eq(x.final_obs + j * 11, held + j * 11, 11 * sizeof(float));
  }
  /* The recovered process steps normally afterwards. */
  cr_assert_eq(o2o_pool_chunk_send(p, 2, act, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_pool_chunk_recv(p, &c, &x, err, sizeof err), 0, "%s", err);
  cr_assert(!o2o_pool_lost(p)[4] && x.episode_step[0] == 1);
  o2o_pool_destroy(p);
}
