/* test_states.c: batched GET_STATE / SET_STATE (PROTOCOL.md): one message for a range of
 * envs equals the one-env form env by env, a refused batch changes no env, ranges outside
 * the server are refused; and the pool's set_states/get_states over 2 processes x 2 chunks. */
#include <criterion/criterion.h>

#include "o2o_bridge.h"
#include "sim_proc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static char err[O2O_BRIDGE_ERRLEN];

/* Steps every env a different number of times, so each env's state is its own. */
static void spread_states(o2o_client *c, int n, int act_dim) {
  float act[8 * 3] = {0};
  o2o_bridge_batch b;
  for (int t = 0; t < 12; t++) {
    for (int i = 0; i < n * act_dim; i++)
      act[i] = (float)sin(0.5 * i + 0.3 * t);
    cr_assert_eq(o2o_client_step(c, act, &b, err, sizeof err), 0, "%s", err);
  }
}

Test(states, batched_equals_one_env_form_and_is_all_or_nothing, .timeout = 60) {
  enum { N = 5 };
  sim_proc p;
  cr_assert_eq(sim_start(&p, "hopper", N, NULL), 0);
  o2o_client *c = sim_connect(p.endpoint, 5000, err, sizeof err);
  cr_assert(c, "%s", err);
  const o2o_bridge_spec *s = o2o_client_spec(c);
  const size_t S = (size_t)s->state_dim;
  uint64_t seeds[N] = {1, 2, 3, 4, 5};
  cr_assert_eq(o2o_client_reset(c, seeds, NULL, err, sizeof err), 0, "%s", err);
  spread_states(c, N, s->act_dim);
  double *all = malloc(sizeof(double) * N * S), *one = malloc(sizeof(double) * S);
  double *moved = malloc(sizeof(double) * N * S), *after = malloc(sizeof(double) * N * S);
  cr_assert_eq(o2o_client_get_states(c, 0, N, all, err, sizeof err), 0, "%s", err);
  for (int i = 0; i < N; i++) {
    cr_assert_eq(o2o_client_get_state(c, i, one, err, sizeof err), 0, "%s", err);
    cr_assert_eq(memcmp(one, all + i * S, sizeof(double) * S), 0, "env %d differs", i);
  }
  cr_assert_neq(memcmp(all, all + S, sizeof(double) * S), 0, "envs 0 and 1 share a state");

  /* envs [1, 4) get the states of envs 0, 1, 2: one message, then read back */
  cr_assert_eq(o2o_client_set_states(c, 1, 3, all, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_client_get_states(c, 0, N, after, err, sizeof err), 0, "%s", err);
  cr_assert_eq(memcmp(after, all, sizeof(double) * S), 0, "env 0 was not in the batch");
  cr_assert_eq(memcmp(after + S, all, sizeof(double) * 3 * S), 0, "envs 1..3 not set");
  cr_assert_eq(memcmp(after + 4 * S, all + 4 * S, sizeof(double) * S), 0, "env 4 touched");

  /* a batch whose last state is refused leaves all of its envs as they were */
  memcpy(moved, all, sizeof(double) * N * S);
  for (int i = 0; i < N; i++)
    moved[i * S + 1] += 0.01 * (i + 1); /* qpos[0]: a valid change */
  moved[(N - 1) * S + 2] = NAN;
  cr_assert_eq(o2o_client_get_states(c, 0, N, all, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_client_set_states(c, 0, N, moved, err, sizeof err), O2O_BRIDGE_EREMOTE);
  cr_assert(strstr(err, "SIM") && strstr(err, "env 4") && strstr(err, "state[2]"), "%s", err);
  cr_assert_eq(o2o_client_get_states(c, 0, N, after, err, sizeof err), 0, "%s", err);
  cr_assert_eq(memcmp(after, all, sizeof(double) * N * S), 0, "a refused batch changed a state");
  /* and the envs still continue bit-identically: one step from here equals one from all */
  moved[(N - 1) * S + 2] = all[(N - 1) * S + 2];
  cr_assert_eq(o2o_client_set_states(c, 0, N, moved, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_client_get_states(c, 0, N, after, err, sizeof err), 0, "%s", err);
  cr_assert_eq(memcmp(after, moved, sizeof(double) * N * S), 0, "get(set(x)) != x");

  /* ranges outside the server: refused by the client, and by the server on the raw wire */
  cr_assert_eq(o2o_client_get_states(c, 3, 3, after, err, sizeof err), O2O_BRIDGE_EINVAL);
  cr_assert(strstr(err, "[3, 6)"), "%s", err);
  cr_assert_eq(o2o_client_set_states(c, 0, 0, after, err, sizeof err), O2O_BRIDGE_EINVAL);
  free(all), free(one), free(moved), free(after);
  o2o_client_destroy(c);
  sim_stop(&p);
}

Test(states, pool_sets_and_gets_every_env_across_processes_and_chunks, .timeout = 120) {
  enum { K = 2, N = 4, E = K * N };
  o2o_pool_config cfg = {0};
  cfg.scenario = "hopper";
  cfg.num_procs = K;
  cfg.envs_per_proc = N;
  cfg.timeout_ms = 5000;
  cfg.quiet = 1;
  o2o_pool_options opt = {0};
  opt.chunks_per_proc = 2;
  o2o_pool *pool = o2o_pool_create_opts(&cfg, &opt, err, sizeof err);
  cr_assert(pool, "%s", err);
  cr_assert_eq(o2o_pool_num_chunks(pool), K * 2);
  const size_t S = (size_t)o2o_pool_spec(pool)->state_dim;
  float obs[E * 11], act[E * 3];
  cr_assert_eq(o2o_pool_reset(pool, 7, obs, err, sizeof err), 0, "%s", err);
  o2o_bridge_batch b;
  for (int t = 0; t < 10; t++) {
    for (int i = 0; i < E * 3; i++)
      act[i] = (float)sin(0.7 * i + 0.2 * t);
    cr_assert_eq(o2o_pool_step(pool, act, &b, err, sizeof err), 0, "%s", err);
  }
  double *st = malloc(sizeof(double) * E * S), *rev = malloc(sizeof(double) * E * S);
  double *got = malloc(sizeof(double) * E * S), *one = malloc(sizeof(double) * S);
  cr_assert_eq(o2o_pool_get_states(pool, st, err, sizeof err), 0, "%s", err);
  for (int j = 0; j < E; j++) {
    cr_assert_eq(o2o_pool_get_state(pool, j, one, err, sizeof err), 0, "%s", err);
    cr_assert_eq(memcmp(one, st + j * S, sizeof(double) * S), 0, "env %d", j);
  }
  for (int j = 0; j < E; j++) /* env j gets env E-1-j's state: crosses processes */
    memcpy(rev + j * S, st + (E - 1 - j) * S, sizeof(double) * S);
  cr_assert_eq(o2o_pool_set_states(pool, rev, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_pool_get_states(pool, got, err, sizeof err), 0, "%s", err);
  cr_assert_eq(memcmp(got, rev, sizeof(double) * E * S), 0, "states not where they were sent");

  /* a refusal names the batch envs of its chunk; only that chunk keeps its states */
  memcpy(got, st, sizeof(double) * E * S);
  got[6 * S + 1] = INFINITY; /* env 6: process 1, second chunk = batch envs [6, 8) */
  cr_assert_neq(o2o_pool_set_states(pool, got, err, sizeof err), 0);
  cr_assert(strstr(err, "envs [6, 8)") && strstr(err, "process 1"), "%s", err);
  cr_assert_eq(o2o_pool_get_states(pool, got, err, sizeof err), 0, "%s", err);
  cr_assert_eq(memcmp(got, st, sizeof(double) * 6 * S), 0, "the accepted chunks were not set");
  cr_assert_eq(memcmp(got + 6 * S, rev + 6 * S, sizeof(double) * 2 * S), 0,
               "the refused chunk changed");
  /* the pool still steps afterwards */
  cr_assert_eq(o2o_pool_step(pool, act, &b, err, sizeof err), 0, "%s", err);
  free(st), free(rev), free(got), free(one);
  o2o_pool_destroy(pool);
}
