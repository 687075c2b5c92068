/* fake_env.h: a tiny in-process o2o_train_env for tests of the training loop (no simulator):
 * a 1-d point pushed by its action. obs = (x, v, t/T), reward = 1 - |x|, terminated when
 * |x| > 3, truncated after T steps. Can inject a NaN reward at a chosen env step and call a
 * hook there (to snapshot files the loop must not touch afterwards). */
#pragma once
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learn/sac.h"
#include "run/train.h"

typedef struct fake_env {
  o2o_bridge_spec spec;
  int T;
  float *x, *v, *obs, *final_obs, *reward;
  uint8_t *term, *trunc;
  int32_t *t;
  float *pending;     /* actions of the outstanding step */
  int64_t steps;      /* env steps taken (all envs) */
  uint8_t *lost;      /* [num_envs] rows lost to a simulated fault in the last step */
  int64_t lose_every; /* env 1's step is lost every this many calls (0 = never) */
  int64_t calls;
  int64_t nan_at; /* inject a NaN reward into env 0 once steps reaches this (0 = never) */
  void (*on_nan)(void *);
  void *on_nan_ctx;
  uint64_t rng;
  uint64_t last_seed; /* seed of the last reset (env j: + j) */
  int in_flight;      /* steps sent and not yet received */
} fake_env;

static float fake_uniform(uint64_t *s) {
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return (float)((*s >> 40) * (1.0 / 16777216.0)) - 0.5f;
}

static void fake_obs(fake_env *f, int i, float *o) {
  o[0] = f->x[i];
  o[1] = f->v[i];
  o[2] = (float)f->t[i] / (float)f->T;
}

static void fake_reset_one(fake_env *f, int i) {
  f->x[i] = 2.0f * fake_uniform(&f->rng);
  f->v[i] = 0;
  f->t[i] = 0;
}

static const o2o_bridge_spec *fake_spec(void *ctx) {
  return &((fake_env *)ctx)->spec;
}

static int fake_reset(void *ctx, uint64_t seed, float *obs, char *err, size_t errlen) {
  (void)err, (void)errlen;
  fake_env *f = ctx;
  f->rng = seed * 2654435761ULL + 1;
  f->last_seed = seed;
  for (int i = 0; i < f->spec.num_envs; i++) {
    fake_reset_one(f, i);
    fake_obs(f, i, obs + 3 * i);
  }
  return 0;
}

static int fake_send(void *ctx, const float *actions, char *err, size_t errlen) {
  (void)err, (void)errlen;
  fake_env *f = ctx;
  memcpy(f->pending, actions, (size_t)f->spec.num_envs * sizeof(float));
  f->in_flight++;
  return 0;
}

static int fake_recv(void *ctx, o2o_bridge_batch *out, char *err, size_t errlen) {
  (void)err, (void)errlen;
  fake_env *f = ctx;
  f->calls++;
  f->in_flight--;
  for (int i = 0; i < f->spec.num_envs; i++) {
    f->lost[i] = f->lose_every > 0 && i == 1 && f->calls % f->lose_every == 0;
    if (f->lost[i]) {
      /* as o2o_pool after a dead simulator: last obs as final_obs, a fresh episode */
      fake_obs(f, i, f->final_obs + 3 * i);
      fake_reset_one(f, i);
      fake_obs(f, i, f->obs + 3 * i);
      f->reward[i] = 0;
      f->term[i] = 0;
      f->trunc[i] = 1;
      f->steps++;
      continue;
    }
    float a = fmaxf(-2.0f, fminf(2.0f, f->pending[i]));
    f->v[i] = 0.8f * f->v[i] + 0.1f * a;
    f->x[i] += f->v[i];
    f->t[i]++;
    f->reward[i] = 1.0f - fabsf(f->x[i]);
    f->term[i] = fabsf(f->x[i]) > 3.0f;
    f->trunc[i] = !f->term[i] && f->t[i] >= f->T;
    fake_obs(f, i, f->final_obs + 3 * i);
    if (f->term[i] || f->trunc[i]) fake_reset_one(f, i);
    fake_obs(f, i, f->obs + 3 * i);
    f->steps++;
    if (f->nan_at > 0 && f->steps == f->nan_at) {
      f->reward[0] = NAN;
      if (f->on_nan) f->on_nan(f->on_nan_ctx);
    }
  }
  out->num_envs = f->spec.num_envs;
  out->obs = f->obs;
  out->reward = f->reward;
  out->terminated = f->term;
  out->truncated = f->trunc;
  out->final_obs = f->final_obs;
  out->episode_step = f->t;
  return 0;
}

