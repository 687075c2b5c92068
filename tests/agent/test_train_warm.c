/* test_train_warm.c: the online loop's warm start (train.h init_from, warmup_steps) on the
 * in-process fake env: the step-0 evaluation is the pretrained policy's, warm-up steps act with
 * the learner's sampled policy and make no updates, start_steps falls to 0, the run files
 * record the warm start, and a run resumed inside its warm-up continues it. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fake_env.h"
#include "io/checkpoint.h"
#include "learn/iql.h"
#include "replay/replay.h"

static char tmpdir[256], pre[300];

static o2o_learner *pretrained; /* the IQL learner saved to pre */

/* An IQL learner on the fake env's dims (obs 3, act 1, hidden 32), 50 updates on batches of
 * a pushing policy's transitions, saved as an offline checkpoint with task "point". */
static void make_pretrained(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/o2o_test_train_warm_XXXXXX");
  cr_assert_not_null(mkdtemp(tmpdir));
  snprintf(pre, sizeof pre, "%s/pre.safetensors", tmpdir);
  o2o_iql_config c;
  o2o_iql_config_default(&c);
  c.hidden = 32;
  c.batch_size = 32;
  const float mean[3] = {0.1f, 0.0f, 0.5f}, std[3] = {1.5f, 0.3f, 0.3f};
  char err[O2O_AGENT_ERRLEN] = "";
  pretrained = o2o_learner_create(o2o_learner_find("iql"), 3, 1, &c, mean, std, 5, err, sizeof err);
  cr_assert_not_null(pretrained, "%s", err);
  o2o_batch b;
  cr_assert_eq(o2o_replay_batch_alloc(&b, 32, 3, 1, 0), 0);
  uint64_t s = 17;
  for (int k = 0; k < 50; k++) {
    for (int r = 0; r < 32; r++) {
      float x = 2.0f * fake_uniform(&s), v = 0.2f * fake_uniform(&s), a = -0.5f * x;
      float v2 = 0.8f * v + 0.1f * 2.0f * a, x2 = x + v2;
      float o[3] = {x, v, fake_uniform(&s) + 0.5f}, o2[3] = {x2, v2, o[2] + 0.02f};
      memcpy(b.obs + 3 * r, o, sizeof o);
      memcpy(b.next_obs + 3 * r, o2, sizeof o2);
      b.act[r] = a;
      b.rew[r] = 1.0f - fabsf(x2);
      b.done[r] = 0;
    }
    cr_assert_eq(o2o_learner_update(pretrained, &b, NULL, err, sizeof err), 0, "%s", err);
  }
  o2o_replay_batch_free(&b);
  o2o_ckpt_meta m;
  o2o_ckpt_meta_init(&m);
  cr_assert_eq(o2o_learner_meta(pretrained, &m, err, sizeof err), 0, "%s", err);
  o2o_ckpt_meta_set(&m, "phase", "offline");
  o2o_ckpt_meta_set(&m, "step", "50");
  o2o_ckpt_meta_set(&m, "task", "point");
  const o2o_tensor_ref *t;
  int n = o2o_learner_tensors(pretrained, &t);
  cr_assert_eq(o2o_ckpt_save(pre, t, n, &m, err, sizeof err), 0, "%s", err);
}

static void cleanup(void) {
  o2o_learner_destroy(pretrained);
  cr_assert_eq(fake_rm_tree(tmpdir), 0);
}

TestSuite(train_warm, .init = make_pretrained, .fini = cleanup);

/* 1000 env steps on 2 envs, warm-up 600, evaluations every 200, checkpoints every 400. The
 * online SAC takes hidden 32 (agrees with the file) and the default start_steps. */
#define online fake_small_sac
static void warm_config(o2o_train_config *cfg, const char *out) {
  fake_small_config(cfg, out); /* SAC hidden 32, batch 32 */
  cfg->steps = 1000;
  cfg->eval_every = 200;
  cfg->checkpoint_every = 400;
  cfg->init_from = pre;
  cfg->warmup_steps = 600;
  online.start_steps = 5000; /* the default: a warm-started learner makes it 0 */
}

/* out/name read whole (asserted). */
static char *run_file(const char *out, const char *name) {
  char p[700];
  snprintf(p, sizeof p, "%s/%s", out, name);
  char *b = fake_slurp(p);
  cr_assert_not_null(b, "cannot read %s", p);
  return b;
}

