/* Perturbations change the physics in the direction and by the amount physics predicts.
 * Uses small test models (the .xml files in tests/sim/data, with the generic task) where the answer
 * is known in closed form. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "o2o_sim_mj.h"

#define DATA O2O_TEST_DATA_DIR "/sim/data/"
static char err[O2O_SIM_ERRLEN];

static o2o_vecenv *make_dyn(const char *path, int n, const o2o_dynamics *dyn) {
  o2o_scenario sc;
  cr_assert_eq(o2o_scenario_load(&sc, path, err, sizeof err), 0, "%s", err);
  o2o_vecenv *env = o2o_vecenv_create(&sc, O2O_VARIANT_REAL, n, err, sizeof err);
  cr_assert_not_null(env, "%s", err);
  if (dyn) cr_assert_eq(o2o_vecenv_set_dynamics(env, dyn, err, sizeof err), 0, "%s", err);
  uint64_t seeds[64] = {0};
  for (int i = 0; i < n; i++)
    seeds[i] = 1000 + i;
  o2o_vecenv_reset(env, seeds, NULL, err, sizeof err);
  return env;
}

static o2o_dynamics dyn_with(double gravity, double friction, double mass, double damping,
                             double gear) {
  o2o_dynamics d;
  o2o_dynamics_default(&d);
  d.gravity_scale = gravity, d.friction_scale = friction, d.mass_scale = mass;
  d.damping_scale = damping, d.gear_scale = gear;
  return d;
}

/* Set qpos/qvel of env i (others kept). */
static void set_qv(o2o_vecenv *env, int i, const double *qpos, const double *qvel) {
  const mjModel *m = o2o_vecenv_model(env);
  double st[1024];
  o2o_vecenv_get_state(env, i, st);
  if (qpos) memcpy(st + 1, qpos, sizeof(double) * m->nq);
  if (qvel) memcpy(st + 1 + m->nq, qvel, sizeof(double) * m->nv);
  cr_assert_eq(o2o_vecenv_set_state(env, i, st, err, sizeof err), 0, "%s", err);
}

/* Free fall: steps until the ball has dropped `drop` metres. */
static int steps_to_drop(double gravity_scale, double drop, double *drop_at_100) {
  o2o_dynamics d = dyn_with(gravity_scale, 1, 1, 1, 1);
  o2o_vecenv *env = make_dyn(DATA "ball.ini", 1, &d);
  double q[1] = {0}, v[1] = {0};
  set_qv(env, 0, q, v);
  const mjData *data = o2o_vecenv_data(env, 0);
  float a[1] = {0};
  o2o_step_result r;
  int n = 0;
  while (-data->qpos[0] < drop && n < 100000) {
    o2o_vecenv_step(env, a, &r, err, sizeof err);
    if (++n == 100) *drop_at_100 = -data->qpos[0];
  }
  o2o_vecenv_destroy(env);
  return n;
}

Test(sim_dynamics, doubled_gravity_drops_the_same_height_in_1_over_sqrt2_of_the_time) {
  double h1 = 0, h2 = 0;
  int n1 = steps_to_drop(1.0, 1.0, &h1), n2 = steps_to_drop(2.0, 1.0, &h2);
  const double dt = 0.002;
  /* t = sqrt(2 h / g): 0.4515 s nominal */
  cr_assert(fabs(n1 * dt - sqrt(2.0 / 9.81)) <= dt, "nominal: %d steps", n1);
  cr_assert(fabs(n2 * dt - n1 * dt / sqrt(2.0)) <= dt, "doubled: %d steps vs %d / sqrt 2", n2, n1);
  /* and at equal time the drop is exactly twice as far (h = g t^2 / 2) */
  cr_assert_float_eq(h2 / h1, 2.0, 1e-9, "drop ratio %.12f", h2 / h1);
}

