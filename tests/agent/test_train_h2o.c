/* test_train_h2o.c: the online loop with a real dataset (cfg->real_dataset): H2O's batches mix
 * the dataset (real rows, is_real) with the training env's transitions, the dataset's state
 * std reaches the learner, the gap statistics land in metrics.csv; a learner that does not mix
 * real data refuses a dataset and H2O refuses to run without one. Uses the in-process point
 * env of fake_env.h and a dataset written here. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_env.h"
#include "io/checkpoint.h"
#include "learn/h2o.h"
#include "o2o_dataset.h"

static char dir[256], data_path[300];

/* 400 rows of the point env: x' = x + 0.1 a (the "real" dynamics), episodes of 50 */
static void make_dataset(void) {
  snprintf(dir, sizeof dir, "/tmp/o2o_test_train_h2o_XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  snprintf(data_path, sizeof data_path, "%s/point.hdf5", dir);
  enum { N = 400 };
  static float obs[N * 3], next[N * 3], act[N], rew[N];
  static uint8_t term[N], tout[N];
  uint64_t s = 5;
  float x = 0, v = 0;
  for (int i = 0; i < N; i++) {
    int t = i % 50;
    if (t == 0) x = fake_uniform(&s), v = 0;
    act[i] = 2 * fake_uniform(&s);
    obs[i * 3] = x, obs[i * 3 + 1] = v, obs[i * 3 + 2] = t / 50.0f;
    v = 0.1f * act[i];
    x += v;
    next[i * 3] = x, next[i * 3 + 1] = v, next[i * 3 + 2] = (t + 1) / 50.0f;
    rew[i] = 1 - fabsf(x);
    tout[i] = t == 49;
  }
  o2o_dataset_data d = {N, 3, 1, obs, act, rew, next, term, tout, 0, NULL};
  char err[1024] = "";
  cr_assert_eq(o2o_dataset_write(data_path, &d, NULL, err, sizeof err), 0, "%s", err);
}

static void cleanup(void) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(train_h2o, .init = make_dataset, .fini = cleanup, .timeout = 120);

static o2o_h2o_config tiny(void) {
  o2o_h2o_config c;
  o2o_h2o_config_default(&c);
  c.sac.hidden = 16;
  c.disc_hidden = 16;
  c.real_batch = c.sim_batch = 16;
  c.sac.batch_size = 32;
  c.disc_batch = 16;
  return c;
}

Test(train_h2o, mixes_the_dataset_into_h2o_batches_and_logs_the_gap) {
  char out[512], err[1024] = "";
  snprintf(out, sizeof out, "%s/run", dir);
  o2o_train_config cfg;
  fake_small_config(&cfg, out);
  o2o_h2o_config hc = tiny();
  cfg.algorithm = "h2o";
  cfg.learner_config = &hc;
  cfg.real_dataset = data_path;
  cfg.steps = 600;
  cfg.eval_every = 300;
  o2o_train_env env, eval_env;
  fake_env_create(&env, 2, 50);
  fake_env_create(&eval_env, 3, 50);
  o2o_train_result res;
  cr_assert_eq(o2o_train_run(&cfg, &env, &eval_env, &res, err, sizeof err), 0, "%s", err);
  /* updates once the sim buffer holds the sim half + the discriminator's sim rows (32) */
  cr_assert_gt(res.updates, 500);
  char p[600];
  snprintf(p, sizeof p, "%s/metrics.csv", out);
  FILE *f = fopen(p, "r");
  cr_assert_not_null(f);
  char header[2048], row[2048];
  cr_assert_not_null(fgets(header, sizeof header, f));
  cr_assert_not_null(fgets(row, sizeof row, f));
  fclose(f);
  /* the column of disc_sas_loss holds a number below the chance level of 2 log 2 + margin */
  int col = 0;
  for (char *h = header; h < strstr(header, "disc_sas_loss"); h++)
    col += *h == ',';
  char *c = row;
  for (int k = 0; k < col; k++)
    c = strchr(c, ',') + 1;
  double sas = strtod(c, NULL);
  cr_assert(isfinite(sas) && sas > 0 && sas < 2.0, "disc_sas_loss %g in %s", sas, row);
  cr_assert_not_null(strstr(header, "sqrt_is_ratio"));
  /* the checkpoint names the dataset, so --resume needs nothing else */
  snprintf(p, sizeof p, "%s/final.safetensors", out);
  o2o_ckpt *ck = o2o_ckpt_open(p, err, sizeof err);
  cr_assert_not_null(ck, "%s", err);
  cr_assert_str_eq(o2o_ckpt_meta_get(o2o_ckpt_metadata(ck), "real_dataset"), data_path);
  cr_assert_str_eq(o2o_ckpt_meta_get(o2o_ckpt_metadata(ck), "algorithm"), "h2o");
  o2o_ckpt_close(ck);
  env.destroy(env.ctx);
  eval_env.destroy(eval_env.ctx);
}

Test(train_h2o, a_dataset_needs_a_learner_that_mixes_it_and_h2o_needs_one) {
  char err[1024] = "";
  o2o_train_env env, eval_env;
  fake_env_create(&env, 1, 50);
  fake_env_create(&eval_env, 1, 50);
  o2o_train_config cfg;
  fake_small_config(&cfg, NULL);
  cfg.real_dataset = data_path; /* SAC does not use it */
  o2o_train_result res;
  cr_assert_neq(o2o_train_run(&cfg, &env, &eval_env, &res, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "does not mix real data"), "%s", err);
  o2o_h2o_config hc = tiny();
  cfg.algorithm = "h2o";
  cfg.learner_config = &hc;
  cfg.real_dataset = NULL;
  cr_assert_neq(o2o_train_run(&cfg, &env, &eval_env, &res, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "needs a real dataset"), "%s", err);
  env.destroy(env.ctx);
  eval_env.destroy(eval_env.ctx);
}
