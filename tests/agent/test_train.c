/* test_train.c: the online training loop on an in-process fake env (fake_env.h): run files
 * (config.json, metrics.csv, checkpoints), bootstrapping semantics of stored transitions,
 * and NaN handling (the run stops naming the value and step; the last good checkpoint is
 * left untouched). The learning test through the bridge pool is test_learn_pendulum.c. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "fake_env.h"
#include "io/policy.h"
#include "replay/replay.h"
#include "learn/sac.h"
#include "run/train.h"

static char tmpdir[256];

static void make_tmpdir(void) {
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/o2o_test_train_XXXXXX");
  cr_assert_not_null(mkdtemp(tmpdir));
}

static void rm_rf(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char p[1024];
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
      struct stat st;
      if (!lstat(p, &st) && S_ISDIR(st.st_mode))
        rm_rf(p);
      else
        unlink(p);
    }
  closedir(d);
  rmdir(dir);
}

static void remove_tmpdir(void) {
  rm_rf(tmpdir);
}

TestSuite(train, .init = make_tmpdir, .fini = remove_tmpdir);

#define small_sac fake_small_sac
#define small_config fake_small_config

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(*len + 1);
  cr_assert_eq(fread(b, 1, *len, f), *len);
  b[*len] = 0;
  fclose(f);
  return b;
}

Test(train, stores_terminal_and_truncation_correctly) {
  char err[256];
  o2o_replay *rb = o2o_replay_create(10, 2, 1, err, sizeof(err));
  float obs[6] = {1, 1, 2, 2, 3, 3}, act[3] = {0.1f, 0.2f, 0.3f};
  float new_obs[6] = {10, 10, 20, 20, 30, 30}, final_obs[6] = {10, 10, 99, 99, 77, 77};
  float rew[3] = {1, 2, 3};
  uint8_t term[3] = {0, 1, 0}, trunc[3] = {0, 0, 1};
  int32_t t[3] = {5, 0, 0};
  o2o_bridge_batch out = {3, new_obs, rew, term, trunc, final_obs, t};
  o2o_train_store_step(rb, obs, act, &out, NULL, 3);
  cr_assert_eq(o2o_replay_size(rb), 3);
  float o[2], a, r, no[2], d;
  /* env 0 continues: next_obs = its new obs, done 0 */
  o2o_replay_get(rb, 0, o, &a, &r, no, &d);
  cr_assert(o[0] == 1 && a == 0.1f && r == 1 && no[0] == 10 && d == 0);
  /* env 1 terminated: next_obs = final obs (not the reset obs 20), done 1 */
  o2o_replay_get(rb, 1, o, &a, &r, no, &d);
  cr_assert(no[0] == 99 && d == 1, "terminal: next %g done %g", no[0], d);
  /* env 2 truncated by the time limit: final obs, and done 0 (bootstrap through it) */
  o2o_replay_get(rb, 2, o, &a, &r, no, &d);
  cr_assert(no[0] == 77 && d == 0, "truncated: next %g done %g", no[0], d);
  o2o_replay_destroy(rb);
}

