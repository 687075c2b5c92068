/* test_cql.c: CQL and Cal-QL (learn/cql.h): loss values on a tiny hand-set batch against an
 * independent float64 numpy script (tests/agent/cql_golden.py), the penalty's gradient with its
 * importance corrections, clip and Cal-QL bound against central differences, the gradient of
 * the whole critic loss w.r.t. every critic parameter, Lagrange's direction, and the learner
 * interface (registry, missing mc_return, config changes, refused batches). */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "learn/cql.h"
#include "learn/learner.h"
#include "learn/sac_internal.h"

enum { O = 2, A = 2, H = 3, N = 2, B = 2, NA = 2 };

static float OBS[B * O] = {0.5f, -0.2f, 0.1f, 0.4f}, ACT[B * A] = {0.3f, -0.6f, -0.8f, 0.2f};
static float REW[B] = {1.0f, -0.5f}, NXT[B * O] = {0.4f, -0.1f, 0.0f, 0.7f}, DONE[B] = {0, 1};
static float MC[B] = {0.75f, 0.6f};

static o2o_batch tiny_batch(int with_mc) {
  o2o_batch b = {.size = B,
                 .obs_dim = O,
                 .act_dim = A,
                 .obs = OBS,
                 .act = ACT,
                 .rew = REW,
                 .next_obs = NXT,
                 .done = DONE,
                 .mc_return = with_mc ? MC : NULL};
  return b;
}

static void fill(float *p, size_t count, double amp, double freq, double phase, int use_cos) {
  for (size_t i = 0; i < count; i++)
    p[i] = (float)(amp * (use_cos ? cos(freq * i + phase) : sin(freq * i + phase)));
}

/* The golden script's parameters and samples (cql_golden.py: vals()). */
static void *tiny_cql(const o2o_learner_algo *algo, o2o_cql_config *c) {
  c->sac.hidden = H;
  c->sac.layers = 1;
  c->sac.num_critics = N;
  c->sac.batch_size = B;
  c->n_actions = NA;
  char err[256] = "";
  void *self = algo->create(O, A, c, 7, err, sizeof err);
  cr_assert_not_null(self, "%s", err);
  o2o_sac *s = o2o_cql_test_sac(self);
  fill(s->actor_p, s->actor_m.num_params, 0.5, 0.7, 0.1, 0);
  fill(s->critic_p, s->critic_m.num_params, 0.6, 0.9, 0.2, 0);
  fill(s->target_p, s->critic_m.num_params, 0.6, 0.9, 0.5, 0);
  fill(s->eps, 2 * B * A, 0.8, 1.3, 0.3, 0);
  fill(o2o_cql_test_uniform(self), NA * B * A, 0.9, 1.7, 0.4, 0);
  fill(o2o_cql_test_eps(self), 3 * NA * B * A, 1.0, 1.1, 0.2, 1);
  return self;
}

static void golden(const o2o_learner_algo *algo, o2o_cql_config *c, const double want[4]) {
  void *self = tiny_cql(algo, c);
  o2o_batch b = tiny_batch(1);
  char err[256] = "";
  double loss = o2o_cql_test_critic_loss(self, &b, 0, err, sizeof err);
  cr_assert(isfinite(loss), "%s", err);
  double got[4];
  o2o_cql_test_losses(self, &got[0], &got[1], &got[2], &got[3]);
  static const char *what[4] = {"TD", "penalty", "diff critic0", "diff critic1"};
  for (int i = 0; i < 4; i++)
    cr_assert(fabs(got[i] - want[i]) <= 2e-5 * (1 + fabs(want[i])), "%s: %.8f, numpy %.8f", what[i],
              got[i], want[i]);
  cr_assert_float_eq(loss, want[0] + want[1], 1e-4 * (1 + fabs(loss)));
  algo->destroy(self);
}

/* Values printed by /usr/bin/python3 tests/agent/cql_golden.py */
Test(cql, golden_loss_values_match_the_numpy_reference) {
  o2o_cql_config c;
  o2o_cql_config_default(&c);
  golden(&o2o_algo_cql, &c, (double[4]){2.1185320597, 31.3216973126, 3.1260679760, 3.1382714865});
}

Test(cql, golden_temperature_2_and_max_target_backup) {
  o2o_cql_config c;
  o2o_cql_config_default(&c);
  c.alpha_cql = 1.0f;
  c.temp = 2.0f;
  c.max_target_backup = 1;
  golden(&o2o_algo_cql, &c, (double[4]){2.4510954422, 9.8023035706, 4.8954708190, 4.9068327516});
}

