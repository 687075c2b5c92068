/* test_gap.c: `o2o gap` (run/gap.h) end to end through spawned o2o-sim children.
 * A dataset recorded here on pendulum's real variant, with the full simulator state of every
 * row, replays on the real variant with error exactly 0 and on pendulum-mass's sim variant
 * (mass x2) with a clear error; qpos/qvel alone replay to solver tolerance; a file without
 * states, or of another task, is refused with a message naming what is missing. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "o2o_bridge.h"
#include "o2o_dataset.h"
#include "run/gap.h"
#include "run/train.h"

enum { ENVS = 8, STEPS = 40, N = ENVS * STEPS, O = 4, A = 1, NQ = 2, NV = 2 };

static char dir[256], full_path[300], qpos_path[300], bare_path[300];
static char sim_exe[600];

static void write_file(const char *path, const float *obs, const float *act, const float *next,
                       const double *states, int S, int with_full, int with_q) {
  static float rew[N];
  static uint8_t term[N], tout[N];
  o2o_dataset_extra ex[3];
  int n = 0;
  static double qpos[N * NQ], qvel[N * NV];
  for (int i = 0; i < N; i++) {
    for (int k = 0; k < NQ; k++)
      qpos[i * NQ + k] = states[(size_t)i * S + 1 + k];
    for (int k = 0; k < NV; k++)
      qvel[i * NV + k] = states[(size_t)i * S + 1 + NQ + k];
  }
  if (with_full)
    ex[n++] = (o2o_dataset_extra){"infos/sim_state", O2O_DTYPE_F64, 2, {N, S}, (void *)states};
  if (with_q) {
    ex[n++] = (o2o_dataset_extra){"infos/qpos", O2O_DTYPE_F64, 2, {N, NQ}, qpos};
    ex[n++] = (o2o_dataset_extra){"infos/qvel", O2O_DTYPE_F64, 2, {N, NV}, qvel};
  }
  o2o_dataset_data d = {N, O, A, obs, act, rew, next, term, tout, n, ex};
  char err[1024] = "";
  cr_assert_eq(o2o_dataset_write(path, &d, NULL, err, sizeof err), 0, "%s", err);
}

/* Random-action transitions on pendulum's real variant: (obs, unit action, next obs) and the
 * full state before each step, as `o2o collect` records them. */
