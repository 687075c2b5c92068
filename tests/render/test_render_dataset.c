/* test_render_dataset.c: `o2o render --dataset FILE`. A pendulum file is made here by
 * stepping a vecenv in-process (a fixed controller, seed 5), written once with the states
 * (infos/qpos, infos/qvel) and once with only what `o2o collect` records (metadata/seed,
 * infos/env_index): both replays must draw the same frames, a file with neither is
 * refused naming the keys it needs, and a file whose actions do not reproduce its
 * observations is refused at the row that differs. Needs a display or Xvfb. */
#include <criterion/criterion.h>

#include "o2o_dataset.h"
#include "o2o_sim.h"
#include "render_test_util.h"

#define O2O O2O_TEST_BUILD_DIR "/o2o"
#define ROWS 40

static char out[16384];

typedef struct {
  float obs[ROWS][O2O_SIM_MAX_OBS], act[ROWS][1], rew[ROWS];
  uint8_t term[ROWS], tout[ROWS];
  double qpos[ROWS][2], qvel[ROWS][2];
  int32_t env[ROWS];
  int obs_dim;
} rec;

/* Step pendulum (seed 5) with a balancing, swaying action; rows are (s_t, a_t, r_t). */
static void record(rec *r) {
  o2o_scenario sc;
  char err[512];
  cr_assert_eq(o2o_scenario_load(&sc, "pendulum", err, sizeof err), 0, "%s", err);
  o2o_vecenv *env = o2o_vecenv_create(&sc, O2O_VARIANT_REAL, 1, err, sizeof err);
  cr_assert_not_null(env, "%s", err);
  const o2o_env_spec *sp = o2o_vecenv_spec(env);
  r->obs_dim = sp->obs_dim;
  uint64_t seed = 5;
  float obs[O2O_SIM_MAX_OBS];
  cr_assert_eq(o2o_vecenv_reset(env, &seed, obs, err, sizeof err), 0, "%s", err);
  double *state = malloc(sizeof(double) * (size_t)sp->state_dim);
  for (int t = 0; t < ROWS; t++) {
    cr_assert_eq(o2o_vecenv_get_state(env, 0, state), 0);
    memcpy(r->qpos[t], state + 1, sizeof r->qpos[t]); /* time, qpos[2], qvel[2], ... */
    memcpy(r->qvel[t], state + 3, sizeof r->qvel[t]);
    memcpy(r->obs[t], obs, sizeof(float) * (size_t)sp->obs_dim);
    /* lean-following push plus a sway (unit box; the env takes 3x, bounds +-3) */
    float u = 2.0f * obs[1] + 0.5f * obs[3] + (t % 10 < 5 ? 0.05f : -0.05f);
    r->act[t][0] = u > 1 ? 1 : u < -1 ? -1 : u;
    /* unit box -> bounds exactly as o2o collect and o2o render compute it */
    float a = sp->act_low[0] + 0.5f * (r->act[t][0] + 1.0f) * (sp->act_high[0] - sp->act_low[0]);
    o2o_step_result res;
    cr_assert_eq(o2o_vecenv_step(env, &a, &res, err, sizeof err), 0, "%s", err);
    cr_assert(!res.terminated[0] && !res.truncated[0], "pendulum fell at step %d", t);
    r->rew[t] = res.reward[0];
    memcpy(obs, res.obs, sizeof(float) * (size_t)sp->obs_dim);
    r->env[t] = 0;
  }
  r->tout[ROWS - 1] = 1; /* one episode, cut here */
  free(state);
  o2o_vecenv_destroy(env);
}

enum { WITH_STATES = 1, WITH_SEED = 2 };