Test(cql, golden_calql_bound_by_mc_returns) {
  o2o_cql_config c;
  o2o_calql_config_default(&c);
  c.max_target_backup = 0;
  golden(&o2o_algo_calql, &c, (double[4]){2.1185320597, 32.0890874028, 3.1510515396, 3.2667659410});
}

Test(cql, golden_lagrange) {
  o2o_cql_config c;
  o2o_cql_config_default(&c);
  c.lagrange = 1;
  golden(&o2o_algo_cql, &c, (double[4]){2.1185320597, 57.9583823569, 3.1260679760, 3.1382714865});
}

/* The penalty's gradient against central differences of the penalty itself (double inside),
 * with importance corrections, temperature, the Cal-QL bound (some samples below it) and an
 * active clip on one row. */
Test(cql, penalty_gradient_matches_central_differences) {
  enum { PB = 3, S = 6, LD = 2 };
  float qd[PB * LD] = {0.2f, 9, -0.4f, 9, 1.1f, 9};
  float qs[S * PB * LD];
  float logq[S * PB], bound[PB] = {0.3f, -5.0f, 0.9f};
  for (int i = 0; i < S * PB; i++) {
    qs[i * LD] = (float)(0.9 * sin(1.3 * i + 0.2));
    qs[i * LD + 1] = 99.0f; /* the other critic's column: never read */
    logq[i] = i < 2 * PB ? (float)(2 * log(0.5)) : (float)(-0.7 + 0.3 * cos(i));
  }
  for (int t = 0; t < 4; t++) {
    const double T = t & 1 ? 2.0 : 1.0;
    const float *bnd = t & 2 ? bound : NULL;
    const double lo = -FLT_MAX, hi = t == 3 ? 1.5 : FLT_MAX;
    float dd[PB * LD], ds[S * PB * LD];
    double rate;
    o2o_cql_penalty(qd, qs, LD, PB, S, logq, bnd, 2, T, lo, hi, dd, ds, &rate);
    if (bnd) cr_assert(rate > 0 && rate < 1, "bound rate %g: the test needs some below", rate);
    for (int i = 0; i < PB + S * PB; i++) {
      float *q = i < PB ? &qd[i * LD] : &qs[(i - PB) * LD], keep = *q, h = 1e-3f;
      *q = keep + h;
      double lp = o2o_cql_penalty(qd, qs, LD, PB, S, logq, bnd, 2, T, lo, hi, 0, 0, 0);
      *q = keep - h;
      double lm = o2o_cql_penalty(qd, qs, LD, PB, S, logq, bnd, 2, T, lo, hi, 0, 0, 0);
      *q = keep;
      double fd = (lp - lm) / (2.0 * h), g = i < PB ? dd[i * LD] : ds[(i - PB) * LD];
      cr_assert(fabs(fd - g) < 1e-4, "case %d input %d: gradient %.7f, central difference %.7f", t,
                i, g, fd);
    }
  }
  /* a hand value: one state, samples {0, log 2} with corrections {0, 0}: LSE = log 3 */
  float q1[1] = {0.5f}, s1[2] = {0.0f, (float)log(2.0)}, l1[2] = {0, 0};
  cr_assert_float_eq(o2o_cql_penalty(q1, s1, 1, 1, 2, l1, NULL, 0, 1.0, -FLT_MAX, FLT_MAX, 0, 0, 0),
                     log(3.0) - 0.5, 1e-7);
  /* the correction enters with its sign: log q = -1 on the first sample = Q + 1 */
  l1[0] = -1.0f;
  cr_assert_float_eq(o2o_cql_penalty(q1, s1, 1, 1, 2, l1, NULL, 0, 1.0, -FLT_MAX, FLT_MAX, 0, 0, 0),
                     log(exp(1.0) + 2.0) - 0.5, 1e-6);
  /* Cal-QL: a sample below its bound counts as the bound, and passes no gradient */
  float g1[1] = {1.0f}, d1[2];
  l1[0] = 0.0f;
  cr_assert_float_eq(o2o_cql_penalty(q1, s1, 1, 1, 2, l1, g1, 0, 1.0, -FLT_MAX, FLT_MAX, 0, d1, 0),
                     log(2 * exp(1.0)) - 0.5, 1e-6);
  cr_assert(d1[0] == 0.0f && d1[1] == 0.0f);
}

/* d(TD + penalty)/d(every critic parameter) from the update's two backwards (SAC's TD, then the
 * stacked penalty) against central differences of the whole loss. */