static const uint8_t *fake_lost(void *ctx) {
  return ((fake_env *)ctx)->lost;
}

static void fake_destroy(void *ctx) {
  fake_env *f = ctx;
  free(f->lost);
  free(f->x), free(f->v), free(f->obs), free(f->final_obs), free(f->reward);
  free(f->term), free(f->trunc), free(f->t), free(f->pending);
  free(f);
}

static fake_env *fake_env_create(o2o_train_env *env, int num_envs, int T) {
  fake_env *f = calloc(1, sizeof(*f));
  snprintf(f->spec.scenario, sizeof(f->spec.scenario), "fake-point");
  snprintf(f->spec.variant, sizeof(f->spec.variant), "real");
  snprintf(f->spec.task, sizeof(f->spec.task), "point");
  f->spec.num_envs = num_envs;
  f->spec.obs_dim = 3;
  f->spec.act_dim = 1;
  f->spec.act_low[0] = -2.0f;
  f->spec.act_high[0] = 2.0f;
  f->spec.max_episode_steps = T;
  f->T = T;
  size_t n = (size_t)num_envs;
  f->x = calloc(n, 4), f->v = calloc(n, 4), f->obs = calloc(3 * n, 4);
  f->final_obs = calloc(3 * n, 4), f->reward = calloc(n, 4), f->term = calloc(n, 1);
  f->trunc = calloc(n, 1), f->t = calloc(n, 4), f->pending = calloc(n, 4);
  f->lost = calloc(n, 1);
  env->ctx = f;
  env->spec = fake_spec;
  env->reset = fake_reset;
  env->step_send = fake_send;
  env->step_recv = fake_recv;
  env->destroy = fake_destroy;
  env->lost = fake_lost;
  return f;
}

/* The whole file at path (NUL-terminated, malloc'd), or NULL when it cannot be read. */
static inline char *fake_slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)len + 1);
  if (!b || fread(b, 1, (size_t)len, f) != (size_t)len) {
    free(b);
    fclose(f);
    return NULL;
  }
  b[len] = 0;
  fclose(f);
  return b;
}

/* rm -rf dir (a test's temporary folder); 0 on success. */
static inline int fake_rm_tree(const char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd);
}

/* A small SAC run on the fake env (2000 steps, eval every 500, checkpoint every 1000). */
static o2o_sac_config fake_small_sac;
static void fake_small_config(o2o_train_config *cfg, const char *out) {
  o2o_train_config_default(cfg);
  cfg->scenario = "fake-point";
  cfg->seed = 3;
  cfg->steps = 2000;
  cfg->eval_every = 500;
  cfg->eval_episodes = 3;
  cfg->checkpoint_every = 1000;
  cfg->out_dir = out;
  cfg->progress = 0;
  o2o_sac_config_default(&fake_small_sac);
  fake_small_sac.hidden = 32;
  fake_small_sac.batch_size = 32;
  fake_small_sac.start_steps = 200;
  cfg->learner_config = &fake_small_sac;
}

/* o2o_train_run of cfg on a fresh fake env of 2 envs (episodes of 50 steps) with a 3-env
 * evaluation env, both destroyed after; returns its return code. */
static inline int fake_run(const o2o_train_config *cfg, o2o_train_result *res, char *err,
                           size_t errlen) {
  o2o_train_env env, eval_env;
  fake_env_create(&env, 2, 50);
  fake_env_create(&eval_env, 3, 50);
  int rc = o2o_train_run(cfg, &env, &eval_env, res, err, errlen);
  env.destroy(env.ctx);
  eval_env.destroy(eval_env.ctx);
  return rc;
}
