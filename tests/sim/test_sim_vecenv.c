/* vecenv semantics: determinism (also through get/set_state), SAME_STEP autoreset with final
 * observations, truncation, task termination rules and rewards, bad actions. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "o2o_sim_mj.h"

static char err[O2O_SIM_ERRLEN];

static o2o_vecenv *make(const char *name, o2o_variant v, int n, o2o_scenario *out_sc) {
  o2o_scenario sc;
  cr_assert_eq(o2o_scenario_load(&sc, name, err, sizeof err), 0, "%s", err);
  if (out_sc) *out_sc = sc;
  o2o_vecenv *env = o2o_vecenv_create(&sc, v, n, err, sizeof err);
  cr_assert_not_null(env, "%s", err);
  return env;
}

/* Deterministic pseudo-random actions in [-1.2, 1.2] x high (some get clipped). */
static void actions_at(int t, const o2o_env_spec *sp, float *a) {
  uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(t + 1);
  for (int j = 0; j < sp->num_envs * sp->act_dim; j++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    double u = (double)(x >> 11) * 0x1.0p-53;
    a[j] = (float)((2.4 * u - 1.2) * sp->act_high[j % sp->act_dim]);
  }
}

/* Run T steps and hash every output bit. */
typedef struct {
  float obs[4][O2O_SIM_MAX_OBS];
  double sum_reward;
  uint64_t hash;
  int episodes;
} run_out;

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * 0x100000001B3ull;
  return h;
}

static void run(o2o_vecenv *env, int t0, int T, run_out *o) {
  const o2o_env_spec *sp = o2o_vecenv_spec(env);
  float a[4 * O2O_SIM_MAX_ACT];
  o2o_step_result r;
  o->hash = 0xcbf29ce484222325ull;
  for (int t = t0; t < t0 + T; t++) {
    actions_at(t, sp, a);
    cr_assert_eq(o2o_vecenv_step(env, a, &r, err, sizeof err), 0, "%s", err);
    int n = sp->num_envs, od = sp->obs_dim;
    o->hash = fnv(o->hash, r.obs, sizeof(float) * n * od);
    o->hash = fnv(o->hash, r.final_obs, sizeof(float) * n * od);
    o->hash = fnv(o->hash, r.reward, sizeof(float) * n);
    o->hash = fnv(o->hash, r.terminated, n);
    o->hash = fnv(o->hash, r.truncated, n);
    o->hash = fnv(o->hash, r.episode_step, sizeof(int32_t) * n);
    for (int i = 0; i < n; i++)
      o->episodes += r.terminated[i] || r.truncated[i];
  }
}

Test(sim_vecenv, same_seeds_and_actions_give_bit_identical_runs) {
  /* the sim variant of halfcheetah-noise exercises action noise; hopper-gravity resets often */
  const char *names[] = {"hopper-gravity", "halfcheetah-noise", "walker2d", "pendulum"};
  for (int s = 0; s < 4; s++) {
    o2o_scenario sc;
    o2o_vecenv_destroy(make(names[s], O2O_VARIANT_SIM, 1, &sc));
    sc.max_episode_steps = 120; /* so every task also truncates and autoresets */
    o2o_vecenv *a = o2o_vecenv_create(&sc, O2O_VARIANT_SIM, 4, err, sizeof err);
    o2o_vecenv *b = o2o_vecenv_create(&sc, O2O_VARIANT_SIM, 4, err, sizeof err);
    cr_assert(a && b, "%s", err);
    o2o_dynamics dyn;
    o2o_vecenv_get_dynamics(a, &dyn);
    dyn.obs_noise_std = 0.05; /* every random source on */
    dyn.action_delay = 2;
    cr_assert_eq(o2o_vecenv_set_dynamics(a, &dyn, err, sizeof err), 0, "%s", err);
    cr_assert_eq(o2o_vecenv_set_dynamics(b, &dyn, err, sizeof err), 0, "%s", err);
    uint64_t seeds[4] = {11, 12, 13, 14};
    o2o_vecenv_reset(a, seeds, NULL, err, sizeof err);
    o2o_vecenv_reset(b, seeds, NULL, err, sizeof err);
    run_out ra = {0}, rb = {0};
    run(a, 0, 300, &ra);
    run(b, 0, 300, &rb);
    cr_assert_eq(ra.hash, rb.hash, "%s: runs differ", names[s]);
    cr_assert_gt(ra.episodes, 0, "%s: no episode ended, autoreset not exercised", names[s]);
    /* a different seed gives a different run (the check can fail) */
    seeds[2] = 99;
    o2o_vecenv_reset(b, seeds, NULL, err, sizeof err);
    seeds[2] = 13;
    o2o_vecenv_reset(a, seeds, NULL, err, sizeof err);
    run(a, 0, 50, &ra);
    run(b, 0, 50, &rb);
    cr_assert_neq(ra.hash, rb.hash, "%s: seed has no effect", names[s]);
    o2o_vecenv_destroy(a);
    o2o_vecenv_destroy(b);
  }
}

