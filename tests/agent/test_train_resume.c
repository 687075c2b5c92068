/* test_train_resume.c: runs that continue from a checkpoint alone (same folder, metrics rows past
 * the checkpoint cut, a reached target refused), checkpoint metadata validated against the
 * tensors (resume and the evaluation policy), run folders made exclusively, seed streams that
 * cannot meet the evaluation seeds, the ETA during warm-up and small loop fixes (issue 9). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_env.h"
#include "io/checkpoint.h"
#include "io/policy.h"
#include "learn/sac.h"
#include "run/train.h"

static char tmpdir[256];

static void make_tmpdir(void) {
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/o2o_test_resume_XXXXXX");
  cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void) {
  cr_assert_eq(fake_rm_tree(tmpdir), 0);
}

TestSuite(resume, .init = make_tmpdir, .fini = remove_tmpdir);

#define small_sac fake_small_sac

/* fake_small_config, to 1000 steps with checkpoints every 400 */
static void small_config(o2o_train_config *cfg, const char *out) {
  fake_small_config(cfg, out);
  cfg->steps = 1000;
  cfg->checkpoint_every = 400;
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p++)
    n++;
  return n;
}

#define slurp fake_slurp

/* A run to 1000 (checkpoints at 400, 800; rows at 500, 1000), then "killed": resume from the
 * step-800 checkpoint with nothing but the file. */
