/* test_par.c: o2o's 2-thread task parallelism (nn/par.h) gives the 1-thread results bit for
 * bit: an ensemble's forward and backward (members split), a single network's (not split),
 * Adam, Polyak and the finite check (halves), the REDQ-SAC update, and one update of each
 * learner at its default sizes. The sizes are the real ones: smaller passes are not split.
 * And every thread, OpenBLAS's workers too, computes with denormals flushed to zero. */
#include <cblas.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "learn/learner.h"
#include "learn/sac_internal.h"
#include "nn/blas_setup.h"
#include "nn/nn.h"
#include "nn/par.h"
#include "replay/replay.h"

__attribute__((constructor)) static void blas_init(void) {
  o2o_blas_setup(0, NULL);
}

TestSuite(par);

/* o2o_blas_setup flushes denormals in this thread and in OpenBLAS's workers (which started
 * before main): a product of denormal inputs must be exactly 0 everywhere, here and in the
 * rows a second OpenBLAS thread computes. */
Test(par, denormals_are_flushed_in_this_thread_and_in_blas_workers) {
#if defined(__SSE__)
  volatile float tiny = 1e-39f, one = 1.0f;
  cr_expect_eq(tiny * one, 0.0f, "denormal survived a multiply in the main thread: %g",
               (double)(tiny * one));
  enum { N = 512 };
  float *a = malloc(sizeof(float) * N * N), *b = malloc(sizeof(float) * N * N);
  float *c = calloc((size_t)N * N, sizeof(float));
  cr_assert(a && b && c);
  for (int i = 0; i < N * N; i++)
    a[i] = 1e-39f, b[i] = 1.0f;
  int before = o2o_blas_threads();
  o2o_blas_set_threads(2);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a, N, b, N, 0.0f, c, N);
  o2o_blas_set_threads(before);
  int nonzero = 0, first = -1;
  for (int i = 0; i < N * N; i++)
    if (c[i] != 0.0f) {
      if (first < 0) first = i;
      nonzero++;
    }
  cr_expect_eq(nonzero, 0,
               "%d of %d outputs of a 2-thread sgemm on denormals are nonzero "
               "(first at row %d): a BLAS worker computes without FTZ/DAZ",
               nonzero, N * N, first / N);
  free(a), free(b), free(c);
#else
  cr_skip_test("FTZ/DAZ are x86 (SSE) controls");
#endif
}

static float *randn(int n, uint64_t seed) {
  float *x = malloc(sizeof(float) * (size_t)n);
  cr_assert_not_null(x);
  o2o_nn_rng r;
  o2o_nn_rng_seed(&r, seed);
  o2o_nn_rng_normal(&r, x, n);
  return x;
}

#define SAME(a, b, n, what)                                                                        \
  cr_assert_eq(memcmp((a), (b), sizeof(float) * (size_t)(n)), 0, "%s differs with 2 threads", what)

/* forward, then backward with weight gradients of rows [B/4, B) and dx of the first B/2 rows */
static void pass(const o2o_nn_mlp *m, const float *p, const float *x, int B, o2o_nn_acts *a,
                 const float *dout, float *g, float *dx) {
  o2o_nn_mlp_forward(m, p, x, m->dims[0], B, a);
  o2o_nn_zero(g, m->num_params);
  o2o_nn_mlp_backward(m, p, x, m->dims[0], B, a, dout, g, B / 4, B - B / 4, dx, B / 2, m->dims[0]);
}

static void check_mlp(int E, int ln, int B) {
  const int dims[4] = {14, 256, 256, E == 1 ? 6 : 1};
  o2o_nn_mlp m;
  cr_assert_eq(o2o_nn_mlp_init(&m, E, 3, dims, ln), 0);
  float *p = malloc(sizeof(float) * m.num_params);
  o2o_nn_rng r;
  o2o_nn_rng_seed(&r, 5);
  o2o_nn_mlp_init_params(&m, p, &r, 0.0f);
  const int out = E * dims[3];
  float *x = randn(B * dims[0], 6), *dout = randn(B * out, 7);
  float *g[2], *dx[2];
  o2o_nn_acts *a[2];
  for (int t = 0; t < 2; t++) {
    o2o_par_set_threads(t + 1);
    cr_assert_eq(o2o_par_threads(), t + 1);
    a[t] = o2o_nn_acts_create(&m, B);
    g[t] = malloc(sizeof(float) * m.num_params);
    dx[t] = malloc(sizeof(float) * (size_t)B * dims[0]);
    pass(&m, p, x, B, a[t], dout, g[t], dx[t]);
  }
  o2o_par_set_threads(1);
  for (int l = 0; l < 3; l++) {
    int n = B * E * dims[l + 1], first = -1;
    for (int i = 0; i < n && first < 0; i++)
      if (a[0]->out[l][i] != a[1]->out[l][i]) first = i;
    cr_assert_eq(first, -1, "E %d, B %d: layer %d output [%d] differs with 2 threads: %.9g vs %.9g",
                 E, B, l, first, first < 0 ? 0 : a[0]->out[l][first],
                 first < 0 ? 0 : a[1]->out[l][first]);
  }
  SAME(g[0], g[1], m.num_params, "a parameter gradient");
  SAME(dx[0], dx[1], B / 2 * dims[0], "the input gradient");
  for (int t = 0; t < 2; t++) {
    o2o_nn_acts_destroy(a[t]);
    free(g[t]);
    free(dx[t]);
  }
  free(p);
  free(x);
  free(dout);
}

Test(par, ensemble_and_single_network_passes_match_one_thread) {
  check_mlp(10, 1, 256); /* REDQ's critics */
  check_mlp(2, 0, 512);  /* SAC's */
  check_mlp(3, 1, 300);  /* uneven members and rows */
  check_mlp(1, 0, 300);  /* an actor: one thread */
}

