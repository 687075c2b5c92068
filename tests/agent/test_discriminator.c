/* test_discriminator.c: H2O's D_sa / D_sas (learn/discriminator.h).
 * - the loss against an independent double-precision forward written here (golden), and the
 *   analytic gradients of both networks against central differences of that reference
 *   (so D_sa's gradient must hold the sas term: l_sas = D_sas + l_sa);
 * - class order: trained on real s' = s + a vs sim s' = s + a + 0.5, log w is positive on
 *   real transitions and negative on sim ones, and swapping the two inverts it;
 * - identical dynamics: after training mean |log w| < 0.1 and u stays near its floor;
 * - tensors round trip bit-exactly. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "learn/discriminator.h"
#include "nn/nn.h"
#include "replay/replay.h"

enum { O = 2, A = 1 };

/* ---- independent reference: double forward of an MLP in nn.h's parameter layout ---- */
static void ref_forward(const float *p, int in, int hidden, int layers, const double *x,
                        double out[2]) {
  o2o_nn_mlp m;
  int dims[O2O_NN_MAX_LAYERS + 1] = {in};
  for (int l = 1; l <= layers; l++)
    dims[l] = hidden;
  dims[layers + 1] = 2;
  cr_assert_eq(o2o_nn_mlp_init(&m, 1, layers + 1, dims, 0), 0);
  double h[2][512];
  memcpy(h[0], x, sizeof(double) * in);
  int cur = 0;
  for (int l = 0; l <= layers; l++) {
    const float *W = p + m.w_off[l], *b = p + m.b_off[l];
    for (int o = 0; o < dims[l + 1]; o++) {
      double z = b[o];
      for (int i = 0; i < dims[l]; i++)
        z += (double)W[o * dims[l] + i] * h[cur][i];
      h[1 - cur][o] = l < layers ? (z > 0 ? z : 0) : z;
    }
    cur = 1 - cur;
  }
  out[0] = 2 * tanh(h[cur][0]);
  out[1] = 2 * tanh(h[cur][1]);
}

static double lse2(double a, double b) {
  double m = a > b ? a : b;
  return m + log(exp(a - m) + exp(b - m));
}

/* L_sa + L_sas over rows (real first, then sim) given their (already noisy) inputs */
static double ref_loss(o2o_disc *d, int hidden, int layers, const double *x, int B) {
  const float *psa = o2o_disc_params(d, 0, NULL), *psas = o2o_disc_params(d, 1, NULL);
  double L = 0;
  for (int r = 0; r < 2 * B; r++) {
    const double *xs = x + (size_t)r * (2 * O + A);
    double lsa[2], dsas[2];
    ref_forward(psa, O + A, hidden, layers, xs, lsa);
    ref_forward(psas, 2 * O + A, hidden, layers, xs, dsas);
    int c = r < B ? 0 : 1;
    L += lse2(lsa[0], lsa[1]) - lsa[c];
    L += lse2(dsas[0] + lsa[0], dsas[1] + lsa[1]) - (dsas[c] + lsa[c]);
  }
  return L / B;
}

