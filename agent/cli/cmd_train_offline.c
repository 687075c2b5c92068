/* cmd_train_offline.c: `o2o train-offline --dataset FILE --scenario S --algo iql|cql|calql`:
 * offline pretraining from a fixed dataset (run/offline.h), evaluated on the scenario's real
 * variant. Every hyperparameter of the chosen learner is a flag (from its field list). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "io/checkpoint.h"
#include "cli/o2o_commands.h"
#include "io/json_out.h"
#include "learn/learner.h"
#include "o2o_version.h"
#include "run/offline.h"

static void usage(FILE *f, const o2o_learner_algo *algo) {
  o2o_offline_config d;
  o2o_offline_config_default(&d);
  fprintf(f,
          "usage: o2o train-offline --dataset FILE --scenario S [--algo A] [options]\n"
          "  Trains an offline learner on a fixed dataset (D4RL layout) and evaluates its\n"
          "  deterministic policy on the scenario's real variant through o2o-sim.\n"
          "run:\n"
          "  --dataset FILE        dataset file or name (datasets/, datasets/cache/)\n"
          "  --scenario S          scenario name or .ini path (its dims and task must match)\n"
          "  --algo A              %s (default %s)\n"
          "  --steps N             gradient steps (default %lld)\n"
          "  --seed N              learner init and batch sampling (default %llu)\n"
          "  --eval-every N        gradient steps between evaluations (default %lld)\n"
          "  --eval-episodes N     deterministic episodes per evaluation (default %d)\n"
          "  --eval-seed N         episode j starts from seed N + j (default %llu)\n"
          "  --checkpoint-every N  gradient steps between checkpoints (default %lld)\n"
          "  --reward-scale X|auto multiply rewards by X; auto = 1000 / (max - min episode\n"
          "                        return), IQL's locomotion rule (default: none)\n"
          "  --normalize-obs       normalise observations by the dataset's mean/std (CORL)\n"
          "  --out DIR             run folder (default runs/<scenario>__<algo>__s<seed>)\n"
          "  --resume CKPT         continue a train-offline run from its checkpoint alone: its\n"
          "                        dataset, scenario, algorithm, seed, --steps target, reward\n"
          "                        scale and evaluation settings come from the file (flags\n"
          "                        given override them), in the checkpoint's folder\n"
          "  --overwrite           reuse an --out DIR that holds a run\n"
          "  --sim-exe PATH        o2o-sim to spawn (default: next to o2o, then PATH)\n"
          "  --quiet               no progress on stderr\n"
          "  --json                the result as one JSON object on stdout\n",
          o2o_learner_names(1), d.algo, (long long)d.steps, (unsigned long long)d.seed,
          (long long)d.eval_every, d.eval_episodes, (unsigned long long)d.eval_seed,
          (long long)d.checkpoint_every);
  for (const o2o_learner_algo *const *a = o2o_learner_algos(); *a; a++) {
    if (!(*a)->offline || (algo && *a != algo)) continue;
    void *cfg = malloc((*a)->config_size);
    if (!cfg) return;
    (*a)->config_default(cfg);
    fprintf(f, "%s (--algo %s): %s\n", (*a)->name, (*a)->name, (*a)->summary);
    for (int i = 0; i < (*a)->num_fields; i++) {
      const o2o_learner_field *fl = &(*a)->fields[i];
      char flag[80] = "--";
      o2o_cli_field_flag(fl, flag + 2, sizeof flag - 2);
      fprintf(f, "  %-22s %s (default %g)\n", flag, fl->help, o2o_learner_field_get(fl, cfg));
    }
    free(cfg);
  }
  fprintf(f, "exit code: 0 ok, 1 failure, 2 usage error\n");
}

static int reward_scale_flag(const o2o_flag *fl, const char *v, char *err, size_t errlen) {
  double *scale = fl->dest, x;
  char *end = NULL;
  if (!strcmp(v, "auto")) {
    *scale = -1;
    return 0;
  }
  x = strtod(v, &end);
  if (end == v || *end || !isfinite(x) || x < 1e-12 || x > 1e12) {
    snprintf(err, errlen, "--reward-scale expects auto or a number in [1e-12, 1e+12], got '%s'", v);
    return -1;
  }
  *scale = x;
  return 0;
}

typedef struct {
  int json, help, version, quiet;
} offline_opts;

/* --resume CKPT: the run's own settings as defaults (the learner and its config come from the
 * file in any case). Keys a checkpoint of an older o2o lacks keep the usual defaults. */
