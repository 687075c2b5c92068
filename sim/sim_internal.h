/* sim_internal.h: pieces shared by the sim/ sources (tasks, RNG); not a public API. */
#pragma once
#include <math.h>
#include <stdint.h>
#include <mujoco/mujoco.h>
#include "o2o_sim.h"

/* ---- per-env random numbers: xoshiro256** seeded through splitmix64 ---- */
typedef struct o2o_rng {
  uint64_t s[4];
} o2o_rng;

static inline uint64_t o2o_splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static inline void o2o_rng_seed(o2o_rng *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++)
    r->s[i] = o2o_splitmix64(&x);
}

static inline uint64_t o2o_rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

static inline uint64_t o2o_rng_next(o2o_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = o2o_rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = o2o_rotl(s[3], 45);
  return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double o2o_rng_uniform(o2o_rng *r) {
  return (double)(o2o_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [lo, hi). */
static inline double o2o_rng_range(o2o_rng *r, double lo, double hi) {
  return lo + (hi - lo) * o2o_rng_uniform(r);
}

/* Standard normal by Box-Muller; the second value is dropped so the RNG state alone is
 * the whole random state (get/set_state stays simple). */
static inline double o2o_rng_normal(o2o_rng *r) {
  double u1 = 1.0 - o2o_rng_uniform(r); /* (0, 1] so log is finite */
  double u2 = o2o_rng_uniform(r);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* ---- tasks: observation, reward, termination and reset noise of one Gymnasium task ---- */
typedef struct o2o_task {
  const char *name;
  int nq, nv, nu; /* model sizes the task code expects */
  int obs_dim;
  int frame_skip;           /* Gymnasium's value (documentation and checks) */
  double reset_noise_scale; /* default */
  int gaussian_qvel_noise;  /* 1: qvel = scale * N(0,1); 0: qvel = U(-scale, scale) */
  double ctrl_cost_weight;  /* 0 for pendulum */
  int forward_reward;       /* 1: reward has (x_after - x_before) / dt */
  double healthy_reward;    /* constant reward every step (v4 rule: also on the terminal step) */
  /* Observation of the current state (noise-free), float64 -> float32. */
  void (*observe)(const mjModel *m, const mjData *d, float *obs);
  /* 1 if the current state is terminal. */
  int (*terminated)(const mjModel *m, const mjData *d);
} o2o_task;

const o2o_task *o2o_task_find(const char *name);
const char *o2o_task_names(void); /* "pendulum, hopper, halfcheetah, walker2d" */

/* Reset d to the task's initial state: mj_resetData, qpos0 + U(-s, s), qvel U(-s, s) or
 * s * N(0, 1) per task, then mj_forward (as Gymnasium's set_state does). */
void o2o_task_reset_data(const o2o_task *t, const mjModel *m, mjData *d, double noise_scale,
                         o2o_rng *rng);

/* Apply dyn to m, starting from the pristine model m0 (same sizes). scratch is an mjData of
 * m used by mj_setConst when masses change. */
void o2o_dynamics_apply(mjModel *m, const mjModel *m0, mjData *scratch, const o2o_dynamics *dyn);
