/* test_train_replay.c: the replay buffer saved beside each checkpoint (run/replay_file.h): a
 * wrapped buffer round-trips oldest first, bad files are refused naming the problem, and a
 * resumed run refills its buffer from the file of its checkpoint's step (a stale or missing
 * file leaves it empty, a broken one stops the resume). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fake_env.h"
#include "io/checkpoint.h"
#include "run/replay_file.h"
#include "run/train.h"

static char tmpdir[256];

static void make_tmpdir(void) {
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/o2o_test_replay_file_XXXXXX");
  cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void) {
  cr_assert_eq(fake_rm_tree(tmpdir), 0);
}

TestSuite(replay_file, .init = make_tmpdir, .fini = remove_tmpdir);

/* Row k of a 2-dim obs / 1-dim act buffer: every field derived from k. */
static void add_row(o2o_replay *rb, int k) {
  float obs[2] = {(float)k, -(float)k}, act = 0.5f * k, rew = 10.0f + k;
  float next[2] = {k + 0.25f, k - 0.25f}, done = (float)(k % 3 == 0);
  o2o_replay_add(rb, 1, obs, &act, &rew, next, &done);
}

static void check_row(const o2o_replay *rb, int64_t i, int k) {
  float obs[2], act, rew, next[2], done;
  cr_assert_eq(o2o_replay_get(rb, i, obs, &act, &rew, next, &done), 0);
  cr_assert(obs[0] == (float)k && obs[1] == -(float)k && act == 0.5f * k && rew == 10.0f + k &&
                next[0] == k + 0.25f && next[1] == k - 0.25f && done == (float)(k % 3 == 0),
            "row %lld: want row %d, got obs %g", (long long)i, k, obs[0]);
}

Test(replay_file, a_wrapped_buffer_round_trips_oldest_first) {
  char path[400], err[1024];
  snprintf(path, sizeof path, "%s/replay.safetensors", tmpdir);
  o2o_replay *rb = o2o_replay_create(5, 2, 1, err, sizeof err);
  for (int k = 0; k < 7; k++) /* wraps: rows 2..6 stay, the oldest (2) at storage index 2 */
    add_row(rb, k);
  cr_assert_eq(o2o_replay_file_save(rb, path, 700, err, sizeof err), 0, "%s", err);

  o2o_replay *big = o2o_replay_create(10, 2, 1, err, sizeof err);
  cr_assert_eq(o2o_replay_file_load(big, path, 700, err, sizeof err), 5, "%s", err);
  cr_assert_eq(o2o_replay_size(big), 5);
  for (int i = 0; i < 5; i++)
    check_row(big, i, 2 + i);
  /* a smaller buffer keeps the newest rows, as the run would have */
  o2o_replay *small = o2o_replay_create(3, 2, 1, err, sizeof err);
  cr_assert_eq(o2o_replay_file_load(small, path, 700, err, sizeof err), 5, "%s", err);
  for (int i = 0; i < 3; i++)
    check_row(small, i, 4 + i);
  /* another step: the file belongs to another checkpoint; the buffer is untouched */
  cr_assert_eq(o2o_replay_file_load(big, path, 800, err, sizeof err), -2);
  cr_assert(strstr(err, "env step 700") && strstr(err, "800"), "%s", err);
  cr_assert_eq(o2o_replay_size(big), 5);
  /* other dims: both named */
  o2o_replay *other = o2o_replay_create(10, 3, 1, err, sizeof err);
  cr_assert_eq(o2o_replay_file_load(other, path, 700, err, sizeof err), -1);
  cr_assert(strstr(err, "2/1") && strstr(err, "3/1"), "%s", err);
  cr_assert_eq(o2o_replay_size(other), 0);
  o2o_replay_destroy(rb);
  o2o_replay_destroy(big);
  o2o_replay_destroy(small);
  o2o_replay_destroy(other);
}

