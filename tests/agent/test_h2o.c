/* test_h2o.c: H2O's critic terms (learn/h2o_terms.h) against their formulas: the penalty on a
 * hand-computed batch, the uniform-omega identity P = LSE(Q) - log B - mean_real Q, the gap
 * weights in double precision down to u's 1e-45 floor, the clamp, and the gradient against
 * central differences. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "learn/h2o.h"
#include "learn/h2o_terms.h"
#include "learn/sac_internal.h"
#include "nn/nn.h"
#include "replay/replay.h"

Test(h2o, penalty_of_a_hand_computed_batch) {
  /* log(0.25 e + 0.75 e^2) - (0.5 + 1.5) / 2, worked out by hand (python3 math) */
  float qs[2] = {1.0f, 2.0f}, qr[2] = {0.5f, 1.5f}, gs[2], gr[2];
  double lo[2] = {log(0.25), log(0.75)}, diff;
  double p = o2o_h2o_penalty(qs, 1, 2, qr, 1, 2, lo, 1.0, 1000.0, &diff, gs, gr);
  cr_assert_float_eq(p, 0.8279889392428696, 1e-6);
  cr_assert_float_eq(diff, p, 1e-12);
  cr_assert_float_eq(gs[0], 0.10923177257303593, 1e-6);
  cr_assert_float_eq(gs[1], 0.890768227426964, 1e-6);
  cr_assert_float_eq(gr[0], -0.5, 1e-7);
  cr_assert_float_eq(gr[1], -0.5, 1e-7);
}

Test(h2o, uniform_omega_gives_lse_minus_log_b_minus_mean_real) {
  enum { B = 5 };
  float qs[B] = {0.3f, -1.2f, 2.5f, 0.0f, 1.1f}, qr[3] = {0.7f, -0.4f, 2.0f};
  double u[B] = {1e-45, 1e-45, 1e-45, 1e-45, 1e-45}, lo[B];
  o2o_h2o_log_omega(u, B, lo); /* every u at its floor: omega uniform */
  double lse = 0;
  for (int i = 0; i < B; i++) {
    cr_assert_float_eq(lo[i], -log((double)B), 1e-12, "log omega %d = %g", i, lo[i]);
    lse += exp(qs[i]);
  }
  double want = log(lse) - log((double)B) - (0.7 + -0.4 + 2.0) / 3.0;
  double p = o2o_h2o_penalty(qs, 1, B, qr, 1, 3, lo, 1.0, 1000.0, NULL, NULL, NULL);
  cr_assert_float_eq(p, want, 1e-6, "%g vs %g", p, want);
}

Test(h2o, log_omega_is_exact_across_the_float32_subnormal_range) {
  double u[3] = {1e-45, 2e-45, 10.0}, lo[3];
  o2o_h2o_log_omega(u, 3, lo);
  cr_assert(isfinite(lo[0]) && isfinite(lo[1]));
  cr_assert_float_eq(lo[1] - lo[0], log(2.0), 1e-9);
  cr_assert_float_eq(exp(lo[0]) + exp(lo[1]) + exp(lo[2]), 1.0, 1e-12);
}

Test(h2o, clipped_difference_has_no_gradient) {
  float qs[2] = {3000.0f, 2990.0f}, qr[1] = {0.0f}, gs[2] = {9, 9}, gr[1] = {9};
  double lo[2] = {log(0.5), log(0.5)}, diff;
  double p = o2o_h2o_penalty(qs, 1, 2, qr, 1, 1, lo, 1.0, 1000.0, &diff, gs, gr);
  cr_assert_eq(p, 1000.0);
  cr_assert_gt(diff, 1000.0);
  cr_assert(gs[0] == 0 && gs[1] == 0 && gr[0] == 0);
  qs[0] = qs[1] = -3000.0f;
  cr_assert_eq(o2o_h2o_penalty(qs, 1, 2, qr, 1, 1, lo, 1.0, 1000.0, NULL, gs, gr), -1000.0);
}