/* Sliding sled: settle on the floor, launch at 1 m/s, distance until it stops. */
static double slide_distance(double friction_scale) {
  o2o_dynamics d = dyn_with(1, friction_scale, 1, 1, 1);
  o2o_vecenv *env = make_dyn(DATA "sled.ini", 1, &d);
  float a[1] = {0};
  o2o_step_result r;
  for (int t = 0; t < 300; t++)
    o2o_vecenv_step(env, a, &r, err, sizeof err); /* settle */
  const mjData *data = o2o_vecenv_data(env, 0);
  double x0 = data->qpos[0], v[2] = {1.0, 0.0};
  set_qv(env, 0, NULL, v);
  for (int t = 0; t < 5000 && data->qvel[0] > 1e-4; t++)
    o2o_vecenv_step(env, a, &r, err, sizeof err);
  double dist = data->qpos[0] - x0;
  o2o_vecenv_destroy(env);
  return dist;
}

Test(sim_dynamics, friction_scale_sets_the_sliding_distance) {
  /* Coulomb friction: a block launched at v stops after v^2 / (2 mu g); mu = 0.5 */
  double d1 = slide_distance(1.0), d03 = slide_distance(0.3);
  double want1 = 1.0 / (2 * 0.5 * 9.81), want03 = 1.0 / (2 * 0.15 * 9.81);
  cr_assert(fabs(d1 / want1 - 1) < 0.15, "mu 0.5: slid %.4f m, Coulomb %.4f m", d1, want1);
  cr_assert(fabs(d03 / want03 - 1) < 0.15, "mu 0.15: slid %.4f m, Coulomb %.4f m", d03, want03);
  cr_assert(fabs((d03 / d1) * 0.3 - 1) < 0.1, "ratio %.3f, want 1 / 0.3", d03 / d1);
}

/* Pushed box: constant force F = ctrl * gear for n steps of semi-implicit Euler from rest:
 * x_n = (F / m) dt^2 n (n + 1) / 2. */
static double pushed_x(const o2o_dynamics *d, float force, int n, int env_count) {
  o2o_vecenv *env = make_dyn(DATA "box.ini", env_count, d);
  double q[2] = {0, 0}, v[2] = {0, 0};
  for (int i = 0; i < env_count; i++)
    set_qv(env, i, q, v);
  float a[64];
  for (int i = 0; i < env_count; i++)
    a[i] = force;
  o2o_step_result r;
  for (int t = 0; t < n; t++)
    o2o_vecenv_step(env, a, &r, err, sizeof err);
  double x = o2o_vecenv_data(env, 0)->qpos[0];
  o2o_vecenv_destroy(env);
  return x;
}

Test(sim_dynamics, mass_scale_halves_acceleration_under_the_same_force) {
  const int n = 100;
  const double dt = 0.01, want = 2.0 * dt * dt * n * (n + 1) / 2;
  o2o_dynamics d1 = dyn_with(1, 1, 1, 1, 1), d2 = dyn_with(1, 1, 2, 1, 1);
  double x1 = pushed_x(&d1, 2.0f, n, 1), x2 = pushed_x(&d2, 2.0f, n, 1);
  cr_assert_float_eq(x1, want, 1e-9 * want, "x %.12f want %.12f", x1, want);
  cr_assert_float_eq(x2 / x1, 0.5, 1e-9, "ratio %.12f", x2 / x1);
}

Test(sim_dynamics, gear_scale_scales_the_actuator_force) {
  o2o_dynamics d1 = dyn_with(1, 1, 1, 1, 1), d2 = dyn_with(1, 1, 1, 1, 2.0),
               d3 = dyn_with(1, 1, 1, 1, 0.5);
  double x1 = pushed_x(&d1, 2.0f, 50, 1), x2 = pushed_x(&d2, 2.0f, 50, 1),
         x3 = pushed_x(&d3, 2.0f, 50, 1);
  cr_assert_float_eq(x2 / x1, 2.0, 1e-9, "gear x2: ratio %.12f", x2 / x1);
  cr_assert_float_eq(x3 / x1, 0.5, 1e-9, "gear x0.5: ratio %.12f", x3 / x1);
}

