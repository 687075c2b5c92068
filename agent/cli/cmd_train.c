/* cmd_train.c: `o2o train-online`: a learner (default SAC) through a pool of o2o-sim children
 * (train.h); its flags are the learner's config fields (learner.h). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/blas_setup.h"
#include "cli/o2o_commands.h"
#include "o2o_version.h"
#include "run/train.h"
#include "cli/cli.h"
#include "io/checkpoint.h"
#include "io/json_out.h"

static const o2o_learner_algo *algo_sac(void) {
  return o2o_learner_find("sac");
}

static void usage(FILE *f, const o2o_learner_algo *algo) {
  fprintf(
      f,
      "usage: o2o train-online --scenario S [options]\n"
      "       o2o train-online --resume RUN/checkpoint.safetensors [--steps N]\n"
      "  Trains a learner (default SAC) online in o2o-sim children (through the bridge pool)\n"
      "  and evaluates the deterministic policy on the scenario's real variant.\n"
      "run:\n"
      "  --scenario S          scenario name or .ini path (default pendulum)\n"
      "  --variant real|sim    dynamics to train in (default real; eval is always real)\n"
      "  --algo NAME           learner (default sac; --algo NAME --help lists its settings)\n"
      "  --dataset FILE        real data for learners that mix it in (h2o: the real buffer;\n"
      "                        train in --variant sim, evaluation stays on real)\n"
      "  --seed N              seed of every random stream of the run (default 1)\n"
      "  --steps N             total env steps (default 100000)\n"
      "  --envs N              envs per o2o-sim process (default 1, at most 4096)\n"
      "  --procs N             o2o-sim processes (default 1, at most 256)\n"
      "  --out DIR             run directory (default runs/<scenario>__<algo>__s<seed>__<time>,\n"
      "                        made unique with -2, -3... when it exists)\n"
      "  --eval-every N        env steps between evaluations (default 10000)\n"
      "  --eval-episodes N     deterministic episodes per evaluation (default 10, at most 1000)\n"
      "  --eval-seed N         eval episode j starts from seed N + j (default 1000000)\n"
      "  --checkpoint-every N  env steps between checkpoints (default 50000)\n"
      "  --replay-capacity N   transitions (default min(steps, 1000000))\n"
      "  --stop-at-return R    stop once an evaluation's mean return reaches R\n"
      "  --no-validate         do not check env outputs for NaN/inf on arrival\n"
      "  --overwrite           reuse an --out DIR that already holds a run\n"
      "  --init-from CKPT      warm start (WSRL): build the learner from a pretrained checkpoint\n"
      "                        (o2o train-offline's final.safetensors, any algorithm): it takes\n"
      "                        the file's architecture (--hidden/--layers/--num-critics/\n"
      "                        --critic-layernorm other than the default must agree), actor,\n"
      "                        critics, targets, temperature, Adam state and obs normalisation\n"
      "                        (IQL's actor converted, its V dropped); an evaluation at step 0\n"
      "                        scores the pretrained policy; --start-steps is 0 unless set (not\n"
      "                        the default)\n"
      "  --warmup-steps K      the first K env steps act with the learner's sampled policy and\n"
      "                        make no updates, filling the buffer (default 0)\n"
      "  --resume CKPT         continue a run from its checkpoint alone: the learner, its\n"
      "                        settings and the run's come from the file; the run goes on in\n"
      "                        the checkpoint's folder (metrics.csv rows past the checkpoint\n"
      "                        are cut). --steps (the new total), --eval-every, --eval-episodes,\n"
      "                        --checkpoint-every, --procs, --envs, --stop-at-return,\n"
      "                        --warmup-steps may be given; the replay buffer comes back\n"
      "                        from replay.safetensors beside the checkpoint (saved with it)\n"
      "  --sim-exe PATH        o2o-sim to spawn (default: next to o2o, then PATH)\n"
      "  --connect EP[,EP...]  train in running o2o-sim servers instead of spawning\n"
      "                        (not with --procs/--envs; tcp keys from O2O_CURVE_SERVER_KEY\n"
      "                        and O2O_CURVE_CLIENT_KEY); evaluation still spawns locally\n"
      "  --quiet               no progress on stderr\n"
      "  --json                print the result as one JSON object on stdout\n"
      "%s settings (%s):\n",
      algo->name, algo->summary);
  const void *dflt = NULL;
  unsigned char buf[4096];
  if (algo->config_size <= sizeof buf) {
    algo->config_default(buf);
    dflt = buf;
  }
  for (int i = 0; i < algo->num_fields; i++) {
    const o2o_learner_field *fl = &algo->fields[i];
    char flag[80] = "--";
    o2o_cli_field_flag(fl, flag + 2, sizeof flag - 2);
    if (dflt)
      fprintf(f, "  %-21s %s (default %g)\n", flag, fl->help, o2o_learner_field_get(fl, dflt));
    else
      fprintf(f, "  %-21s %s\n", flag, fl->help);
  }
  fprintf(f, "files in DIR: config.json, metrics.csv (one row per evaluation),\n"
             "  checkpoint.safetensors (periodic, atomic), final.safetensors\n"
             "exit code: 0 done, 1 failure (NaN, dead simulator...), 2 usage error\n");
}

/* Run settings of a checkpoint (written by o2o_train_save_checkpoint) into cfg. */
static int resume_settings(o2o_train_config *cfg, const char *ckpt, char *scen, char *variant,
                           char *dir, size_t cap) {
  char err[O2O_AGENT_ERRLEN];
  o2o_ckpt *c = o2o_ckpt_open(ckpt, err, sizeof err);
  if (!c) {
    fprintf(stderr, "o2o train-online: --resume: %s\n", err);
    return -1;
  }
  const o2o_ckpt_meta *m = o2o_ckpt_metadata(c);
  const char *sa = o2o_ckpt_meta_get(m, "scenario_arg"), *sn = o2o_ckpt_meta_get(m, "scenario");
  const char *va = o2o_ckpt_meta_get(m, "variant"), *al = o2o_ckpt_meta_get(m, "algorithm");
  int rc = 0;
  if (!al || !(sa || sn) || !o2o_ckpt_meta_get(m, "step")) {
    fprintf(stderr,
            "o2o train-online: --resume: %s is not a checkpoint of a training run (metadata "
            "algorithm/scenario/step missing)\n",
            ckpt);
    rc = -1;
  } else {
    snprintf(scen, cap, "%s", sa ? sa : sn);
    snprintf(variant, cap, "%s", va ? va : "real");
    cfg->scenario = scen;
    cfg->variant = variant;
    const char *v;
    const o2o_ckpt_int_key keys[] = {
        O2O_CKPT_INT_KEY("steps", cfg->steps),
        O2O_CKPT_INT_KEY("envs_per_proc", cfg->envs_per_proc),
        O2O_CKPT_INT_KEY("procs", cfg->procs),
        O2O_CKPT_INT_KEY("eval_every", cfg->eval_every),
        O2O_CKPT_INT_KEY("eval_episodes", cfg->eval_episodes),
        O2O_CKPT_INT_KEY("checkpoint_every", cfg->checkpoint_every),
        O2O_CKPT_INT_KEY("replay_capacity", cfg->replay_capacity),
        O2O_CKPT_INT_KEY("warmup_steps", cfg->warmup_steps),
        O2O_CKPT_INT_KEY("seed", cfg->seed),
        O2O_CKPT_INT_KEY("eval_seed", cfg->eval_seed),
    };
    rc = o2o_ckpt_meta_read_ints(m, keys, (int)(sizeof keys / sizeof *keys), err, sizeof err);
    if (rc) fprintf(stderr, "o2o train-online: --resume: %s: %s\n", ckpt, err);
    static char real_dataset[O2O_CKPT_VALLEN];
    if ((v = o2o_ckpt_meta_get(m, "real_dataset"))) {
      snprintf(real_dataset, sizeof real_dataset, "%s", v);
      cfg->real_dataset = real_dataset;
    }
    /* the run goes on in the checkpoint's own folder */
    o2o_train_dir_of(ckpt, dir, cap);
  }
  static char algo_name[64];
  if (!rc) {
    snprintf(algo_name, sizeof algo_name, "%s", al);
    cfg->algorithm = algo_name;
  }
  o2o_ckpt_close(c);
  return rc;
}