/* The updates column (11th) of metrics.csv's row at step, or -1 when there is no such row. */
static long long updates_at(const char *csv, long long step) {
  char key[32];
  snprintf(key, sizeof key, "\n%lld,", step);
  const char *p = strstr(csv, key);
  if (!p) return -1;
  p++;
  for (int c = 0; c < 10; c++)
    p = strchr(p, ',') + 1;
  return strtoll(p, NULL, 10);
}

static void act_det(void *ctx, const float *obs, int n, float *actions) {
  o2o_learner_act(ctx, obs, n, 1, actions);
}

static o2o_learner *load(const char *path) {
  char err[O2O_AGENT_ERRLEN] = "";
  o2o_learner *l = o2o_learner_load(path, "sac", NULL, err, sizeof err);
  cr_assert_not_null(l, "%s", err);
  return l;
}

static float sac_updates(o2o_learner *l) {
  const o2o_tensor_ref *t;
  int n = o2o_learner_tensors(l, &t);
  for (int i = 0; i < n; i++)
    if (!strcmp(t[i].name, "sac.updates")) return t[i].data[0];
  cr_assert_fail("no sac.updates");
  return -1;
}

Test(train_warm, step0_eval_is_the_pretrained_policy_and_warmup_makes_no_updates) {
  char out[512], err[1024];
  snprintf(out, sizeof out, "%s/run", tmpdir);
  o2o_train_config cfg;
  warm_config(&cfg, out);
  o2o_train_env ref_env;
  fake_env_create(&ref_env, 3, 50);
  /* the source policy's own evaluation, with the run's evaluation seeds */
  double ref[3];
  cr_assert_eq(
      o2o_train_evaluate(&ref_env, act_det, pretrained, 3, cfg.eval_seed, ref, err, sizeof err), 0,
      "%s", err);
  const double ref_mean = (ref[0] + ref[1] + ref[2]) / 3;
  ref_env.destroy(ref_env.ctx);
  o2o_train_result res;
  cr_assert_eq(fake_run(&cfg, &res, err, sizeof err), 0, "%s", err);
  cr_assert(res.warm_started);
  cr_assert(fabs(res.init_eval_mean - ref_mean) <= 1e-3 * fmax(1.0, fabs(ref_mean)),
            "step-0 eval %.6f, the pretrained policy's %.6f", res.init_eval_mean, ref_mean);
  cr_assert_str_eq(res.warm.source_algo, "iql");
  /* updates only from step 600: 2 envs x utd 1 per iteration, 200 iterations */
  cr_assert_eq(res.updates, 400, "updates %lld", (long long)res.updates);
  cr_assert_eq(res.evals, 6, "step 0 + 5 periodic");
  char *csv = run_file(out, "metrics.csv");
  cr_assert_eq(updates_at(csv, 0), 0, "%s", csv);
  cr_assert_eq(updates_at(csv, 400), 0, "%s", csv);
  cr_assert_eq(updates_at(csv, 600), 0, "no update in the warm-up:\n%s", csv);
  cr_assert_gt(updates_at(csv, 800), 0, "%s", csv);
  free(csv);
  char *js = run_file(out, "config.json");
  cr_assert(strstr(js, "\"warmup_steps\": 600") && strstr(js, "\"init_from\": \"") &&
                strstr(js, "\"source_algorithm\": \"iql\"") && strstr(js, "\"start_steps\": 0") &&
                strstr(js, "\"converted\": \"actor"),
            "%s", js);
  free(js);
}