static void whole_loss_gradient(const o2o_learner_algo *algo, o2o_cql_config *c) {
  void *self = tiny_cql(algo, c);
  o2o_sac *s = o2o_cql_test_sac(self);
  o2o_batch b = tiny_batch(1);
  char err[256] = "";
  cr_assert(isfinite(o2o_cql_test_critic_loss(self, &b, 0, err, sizeof err)), "%s", err);
  const size_t P = s->critic_m.num_params;
  float *g = malloc(sizeof(float) * P);
  memcpy(g, s->critic_g, sizeof(float) * P);
  for (size_t i = 0; i < P; i++) {
    float keep = s->critic_p[i], h = 2e-3f;
    s->critic_p[i] = keep + h;
    double lp = o2o_cql_test_critic_loss(self, &b, 0, err, sizeof err);
    s->critic_p[i] = keep - h;
    double lm = o2o_cql_test_critic_loss(self, &b, 0, err, sizeof err);
    s->critic_p[i] = keep;
    double fd = (lp - lm) / (2.0 * h);
    cr_assert(fabs(fd - g[i]) < 2e-3 * (1 + fabs(fd)), "critic parameter %zu: %.6f vs %.6f", i,
              (double)g[i], fd);
  }
  free(g);
  algo->destroy(self);
}

Test(cql, whole_critic_loss_gradient_cql_max_backup) {
  o2o_cql_config c;
  o2o_cql_config_default(&c);
  c.max_target_backup = 1;
  c.temp = 2.0f;
  whole_loss_gradient(&o2o_algo_cql, &c);
}

Test(cql, whole_critic_loss_gradient_calql_lagrange) {
  o2o_cql_config c;
  o2o_calql_config_default(&c);
  c.lagrange = 1;
  whole_loss_gradient(&o2o_algo_calql, &c);
}

/* Updates through the learner interface. */
static o2o_batch random_batch(int rows, int with_mc, unsigned seed) {
  o2o_batch b = {.size = rows, .obs_dim = O, .act_dim = A};
  b.obs = malloc(sizeof(float) * rows * O);
  b.next_obs = malloc(sizeof(float) * rows * O);
  b.act = malloc(sizeof(float) * rows * A);
  b.rew = malloc(sizeof(float) * rows);
  b.done = calloc(rows, sizeof(float));
  b.mc_return = with_mc ? malloc(sizeof(float) * rows) : NULL;
  srand(seed);
  for (int i = 0; i < rows * O; i++) {
    b.obs[i] = (float)rand() / RAND_MAX - 0.5f;
    b.next_obs[i] = (float)rand() / RAND_MAX - 0.5f;
  }
  for (int i = 0; i < rows * A; i++)
    b.act[i] = 1.8f * ((float)rand() / RAND_MAX - 0.5f);
  for (int i = 0; i < rows; i++) {
    b.rew[i] = (float)rand() / RAND_MAX;
    if (with_mc) b.mc_return[i] = 20.0f * b.rew[i];
  }
  return b;
}
static void free_batch(o2o_batch *b) {
  free(b->obs), free(b->next_obs), free(b->act), free(b->rew), free(b->done), free(b->mc_return);
}

/* The stacked critic pass in row blocks (a partial last one too; LayerNorm's saved statistics
 * as well) gives the loss and gradient of one pass over all rows. */
Test(cql, stack_in_blocks_matches_one_pass) {
  for (int ln = 0; ln <= 1; ln++) {
    o2o_cql_config c;
    o2o_cql_config_default(&c);
    c.sac.hidden = 16;
    c.sac.critic_layernorm = ln;
    c.sac.batch_size = 32;
    c.n_actions = 3; /* R = 10 x 32 = 320 rows */
    char err[256] = "";
    void *self = o2o_algo_cql.create(O, A, &c, 5, err, sizeof err);
    cr_assert_not_null(self, "%s", err);
    o2o_sac *s = o2o_cql_test_sac(self);
    o2o_batch b = random_batch(32, 0, 11);
    const size_t np = s->critic_m.num_params;
    float *g1 = malloc(sizeof(float) * np);
    o2o_cql_test_set_block_rows(self, 1 << 30);
    double l1 = o2o_cql_test_critic_loss(self, &b, 1, err, sizeof err);
    cr_assert(isfinite(l1), "%s", err);
    memcpy(g1, s->critic_g, sizeof(float) * np);
    o2o_cql_test_set_block_rows(self, 48); /* 6 blocks of 48 and one of 32 */
    double l2 = o2o_cql_test_critic_loss(self, &b, 0, err, sizeof err);
    cr_assert(fabs(l1 - l2) <= 1e-5 * (1 + fabs(l1)), "layernorm %d: loss %.9g vs %.9g", ln, l1,
              l2);
    double gmax = 0.0;
    for (size_t i = 0; i < np; i++)
      gmax = fmax(gmax, fabs(g1[i]));
    cr_assert_gt(gmax, 1e-3, "layernorm %d: the gradient is ~0", ln);
    for (size_t i = 0; i < np; i++)
      cr_assert(fabsf(g1[i] - s->critic_g[i]) <= 1e-5f * (float)(1 + gmax),
                "layernorm %d: critic gradient %zu: %.9g in one pass, %.9g in blocks", ln, i,
                (double)g1[i], (double)s->critic_g[i]);
    free(g1);
    free_batch(&b);
    o2o_algo_cql.destroy(self);
  }
}

