/* cmd_train.c: `o2o train-online`: SAC through a pool of o2o-sim children (train.h). */
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

static void usage(FILE *f) {
  fprintf(f,
          "usage: o2o train-online --scenario S [options]\n"
          "  Trains SAC online in o2o-sim children (through the bridge pool) and evaluates the\n"
          "  deterministic policy on the scenario's real variant.\n"
          "run:\n"
          "  --scenario S          scenario name or .ini path (default pendulum)\n"
          "  --variant real|sim    dynamics to train in (default real; eval is always real)\n"
          "  --seed N              seed of SAC, warm-up actions and env resets (default 1)\n"
          "  --steps N             total env steps (default 100000)\n"
          "  --envs N              envs per o2o-sim process (default 1)\n"
          "  --procs N             o2o-sim processes (default 1)\n"
          "  --out DIR             run directory (default runs/<scenario>__sac__s<seed>__<time>)\n"
          "  --eval-every N        env steps between evaluations (default 10000)\n"
          "  --eval-episodes N     deterministic episodes per evaluation (default 10)\n"
          "  --eval-seed N         episode j starts from seed N + j (default 1000000)\n"
          "  --checkpoint-every N  env steps between checkpoints (default 50000)\n"
          "  --replay-capacity N   transitions (default min(steps, 1000000))\n"
          "  --stop-at-return R    stop once an evaluation's mean return reaches R\n"
          "  --no-validate         do not check env outputs for NaN/inf on arrival\n"
          "  --overwrite           reuse an --out DIR that already holds a run\n"
          "  --resume CKPT         continue from a train-online checkpoint (same SAC flags; the\n"
          "                        replay buffer refills first); --steps is the new total\n"
          "  --sim-exe PATH        o2o-sim to spawn (default: next to o2o, then PATH)\n"
          "  --quiet               no progress on stderr\n"
          "  --json                print the result as one JSON object on stdout\n"
          "SAC (defaults as CORL and SimpleSAC; each listed in agent/learn/sac.h):\n");
#define HELP_FIELD(type, name, help)                                                               \
  {                                                                                                \
    char flag[64];                                                                                 \
    snprintf(flag, sizeof(flag), "--%s", #name);                                                   \
    for (char *c = flag + 2; *c; c++)                                                              \
      if (*c == '_') *c = '-';                                                                     \
    fprintf(f, "  %-21s %s\n", flag, help);                                                        \
  }
  O2O_SAC_CONFIG_FIELDS(HELP_FIELD)
#undef HELP_FIELD
  fprintf(f, "files in DIR: config.json, metrics.csv (one row per evaluation),\n"
             "  checkpoint.safetensors (periodic, atomic), final.safetensors\n"
             "exit code: 0 done, 1 failure (NaN, dead simulator...), 2 usage error\n");
}

static int parse_i64(const char *flag, const char *s, int64_t lo, int64_t *out) {
  return o2o_cli_int("train-online", flag, s, lo, INT64_MAX, out);
}

static int parse_f(const char *flag, const char *s, double *out) {
  return o2o_cli_num("train-online", flag, s, -HUGE_VAL, HUGE_VAL, out);
}

/* Match --sac-field flags from the X-macro list. 1 = matched, 0 = not a SAC flag, -1 bad. */
static int parse_sac_flag(o2o_sac_config *sc, const char *flag, const char *val) {
#define PARSE_FIELD(type, name, help)                                                              \
  {                                                                                                \
    char want[64];                                                                                 \
    snprintf(want, sizeof(want), "--%s", #name);                                                   \
    for (char *c = want + 2; *c; c++)                                                              \
      if (*c == '_') *c = '-';                                                                     \
    if (!strcmp(flag, want)) {                                                                     \
      double v;                                                                                    \
      if (!val) {                                                                                  \
        fprintf(stderr, "o2o train-online: %s needs a value\n", flag);                             \
        return -1;                                                                                 \
      }                                                                                            \
      if (parse_f(flag, val, &v)) return -1;                                                       \
      if ((type)0.5 == 0 && (v != floor(v) || v < INT_MIN || v > INT_MAX)) {                       \
        fprintf(stderr, "o2o train-online: %s expects an integer, got '%s'\n", flag, val);         \
        return -1;                                                                                 \
      }                                                                                            \
      sc->name = (type)v;                                                                          \
      return 1;                                                                                    \
    }                                                                                              \
  }
  O2O_SAC_CONFIG_FIELDS(PARSE_FIELD)
#undef PARSE_FIELD
  return 0;
}

int o2o_cmd_train_online(int argc, char **argv) {
  o2o_train_config cfg;
  o2o_train_config_default(&cfg);
  int json = 0;
  const char *out = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int64_t n;
    double d;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
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
      continue;
    }
    if (!v) {
      int r = parse_sac_flag(&cfg.sac, a, NULL);
      if (r == 0) fprintf(stderr, "o2o train-online: unknown or incomplete option '%s'\n", a);
      usage(stderr);
      return 2;
    }
    int rc = 0;
    if (!strcmp(a, "--scenario"))
      cfg.scenario = v;
    else if (!strcmp(a, "--variant")) {
      if (strcmp(v, "real") && strcmp(v, "sim")) {
        fprintf(stderr, "o2o train-online: --variant must be real or sim, got '%s'\n", v);
        return 2;
      }
      cfg.variant = v;
    } else if (!strcmp(a, "--seed"))
      rc = parse_i64(a, v, 0, &n), cfg.seed = (uint64_t)n;
    else if (!strcmp(a, "--steps"))
      rc = parse_i64(a, v, 1, &n), cfg.steps = n;
    else if (!strcmp(a, "--envs"))
      rc = parse_i64(a, v, 1, &n), cfg.envs_per_proc = (int)n;
    else if (!strcmp(a, "--procs"))
      rc = parse_i64(a, v, 1, &n), cfg.procs = (int)n;
    else if (!strcmp(a, "--out"))
      out = v;
    else if (!strcmp(a, "--eval-every"))
      rc = parse_i64(a, v, 0, &n), cfg.eval_every = n;
    else if (!strcmp(a, "--eval-episodes"))
      rc = parse_i64(a, v, 1, &n), cfg.eval_episodes = (int)n;
    else if (!strcmp(a, "--eval-seed"))
      rc = parse_i64(a, v, 0, &n), cfg.eval_seed = (uint64_t)n;
    else if (!strcmp(a, "--checkpoint-every"))
      rc = parse_i64(a, v, 0, &n), cfg.checkpoint_every = n;
    else if (!strcmp(a, "--replay-capacity"))
      rc = parse_i64(a, v, 1, &n), cfg.replay_capacity = n;
    else if (!strcmp(a, "--stop-at-return"))
      rc = parse_f(a, v, &d), cfg.stop_at_return = d;
    else if (!strcmp(a, "--sim-exe"))
      cfg.sim_exe = v;
    else if (!strcmp(a, "--resume"))
      cfg.resume = v;
    else {
      int r = parse_sac_flag(&cfg.sac, a, v);
      if (r < 0) return 2;
      if (r == 0) {
        fprintf(stderr, "o2o train-online: unknown option '%s' (see --help)\n", a);
        return 2;
      }
    }
    if (rc) return 2;
    i++;
  }
  if (cfg.envs_per_proc > 4096 || cfg.procs > 256 || cfg.eval_episodes > 1000) {
    fprintf(stderr, "o2o train-online: --envs <= 4096, --procs <= 256, --eval-episodes <= 1000\n");
    return 2;
  }
  char outbuf[1024];
  if (!out) {
    /* runs/<scenario>__sac__s<seed>__<time> (CleanRL-style run name) */
    const char *base = strrchr(cfg.scenario, '/');
    base = base ? base + 1 : cfg.scenario;
    char name[128];
    snprintf(name, sizeof(name), "%s", base);
    char *dot = strstr(name, ".ini");
    if (dot) *dot = 0;
    char ts[32];
    time_t t = time(NULL);
    strftime(ts, sizeof(ts), "%Y%m%d-%H%M%S", localtime(&t));
    snprintf(outbuf, sizeof(outbuf), "runs/%s__sac__s%llu__%s", name, (unsigned long long)cfg.seed,
             ts);
    out = outbuf;
  }
  cfg.out_dir = out;
  if (cfg.progress)
    fprintf(stderr,
            "o2o train-online: scenario %s (%s), seed %llu, %lld env steps, %d x %d envs, "
            "run dir %s, OpenBLAS %s x %d thread(s)\n",
            cfg.scenario, cfg.variant, (unsigned long long)cfg.seed, (long long)cfg.steps,
            cfg.procs, cfg.envs_per_proc, out, o2o_blas_corename(), o2o_blas_threads());
  o2o_train_result res;
  char err[2048];
  if (o2o_train_online(&cfg, &res, err, sizeof(err))) {
    fprintf(stderr, "o2o train-online: %s\n", err);
    return 1;
  }
  if (json) {
    printf("{\"run_dir\": \"%s\", \"env_steps\": %lld, \"updates\": %lld, \"wall_s\": %.3f, "
           "\"final_eval_mean\": %.4f, \"final_eval_std\": %.4f, \"best_eval_mean\": %.4f, "
           "\"best_eval_step\": %lld, \"train_episodes\": %d, \"transitions\": %lld, "
           "\"lost_steps\": %lld, \"checkpoint\": \"%s\"}\n",
           out, (long long)res.env_steps, (long long)res.updates, res.wall_s, res.last_eval_mean,
           res.last_eval_std, res.best_eval_mean, (long long)res.best_eval_step, res.episodes,
           (long long)res.transitions, (long long)res.lost, res.last_checkpoint);
  } else {
    printf("final eval return %.2f +- %.2f (best %.2f at step %lld), %lld env steps, %lld "
           "updates, %.1f s\ncheckpoint: %s\n",
           res.last_eval_mean, res.last_eval_std, res.best_eval_mean, (long long)res.best_eval_step,
           (long long)res.env_steps, (long long)res.updates, res.wall_s, res.last_checkpoint);
  }
  return 0;
}
