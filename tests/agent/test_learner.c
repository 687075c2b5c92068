/* test_learner.c: the learner interface (learn/learner.h): registry, config fields and their
 * ranges, observation normalisation, batch column checks, and rebuilding a learner from a
 * checkpoint file alone (metadata that disagrees with the tensors is refused). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "learn/learner.h"
#include "learn/sac.h"
#include "replay/replay.h"

enum { OBS = 3, ACT = 2 };

static char path[256];
static void make_path(void) {
  snprintf(path, sizeof path, "/tmp/o2o_test_learner_XXXXXX");
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  close(fd);
}
static void remove_path(void) {
  unlink(path);
}
TestSuite(learner, .init = make_path, .fini = remove_path);

static o2o_sac_config small_sac(void) {
  o2o_sac_config c;
  o2o_sac_config_default(&c);
  c.hidden = 16;
  c.batch_size = 8;
  return c;
}

static o2o_learner *make(const o2o_sac_config *c, const float *mean, const float *std) {
  char err[O2O_AGENT_ERRLEN] = "";
  o2o_learner *l =
      o2o_learner_create(o2o_learner_find("sac"), OBS, ACT, c, mean, std, 7, err, sizeof err);
  cr_assert_not_null(l, "%s", err);
  return l;
}

/* a batch of 8 rows with values from a fixed formula */
static void fill_batch(o2o_batch *b) {
  cr_assert_eq(o2o_replay_batch_alloc(b, 8, OBS, ACT, 0), 0);
  for (int r = 0; r < 8; r++) {
    for (int j = 0; j < OBS; j++) {
      b->obs[r * OBS + j] = 0.1f * (float)(r - j);
      b->next_obs[r * OBS + j] = 0.1f * (float)(r + j);
    }
    for (int j = 0; j < ACT; j++)
      b->act[r * ACT + j] = 0.2f * (float)(j - 0.5) * (float)(r % 3);
    b->rew[r] = (float)r / 8.0f;
    b->done[r] = r == 7;
  }
}

static void save(o2o_learner *l, o2o_ckpt_meta *meta) {
  char err[O2O_AGENT_ERRLEN] = "";
  const o2o_tensor_ref *t;
  int n = o2o_learner_tensors(l, &t);
  cr_assert_eq(o2o_ckpt_save(path, t, n, meta, err, sizeof err), 0, "%s", err);
}

Test(learner, registry_knows_sac_and_lists_names) {
  cr_assert_not_null(o2o_learner_find("sac"));
  cr_assert_null(o2o_learner_find("sacc"));
  cr_assert_null(o2o_learner_find(NULL));
  cr_assert_not_null(strstr(o2o_learner_names(0), "sac"));
  int n = 0;
  for (const o2o_learner_algo *const *a = o2o_learner_algos(); *a; a++)
    n++;
  cr_assert_geq(n, 1);
}

Test(learner, field_parse_checks_type_and_range) {
  const o2o_learner_algo *sac = o2o_learner_find("sac");
  o2o_sac_config c = small_sac();
  char err[O2O_AGENT_ERRLEN] = "";
  const o2o_learner_field *gamma = o2o_learner_field_find(sac, "gamma");
  cr_assert_not_null(gamma);
  cr_assert_eq(o2o_learner_field_parse(gamma, &c, "0.9", err, sizeof err), 0, "%s", err);
  cr_assert_float_eq(c.gamma, 0.9f, 1e-7f);
  cr_assert_neq(o2o_learner_field_parse(gamma, &c, "1.5", err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "--gamma 1.5"), "%s", err);
  cr_assert_not_null(strstr(err, "[0, 1]"), "%s", err);
  cr_assert_float_eq(c.gamma, 0.9f, 1e-7f, "a refused value leaves the field");
  const o2o_learner_field *hidden = o2o_learner_field_find(sac, "hidden");
  cr_assert_neq(o2o_learner_field_parse(hidden, &c, "2.5", err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "integer"), "%s", err);
  cr_assert_neq(o2o_learner_field_parse(hidden, &c, "4294967312", err, sizeof err), 0,
                "2^32 + 16 must not wrap to 16");
  cr_assert_neq(o2o_learner_field_parse(hidden, &c, "12x", err, sizeof err), 0);
  cr_assert_neq(o2o_learner_field_parse(gamma, &c, "nan", err, sizeof err), 0);
  cr_assert_eq(c.hidden, 16);
}