static o2o_disc *small(int hidden, int batch) {
  o2o_disc_config c;
  o2o_disc_config_default(&c);
  c.hidden = hidden;
  c.batch_size = batch;
  c.gap_samples = 4;
  char err[256] = "";
  o2o_disc *d = o2o_disc_create(O, A, &c, 5, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  return d;
}

/* s' = s + a + shift, s and a uniform in [-1, 1] */
static void transitions(o2o_batch *b, int n, float shift, uint64_t seed) {
  cr_assert_eq(o2o_replay_batch_alloc(b, n, O, A, 0), 0);
  o2o_nn_rng r;
  o2o_nn_rng_seed(&r, seed);
  for (int i = 0; i < n; i++) {
    float a = 2 * o2o_nn_rng_uniform(&r) - 1;
    b->act[i] = a;
    for (int j = 0; j < O; j++) {
      b->obs[i * O + j] = 2 * o2o_nn_rng_uniform(&r) - 1;
      b->next_obs[i * O + j] = b->obs[i * O + j] + a + shift;
    }
  }
}

Test(discriminator, loss_and_gradients_match_an_independent_double_reference) {
  const int H = 6, B = 3;
  o2o_disc *d = small(H, B);
  o2o_batch real, sim;
  transitions(&real, B, 0.0f, 1);
  transitions(&sim, B, 0.4f, 2);
  char err[256] = "";
  o2o_disc_test_freeze(d, 1); /* no noise draw (the buffer stays zero), no Adam step */
  o2o_disc_stats st;
  cr_assert_eq(o2o_disc_train(d, &real, &sim, &st, err, sizeof err), 0, "%s", err);
  /* the frozen noise is zero (never drawn): inputs are the clean rows */
  double x[2 * 3 * (2 * O + A)];
  for (int r = 0; r < 2 * B; r++) {
    const o2o_batch *b = r < B ? &real : &sim;
    int i = r % B;
    double *xs = x + r * (2 * O + A);
    for (int j = 0; j < O; j++) {
      xs[j] = b->obs[i * O + j];
      xs[O + A + j] = b->next_obs[i * O + j];
    }
    xs[O] = b->act[i];
  }
  double ref = ref_loss(d, H, 2, x, B);
  cr_assert_float_eq(o2o_disc_last_loss(d), ref, 1e-5 * (1 + fabs(ref)), "loss %g vs ref %g",
                     o2o_disc_last_loss(d), ref);
  cr_assert_float_eq(st.loss_sa + st.loss_sas, ref, 1e-5 * (1 + fabs(ref)));
  int bad = 0, checked = 0;
  for (int net = 0; net < 2; net++) {
    size_t n;
    float *p = o2o_disc_params(d, net, &n);
    const float *g = o2o_disc_grads(d, net);
    for (size_t i = 0; i < n; i++) {
      const float keep = p[i], h = 1e-3f;
      p[i] = keep + h;
      double lp = ref_loss(d, H, 2, x, B);
      p[i] = keep - h;
      double lm = ref_loss(d, H, 2, x, B);
      p[i] = keep;
      double fd = (lp - lm) / (2.0 * h);
      checked++;
      if (fabs(fd - g[i]) > 2e-3 * (1 + fabs(fd))) {
        if (bad < 5) cr_log_error("net %d param %zu: analytic %g, fd %g", net, i, g[i], fd);
        bad++;
      }
    }
  }
  cr_assert_eq(bad, 0, "%d of %d gradients off", bad, checked);
  o2o_replay_batch_free(&real);
  o2o_replay_batch_free(&sim);
  o2o_disc_destroy(d);
}

static void train(o2o_disc *d, float real_shift, float sim_shift, int steps, int B,
                  o2o_disc_stats *st) {
  char err[256] = "";
  for (int s = 0; s < steps; s++) {
    o2o_batch real, sim;
    transitions(&real, B, real_shift, 100 + 2 * s);
    transitions(&sim, B, sim_shift, 101 + 2 * s);
    cr_assert_eq(o2o_disc_train(d, &real, &sim, st, err, sizeof err), 0, "%s", err);
    o2o_replay_batch_free(&real);
    o2o_replay_batch_free(&sim);
  }
}

static double mean_log_w(o2o_disc *d, float shift, double *mean_abs) {
  o2o_batch b;
  transitions(&b, 200, shift, 7);
  float lw[200];
  o2o_disc_log_ratio(d, b.obs, b.act, b.next_obs, 200, lw);
  double s = 0, sa = 0;
  for (int i = 0; i < 200; i++) {
    s += lw[i];
    sa += fabs(lw[i]);
  }
  if (mean_abs) *mean_abs = sa / 200;
  o2o_replay_batch_free(&b);
  return s / 200;
}

Test(discriminator, real_and_sim_are_told_apart_in_the_right_order) {
  o2o_disc *d = small(32, 64), *swapped = small(32, 64);
  o2o_disc_stats st;
  train(d, 0.0f, 0.5f, 400, 64, &st);
  /* chance level of each pair loss is log 4 = 1.386; (s, a) alone carry no signal here */
  cr_assert_lt(st.loss_sas, 1.0, "sas loss %g", st.loss_sas);
  cr_assert_gt(st.loss_sa, 1.3, "sa loss %g: (s, a) have one distribution in both", st.loss_sa);
  double on_real = mean_log_w(d, 0.0f, NULL), on_sim = mean_log_w(d, 0.5f, NULL);
  cr_assert_gt(on_real, 0.5, "log w on real transitions %g", on_real);
  cr_assert_eq(mean_log_w(d, 0.0f, NULL), on_real, "w is computed without training noise");
  cr_assert_lt(on_sim, -0.5, "log w on sim transitions %g", on_sim);
  train(swapped, 0.5f, 0.0f, 400, 64, &st); /* the same data with the classes swapped */
  cr_assert_lt(mean_log_w(swapped, 0.0f, NULL), -0.5);
  cr_assert_gt(mean_log_w(swapped, 0.5f, NULL), 0.5);

  /* u: larger on sim transitions (where sim and real disagree), never below its floor */
  o2o_batch b;
  transitions(&b, 50, 0.5f, 9);
  double u_sim[50], u_real[50];
  float std[O] = {0.05f, 0.05f};
  o2o_disc_gap(d, b.obs, b.act, b.next_obs, 50, std, u_sim);
  for (int i = 0; i < 50; i++)
    b.next_obs[i * O] -= 0.5f, b.next_obs[i * O + 1] -= 0.5f;
  o2o_disc_gap(d, b.obs, b.act, b.next_obs, 50, std, u_real);
  double ms = 0, mr = 0;
  for (int i = 0; i < 50; i++) {
    cr_assert(u_sim[i] >= 1e-45 && u_sim[i] <= 10.0 && u_real[i] >= 1e-45);
    ms += u_sim[i] / 50;
    mr += u_real[i] / 50;
  }
  cr_assert_gt(ms, mr + 0.5, "u on sim %g vs real %g", ms, mr);
  o2o_replay_batch_free(&b);
  o2o_disc_destroy(d);
  o2o_disc_destroy(swapped);
}

Test(discriminator, identical_dynamics_give_a_ratio_near_one) {
  o2o_disc *d = small(32, 64);
  o2o_disc_stats st;
  train(d, 0.2f, 0.2f, 300, 64, &st);
  double mean_abs;
  mean_log_w(d, 0.2f, &mean_abs);
  cr_assert_lt(mean_abs, 0.1, "mean |log w| = %g with no gap", mean_abs);
  cr_assert_gt(st.loss_sas, 1.3, "sas loss %g: nothing to learn, it stays near log 4", st.loss_sas);
  o2o_disc_destroy(d);
}

Test(discriminator, tensors_round_trip_and_refuse_garbage) {
  o2o_disc *a = small(8, 16), *b = small(8, 16);
  o2o_disc_stats st;
  train(a, 0.0f, 0.5f, 5, 16, &st);
  const o2o_tensor_ref *ta, *tb;
  int na = o2o_disc_tensors(a, &ta), nb = o2o_disc_tensors(b, &tb);
  cr_assert_eq(na, nb);
  cr_assert_gt(na, 10);
  for (int i = 0; i < na; i++) {
    cr_assert_str_eq(ta[i].name, tb[i].name);
    memcpy(tb[i].data, ta[i].data, sizeof(float) * (size_t)o2o_tensor_numel(&ta[i]));
  }
  char err[256] = "";
  cr_assert_eq(o2o_disc_tensors_loaded(b, err, sizeof err), 0, "%s", err);
  train(a, 0.0f, 0.5f, 1, 16, &st);
  train(b, 0.0f, 0.5f, 1, 16, &st);
  size_t n;
  float *pa = o2o_disc_params(a, 1, &n), *pb = o2o_disc_params(b, 1, NULL);
  cr_assert_eq(memcmp(pa, pb, n * sizeof(float)), 0, "resumed training is bit-exact");
  nb = o2o_disc_tensors(b, &tb);
  tb[nb - 1].data[0] = 0.5f; /* rng word not an integer */
  cr_assert_neq(o2o_disc_tensors_loaded(b, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "disc.rng"), "%s", err);
  o2o_disc_destroy(a);
  o2o_disc_destroy(b);
}

Test(discriminator, bad_batches_and_configs_are_refused) {
  char err[256] = "";
  o2o_disc_config c;
  o2o_disc_config_default(&c);
  c.gap_samples = 0;
  cr_assert_null(o2o_disc_create(O, A, &c, 1, err, sizeof err));
  cr_assert_not_null(strstr(err, "gap_samples"), "%s", err);
  o2o_disc *d = small(8, 4);
  o2o_batch real, sim;
  transitions(&real, 4, 0.0f, 1);
  transitions(&sim, 3, 0.0f, 2);
  cr_assert_neq(o2o_disc_train(d, &real, &sim, NULL, err, sizeof err), 0);
  o2o_replay_batch_free(&sim);
  transitions(&sim, 4, 0.0f, 2);
  sim.next_obs[3] = NAN;
  cr_assert_neq(o2o_disc_train(d, &real, &sim, NULL, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "not finite"), "%s", err);
  o2o_replay_batch_free(&real);
  o2o_replay_batch_free(&sim);
  o2o_disc_destroy(d);
}
