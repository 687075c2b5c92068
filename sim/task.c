/* task.c: the four Gymnasium v4 tasks (observation, termination, reward weights, reset
 * noise), written from the published task definitions (Gymnasium's *_v4.py environments,
 * github.com/Farama-Foundation/Gymnasium). */
#include <string.h>
#include "sim_internal.h"

static inline float clip10(double v) {
  return (float)(v < -10.0 ? -10.0 : v > 10.0 ? 10.0 : v);
}

/* InvertedPendulum: obs = qpos ++ qvel. */
static void pendulum_observe(const mjModel *m, const mjData *d, float *obs) {
  (void)m;
  obs[0] = (float)d->qpos[0];
  obs[1] = (float)d->qpos[1];
  obs[2] = (float)d->qvel[0];
  obs[3] = (float)d->qvel[1];
}

static int pendulum_terminated(const mjModel *m, const mjData *d) {
  (void)m;
  for (int i = 0; i < 2; i++)
    if (!isfinite(d->qpos[i]) || !isfinite(d->qvel[i])) return 1;
  return fabs(d->qpos[1]) > 0.2;
}

/* Hopper / Walker2d: obs = qpos[1:] ++ clip(qvel, -10, 10) (rootx excluded). */
static void planar_observe(const mjModel *m, const mjData *d, float *obs) {
  int k = 0;
  for (int i = 1; i < m->nq; i++)
    obs[k++] = (float)d->qpos[i];
  for (int i = 0; i < m->nv; i++)
    obs[k++] = clip10(d->qvel[i]);
}

/* Hopper healthy: 0.7 < z, |angle| < 0.2, every element of (qpos, qvel)[2:] in (-100, 100)
 * (unclipped). Written so NaN counts as unhealthy. */
static int hopper_terminated(const mjModel *m, const mjData *d) {
  if (!(d->qpos[1] > 0.7)) return 1;
  if (!(d->qpos[2] > -0.2 && d->qpos[2] < 0.2)) return 1;
  for (int i = 2; i < m->nq; i++)
    if (!(d->qpos[i] > -100.0 && d->qpos[i] < 100.0)) return 1;
  for (int i = 0; i < m->nv; i++)
    if (!(d->qvel[i] > -100.0 && d->qvel[i] < 100.0)) return 1;
  return 0;
}

/* Walker2d healthy: 0.8 < z < 2.0 and -1 < angle < 1. */
static int walker2d_terminated(const mjModel *m, const mjData *d) {
  (void)m;
  if (!(d->qpos[1] > 0.8 && d->qpos[1] < 2.0)) return 1;
  return !(d->qpos[2] > -1.0 && d->qpos[2] < 1.0);
}

/* HalfCheetah: obs = qpos[1:] ++ qvel, no clipping; never terminates. */
static void cheetah_observe(const mjModel *m, const mjData *d, float *obs) {
  int k = 0;
  for (int i = 1; i < m->nq; i++)
    obs[k++] = (float)d->qpos[i];
  for (int i = 0; i < m->nv; i++)
    obs[k++] = (float)d->qvel[i];
}

static int never_terminated(const mjModel *m, const mjData *d) {
  (void)m;
  (void)d;
  return 0;
}

/* generic: any model; obs = qpos ++ qvel, reward 0, never terminates, no reset noise. For
 * custom models and the physics tests. */
static void generic_observe(const mjModel *m, const mjData *d, float *obs) {
  int k = 0;
  for (int i = 0; i < m->nq; i++)
    obs[k++] = (float)d->qpos[i];
  for (int i = 0; i < m->nv; i++)
    obs[k++] = (float)d->qvel[i];
}

static const o2o_task TASKS[] = {
    {"pendulum", 2, 2, 1, 4, 2, 0.01, 0, 0.0, 0, 1.0, pendulum_observe, pendulum_terminated},
    {"hopper", 6, 6, 3, 11, 4, 5e-3, 0, 1e-3, 1, 1.0, planar_observe, hopper_terminated},
    {"halfcheetah", 9, 9, 6, 17, 5, 0.1, 1, 0.1, 1, 0.0, cheetah_observe, never_terminated},
    {"walker2d", 9, 9, 6, 17, 4, 5e-3, 0, 1e-3, 1, 1.0, planar_observe, walker2d_terminated},
    {"generic", 0, 0, 0, 0, 1, 0.0, 0, 0.0, 0, 0.0, generic_observe, never_terminated},
};

const o2o_task *o2o_task_find(const char *name) {
  for (size_t i = 0; i < sizeof TASKS / sizeof TASKS[0]; i++)
    if (strcmp(TASKS[i].name, name) == 0) return &TASKS[i];
  return NULL;
}

const char *o2o_task_names(void) {
  return "pendulum, hopper, halfcheetah, walker2d, generic";
}

void o2o_task_reset_data(const o2o_task *t, const mjModel *m, mjData *d, double s, o2o_rng *rng) {
  mj_resetData(m, d);
  for (int i = 0; i < m->nq; i++)
    d->qpos[i] = m->qpos0[i] + o2o_rng_range(rng, -s, s);
  for (int i = 0; i < m->nv; i++)
    d->qvel[i] = t->gaussian_qvel_noise ? s * o2o_rng_normal(rng) : o2o_rng_range(rng, -s, s);
  mj_forward(m, d);
}