enum { FIXED = 1, LEARNER = 2 }; /* flag tags: fixed by the checkpoint on --resume */

typedef struct {
  int quiet, no_validate, json, help, version;
  const char *algo, *out;
} online_opts;

/* The flag table; algo = NULL: run flags only (to peek at --algo first). */
static o2o_flags *make_flags(o2o_train_config *cfg, online_opts *o, const o2o_learner_algo *algo,
                             void *lcfg) {
  o2o_flags *f = o2o_flags_create("o2o train-online");
  o2o_flag *x;
  if ((x = o2o_flags_str(f, "scenario", &cfg->scenario, "S", "scenario"))) x->tag = FIXED;
  if ((x = o2o_flags_str(f, "variant", &cfg->variant, "V", "real|sim")))
    x->tag = FIXED, x->choices = "real|sim";
  if ((x = o2o_flags_str(f, "algo", &o->algo, "NAME", "learner"))) x->tag = FIXED;
  if ((x = o2o_flags_str(f, "dataset", &cfg->real_dataset, "FILE", "real data"))) x->tag = FIXED;
  if ((x = o2o_flags_u64(f, "seed", &cfg->seed, 0, INT64_MAX, "N", "seed"))) x->tag = FIXED;
  o2o_flags_i64(f, "steps", &cfg->steps, 1, INT64_MAX, "N", "total env steps");
  o2o_flags_int(f, "envs", &cfg->envs_per_proc, 1, 4096, "N", "envs per o2o-sim");
  o2o_flags_int(f, "procs", &cfg->procs, 1, 256, "N", "o2o-sim processes");
  if ((x = o2o_flags_str(f, "out", &o->out, "DIR", "run directory"))) x->tag = FIXED;
  o2o_flags_i64(f, "eval-every", &cfg->eval_every, 0, INT64_MAX, "N", "steps between evals");
  o2o_flags_int(f, "eval-episodes", &cfg->eval_episodes, 1, 1000, "N", "episodes per eval");
  if ((x = o2o_flags_u64(f, "eval-seed", &cfg->eval_seed, 0, INT64_MAX, "N", "eval seeds")))
    x->tag = FIXED;
  o2o_flags_i64(f, "checkpoint-every", &cfg->checkpoint_every, 0, INT64_MAX, "N", "checkpoints");
  o2o_flags_i64(f, "replay-capacity", &cfg->replay_capacity, 1, INT64_MAX, "N", "transitions");
  o2o_flags_num(f, "stop-at-return", &cfg->stop_at_return, -HUGE_VAL, HUGE_VAL, "R", "early stop");
  o2o_flags_bool(f, "no-validate", &o->no_validate, "no NaN/inf check of env outputs");
  if ((x = o2o_flags_bool(f, "overwrite", &cfg->overwrite, "reuse --out"))) x->tag = FIXED;
  o2o_flags_str(f, "resume", &cfg->resume, "CKPT", "continue a run");
  if ((x = o2o_flags_str(f, "init-from", &cfg->init_from, "CKPT", "warm start"))) x->tag = FIXED;
  o2o_flags_i64(f, "warmup-steps", &cfg->warmup_steps, 0, INT64_MAX, "K", "policy warm-up");
  o2o_flags_str(f, "sim-exe", &cfg->sim_exe, "PATH", "o2o-sim to spawn");
  o2o_flags_str(f, "connect", &cfg->connect, "EP[,EP...]", "running servers");
  o2o_flags_bool(f, "quiet", &o->quiet, "no progress on stderr");
  o2o_flags_bool(f, "json", &o->json, "result as JSON");
  o2o_flags_bool(f, "help", &o->help, "this text");
  o2o_flags_bool(f, "version", &o->version, "print the version");
  if (algo) o2o_cli_learner_flags(f, algo, lcfg, FIXED | LEARNER);
  return f;
}

