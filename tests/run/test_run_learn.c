/* test_run_learn.c (label "slow"): the CI bar on the default experiment (`o2o run`
 * with no argument: pendulum-gear, methods full, sac-sim, offline, seed 1), read from the
 * run's files:
 *   - offline pretraining reaches >= the dataset's mean return (offline DONE);
 *   - the first evaluation after the warm-up is >= 90% of the pretrained score (no collapse at
 *     the switch): full's first metrics.csv row past the K warm-up steps and the critic-only
 *     updates (once its actor has begun to learn) vs the offline final eval;
 *   - the full method's final real-variant score > sim-only SAC's and >= the offline-only one.
 * O2O_TEST_RUN_DIR=DIR checks an existing run folder of the default experiment instead. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *build_dir(void) {
  const char *b = getenv("O2O_BUILD_DIR");
  return b ? b : O2O_TEST_BUILD_DIR;
}

/* a number field of a DONE file ("key": value) */
static double done_num(const char *run, const char *method, const char *key) {
  char p[1200], buf[8192], pat[128];
  snprintf(p, sizeof p, "%s/%s/seed1/DONE", run, method);
  FILE *f = fopen(p, "r");
  cr_assert_not_null(f, "%s missing (the %s job did not finish)", p, method);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  fclose(f);
  snprintf(pat, sizeof pat, "\"%s\": ", key);
  const char *v = strstr(buf, pat);
  cr_assert_not_null(v, "%s has no %s: %s", p, key, buf);
  return strtod(v + strlen(pat), NULL);
}

/* [experiment]/[warmstart] key of the resolved experiment.ini */
static long long ini_num(const char *run, const char *section, const char *key) {
  char p[1200], line[1024], sec[64] = "";
  snprintf(p, sizeof p, "%s/experiment.ini", run);
  FILE *f = fopen(p, "r");
  cr_assert_not_null(f, "%s", p);
  long long v = -1;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '[') sscanf(line, "[%63[^]]", sec);
    size_t k = strlen(key);
    if (!strcmp(sec, section) && !strncmp(line, key, k) && line[k] == ' ')
      v = atoll(strchr(line, '=') + 1);
  }
  fclose(f);
  cr_assert_geq(v, 0, "%s: no %s.%s", p, section, key);
  return v;
}

/* the first evaluation of metrics.csv with step > after and more than min_updates updates (the
 * policy has begun to learn): (step, mean return) */
static void first_eval_after(const char *run, const char *method, long long after,
                             long long min_updates, long long *step, double *ret) {
  char p[1200], line[8192];
  snprintf(p, sizeof p, "%s/%s/seed1/metrics.csv", run, method);
  FILE *f = fopen(p, "r");
  cr_assert_not_null(f, "%s", p);
  cr_assert_not_null(fgets(line, sizeof line, f));
  cr_assert(!strncmp(line, "step,wall_s,eval_return_mean,", 29), "%s: header %s", p, line);
  int ucol = -1, col = 0;
  for (char *t = strtok(line, ",\n"); t; t = strtok(NULL, ",\n"), col++)
    if (!strcmp(t, "updates")) ucol = col;
  cr_assert_geq(ucol, 0, "%s: no updates column", p);
  *step = -1;
  while (fgets(line, sizeof line, f)) {
    double v[64];
    int n = 0;
    for (char *t = line; n < 64; t++) {
      v[n++] = strtod(t, &t);
      if (*t != ',') break;
    }
    if (n > ucol && v[0] > after && v[ucol] > min_updates) {
      *step = (long long)v[0];
      *ret = v[2];
      break;
    }
  }
  fclose(f);
  cr_assert_geq(*step, 0, "%s: no evaluation after step %lld with > %lld updates", p, after,
                min_updates);
}

Test(run_learn, default_experiment_meets_the_bar, .timeout = 3600) {
  char run[300];
  const char *given = getenv("O2O_TEST_RUN_DIR");
  if (given) {
    snprintf(run, sizeof run, "%s", given);
  } else {
    snprintf(run, sizeof run, "/tmp/o2o_test_run_learn_%d", (int)getpid());
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "%s/o2o run --out %s", build_dir(), run);
    int st = system(cmd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "o2o run failed: see %s/run.log", run);
  }
  const double data = done_num(run, "offline", "dataset_return_mean");
  const double pre = done_num(run, "offline", "final_eval_mean");
  const double sac = done_num(run, "sac-sim", "final_eval_mean");
  const double full = done_num(run, "full", "final_eval_mean");
  const long long K = ini_num(run, "warmstart", "steps");
  const long long critic_only = ini_num(run, "warmstart", "critic_updates");
  long long after_step;
  double after;
  first_eval_after(run, "full", K, critic_only, &after_step, &after);
  fprintf(stderr,
          "run_learn: dataset %.1f, pretrained %.1f, full first eval after warm-up (step %lld) "
          "%.1f (%.0f%%), final: full %.1f, sac-sim %.1f, offline %.1f\n",
          data, pre, after_step, after, 100 * after / pre, full, sac, pre);
  cr_expect_geq(pre, data, "offline pretraining %.1f below the dataset's mean return %.1f", pre,
                data);
  cr_expect_geq(after, 0.9 * pre,
                "first evaluation after warm-up %.1f below 90%% of the pretrained %.1f", after,
                pre);
  cr_expect_gt(full, sac, "full %.1f not above sim-only SAC %.1f", full, sac);
  cr_expect_geq(full, pre, "full %.1f below the offline-only %.1f", full, pre);
  if (!given) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", run);
    cr_assert_eq(system(cmd), 0);
  }
}