Test(h2o, gradient_matches_central_differences_with_strides) {
  enum { NS = 4, NR = 3, LD = 2 }; /* critic outputs interleaved, as [B][N] with N = 2 */
  float qs[NS * LD] = {0.5f, 9, -0.3f, 9, 1.7f, 9, 0.1f, 9},
                qr[NR * LD] = {0.2f, 9, 1.0f, 9, -2.0f, 9};
  double u[NS] = {0.3, 2.0, 1e-45, 0.7}, lo[NS];
  o2o_h2o_log_omega(u, NS, lo);
  for (int t = 0; t < 2; t++) {
    double T = t ? 2.0 : 1.0;
    float gs[NS], gr[NR];
    o2o_h2o_penalty(qs, LD, NS, qr, LD, NR, lo, T, 1000.0, NULL, gs, gr);
    for (int i = 0; i < NS + NR; i++) {
      float *q = i < NS ? &qs[i * LD] : &qr[(i - NS) * LD], keep = *q, h = 1e-2f;
      *q = keep + h;
      double lp = o2o_h2o_penalty(qs, LD, NS, qr, LD, NR, lo, T, 1000.0, NULL, NULL, NULL);
      *q = keep - h;
      double lm = o2o_h2o_penalty(qs, LD, NS, qr, LD, NR, lo, T, 1000.0, NULL, NULL, NULL);
      *q = keep;
      double fd = (lp - lm) / (2 * h), g = i < NS ? gs[i] : gr[i - NS];
      cr_assert_float_eq(g, fd, 1e-3, "T %g row %d: analytic %g, fd %g", T, i, g, fd);
    }
  }
}

/* H2O weights the sim rows' Bellman errors through batch->weight: SAC's critic loss becomes
 * sum_k mean_i weight_i (Q_k - y_i)^2. Weight 1 everywhere = no weight; doubling one row's
 * weight adds exactly that row's squared error once more. */
Test(h2o, sac_critic_loss_takes_row_weights) {
  enum { O = 3, A = 2, B = 4 };
  o2o_sac_config c;
  o2o_sac_config_default(&c);
  c.hidden = 8;
  c.batch_size = B;
  o2o_sac *s = o2o_sac_create(O, A, &c, 3);
  cr_assert_not_null(s);
  o2o_batch b;
  cr_assert_eq(o2o_replay_batch_alloc(&b, B, O, A, 0), 0);
  for (int i = 0; i < B * O; i++)
    b.obs[i] = 0.1f * (float)(i % 7) - 0.3f, b.next_obs[i] = 0.05f * (float)(i % 5);
  for (int i = 0; i < B * A; i++)
    b.act[i] = 0.2f * (float)(i % 3) - 0.2f;
  for (int i = 0; i < B; i++)
    b.rew[i] = (float)i, b.done[i] = 0;
  char err[256] = "";
  o2o_sac_stats st0, st1, st2;
  cr_assert_eq(o2o_sac_compute_grads(s, &b, &st0, err, sizeof err), 0, "%s", err);
  double base = s->loss[0];
  s->reuse_noise = 1;
  float w[B] = {1, 1, 1, 1};
  b.weight = w;
  cr_assert_eq(o2o_sac_compute_grads(s, &b, &st1, err, sizeof err), 0, "%s", err);
  cr_assert_float_eq(s->loss[0], base, 1e-9 * (1 + base));
  /* per-row squared errors: loss with row r doubled minus the base = that row's term */
  double sum = 0;
  for (int r = 0; r < B; r++) {
    w[r] = 2;
    cr_assert_eq(o2o_sac_compute_grads(s, &b, &st2, err, sizeof err), 0, "%s", err);
    double row = s->loss[0] - base;
    cr_assert_gt(row, 0.0, "row %d adds its own squared error", r);
    sum += row;
    w[r] = 1;
  }
  cr_assert_float_eq(sum, base, 1e-5 * (1 + base), "the rows' terms add up to the loss");
  w[1] = NAN;
  cr_assert_neq(o2o_sac_compute_grads(s, &b, &st2, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "weight"), "%s", err);
  b.weight = NULL;
  o2o_replay_batch_free(&b);
  o2o_sac_destroy(s);
}