Test(resume, continues_in_place_from_the_checkpoint_alone) {
  char out[512], ck[600], p[700], err[1024];
  snprintf(out, sizeof out, "%s/run", tmpdir);
  o2o_train_config cfg;
  small_config(&cfg, out);
  small_sac.hidden = 24; /* not the default: resume must take it from the file */
  o2o_train_env env, eval_env;
  fake_env_create(&env, 2, 50);
  fake_env_create(&eval_env, 3, 50);
  o2o_train_result res;
  cr_assert_eq(o2o_train_run(&cfg, &env, &eval_env, &res, err, sizeof(err)), 0, "%s", err);
  snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", out);
  snprintf(p, sizeof p, "%s/metrics.csv", out);
  char *csv = slurp(p);
  cr_assert(strstr(csv, "\n1000,"), "%s", csv);
  free(csv);

  /* a target already reached is refused, naming both steps */
  o2o_train_config r;
  o2o_train_config_default(&r);
  r.progress = 0;
  r.eval_episodes = 3;
  r.eval_every = 500;
  r.checkpoint_every = 400;
  r.out_dir = out;
  r.resume = ck;
  r.steps = 800;
  cr_assert_neq(o2o_train_run(&r, &env, &eval_env, &res, err, sizeof(err)), 0);
  cr_assert(strstr(err, "env step 800") && strstr(err, "--steps 800"), "%s", err);

  /* the kept row of step 500 made the run's best: the resumed run's best is the whole run's */
  char sed[900];
  snprintf(sed, sizeof sed, "sed -i 's/^500,\\([^,]*\\),[^,]*,/500,\\1,99999,/' '%s'", p);
  cr_assert_eq(system(sed), 0);
  r.steps = 1600; /* no learner config at all: rebuilt from the file */
  cr_assert_eq(o2o_train_run(&r, &env, &eval_env, &res, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(res.env_steps, 1600);
  cr_assert(res.best_eval_mean == 99999.0 && res.best_eval_step == 500, "best %g at %lld",
            res.best_eval_mean, (long long)res.best_eval_step);
  csv = slurp(p);
  /* rows 500 (before the checkpoint), then 1000, 1500, 1600 of the resumed run: the killed
   * run's row at 1000 is gone, so 1000 appears once */
  cr_assert_eq(count(csv, "\n500,"), 1, "%s", csv);
  cr_assert_eq(count(csv, "\n1000,"), 1, "%s", csv);
  cr_assert_eq(count(csv, "\n1500,"), 1, "%s", csv);
  cr_assert_eq(count(csv, "step,"), 1, "one header: %s", csv);
  free(csv);
  o2o_ckpt *c = o2o_ckpt_open(ck, err, sizeof err);
  cr_assert_not_null(c, "%s", err);
  cr_assert_str_eq(o2o_ckpt_meta_get(o2o_ckpt_metadata(c), "sac.hidden"), "24");
  cr_assert_str_eq(o2o_ckpt_meta_get(o2o_ckpt_metadata(c), "step"), "1600");
  o2o_ckpt_close(c);
  env.destroy(env.ctx);
  eval_env.destroy(eval_env.ctx);
}

/* Copy a checkpoint with one metadata value replaced. */
static void rewrite_meta(const char *src, const char *dst, const char *key, const char *value) {
  char err[1024];
  o2o_ckpt *c = o2o_ckpt_open(src, err, sizeof err);
  cr_assert_not_null(c, "%s", err);
  int n = o2o_ckpt_num_tensors(c);
  o2o_tensor_ref *t = calloc((size_t)n, sizeof *t);
  for (int i = 0; i < n; i++)
    cr_assert_eq(o2o_ckpt_tensor(c, i, &t[i]), 0);
  o2o_ckpt_meta m = *o2o_ckpt_metadata(c);
  cr_assert_eq(o2o_ckpt_meta_set(&m, key, value), 0);
  cr_assert_eq(o2o_ckpt_save(dst, t, n, &m, err, sizeof err), 0, "%s", err);
  free(t);
  o2o_ckpt_close(c);
}

/* Only the actor tensors, with old-style unprefixed metadata (like the shipped policies). */
static void actor_only(const char *src, const char *dst, const char *key, const char *value) {
  char err[1024];
  o2o_ckpt *c = o2o_ckpt_open(src, err, sizeof err);
  cr_assert_not_null(c, "%s", err);
  int n = o2o_ckpt_num_tensors(c), k = 0;
  o2o_tensor_ref *t = calloc((size_t)n, sizeof *t);
  for (int i = 0; i < n; i++) {
    cr_assert_eq(o2o_ckpt_tensor(c, i, &t[k]), 0);
    if (!strncmp(t[k].name, "actor.l", 7)) k++;
  }
  o2o_ckpt_meta m;
  o2o_ckpt_meta_init(&m);
  o2o_ckpt_meta_set(&m, "algorithm", "sac");
  o2o_ckpt_meta_set(&m, "obs_dim", "3");
  o2o_ckpt_meta_set(&m, "act_dim", "1");
  o2o_ckpt_meta_set(&m, "hidden", "32");
  o2o_ckpt_meta_set(&m, "layers", "2");
  o2o_ckpt_meta_set(&m, "act_low", "-2");
  o2o_ckpt_meta_set(&m, "act_high", "2");
  if (key) o2o_ckpt_meta_set(&m, key, value);
  cr_assert_eq(o2o_ckpt_save(dst, t, k, &m, err, sizeof err), 0, "%s", err);
  free(t);
  o2o_ckpt_close(c);
}

Test(resume, metadata_that_disagrees_with_the_tensors_is_refused) {
  char out[512], ck[600], bad[700], err[1024];
  snprintf(out, sizeof out, "%s/run", tmpdir);
  o2o_train_config cfg;
  small_config(&cfg, out);
  cfg.eval_every = 0;
  o2o_train_env env, eval_env;
  fake_env_create(&env, 2, 50);
  fake_env_create(&eval_env, 3, 50);
  o2o_train_result res;
  cr_assert_eq(o2o_train_run(&cfg, &env, &eval_env, &res, err, sizeof(err)), 0, "%s", err);
  snprintf(ck, sizeof ck, "%s/final.safetensors", out);
  snprintf(bad, sizeof bad, "%s/bad/final.safetensors", tmpdir);
  char bdir[650];
  snprintf(bdir, sizeof bdir, "%s/bad", tmpdir);
  mkdir(bdir, 0755);
  static const struct {
    const char *key, *value, *want;
  } cases[] = {{"sac.hidden", "65", "shape"},
               {"sac.layers", "3", "actor.l2.weight"},
               {"act_high", "2.5", "act_high[0]"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rewrite_meta(ck, bad, cases[i].key, cases[i].value);
    /* resume */
    o2o_train_config r;
    small_config(&r, bdir);
    r.steps = 2000;
    r.resume = bad;
    cr_assert_neq(o2o_train_run(&r, &env, &eval_env, &res, err, sizeof(err)), 0, "%s",
                  cases[i].key);
    cr_assert(strstr(err, cases[i].want), "%s: %s", cases[i].key, err);
    /* evaluation: the policy load, then the bounds against the scenario */
    o2o_policy *pol = o2o_policy_load(bad, err, sizeof err);
    if (pol) {
      int rc =
          o2o_train_check_bounds(o2o_policy_meta(pol), bad, fake_spec(env.ctx), err, sizeof err);
      o2o_policy_destroy(pol);
      cr_assert_neq(rc, 0, "%s accepted by eval", cases[i].key);
    }
    cr_assert(strstr(err, cases[i].want), "eval %s: %s", cases[i].key, err);
  }
  /* actor-only files: every shaping field checked against the tensors */
  static const struct {
    const char *key, *value, *want;
  } acases[] = {{"hidden", "65", "hidden = 65"}, {"layers", "3", "layers = 3"},
                {"obs_dim", "4", "obs_dim = 4"}, {"log_std_min", "x", "log_std_min"},
                {"act_high", "2,3", "act_high"}, {"act_high", "-5", "act_low[0]"}};
  actor_only(ck, bad, NULL, NULL);
  o2o_policy *pol = o2o_policy_load(bad, err, sizeof err);
  cr_assert_not_null(pol, "the unmodified actor-only file loads: %s", err);
  o2o_policy_destroy(pol);
  for (size_t i = 0; i < sizeof acases / sizeof acases[0]; i++) {
    actor_only(ck, bad, acases[i].key, acases[i].value);
    pol = o2o_policy_load(bad, err, sizeof err);
    o2o_policy_destroy(pol);
    cr_assert_null(pol, "actor-only %s = %s accepted", acases[i].key, acases[i].value);
    cr_assert(strstr(err, acases[i].want), "%s: %s", acases[i].key, err);
  }
  env.destroy(env.ctx);
  eval_env.destroy(eval_env.ctx);
}

/* The learner checkpoint acts like the learner that wrote it, through o2o_policy. */
Test(resume, policy_of_a_learner_checkpoint_acts_like_the_learner) {
  char out[512], ck[600], err[1024];
  snprintf(out, sizeof out, "%s/run", tmpdir);
  o2o_train_config cfg;
  small_config(&cfg, out);
  cfg.eval_every = 0;
  o2o_train_env env, eval_env;
  fake_env_create(&env, 2, 50);
  fake_env_create(&eval_env, 3, 50);
  o2o_train_result res;
  cr_assert_eq(o2o_train_run(&cfg, &env, &eval_env, &res, err, sizeof(err)), 0, "%s", err);
  snprintf(ck, sizeof ck, "%s/final.safetensors", out);
  o2o_learner *l = o2o_learner_load(ck, "sac", NULL, err, sizeof err);
  cr_assert_not_null(l, "%s", err);
  o2o_policy *pol = o2o_policy_load(ck, err, sizeof err);
  cr_assert_not_null(pol, "%s", err);
  float obs[6] = {0.5f, 0, 0, -1, 0.2f, 0.5f}, a1[2], a2[2], s1[2], s2[2];
  o2o_learner_act(l, obs, 2, 1, a1);
  o2o_policy_act(pol, obs, 2, 1, a2);
  cr_assert(a1[0] == a2[0] && a1[1] == a2[1]);
  /* sampled actions follow o2o_policy_seed */
  o2o_policy_seed(pol, 7);
  o2o_policy_act(pol, obs, 2, 0, s1);
  o2o_policy_seed(pol, 7);
  o2o_policy_act(pol, obs, 2, 0, s2);
  cr_assert(s1[0] == s2[0] && s1[1] == s2[1] && s1[0] != a1[0]);
  o2o_policy_destroy(pol);
  o2o_learner_destroy(l);
  env.destroy(env.ctx);
  eval_env.destroy(eval_env.ctx);
}

Test(resume, metrics_cut_keeps_header_and_rows_up_to_the_step) {
  char p[600], err[512];
  snprintf(p, sizeof p, "%s/m.csv", tmpdir);
  FILE *f = fopen(p, "w");
  fputs("step,x\n500,1\n1000,2\n1500,3\n20", f); /* a partial last line from a kill */
  fclose(f);
  cr_assert_eq(o2o_train_cut_metrics(p, 1000, err, sizeof err), 0, "%s", err);
  char *s = slurp(p);
  cr_assert_str_eq(s, "step,x\n500,1\n1000,2\n");
  free(s);
}

Test(resume, run_folders_are_created_exclusively) {
  char want[600], a[700], b[700], err[512];
  snprintf(want, sizeof want, "%s/runs/x__sac__s1__20260101-000000", tmpdir);
  cr_assert_eq(o2o_train_make_run_dir(want, a, sizeof a, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_train_make_run_dir(want, b, sizeof b, err, sizeof err), 0, "%s", err);
  cr_assert_str_eq(a, want);
  cr_assert(strcmp(a, b) && strstr(b, "-2"), "%s vs %s", a, b);
  /* a second run into an existing run's folder is refused (metrics.csv made with O_EXCL) */
  o2o_train_config cfg;
  small_config(&cfg, a);
  cfg.steps = 100;
  cfg.eval_every = 0;
  o2o_train_env env, eval_env;
  fake_env_create(&env, 2, 50);
  fake_env_create(&eval_env, 3, 50);
  o2o_train_result res;
  cr_assert_eq(o2o_train_run(&cfg, &env, &eval_env, &res, err, sizeof(err)), 0, "%s", err);
  cr_assert_neq(o2o_train_run(&cfg, &env, &eval_env, &res, err, sizeof(err)), 0);
  cr_assert(strstr(err, "already holds a run"), "%s", err);
  env.destroy(env.ctx);
  eval_env.destroy(eval_env.ctx);
}

Test(resume, training_env_seeds_never_meet_the_evaluation_seeds) {
  char err[512];
  o2o_train_config cfg;
  small_config(&cfg, NULL);
  cfg.seed = 1000; /* trained on seeds 1000000 + j before (seed * 1000 + j) */
  cfg.steps = 100;
  cfg.eval_every = 0;
  o2o_train_env env, eval_env;
  fake_env *f = fake_env_create(&env, 2, 50);
  fake_env *e = fake_env_create(&eval_env, 3, 50);
  o2o_train_result res;
  cr_assert_eq(o2o_train_run(&cfg, &env, &eval_env, &res, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(e->last_seed, cfg.eval_seed);
  cr_assert(f->last_seed + 2 <= cfg.eval_seed || f->last_seed >= cfg.eval_seed + 3,
            "train seeds %llu.. overlap the evaluation seeds %llu..",
            (unsigned long long)f->last_seed, (unsigned long long)cfg.eval_seed);
  /* streams differ by id and by seed */
  cr_assert_neq(o2o_seed_stream(1, O2O_STREAM_TRAIN_ENV), o2o_seed_stream(1, O2O_STREAM_REPLAY));
  cr_assert_neq(o2o_seed_stream(1, O2O_STREAM_TRAIN_ENV), o2o_seed_stream(2, O2O_STREAM_TRAIN_ENV));
  env.destroy(env.ctx);
  eval_env.destroy(eval_env.ctx);
}

/* Field `name` of the row starting at `row` (the header is the first line of csv). */
static long csv_field(const char *csv, const char *row, const char *name) {
  const char *h = strstr(csv, name);
  cr_assert_not_null(h, "no column %s", name);
  int col = 0;
  for (const char *c = csv; c <= h; c++) /* name starts with its comma */
    col += *c == ',';
  const char *f = row;
  for (int k = 0; k < col; k++)
    f = strchr(f, ',') + 1;
  return strtol(f, NULL, 10);
}

/* An evaluation whose simulator restarted is flagged in metrics.csv (column eval_restarted). */
Test(resume, restarted_evaluation_is_flagged) {
  char out[512], p[600], err[512];
  snprintf(out, sizeof out, "%s/run", tmpdir);
  o2o_train_config cfg;
  small_config(&cfg, out);
  cfg.steps = 400;
  cfg.eval_every = 200;
  o2o_train_env env, eval_env;
  fake_env_create(&env, 2, 50);
  fake_env *e = fake_env_create(&eval_env, 3, 50);
  e->lose_every = 70; /* eval env 1 loses a step in the second evaluation only */
  o2o_train_result res;
  cr_assert_eq(o2o_train_run(&cfg, &env, &eval_env, &res, err, sizeof(err)), 0, "%s", err);
  snprintf(p, sizeof p, "%s/metrics.csv", out);
  char *csv = slurp(p);
  cr_assert(strstr(csv, ",eval_restarted,"), "%s", csv);
  char *r1 = strstr(csv, "\n200,"), *r2 = strstr(csv, "\n400,");
  cr_assert(r1 && r2, "%s", csv);
  cr_assert_eq(csv_field(csv, r1 + 1, ",eval_restarted"), 0, "first evaluation not restarted: %s",
               csv);
  cr_assert_neq(csv_field(csv, r2 + 1, ",eval_restarted"), 0, "second evaluation restarted: %s",
                csv);
  free(csv);
  env.destroy(env.ctx);
  eval_env.destroy(eval_env.ctx);
}

Test(resume, eta_prices_learning_steps_at_the_learning_rate) {
  /* warm-up at 1000 steps/s, learning rate unknown yet: no ETA rather than a wrong one */
  cr_assert_eq(o2o_train_eta_s(100, 1000, 500, 1000.0, -1.0), -1.0);
  /* 400 warm-up steps at 1000/s + 500 learning steps at 10/s */
  cr_assert_float_eq(o2o_train_eta_s(100, 1000, 500, 1000.0, 10.0), 50.4, 1e-9);
  cr_assert_float_eq(o2o_train_eta_s(600, 1000, 500, 1000.0, 10.0), 40.0, 1e-9);
  cr_assert_eq(o2o_train_eta_s(1000, 1000, 500, 1.0, 1.0), 0.0);
}

Test(resume, error_paths_accept_a_null_error_buffer) {
  o2o_train_config cfg;
  small_config(&cfg, NULL);
  cfg.algorithm = "no-such-algorithm";
  cfg.learner_config = NULL;
  o2o_train_env env;
  fake_env_create(&env, 2, 50);
  o2o_train_result res;
  cr_assert_neq(o2o_train_run(&cfg, &env, NULL, &res, NULL, 0), 0);
  char err[512];
  cr_assert_neq(o2o_train_run(&cfg, &env, NULL, &res, err, sizeof err), 0);
  cr_assert(strstr(err, "no-such-algorithm") && strstr(err, "sac"), "%s", err);
  env.destroy(env.ctx);
}

/* A failed update leaves no STEP in flight (the env is drained before the run stops). */
Test(resume, failed_update_leaves_no_step_in_flight) {
  char err[512];
  o2o_train_config cfg;
  small_config(&cfg, NULL);
  cfg.validate_transitions = 0;
  cfg.eval_every = 0;
  o2o_train_env env;
  fake_env *f = fake_env_create(&env, 2, 50);
  f->nan_at = 301;
  o2o_train_result res;
  cr_assert_neq(o2o_train_run(&cfg, &env, NULL, &res, err, sizeof err), 0);
  cr_assert(strstr(err, "batch.rew"), "%s", err);
  cr_assert_eq(f->in_flight, 0, "a step left in flight");
  env.destroy(env.ctx);
}

/* Scenario action bounds that are not finite or not low < high are refused before training. */
Test(resume, bad_scenario_action_bounds_are_refused) {
  char err[512];
  o2o_train_config cfg;
  small_config(&cfg, NULL);
  o2o_train_env env;
  fake_env *f = fake_env_create(&env, 2, 50);
  f->spec.act_high[0] = -3.0f;
  o2o_train_result res;
  cr_assert_neq(o2o_train_run(&cfg, &env, NULL, &res, err, sizeof err), 0);
  cr_assert(strstr(err, "action 0") && strstr(err, "low < high"), "%s", err);
  f->spec.act_high[0] = INFINITY;
  cr_assert_neq(o2o_train_run(&cfg, &env, NULL, &res, err, sizeof err), 0);
  env.destroy(env.ctx);
}