static void record(void) {
  snprintf(dir, sizeof dir, "/tmp/o2o_test_gap_XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  const char *b = getenv("O2O_BUILD_DIR");
  snprintf(sim_exe, sizeof sim_exe, "%s/o2o-sim", b ? b : O2O_TEST_BUILD_DIR);
  o2o_pool_config pc = {.scenario = "pendulum",
                        .variant = "real",
                        .num_procs = 1,
                        .envs_per_proc = ENVS,
                        .sim_exe = sim_exe,
                        .quiet = 1};
  char err[1024] = "";
  o2o_pool *p = o2o_pool_create(&pc, err, sizeof err);
  cr_assert_not_null(p, "%s", err);
  const o2o_bridge_spec *sp = o2o_pool_spec(p);
  const int S = sp->state_dim;
  cr_assert_eq(sp->obs_dim, O);
  static float obs[N * O], act[N * A], next[N * O], cur[ENVS * O], env_act[ENVS * A];
  double *states = malloc(sizeof(double) * N * S);
  cr_assert_eq(o2o_pool_reset(p, 5, cur, err, sizeof err), 0, "%s", err);
  uint64_t rng = 9;
  for (int t = 0; t < STEPS; t++) {
    for (int j = 0; j < ENVS; j++) {
      int i = t * ENVS + j;
      cr_assert_eq(o2o_pool_get_state(p, j, states + (size_t)i * S, err, sizeof err), 0, "%s", err);
      memcpy(obs + i * O, cur + j * O, sizeof(float) * O);
      rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
      act[i] = (float)((double)(rng >> 11) / 9007199254740992.0 * 2 - 1);
    }
    o2o_train_scale_actions(act + t * ENVS, ENVS, A, sp->act_low, sp->act_high, env_act);
    o2o_bridge_batch out;
    cr_assert_eq(o2o_pool_step(p, env_act, &out, err, sizeof err), 0, "%s", err);
    memcpy(next + t * ENVS * O, out.final_obs, sizeof(float) * ENVS * O);
    memcpy(cur, out.obs, sizeof(float) * ENVS * O);
  }
  o2o_pool_destroy(p);
  snprintf(full_path, sizeof full_path, "%s/full.hdf5", dir);
  snprintf(qpos_path, sizeof qpos_path, "%s/qpos.hdf5", dir);
  snprintf(bare_path, sizeof bare_path, "%s/bare.hdf5", dir);
  write_file(full_path, obs, act, next, states, S, 1, 1);
  write_file(qpos_path, obs, act, next, states, S, 0, 1);
  write_file(bare_path, obs, act, next, states, S, 0, 0);
  free(states);
}

static void cleanup(void) {
  if (getenv("O2O_TEST_KEEP")) { /* keep the recorded files to try `o2o gap` by hand */
    fprintf(stderr, "test_gap: kept %s\n", dir);
    return;
  }
  unlink(full_path);
  unlink(qpos_path);
  unlink(bare_path);
  rmdir(dir);
}

TestSuite(gap, .init = record, .fini = cleanup, .timeout = 120);

static int measure(const char *path, const char *scenario, const char *variant, o2o_gap_result *r,
                   char *err, size_t errlen) {
  o2o_gap_config c;
  o2o_gap_config_default(&c);
  c.dataset = path;
  c.scenario = scenario;
  c.variant = variant;
  c.procs = 2;
  c.envs_per_proc = 16;
  c.transitions = 0;
  c.sim_exe = sim_exe;
  return o2o_gap_measure(&c, r, err, errlen);
}

Test(gap, the_recording_variant_replays_exactly_and_the_sim_variant_shows_the_gap) {
  char err[1024] = "";
  o2o_gap_result r;
  cr_assert_eq(measure(full_path, "pendulum", "real", &r, err, sizeof err), 0, "%s", err);
  cr_assert_eq(r.n, N);
  cr_assert_str_eq(r.state_source, "infos/sim_state");
  cr_assert_eq(r.overall_max_abs, 0.0, "exact replay, got %g", r.overall_max_abs);
  o2o_gap_result_free(&r);

  cr_assert_eq(measure(full_path, "pendulum-mass", "sim", &r, err, sizeof err), 0, "%s", err);
  cr_assert_gt(r.overall_mean_std, 1e-3, "mass x2 must move the next states (%g stds)",
               r.overall_mean_std);
  double velocity = r.mean_abs[2] + r.mean_abs[3], position = r.mean_abs[0] + r.mean_abs[1];
  cr_assert_gt(velocity, position, "one step of a heavier cart changes velocities more");
  for (int k = 0; k < O; k++)
    cr_assert(r.p95_abs[k] >= 0 && isfinite(r.mean_std_units[k]));
  o2o_gap_result_free(&r);
}

Test(gap, qpos_and_qvel_alone_replay_to_solver_tolerance) {
  char err[1024] = "";
  o2o_gap_result r;
  cr_assert_eq(measure(qpos_path, "pendulum", "real", &r, err, sizeof err), 0, "%s", err);
  cr_assert_str_eq(r.state_source, "infos/qpos+qvel");
  cr_assert_lt(r.overall_max_abs, 1e-4, "largest error %g", r.overall_max_abs);
  o2o_gap_result_free(&r);
}

Test(gap, files_without_states_or_of_another_task_are_refused) {
  char err[1024] = "";
  o2o_gap_result r;
  cr_assert_neq(measure(bare_path, "pendulum", "real", &r, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "infos/sim_state"), "%s", err);
  cr_assert_not_null(strstr(err, "infos/qpos"), "%s", err);
  cr_assert_not_null(strstr(err, "o2o collect"), "%s", err);
  cr_assert_neq(measure(full_path, "hopper", "real", &r, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "obs 4"), "%s", err);
  cr_assert_not_null(strstr(err, "obs 11"), "%s", err);
}

Test(gap, spearman_of_known_orders) {
  double x[5] = {1, 2, 3, 4, 5}, up[5] = {10, 20, 30, 40, 50}, down[5] = {5, 4, 3, 2, 1};
  double ties[5] = {1, 1, 2, 2, 3}, flat[5] = {7, 7, 7, 7, 7};
  cr_assert_float_eq(o2o_gap_spearman(x, up, 5), 1.0, 1e-12);
  cr_assert_float_eq(o2o_gap_spearman(x, down, 5), -1.0, 1e-12);
  /* ranks of ties: 1.5 1.5 3.5 3.5 5 against 1..5: r = 0.9486832981 (by hand) */
  cr_assert_float_eq(o2o_gap_spearman(x, ties, 5), 0.9486832980505138, 1e-9);
  cr_assert(isnan(o2o_gap_spearman(x, flat, 5)));
  cr_assert(isnan(o2o_gap_spearman(x, up, 1)));
}
