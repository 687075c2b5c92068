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
      "  --resume CKPT         continue a run from its checkpoint alone: the learner, its\n"
      "                        settings and the run's come from the file; the run goes on in\n"
      "                        the checkpoint's folder (metrics.csv rows past the checkpoint\n"
      "                        are cut). --steps (the new total), --eval-every, --eval-episodes,\n"
      "                        --checkpoint-every, --procs, --envs, --stop-at-return may be\n"
      "                        given; the replay buffer refills before updates resume\n"
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
    char flag[64];
    snprintf(flag, sizeof(flag), "--%s", fl->name);
    for (char *c = flag + 2; *c; c++)
      if (*c == '_') *c = '-';
    if (dflt)
      fprintf(f, "  %-21s %s (default %g)\n", flag, fl->help, o2o_learner_field_get(fl, dflt));
    else
      fprintf(f, "  %-21s %s\n", flag, fl->help);
  }
  fprintf(f, "files in DIR: config.json, metrics.csv (one row per evaluation),\n"
             "  checkpoint.safetensors (periodic, atomic), final.safetensors\n"
             "exit code: 0 done, 1 failure (NaN, dead simulator...), 2 usage error\n");
}

static int parse_i64(const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out) {
  return o2o_cli_int("train-online", flag, s, lo, hi, out);
}

static int parse_f(const char *flag, const char *s, double *out) {
  return o2o_cli_num("train-online", flag, s, -HUGE_VAL, HUGE_VAL, out);
}

/* The learner field a flag names (--batch-size -> batch_size), or NULL. */
static const o2o_learner_field *flag_field(const o2o_learner_algo *algo, const char *flag) {
  if (strncmp(flag, "--", 2)) return NULL;
  char name[64];
  snprintf(name, sizeof name, "%s", flag + 2);
  for (char *c = name; *c; c++)
    if (*c == '-') *c = '_';
  return o2o_learner_field_find(algo, name);
}

/* Parse a learner flag into cfg: the range is checked here, before anything spawns. */
static int parse_field(const o2o_learner_field *fl, void *cfg, const char *flag, const char *val) {
  char err[O2O_AGENT_ERRLEN];
  if (fl->type == O2O_FIELD_INT) {
    int64_t n;
    if (o2o_cli_int("train-online", flag, val, (int64_t)fl->min, (int64_t)fl->max, &n)) return -1;
  } else {
    double d;
    if (o2o_cli_num("train-online", flag, val, fl->min, fl->max, &d)) return -1;
  }
  if (o2o_learner_field_parse(fl, cfg, val, err, sizeof err)) {
    fprintf(stderr, "o2o train-online: %s\n", err);
    return -1;
  }
  return 0;
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
#define RUN_KEY(key, member, type)                                                                 \
  if ((v = o2o_ckpt_meta_get(m, key))) cfg->member = (type)strtoll(v, NULL, 10);
    RUN_KEY("steps", steps, int64_t)
    RUN_KEY("envs_per_proc", envs_per_proc, int)
    RUN_KEY("procs", procs, int)
    RUN_KEY("eval_every", eval_every, int64_t)
    RUN_KEY("eval_episodes", eval_episodes, int)
    RUN_KEY("checkpoint_every", checkpoint_every, int64_t)
    RUN_KEY("replay_capacity", replay_capacity, int64_t)
#undef RUN_KEY
    static char real_dataset[O2O_CKPT_VALLEN];
    if ((v = o2o_ckpt_meta_get(m, "real_dataset"))) {
      snprintf(real_dataset, sizeof real_dataset, "%s", v);
      cfg->real_dataset = real_dataset;
    }
    if ((v = o2o_ckpt_meta_get(m, "seed"))) cfg->seed = strtoull(v, NULL, 10);
    if ((v = o2o_ckpt_meta_get(m, "eval_seed"))) cfg->eval_seed = strtoull(v, NULL, 10);
    /* the run goes on in the checkpoint's own folder */
    snprintf(dir, cap, "%s", ckpt);
    char *slash = strrchr(dir, '/');
    if (slash)
      *slash = 0;
    else
      snprintf(dir, cap, ".");
  }
  static char algo_name[64];
  if (!rc) {
    snprintf(algo_name, sizeof algo_name, "%s", al);
    cfg->algorithm = algo_name;
  }
  o2o_ckpt_close(c);
  return rc;
}

