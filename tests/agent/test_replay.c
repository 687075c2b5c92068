/* test_replay.c: ring buffer wrap-around, bulk reserve/commit, uniform sampling statistics,
 * exact real/sim mix, and the memory figure of a 1M-transition hopper buffer. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/replay.h"

/* Transition k has obs = (k, k+0.5), act = -k, rew = 10k, next_obs = (k+1, ...), done = k%2. */
static void make_rows(int64_t k0, int n, float *obs, float *act, float *rew, float *next,
                      float *done) {
  for (int i = 0; i < n; i++) {
    float k = (float)(k0 + i);
    obs[2 * i] = k, obs[2 * i + 1] = k + 0.5f;
    act[i] = -k;
    rew[i] = 10 * k;
    next[2 * i] = k + 1, next[2 * i + 1] = k + 1.5f;
    done[i] = (float)((k0 + i) % 2);
  }
}

Test(replay, wraps_around_fifo) {
  char err[256];
  o2o_replay *rb = o2o_replay_create(5, 2, 1, err, sizeof(err));
  cr_assert_not_null(rb, "%s", err);
  float obs[14], act[7], rew[7], next[14], done[7];
  make_rows(0, 7, obs, act, rew, next, done);
  o2o_replay_add(rb, 3, obs, act, rew, next, done);
  cr_assert_eq(o2o_replay_size(rb), 3);
  o2o_replay_add(rb, 4, obs + 6, act + 3, rew + 3, next + 6, done + 3); /* crosses the end */
  cr_assert_eq(o2o_replay_size(rb), 5);
  cr_assert_eq(o2o_replay_added(rb), 7);
  /* Oldest stored is transition 2 (0 and 1 were overwritten). */
  for (int i = 0; i < 5; i++) {
    float o[2], a, r, no[2], d;
    cr_assert_eq(o2o_replay_get(rb, i, o, &a, &r, no, &d), 0);
    float k = (float)(i + 2);
    cr_assert_eq(o[0], k);
    cr_assert_eq(o[1], k + 0.5f);
    cr_assert_eq(a, -k);
    cr_assert_eq(r, 10 * k);
    cr_assert_eq(no[0], k + 1);
    cr_assert_eq(d, (float)((i + 2) % 2));
  }
  cr_assert_eq(o2o_replay_get(rb, 5, NULL, NULL, NULL, NULL, NULL), -1);
  o2o_replay_destroy(rb);
}

Test(replay, bulk_reserve_commit_without_copy) {
  char err[256];
  o2o_replay *rb = o2o_replay_create(10, 2, 1, err, sizeof(err));
  o2o_replay_view v;
  o2o_replay_reserve(rb, 7, &v);
  cr_assert_eq(v.rows, 7);
  make_rows(100, 7, v.obs, v.act, v.rew, v.next_obs, v.done);
  cr_assert_eq(o2o_replay_size(rb), 0, "rows are invisible before commit");
  cr_assert_eq(o2o_replay_commit(rb, 7, err, sizeof(err)), 0);
  /* Only 3 contiguous rows remain before the end of storage. */
  o2o_replay_reserve(rb, 8, &v);
  cr_assert_eq(v.rows, 3);
  cr_assert_neq(o2o_replay_commit(rb, 4, err, sizeof(err)), 0);
  cr_assert(strstr(err, "exceeds"), "%s", err);
  make_rows(107, 3, v.obs, v.act, v.rew, v.next_obs, v.done);
  cr_assert_eq(o2o_replay_commit(rb, 3, err, sizeof(err)), 0);
  o2o_replay_reserve(rb, 8, &v); /* wrapped: back at row 0 */
  cr_assert_eq(v.rows, 8);
  cr_assert_eq(o2o_replay_size(rb), 10);
  float o[2];
  o2o_replay_get(rb, 9, o, NULL, NULL, NULL, NULL);
  cr_assert_eq(o[0], 109.0f);
  o2o_replay_destroy(rb);
}