/* Damped box launched at 1 m/s, no force: v(t) = exp(-b t / m); MuJoCo's Euler treats
 * damping implicitly, so per step v <- v / (1 + dt b / m) exactly. */
static double damped_v(double damping_scale, int n) {
  o2o_dynamics d = dyn_with(1, 1, 1, damping_scale, 1);
  o2o_vecenv *env = make_dyn(DATA "box.ini", 1, &d);
  double q[2] = {0, 0}, v[2] = {0, 1.0};
  set_qv(env, 0, q, v);
  float a[1] = {0};
  o2o_step_result r;
  for (int t = 0; t < n; t++)
    o2o_vecenv_step(env, a, &r, err, sizeof err);
  double vel = o2o_vecenv_data(env, 0)->qvel[1];
  o2o_vecenv_destroy(env);
  return vel;
}

Test(sim_dynamics, damping_scale_sets_the_velocity_decay_rate) {
  const int n = 100; /* 1 s */
  double v1 = damped_v(1.0, n), v2 = damped_v(2.0, n), v0 = damped_v(0.0, n);
  const double w1 = pow(1 + 0.01 * 1, -n), w2 = pow(1 + 0.01 * 2, -n);
  cr_assert_float_eq(v1, w1, 1e-9, "b = 1: v(1 s) = %.9f, want %.9f", v1, w1);
  cr_assert_float_eq(v2, w2, 1e-9, "b = 2: v(1 s) = %.9f, want %.9f", v2, w2);
  /* and both are within 2.5% of the continuous-time decay */
  cr_assert(fabs(v1 / exp(-1.0) - 1) < 0.025 && fabs(v2 / exp(-2.0) - 1) < 0.025, "%g %g", v1, v2);
  cr_assert_float_eq(v0, 1.0, 1e-12, "no damping: v stays 1, got %.12f", v0);
}

Test(sim_dynamics, action_noise_is_gaussian_with_the_given_std_in_action_units) {
  /* zero action + noise sigma (N, gear 1, 1 kg): v_n = dt * sum of n noises, std dt sqrt(n) sigma
   */
  const int envs = 64, n = 100;
  const double sigma = 1.5, dt = 0.01;
  o2o_dynamics d = dyn_with(1, 1, 1, 1, 1);
  d.action_noise_std = sigma;
  o2o_vecenv *env = make_dyn(DATA "box.ini", envs, &d);
  double q[2] = {0, 0}, v[2] = {0, 0};
  for (int i = 0; i < envs; i++)
    set_qv(env, i, q, v);
  float a[64] = {0};
  o2o_step_result r;
  for (int t = 0; t < n; t++)
    o2o_vecenv_step(env, a, &r, err, sizeof err);
  double s = 0, ss = 0;
  for (int i = 0; i < envs; i++) {
    double vi = o2o_vecenv_data(env, i)->qvel[0];
    s += vi, ss += vi * vi;
  }
  double mean = s / envs, sd = sqrt(ss / envs - mean * mean), want = dt * sqrt((double)n) * sigma;
  cr_assert(fabs(sd / want - 1) < 0.3, "velocity std %.4f, want %.4f", sd, want);
  cr_assert(fabs(mean) < 4 * want / sqrt(envs), "velocity mean %.4f should be ~0", mean);
  o2o_vecenv_destroy(env);
  /* without noise nothing moves */
  o2o_dynamics quiet = dyn_with(1, 1, 1, 1, 1);
  cr_assert_eq(pushed_x(&quiet, 0.0f, n, 4), 0.0);
}

