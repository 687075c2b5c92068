/* test_warm_start.c: the online learner built from a pretrained checkpoint (learner.h,
 * o2o_learner_warm_start): from iql, cql and sac checkpoints made here (after a few updates, so
 * every Adam moment is non-zero), the online SAC acts like the source (deterministic actions
 * within 1e-6), its critics give the same Q values, the Adam state, temperature and observation
 * normalisation are the source's; IQL's actor is converted (log std clamped); a conflicting
 * architecture setting and files that are no learner checkpoint are refused. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "learn/cql.h"
#include "learn/iql.h"
#include "learn/learner.h"
#include "learn/sac_internal.h"
#include "replay/replay.h"

enum { OBS = 3, ACT = 2, B = 8, ROWS = 64 };

static char path[256];
static void make_path(void) {
  snprintf(path, sizeof path, "/tmp/o2o_test_warm_XXXXXX");
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  close(fd);
}
static void remove_path(void) {
  unlink(path);
}
TestSuite(warm, .init = make_path, .fini = remove_path);

static const float mean[OBS] = {0.5f, -1.0f, 2.0f}, stdv[OBS] = {2.0f, 0.5f, 3.0f};

static float urand(uint64_t *s) { /* [-1, 1) */
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return (float)((*s >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

static void fill_batch(o2o_batch *b, uint64_t *s) {
  for (int i = 0; i < B * OBS; i++) {
    b->obs[i] = mean[i % OBS] + 2.0f * stdv[i % OBS] * urand(s);
    b->next_obs[i] = mean[i % OBS] + 2.0f * stdv[i % OBS] * urand(s);
  }
  for (int i = 0; i < B * ACT; i++)
    b->act[i] = 0.9f * urand(s);
  for (int r = 0; r < B; r++) {
    b->rew[r] = urand(s);
    b->done[r] = r == B - 1;
  }
}

/* A learner of algo with cfg, 5 updates on random batches, saved to path. */
static o2o_learner *pretrain(const char *algo, const void *cfg) {
  char err[O2O_AGENT_ERRLEN] = "";
  o2o_learner *l =
      o2o_learner_create(o2o_learner_find(algo), OBS, ACT, cfg, mean, stdv, 3, err, sizeof err);
  cr_assert_not_null(l, "%s", err);
  o2o_batch b;
  cr_assert_eq(o2o_replay_batch_alloc(&b, B, OBS, ACT, 0), 0);
  uint64_t s = 11;
  for (int k = 0; k < 5; k++) {
    fill_batch(&b, &s);
    cr_assert_eq(o2o_learner_update(l, &b, NULL, err, sizeof err), 0, "%s", err);
  }
  o2o_replay_batch_free(&b);
  o2o_ckpt_meta meta;
  o2o_ckpt_meta_init(&meta);
  cr_assert_eq(o2o_learner_meta(l, &meta, err, sizeof err), 0, "%s", err);
  o2o_ckpt_meta_set(&meta, "step", "5");
  const o2o_tensor_ref *t;
  int n = o2o_learner_tensors(l, &t);
  cr_assert_eq(o2o_ckpt_save(path, t, n, &meta, err, sizeof err), 0, "%s", err);
  return l;
}

static o2o_learner *warm(const char *algo, const void *cfg, o2o_warm_report *rep) {
  char err[O2O_AGENT_ERRLEN] = "";
  o2o_learner *l =
      o2o_learner_warm_start(o2o_learner_find(algo), cfg, path, 99, NULL, rep, err, sizeof err);
  cr_assert_not_null(l, "%s", err);
  return l;
}

static const o2o_tensor_ref *tensor(o2o_learner *l, const char *name) {
  const o2o_tensor_ref *t;
  int n = o2o_learner_tensors(l, &t);
  for (int i = 0; i < n; i++)
    if (!strcmp(t[i].name, name)) return &t[i];
  cr_assert_fail("no tensor %s", name);
  return NULL;
}

/* Tensor name of a and b equal element for element, and not all zero (so a copy is seen). */
static void same_tensor(o2o_learner *a, o2o_learner *b, const char *name) {
  const o2o_tensor_ref *x = tensor(a, name), *y = tensor(b, name);
  cr_assert_eq(o2o_tensor_numel(x), o2o_tensor_numel(y), "%s", name);
  int nonzero = 0;
  for (int64_t i = 0; i < o2o_tensor_numel(x); i++) {
    cr_assert_eq(x->data[i], y->data[i], "%s[%lld]: %g vs %g", name, (long long)i, x->data[i],
                 y->data[i]);
    nonzero |= x->data[i] != 0.0f;
  }
  cr_assert(nonzero, "%s is all zero: the test would not see a missing copy", name);
}

static void random_obs(float *obs, uint64_t seed) {
  for (int i = 0; i < ROWS * OBS; i++)
    obs[i] = mean[i % OBS] + 3.0f * stdv[i % OBS] * urand(&seed);
}

static void same_actions(o2o_learner *src, o2o_learner *dst) {
  float obs[ROWS * OBS], a[ROWS * ACT], b[ROWS * ACT];
  random_obs(obs, 5);
  o2o_learner_act(src, obs, ROWS, 1, a);
  o2o_learner_act(dst, obs, ROWS, 1, b);
  int moved = 0;
  for (int i = 0; i < ROWS * ACT; i++) {
    cr_assert(fabsf(a[i] - b[i]) <= 1e-6f, "action %d: source %.9g, online %.9g", i, a[i], b[i]);
    moved |= fabsf(a[i]) > 1e-3f;
  }
  cr_assert(moved, "the source acts all zero: the test would see nothing");
}

/* Q of every critic member of (m, p) on ROWS (normalised obs, act) inputs: [ROWS][E]. */
static void q_values(const o2o_nn_mlp *m, const float *p, float *q) {
  float obs[ROWS * OBS], x[ROWS * (OBS + ACT)];
  random_obs(obs, 8);
  uint64_t s = 9;
  for (int r = 0; r < ROWS; r++) {
    for (int j = 0; j < OBS; j++)
      x[r * (OBS + ACT) + j] = (obs[r * OBS + j] - mean[j]) / stdv[j];
    for (int j = 0; j < ACT; j++)
      x[r * (OBS + ACT) + OBS + j] = urand(&s);
  }
  o2o_nn_acts *acts = o2o_nn_acts_create(m, ROWS);
  cr_assert_not_null(acts);
  o2o_nn_mlp_forward(m, p, x, OBS + ACT, ROWS, acts);
  memcpy(q, acts->out[m->num_layers - 1], sizeof(float) * ROWS * m->ensemble);
  o2o_nn_acts_destroy(acts);
}

static void same_q(const o2o_nn_mlp *ms, const float *ps, const o2o_sac *d) {
  cr_assert_eq(ms->ensemble, d->critic_m.ensemble);
  cr_assert_eq(ms->num_params, d->critic_m.num_params);
  float qa[ROWS * 16], qb[ROWS * 16];
  q_values(ms, ps, qa);
  q_values(&d->critic_m, d->critic_p, qb);
  for (int i = 0; i < ROWS * ms->ensemble; i++)
    cr_assert(fabsf(qa[i] - qb[i]) <= 1e-6f * fmaxf(1.0f, fabsf(qa[i])), "Q %d: %g vs %g", i, qa[i],
              qb[i]);
}

static void same_obs_norm(o2o_learner *a, o2o_learner *b) {
  cr_assert_not_null(o2o_learner_obs_mean(b), "observation normalisation lost");
  for (int j = 0; j < OBS; j++) {
    cr_assert_eq(o2o_learner_obs_mean(a)[j], o2o_learner_obs_mean(b)[j]);
    cr_assert_eq(o2o_learner_obs_std(a)[j], o2o_learner_obs_std(b)[j]);
  }
}

static const char *const sac_family[] = {
    "actor.l0.weight", "actor.l2.bias",    "critic0.l1.weight", "critic_target1.l2.weight",
    "log_alpha",       "actor.adam_m",     "actor.adam_v",      "critic.adam_m",
    "critic.adam_v",   "log_alpha.adam_m", "log_alpha.adam_v",  "critic.adam_step",
    "actor.adam_step", "sac.updates"};

static const o2o_sac *sac_of(o2o_learner *l) {
  return o2o_learner_impl(l);
}

Test(warm, from_sac_takes_architecture_and_every_tensor) {
  o2o_sac_config c;
  o2o_sac_config_default(&c);
  c.hidden = 24;
  c.num_critics = 3;
  c.critic_layernorm = 1;
  c.batch_size = B;
  o2o_learner *src = pretrain("sac", &c);
  o2o_warm_report rep;
  o2o_learner *dst = warm("sac", NULL, &rep); /* defaults: hidden 256, 2 critics, no LN */
  const o2o_sac_config *dc = o2o_learner_config(dst);
  cr_assert_eq(dc->hidden, 24);
  cr_assert_eq(dc->num_critics, 3);
  cr_assert_eq(dc->critic_layernorm, 1);
  same_actions(src, dst);
  same_q(&sac_of(src)->critic_m, sac_of(src)->critic_p, sac_of(dst));
  for (size_t i = 0; i < sizeof sac_family / sizeof *sac_family; i++)
    same_tensor(src, dst, sac_family[i]);
  same_tensor(src, dst, "critic2.l0.ln.weight");
  same_obs_norm(src, dst);
  cr_assert_str_eq(rep.source_algo, "sac");
  cr_assert_eq(rep.source_step, 5);
  cr_assert_not_null(strstr(rep.copied, "critic Adam"), "%s", rep.copied);
  cr_assert_str_eq(rep.fresh, "rng");
  cr_assert_str_eq(rep.converted, "");
  o2o_learner_destroy(src);
  o2o_learner_destroy(dst);
}

Test(warm, from_cql_into_sac_and_h2o) {
  o2o_cql_config c;
  o2o_cql_config_default(&c);
  c.sac.hidden = 16;
  c.sac.batch_size = B;
  c.n_actions = 2;
  o2o_learner *src = pretrain("cql", &c);
  const o2o_sac *ss = o2o_cql_test_sac(o2o_learner_impl(src));
  o2o_warm_report rep;
  o2o_sac_config oc; /* REDQ-style online settings are the online learner's own */
  o2o_sac_config_default(&oc);
  oc.target_subset = 2;
  oc.batch_size = 16;
  oc.critic_steps = 2;
  o2o_learner *dst = warm("sac", &oc, &rep);
  cr_assert_eq(((const o2o_sac_config *)o2o_learner_config(dst))->critic_steps, 2);
  same_actions(src, dst);
  same_q(&ss->critic_m, ss->critic_p, sac_of(dst));
  for (size_t i = 0; i < sizeof sac_family / sizeof *sac_family; i++)
    same_tensor(src, dst, sac_family[i]);
  same_obs_norm(src, dst);
  cr_assert_not_null(strstr(rep.dropped, "CQL alpha'"), "%s", rep.dropped);
  o2o_learner_destroy(dst);
  /* H2O: SAC's part copied, its discriminators fresh */
  o2o_learner *h = warm("h2o", NULL, &rep);
  same_actions(src, h);
  same_tensor(src, h, "critic.adam_v");
  cr_assert_not_null(strstr(rep.fresh, "discriminators"), "%s", rep.fresh);
  o2o_learner_destroy(h);
  o2o_learner_destroy(src);
}

/* an IQL learner of hidden 16, pretrained and saved */
static o2o_learner *pretrain_iql(void) {
  o2o_iql_config c;
  o2o_iql_config_default(&c);
  c.hidden = 16;
  c.batch_size = B;
  return pretrain("iql", &c);
}

Test(warm, from_iql_converts_the_actor) {
  o2o_learner *src = pretrain_iql();
  /* one log std below IQL's clamp (it acts with -5), one inside */
  float *ls = tensor(src, "actor.log_std")->data;
  ls[0] = -30.0f;
  ls[1] = -0.75f;
  char err[O2O_AGENT_ERRLEN] = "";
  const o2o_tensor_ref *t;
  int n = o2o_learner_tensors(src, &t);
  o2o_ckpt_meta meta;
  o2o_ckpt_meta_init(&meta);
  cr_assert_eq(o2o_learner_meta(src, &meta, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_ckpt_save(path, t, n, &meta, err, sizeof err), 0, "%s", err);

  o2o_sac_config oc;
  o2o_sac_config_default(&oc);
  oc.init_alpha = 0.25f;
  o2o_warm_report rep;
  o2o_learner *dst = warm("sac", &oc, &rep);
  same_actions(src, dst);
  /* critics, targets and their Adam moments as they are; the step count from iql.counters */
  o2o_nn_mlp m;
  int dims[4] = {OBS + ACT, 16, 16, 1};
  cr_assert_eq(o2o_nn_mlp_init(&m, 2, 3, dims, 0), 0);
  same_q(&m, o2o_iql_test_params(o2o_learner_impl(src), 2, NULL), sac_of(dst));
  same_tensor(src, dst, "critic_target0.l1.weight");
  same_tensor(src, dst, "critic.adam_m");
  same_tensor(src, dst, "critic.adam_v");
  const float *cnt = tensor(src, "iql.counters")->data, *cs = tensor(dst, "critic.adam_step")->data;
  cr_assert(cnt[4] == 5.0f && cs[0] == cnt[4] && cs[1] == cnt[5], "critic Adam step %g, iql %g",
            cs[0], cnt[4]);
  /* the log-std rows: weight 0, bias = IQL's log std as IQL uses it (clamped to [-5, 2]) */
  const o2o_tensor_ref *w = tensor(dst, "actor.l2.weight"), *b = tensor(dst, "actor.l2.bias");
  for (int j = 0; j < ACT; j++)
    for (int k = 0; k < 16; k++)
      cr_assert_eq(w->data[(ACT + j) * 16 + k], 0.0f);
  cr_assert_eq(b->data[ACT + 0], -5.0f, "clamped log std %g", b->data[ACT]);
  cr_assert_eq(b->data[ACT + 1], -0.75f);
  /* temperature from the online config; the actor's Adam state fresh */
  cr_assert_float_eq(tensor(dst, "log_alpha")->data[0], logf(0.25f), 1e-7f);
  cr_assert_eq(tensor(dst, "actor.adam_step")->data[0], 0.0f);
  same_obs_norm(src, dst);
  cr_assert_not_null(strstr(rep.converted, "actor"), "%s", rep.converted);
  cr_assert_not_null(strstr(rep.dropped, "value net"), "%s", rep.dropped);
  cr_assert_not_null(strstr(rep.fresh, "temperature"), "%s", rep.fresh);
  cr_assert_eq(rep.source_step, -1);
  o2o_learner_destroy(src);
  o2o_learner_destroy(dst);
}

Test(warm, refuses_a_conflicting_architecture_naming_both) {
  o2o_learner_destroy(pretrain_iql());
  o2o_sac_config oc;
  o2o_sac_config_default(&oc);
  oc.hidden = 32;
  char err[O2O_AGENT_ERRLEN] = "";
  cr_assert_null(
      o2o_learner_warm_start(o2o_learner_find("sac"), &oc, path, 1, NULL, NULL, err, sizeof err));
  cr_assert_not_null(strstr(err, "hidden = 32"), "%s", err);
  cr_assert_not_null(strstr(err, "hidden = 16"), "%s", err);
  oc.hidden = 16; /* the same explicit choice is fine; REDQ's 10 critics are not */
  oc.num_critics = 10;
  cr_assert_null(
      o2o_learner_warm_start(o2o_learner_find("sac"), &oc, path, 1, NULL, NULL, err, sizeof err));
  cr_assert_not_null(strstr(err, "num_critics = 10"), "%s", err);
  cr_assert_not_null(strstr(err, "num_critics = 2"), "%s", err);
  oc.num_critics = 2;
  o2o_learner *l =
      o2o_learner_warm_start(o2o_learner_find("sac"), &oc, path, 1, NULL, NULL, err, sizeof err);
  cr_assert_not_null(l, "%s", err);
  o2o_learner_destroy(l);
}

Test(warm, refuses_files_that_are_no_learner_checkpoint) {
  char err[O2O_AGENT_ERRLEN] = "";
  /* an actor-only policy file: tensors, no "algorithm" */
  float w[4] = {1, 2, 3, 4};
  o2o_tensor_ref t = {.name = "actor.l0.weight", .data = w, .ndim = 2, .shape = {2, 2}};
  o2o_ckpt_meta meta;
  o2o_ckpt_meta_init(&meta);
  cr_assert_eq(o2o_ckpt_save(path, &t, 1, &meta, err, sizeof err), 0, "%s", err);
  cr_assert_null(
      o2o_learner_warm_start(o2o_learner_find("sac"), NULL, path, 1, NULL, NULL, err, sizeof err));
  cr_assert_not_null(strstr(err, path), "%s", err);
  cr_assert_not_null(strstr(err, "algorithm"), "%s", err);
  /* not a safetensors file at all */
  FILE *f = fopen(path, "w");
  fputs("not a checkpoint\n", f);
  fclose(f);
  cr_assert_null(
      o2o_learner_warm_start(o2o_learner_find("sac"), NULL, path, 1, NULL, NULL, err, sizeof err));
  cr_assert_not_null(strstr(err, path), "%s", err);
  /* an offline algorithm as the online learner */
  o2o_sac_config c;
  o2o_sac_config_default(&c);
  c.hidden = 8;
  c.batch_size = B;
  o2o_learner_destroy(pretrain("sac", &c));
  cr_assert_null(
      o2o_learner_warm_start(o2o_learner_find("iql"), NULL, path, 1, NULL, NULL, err, sizeof err));
  cr_assert_not_null(strstr(err, "online algorithm"), "%s", err);
}