Test(train, writes_run_files_and_consistent_checkpoints) {
  char out[512], err[1024];
  snprintf(out, sizeof(out), "%s/run/a", tmpdir); /* nested: created by the run */
  o2o_train_config cfg;
  small_config(&cfg, out);
  o2o_train_env env, eval_env;
  fake_env_create(&env, 2, 50);
  fake_env_create(&eval_env, 3, 50);
  o2o_train_result res;
  int rc = o2o_train_run(&cfg, &env, &eval_env, &res, err, sizeof(err));
  cr_assert_eq(rc, 0, "%s", err);
  cr_assert_eq(res.env_steps, 2000);
  /* updates: utd 1 x 2 envs per iteration once 200 steps were taken */
  cr_assert_eq(res.updates, 2000 - 200, "updates %lld", (long long)res.updates);
  cr_assert_eq(res.evals, 4);
  cr_assert(res.episodes >= 2000 / 50 - 2);
  char p[1100];
  size_t len;
  snprintf(p, sizeof(p), "%s/config.json", out);
  char *cfgjson = (char *)slurp(p, &len);
  cr_assert_not_null(cfgjson);
  cr_assert(strstr(cfgjson, "\"seed\": 3") && strstr(cfgjson, "\"hidden\": 32") &&
                strstr(cfgjson, "\"scenario\": \"fake-point\""),
            "%s", cfgjson);
  free(cfgjson);
  snprintf(p, sizeof(p), "%s/metrics.csv", out);
  char *csv = (char *)slurp(p, &len);
  cr_assert_not_null(csv);
  int lines = 0;
  for (char *c = csv; *c; c++)
    lines += *c == '\n';
  cr_assert_eq(lines, 5, "header + 4 evaluations:\n%s", csv);
  cr_assert(!strncmp(csv, "step,wall_s,eval_return_mean", 28));
  cr_assert(strstr(csv, "\n500,") && strstr(csv, "\n2000,"), "%s", csv);
  free(csv);
  /* periodic checkpoint at step 2000 (the last multiple of 1000) and the final one */
  snprintf(p, sizeof(p), "%s/checkpoint.safetensors", out);
  o2o_ckpt *c = o2o_ckpt_open(p, err, sizeof(err));
  cr_assert_not_null(c, "%s", err);
  const o2o_ckpt_meta *m = o2o_ckpt_metadata(c);
  cr_assert_str_eq(o2o_ckpt_meta_get(m, "step"), "2000");
  cr_assert_str_eq(o2o_ckpt_meta_get(m, "algorithm"), "sac");
  cr_assert_str_eq(o2o_ckpt_meta_get(m, "sac.hidden"), "32");
  cr_assert_str_eq(o2o_ckpt_meta_get(m, "obs_dim"), "3");
  cr_assert_str_eq(o2o_ckpt_meta_get(m, "act_low"), "-2");
  o2o_ckpt_close(c);
  /* The final checkpoint restores a whole SAC (strict) and its actor as a policy; both
   * give the same deterministic actions. */
  snprintf(p, sizeof(p), "%s/final.safetensors", out);
  c = o2o_ckpt_open(p, err, sizeof(err));
  cr_assert_not_null(c, "%s", err);
  o2o_sac *sac = o2o_sac_create(3, 1, &small_sac, 999);
  const o2o_tensor_ref *t;
  int n = o2o_sac_tensors(sac, &t);
  cr_assert_eq(o2o_ckpt_load_into(c, t, n, 1, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(o2o_sac_tensors_loaded(sac, err, sizeof(err)), 0, "%s", err);
  o2o_ckpt_close(c);
  o2o_policy *pol = o2o_policy_load(p, err, sizeof(err));
  cr_assert_not_null(pol, "%s", err);
  float obs[12] = {0.5f, 0, 0, -1, 0.2f, 0.5f, 2, -0.1f, 0.9f, 0, 0, 0}, a1[4], a2[4];
  o2o_sac_act(sac, obs, 4, 1, a1);
  o2o_policy_act(pol, obs, 4, 1, a2);
  for (int i = 0; i < 4; i++)
    cr_assert_eq(a1[i], a2[i], "action %d: %g vs %g", i, a1[i], a2[i]);
  o2o_policy_destroy(pol);
  o2o_sac_destroy(sac);
  env.destroy(env.ctx);
  eval_env.destroy(eval_env.ctx);
}

Test(train, lost_rows_are_not_stored) {
  char err[1024];
  o2o_train_config cfg;
  small_config(&cfg, NULL);
  cfg.steps = 1000;
  cfg.eval_every = 0;
  o2o_train_env env, eval_env;
  fake_env *f = fake_env_create(&env, 2, 50);
  f->lose_every = 100; /* env 1 loses its step at calls 100, 200, ..., 500 */
  fake_env_create(&eval_env, 3, 50);
  o2o_train_result res;
  cr_assert_eq(o2o_train_run(&cfg, &env, &eval_env, &res, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(res.env_steps, 1000);
  cr_assert_eq(res.lost, 5);
  cr_assert_eq(res.transitions, 1000 - 5, "stored %lld", (long long)res.transitions);
  env.destroy(env.ctx);
  eval_env.destroy(eval_env.ctx);
}

Test(train, resume_continues_from_a_checkpoint) {
  char a[512], b[512], ck[600], err[1024];
  snprintf(a, sizeof(a), "%s/ra", tmpdir);
  snprintf(b, sizeof(b), "%s/rb", tmpdir);
  o2o_train_config cfg;
  small_config(&cfg, a);
  cfg.steps = 1000;
  o2o_train_env env, eval_env;
  fake_env_create(&env, 2, 50);
  fake_env_create(&eval_env, 3, 50);
  o2o_train_result res;
  cr_assert_eq(o2o_train_run(&cfg, &env, &eval_env, &res, err, sizeof(err)), 0, "%s", err);
  snprintf(ck, sizeof(ck), "%s/final.safetensors", a);
  small_config(&cfg, b);
  cfg.steps = 1600;
  cfg.resume = ck;
  cr_assert_eq(o2o_train_run(&cfg, &env, &eval_env, &res, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(res.env_steps, 1600);
  /* 300 iterations of 2 envs, each with its 2 updates from the first: the buffer comes back
   * from replay.safetensors beside the checkpoint (an empty one would wait 16 iterations for
   * a batch of 32 rows). */
  cr_assert_eq(res.replay_restored, 1000);
  cr_assert_eq(res.updates, 2 * 300, "updates %lld", (long long)res.updates);
  cr_assert_eq(res.evals, 2); /* at 1500 and the final one at 1600 */
  /* The learner comes from the checkpoint alone: other learner settings in cfg are ignored. */
  small_config(&cfg, b);
  cfg.steps = 1700;
  cfg.resume = ck;
  small_sac.hidden = 16;
  cfg.overwrite = 1;
  cr_assert_eq(o2o_train_run(&cfg, &env, &eval_env, &res, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(res.env_steps, 1700);
  env.destroy(env.ctx);
  eval_env.destroy(eval_env.ctx);
}

/* At the NaN injection, copy the checkpoint file: the loop must not change it afterwards. */
typedef struct {
  char path[1100];
  unsigned char *bytes;
  size_t len;
} snapshot;

static void take_snapshot(void *ctx) {
  snapshot *s = ctx;
  s->bytes = slurp(s->path, &s->len);
}

static void nan_run(int validate, const char *expect1, const char *expect2) {
  char out[512], err[1024];
  snprintf(out, sizeof(out), "%s/nan%d", tmpdir, validate);
  o2o_train_config cfg;
  small_config(&cfg, out);
  cfg.steps = 3000;
  cfg.checkpoint_every = 400;
  cfg.eval_every = 0;
  cfg.validate_transitions = validate;
  o2o_train_env env, eval_env;
  fake_env *f = fake_env_create(&env, 2, 50);
  fake_env_create(&eval_env, 3, 50);
  snapshot snap = {0};
  snprintf(snap.path, sizeof(snap.path), "%s/checkpoint.safetensors", out);
  f->nan_at = 1001;
  f->on_nan = take_snapshot;
  f->on_nan_ctx = &snap;
  o2o_train_result res;
  int rc = o2o_train_run(&cfg, &env, &eval_env, &res, err, sizeof(err));
  cr_assert_neq(rc, 0, "a NaN reward must stop training");
  cr_log_info("NaN error (validate=%d): %s\n", validate, err);
  cr_assert(strstr(err, expect1), "'%s' should mention '%s'", err, expect1);
  cr_assert(strstr(err, expect2), "'%s' should mention '%s'", err, expect2);
  cr_assert(strstr(err, "last good checkpoint") && strstr(err, "env step 800"), "%s", err);
  /* The checkpoint file is byte-identical to what it was when the NaN appeared... */
  cr_assert_not_null(snap.bytes, "no checkpoint existed at the NaN");
  size_t len;
  unsigned char *now = slurp(snap.path, &len);
  cr_assert_not_null(now);
  cr_assert_eq(len, snap.len);
  cr_assert_eq(memcmp(now, snap.bytes, len), 0, "the last good checkpoint was overwritten");
  /* ...it is valid and from before the NaN, and no final checkpoint was written. */
  o2o_ckpt *c = o2o_ckpt_open(snap.path, err, sizeof(err));
  cr_assert_not_null(c, "%s", err);
  cr_assert_str_eq(o2o_ckpt_meta_get(o2o_ckpt_metadata(c), "step"), "800");
  o2o_ckpt_close(c);
  char fin[1100];
  snprintf(fin, sizeof(fin), "%s/final.safetensors", out);
  cr_assert_neq(access(fin, F_OK), 0, "final checkpoint written after a NaN");
  free(now);
  free(snap.bytes);
  env.destroy(env.ctx);
  eval_env.destroy(eval_env.ctx);
}

/* Checked on arrival: the error names the env, the value and the env step. */
Test(train, nan_reward_from_env_stops_training) {
  nan_run(1, "env 0 returned a non-finite reward", "env step 1001");
}

/* Unchecked on arrival: the NaN reaches a batch and o2o_sac_update names batch.rew. */
Test(train, nan_in_batch_stops_training) {
  nan_run(0, "batch.rew", "at env step");
}