int o2o_cmd_train_online(int argc, char **argv) {
  o2o_train_config cfg;
  o2o_train_config_default(&cfg);
  int json = 0;
  const char *out = NULL;
  /* the algorithm first: its fields are the learner flags */
  const o2o_learner_algo *algo = algo_sac();
  for (int i = 1; i + 1 < argc; i++)
    if (!strcmp(argv[i], "--algo")) {
      algo = o2o_learner_find(argv[i + 1]);
      if (!algo) {
        fprintf(stderr, "o2o train-online: --algo '%s' is not one of %s\n", argv[i + 1],
                o2o_learner_names(0));
        return 2;
      }
    }
  cfg.algorithm = algo->name;
  unsigned char lcfg_buf[4096] __attribute__((aligned(16)));
  if (algo->config_size > sizeof lcfg_buf) {
    fprintf(stderr, "o2o train-online: %s's config is too large\n", algo->name);
    return 1;
  }
  algo->config_default(lcfg_buf);
  int learner_flags = 0, given = 0; /* given: bits of the run flags on the command line */
  const char *fixed_flag = NULL;    /* a flag the checkpoint fixes on --resume */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int64_t n;
    double d;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout, algo);
      return 0;
    } else if (!strcmp(a, "--version")) {
      printf("o2o %s\n", O2O_VERSION);
      return 0;
    } else if (!strcmp(a, "--quiet")) {
      cfg.progress = 0;
      continue;
    } else if (!strcmp(a, "--json")) {
      json = 1;
      continue;
    } else if (!strcmp(a, "--no-validate")) {
      cfg.validate_transitions = 0;
      continue;
    } else if (!strcmp(a, "--overwrite")) {
      cfg.overwrite = 1;
      fixed_flag = a;
      continue;
    }
    const o2o_learner_field *fl = flag_field(algo, a);
    if (!v) {
      if (fl)
        fprintf(stderr, "o2o train-online: %s needs a value\n", a);
      else
        fprintf(stderr, "o2o train-online: unknown or incomplete option '%s'\n", a);
      usage(stderr, algo);
      return 2;
    }
    int rc = 0;
    if (!strcmp(a, "--scenario"))
      cfg.scenario = v, fixed_flag = a;
    else if (!strcmp(a, "--variant")) {
      if (strcmp(v, "real") && strcmp(v, "sim")) {
        fprintf(stderr, "o2o train-online: --variant must be real or sim, got '%s'\n", v);
        return 2;
      }
      cfg.variant = v;
      fixed_flag = a;
    } else if (!strcmp(a, "--algo"))
      fixed_flag = a; /* read above */
    else if (!strcmp(a, "--dataset"))
      cfg.real_dataset = v, fixed_flag = a;
    else if (!strcmp(a, "--seed"))
      rc = parse_i64(a, v, 0, INT64_MAX, &n), cfg.seed = (uint64_t)n, fixed_flag = a;
    else if (!strcmp(a, "--steps"))
      rc = parse_i64(a, v, 1, INT64_MAX, &n), cfg.steps = n, given |= 1;
    else if (!strcmp(a, "--envs"))
      rc = parse_i64(a, v, 1, 4096, &n), cfg.envs_per_proc = (int)n, given |= 2;
    else if (!strcmp(a, "--procs"))
      rc = parse_i64(a, v, 1, 256, &n), cfg.procs = (int)n, given |= 4;
    else if (!strcmp(a, "--out"))
      out = v, fixed_flag = a;
    else if (!strcmp(a, "--eval-every"))
      rc = parse_i64(a, v, 0, INT64_MAX, &n), cfg.eval_every = n, given |= 8;
    else if (!strcmp(a, "--eval-episodes"))
      rc = parse_i64(a, v, 1, 1000, &n), cfg.eval_episodes = (int)n, given |= 16;
    else if (!strcmp(a, "--eval-seed"))
      rc = parse_i64(a, v, 0, INT64_MAX, &n), cfg.eval_seed = (uint64_t)n, fixed_flag = a;
    else if (!strcmp(a, "--checkpoint-every"))
      rc = parse_i64(a, v, 0, INT64_MAX, &n), cfg.checkpoint_every = n, given |= 32;
    else if (!strcmp(a, "--replay-capacity"))
      rc = parse_i64(a, v, 1, INT64_MAX, &n), cfg.replay_capacity = n;
    else if (!strcmp(a, "--stop-at-return"))
      rc = parse_f(a, v, &d), cfg.stop_at_return = d;
    else if (!strcmp(a, "--sim-exe"))
      cfg.sim_exe = v;
    else if (!strcmp(a, "--connect"))
      cfg.connect = v;
    else if (!strcmp(a, "--resume"))
      cfg.resume = v;
    else if (fl) {
      rc = parse_field(fl, lcfg_buf, a, v);
      learner_flags = 1;
      fixed_flag = a;
    } else {
      fprintf(stderr, "o2o train-online: unknown option '%s' (see --help)\n", a);
      return 2;
    }
    if (rc) return 2;
    i++;
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
#define KEEP_GIVEN(bit, member)                                                                    \
  if (given & (bit)) cfg.member = flags.member;
    KEEP_GIVEN(1, steps)
    KEEP_GIVEN(2, envs_per_proc)
    KEEP_GIVEN(4, procs)
    KEEP_GIVEN(8, eval_every)
    KEEP_GIVEN(16, eval_episodes)
    KEEP_GIVEN(32, checkpoint_every)
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
    if (ss && o2o_learner_field_get(ss, lcfg_buf) >= (double)cfg.steps)
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
  if (json) {
    printf("{\"run_dir\": ");
    o2o_json_str(stdout, out);
    printf(", \"algorithm\": ");
    o2o_json_str(stdout, cfg.algorithm);
    printf(", \"env_steps\": %lld, \"updates\": %lld, \"wall_s\": %.3f, "
           "\"final_eval_mean\": %.4f, \"final_eval_std\": %.4f, \"best_eval_mean\": %.4f, "
           "\"best_eval_step\": %lld, \"train_episodes\": %d, \"transitions\": %lld, "
           "\"lost_steps\": %lld, \"checkpoint\": ",
           (long long)res.env_steps, (long long)res.updates, res.wall_s, res.last_eval_mean,
           res.last_eval_std, res.best_eval_mean, (long long)res.best_eval_step, res.episodes,
           (long long)res.transitions, (long long)res.lost);
    o2o_json_str(stdout, res.last_checkpoint);
    printf("}\n");
  } else {
    printf("final eval return %.2f +- %.2f (best %.2f at step %lld), %lld env steps, %lld "
           "updates, %.1f s\ncheckpoint: %s\n",
           res.last_eval_mean, res.last_eval_std, res.best_eval_mean, (long long)res.best_eval_step,
           (long long)res.env_steps, (long long)res.updates, res.wall_s, res.last_checkpoint);
  }
  return 0;
}
