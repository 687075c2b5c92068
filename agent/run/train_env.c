/* train_env.c: the pool as an o2o_train_env, deterministic evaluation episodes, D4RL
 * scores and action scaling (shared by train-online and eval). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "o2o_bridge.h"
#include "o2o_dataset.h"
#include "run/train.h"

/* ---- the bridge pool ------------------------------------------------------------------ */
static const o2o_bridge_spec *pool_spec(void *ctx) {
  return o2o_pool_spec(ctx);
}
static int pool_reset(void *ctx, uint64_t seed, float *obs, char *err, size_t errlen) {
  return o2o_pool_reset(ctx, seed, obs, err, errlen);
}
static int pool_send(void *ctx, const float *actions, char *err, size_t errlen) {
  return o2o_pool_step_send(ctx, actions, err, errlen);
}
static int pool_recv(void *ctx, o2o_bridge_batch *out, char *err, size_t errlen) {
  return o2o_pool_step_recv(ctx, out, err, errlen);
}
static void pool_destroy(void *ctx) {
  o2o_pool_destroy(ctx);
}
static const uint8_t *pool_lost(void *ctx) {
  return o2o_pool_lost(ctx);
}

int o2o_train_env_pool(o2o_train_env *env, const o2o_pool_config *cfg, char *err, size_t errlen) {
  memset(env, 0, sizeof(*env));
  o2o_pool *p = o2o_pool_create(cfg, err, errlen);
  if (!p) return -1;
  env->ctx = p;
  env->spec = pool_spec;
  env->reset = pool_reset;
  env->step_send = pool_send;
  env->step_recv = pool_recv;
  env->destroy = pool_destroy;
  env->lost = pool_lost;
  return 0;
}

/* ---- helpers ------------------------------------------------------------------------- */
void o2o_train_scale_actions(const float *unit, int n, int act_dim, const float *low,
                             const float *high, float *out) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j < act_dim; j++) {
      float u = unit[(size_t)i * act_dim + j];
      u = u < -1.0f ? -1.0f : u > 1.0f ? 1.0f : u;
      out[(size_t)i * act_dim + j] = low[j] + 0.5f * (u + 1.0f) * (high[j] - low[j]);
    }
}

int o2o_train_d4rl_score(const char *task, double ret, double *score) {
  double lo, hi; /* one table, owned by datasets/ (o2o_dataset_ref_scores) */
  if (!o2o_dataset_ref_scores(task, &lo, &hi)) return 0;
  *score = 100.0 * (ret - lo) / (hi - lo);
  return 1;
}

double o2o_train_eta_s(int64_t done, int64_t total, int64_t warmup_end, double warm_rate,
                       double learn_rate) {
  if (done >= total) return 0.0;
  int64_t warm_left = done < warmup_end ? (warmup_end < total ? warmup_end : total) - done : 0;
  int64_t learn_left = total - done - warm_left;
  if ((warm_left > 0 && !(warm_rate > 0)) || (learn_left > 0 && !(learn_rate > 0))) return -1.0;
  return (warm_left > 0 ? (double)warm_left / warm_rate : 0.0) +
         (learn_left > 0 ? (double)learn_left / learn_rate : 0.0);
}

int o2o_train_check_bounds(const o2o_ckpt_meta *m, const char *path, const o2o_bridge_spec *spec,
                           char *err, size_t errlen) {
  for (int j = 0; j < spec->act_dim; j++)
    if (!isfinite(spec->act_low[j]) || !isfinite(spec->act_high[j]) ||
        !(spec->act_low[j] < spec->act_high[j])) {
      o2o_agent_errf(err, errlen,
                     "scenario %s: action %d has bounds [%g, %g] (they must be finite with low < "
                     "high)",
                     spec->scenario, j, spec->act_low[j], spec->act_high[j]);
      return -1;
    }
  static const char *keys[2] = {"act_low", "act_high"};
  for (int k = 0; m && k < 2; k++) {
    const char *v = o2o_ckpt_meta_get(m, keys[k]);
    if (!v) continue; /* older actor-only files record no bounds */
    const float *want = k ? spec->act_high : spec->act_low;
    const char *p = v;
    for (int j = 0; j < spec->act_dim; j++) {
      char *end;
      float x = strtof(p, &end);
      if (end == p || (j + 1 < spec->act_dim ? *end != ',' : *end != 0)) {
        o2o_agent_errf(err, errlen,
                       "checkpoint %s: metadata %s '%s' is not %d comma-separated numbers "
                       "(the scenario has %d actions)",
                       path, keys[k], v, spec->act_dim, spec->act_dim);
        return -1;
      }
      if (x != want[j]) {
        o2o_agent_errf(err, errlen,
                       "checkpoint %s: metadata %s[%d] = %.9g but scenario %s has %.9g (the "
                       "policy was trained for other action bounds)",
                       path, keys[k], j, (double)x, spec->scenario, (double)want[j]);
        return -1;
      }
      p = end + 1;
    }
  }
  return 0;
}

