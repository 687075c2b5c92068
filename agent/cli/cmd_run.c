/* cmd_run.c: `o2o run [EXPERIMENT]`: an experiment file (scenarios/experiments/, run/experiment.h)
 * run end to end: offline pretrain, warm start, online fine-tune and the baselines, each
 * (method, seed) a resumable job in runs/<experiment>/ (run/pipeline.h). */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/o2o_commands.h"
#include "o2o_flags.h"
#include "o2o_version.h"
#include "run/experiment.h"
#include "run/pipeline.h"

#define DEFAULT_EXPERIMENT "pendulum-gear"
#define MAX_SETS 128

static int online_cpus(void) {
  cpu_set_t s;
  if (sched_getaffinity(0, sizeof s, &s) == 0 && CPU_COUNT(&s) > 0) return CPU_COUNT(&s);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: o2o run [EXPERIMENT] [options]\n"
          "  Runs an experiment (default %s): the offline pretrain, then per method the\n"
          "  online phase in the scenario's sim variant, evaluated on the real variant, every\n"
          "  (method, seed) a job in its own folder. Running the same command again skips\n"
          "  finished phases and resumes the others from their last checkpoint.\n"
          "  EXPERIMENT: a name (scenarios/experiments/NAME.ini, or in $O2O_SCENARIO_PATH's\n"
          "  experiments/) or a path to an .ini file.\n"
          "methods: offline (pretrain alone), sac-sim (SAC in sim), naive (pretrain + SAC),\n"
          "  wsrl (pretrain + K warm-up steps + REDQ-style SAC), h2o (H2O from scratch with the\n"
          "  dataset as its real buffer), full (pretrain + K warm-up steps + H2O)\n"
          "options:\n"
          "  --methods LIST|all    methods to run (default: the file's [experiment] methods)\n"
          "  --seeds LIST          a count N (1..N) or a list like 1,2,5 or 1-3\n"
          "  --set SEC.KEY=VALUE   override any key of the file (repeatable), e.g.\n"
          "                        --set online.steps=5000 --set offline.expectile=0.7\n"
          "  --jobs N              jobs at once, one process each (default: online CPUs, %d)\n"
          "  --out DIR             run folder (default runs/<experiment name>)\n"
          "  --sim-exe PATH        o2o-sim to spawn (default: next to o2o, then PATH)\n"
          "  --quiet               no progress lines on stderr (errors still)\n"
          "files in DIR: experiment.ini (resolved), run.log, <method>/seed<k>/ (config.json,\n"
          "  metrics.csv, checkpoint.safetensors, final.safetensors, log.txt, DONE or FAILED)\n"
          "exit code: 0 every job DONE, 1 some job FAILED or an error, 2 usage error\n",
          DEFAULT_EXPERIMENT, online_cpus());
}

/* o2o run --worker RUN_DIR METHOD SEED [--sim-exe PATH]: one job, started by the parent */
static int worker(int argc, char **argv) {
  if (argc != 5 && !(argc == 7 && !strcmp(argv[5], "--sim-exe"))) {
    fprintf(stderr, "o2o run --worker: expects RUN_DIR METHOD SEED [--sim-exe PATH]\n");
    return 2;
  }
  const char *run_dir = argv[2], *sim = argc == 7 ? argv[6] : NULL;
  int m = o2o_method_find(argv[3]);
  int64_t seed;
  if (m < 0 || o2o_cli_int("run --worker", "SEED", argv[4], 0, INT64_MAX, &seed)) {
    fprintf(stderr, "o2o run --worker: unknown method '%s'\n", argv[3]);
    return 2;
  }
  cpu_set_t cs; /* the parent pins a job when it runs several at a time: say so in the log */
  if (sched_getaffinity(0, sizeof cs, &cs) == 0 && CPU_COUNT(&cs) == 1)
    for (int c = 0; c < CPU_SETSIZE; c++)
      if (CPU_ISSET(c, &cs)) fprintf(stderr, "o2o run: this job runs on CPU %d (o2o-sim too)\n", c);
  static o2o_experiment x;
  char path[1200], err[4096];
  snprintf(path, sizeof path, "%s/experiment.ini", run_dir);
  if (o2o_experiment_load(path, NULL, 0, &x, err, sizeof err) ||
      o2o_pipeline_run_job(&x, run_dir, m, (uint64_t)seed, sim, 1, err, sizeof err)) {
    fprintf(stderr, "o2o run: %s/seed%lld: %s\n", argv[3], (long long)seed, err);
    return 1;
  }
  return 0;
}