/* ---- the H2O learner (learn/h2o.h) ---- */
enum { HO = 3, HA = 2 };

static o2o_h2o_config tiny_h2o(void) {
  o2o_h2o_config c;
  o2o_h2o_config_default(&c);
  c.sac.hidden = 8;
  c.real_batch = c.sim_batch = 3;
  c.sac.batch_size = 6;
  c.disc_hidden = 8;
  c.disc_batch = 2;
  c.gap_samples = 2;
  c.beta = 0.5f; /* large, so the penalty's share of the gradient is visible */
  return c;
}

/* rows: real then sim in blocks of nr / ns; s' = s + 0.1 a (+ shift on sim rows) */
static void h2o_batch(o2o_batch *b, int nr, int ns, float shift, uint64_t seed) {
  cr_assert_eq(o2o_replay_batch_alloc(b, nr + ns, HO, HA, 1), 0);
  o2o_nn_rng r;
  o2o_nn_rng_seed(&r, seed);
  for (int i = 0; i < nr + ns; i++) {
    b->is_real[i] = i < nr;
    for (int j = 0; j < HA; j++)
      b->act[i * HA + j] = 2 * o2o_nn_rng_uniform(&r) - 1;
    double rew = 0;
    for (int j = 0; j < HO; j++) {
      float x = 2 * o2o_nn_rng_uniform(&r) - 1;
      b->obs[i * HO + j] = x;
      b->next_obs[i * HO + j] = x + 0.1f * b->act[i * HA + j % HA] + (i < nr ? 0.0f : shift);
      rew -= fabs(x);
    }
    b->rew[i] = (float)rew;
    b->done[i] = 0;
  }
}

Test(h2o, critic_gradient_with_weights_and_penalty_matches_central_differences) {
  o2o_h2o_config c = tiny_h2o();
  char err[256] = "";
  void *h = o2o_algo_h2o.create(HO, HA, &c, 4, err, sizeof err);
  cr_assert_not_null(h, "%s", err);
  float mean[HO] = {0}, std[HO] = {0.5f, 0.5f, 0.5f};
  cr_assert_eq(o2o_algo_h2o.set_data_stats(h, mean, std, err, sizeof err), 0);
  o2o_batch b;
  h2o_batch(&b, 5, 5, 0.3f, 8);
  o2o_sac *s = o2o_h2o_test_sac(h);
  double base = o2o_h2o_test_critic_loss(h, &b, 1, err, sizeof err);
  cr_assert(isfinite(base), "%s", err);
  size_t P = s->critic_m.num_params;
  float *g = malloc(sizeof(float) * P);
  memcpy(g, s->critic_g, sizeof(float) * P);
  int bad = 0, checked = 0;
  for (size_t i = 0; i < P; i += 3) {
    float keep = s->critic_p[i], hh = 1e-2f;
    s->critic_p[i] = keep + hh;
    double lp = o2o_h2o_test_critic_loss(h, &b, 0, err, sizeof err);
    s->critic_p[i] = keep - hh;
    double lm = o2o_h2o_test_critic_loss(h, &b, 0, err, sizeof err);
    s->critic_p[i] = keep;
    double fd = (lp - lm) / (2 * hh);
    checked++;
    if (fabs(fd - g[i]) > 2e-2 * (1 + fabs(fd))) bad++;
  }
  cr_assert_leq(bad, checked / 20, "%d of %d critic gradients off (ReLU kinks allow a few)", bad,
                checked);
  /* the penalty is part of it: the same batch without it gives another gradient */
  void *h0;
  c.beta = 0.0f;
  h0 = o2o_algo_h2o.create(HO, HA, &c, 4, err, sizeof err);
  o2o_algo_h2o.set_data_stats(h0, mean, std, err, sizeof err);
  o2o_h2o_test_critic_loss(h0, &b, 1, err, sizeof err);
  double diff = 0;
  for (size_t i = 0; i < P; i++)
    diff += fabs(o2o_h2o_test_sac(h0)->critic_g[i] - g[i]);
  cr_assert_gt(diff, 1e-3, "beta 0.5 changes the critic gradient (%g)", diff);
  free(g);
  o2o_replay_batch_free(&b);
  o2o_algo_h2o.destroy(h);
  o2o_algo_h2o.destroy(h0);
}