Test(replay, uniform_sampling_statistics) {
  /* 20 rows in a wrapped buffer, 200000 samples: every row's count within 5 sigma of
   * the expectation and a chi-square test at a loose threshold. */
  char err[256];
  const int cap = 20, total = 200000, B = 250;
  o2o_replay *rb = o2o_replay_create(cap, 2, 1, err, sizeof(err));
  float obs[60], act[30], rew[30], next[60], done[30];
  make_rows(0, 30, obs, act, rew, next, done);
  o2o_replay_add(rb, 30, obs, act, rew, next, done); /* rows 10..29 remain */
  o2o_batch batch;
  cr_assert_eq(o2o_replay_batch_alloc(&batch, B, 2, 1, 0), 0);
  uint64_t rng;
  o2o_replay_rng_seed(&rng, 7);
  int counts[30] = {0};
  for (int it = 0; it < total / B; it++) {
    cr_assert_eq(o2o_replay_sample(rb, &rng, &batch, 0, err, sizeof(err)), 0, "%s", err);
    for (int b = 0; b < B; b++) {
      int k = (int)batch.obs[2 * b];
      cr_assert(k >= 10 && k < 30, "sampled an overwritten row %d", k);
      /* fields of one row stay together */
      cr_assert_eq(batch.act[b], -(float)k);
      cr_assert_eq(batch.rew[b], 10.0f * k);
      cr_assert_eq(batch.next_obs[2 * b], (float)k + 1);
      cr_assert_eq(batch.done[b], (float)(k % 2));
      counts[k]++;
    }
  }
  double expect = (double)total / cap, sd = sqrt(expect * (1 - 1.0 / cap)), chi2 = 0;
  for (int k = 10; k < 30; k++) {
    cr_assert(fabs(counts[k] - expect) < 5 * sd, "row %d sampled %d times, expected %.0f", k,
              counts[k], expect);
    chi2 += (counts[k] - expect) * (counts[k] - expect) / expect;
  }
  /* 19 degrees of freedom: P(chi2 > 43.8) = 0.001 */
  cr_assert(chi2 < 43.8, "chi-square %.1f too large for uniform sampling", chi2);
  o2o_replay_batch_free(&batch);
  o2o_replay_destroy(rb);
}

Test(replay, mixed_ratio_is_exact) {
  char err[256];
  o2o_replay *real = o2o_replay_create(100, 2, 1, err, sizeof(err));
  o2o_replay *sim = o2o_replay_create(100, 2, 1, err, sizeof(err));
  float obs[200], act[100], rew[100], next[200], done[100];
  make_rows(0, 50, obs, act, rew, next, done); /* real rows: k in [0, 50) */
  o2o_replay_add(real, 50, obs, act, rew, next, done);
  make_rows(1000, 50, obs, act, rew, next, done); /* sim rows: k in [1000, 1050) */
  o2o_replay_add(sim, 50, obs, act, rew, next, done);
  o2o_batch batch;
  cr_assert_eq(o2o_replay_batch_alloc(&batch, 256, 2, 1, 1), 0);
  uint64_t rng;
  o2o_replay_rng_seed(&rng, 3);
  const double ratios[] = {0.5, 0.0, 1.0, 0.25, 0.3};
  const int expect[] = {128, 0, 256, 64, 77};
  for (int r = 0; r < 5; r++) {
    cr_assert_eq(o2o_replay_mix_count(256, ratios[r]), expect[r]);
    for (int rep = 0; rep < 20; rep++) {
      cr_assert_eq(o2o_replay_sample_mixed(real, sim, ratios[r], &rng, &batch, err, sizeof(err)), 0,
                   "%s", err);
      int n_real = 0;
      for (int b = 0; b < 256; b++) {
        int from_real = batch.obs[2 * b] < 1000;
        cr_assert_eq(from_real, batch.is_real[b], "row %d: is_real flag wrong", b);
        n_real += from_real;
      }
      cr_assert_eq(n_real, expect[r], "ratio %g: %d real rows", ratios[r], n_real);
    }
  }
  cr_assert_neq(o2o_replay_sample_mixed(real, sim, 1.5, &rng, &batch, err, sizeof(err)), 0);
  o2o_replay *empty = o2o_replay_create(10, 2, 1, err, sizeof(err));
  cr_assert_neq(o2o_replay_sample_mixed(real, empty, 0.5, &rng, &batch, err, sizeof(err)), 0);
  cr_assert(strstr(err, "sim buffer") && strstr(err, "empty"), "%s", err);
  o2o_replay_destroy(empty);
  o2o_replay_batch_free(&batch);
  o2o_replay_destroy(real);
  o2o_replay_destroy(sim);
}