Test(sim_dynamics, obs_noise_perturbs_observations_not_the_state) {
  const int envs = 32;
  const double sigma = 0.5;
  o2o_dynamics noisy = dyn_with(1, 1, 1, 1, 1), clean = noisy;
  noisy.obs_noise_std = sigma;
  o2o_vecenv *a = make_dyn(DATA "box.ini", envs, &noisy),
             *b = make_dyn(DATA "box.ini", envs, &clean);
  float act[64];
  for (int i = 0; i < envs; i++)
    act[i] = 1.0f;
  o2o_step_result ra, rb;
  double ss = 0, s = 0;
  int cnt = 0;
  for (int t = 0; t < 20; t++) {
    o2o_vecenv_step(a, act, &ra, err, sizeof err);
    o2o_vecenv_step(b, act, &rb, err, sizeof err);
    for (int i = 0; i < envs; i++) {
      cr_assert_eq(
          memcmp(o2o_vecenv_data(a, i)->qpos, o2o_vecenv_data(b, i)->qpos, 2 * sizeof(double)), 0,
          "obs noise changed the physics");
      for (int k = 0; k < 4; k++) {
        double e = (double)ra.obs[i * 4 + k] - rb.obs[i * 4 + k];
        s += e, ss += e * e, cnt++;
      }
    }
  }
  double sd = sqrt(ss / cnt - (s / cnt) * (s / cnt));
  cr_assert(fabs(sd / sigma - 1) < 0.08, "obs error std %.4f, want %.4f (%d samples)", sd, sigma,
            cnt);
  o2o_vecenv_destroy(a);
  o2o_vecenv_destroy(b);
}

Test(sim_dynamics, action_delay_shifts_the_trajectory_by_k_steps) {
  const int k = 3, n = 40;
  o2o_dynamics d0 = dyn_with(1, 1, 1, 1, 1), dk = d0;
  dk.action_delay = k;
  o2o_vecenv *a = make_dyn(DATA "box.ini", 1, &d0), *b = make_dyn(DATA "box.ini", 1, &dk);
  double q[2] = {0, 0}, v[2] = {0, 0};
  set_qv(a, 0, q, v);
  set_qv(b, 0, q, v);
  double xa[64], xb[64];
  o2o_step_result r;
  for (int t = 0; t < n; t++) {
    float f[1] = {(float)(1.0 + 0.1 * t)}; /* a changing force, so order matters */
    o2o_vecenv_step(a, f, &r, err, sizeof err);
    o2o_vecenv_step(b, f, &r, err, sizeof err);
    xa[t] = o2o_vecenv_data(a, 0)->qpos[0];
    xb[t] = o2o_vecenv_data(b, 0)->qpos[0];
  }
  for (int t = 0; t < k; t++)
    cr_assert_eq(xb[t], 0.0, "delayed box moved at step %d", t);
  for (int t = k; t < n; t++)
    cr_assert_eq(xb[t], xa[t - k], "step %d: %.12g vs %.12g", t, xb[t], xa[t - k]);
  o2o_vecenv_destroy(a);
  o2o_vecenv_destroy(b);
}