Test(sim_vecenv, envs_are_independent_of_their_neighbours) {
  /* env 0 of a 1-env vecenv and env 0 of a 3-env vecenv with the same seed agree */
  o2o_vecenv *one = make("hopper", O2O_VARIANT_REAL, 1, NULL),
             *three = make("hopper", O2O_VARIANT_REAL, 3, NULL);
  uint64_t s1[1] = {5}, s3[3] = {5, 6, 7};
  float o1[11], o3[33];
  o2o_vecenv_reset(one, s1, o1, err, sizeof err);
  o2o_vecenv_reset(three, s3, o3, err, sizeof err);
  cr_assert_eq(memcmp(o1, o3, sizeof o1), 0);
  cr_assert_neq(memcmp(o3, o3 + 11, sizeof o1), 0, "envs with different seeds start alike");
  o2o_step_result r1, r3;
  float a1[3] = {0.3f, -0.2f, 0.1f}, a3[9] = {0.3f, -0.2f, 0.1f, 1, 1, 1, -1, -1, -1};
  for (int t = 0; t < 20; t++) {
    o2o_vecenv_step(one, a1, &r1, err, sizeof err);
    o2o_vecenv_step(three, a3, &r3, err, sizeof err);
    cr_assert_eq(memcmp(r1.obs, r3.obs, sizeof(float) * 11), 0, "step %d", t);
    cr_assert_eq(r1.reward[0], r3.reward[0]);
  }
  o2o_vecenv_destroy(one);
  o2o_vecenv_destroy(three);
}

Test(sim_vecenv, get_set_state_continues_bit_identically) {
  o2o_vecenv *a = make("halfcheetah-noise", O2O_VARIANT_SIM, 4, NULL);
  o2o_vecenv *b = make("halfcheetah-noise", O2O_VARIANT_SIM, 4, NULL);
  o2o_dynamics dyn;
  o2o_vecenv_get_dynamics(a, &dyn);
  dyn.obs_noise_std = 0.1;
  dyn.action_delay = 3;
  o2o_vecenv_set_dynamics(a, &dyn, err, sizeof err);
  o2o_vecenv_set_dynamics(b, &dyn, err, sizeof err);
  uint64_t sa[4] = {1, 2, 3, 4}, sb[4] = {40, 41, 42, 43};
  o2o_vecenv_reset(a, sa, NULL, err, sizeof err);
  o2o_vecenv_reset(b, sb, NULL, err, sizeof err); /* b starts somewhere else entirely */
  run_out ra = {0}, rb = {0};
  run(a, 0, 137, &ra);
  const int dim = o2o_vecenv_spec(a)->state_dim;
  double *st = malloc(sizeof(double) * dim);
  for (int i = 0; i < 4; i++) {
    cr_assert_eq(o2o_vecenv_get_state(a, i, st), 0);
    cr_assert_eq(o2o_vecenv_set_state(b, i, st, err, sizeof err), 0, "%s", err);
  }
  run(a, 137, 200, &ra);
  run(b, 137, 200, &rb);
  cr_assert_eq(ra.hash, rb.hash, "restored env diverged");
  /* a malformed state is refused and the env keeps its own */
  cr_assert_eq(o2o_vecenv_get_state(a, 1, st), 0);
  st[3] = NAN;
  cr_assert_eq(o2o_vecenv_set_state(b, 1, st, err, sizeof err), O2O_SIM_EINVAL);
  cr_assert(strstr(err, "state[3]"), "%s", err);
  cr_assert_eq(o2o_vecenv_set_state(b, 9, st, err, sizeof err), O2O_SIM_EINVAL);
  free(st);
  o2o_vecenv_destroy(a);
  o2o_vecenv_destroy(b);
}