Test(replay, rejects_bad_sampling_requests) {
  char err[256];
  o2o_replay *rb = o2o_replay_create(4, 3, 2, err, sizeof(err));
  o2o_batch batch;
  o2o_replay_batch_alloc(&batch, 8, 3, 2, 0);
  uint64_t rng = 1;
  cr_assert_neq(o2o_replay_sample(rb, &rng, &batch, 0, err, sizeof(err)), 0);
  cr_assert(strstr(err, "empty"), "%s", err);
  o2o_replay_batch_free(&batch);
  o2o_replay_batch_alloc(&batch, 8, 4, 2, 0);
  float z[16] = {0};
  o2o_replay_add(rb, 1, z, z, z, z, NULL);
  cr_assert_neq(o2o_replay_sample(rb, &rng, &batch, 0, err, sizeof(err)), 0);
  cr_assert(strstr(err, "dims"), "%s", err);
  o2o_replay_batch_free(&batch);
  cr_assert_null(o2o_replay_create(0, 3, 2, err, sizeof(err)));
  o2o_replay_destroy(rb);
}

Test(replay, hopper_million_memory_ratio) {
  /* 1M hopper transitions: raw float32 = 1e6 * 4 * (11 + 3 + 1 + 11 + 1) = 108 MB. */
  char err[256];
  const int64_t n = 1000000;
  o2o_replay *rb = o2o_replay_create(n, 11, 3, err, sizeof(err));
  cr_assert_not_null(rb, "%s", err);
  double raw = (double)n * 4 * (11 + 3 + 1 + 11 + 1);
  double ratio = (double)o2o_replay_bytes(rb) / raw;
  cr_log_info("1M hopper replay: %zu bytes allocated, raw %.0f, ratio %.6f\n", o2o_replay_bytes(rb),
              raw, ratio);
  printf("replay memory: 1M hopper transitions allocate %zu bytes = %.6f x raw float32\n",
         o2o_replay_bytes(rb), ratio);
  cr_assert(ratio <= 1.2, "ratio %.4f", ratio);
  cr_assert(ratio >= 1.0, "allocation smaller than the data it must hold: %.4f", ratio);
  /* Fill it completely through the bulk path and read the last row back. */
  o2o_replay_view v;
  o2o_replay_reserve(rb, n, &v);
  cr_assert_eq(v.rows, n);
  for (int64_t i = 0; i < n; i++)
    v.rew[i] = (float)i;
  memset(v.obs, 0, (size_t)n * 11 * sizeof(float));
  cr_assert_eq(o2o_replay_commit(rb, n, err, sizeof(err)), 0);
  float r;
  o2o_replay_get(rb, n - 1, NULL, NULL, &r, NULL, NULL);
  cr_assert_eq(r, (float)(n - 1));
  o2o_replay_destroy(rb);
}

/* ---- optional columns and Monte-Carlo returns-to-go ---- */
Test(replay, columns_are_stored_only_when_asked_and_sampled_into_batches) {
  char err[256] = "";
  o2o_replay *plain = o2o_replay_create(4, 1, 1, err, sizeof err);
  o2o_replay *rb =
      o2o_replay_create_with(4, 1, 1, O2O_COLUMN_WEIGHT | O2O_COLUMN_MC_RETURN, err, sizeof err);
  cr_assert(plain && rb, "%s", err);
  cr_assert_eq(o2o_replay_columns(plain), 0);
  cr_assert_eq(o2o_replay_bytes(rb) - o2o_replay_bytes(plain), 2 * 4 * sizeof(float));
  cr_assert_null(o2o_replay_create_with(4, 1, 1, O2O_COLUMN_IS_REAL, err, sizeof err));
  cr_assert(strstr(err, "columns"), "%s", err);
  float obs[4] = {0, 1, 2, 3}, act[4] = {0}, rew[4] = {0, 1, 2, 3};
  o2o_replay_add(rb, 4, obs, act, rew, obs, NULL);
  o2o_replay_add(plain, 4, obs, act, rew, obs, NULL);
  float w, g;
  cr_assert_eq(o2o_replay_get_columns(rb, 2, &w, &g), 0);
  cr_assert(w == 1.0f && g == 0.0f, "defaults weight 1, mc_return 0: %g %g", w, g);
  cr_assert_eq(o2o_replay_get_columns(plain, 0, &w, NULL), -1);
  /* returns of the rewards 0 1 2 3, one episode ending in a timeout at row 3, gamma 0.5 */
  uint8_t term[4] = {0, 0, 0, 0}, tout[4] = {0, 0, 0, 1};
  o2o_mc_opts o = {.gamma = 0.5};
  cr_assert_eq(o2o_replay_fill_mc_returns(rb, 0, 4, term, tout, &o, err, sizeof err), 0, "%s", err);
  o2o_batch b;
  cr_assert_eq(o2o_replay_batch_alloc_with(&b, 16, 1, 1, O2O_COLUMN_MC_RETURN | O2O_COLUMN_IS_REAL),
               0);
  cr_assert(b.mc_return && !b.weight && b.is_real);
  uint64_t rng;
  o2o_replay_rng_seed(&rng, 3);
  cr_assert_eq(o2o_replay_sample(rb, &rng, &b, 1, err, sizeof err), 0, "%s", err);
  static const float want[4] = {1.375f, 2.75f, 3.5f, 3.0f}; /* G = r + 0.5 G next */
  for (int i = 0; i < 16; i++)
    cr_assert_eq(b.mc_return[i], want[(int)b.obs[i]], "row of obs %g: %g", b.obs[i],
                 b.mc_return[i]);
  /* a batch asking for a column the buffer lacks is refused */
  cr_assert_eq(o2o_replay_sample(plain, &rng, &b, 1, err, sizeof err), -1);
  cr_assert(strstr(err, "mc_return"), "%s", err);
  o2o_replay_batch_free(&b);
  o2o_replay_destroy(rb);
  o2o_replay_destroy(plain);
}