Test(cql, learners_register_update_and_refuse) {
  cr_assert_eq(o2o_learner_find("cql"), &o2o_algo_cql);
  cr_assert_eq(o2o_learner_find("calql"), &o2o_algo_calql);
  cr_assert(o2o_algo_cql.offline && o2o_algo_calql.offline);
  char err[512] = "";
  o2o_cql_config c;
  o2o_calql_config_default(&c);
  c.sac.hidden = 16;
  c.sac.batch_size = 32;
  o2o_learner *l = o2o_learner_create(&o2o_algo_calql, O, A, &c, NULL, NULL, 3, err, sizeof err);
  cr_assert_not_null(l, "%s", err);
  o2o_batch nomc = random_batch(32, 0, 1), b = random_batch(32, 1, 2);
  cr_assert_eq(o2o_learner_update(l, &nomc, NULL, err, sizeof err), -1);
  cr_assert(strstr(err, "mc_return"), "%s", err);
  o2o_learner_stats st;
  for (int i = 0; i < 5; i++)
    cr_assert_eq(o2o_learner_update(l, &b, &st, err, sizeof err), 0, "%s", err);
  cr_assert(isfinite(o2o_learner_stats_get(&st, "cql_penalty")));
  double rate = o2o_learner_stats_get(&st, "calql_bound_rate");
  cr_assert(rate > 0.5, "returns of 0..20 bound most policy samples of a fresh critic: %g", rate);
  /* a NaN return is refused with its row; nothing changes */
  b.mc_return[7] = NAN;
  cr_assert_eq(o2o_learner_update(l, &b, NULL, err, sizeof err), -1);
  cr_assert(strstr(err, "mc_return row 7"), "%s", err);
  b.mc_return[7] = 1.0f;
  /* calibration off for the online phase; shapes stay fixed */
  cr_assert_eq(o2o_learner_config_set(l, "calibrate", 0, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_learner_update(l, &b, &st, err, sizeof err), 0, "%s", err);
  cr_assert(isnan(o2o_learner_stats_get(&st, "calql_bound_rate")));
  cr_assert_eq(o2o_learner_config_set(l, "hidden", 32, err, sizeof err), -1);
  cr_assert_eq(o2o_learner_config_set(l, "alpha_cql", 10, err, sizeof err), 0, "%s", err);
  const o2o_tensor_ref *t;
  int nt = o2o_learner_tensors(l, &t);
  cr_assert_str_eq(t[nt - 4].name, "cql.log_alpha_prime");
  o2o_learner_destroy(l);
  free_batch(&nomc);
  free_batch(&b);
}

/* With the penalty above the target gap, alpha' grows (gradient ascent on the penalty). */
Test(cql, lagrange_raises_alpha_prime_when_the_gap_is_exceeded) {
  char err[512] = "";
  o2o_cql_config c;
  o2o_cql_config_default(&c);
  c.sac.hidden = 16;
  c.sac.batch_size = 32;
  c.lagrange = 1;
  c.target_gap = -100.0f; /* any difference exceeds it */
  o2o_learner *l = o2o_learner_create(&o2o_algo_cql, O, A, &c, NULL, NULL, 3, err, sizeof err);
  cr_assert_not_null(l, "%s", err);
  o2o_batch b = random_batch(32, 0, 5);
  o2o_learner_stats st;
  cr_assert_eq(o2o_learner_update(l, &b, &st, err, sizeof err), 0, "%s", err);
  double a1 = o2o_learner_stats_get(&st, "alpha_prime");
  cr_assert_float_eq(a1, exp(1.0), 1e-5, "alpha' starts at e: %g", a1);
  cr_assert_eq(o2o_learner_update(l, &b, &st, err, sizeof err), 0, "%s", err);
  cr_assert_gt(o2o_learner_stats_get(&st, "alpha_prime"), a1);
  o2o_learner_destroy(l);
  free_batch(&b);
}