static void write_file(const rec *r, const char *path, int what) {
  o2o_dataset_extra ex[8];
  int n = 0;
  float next[ROWS][O2O_SIM_MAX_OBS];
  for (int t = 0; t < ROWS; t++)
    memcpy(next[t], t + 1 < ROWS ? r->obs[t + 1] : r->obs[t], sizeof next[t]);
  o2o_dataset_extra_string(&ex[n++], "metadata/scenario", "pendulum");
  if (what & WITH_STATES) {
    const double(*arrays[2])[2] = {r->qpos, r->qvel};
    const char *keys[2] = {"infos/qpos", "infos/qvel"};
    for (int k = 0; k < 2; k++) {
      ex[n] = (o2o_dataset_extra){.dtype = O2O_DTYPE_F64, .ndim = 2, .shape = {ROWS, 2}};
      snprintf(ex[n].key, sizeof ex[n].key, "%s", keys[k]);
      ex[n].data = malloc(sizeof r->qpos);
      memcpy(ex[n].data, arrays[k], sizeof r->qpos);
      n++;
    }
  }
  if (what & WITH_SEED) {
    o2o_dataset_extra_int(&ex[n++], "metadata/seed", 5);
    ex[n] = (o2o_dataset_extra){.dtype = O2O_DTYPE_I32, .ndim = 1, .shape = {ROWS}};
    snprintf(ex[n].key, sizeof ex[n].key, "infos/env_index");
    ex[n].data = malloc(sizeof r->env);
    memcpy(ex[n].data, r->env, sizeof r->env);
    n++;
  }
  /* obs rows are O2O_SIM_MAX_OBS wide in rec: pack them */
  float *obs = malloc(sizeof(float) * ROWS * (size_t)r->obs_dim);
  float *nobs = malloc(sizeof(float) * ROWS * (size_t)r->obs_dim);
  for (int t = 0; t < ROWS; t++) {
    memcpy(obs + t * r->obs_dim, r->obs[t], sizeof(float) * (size_t)r->obs_dim);
    memcpy(nobs + t * r->obs_dim, next[t], sizeof(float) * (size_t)r->obs_dim);
  }
  o2o_dataset_data d = {.n = ROWS,
                        .obs_dim = r->obs_dim,
                        .act_dim = 1,
                        .obs = obs,
                        .act = &r->act[0][0],
                        .rew = r->rew,
                        .next_obs = nobs,
                        .terminals = r->term,
                        .timeouts = r->tout,
                        .num_extras = n,
                        .extras = ex};
  char err[512];
  cr_assert_eq(o2o_dataset_write(path, &d, NULL, err, sizeof err), 0, "%s", err);
  for (int k = 0; k < n; k++)
    free(ex[k].data);
  free(obs);
  free(nobs);
}

static int render(const char *file, const char *dir) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "%s render --dataset %s --out %s --fps 25 --width 64 --height 48 --fast", O2O, file,
           dir);
  return rt_run(cmd, out, sizeof out);
}

Test(render_dataset, states_and_actions_replay_the_same_frames) {
  static rec r;
  record(&r);
  char dir[64], f[2][160], frames[2][160];
  rt_tempdir(dir, sizeof dir);
  const int what[2] = {WITH_STATES, WITH_SEED};
  for (int k = 0; k < 2; k++) {
    snprintf(f[k], sizeof f[k], "%s/d%d.hdf5", dir, k);
    snprintf(frames[k], sizeof frames[k], "%s/frames%d", dir, k);
    write_file(&r, f[k], what[k]);
    cr_assert_eq(render(f[k], frames[k]), 0, "replay failed:\n%s", out);
    cr_assert(strstr(out, k ? "actions from the start seeds" : "states: infos/qpos"), "%s", out);
    cr_assert(strstr(out, "40 steps"), "one episode of 40 rows:\n%s", out);
  }
  /* dt 0.04 s at 25 fps: one frame per row */
  int moved = 0;
  for (int t = 0; t < ROWS; t++) {
    char a[200], b[200], cmd[512];
    snprintf(a, sizeof a, "%s/frame_%06d.png", frames[0], t);
    snprintf(b, sizeof b, "%s/frame_%06d.png", frames[1], t);
    snprintf(cmd, sizeof cmd, "cmp -s %s %s", a, b);
    cr_assert_eq(rt_run(cmd, NULL, 0), 0, "frame %d differs between the two replays", t);
    snprintf(b, sizeof b, "%s/frame_%06d.png", frames[0], 0);
    snprintf(cmd, sizeof cmd, "cmp -s %s %s", a, b);
    moved += t > 0 && rt_run(cmd, NULL, 0) != 0;
  }
  cr_assert_gt(moved, ROWS / 2, "the replay does not move (%d frames differ from the first)",
               moved);
  rt_rmtree(dir);
}

Test(render_dataset, files_that_cannot_be_replayed_are_refused) {
  static rec r;
  record(&r);
  char dir[64], f[160], frames[160];
  rt_tempdir(dir, sizeof dir);
  snprintf(f, sizeof f, "%s/bare.hdf5", dir);
  snprintf(frames, sizeof frames, "%s/frames", dir);
  write_file(&r, f, 0);
  cr_assert_eq(render(f, frames), 1, "%s", out);
  cr_assert(strstr(out, "infos/qpos") && strstr(out, "metadata/seed"), "%s", out);
  /* actions that do not reproduce the observations: refused at that row */
  r.obs[17][1] += 0.5f;
  write_file(&r, f, WITH_SEED);
  cr_assert_eq(render(f, frames), 1, "%s", out);
  cr_assert(strstr(out, "diverges at row 17"), "%s", out);
  cr_assert_eq(rt_run("true", NULL, 0), 0);
  snprintf(f, sizeof f, "%s/d.hdf5", dir);
  write_file(&r, f, WITH_STATES);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "%s render --dataset %s --first-episode 3 --out %s", O2O, f, frames);
  cr_assert_eq(rt_run(cmd, out, sizeof out), 1, "%s", out);
  cr_assert(strstr(out, "has 1 episodes"), "%s", out);
  rt_rmtree(dir);
}
