/* rollout.c: uniform random policy episodes, for the demo and smoke checks. */
#include <stdio.h>
#include <stdlib.h>
#include "sim_internal.h"

/* Shortest text that reads back as v (JSON numbers). */
static void num_text(double v, char *buf, size_t n) {
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, n, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) return;
  }
}

int o2o_sim_random_rollout(const o2o_scenario *sc, o2o_variant variant, int episodes, uint64_t seed,
                           int json, FILE *out, char *err, size_t errlen) {
  if (episodes < 1) {
    if (err) snprintf(err, errlen, "random rollout: episodes %d must be >= 1", episodes);
    return O2O_SIM_EINVAL;
  }
  o2o_vecenv *env = o2o_vecenv_create(sc, variant, 1, err, errlen);
  if (!env) return O2O_SIM_EINVAL;
  const o2o_env_spec *sp = o2o_vecenv_spec(env);
  o2o_rng rng; /* the policy's own stream, apart from the env's */
  o2o_rng_seed(&rng, seed ^ 0x5DEECE66Dull);
  int rc = o2o_vecenv_reset(env, &seed, NULL, err, errlen);
  double total = 0;
  char num[32];
  if (out && json) /* names are file stems: no characters that need escaping but these */
    fprintf(out, "{\"scenario\": \"%s\", \"variant\": \"%s\", \"seed\": %llu, \"episodes\": [",
            sc->name, o2o_variant_name(variant), (unsigned long long)seed);
  for (int ep = 0; rc == 0 && ep < episodes; ep++) {
    double ret = 0;
    int len = 0;
    for (;;) {
      float a[O2O_SIM_MAX_ACT];
      for (int k = 0; k < sp->act_dim; k++)
        a[k] = (float)o2o_rng_range(&rng, sp->act_low[k], sp->act_high[k]);
      o2o_step_result res;
      rc = o2o_vecenv_step(env, a, &res, err, errlen);
      if (rc) break;
      ret += res.reward[0];
      len++;
      if (res.terminated[0] || res.truncated[0]) {
        if (out && json) {
          num_text(ret, num, sizeof num);
          fprintf(out, "%s{\"return\": %s, \"length\": %d, \"terminated\": %s}", ep ? ", " : "",
                  num, len, res.terminated[0] ? "true" : "false");
        } else if (out) {
          fprintf(out, "episode %d: return %.3f length %d%s\n", ep + 1, ret, len,
                  res.terminated[0] ? " (terminated)" : " (truncated)");
        }
        break;
      }
    }
    total += ret;
  }
  if (rc == 0 && out && json) {
    num_text(total / episodes, num, sizeof num);
    fprintf(out, "], \"mean_return\": %s}\n", num);
  } else if (rc == 0 && out) {
    fprintf(out, "%s/%s: mean return %.3f over %d random episodes\n", sc->name,
            o2o_variant_name(variant), total / episodes, episodes);
  }
  o2o_vecenv_destroy(env);
  return rc;
}