Test(replay_file, a_non_finite_row_or_a_foreign_file_is_refused_by_name) {
  char path[400], err[1024];
  snprintf(path, sizeof path, "%s/replay.safetensors", tmpdir);
  o2o_replay *rb = o2o_replay_create(8, 2, 1, err, sizeof err);
  for (int k = 0; k < 4; k++)
    add_row(rb, k);
  cr_assert_eq(o2o_replay_file_save(rb, path, 4, err, sizeof err), 0, "%s", err);
  /* the same file with a NaN in next_obs row 2 */
  o2o_ckpt *c = o2o_ckpt_open(path, err, sizeof err);
  cr_assert_not_null(c, "%s", err);
  o2o_tensor_ref t[5];
  for (int i = 0; i < 5; i++)
    cr_assert_eq(o2o_ckpt_tensor(c, i, &t[i]), 0);
  o2o_ckpt_meta m = *o2o_ckpt_metadata(c);
  for (int i = 0; i < 5; i++)
    if (!strcmp(t[i].name, "next_obs")) t[i].data[2 * 2 + 1] = NAN;
  char bad[450];
  snprintf(bad, sizeof bad, "%s/nan.safetensors", tmpdir);
  cr_assert_eq(o2o_ckpt_save(bad, t, 5, &m, err, sizeof err), 0, "%s", err);
  /* and a learner checkpoint (no kind) in its place */
  o2o_ckpt_meta_set(&m, "kind", "sac");
  char foreign[450];
  snprintf(foreign, sizeof foreign, "%s/foreign.safetensors", tmpdir);
  cr_assert_eq(o2o_ckpt_save(foreign, t, 5, &m, err, sizeof err), 0, "%s", err);
  o2o_ckpt_close(c);

  o2o_replay *into = o2o_replay_create(8, 2, 1, err, sizeof err);
  cr_assert_eq(o2o_replay_file_load(into, bad, 4, err, sizeof err), -1);
  cr_assert(strstr(err, "next_obs") && strstr(err, "row 2") && strstr(err, "nan.safetensors"), "%s",
            err);
  cr_assert_eq(o2o_replay_file_load(into, foreign, 4, err, sizeof err), -1);
  cr_assert(strstr(err, "not a replay file"), "%s", err);
  cr_assert_eq(o2o_replay_size(into), 0, "nothing loaded from a refused file");
  o2o_replay_destroy(rb);
  o2o_replay_destroy(into);
}

static void copy_file(const char *src, const char *dst) {
  FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
  cr_assert(in && out, "%s -> %s", src, dst);
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    cr_assert_eq(fwrite(buf, 1, n, out), n);
  fclose(in);
  fclose(out);
}

/* A run to 800 (checkpoints at 400 and 800), resumed to 1200 from its checkpoint alone: its 800
 * rows come back. A stale replay file (step 800 beside the step-1200 checkpoint) leaves the
 * buffer empty and the run goes on; a truncated one stops the resume, naming the file. */
Test(replay_file, a_resumed_run_refills_its_buffer_from_its_checkpoint_step) {
  char out[512], ck[600], rp[600], keep[700], err[2048];
  snprintf(out, sizeof out, "%s/run", tmpdir);
  snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", out);
  snprintf(rp, sizeof rp, "%s/replay.safetensors", out);
  snprintf(keep, sizeof keep, "%s/replay-800.safetensors", tmpdir);
  o2o_train_config cfg;
  fake_small_config(&cfg, out);
  cfg.steps = 800;
  cfg.checkpoint_every = 400;
  o2o_train_result res;
  cr_assert_eq(fake_run(&cfg, &res, err, sizeof err), 0, "%s", err);
  cr_assert_eq(res.replay_restored, -1, "a fresh run restores nothing");
  copy_file(rp, keep);

  o2o_train_config r;
  fake_small_config(&r, out);
  r.learner_config = NULL;
  r.resume = ck;
  r.steps = 1200;
  cr_assert_eq(fake_run(&r, &res, err, sizeof err), 0, "%s", err);
  cr_assert_eq(res.replay_restored, 800, "restored %lld", (long long)res.replay_restored);
  cr_assert_eq(res.transitions, 1200, "800 restored + 400 new rows: %lld",
               (long long)res.transitions);

  copy_file(keep, rp); /* the run "killed" between the checkpoint and its buffer */
  r.steps = 1400;
  cr_assert_eq(fake_run(&r, &res, err, sizeof err), 0, "%s", err);
  cr_assert_eq(res.replay_restored, -1, "a stale file is not loaded");
  cr_assert_eq(res.env_steps, 1400);

  FILE *f = fopen(rp, "r+b"); /* now at step 1400: cut it short */
  cr_assert_not_null(f);
  cr_assert_eq(ftruncate(fileno(f), 100), 0);
  fclose(f);
  r.steps = 1600;
  cr_assert_neq(fake_run(&r, &res, err, sizeof err), 0, "a broken replay file resumed");
  cr_assert(strstr(err, "replay.safetensors") && strstr(err, "delete it"), "%s", err);
}