int o2o_train_evaluate(o2o_train_env *env, o2o_train_act_fn act, void *act_ctx, int episodes,
                       uint64_t seed, double *returns, char *err, size_t errlen) {
  return o2o_train_evaluate_flagged(env, act, act_ctx, episodes, seed, returns, NULL, err, errlen);
}

int o2o_train_evaluate_flagged(o2o_train_env *env, o2o_train_act_fn act, void *act_ctx,
                               int episodes, uint64_t seed, double *returns, int *restarted,
                               char *err, size_t errlen) {
  if (restarted) *restarted = 0;
  const o2o_bridge_spec *sp = env->spec(env->ctx);
  const int n = sp->num_envs, O = sp->obs_dim, A = sp->act_dim;
  if (episodes < 1 || episodes > n) {
    o2o_agent_errf(err, errlen, "evaluation: %d episodes need as many envs (the eval env has %d)",
                   episodes, n);
    return -1;
  }
  float *obs = malloc((size_t)n * O * sizeof(float));
  float *unit = malloc((size_t)n * A * sizeof(float));
  float *scaled = malloc((size_t)n * A * sizeof(float));
  uint8_t *ended = calloc((size_t)n, 1);
  int rc = -1;
  if (!obs || !unit || !scaled || !ended) {
    o2o_agent_errf(err, errlen, "evaluation: out of memory");
    goto done;
  }
  char sub[512];
  if (env->reset(env->ctx, seed, obs, sub, sizeof(sub))) {
    o2o_agent_errf(err, errlen, "evaluation reset: %s", sub);
    goto done;
  }
  for (int i = 0; i < episodes; i++)
    returns[i] = 0;
  int remaining = episodes;
  /* Every episode ends by the time limit at the latest; allow slack for a pool restart. */
  const int64_t max_iters =
      2 * (int64_t)(sp->max_episode_steps > 0 ? sp->max_episode_steps : 100000) + 10;
  for (int64_t it = 0; remaining > 0; it++) {
    if (it >= max_iters) {
      o2o_agent_errf(err, errlen, "evaluation: %d episodes did not end within %lld steps",
                     remaining, (long long)max_iters);
      goto done;
    }
    act(act_ctx, obs, n, unit);
    o2o_train_scale_actions(unit, n, A, sp->act_low, sp->act_high, scaled);
    o2o_bridge_batch out;
    if (env->step_send(env->ctx, scaled, sub, sizeof(sub)) ||
        env->step_recv(env->ctx, &out, sub, sizeof(sub))) {
      o2o_agent_errf(err, errlen, "evaluation step: %s", sub);
      goto done;
    }
    const uint8_t *lost = env->lost ? env->lost(env->ctx) : NULL;
    for (int i = 0; i < episodes; i++) {
      if (ended[i]) continue;
      if (lost && lost[i]) {
        /* The simulator died mid-episode and the pool restarted the env in a fresh episode:
         * score that one rather than a cut-short return. */
        returns[i] = 0;
        if (restarted) ++*restarted;
        continue;
      }
      if (!isfinite(out.reward[i])) {
        o2o_agent_errf(err, errlen, "evaluation: env %d returned a non-finite reward (%g)", i,
                       out.reward[i]);
        goto done;
      }
      returns[i] += out.reward[i];
      if (out.terminated[i] || out.truncated[i]) {
        ended[i] = 1;
        remaining--;
      }
    }
    memcpy(obs, out.obs, (size_t)n * O * sizeof(float));
  }
  rc = 0;
done:
  free(obs);
  free(unit);
  free(scaled);
  free(ended);
  return rc;
}
