/* test_offline.c: `o2o train-offline`'s loop (run/offline.h) through spawned o2o-sim
 * children: a short IQL run writes config.json, metrics.csv and checkpoints that rebuild the
 * learner; --resume continues in the same folder from the checkpoint alone, drops the rows
 * past it and refuses a target already reached; a dataset of another task and an unknown
 * or online-only algorithm are refused before anything trains. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "learn/iql.h"
#include "learn/learner.h"
#include "run/offline.h"

static char dir[256], sim[600];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/o2o_test_offline_XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  const char *b = getenv("O2O_BUILD_DIR");
  snprintf(sim, sizeof sim, "%s/o2o-sim", b ? b : O2O_TEST_BUILD_DIR);
}

static void teardown(void) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(offline, .init = setup, .fini = teardown, .timeout = 240);

static o2o_iql_config small_iql(void) {
  o2o_iql_config c;
  o2o_iql_config_default(&c);
  c.hidden = 32;
  c.batch_size = 64;
  return c;
}

static void small_run(o2o_offline_config *c, const o2o_iql_config *ic, const char *out) {
  o2o_offline_config_default(c);
  c->dataset = "pendulum-medium";
  c->scenario = "pendulum";
  c->algo = "iql";
  c->algo_cfg = ic;
  c->steps = 300;
  c->eval_every = 100;
  c->eval_episodes = 2;
  c->checkpoint_every = 200;
  c->out_dir = out;
  c->sim_exe = sim;
  c->progress = 0;
}

static int lines_of(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  int n = 0, ch;
  while ((ch = fgetc(f)) != EOF)
    n += ch == '\n';
  fclose(f);
  return n;
}

Test(offline, short_run_writes_files_and_resumes_in_place) {
  o2o_iql_config ic = small_iql();
  char out[400], err[2048] = "", p[600];
  snprintf(out, sizeof out, "%s/run", dir);
  o2o_offline_config c;
  small_run(&c, &ic, out);
  o2o_offline_result res;
  cr_assert_eq(o2o_offline_run(&c, &res, err, sizeof err), 0, "%s", err);
  cr_assert_eq(res.steps, 300);
  cr_assert_eq(res.evals, 3);
  cr_assert(isfinite(res.last_eval_mean) && res.last_eval_mean > 0);
  cr_assert_float_eq(res.dataset_return_mean, 319.8, 1.0, "pendulum-medium's mean return %g",
                     res.dataset_return_mean);
  snprintf(p, sizeof p, "%s/metrics.csv", out);
  cr_assert_eq(lines_of(p), 4, "header + 3 evaluations");
  snprintf(p, sizeof p, "%s/config.json", out);
  cr_assert_gt(lines_of(p), 2);
  /* the periodic checkpoint (step 200) rebuilds an iql learner with the run's settings */
  snprintf(p, sizeof p, "%s/checkpoint.safetensors", out);
  o2o_ckpt_meta meta;
  o2o_learner *l = o2o_learner_load(p, "iql", &meta, err, sizeof err);
  cr_assert_not_null(l, "%s", err);
  cr_assert_str_eq(o2o_ckpt_meta_get(&meta, "phase"), "offline");
  cr_assert_str_eq(o2o_ckpt_meta_get(&meta, "step"), "200");
  cr_assert_eq(((const o2o_iql_config *)o2o_learner_config(l))->hidden, 32);
  o2o_learner_destroy(l);

  /* resume from step 200 to 400: same folder, the row of step 300 is replaced */
  o2o_offline_config r;
  small_run(&r, NULL, NULL);
  r.resume = p;
  r.steps = 400;
  /* the kept row of step 100 made the run's best: the resumed run's best is the whole run's */
  char sed[900];
  snprintf(sed, sizeof sed, "sed -i 's/^100,\\([^,]*\\),[^,]*,/100,\\1,99999,/' '%s/metrics.csv'",
           out);
  cr_assert_eq(system(sed), 0);
  cr_assert_eq(o2o_offline_run(&r, &res, err, sizeof err), 0, "%s", err);
  cr_assert_eq(res.steps, 400);
  cr_assert_eq(res.best_eval_mean, 99999.0, "best %g", res.best_eval_mean);
  snprintf(p, sizeof p, "%s/metrics.csv", out);
  FILE *f = fopen(p, "r");
  char line[4096], steps[64] = "";
  while (fgets(line, sizeof line, f))
    if (line[0] >= '0' && line[0] <= '9')
      snprintf(steps + strlen(steps), sizeof steps - strlen(steps), "%ld ", strtol(line, NULL, 10));
  fclose(f);
  cr_assert_str_eq(steps, "100 200 300 400 ", "rows after resume: %s", steps);
  snprintf(p, sizeof p, "%s/final.safetensors", out);
  cr_assert_eq(access(p, F_OK), 0);
  /* a target already reached is refused, naming the step */
  snprintf(p, sizeof p, "%s/checkpoint.safetensors", out);
  r.resume = p;
  r.steps = 150;
  cr_assert_neq(o2o_offline_run(&r, &res, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "already at step"), "%s", err);
  /* a second fresh run into the same --out is refused */
  small_run(&c, &ic, out);
  c.steps = 10;
  cr_assert_neq(o2o_offline_run(&c, &res, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "already holds a run"), "%s", err);
}

Test(offline, bad_datasets_and_algorithms_are_refused_before_training) {
  o2o_offline_config c;
  small_run(&c, NULL, NULL);
  o2o_offline_result res;
  char err[2048] = "";
  c.scenario = "hopper";
  cr_assert_neq(o2o_offline_run(&c, &res, err, sizeof err), 0);
  cr_assert(strstr(err, "obs 4 / act 1") && strstr(err, "obs 11 / act 3"), "%s", err);
  c.scenario = "pendulum";
  c.algo = "sac";
  cr_assert_neq(o2o_offline_run(&c, &res, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "iql"), "the offline learners are listed: %s", err);
  c.algo = "iql";
  c.dataset = "no-such-dataset";
  cr_assert_neq(o2o_offline_run(&c, &res, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "no-such-dataset"), "%s", err);
}