Test(h2o, sim_rows_are_weighted_by_the_clipped_ratio_itself) {
  o2o_h2o_config c = tiny_h2o();
  char err[256] = "";
  float mean[HO] = {0}, std[HO] = {0.5f, 0.5f, 0.5f};
  o2o_batch b;
  h2o_batch(&b, 5, 5, 0.3f, 8);
  for (int pass = 0; pass < 2; pass++) {
    /* pass 0: the default clip [1e-5, 1]; pass 1: clip [0.25, 0.25] pins every w to 0.25 */
    if (pass) c.w_min = c.w_max = 0.25f;
    void *h = o2o_algo_h2o.create(HO, HA, &c, 4, err, sizeof err);
    cr_assert_not_null(h, "%s", err);
    o2o_algo_h2o.set_data_stats(h, mean, std, err, sizeof err);
    cr_assert(isfinite(o2o_h2o_test_critic_loss(h, &b, 1, err, sizeof err)), "%s", err);
    const float *w = o2o_h2o_test_weights(h);
    for (int j = 0; j < 3; j++)
      cr_assert_eq(w[j], 2.0f, "real row %d weight %g", j, w[j]);
    for (int i = 3; i < 6; i++) {
      if (pass)
        cr_assert_float_eq(w[i], 0.5f, 1e-7f, "sim row %d: 2 x 0.25, not 2 sqrt(0.25)", i);
      else
        cr_assert(w[i] >= 2e-5f && w[i] <= 2.0f, "sim row %d weight %g outside 2 [1e-5, 1]", i,
                  w[i]);
    }
    o2o_algo_h2o.destroy(h);
  }
  o2o_replay_batch_free(&b);
}

/* Train the learner on toy data; returns its stats after the last update. */
static o2o_learner_stats train_h2o(float shift, int updates) {
  o2o_h2o_config c;
  o2o_h2o_config_default(&c);
  c.sac.hidden = 32;
  c.disc_hidden = 32;
  c.real_batch = c.sim_batch = 32;
  c.sac.batch_size = 64;
  c.disc_batch = 64;
  char err[256] = "";
  o2o_learner *l = o2o_learner_create(&o2o_algo_h2o, HO, HA, &c, NULL, NULL, 2, err, sizeof err);
  cr_assert_not_null(l, "%s", err);
  float mean[HO] = {0}, std[HO] = {0.3f, 0.3f, 0.3f};
  cr_assert_eq(o2o_learner_set_data_stats(l, mean, std, err, sizeof err), 0, "%s", err);
  cr_assert_float_eq(o2o_learner_real_fraction(l), 0.5, 1e-12);
  o2o_learner_stats st = {0};
  for (int u = 0; u < updates; u++) {
    o2o_batch b;
    h2o_batch(&b, 96, 96, shift, 1000 + u);
    cr_assert_eq(o2o_learner_update(l, &b, &st, err, sizeof err), 0, "%s", err);
    o2o_replay_batch_free(&b);
  }
  o2o_learner_destroy(l);
  return st;
}