typedef struct set_list {
  const char *v[MAX_SETS + 2];
  int n;
} set_list;

/* --set: repeatable, every value kept in order */
static int add_set(const o2o_flag *fl, const char *value, char *err, size_t errlen) {
  set_list *l = fl->dest;
  if (l->n == MAX_SETS) {
    snprintf(err, errlen, "more than %d --set", MAX_SETS);
    return -1;
  }
  l->v[l->n++] = value;
  return 0;
}

int o2o_cmd_run(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "--worker")) return worker(argc, argv);
  const char *out = NULL, *sim = NULL, *methods = NULL, *seeds = NULL;
  int quiet = 0;
  int64_t jobs = online_cpus();
  static set_list sl;
  static char methods_set[600], seeds_set[600];
  o2o_flags *f = o2o_flags_create("o2o run");
  o2o_flags_str(f, "methods", &methods, "LIST", "methods to run, or all");
  o2o_flags_str(f, "seeds", &seeds, "LIST", "a count N or a list 1,2,5 / 1-3");
  o2o_flags_fn(f, "set", add_set, &sl, NULL, "SEC.KEY=VALUE", "override a key (repeatable)");
  o2o_flags_i64(f, "jobs", &jobs, 1, 256, "N", "jobs at once");
  o2o_flags_str(f, "out", &out, "DIR", "run folder");
  o2o_flags_str(f, "sim-exe", &sim, "PATH", "o2o-sim to spawn");
  o2o_flags_bool(f, "quiet", &quiet, "no progress lines");
  o2o_flags_std(f, usage, "o2o " O2O_VERSION);
  o2o_flags_positionals(f, 0, 1, "EXPERIMENT");
  int rc = o2o_flags_parse(f, argc, argv);
  const char *name = !rc && o2o_flags_npos(f) ? o2o_flags_pos(f, 0) : NULL;
  o2o_flags_destroy(f);
  if (rc) return rc < 0 ? 2 : 0;
  const char **sets = sl.v;
  int nsets = sl.n;
  if (methods) {
    char buf[600], *save = NULL;
    snprintf(buf, sizeof buf, "%s", methods);
    for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
      if (strcmp(t, "all") && o2o_method_find(t) < 0) {
        const char *names[O2O_NUM_METHODS + 1] = {"all"};
        for (int m = 0; m < O2O_NUM_METHODS; m++)
          names[m + 1] = o2o_method_name(m);
        const char *near = o2o_flags_suggest(t, names, O2O_NUM_METHODS + 1);
        fprintf(stderr,
                "o2o run: --methods: unknown method '%s'%s%s%s (methods: offline, sac-sim, naive, "
                "wsrl, h2o, full, all)\n",
                t, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
        return 2;
      }
    snprintf(methods_set, sizeof methods_set, "experiment.methods=%s", methods);
  }
  if (seeds) snprintf(seeds_set, sizeof seeds_set, "experiment.seeds=%s", seeds);
  /* the command line's --methods/--seeds win over every --set of the same keys */
  if (methods_set[0]) sets[nsets++] = methods_set;
  if (seeds_set[0]) sets[nsets++] = seeds_set;
  char path[1100], err[4096];
  if (o2o_experiment_find(name ? name : DEFAULT_EXPERIMENT, path, sizeof path, err, sizeof err)) {
    fprintf(stderr, "o2o run: %s\n", err);
    return 2;
  }
  static o2o_experiment x;
  if (o2o_experiment_load(path, sets, nsets, &x, err, sizeof err)) {
    fprintf(stderr, "o2o run: %s\n", err);
    return 2;
  }
  char dir[1100], exe[1100];
  snprintf(dir, sizeof dir, "%s", out ? out : "runs/");
  if (!out) snprintf(dir, sizeof dir, "runs/%s", x.name);
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) {
    fprintf(stderr, "o2o run: cannot find this program (/proc/self/exe)\n");
    return 1;
  }
  exe[n] = 0;
  static char command[4096];
  size_t len = (size_t)snprintf(command, sizeof command, "o2o");
  for (int i = 0; i < argc && len < sizeof command; i++) /* argv[0] is "run" */
    len += (size_t)snprintf(command + len, sizeof command - len, " %s", argv[i]);
  o2o_run_options o = {
      .exe = exe, .sim_exe = sim, .jobs = (int)jobs, .quiet = quiet, .command = command};
  rc = o2o_run_experiment(&x, dir, &o, err, sizeof err);
  if (rc < 0) fprintf(stderr, "o2o run: %s\n", err);
  return rc ? 1 : 0;
}