Test(par, adam_polyak_and_finite_check_match_one_thread) {
  const int n = 300001; /* odd: a tail */
  float *g = randn(n, 1), *p[2], *t[2];
  o2o_nn_adam opt[2];
  for (int k = 0; k < 2; k++) {
    o2o_par_set_threads(k + 1);
    p[k] = randn(n, 2);
    t[k] = randn(n, 3);
    cr_assert_eq(o2o_nn_adam_init(&opt[k], n, 1e-3f), 0);
    for (int s = 0; s < 3; s++) {
      o2o_nn_adam_step(&opt[k], p[k], g);
      o2o_nn_polyak(t[k], p[k], n, 0.005f);
    }
    cr_assert_eq(o2o_nn_find_nonfinite(p[k], n), -1);
    p[k][n - 2] = NAN;
    p[k][n / 2 + 7] = INFINITY; /* the first one is found, in either half */
    cr_assert_eq(o2o_nn_find_nonfinite(p[k], n), n / 2 + 7);
  }
  o2o_par_set_threads(1);
  SAME(p[0], p[1], n, "Adam");
  SAME(opt[0].m, opt[1].m, n, "Adam's m");
  SAME(opt[0].v, opt[1].v, n, "Adam's v");
  SAME(t[0], t[1], n, "Polyak");
  for (int k = 0; k < 2; k++) {
    o2o_nn_adam_free(&opt[k]);
    free(p[k]);
    free(t[k]);
  }
  free(g);
}

static void fill_batch(o2o_batch *b, int B, int O, int A, uint64_t seed) {
  cr_assert_eq(o2o_replay_batch_alloc(b, B, O, A, 1), 0);
  o2o_nn_rng r;
  o2o_nn_rng_seed(&r, seed);
  o2o_nn_rng_normal(&r, b->obs, B * O);
  o2o_nn_rng_normal(&r, b->next_obs, B * O);
  o2o_nn_rng_normal(&r, b->rew, B);
  for (int i = 0; i < B * A; i++)
    b->act[i] = 1.8f * o2o_nn_rng_uniform(&r) - 0.9f;
  for (int i = 0; i < B; i++) {
    b->done[i] = i % 50 == 0;
    b->is_real[i] = i % 2; /* H2O: half real, half sim */
  }
}

Test(par, redq_update_matches_one_thread) {
  o2o_sac_config c;
  o2o_sac_config_default(&c);
  c.num_critics = 10;
  c.critic_layernorm = 1;
  c.target_subset = 2;
  c.critic_steps = 4;
  c.batch_size = 512;
  c.backup_entropy = 0;
  o2o_batch b;
  fill_batch(&b, 512, 11, 3, 9);
  o2o_sac *s[2];
  char err[256];
  for (int t = 0; t < 2; t++) {
    o2o_par_set_threads(t + 1);
    s[t] = o2o_sac_create(11, 3, &c, 4);
    cr_assert_not_null(s[t]);
    for (int u = 0; u < 2; u++)
      cr_assert_eq(o2o_sac_update(s[t], &b, NULL, err, sizeof err), 0, "%s", err);
  }
  o2o_par_set_threads(1);
  SAME(s[0]->critic_p, s[1]->critic_p, s[0]->critic_m.num_params, "a critic");
  SAME(s[0]->target_p, s[1]->target_p, s[0]->critic_m.num_params, "a target critic");
  SAME(s[0]->actor_p, s[1]->actor_p, s[0]->actor_m.num_params, "the actor");
  SAME(s[0]->log_alpha, s[1]->log_alpha, 1, "log alpha");
  for (int t = 0; t < 2; t++)
    o2o_sac_destroy(s[t]);
  o2o_replay_batch_free(&b);
}

/* Two updates of a learner at its default sizes (obs 17, act 6), 1 thread vs 2. */
static void check_learner(const char *name) {
  const int O = 17, A = 6;
  o2o_learner *l[2];
  char err[256] = "";
  float mean[17] = {0}, std[17];
  for (int i = 0; i < O; i++)
    std[i] = 1.0f;
  for (int t = 0; t < 2; t++) {
    o2o_par_set_threads(t + 1);
    l[t] = o2o_learner_create(o2o_learner_find(name), O, A, NULL, NULL, NULL, 3, err, sizeof err);
    cr_assert_not_null(l[t], "%s: %s", name, err);
    cr_assert_eq(o2o_learner_set_data_stats(l[t], mean, std, err, sizeof err), 0, "%s", err);
    for (int u = 0; u < 2; u++) {
      o2o_batch b;
      fill_batch(&b, o2o_learner_batch_size(l[t]), O, A, 20 + u);
      cr_assert_eq(o2o_learner_update(l[t], &b, NULL, err, sizeof err), 0, "%s: %s", name, err);
      o2o_replay_batch_free(&b);
    }
  }
  o2o_par_set_threads(1);
  const o2o_tensor_ref *t0, *t1;
  int n = o2o_learner_tensors(l[0], &t0);
  cr_assert_eq(o2o_learner_tensors(l[1], &t1), n);
  for (int i = 0; i < n; i++)
    cr_assert_eq(memcmp(t0[i].data, t1[i].data, sizeof(float) * (size_t)o2o_tensor_numel(&t0[i])),
                 0, "%s: tensor %s differs with 2 threads", name, t0[i].name);
  for (int t = 0; t < 2; t++)
    o2o_learner_destroy(l[t]);
}

Test(par, learner_updates_match_one_thread) {
  check_learner("sac");
  check_learner("h2o");
  check_learner("iql");
  check_learner("cql");
}
