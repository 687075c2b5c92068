/* test_dataset_replay.c: the states `o2o collect` records replay their rows exactly
 * (issue 11 item 1). Row i's infos/sim_state is the full GET_STATE of its env before the
 * step; SET_STATE(sim_state[i]) + STEP(recorded action, scaled to the env's bounds) must
 * give next_observations[i] and rewards[i] bit for bit. infos/qpos and infos/qvel are the
 * state's qpos/qvel slices. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "o2o_bridge.h"
#include "o2o_dataset.h"

static char err[O2O_DATASET_ERRLEN];

static const o2o_dataset_extra *find(const o2o_dataset_extra *ex, int n, const char *key) {
  for (int i = 0; i < n; i++)
    if (!strcmp(ex[i].key, key)) return &ex[i];
  return NULL;
}

Test(dataset_replay, recorded_state_and_action_give_the_recorded_next_obs, .timeout = 120) {
  const char *file = O2O_TEST_BUILD_DIR "/test_replay_hopper.hdf5";
  char cmd[2048];
  snprintf(cmd, sizeof(cmd),
           "%s/o2o collect --scenario hopper --recipe random --steps 3000 --seed 7 --procs 1 "
           "--envs 3 --out %s --overwrite 2>/dev/null",
           O2O_TEST_BUILD_DIR, file);
  cr_assert_eq(system(cmd), 0, "%s", cmd);
  o2o_dataset *ds = o2o_dataset_open(file, NULL, err, sizeof(err));
  cr_assert_not_null(ds, "%s", err);
  const o2o_dataset_info *in = o2o_dataset_get_info(ds);
  const int64_t N = in->transitions;
  const int O = in->obs_dim, A = in->act_dim;
  float *obs = malloc(N * O * 4), *next = malloc(N * O * 4), *act = malloc(N * A * 4);
  float *rew = malloc(N * 4);
  o2o_dataset_dest d = {.obs = obs, .act = act, .rew = rew, .next_obs = next};
  cr_assert_eq(o2o_dataset_read(ds, 0, N, &d, err, sizeof(err)), 0, "%s", err);
  o2o_dataset_extra *ex;
  int nex;
  cr_assert_eq(o2o_dataset_read_extras(ds, &ex, &nex, err, sizeof(err)), 0, "%s", err);
  const o2o_dataset_extra *st = find(ex, nex, "infos/sim_state");
  const o2o_dataset_extra *qp = find(ex, nex, "infos/qpos"), *qv = find(ex, nex, "infos/qvel");
  cr_assert(st && qp && qv, "infos/sim_state, infos/qpos, infos/qvel recorded");
  cr_assert_eq(st->dtype, O2O_DTYPE_F64);
  cr_assert_eq(qp->shape[1], 6, "hopper nq = 6");
  cr_assert_eq(qv->shape[1], 6, "hopper nv = 6");
  const int S = (int)st->shape[1];
  const double *states = st->data, *qpos = qp->data, *qvel = qv->data;

  o2o_pool_config pc = {.scenario = "hopper",
                        .num_procs = 1,
                        .envs_per_proc = 1,
                        .sim_exe = O2O_TEST_BUILD_DIR "/o2o-sim",
                        .quiet = 1};
  o2o_pool *pool = o2o_pool_create(&pc, err, sizeof(err));
  cr_assert_not_null(pool, "%s", err);
  const o2o_bridge_spec *sp = o2o_pool_spec(pool);
  cr_assert_eq(sp->state_dim, S);
  cr_assert_eq(o2o_pool_reset(pool, 0, NULL, err, sizeof(err)), 0, "%s", err);
  int64_t checked = 0;
  for (int64_t i = 0; i < N; i += 37) { /* every 37th row: all phases of episodes */
    for (int k = 0; k < 6; k++) {
      cr_assert_eq(qpos[i * 6 + k], states[i * S + 1 + k], "row %lld qpos[%d]", (long long)i, k);
      cr_assert_eq(qvel[i * 6 + k], states[i * S + 7 + k], "row %lld qvel[%d]", (long long)i, k);
    }
    cr_assert_eq(o2o_pool_set_state(pool, 0, states + i * S, err, sizeof(err)), 0, "%s", err);
    float a[8];
    for (int k = 0; k < A; k++)
      a[k] = sp->act_low[k] + 0.5f * (act[i * A + k] + 1.0f) * (sp->act_high[k] - sp->act_low[k]);
    o2o_bridge_batch b;
    cr_assert_eq(o2o_pool_step(pool, a, &b, err, sizeof(err)), 0, "%s", err);
    cr_assert(!memcmp(b.final_obs, next + i * O, (size_t)O * 4),
              "row %lld: replayed next obs differs from the recorded one", (long long)i);
    cr_assert_eq(b.reward[0], rew[i], "row %lld reward", (long long)i);
    checked++;
  }
  cr_assert_gt(checked, 50);
  /* And the test can fail: the previous row's state does not give this row's next obs. */
  cr_assert_eq(o2o_pool_set_state(pool, 0, states + 9 * S, err, sizeof(err)), 0, "%s", err);
  float a[8];
  for (int k = 0; k < A; k++)
    a[k] = sp->act_low[k] + 0.5f * (act[10 * A + k] + 1.0f) * (sp->act_high[k] - sp->act_low[k]);
  o2o_bridge_batch b;
  cr_assert_eq(o2o_pool_step(pool, a, &b, err, sizeof(err)), 0, "%s", err);
  cr_assert(memcmp(b.final_obs, next + 10 * O, (size_t)O * 4), "a wrong state replayed exactly?");
  o2o_pool_destroy(pool);
  o2o_dataset_extras_free(ex, nex);
  o2o_dataset_close(ds);
  free(obs), free(next), free(act), free(rew);
}