Test(train_warm, all_warmup_acts_with_the_policy_and_makes_no_update) {
  char out[512], p[700], err[1024];
  snprintf(out, sizeof out, "%s/all", tmpdir);
  o2o_train_config cfg;
  warm_config(&cfg, out);
  cfg.steps = cfg.warmup_steps = 400;
  o2o_train_result res;
  cr_assert_eq(fake_run(&cfg, &res, err, sizeof err), 0, "%s", err);
  cr_assert_eq(res.updates, 0);
  cr_assert_eq(res.last_eval_mean, res.init_eval_mean, "no update: the same policy");
  cr_assert_eq(res.transitions, 400, "the warm-up fills the buffer");
  /* it acted with the learner's sampled policy: the sampling rng moved (uniform random actions
   * and deterministic evaluations draw nothing from it), the parameters did not */
  o2o_learner *fresh = o2o_learner_warm_start(o2o_learner_find("sac"), &online, pre,
                                              o2o_seed_stream(cfg.seed, O2O_STREAM_LEARNER), NULL,
                                              NULL, err, sizeof err);
  cr_assert_not_null(fresh, "%s", err);
  snprintf(p, sizeof p, "%s/final.safetensors", out);
  o2o_learner *done = load(p);
  const o2o_tensor_ref *ta, *tb;
  int na = o2o_learner_tensors(done, &ta), nb = o2o_learner_tensors(fresh, &tb);
  cr_assert_eq(na, nb);
  for (int i = 0; i < na; i++) {
    int same = !memcmp(ta[i].data, tb[i].data, sizeof(float) * (size_t)o2o_tensor_numel(&ta[i]));
    if (!strcmp(ta[i].name, "sac.rng"))
      cr_assert(!same, "the sampling rng never moved: the warm-up did not act with the policy");
    else
      cr_assert(same, "%s changed without an update", ta[i].name);
  }
  o2o_learner_destroy(done);
  o2o_learner_destroy(fresh);
}

/* Stopped at 500 (checkpoint at 400, inside the warm-up), then resumed to 1000 from the file:
 * the warm-up still holds until 600, init_from is ignored and kept in the records. */
Test(train_warm, resumed_inside_the_warmup_continues) {
  char out[512], ck[700], p[700], err[1024];
  snprintf(out, sizeof out, "%s/run", tmpdir);
  o2o_train_config cfg;
  warm_config(&cfg, out);
  cfg.steps = 500;
  o2o_train_result res;
  cr_assert_eq(fake_run(&cfg, &res, err, sizeof err), 0, "%s", err);
  cr_assert_eq(res.updates, 0);
  snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", out);
  o2o_ckpt *c = o2o_ckpt_open(ck, err, sizeof err);
  cr_assert_not_null(c, "%s", err);
  cr_assert_str_eq(o2o_ckpt_meta_get(o2o_ckpt_metadata(c), "step"), "400");
  cr_assert_str_eq(o2o_ckpt_meta_get(o2o_ckpt_metadata(c), "warmup_steps"), "600");
  cr_assert_str_eq(o2o_ckpt_meta_get(o2o_ckpt_metadata(c), "init_from"), pre);
  o2o_ckpt_close(c);

  warm_config(&cfg, out);
  cfg.resume = ck;
  cfg.init_from = "/nonexistent/ignored.safetensors";
  cr_assert_eq(fake_run(&cfg, &res, err, sizeof err), 0, "%s", err);
  cr_assert(!res.warm_started);
  cr_assert_eq(res.env_steps, 1000);
  cr_assert_eq(res.updates, 400, "updates from 600 only: %lld", (long long)res.updates);
  char *csv = run_file(out, "metrics.csv");
  cr_assert_eq(updates_at(csv, 0), 0, "%s", csv);
  cr_assert_eq(updates_at(csv, 600), 0, "%s", csv);
  cr_assert_gt(updates_at(csv, 1000), 0, "%s", csv);
  free(csv);
  char *js = run_file(out, "config.json");
  cr_assert(strstr(js, pre) && strstr(js, "\"warm_start\": null"), "%s", js);
  free(js);
  snprintf(p, sizeof p, "%s/final.safetensors", out);
  o2o_learner *l = load(p);
  cr_assert_eq(sac_updates(l), 400.0f);
  o2o_learner_destroy(l);
}

Test(train_warm, refuses_a_checkpoint_of_another_task) {
  char err[1024];
  o2o_train_config cfg;
  warm_config(&cfg, NULL);
  o2o_train_env env, eval_env;
  fake_env_create(&env, 2, 50);
  fake_env_create(&eval_env, 3, 50);
  snprintf(((fake_env *)env.ctx)->spec.task, sizeof((fake_env *)env.ctx)->spec.task, "hopper");
  o2o_train_result res;
  cr_assert_neq(o2o_train_run(&cfg, &env, &eval_env, &res, err, sizeof err), 0);
  cr_assert(strstr(err, "point") && strstr(err, "hopper"), "%s", err);
  env.destroy(env.ctx);
  eval_env.destroy(eval_env.ctx);
}
