/* cmd_eval.c: `o2o eval`: deterministic episodes of a checkpoint's policy in o2o-sim
 * children; prints mean, std, min, max of the returns (and the D4RL normalised score for
 * hopper, halfcheetah and walker2d). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "cli/o2o_commands.h"
#include "o2o_version.h"
#include "io/policy.h"
#include "run/train.h"
#include "io/json_out.h"
#include "o2o_flags.h"

static void usage(FILE *f) {
  fprintf(f, "usage: o2o eval --checkpoint C [--scenario S] [--variant real|sim] [--episodes N]\n"
             "                [--seed N] [--procs P] [--sim-exe PATH] [--json]\n"
             "  Runs N deterministic episodes (actions tanh(mu)) of the policy in checkpoint C\n"
             "  and prints mean, std, min and max of the returns, plus the D4RL normalised score\n"
             "  when the task has reference returns (hopper, halfcheetah, walker2d).\n"
             "  --scenario S   default: the scenario recorded in the checkpoint\n"
             "  --variant V    default real\n"
             "  --episodes N   default 10 (one env per episode)\n"
             "  --seed N       episode j starts from seed N + j (default 1000000, the seeds\n"
             "                 train-online evaluates with)\n"
             "  --procs P      o2o-sim processes sharing the episodes (default 1)\n"
             "  --json         one JSON object on stdout\n"
             "exit code: 0 ok, 1 failure, 2 usage error\n");
}

static void act_policy(void *ctx, const float *obs, int n, float *actions) {
  o2o_policy_act(ctx, obs, n, 1, actions);
}

int o2o_cmd_eval(int argc, char **argv) {
  const char *ckpt = NULL, *scenario = NULL, *variant = "real", *sim_exe = NULL;
  int64_t episodes = 10, seed = 1000000, procs = 1;
  int json = 0;
  o2o_flags *f = o2o_flags_create("o2o eval");
  o2o_flags_str(f, "checkpoint", &ckpt, "C", "checkpoint whose policy runs");
  o2o_flags_str(f, "scenario", &scenario, "S", "default: the checkpoint's scenario");
  o2o_flag *vf = o2o_flags_str(f, "variant", &variant, "V", "real or sim (default real)");
  if (vf) vf->choices = "real|sim";
  o2o_flags_i64(f, "episodes", &episodes, 1, INT64_MAX, "N", "episodes (default 10)");
  o2o_flags_i64(f, "seed", &seed, 0, INT64_MAX, "N", "first episode seed");
  o2o_flags_i64(f, "procs", &procs, 1, INT64_MAX, "P", "o2o-sim processes");
  o2o_flags_str(f, "sim-exe", &sim_exe, "PATH", "o2o-sim to spawn");
  o2o_flags_bool(f, "json", &json, "one JSON object on stdout");
  o2o_flags_std(f, usage, "o2o " O2O_VERSION);
  int rc = o2o_flags_parse(f, argc, argv);
  o2o_flags_destroy(f);
  if (rc) return rc < 0 ? 2 : 0;
  if (!ckpt) {
    fprintf(stderr, "o2o eval: --checkpoint is required\n");
    usage(stderr);
    return 2;
  }
  if (episodes > 10000 || procs > 256) {
    fprintf(stderr, "o2o eval: --episodes <= 10000, --procs <= 256\n");
    return 2;
  }
  char err[1024];
  o2o_policy *pol = o2o_policy_load(ckpt, err, sizeof(err));
  if (!pol) {
    fprintf(stderr, "o2o eval: %s\n", err);
    return 1;
  }
  char scen_buf[O2O_CKPT_VALLEN] = "";
  if (!scenario) {
    const o2o_ckpt_meta *m = o2o_policy_meta(pol);
    const char *s = o2o_ckpt_meta_get(m, "scenario_arg");
    if (!s) s = o2o_ckpt_meta_get(m, "scenario");
    if (s) snprintf(scen_buf, sizeof(scen_buf), "%s", s);
    if (!scen_buf[0]) {
      fprintf(stderr, "o2o eval: %s records no scenario: pass --scenario\n", ckpt);
      o2o_policy_destroy(pol);
      return 2;
    }
    scenario = scen_buf;
  }
  /* Episodes spread over P processes: ceil(N / P) envs each. */
  int per_proc = (int)((episodes + procs - 1) / procs);
  o2o_pool_config pc = {.scenario = scenario,
                        .variant = variant,
                        .num_procs = (int)procs,
                        .envs_per_proc = per_proc,
                        .sim_exe = sim_exe,
                        .quiet = 1};
  o2o_train_env env;
  if (o2o_train_env_pool(&env, &pc, err, sizeof(err))) {
    fprintf(stderr, "o2o eval: cannot start o2o-sim for '%s': %s\n", scenario, err);
    o2o_policy_destroy(pol);
    return 1;
  }
  const o2o_bridge_spec *sp = env.spec(env.ctx);
  rc = 1;
  double *ret = calloc((size_t)episodes, sizeof(double));
  if (sp->obs_dim != o2o_policy_obs_dim(pol) || sp->act_dim != o2o_policy_act_dim(pol)) {
    fprintf(stderr, "o2o eval: checkpoint %s has obs/act dims %d/%d but scenario %s has %d/%d\n",
            ckpt, o2o_policy_obs_dim(pol), o2o_policy_act_dim(pol), scenario, sp->obs_dim,
            sp->act_dim);
    goto done;
  }
  if (o2o_train_check_bounds(o2o_policy_meta(pol), ckpt, sp, err, sizeof err)) {
    fprintf(stderr, "o2o eval: %s\n", err);
    goto done;
  }
  if (!ret || o2o_train_evaluate(&env, act_policy, pol, (int)episodes, (uint64_t)seed, ret, err,
                                 sizeof(err))) {
    fprintf(stderr, "o2o eval: %s\n", ret ? err : "out of memory");
    goto done;
  }
  double mean = 0, var = 0, mn = INFINITY, mx = -INFINITY;
  for (int i = 0; i < episodes; i++) {
    mean += ret[i] / (double)episodes;
    mn = fmin(mn, ret[i]);
    mx = fmax(mx, ret[i]);
  }
  for (int i = 0; i < episodes; i++)
    var += (ret[i] - mean) * (ret[i] - mean) / (double)episodes;
  double score = NAN;
  int has_score = o2o_train_d4rl_score(sp->task, mean, &score);
  if (json) {
    printf("{\"checkpoint\": ");
    o2o_json_str(stdout, ckpt);
    printf(", \"scenario\": ");
    o2o_json_str(stdout, sp->scenario);
    printf(", \"task\": ");
    o2o_json_str(stdout, sp->task);
    printf(", \"variant\": ");
    o2o_json_str(stdout, sp->variant);
    printf(", \"episodes\": %lld, \"seed\": %lld, \"returns\": [", (long long)episodes,
           (long long)seed);
    for (int i = 0; i < episodes; i++) {
      if (i) printf(", ");
      o2o_json_num(stdout, ret[i]);
    }
    const char *keys[] = {"mean", "std", "min", "max", "d4rl_score"};
    const double vals[] = {mean, sqrt(var), mn, mx, score};
    printf("]");
    for (int k = 0; k < 4 + has_score; k++) {
      printf(", \"%s\": ", keys[k]);
      o2o_json_num(stdout, vals[k]);
    }
    printf("}\n");
  } else {
    printf("%s (%s), %lld deterministic episodes, seeds %lld..%lld\n", sp->scenario, sp->variant,
           (long long)episodes, (long long)seed, (long long)(seed + episodes - 1));
    printf("return mean %.2f std %.2f min %.2f max %.2f\n", mean, sqrt(var), mn, mx);
    if (has_score) printf("D4RL normalised score (%s): %.1f\n", sp->task, score);
  }
  rc = 0;
done:
  free(ret);
  env.destroy(env.ctx);
  o2o_policy_destroy(pol);
  return rc;
}