Test(learner, create_refuses_out_of_range_config_naming_the_field) {
  o2o_sac_config c = small_sac();
  c.tau = 2.0f;
  char err[O2O_AGENT_ERRLEN] = "";
  cr_assert_null(
      o2o_learner_create(o2o_learner_find("sac"), OBS, ACT, &c, NULL, NULL, 1, err, sizeof err));
  cr_assert_not_null(strstr(err, "--tau"), "%s", err);
}

Test(learner, checkpoint_round_trip_rebuilds_the_same_learner) {
  o2o_sac_config c = small_sac();
  c.gamma = 0.97f;
  c.num_critics = 3;
  o2o_learner *l = make(&c, NULL, NULL);
  o2o_batch b;
  fill_batch(&b);
  char err[O2O_AGENT_ERRLEN] = "";
  o2o_learner_stats st = {0};
  cr_assert_eq(o2o_learner_update(l, &b, &st, err, sizeof err), 0, "%s", err);
  cr_assert(isfinite(o2o_learner_stats_get(&st, "critic_loss")));
  cr_assert(isnan(o2o_learner_stats_get(&st, "no_such_stat")));
  o2o_ckpt_meta meta;
  o2o_ckpt_meta_init(&meta);
  cr_assert_eq(o2o_learner_meta(l, &meta, err, sizeof err), 0, "%s", err);
  cr_assert_str_eq(o2o_ckpt_meta_get(&meta, "sac.gamma"), "0.97", "shortest round-trip text");
  cr_assert_str_eq(o2o_ckpt_meta_get(&meta, "sac.num_critics"), "3");
  o2o_ckpt_meta_set(&meta, "step", "123");
  save(l, &meta);

  o2o_ckpt_meta got;
  o2o_learner *r = o2o_learner_load(path, "sac", &got, err, sizeof err);
  cr_assert_not_null(r, "%s", err);
  cr_assert_str_eq(o2o_ckpt_meta_get(&got, "step"), "123");
  const o2o_sac_config *rc = o2o_learner_config(r);
  cr_assert_eq(rc->num_critics, 3);
  cr_assert_eq(rc->gamma, 0.97f);
  /* same state: the next update gives the same losses, and actions agree */
  float obs[OBS] = {0.3f, -0.2f, 0.5f}, a1[ACT], a2[ACT];
  o2o_learner_act(l, obs, 1, 1, a1);
  o2o_learner_act(r, obs, 1, 1, a2);
  cr_assert_eq(memcmp(a1, a2, sizeof a1), 0);
  o2o_learner_stats s1 = {0}, s2 = {0};
  cr_assert_eq(o2o_learner_update(l, &b, &s1, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_learner_update(r, &b, &s2, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_learner_stats_get(&s1, "critic_loss"),
               o2o_learner_stats_get(&s2, "critic_loss"));
  o2o_learner_destroy(r);

  cr_assert_null(o2o_learner_load(path, "iql", NULL, err, sizeof err));
  cr_assert_not_null(strstr(err, "sac") && strstr(err, "iql") ? err : NULL, "%s", err);
  o2o_replay_batch_free(&b);
  o2o_learner_destroy(l);
}

/* Every algorithm's default config goes through checkpoint metadata and back: CQL's clip
 * -FLT_MAX is written as "-3.40282347e+38", a double beyond -FLT_MAX that is still that float
 * (refused as out of range before, so no default CQL checkpoint could be loaded). */
Test(learner, default_configs_round_trip_through_metadata) {
  for (const o2o_learner_algo *const *a = o2o_learner_algos(); *a; a++) {
    const o2o_learner_algo *algo = *a;
    unsigned char cfg[4096] __attribute__((aligned(16))), back[4096] __attribute__((aligned(16)));
    cr_assert_leq(algo->config_size, sizeof cfg);
    algo->config_default(cfg);
    algo->config_default(back);
    char err[O2O_AGENT_ERRLEN] = "";
    o2o_ckpt_meta meta;
    o2o_ckpt_meta_init(&meta);
    o2o_learner *l = o2o_learner_create(algo, OBS, ACT, cfg, NULL, NULL, 1, err, sizeof err);
    cr_assert_not_null(l, "%s: %s", algo->name, err);
    cr_assert_eq(o2o_learner_meta(l, &meta, err, sizeof err), 0, "%s", err);
    o2o_learner_destroy(l);
    for (int i = 0; i < algo->num_fields; i++) {
      const o2o_learner_field *f = &algo->fields[i];
      char key[O2O_CKPT_KEYLEN];
      snprintf(key, sizeof key, "%s.%s", algo->name, f->name);
      const char *v = o2o_ckpt_meta_get(&meta, key);
      cr_assert_not_null(v, "%s", key);
      cr_assert_eq(o2o_learner_field_parse(f, back, v, err, sizeof err), 0, "%s = %s: %s", key, v,
                   err);
      cr_assert_eq(o2o_learner_field_get(f, back), o2o_learner_field_get(f, cfg), "%s", key);
    }
  }
}

/* Every algorithm at its deepest (layers at its maximum, narrow): the tensor table names every
 * tensor once, each with data, and a checkpoint of it loads back into the same tensors (IQL's
 * table had a fixed cap of 64 entries, so from 4 layers on its last tensors were never
 * written and no such checkpoint could be saved). */
Test(learner, the_deepest_networks_have_a_whole_tensor_table_that_round_trips) {
  for (const o2o_learner_algo *const *a = o2o_learner_algos(); *a; a++) {
    const o2o_learner_algo *algo = *a;
    unsigned char cfg[4096] __attribute__((aligned(16)));
    cr_assert_leq(algo->config_size, sizeof cfg);
    algo->config_default(cfg);
    char err[O2O_AGENT_ERRLEN] = "", v[32];
    for (int i = 0; i < algo->num_fields; i++) {
      const o2o_learner_field *f = &algo->fields[i];
      if (strstr(f->name, "layers"))
        snprintf(v, sizeof v, "%.0f", f->max);
      else if (strstr(f->name, "hidden"))
        snprintf(v, sizeof v, "8");
      else
        continue;
      cr_assert_eq(o2o_learner_field_parse(f, cfg, v, err, sizeof err), 0, "%s.%s: %s", algo->name,
                   f->name, err);
    }
    o2o_learner *l = o2o_learner_create(algo, OBS, ACT, cfg, NULL, NULL, 1, err, sizeof err);
    cr_assert_not_null(l, "%s: %s", algo->name, err);
    const o2o_tensor_ref *t;
    int n = o2o_learner_tensors(l, &t);
    cr_assert_gt(n, 0, "%s", algo->name);
    for (int i = 0; i < n; i++) {
      cr_assert(t[i].name[0] && t[i].data && t[i].ndim >= 1, "%s: tensor %d of %d is empty",
                algo->name, i, n);
      for (int k = 0; k < i; k++)
        cr_assert_str_neq(t[i].name, t[k].name, "%s: %s twice", algo->name, t[i].name);
    }
    o2o_ckpt_meta meta;
    o2o_ckpt_meta_init(&meta);
    cr_assert_eq(o2o_learner_meta(l, &meta, err, sizeof err), 0, "%s", err);
    save(l, &meta);
    o2o_learner *r = o2o_learner_load(path, algo->name, NULL, err, sizeof err);
    cr_assert_not_null(r, "%s: %s", algo->name, err);
    const o2o_tensor_ref *u;
    cr_assert_eq(o2o_learner_tensors(r, &u), n, "%s", algo->name);
    for (int i = 0; i < n; i++) {
      size_t len = (size_t)t[i].shape[0] * (t[i].ndim > 1 ? (size_t)t[i].shape[1] : 1);
      cr_assert_eq(memcmp(t[i].data, u[i].data, len * sizeof(float)), 0, "%s: %s", algo->name,
                   t[i].name);
    }
    o2o_learner_destroy(r);
    o2o_learner_destroy(l);
  }
}

/* Metadata that shapes the network must agree with the tensors: the learner is built from
 * the metadata, so hidden 17 over 16-wide tensors fails the strict load, naming a tensor. */
Test(learner, metadata_that_disagrees_with_tensors_is_refused) {
  o2o_sac_config c = small_sac();
  o2o_learner *l = make(&c, NULL, NULL);
  char err[O2O_AGENT_ERRLEN] = "";
  const char *bad[][2] = {{"sac.hidden", "17"}, {"sac.layers", "3"}, {"sac.num_critics", "1"},
                          {"obs_dim", "4"},     {"sac.bogus", "1"},  {"algorithm", "nope"},
                          {"sac.gamma", "7"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    o2o_ckpt_meta meta;
    o2o_ckpt_meta_init(&meta);
    cr_assert_eq(o2o_learner_meta(l, &meta, err, sizeof err), 0, "%s", err);
    o2o_ckpt_meta_set(&meta, bad[i][0], bad[i][1]);
    save(l, &meta);
    err[0] = 0;
    cr_assert_null(o2o_learner_load(path, NULL, NULL, err, sizeof err), "%s=%s accepted", bad[i][0],
                   bad[i][1]);
    cr_assert_gt(strlen(err), 10, "%s", err);
  }
  o2o_learner_destroy(l);
}

Test(learner, observation_normalisation_is_applied_and_saved) {
  o2o_sac_config c = small_sac();
  float mean[OBS] = {1.0f, -2.0f, 0.5f}, std[OBS] = {2.0f, 0.5f, 4.0f};
  o2o_learner *n = make(&c, mean, std), *plain = make(&c, NULL, NULL); /* same seed */
  float raw[OBS] = {3.0f, -1.0f, 4.5f}, norm[OBS], a1[ACT], a2[ACT];
  for (int j = 0; j < OBS; j++)
    norm[j] = (raw[j] - mean[j]) / std[j];
  o2o_learner_act(n, raw, 1, 1, a1);
  o2o_learner_act(plain, norm, 1, 1, a2);
  cr_assert_eq(memcmp(a1, a2, sizeof a1), 0, "act normalises");
  o2o_learner_act(plain, raw, 1, 1, a2);
  cr_assert_neq(memcmp(a1, a2, sizeof a1), 0, "and it matters");

  char err[O2O_AGENT_ERRLEN] = "";
  o2o_ckpt_meta meta;
  o2o_ckpt_meta_init(&meta);
  cr_assert_eq(o2o_learner_meta(n, &meta, err, sizeof err), 0, "%s", err);
  save(n, &meta);
  o2o_learner *r = o2o_learner_load(path, NULL, NULL, err, sizeof err);
  cr_assert_not_null(r, "%s", err);
  cr_assert_not_null(o2o_learner_obs_std(r));
  cr_assert_eq(o2o_learner_obs_std(r)[2], 4.0f);
  o2o_learner_act(r, raw, 1, 1, a2);
  cr_assert_eq(memcmp(a1, a2, sizeof a1), 0, "the loaded learner normalises the same way");
  float zero[OBS] = {1.0f, 0.0f, 1.0f};
  cr_assert_null(
      o2o_learner_create(o2o_learner_find("sac"), OBS, ACT, &c, mean, zero, 1, err, sizeof err));
  cr_assert_not_null(strstr(err, "dimension 1"), "%s", err);
  o2o_learner_destroy(r);
  o2o_learner_destroy(n);
  o2o_learner_destroy(plain);
}

/* A toy algorithm that needs the mc_return column: the wrapper refuses batches without it
 * before the algorithm sees them. */
static int toy_updates;
static void toy_default(void *cfg) {
  *(int *)cfg = 8;
}
static int toy_batch(const void *cfg) {
  return *(const int *)cfg;
}
static void *toy_create(int o, int a, const void *cfg, uint64_t seed, char *err, size_t n) {
  (void)o, (void)a, (void)cfg, (void)seed, (void)err, (void)n;
  return &toy_updates;
}
static void toy_destroy(void *self) {
  (void)self;
}
static int toy_update(void *self, const o2o_batch *b, o2o_learner_stats *st, char *err, size_t n) {
  (void)self, (void)b, (void)st, (void)err, (void)n;
  toy_updates++;
  return 0;
}
static const o2o_learner_algo toy = {.name = "toy",
                                     .config_size = sizeof(int),
                                     .config_default = toy_default,
                                     .batch_size = toy_batch,
                                     .columns = O2O_COLUMN_MC_RETURN,
                                     .create = toy_create,
                                     .destroy = toy_destroy,
                                     .update = toy_update};

Test(learner, a_batch_without_a_needed_column_is_refused) {
  char err[O2O_AGENT_ERRLEN] = "";
  o2o_learner *l = o2o_learner_create(&toy, OBS, ACT, NULL, NULL, NULL, 1, err, sizeof err);
  cr_assert_not_null(l, "%s", err);
  o2o_batch b;
  fill_batch(&b);
  cr_assert_neq(o2o_learner_update(l, &b, NULL, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "mc_return"), "%s", err);
  cr_assert_eq(toy_updates, 0);
  float g[8] = {0};
  b.mc_return = g;
  cr_assert_eq(o2o_learner_update(l, &b, NULL, err, sizeof err), 0, "%s", err);
  cr_assert_eq(toy_updates, 1);
  b.size = 7;
  cr_assert_neq(o2o_learner_update(l, &b, NULL, err, sizeof err), 0, "wrong batch size");
  b.size = 8;
  b.mc_return = NULL;
  o2o_replay_batch_free(&b);
  o2o_learner_destroy(l);
}
