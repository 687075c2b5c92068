/* cmd_train_offline.c: `o2o train-offline --dataset FILE --scenario S --algo iql|cql|calql`:
 * offline pretraining from a fixed dataset (run/offline.h), evaluated on the scenario's real
 * variant. Every hyperparameter of the chosen learner is a flag (from its field list). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/o2o_commands.h"
#include "io/json_out.h"
#include "learn/learner.h"
#include "o2o_version.h"
#include "run/offline.h"

enum { OPT_FIELD = 1000 }; /* getopt values of learner fields: OPT_FIELD + index */

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
          "  --resume CKPT         continue a train-offline run from its checkpoint alone\n"
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

/* --algo's value before the full parse (the learner's fields are flags too) */
static const char *find_algo(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--algo") && i + 1 < argc) return argv[i + 1];
    if (!strncmp(argv[i], "--algo=", 7)) return argv[i] + 7;
  }
  return NULL;
}

int o2o_cmd_train_offline(int argc, char **argv) {
  o2o_offline_config c;
  o2o_offline_config_default(&c);
  const char *aname = find_algo(argc, argv);
  if (aname) c.algo = aname;
  const o2o_learner_algo *algo = o2o_learner_find(c.algo);
  if (!algo || !algo->offline) {
    fprintf(stderr, "o2o train-offline: --algo '%s' is not an offline learner; choose one of: %s\n",
            c.algo, o2o_learner_names(1));
    return 2;
  }
  void *acfg = malloc(algo->config_size);
  struct option *opts = calloc((size_t)algo->num_fields + 32, sizeof(struct option));
  char(*names)[64] = calloc((size_t)algo->num_fields + 1, 64);
  if (!acfg || !opts || !names) {
    fprintf(stderr, "o2o train-offline: out of memory\n");
    return 1;
  }
  algo->config_default(acfg);
  static const struct option fixed[] = {{"dataset", required_argument, 0, 'd'},
                                        {"scenario", required_argument, 0, 's'},
                                        {"algo", required_argument, 0, 'a'},
                                        {"steps", required_argument, 0, 'n'},
                                        {"seed", required_argument, 0, 'r'},
                                        {"eval-every", required_argument, 0, 'e'},
                                        {"eval-episodes", required_argument, 0, 'E'},
                                        {"eval-seed", required_argument, 0, 'S'},
                                        {"checkpoint-every", required_argument, 0, 'c'},
                                        {"reward-scale", required_argument, 0, 'w'},
                                        {"normalize-obs", no_argument, 0, 'N'},
                                        {"out", required_argument, 0, 'o'},
                                        {"resume", required_argument, 0, 'R'},
                                        {"overwrite", no_argument, 0, 'O'},
                                        {"sim-exe", required_argument, 0, 'x'},
                                        {"quiet", no_argument, 0, 'q'},
                                        {"json", no_argument, 0, 'j'},
                                        {"help", no_argument, 0, 'h'},
                                        {"version", no_argument, 0, 'V'}};
  const int nfixed = (int)(sizeof fixed / sizeof fixed[0]);
  memcpy(opts, fixed, sizeof fixed);
  for (int i = 0; i < algo->num_fields; i++) {
    snprintf(names[i], 64, "%s", algo->fields[i].name);
    for (char *p = names[i]; *p; p++)
      if (*p == '_') *p = '-';
    opts[nfixed + i] = (struct option){names[i], required_argument, 0, OPT_FIELD + i};
  }
  int json = 0, rc = 2;
  int64_t v;
  double x;
  char err[2048] = "";
  optind = 1;
  opterr = 0;
  for (int o; (o = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
    if (o >= OPT_FIELD) {
      if (o2o_learner_field_parse(&algo->fields[o - OPT_FIELD], acfg, optarg, err, sizeof err)) {
        fprintf(stderr, "o2o train-offline: %s\n", err);
        goto out;
      }
      continue;
    }
    switch (o) {
    case 'd':
      c.dataset = optarg;
      break;
    case 's':
      c.scenario = optarg;
      break;
    case 'a':
      break; /* taken above */
    case 'n':
      if (o2o_cli_int("train-offline", "--steps", optarg, 1, INT64_MAX / 2, &v)) goto out;
      c.steps = v;
      break;
    case 'r':
      if (o2o_cli_int("train-offline", "--seed", optarg, 0, INT64_MAX, &v)) goto out;
      c.seed = (uint64_t)v;
      break;
    case 'e':
      if (o2o_cli_int("train-offline", "--eval-every", optarg, 0, INT64_MAX / 2, &v)) goto out;
      c.eval_every = v;
      break;
    case 'E':
      if (o2o_cli_int("train-offline", "--eval-episodes", optarg, 1, 1000, &v)) goto out;
      c.eval_episodes = (int)v;
      break;
    case 'S':
      if (o2o_cli_int("train-offline", "--eval-seed", optarg, 0, INT64_MAX, &v)) goto out;
      c.eval_seed = (uint64_t)v;
      break;
    case 'c':
      if (o2o_cli_int("train-offline", "--checkpoint-every", optarg, 0, INT64_MAX / 2, &v))
        goto out;
      c.checkpoint_every = v;
      break;
    case 'w':
      if (!strcmp(optarg, "auto"))
        c.reward_scale = -1;
      else if (o2o_cli_num("train-offline", "--reward-scale", optarg, 1e-12, 1e12, &x))
        goto out;
      else
        c.reward_scale = x;
      break;
    case 'N':
      c.normalize_obs = 1;
      break;
    case 'o':
      c.out_dir = optarg;
      break;
    case 'R':
      c.resume = optarg;
      break;
    case 'O':
      c.overwrite = 1;
      break;
    case 'x':
      c.sim_exe = optarg;
      break;
    case 'q':
      c.progress = 0;
      break;
    case 'j':
      json = 1;
      break;
    case 'h':
      usage(stdout, aname ? algo : NULL), rc = 0;
      goto out;
    case 'V':
      printf("o2o %s\n", O2O_VERSION), rc = 0;
      goto out;
    default:
      fprintf(stderr,
              "o2o train-offline: unknown or incomplete option '%s' (for --algo %s; "
              "o2o train-offline --help lists them)\n",
              argv[optind - 1], algo->name);
      goto out;
    }
  }
  if (optind < argc || !c.dataset || !c.scenario) {
    fprintf(stderr, "o2o train-offline: %s\n",
            optind < argc ? "unexpected argument" : "--dataset and --scenario are needed");
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
  if (json) {
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
  free(acfg);
  free(opts);
  free(names);
  return rc;
}
