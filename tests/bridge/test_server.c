/* test_server.c: every message type through a live o2o-sim, compared value for value with
 * an in-process vecenv; two clients on one server; clean exit on CLOSE and SIGTERM. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "o2o_bridge.h"
#include "o2o_sim.h"
#include "sim_proc.h"

static char err[O2O_BRIDGE_ERRLEN];

/* The deterministic action sequence shared with bridge/python/rollout_check.py. */
static void test_actions(int t, int n, int a, float *out) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j < a; j++)
      out[i * a + j] = (float)(((t * 7 + i * 3 + j) % 11) / 5.0 - 1.0);
}

static o2o_vecenv *local_env(const char *scenario, int n) {
  o2o_scenario sc;
  cr_assert_eq(o2o_scenario_load(&sc, scenario, err, sizeof err), 0, "%s", err);
  o2o_vecenv *env = o2o_vecenv_create(&sc, O2O_VARIANT_REAL, n, err, sizeof err);
  cr_assert(env, "%s", err);
  return env;
}

Test(server, every_step_matches_the_in_process_vecenv, .timeout = 60) {
  enum { N = 4 };
  sim_proc p;
  cr_assert_eq(sim_start(&p, "hopper", N, NULL), 0);
  o2o_client *c = sim_connect(p.endpoint, 5000, err, sizeof err);
  cr_assert(c, "%s", err);
  o2o_vecenv *env = local_env("hopper", N);
  const o2o_bridge_spec *s = o2o_client_spec(c);
  const o2o_env_spec *es = o2o_vecenv_spec(env);
  cr_assert_str_eq(s->scenario, "hopper");
  cr_assert_str_eq(s->variant, "real");
  cr_assert_str_eq(s->task, "hopper");
  cr_assert_eq(s->num_envs, N);
  cr_assert_eq(s->obs_dim, es->obs_dim);
  cr_assert_eq(s->act_dim, es->act_dim);
  cr_assert_eq(s->state_dim, es->state_dim);
  cr_assert_eq(s->max_episode_steps, es->max_episode_steps);
  cr_assert_eq(s->dt, es->dt);
  cr_assert_eq(memcmp(s->act_low, es->act_low, 4 * (size_t)es->act_dim), 0);
  cr_assert_eq(memcmp(s->act_high, es->act_high, 4 * (size_t)es->act_dim), 0);
  cr_assert_eq(s->num_params, 8);
  cr_assert_str_eq(s->param_names[0], "gravity_scale");
  cr_assert_str_eq(s->param_names[7], "action_delay");
  cr_assert_eq(s->params[0], 1.0);

  int o = es->obs_dim, a = es->act_dim;
  uint64_t seeds[N] = {10, 11, 12, 13};
  float obs_r[N * O2O_BRIDGE_MAX_OBS], obs_l[N * O2O_BRIDGE_MAX_OBS], act[N * O2O_BRIDGE_MAX_ACT];
  cr_assert_eq(o2o_client_reset(c, seeds, obs_r, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_vecenv_reset(env, seeds, obs_l, err, sizeof err), 0);
  cr_assert_eq(memcmp(obs_r, obs_l, sizeof(float) * N * (size_t)o), 0, "reset obs differ");
  int ended = 0;
  for (int t = 0; t < 400; t++) {
    test_actions(t, N, a, act);
    o2o_bridge_batch b;
    o2o_step_result r;
    cr_assert_eq(o2o_client_step(c, act, &b, err, sizeof err), 0, "step %d: %s", t, err);
    cr_assert_eq(o2o_vecenv_step(env, act, &r, err, sizeof err), 0);
    cr_assert_eq(b.num_envs, N);
    cr_assert_eq(memcmp(b.obs, r.obs, 4 * N * (size_t)o), 0, "obs differ at step %d", t);
    cr_assert_eq(memcmp(b.final_obs, r.final_obs, 4 * N * (size_t)o), 0, "final_obs at %d", t);
    cr_assert_eq(memcmp(b.reward, r.reward, 4 * N), 0, "reward differs at step %d", t);
    cr_assert_eq(memcmp(b.terminated, r.terminated, N), 0);
    cr_assert_eq(memcmp(b.truncated, r.truncated, N), 0);
    cr_assert_eq(memcmp(b.episode_step, r.episode_step, 4 * N), 0);
    for (int i = 0; i < N; i++)
      ended += b.terminated[i] || b.truncated[i];
  }
  cr_assert_gt(ended, 0, "no episode ended: autoreset not exercised");
  /* reset without seeds continues each env's stream on both sides */
  cr_assert_eq(o2o_client_reset(c, NULL, obs_r, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_vecenv_reset(env, NULL, obs_l, err, sizeof err), 0);
  cr_assert_eq(memcmp(obs_r, obs_l, sizeof(float) * N * (size_t)o), 0);
  o2o_client_destroy(c);
  o2o_vecenv_destroy(env);
  sim_stop(&p);
}

Test(server, state_dynamics_and_refusals, .timeout = 60) {
  enum { N = 2 };
  sim_proc p;
  cr_assert_eq(sim_start(&p, "pendulum", N, NULL), 0);
  o2o_client *c = sim_connect(p.endpoint, 5000, err, sizeof err);
  cr_assert(c, "%s", err);
  const o2o_bridge_spec *s = o2o_client_spec(c);
  int a = s->act_dim, o = s->obs_dim;
  double *st = malloc(sizeof(double) * (size_t)s->state_dim);
  float act[N * O2O_BRIDGE_MAX_ACT], o1[O2O_BRIDGE_MAX_OBS];
  uint64_t seeds[N] = {1, 2};
  cr_assert_eq(o2o_client_reset(c, seeds, NULL, err, sizeof err), 0, "%s", err);
  test_actions(3, N, a, act);
  o2o_bridge_batch b;
  cr_assert_eq(o2o_client_get_state(c, 1, st, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_client_step(c, act, &b, err, sizeof err), 0, "%s", err);
  memcpy(o1, b.obs + o, sizeof(float) * (size_t)o);
  cr_assert_eq(o2o_client_set_state(c, 1, st, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_client_step(c, act, &b, err, sizeof err), 0, "%s", err);
  cr_assert_eq(memcmp(o1, b.obs + o, sizeof(float) * (size_t)o), 0, "set_state did not restore");

  char names[2][32] = {"gravity_scale", "action_delay"};
  double vals[2] = {2.0, 3};
  cr_assert_eq(o2o_client_set_dynamics(c, 2, names, vals, err, sizeof err), 0, "%s", err);
  cr_assert_eq(s->params[0], 2.0, "spec follows SET_DYNAMICS");
  cr_assert_eq(s->params[7], 3.0);
  /* a fresh HELLO from another client sees the new values */
  o2o_client *c2 = o2o_client_connect(p.endpoint, 5000, err, sizeof err);
  cr_assert(c2, "%s", err);
  cr_assert_eq(o2o_client_spec(c2)->params[0], 2.0);
  o2o_client_destroy(c2);

  char bad[1][32] = {"warp_factor"};
  double one = 1;
  cr_assert_eq(o2o_client_set_dynamics(c, 1, bad, &one, err, sizeof err), O2O_BRIDGE_EREMOTE);
  cr_assert(strstr(err, "BAD_ARG") && strstr(err, "warp_factor"), "%s", err);
  double half = 1.5;
  cr_assert_eq(o2o_client_set_dynamics(c, 1, names + 1, &half, err, sizeof err),
               O2O_BRIDGE_EREMOTE);
  cr_assert(strstr(err, "action_delay"), "%s", err);
  double neg = -1;
  cr_assert_eq(o2o_client_set_dynamics(c, 1, names, &neg, err, sizeof err), O2O_BRIDGE_EREMOTE);
  cr_assert_eq(s->params[0], 2.0, "a refused SET_DYNAMICS changed nothing");
  double nan = NAN;
  cr_assert_neq(o2o_client_set_dynamics(c, 1, names, &nan, err, sizeof err), 0);

  act[1] = NAN;
  cr_assert_eq(o2o_client_step(c, act, &b, err, sizeof err), O2O_BRIDGE_EINVAL);
  cr_assert(strstr(err, "env 0, component 1") || strstr(err, "env 1"), "%s", err);
  cr_assert_eq(o2o_client_get_state(c, N, st, err, sizeof err), O2O_BRIDGE_EINVAL);
  /* the connection is still fine afterwards */
  test_actions(0, N, a, act);
  cr_assert_eq(o2o_client_step(c, act, &b, err, sizeof err), 0, "%s", err);
  free(st);
  o2o_client_destroy(c);
  sim_stop(&p);
}

Test(server, render_frame_or_clear_error, .timeout = 60) {
  sim_proc p;
  cr_assert_eq(sim_start(&p, "pendulum", 1, NULL), 0);
  o2o_client *c = sim_connect(p.endpoint, 20000, err, sizeof err);
  cr_assert(c, "%s", err);
  enum { W = 64, H = 48 };
  uint8_t *rgb = calloc(W * H * 3, 1);
  int rc = o2o_client_render(c, 0, W, H, rgb, err, sizeof err);
  /* CI renders under Xvfb: there only the frame branch counts */
  if (o2o_test_in_ci()) cr_assert(getenv("DISPLAY"), "CI=true but no DISPLAY: run under xvfb-run");
  if (getenv("DISPLAY")) {
    cr_assert_eq(rc, 0, "%s", err);
    int distinct = 0;
    for (int i = 3; i < W * H * 3; i += 3)
      distinct += rgb[i] != rgb[0];
    cr_assert_gt(distinct, 0, "rendered frame is a single colour");
  } else {
    cr_assert_eq(rc, O2O_BRIDGE_EREMOTE);
    cr_assert(strstr(err, "RENDER") && strstr(err, "xvfb"), "%s", err);
  }
  /* the server keeps serving after either outcome */
  uint64_t seed = 5;
  cr_assert_eq(o2o_client_reset(c, &seed, NULL, err, sizeof err), 0, "%s", err);
  free(rgb);
  o2o_client_destroy(c);
  sim_stop(&p);
}

Test(server, close_request_exits_cleanly, .timeout = 30) {
  sim_proc p;
  cr_assert_eq(sim_start(&p, "pendulum", 1, NULL), 0);
  o2o_client *c = sim_connect(p.endpoint, 5000, err, sizeof err);
  cr_assert(c, "%s", err);
  cr_assert_eq(o2o_client_close(c, err, sizeof err), 0, "%s", err);
  int status = sim_wait(p.pid, 5000);
  cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
  /* a call on the dead server times out instead of hanging */
  o2o_client_set_timeout(c, 300);
  cr_assert_eq(o2o_client_reset(c, NULL, NULL, err, sizeof err), O2O_BRIDGE_ETIMEOUT);
  cr_assert(strstr(err, "within 300 ms"), "%s", err);
  o2o_client_destroy(c);
}

Test(server, sigterm_exits_cleanly_and_removes_the_socket_file, .timeout = 30) {
  sim_proc p;
  cr_assert_eq(sim_start(&p, "pendulum", 1, NULL), 0);
  o2o_client *c = sim_connect(p.endpoint, 5000, err, sizeof err);
  cr_assert(c, "%s", err);
  const char *path = p.endpoint + strlen("ipc://");
  struct stat st;
  cr_assert_eq(stat(path, &st), 0, "%s missing while serving", path);
  kill(p.pid, SIGTERM);
  int status = sim_wait(p.pid, 5000);
  cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
  cr_assert_neq(stat(path, &st), 0, "%s left behind", path);
  o2o_client_destroy(c);
}

Test(server, two_clients_share_the_envs, .timeout = 60) {
  enum { N = 3 };
  sim_proc p;
  cr_assert_eq(sim_start(&p, "hopper", N, NULL), 0);
  o2o_client *a = sim_connect(p.endpoint, 5000, err, sizeof err);
  cr_assert(a, "%s", err);
  o2o_client *b = o2o_client_connect(p.endpoint, 5000, err, sizeof err);
  cr_assert(b, "%s", err);
  const o2o_bridge_spec *s = o2o_client_spec(a);
  uint64_t seeds[N] = {7, 8, 9};
  cr_assert_eq(o2o_client_reset(a, seeds, NULL, err, sizeof err), 0, "%s", err);
  float act[N * O2O_BRIDGE_MAX_ACT];
  memset(act, 0, sizeof act);
  o2o_bridge_batch ba, bb;
  int total = 0;
  for (int k = 0; k < 50; k++) {
    /* both requests in flight at once: each client gets its own reply */
    cr_assert_eq(o2o_client_step_send(a, act, err, sizeof err), 0, "%s", err);
    cr_assert_eq(o2o_client_step_send(b, act, err, sizeof err), 0, "%s", err);
    cr_assert_eq(o2o_client_step_recv(a, &ba, err, sizeof err), 0, "%s", err);
    cr_assert_eq(o2o_client_step_recv(b, &bb, err, sizeof err), 0, "%s", err);
    int ea = ba.episode_step[0], eb = bb.episode_step[0];
    /* shared envs: the two steps are consecutive steps of the same episode */
    cr_assert(abs(ea - eb) == 1 || ea == 0 || eb == 0, "episode steps %d and %d", ea, eb);
    total += 2;
  }
  /* GET_STATE from b sees what a's steps did */
  double *st = malloc(sizeof(double) * (size_t)s->state_dim);
  cr_assert_eq(o2o_client_get_state(b, 0, st, err, sizeof err), 0, "%s", err);
  cr_assert_gt(st[0], 0.0, "simulated time advanced");
  free(st);
  o2o_client_destroy(a);
  /* b keeps working after a left */
  cr_assert_eq(o2o_client_step(b, act, &bb, err, sizeof err), 0, "%s", err);
  o2o_client_destroy(b);
  sim_stop(&p);
  cr_assert_eq(total, 100);
}

Test(server, step_of_a_sub_range_touches_only_those_envs, .timeout = 60) {
  enum { N = 5 };
  sim_proc p;
  cr_assert_eq(sim_start(&p, "hopper", N, NULL), 0);
  o2o_client *c = sim_connect(p.endpoint, 5000, err, sizeof err);
  cr_assert(c, "%s", err);
  o2o_vecenv *env = local_env("hopper", N);
  const o2o_bridge_spec *s = o2o_client_spec(c);
  int o = s->obs_dim, a = s->act_dim;
  uint64_t seeds[N] = {1, 2, 3, 4, 5};
  cr_assert_eq(o2o_client_reset(c, seeds, NULL, err, sizeof err), 0, "%s", err);
  o2o_vecenv_reset(env, seeds, NULL, err, sizeof err);
  double *s0 = malloc(sizeof(double) * (size_t)s->state_dim);
  double *s1 = malloc(sizeof(double) * (size_t)s->state_dim);
  cr_assert_eq(o2o_client_get_state(c, 0, s0, err, sizeof err), 0, "%s", err);
  float act[N * O2O_BRIDGE_MAX_ACT];
  for (int t = 0; t < 60; t++) {
    int first = 1 + t % 3, count = 2; /* [1,3), [2,4), [3,5) */
    test_actions(t, count, a, act);
    o2o_bridge_batch b;
    o2o_step_result r;
    cr_assert_eq(o2o_client_step_send_range(c, first, count, act, err, sizeof err), 0, "%s", err);
    cr_assert_eq(o2o_client_step_recv(c, &b, err, sizeof err), 0, "%s", err);
    cr_assert_eq(o2o_vecenv_step_range(env, first, count, act, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(b.num_envs, count);
    cr_assert_eq(memcmp(b.obs, r.obs, 4 * (size_t)count * (size_t)o), 0, "obs at %d", t);
    cr_assert_eq(memcmp(b.final_obs, r.final_obs, 4 * (size_t)count * (size_t)o), 0);
    cr_assert_eq(memcmp(b.reward, r.reward, 4 * (size_t)count), 0);
    cr_assert_eq(memcmp(b.episode_step, r.episode_step, 4 * (size_t)count), 0);
  }
  cr_assert_eq(o2o_client_get_state(c, 0, s1, err, sizeof err), 0, "%s", err);
  cr_assert_eq(memcmp(s0, s1, sizeof(double) * (size_t)s->state_dim), 0, "env 0 was stepped");
  cr_assert_eq(o2o_client_step_send_range(c, 4, 2, act, err, sizeof err), O2O_BRIDGE_EINVAL);
  free(s0);
  free(s1);
  o2o_client_destroy(c);
  o2o_vecenv_destroy(env);
  sim_stop(&p);
}

/* A reply that arrives after its request timed out is skipped, never taken for the answer
 * to the next request (request ids). The server is frozen with SIGSTOP to make it late. */
Test(server, late_reply_after_a_timeout_is_skipped, .timeout = 60) {
  enum { N = 2 };
  sim_proc p;
  cr_assert_eq(sim_start(&p, "hopper", N, NULL), 0);
  o2o_client *c = sim_connect(p.endpoint, 5000, err, sizeof err);
  cr_assert(c, "%s", err);
  const o2o_bridge_spec *s = o2o_client_spec(c);
  uint64_t seeds[N] = {4, 5};
  cr_assert_eq(o2o_client_reset(c, seeds, NULL, err, sizeof err), 0, "%s", err);
  float act[N * O2O_BRIDGE_MAX_ACT] = {0};
  o2o_bridge_batch b;
  kill(p.pid, SIGSTOP);
  o2o_client_set_timeout(c, 300);
  cr_assert_eq(o2o_client_step(c, act, &b, err, sizeof err), O2O_BRIDGE_ETIMEOUT);
  /* split-phase: a zero timeout reports ETIMEOUT but keeps the request outstanding */
  cr_assert_eq(o2o_client_step_send(c, act, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_client_step_recv_timeout(c, &b, 0, err, sizeof err), O2O_BRIDGE_ETIMEOUT);
  cr_assert(o2o_client_pending(c));
  kill(p.pid, SIGCONT);
  o2o_client_set_timeout(c, 5000);
  /* the server now answers the abandoned STEP (stale) and then ours */
  cr_assert_eq(o2o_client_step_recv(c, &b, err, sizeof err), 0, "%s", err);
  cr_assert_eq(b.episode_step[0], 2, "got the stale reply (episode step %d)", b.episode_step[0]);
  double *st = malloc(sizeof(double) * (size_t)s->state_dim);
  cr_assert_eq(o2o_client_get_state(c, 0, st, err, sizeof err), 0, "%s", err);
  free(st);
  cr_assert_eq(o2o_client_step(c, act, &b, err, sizeof err), 0, "%s", err);
  cr_assert_eq(b.episode_step[0], 3);
  o2o_client_destroy(c);
  sim_stop(&p);
}