Test(replay, mc_returns_follow_episode_ends_and_the_official_rules) {
  char err[256] = "";
  /* two episodes: a terminal at row 2, then a truncation (timeout) at row 5; a trailing row 6 */
  float rew[7] = {1, 2, 3, 4, 5, 6, 7}, g[7];
  uint8_t term[7] = {0, 0, 1, 0, 0, 0, 0}, tout[7] = {0, 0, 0, 0, 0, 1, 0};
  o2o_mc_opts o = {.gamma = 0.9};
  cr_assert_eq(o2o_mc_returns(7, rew, term, tout, &o, g, err, sizeof err), 0, "%s", err);
  double e0 = 3, e1 = 6; /* truncated: tail 0, no bootstrap (the official code's default) */
  double want[7] = {
      1 + 0.9 * (2 + 0.9 * e0), 2 + 0.9 * e0, e0, 4 + 0.9 * (5 + 0.9 * e1), 5 + 0.9 * e1, e1, 7};
  for (int i = 0; i < 7; i++)
    cr_assert_float_eq(g[i], want[i], 1e-5, "row %d: %g vs %g", i, g[i], want[i]);
  /* infinite horizon: a truncated episode goes on with r_T / (1 - gamma); terminals do not */
  o.infinite_horizon = 1;
  cr_assert_eq(o2o_mc_returns(7, rew, term, tout, &o, g, err, sizeof err), 0, "%s", err);
  cr_assert_float_eq(g[2], 3.0, 1e-5);
  cr_assert_float_eq(g[5], 60.0, 1e-4);
  cr_assert_float_eq(g[4], 5 + 0.9 * 60.0, 1e-4);
  /* sparse rule: an episode of only failure rewards gets r_neg / (1 - gamma) everywhere */
  float srew[5] = {-1, -1, -1, -1, 0};
  uint8_t st[5] = {0, 0, 1, 0, 1};
  o = (o2o_mc_opts){.gamma = 0.9, .sparse_reward = 1, .reward_neg = -1};
  cr_assert_eq(o2o_mc_returns(5, srew, st, NULL, &o, g, err, sizeof err), 0, "%s", err);
  for (int i = 0; i < 3; i++)
    cr_assert_float_eq(g[i], -10.0, 1e-5, "row %d: %g", i, g[i]);
  cr_assert_float_eq(g[3], -1.0, 1e-6); /* that episode reached a 0: plain discounted sum */
  o.sparse_reward = 0;
  cr_assert_eq(o2o_mc_returns(5, srew, st, NULL, &o, g, err, sizeof err), 0, "%s", err);
  cr_assert_float_eq(g[0], -1 - 0.9 - 0.81, 1e-5);
  /* no boundaries at all: refused, naming the problem */
  uint8_t none[3] = {0, 0, 0};
  cr_assert_eq(o2o_mc_returns(3, rew, none, none, &o, g, err, sizeof err), -1);
  cr_assert(strstr(err, "no episode boundaries"), "%s", err);
  o.gamma = 1.0;
  o.infinite_horizon = 1;
  cr_assert_eq(o2o_mc_returns(7, rew, term, tout, &o, g, err, sizeof err), -1);
  cr_assert(strstr(err, "gamma"), "%s", err);
}
