/* test_h2o.c: H2O's critic terms (learn/h2o_terms.h) against their formulas: the penalty on a
 * hand-computed batch, the uniform-omega identity P = LSE(Q) - log B - mean_real Q, the gap
 * weights in double precision down to u's 1e-45 floor, the clamp, and the gradient against
 * central differences. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "learn/h2o_terms.h"
#include "learn/sac_internal.h"
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