int o2o_cmd_train_online(int argc, char **argv) {
  o2o_train_config cfg;
  o2o_train_config_default(&cfg);
  online_opts o = {0};
  /* the algorithm first: its fields are the learner flags */
  o2o_flags *f = make_flags(&cfg, &o, NULL, NULL);
  const char *aname = o2o_flags_peek(f, argc, argv, "algo");
  o2o_flags_destroy(f);
  const o2o_learner_algo *algo = aname ? o2o_learner_find(aname) : algo_sac();
  if (!algo) {
    fprintf(stderr, "o2o train-online: --algo '%s' is not one of %s\n", aname,
            o2o_learner_names(0));
    return 2;
  }
  cfg.algorithm = algo->name;
  unsigned char lcfg_buf[4096] __attribute__((aligned(16)));
  if (algo->config_size > sizeof lcfg_buf) {
    fprintf(stderr, "o2o train-online: %s's config is too large\n", algo->name);
    return 1;
  }
  algo->config_default(lcfg_buf);
  f = make_flags(&cfg, &o, algo, lcfg_buf);
  if (o2o_flags_parse(f, argc, argv)) {
    o2o_flags_destroy(f);
    return 2;
  }
  const char *out = o.out;
  cfg.progress = !o.quiet;
  cfg.validate_transitions = !o.no_validate;
  int learner_flags = 0;         /* a learner flag was given */
  const char *fixed_flag = NULL; /* a flag the checkpoint fixes on --resume */
  char fixed_buf[96];
  for (int i = 0; i < o2o_flags_num_flags(f); i++) {
    const o2o_flag *x = o2o_flags_at(f, i);
    if (!x->count || !(x->tag & FIXED)) continue;
    snprintf(fixed_buf, sizeof fixed_buf, "--%s", x->name);
    fixed_flag = fixed_buf;
    learner_flags |= !!(x->tag & LEARNER);
  }
  int given[7];
  static const char *const given_names[7] = {
      "steps", "envs", "procs", "eval-every", "eval-episodes", "checkpoint-every", "warmup-steps"};
  for (int i = 0; i < 7; i++)
    given[i] = o2o_flags_given(f, given_names[i]);
  o2o_flags_destroy(f);
  if (o.help) {
    usage(stdout, algo);
    return 0;
  }
  if (o.version) {
    printf("o2o %s\n", O2O_VERSION);
    return 0;
  }
  if (cfg.connect && (cfg.procs != 1 || cfg.envs_per_proc != 1)) {
    fprintf(stderr, "o2o train-online: --connect trains in the servers' own envs: drop --procs "
                    "and --envs\n");
    return 2;
  }
  char scen_buf[1024], var_buf[1024], dir_buf[1024];
  if (cfg.resume) {
    if (fixed_flag) {
      fprintf(stderr,
              "o2o train-online: --resume takes %s from the checkpoint; %s cannot be given with "
              "it\n",
              learner_flags ? "the learner and its settings" : "the run's settings", fixed_flag);
      return 2;
    }
    /* the run settings not given on the command line come from the checkpoint */
    const o2o_train_config flags = cfg;
    if (resume_settings(&cfg, cfg.resume, scen_buf, var_buf, dir_buf, sizeof scen_buf)) return 1;
#define KEEP_GIVEN(i, member)                                                                      \
  if (given[i]) cfg.member = flags.member;
    KEEP_GIVEN(0, steps)
    KEEP_GIVEN(1, envs_per_proc)
    KEEP_GIVEN(2, procs)
    KEEP_GIVEN(3, eval_every)
    KEEP_GIVEN(4, eval_episodes)
    KEEP_GIVEN(5, checkpoint_every)
    KEEP_GIVEN(6, warmup_steps)
#undef KEEP_GIVEN
    cfg.progress = flags.progress;
    cfg.validate_transitions = flags.validate_transitions;
    cfg.stop_at_return = flags.stop_at_return;
    cfg.sim_exe = flags.sim_exe;
    out = dir_buf;
  } else {
    /* the learner's own cross-field checks, before any simulator spawns */
    char err[O2O_AGENT_ERRLEN];
    if (algo->config_check && algo->config_check(lcfg_buf, 1, 1, err, sizeof err)) {
      fprintf(stderr, "o2o train-online: %s\n", err);
      return 2;
    }
    cfg.learner_config = lcfg_buf;
    const o2o_learner_field *ss = o2o_learner_field_find(algo, "start_steps");
    unsigned char dflt[4096] __attribute__((aligned(16)));
    algo->config_default(dflt);
    int ss_set = ss && o2o_learner_field_get(ss, lcfg_buf) != o2o_learner_field_get(ss, dflt);
    if (ss && (ss_set || !cfg.init_from) &&
        o2o_learner_field_get(ss, lcfg_buf) >= (double)cfg.steps)
      fprintf(stderr,
              "o2o train-online: warning: --start-steps %g >= --steps %lld: every step is a "
              "uniform random warm-up step and no update is made (losses stay NaN)\n",
              o2o_learner_field_get(ss, lcfg_buf), (long long)cfg.steps);
  }
  char outbuf[1024];
  if (!out) {
    /* runs/<scenario>__<algo>__s<seed>__<time>, created exclusively (CleanRL-style name) */
    const char *base = strrchr(cfg.scenario, '/');
    base = base ? base + 1 : cfg.scenario;
    char name[128];
    snprintf(name, sizeof(name), "%s", base);
    char *dot = strstr(name, ".ini");
    if (dot) *dot = 0;
    char ts[32], want[512], err[O2O_AGENT_ERRLEN];
    time_t t = time(NULL);
    strftime(ts, sizeof(ts), "%Y%m%d-%H%M%S", localtime(&t));
    snprintf(want, sizeof(want), "runs/%s__%s__s%llu__%s", name, algo->name,
             (unsigned long long)cfg.seed, ts);
    if (o2o_train_make_run_dir(want, outbuf, sizeof outbuf, err, sizeof err)) {
      fprintf(stderr, "o2o train-online: %s\n", err);
      return 1;
    }
    out = outbuf;
  }
  cfg.out_dir = out;
  if (cfg.progress)
    fprintf(stderr,
            "o2o train-online: %s%s on scenario %s (%s), seed %llu, %lld env steps, %d x %d envs, "
            "run dir %s, OpenBLAS %s x %d thread(s)\n",
            cfg.resume ? "resuming " : "", cfg.algorithm, cfg.scenario, cfg.variant,
            (unsigned long long)cfg.seed, (long long)cfg.steps, cfg.procs, cfg.envs_per_proc, out,
            o2o_blas_corename(), o2o_blas_threads());
  o2o_train_result res;
  char err[2048];
  if (o2o_train_online(&cfg, &res, err, sizeof(err))) {
    fprintf(stderr, "o2o train-online: %s\n", err);
    return 1;
  }
  if (o.json) {
    printf("{\"run_dir\": ");
    o2o_json_str(stdout, out);
    printf(", \"algorithm\": ");
    o2o_json_str(stdout, cfg.algorithm);
    printf(", \"env_steps\": %lld, \"updates\": %lld", (long long)res.env_steps,
           (long long)res.updates);
    const char *keys[] = {"wall_s", "final_eval_mean", "final_eval_std", "best_eval_mean"};
    const double vals[] = {res.wall_s, res.last_eval_mean, res.last_eval_std, res.best_eval_mean};
    for (int k = 0; k < 4; k++) {
      printf(", \"%s\": ", keys[k]);
      o2o_json_num(stdout, vals[k]);
    }
    printf(", \"best_eval_step\": %lld, \"train_episodes\": %d, \"transitions\": %lld, "
           "\"lost_steps\": %lld, \"init_eval_mean\": ",
           (long long)res.best_eval_step, res.episodes, (long long)res.transitions,
           (long long)res.lost);
    if (res.warm_started)
      o2o_json_num(stdout, res.init_eval_mean);
    else
      printf("null");
    printf(", \"checkpoint\": ");
    o2o_json_str(stdout, res.last_checkpoint);
    printf("}\n");
  } else {
    if (res.warm_started)
      printf("pretrained policy (step 0) eval return %.2f +- %.2f\n", res.init_eval_mean,
             res.init_eval_std);
    printf("final eval return %.2f +- %.2f (best %.2f at step %lld), %lld env steps, %lld "
           "updates, %.1f s\ncheckpoint: %s\n",
           res.last_eval_mean, res.last_eval_std, res.best_eval_mean, (long long)res.best_eval_step,
           (long long)res.env_steps, (long long)res.updates, res.wall_s, res.last_checkpoint);
  }
  return 0;
}