static int resume_defaults(const o2o_ckpt_meta *m, o2o_offline_config *c, char *err,
                           size_t errlen) {
  const char *v;
  if ((v = o2o_ckpt_meta_get(m, "dataset"))) c->dataset = v;
  if ((v = o2o_ckpt_meta_get(m, "scenario_arg")) || (v = o2o_ckpt_meta_get(m, "scenario")))
    c->scenario = v;
  if ((v = o2o_ckpt_meta_get(m, "reward_scale"))) {
    char *end = NULL;
    c->reward_scale = strtod(v, &end);
    if (end == v || *end || !isfinite(c->reward_scale)) {
      o2o_agent_errf(err, errlen, "metadata 'reward_scale' is '%s' (a number)", v);
      return -1;
    }
  }
  const o2o_ckpt_int_key keys[] = {
      O2O_CKPT_INT_KEY("seed", c->seed),
      O2O_CKPT_INT_KEY("steps", c->steps),
      O2O_CKPT_INT_KEY("eval_every", c->eval_every),
      O2O_CKPT_INT_KEY("eval_episodes", c->eval_episodes),
      O2O_CKPT_INT_KEY("eval_seed", c->eval_seed),
      O2O_CKPT_INT_KEY("checkpoint_every", c->checkpoint_every),
  };
  return o2o_ckpt_meta_read_ints(m, keys, (int)(sizeof keys / sizeof *keys), err, errlen);
}

/* The flag table; algo = NULL: the run flags only (to peek at --algo first). */
static o2o_flags *make_flags(o2o_offline_config *c, offline_opts *o, const o2o_learner_algo *algo,
                             void *acfg) {
  o2o_flags *f = o2o_flags_create("o2o train-offline");
  o2o_flags_str(f, "dataset", &c->dataset, "FILE", "dataset file or name");
  o2o_flags_str(f, "scenario", &c->scenario, "S", "scenario");
  o2o_flags_str(f, "algo", &c->algo, "A", "offline learner");
  o2o_flags_i64(f, "steps", &c->steps, 1, INT64_MAX / 2, "N", "gradient steps");
  o2o_flags_u64(f, "seed", &c->seed, 0, INT64_MAX, "N", "seed");
  o2o_flags_i64(f, "eval-every", &c->eval_every, 0, INT64_MAX / 2, "N", "steps between evals");
  o2o_flags_int(f, "eval-episodes", &c->eval_episodes, 1, 1000, "N", "episodes per eval");
  o2o_flags_u64(f, "eval-seed", &c->eval_seed, 0, INT64_MAX, "N", "eval seeds");
  o2o_flags_i64(f, "checkpoint-every", &c->checkpoint_every, 0, INT64_MAX / 2, "N", "checkpoints");
  o2o_flags_fn(f, "reward-scale", reward_scale_flag, &c->reward_scale, NULL, "X|auto",
               "reward scale");
  o2o_flags_bool(f, "normalize-obs", &c->normalize_obs, "normalise observations");
  o2o_flags_str(f, "out", &c->out_dir, "DIR", "run folder");
  o2o_flags_str(f, "resume", &c->resume, "CKPT", "continue a run");
  o2o_flags_bool(f, "overwrite", &c->overwrite, "reuse --out");
  o2o_flags_str(f, "sim-exe", &c->sim_exe, "PATH", "o2o-sim to spawn");
  o2o_flags_bool(f, "quiet", &o->quiet, "no progress on stderr");
  o2o_flags_bool(f, "json", &o->json, "result as JSON");
  o2o_flags_bool(f, "help", &o->help, "this text");
  o2o_flags_bool(f, "version", &o->version, "print the version");
  if (algo) o2o_cli_learner_flags(f, algo, acfg, 1);
  return f;
}