Test(h2o, no_gap_gives_uniform_weights_and_a_gap_down_weights_sim) {
  o2o_learner_stats same = train_h2o(0.0f, 300), gap = train_h2o(0.4f, 300);
  for (int i = 0; i < same.count; i++)
    cr_log_info("%s: same %g gap %g", same.names[i], same.values[i], gap.values[i]);
  double lw = o2o_learner_stats_get(&same, "log_w_mean");
  cr_assert_lt(fabs(lw), 0.1, "no gap: mean log w %g", lw);
  /* u ~ 0: a tiny KL estimate. (omega = u / sum u is NOT near uniform here, as measured: the
   * normalisation of numbers near 0 keeps their noise, omega_std 0.039 vs mean 1/32; the
   * penalty it weights stays small, see penalty_diff.) */
  cr_assert_lt(o2o_learner_stats_get(&same, "u_mean"), 0.1);
  cr_assert_lt(o2o_learner_stats_get(&same, "penalty_diff"),
               o2o_learner_stats_get(&gap, "penalty_diff"));
  cr_assert_gt(o2o_learner_stats_get(&same, "disc_sas_loss"), 1.3);
  cr_assert_lt(o2o_learner_stats_get(&gap, "disc_sas_loss"), 1.0);
  cr_assert_gt(o2o_learner_stats_get(&same, "sqrt_is_ratio"), 0.9, "no gap: w near 1");
  cr_assert_lt(o2o_learner_stats_get(&gap, "sqrt_is_ratio"), 0.7, "sim rows are down-weighted");
  cr_assert_gt(o2o_learner_stats_get(&gap, "u_mean"), o2o_learner_stats_get(&same, "u_mean") + 0.5);
  cr_assert(isfinite(o2o_learner_stats_get(&gap, "penalty_diff")));
}

Test(h2o, refuses_batches_without_the_real_mix_or_the_dataset_std) {
  o2o_h2o_config c = tiny_h2o();
  char err[256] = "";
  o2o_learner *l = o2o_learner_create(&o2o_algo_h2o, HO, HA, &c, NULL, NULL, 2, err, sizeof err);
  cr_assert_not_null(l, "%s", err);
  o2o_batch b;
  h2o_batch(&b, 5, 5, 0.0f, 1);
  cr_assert_neq(o2o_learner_update(l, &b, NULL, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "state std"), "%s", err);
  float mean[HO] = {0}, std[HO] = {1, 1, 1};
  o2o_learner_set_data_stats(l, mean, std, err, sizeof err);
  b.is_real[0] = 0; /* 4 real + 6 sim: the split does not fit */
  cr_assert_neq(o2o_learner_update(l, &b, NULL, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "4 real and 6 sim"), "%s", err);
  uint8_t *keep = b.is_real;
  b.is_real = NULL;
  cr_assert_neq(o2o_learner_update(l, &b, NULL, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "is_real"), "%s", err);
  b.is_real = keep;
  c.sac.batch_size = 7;
  cr_assert_null(o2o_learner_create(&o2o_algo_h2o, HO, HA, &c, NULL, NULL, 2, err, sizeof err));
  cr_assert_not_null(strstr(err, "--batch-size 7"), "%s", err);
  o2o_replay_batch_free(&b);
  o2o_learner_destroy(l);
}

/* DARC mode: no weights, no penalty; after darc_warmup updates the sim rows' rewards get
 * delta_r = log w, which changes the TD targets and so the critic loss. */
Test(h2o, darc_adds_log_w_to_sim_rewards_after_its_warmup) {
  o2o_h2o_config c = tiny_h2o();
  c.darc = 1;
  char err[256] = "";
  float mean[HO] = {0}, std[HO] = {0.5f, 0.5f, 0.5f};
  o2o_batch b;
  h2o_batch(&b, 5, 5, 0.3f, 8);
  double loss[2];
  for (int k = 0; k < 2; k++) {
    c.darc_warmup = k ? 0 : 1000000; /* k = 0: still warming up */
    void *h = o2o_algo_h2o.create(HO, HA, &c, 4, err, sizeof err);
    cr_assert_not_null(h, "%s", err);
    o2o_algo_h2o.set_data_stats(h, mean, std, err, sizeof err);
    loss[k] = o2o_h2o_test_critic_loss(h, &b, 1, err, sizeof err);
    cr_assert(isfinite(loss[k]), "%s", err);
    const float *w = o2o_h2o_test_weights(h);
    for (int i = 0; i < 6; i++)
      cr_assert_eq(w[i], 1.0f, "DARC weights no row (row %d: %g)", i, w[i]);
    o2o_algo_h2o.destroy(h);
  }
  cr_assert_gt(fabs(loss[1] - loss[0]), 1e-6, "delta_r changes the targets (%g vs %g)", loss[0],
               loss[1]);
  o2o_replay_batch_free(&b);
}