Test(sim_vecenv, truncation_at_episode_limit_with_final_obs_and_autoreset) {
  o2o_scenario sc;
  o2o_vecenv *ref = make("halfcheetah", O2O_VARIANT_REAL, 2, &sc);
  sc.max_episode_steps = 7;
  o2o_vecenv *env = o2o_vecenv_create(&sc, O2O_VARIANT_REAL, 2, err, sizeof err);
  cr_assert_not_null(env, "%s", err);
  uint64_t seeds[2] = {3, 4};
  o2o_vecenv_reset(env, seeds, NULL, err, sizeof err);
  o2o_vecenv_reset(ref, seeds, NULL, err, sizeof err);
  float a[12] = {0.5f, -0.5f, 0.5f, -0.5f, 0.5f, -0.5f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
  o2o_step_result r, rr;
  for (int t = 1; t <= 7; t++) {
    cr_assert_eq(o2o_vecenv_step(env, a, &r, err, sizeof err), 0, "%s", err);
    o2o_vecenv_step(ref, a, &rr, err, sizeof err);
    for (int i = 0; i < 2; i++) {
      cr_assert_eq(r.terminated[i], 0, "halfcheetah never terminates");
      cr_assert_eq(r.truncated[i], t == 7, "step %d env %d", t, i);
      cr_assert_eq(r.episode_step[i], t == 7 ? 0 : t);
      cr_assert_eq(r.reward[i], rr.reward[i], "reward of the last step is the step's own");
    }
    /* final_obs = the observation the episode ended in (= what the unlimited env sees) */
    cr_assert_eq(memcmp(r.final_obs, rr.obs, sizeof(float) * 34), 0, "step %d", t);
    if (t < 7) cr_assert_eq(memcmp(r.obs, r.final_obs, sizeof(float) * 34), 0);
  }
  /* obs now holds a fresh episode: rootz/rooty/joints within the 0.1 reset noise of qpos0 */
  for (int i = 0; i < 2; i++)
    for (int k = 0; k < 8; k++)
      cr_assert(fabsf(r.obs[i * 17 + k]) <= 0.1f, "env %d obs[%d] = %g", i, k, r.obs[i * 17 + k]);
  cr_assert_neq(memcmp(r.obs, r.final_obs, sizeof(float) * 34), 0);
  /* and the next step continues from it */
  o2o_vecenv_step(env, a, &r, err, sizeof err);
  cr_assert_eq(r.episode_step[0], 1);
  cr_assert_eq(r.truncated[0], 0);
  o2o_vecenv_destroy(env);
  o2o_vecenv_destroy(ref);
}

Test(sim_vecenv, hopper_zero_action_falls_like_gymnasium_v4) {
  /* task facts: no reset noise, zero action -> unhealthy (angle) at step 141, return ~133.9,
   * with the +1 healthy reward also on the terminal step (v4) */
  o2o_scenario sc;
  cr_assert_eq(o2o_scenario_load(&sc, "hopper", err, sizeof err), 0, "%s", err);
  sc.reset_noise_scale = 0;
  o2o_vecenv *env = o2o_vecenv_create(&sc, O2O_VARIANT_REAL, 1, err, sizeof err);
  float a[3] = {0, 0, 0};
  o2o_step_result r;
  double ret = 0;
  int t = 0;
  do {
    o2o_vecenv_step(env, a, &r, err, sizeof err);
    ret += r.reward[0];
    t++;
  } while (!r.terminated[0] && t < 1000);
  cr_assert_eq(t, 141);
  cr_assert_float_eq(ret, 133.9, 0.1);
  cr_assert_gt(r.reward[0], 0.5, "terminal step keeps its healthy reward (v4)");
  cr_assert(fabsf(r.final_obs[1]) >= 0.2f, "ended on the angle rule: %g", r.final_obs[1]);
  o2o_vecenv_destroy(env);
}

/* Zero action, no reset noise: (steps until the episode ends, return). */
static int zero_action_episode(o2o_scenario *sc, double *ret) {
  sc->reset_noise_scale = 0;
  o2o_vecenv *env = o2o_vecenv_create(sc, O2O_VARIANT_REAL, 1, err, sizeof err);
  cr_assert_not_null(env, "%s", err);
  float a[O2O_SIM_MAX_ACT] = {0};
  o2o_step_result r;
  int t = 0;
  *ret = 0;
  do {
    o2o_vecenv_step(env, a, &r, err, sizeof err);
    *ret += r.reward[0];
    t++;
  } while (!r.terminated[0] && !r.truncated[0]);
  o2o_vecenv_destroy(env);
  return t;
}

Test(sim_vecenv, walker2d_model_matches_the_v5_facts_when_both_feet_have_friction_1_9) {
  /* The facts give the zero-action check for Walker2d-v5, whose only model difference from
   * v4 is the right foot's friction (0.9 -> 1.9): patch a copy of our model and compare
   * (step 135, return ~113.9). */
  o2o_scenario sc;
  cr_assert_eq(o2o_scenario_load(&sc, "walker2d", err, sizeof err), 0, "%s", err);
  FILE *f = fopen(sc.model_path, "r");
  cr_assert_not_null(f);
  static char xml[20000];
  size_t n = fread(xml, 1, sizeof xml - 1, f);
  fclose(f);
  xml[n] = 0;
  char *p = strstr(xml, "friction=\"0.9 0.1 0.1\"");
  cr_assert_not_null(p, "right foot friction not found");
  p[10] = '1', p[12] = '9';
  char path[] = "/tmp/o2o-test-walker-v5-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  cr_assert_eq(write(fd, xml, n), (ssize_t)n);
  close(fd);
  snprintf(sc.model_path, sizeof sc.model_path, "%s", path);
  double ret;
  int t = zero_action_episode(&sc, &ret);
  unlink(path);
  cr_assert_eq(t, 135, "v5 walker fell at step %d", t);
  cr_assert_float_eq(ret, 113.9, 0.1, "return %.3f", ret);
  /* the shipped v4 model (right foot 0.9) behaves differently */
  cr_assert_eq(o2o_scenario_load(&sc, "walker2d", err, sizeof err), 0, "%s", err);
  cr_assert_neq(zero_action_episode(&sc, &ret), 135);
}

Test(sim_vecenv, halfcheetah_zero_action_matches_the_facts) {
  o2o_scenario sc;
  cr_assert_eq(o2o_scenario_load(&sc, "halfcheetah", err, sizeof err), 0, "%s", err);
  double ret;
  cr_assert_eq(zero_action_episode(&sc, &ret), 1000);
  cr_assert_float_eq(ret, -0.25, 0.01, "return %.4f", ret);
}

/* Put env 0 of `name` into qpos/qvel (rest from reset), step once with zero action. */
static int terminated_after(const char *name, int qi, double qv, int vi, double vv) {
  o2o_scenario sc;
  cr_assert_eq(o2o_scenario_load(&sc, name, err, sizeof err), 0, "%s", err);
  sc.reset_noise_scale = 0;
  o2o_vecenv *env = o2o_vecenv_create(&sc, O2O_VARIANT_REAL, 1, err, sizeof err);
  const mjModel *m = o2o_vecenv_model(env);
  double st[1024];
  o2o_vecenv_get_state(env, 0, st);
  if (qi >= 0) st[1 + qi] = qv;
  if (vi >= 0) st[1 + m->nq + vi] = vv;
  cr_assert_eq(o2o_vecenv_set_state(env, 0, st, err, sizeof err), 0, "%s", err);
  float a[6] = {0};
  o2o_step_result r;
  o2o_vecenv_step(env, a, &r, err, sizeof err);
  int term = r.terminated[0];
  o2o_vecenv_destroy(env);
  return term;
}

Test(sim_vecenv, hopper_termination_rules) {
  cr_assert_eq(terminated_after("hopper", -1, 0, -1, 0), 0, "nominal start is healthy");
  cr_assert_eq(terminated_after("hopper", 1, 0.65, -1, 0), 1, "z below 0.7");
  cr_assert_eq(terminated_after("hopper", 1, 0.8, -1, 0), 0, "z 0.8 is healthy");
  cr_assert_eq(terminated_after("hopper", 2, 0.25, -1, 0), 1, "torso angle beyond 0.2");
  cr_assert_eq(terminated_after("hopper", 2, -0.25, -1, 0), 1, "torso angle beyond -0.2");
  cr_assert_eq(terminated_after("hopper", 2, 0.15, -1, 0), 0, "torso angle 0.15 is healthy");
  cr_assert_eq(terminated_after("hopper", -1, 0, 4, 150.0), 1, "joint velocity beyond 100");
  cr_assert_eq(terminated_after("hopper", -1, 0, 0, 150.0), 1,
               "x velocity is part of qvel, checked too");
  cr_assert_eq(terminated_after("hopper", 0, 150.0, -1, 0), 0, "x position is not checked");
}

Test(sim_vecenv, walker2d_termination_rules) {
  cr_assert_eq(terminated_after("walker2d", -1, 0, -1, 0), 0, "nominal start is healthy");
  cr_assert_eq(terminated_after("walker2d", 1, 0.75, -1, 0), 1, "z below 0.8");
  cr_assert_eq(terminated_after("walker2d", 1, 2.1, -1, 0), 1, "z above 2.0");
  cr_assert_eq(terminated_after("walker2d", 2, 1.1, -1, 0), 1, "torso angle beyond 1");
  cr_assert_eq(terminated_after("walker2d", 2, 0.5, -1, 0), 0,
               "angle 0.5 is healthy (hopper's would not be)");
  cr_assert_eq(terminated_after("walker2d", -1, 0, 4, 150.0), 0, "no velocity rule in walker2d");
  cr_assert_eq(terminated_after("pendulum", 1, 0.25, -1, 0), 1, "pendulum angle beyond 0.2");
  cr_assert_eq(terminated_after("pendulum", 1, 0.1, -1, 0), 0, "pendulum angle 0.1 is fine");
}

Test(sim_vecenv, halfcheetah_reward_is_forward_velocity_minus_ctrl_cost) {
  o2o_vecenv *env = make("halfcheetah", O2O_VARIANT_REAL, 1, NULL);
  const mjModel *m = o2o_vecenv_model(env);
  mjData *d = o2o_vecenv_data(env, 0);
  float a[6] = {0.5f, -0.5f, 0.25f, 1.0f, -1.0f, 0.0f};
  o2o_step_result r;
  double x0 = d->qpos[0];
  o2o_vecenv_step(env, a, &r, err, sizeof err);
  double want = (d->qpos[0] - x0) / (m->opt.timestep * 5) - 0.1 * (0.25 + 0.25 + 0.0625 + 1 + 1);
  cr_assert_float_eq(r.reward[0], want, 1e-5);
  o2o_vecenv_destroy(env);
}

Test(sim_vecenv, nan_inf_and_wrong_length_actions_are_rejected_and_nothing_steps) {
  o2o_vecenv *env = make("hopper", O2O_VARIANT_REAL, 2, NULL);
  double before[512], after[512];
  o2o_vecenv_get_state(env, 0, before);
  float a[6] = {0, 0, 0, 0, NAN, 0};
  o2o_step_result r;
  cr_assert_eq(o2o_vecenv_step(env, a, &r, err, sizeof err), O2O_SIM_EINVAL);
  cr_assert(strstr(err, "env 1, component 1"), "%s", err);
  a[4] = INFINITY;
  cr_assert_eq(o2o_vecenv_step(env, a, &r, err, sizeof err), O2O_SIM_EINVAL);
  a[4] = 0;
  cr_assert_eq(o2o_vecenv_step_n(env, a, 5, &r, err, sizeof err), O2O_SIM_EINVAL);
  cr_assert(strstr(err, "got 5"), "%s", err);
  cr_assert(strstr(err, "expected"), "%s", err);
  cr_assert_eq(o2o_vecenv_step_n(env, NULL, 6, &r, err, sizeof err), O2O_SIM_EINVAL);
  o2o_vecenv_get_state(env, 0, after);
  cr_assert_eq(memcmp(before, after, sizeof(double) * o2o_vecenv_spec(env)->state_dim), 0,
               "env moved");
  cr_assert_eq(o2o_vecenv_step_n(env, a, 6, &r, err, sizeof err), 0, "%s", err);
  o2o_vecenv_destroy(env);
}

Test(sim_vecenv, out_of_bounds_actions_are_clipped) {
  /* env 0 gets (5, -7, 1) and env 1 (1, -1, 1): same trajectory and reward */
  o2o_vecenv *env = make("hopper", O2O_VARIANT_REAL, 2, NULL);
  uint64_t seeds[2] = {8, 8};
  o2o_vecenv_reset(env, seeds, NULL, err, sizeof err);
  float a[6] = {5, -7, 1, 1, -1, 1};
  o2o_step_result r;
  for (int t = 0; t < 10; t++) {
    o2o_vecenv_step(env, a, &r, err, sizeof err);
    cr_assert_eq(memcmp(r.obs, r.obs + 11, sizeof(float) * 11), 0, "step %d", t);
    cr_assert_eq(r.reward[0], r.reward[1]);
    if (t == 0) { /* before any reset (which zeroes ctrl) */
      const mjData *d = o2o_vecenv_data(env, 0);
      cr_assert_eq(d->ctrl[0], 1.0);
      cr_assert_eq(d->ctrl[1], -1.0);
      /* ctrl cost is charged on the clipped action: 1e-3 * (1 + 1 + 1) */
      cr_assert_float_eq(r.reward[0], r.reward[1], 0);
    }
  }
  o2o_vecenv_destroy(env);
}

Test(sim_vecenv, actuator_without_ctrlrange_is_rejected_not_clipped_to_zero) {
  /* MuJoCo leaves ctrlrange at [0, 0] for an unlimited actuator: clipping to it would turn
   * every action into 0 without a word. */
  o2o_scenario sc;
  cr_assert_eq(o2o_scenario_load(&sc, O2O_TEST_DATA_DIR "/sim/data/bad_unlimited_actuator.ini", err,
                                 sizeof err),
               0, "%s", err);
  o2o_vecenv *env = o2o_vecenv_create(&sc, O2O_VARIANT_REAL, 1, err, sizeof err);
  cr_assert_null(env, "a model with an unbounded actuator was accepted");
  cr_assert(strstr(err, "unlimited.xml"), "%s", err);
  cr_assert(strstr(err, "actuator 0 'push'"), "%s", err);
  cr_assert(strstr(err, "ctrlrange"), "%s", err);
}

/* get_state(set_state(x)) is x bit for bit (mj_forward used to overwrite the warm-start
 * accelerations), and a state MuJoCo would reset on at its next step is refused. */
Test(sim_vecenv, set_state_round_trips_and_refuses_what_mujoco_would_reset) {
  o2o_vecenv *env = make("hopper", O2O_VARIANT_REAL, 1, NULL);
  run_out ro = {0};
  run(env, 0, 30, &ro); /* in contact with the floor: the constraint solver is busy */
  const int dim = o2o_vecenv_spec(env)->state_dim;
  double *x = malloc(sizeof(double) * dim), *y = malloc(sizeof(double) * dim);
  cr_assert_eq(o2o_vecenv_get_state(env, 0, x), 0);
  x[2] += 0.01; /* a state the env was not in */
  cr_assert_eq(o2o_vecenv_set_state(env, 0, x, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_vecenv_get_state(env, 0, y), 0);
  for (int j = 0; j < dim; j++)
    cr_assert_eq(memcmp(&x[j], &y[j], sizeof(double)), 0, "state[%d]: set %.17g, got %.17g", j,
                 x[j], y[j]);
  y[1] = 1e300; /* qpos[0] */
  cr_assert_eq(o2o_vecenv_set_state(env, 0, y, err, sizeof err), O2O_SIM_EINVAL);
  cr_assert(strstr(err, "state[1]") && strstr(err, "MuJoCo"), "%s", err);
  cr_assert_eq(o2o_vecenv_get_state(env, 0, y), 0);
  cr_assert_eq(memcmp(x, y, sizeof(double) * dim), 0, "a refused state changed the env");
  free(x);
  free(y);
  o2o_vecenv_destroy(env);
}

/* Physics that diverge inside a step (MuJoCo resets the data itself) end the episode with
 * the marker, never a silent jump back to the default pose inside a counting episode. */
Test(sim_vecenv, diverged_physics_ends_the_episode_marked) {
  o2o_vecenv *env = make("hopper", O2O_VARIANT_REAL, 2, NULL);
  const o2o_env_spec *sp = o2o_vecenv_spec(env);
  const int od = sp->obs_dim, nq = 6, nv = 6;
  uint64_t seeds[2] = {5, 6};
  o2o_vecenv_reset(env, seeds, NULL, err, sizeof err);
  float a[2 * O2O_SIM_MAX_ACT] = {0}, last[O2O_SIM_MAX_OBS];
  o2o_step_result r;
  for (int t = 0; t < 5; t++)
    cr_assert_eq(o2o_vecenv_step(env, a, &r, err, sizeof err), 0, "%s", err);
  memcpy(last, r.obs, sizeof(float) * od);
  double *st = malloc(sizeof(double) * sp->state_dim);
  cr_assert_eq(o2o_vecenv_get_state(env, 0, st), 0);
  for (int j = 0; j < nv; j++)
    st[1 + nq + j] = 1e6; /* accepted (below 1e10), but the next qacc blows up */
  cr_assert_eq(o2o_vecenv_set_state(env, 0, st, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_vecenv_step(env, a, &r, err, sizeof err), 0, "%s", err);
  cr_assert_eq(r.episode_step[0], O2O_SIM_DIVERGED, "episode_step %d", r.episode_step[0]);
  cr_assert_eq(r.truncated[0], 1);
  cr_assert_eq(r.terminated[0], 0);
  cr_assert_eq(r.reward[0], 0.0f);
  cr_assert_eq(memcmp(r.final_obs, last, sizeof(float) * od), 0, "final_obs is not the last obs");
  for (int k = 0; k < od; k++)
    cr_assert(isfinite(r.obs[k]) && fabsf(r.obs[k]) < 2, "obs[%d] = %g: not a fresh start", k,
              r.obs[k]);
  cr_assert_eq(r.episode_step[1], 6, "the neighbour env was disturbed");
  cr_assert_eq(o2o_vecenv_step(env, a, &r, err, sizeof err), 0, "%s", err);
  cr_assert_eq(r.episode_step[0], 1, "the new episode does not count from 0");
  free(st);
  o2o_vecenv_destroy(env);
}