Test(sim_dynamics, set_dynamics_starts_from_nominal_each_time_and_validates) {
  o2o_scenario sc;
  cr_assert_eq(o2o_scenario_load(&sc, "hopper", err, sizeof err), 0, "%s", err);
  o2o_vecenv *env = o2o_vecenv_create(&sc, O2O_VARIANT_REAL, 1, err, sizeof err);
  o2o_vecenv *fresh = o2o_vecenv_create(&sc, O2O_VARIANT_REAL, 1, err, sizeof err);
  const mjModel *m = o2o_vecenv_model(env), *m0 = o2o_vecenv_model(fresh);
  o2o_dynamics d = dyn_with(2, 0.3, 1.5, 3, 0.5);
  cr_assert_eq(o2o_vecenv_set_dynamics(env, &d, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_vecenv_set_dynamics(env, &d, err, sizeof err), 0, "%s", err); /* twice */
  cr_assert_float_eq(m->opt.gravity[2], 2 * m0->opt.gravity[2], 1e-12);
  for (int g = 0; g < m->ngeom; g++)
    for (int k = 0; k < 3; k++) /* all three coefficients, like H2O's XML edit */
      cr_assert_float_eq(m->geom_friction[3 * g + k], 0.3 * m0->geom_friction[3 * g + k], 1e-12);
  for (int b = 0; b < m->nbody; b++) {
    cr_assert_float_eq(m->body_mass[b], 1.5 * m0->body_mass[b], 1e-12);
    cr_assert_float_eq(m->body_inertia[3 * b + 1], 1.5 * m0->body_inertia[3 * b + 1], 1e-12);
  }
  for (int j = 0; j < m->nv; j++)
    cr_assert_float_eq(m->dof_damping[j], 3 * m0->dof_damping[j], 1e-12);
  for (int u = 0; u < m->nu; u++)
    cr_assert_float_eq(m->actuator_gear[6 * u], 0.5 * m0->actuator_gear[6 * u], 1e-12);
  /* an invalid request is refused and the env keeps what it had */
  o2o_dynamics bad = d;
  bad.friction_scale = -1;
  cr_assert_eq(o2o_vecenv_set_dynamics(env, &bad, err, sizeof err), O2O_SIM_ERANGE);
  cr_assert(strstr(err, "friction_scale"), "%s", err);
  o2o_dynamics got;
  o2o_vecenv_get_dynamics(env, &got);
  cr_assert_eq(got.friction_scale, 0.3);
  /* back to nominal: the model is the compiled one again, bit for bit where it matters */
  o2o_dynamics nominal;
  o2o_dynamics_default(&nominal);
  cr_assert_eq(o2o_vecenv_set_dynamics(env, &nominal, err, sizeof err), 0, "%s", err);
  cr_assert_eq(memcmp(m->body_mass, m0->body_mass, sizeof(double) * m->nbody), 0);
  cr_assert_eq(memcmp(m->dof_invweight0, m0->dof_invweight0, sizeof(double) * m->nv), 0);
  cr_assert_eq(memcmp(m->geom_friction, m0->geom_friction, sizeof(double) * 3 * m->ngeom), 0);
  cr_assert_eq(m->opt.gravity[2], m0->opt.gravity[2]);
  o2o_vecenv_destroy(env);
  o2o_vecenv_destroy(fresh);
}

Test(sim_dynamics, gap_scenarios_perturb_only_their_sim_variant) {
  o2o_scenario sc;
  cr_assert_eq(o2o_scenario_load(&sc, "hopper-gravity", err, sizeof err), 0, "%s", err);
  o2o_vecenv *real = o2o_vecenv_create(&sc, O2O_VARIANT_REAL, 1, err, sizeof err);
  o2o_vecenv *sim = o2o_vecenv_create(&sc, O2O_VARIANT_SIM, 1, err, sizeof err);
  cr_assert_float_eq(o2o_vecenv_model(real)->opt.gravity[2], -9.81, 1e-12);
  cr_assert_float_eq(o2o_vecenv_model(sim)->opt.gravity[2], -19.62, 1e-12);
  /* and the hopper falls faster in sim: zero action, same seed */
  uint64_t s = 3;
  o2o_vecenv_reset(real, &s, NULL, err, sizeof err);
  o2o_vecenv_reset(sim, &s, NULL, err, sizeof err);
  float a[3] = {0};
  o2o_step_result r;
  int tr = 0, ts = 0;
  do
    o2o_vecenv_step(real, a, &r, err, sizeof err), tr++;
  while (!r.terminated[0] && tr < 1000);
  do
    o2o_vecenv_step(sim, a, &r, err, sizeof err), ts++;
  while (!r.terminated[0] && ts < 1000);
  cr_assert_lt(ts, tr, "sim (2g) fell after %d steps, real after %d", ts, tr);
  o2o_vecenv_destroy(real);
  o2o_vecenv_destroy(sim);
}