int o2o_cmd_train_offline(int argc, char **argv) {
  o2o_offline_config c;
  o2o_offline_config_default(&c);
  offline_opts o = {0};
  o2o_flags *f = make_flags(&c, &o, NULL, NULL);
  const char *aname = o2o_flags_peek(f, argc, argv, "algo");
  const char *resume = o2o_flags_peek(f, argc, argv, "resume");
  o2o_flags_destroy(f);
  o2o_ckpt *ck = NULL;
  if (resume) { /* the run's settings come from the checkpoint; flags given still override */
    char err[2048];
    if (!(ck = o2o_ckpt_open(resume, err, sizeof err))) {
      fprintf(stderr, "o2o train-offline: --resume %s: %s\n", resume, err);
      return 1;
    }
    if (resume_defaults(o2o_ckpt_metadata(ck), &c, err, sizeof err)) {
      fprintf(stderr, "o2o train-offline: --resume %s: %s\n", resume, err);
      o2o_ckpt_close(ck);
      return 1;
    }
    if (!aname) aname = o2o_ckpt_meta_get(o2o_ckpt_metadata(ck), "algorithm");
  }
  if (aname) c.algo = aname;
  const o2o_learner_algo *algo = o2o_learner_find(c.algo);
  if (!algo || !algo->offline) {
    fprintf(stderr, "o2o train-offline: --algo '%s' is not an offline learner; choose one of: %s\n",
            c.algo, o2o_learner_names(1));
    o2o_ckpt_close(ck);
    return 2;
  }
  void *acfg = malloc(algo->config_size);
  if (!acfg) {
    fprintf(stderr, "o2o train-offline: out of memory\n");
    o2o_ckpt_close(ck);
    return 1;
  }
  algo->config_default(acfg);
  f = make_flags(&c, &o, algo, acfg);
  int rc = 2;
  char err[2048] = "";
  if (o2o_flags_parse(f, argc, argv)) goto out;
  c.progress = !o.quiet;
  if (o.help) {
    usage(stdout, aname ? algo : NULL), rc = 0;
    goto out;
  }
  if (o.version) {
    printf("o2o %s\n", O2O_VERSION), rc = 0;
    goto out;
  }
  if (!c.dataset || !c.scenario) {
    fprintf(stderr, "o2o train-offline: --dataset and --scenario are needed\n");
    usage(stderr, NULL);
    goto out;
  }
  char out_default[512];
  if (!c.out_dir && !c.resume) {
    snprintf(out_default, sizeof out_default, "runs/%s__%s__s%llu", c.scenario, algo->name,
             (unsigned long long)c.seed);
    for (char *p = out_default + 5; *p; p++)
      if (*p == '/') *p = '_';
    c.out_dir = out_default;
  }
  c.algo_cfg = acfg;
  o2o_offline_result res;
  rc = 1;
  if (o2o_offline_run(&c, &res, err, sizeof err)) {
    fprintf(stderr, "o2o train-offline: %s\n", err);
    goto out;
  }
  rc = 0;
  if (o.json) {
    printf("{\"algorithm\": ");
    o2o_json_str(stdout, algo->name);
    printf(", \"steps\": %lld, \"wall_s\": ", (long long)res.steps);
    o2o_json_num(stdout, res.wall_s);
    printf(", \"evals\": %d, \"last_eval_mean\": ", res.evals);
    o2o_json_num(stdout, res.last_eval_mean);
    printf(", \"last_eval_std\": ");
    o2o_json_num(stdout, res.last_eval_std);
    printf(", \"best_eval_mean\": ");
    o2o_json_num(stdout, res.best_eval_mean);
    printf(", \"d4rl_score\": ");
    o2o_json_num(stdout, res.last_score);
    printf(", \"dataset_return_mean\": ");
    o2o_json_num(stdout, res.dataset_return_mean);
    printf(", \"checkpoint\": ");
    o2o_json_str(stdout, res.last_checkpoint);
    printf("}\n");
  } else {
    printf("train-offline %s: %lld steps in %.1f s; last eval %.1f +- %.1f (best %.1f); "
           "dataset mean return %.1f; checkpoint %s\n",
           algo->name, (long long)res.steps, res.wall_s, res.last_eval_mean, res.last_eval_std,
           res.best_eval_mean, res.dataset_return_mean, res.last_checkpoint);
  }
out:
  o2o_flags_destroy(f);
  free(acfg);
  o2o_ckpt_close(ck); /* after the run: c's strings from --resume point into its metadata */
  return rc;
}
