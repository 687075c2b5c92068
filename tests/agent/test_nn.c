/* test_nn.c: the nn core against finite differences and naive references: Linear, ReLU,
 * LayerNorm, MLP ensembles (parameter and input gradients, row subsets), the tanh-Gaussian
 * head, Adam, Polyak, the non-finite finder. The finite-difference checker itself is shown
 * to fail on a deliberately wrong gradient. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/blas_setup.h"
#include "nn/nn.h"
#include "nn/tanh_gaussian.h"

/* In a constructor, before Criterion starts its workers: a re-exec (OpenBLAS trap) then
 * restarts the whole test program, and the workers inherit the chosen kernel. */
__attribute__((constructor)) static void blas_init(void) {
  o2o_blas_setup(0, NULL);
}

/* ---- a small MLP under test: loss = sum_ij R_ij * out_ij (R fixed, random) ---- */
typedef struct {
  o2o_nn_mlp m;
  o2o_nn_acts *acts;
  float *p, *g, *x, *dx, *R;
  int B, w0, wn, dxr;
} net;

static void net_make(net *n, int E, int L, const int *dims, int ln, int B, uint64_t seed) {
  memset(n, 0, sizeof *n);
  cr_assert_eq(o2o_nn_mlp_init(&n->m, E, L, dims, ln), 0);
  n->acts = o2o_nn_acts_create(&n->m, B);
  n->p = calloc(n->m.num_params, sizeof(float));
  n->g = calloc(n->m.num_params, sizeof(float));
  n->x = calloc((size_t)B * dims[0], sizeof(float));
  n->dx = calloc((size_t)B * dims[0], sizeof(float));
  n->R = calloc((size_t)B * E * dims[L], sizeof(float));
  n->B = B;
  n->w0 = 0;
  n->wn = B;
  n->dxr = B;
  o2o_nn_rng rng;
  o2o_nn_rng_seed(&rng, seed);
  o2o_nn_mlp_init_params(&n->m, n->p, &rng, 0.0f);
  if (ln) /* move LayerNorm away from its identity init so its gradients are exercised */
    for (int l = 0; l < L - 1; l++)
      for (int i = 0; i < E * dims[l + 1]; i++) {
        n->p[n->m.g_off[l] + i] = 1.0f + 0.5f * (o2o_nn_rng_uniform(&rng) - 0.5f);
        n->p[n->m.be_off[l] + i] = 0.3f * (o2o_nn_rng_uniform(&rng) - 0.5f);
      }
  for (int i = 0; i < B * dims[0]; i++)
    n->x[i] = 2.0f * o2o_nn_rng_uniform(&rng) - 1.0f;
  for (int i = 0; i < B * E * dims[L]; i++)
    n->R[i] = 2.0f * o2o_nn_rng_uniform(&rng) - 1.0f;
}

static void net_free(net *n) {
  o2o_nn_acts_destroy(n->acts);
  free(n->p);
  free(n->g);
  free(n->x);
  free(n->dx);
  free(n->R);
}

/* ReLU on/off pattern of every hidden unit, to spot finite differences across a kink */
static uint64_t relu_pattern(net *n) {
  uint64_t h = 1469598103934665603ULL;
  for (int l = 0; l < n->m.num_layers - 1; l++)
    for (int i = 0; i < n->B * n->m.ensemble * n->m.dims[l + 1]; i++)
      h = (h ^ (uint64_t)(n->acts->out[l][i] > 0.0f)) * 1099511628211ULL;
  return h;
}

/* loss restricted to rows [r0, r0 + rn) (what the gradient of those rows must match) */
static double net_loss(net *n, int r0, int rn) {
  o2o_nn_mlp_forward(&n->m, n->p, n->x, n->m.dims[0], n->B, n->acts);
  int W = n->m.ensemble * n->m.dims[n->m.num_layers];
  const float *out = n->acts->out[n->m.num_layers - 1];
  double L = 0.0;
  for (int r = r0; r < r0 + rn; r++)
    for (int j = 0; j < W; j++)
      L += (double)n->R[r * W + j] * out[r * W + j];
  return L;
}

static void net_grads(net *n) {
  o2o_nn_mlp_forward(&n->m, n->p, n->x, n->m.dims[0], n->B, n->acts);
  o2o_nn_zero(n->g, n->m.num_params);
  o2o_nn_mlp_backward(&n->m, n->p, n->x, n->m.dims[0], n->B, n->acts, n->R, n->g, n->w0, n->wn,
                      n->dx, n->dxr, n->m.dims[0]);
}

/* Central differences on every value of `v` (count values); returns the number of
 * mismatches. Differences whose +-h evaluations flip a ReLU are skipped (the function has a
 * kink there), but at most a quarter of them. */
static int fd_check(net *n, float *v, const float *analytic, size_t count, int r0, int rn,
                    const char *what) {
  const float h = 1e-3f;
  int bad = 0;
  size_t skipped = 0;
  net_loss(n, r0, rn);
  uint64_t base = relu_pattern(n);
  for (size_t i = 0; i < count; i++) {
    float keep = v[i];
    v[i] = keep + h;
    double lp = net_loss(n, r0, rn);
    int kink = relu_pattern(n) != base;
    v[i] = keep - h;
    double lm = net_loss(n, r0, rn);
    kink |= relu_pattern(n) != base;
    v[i] = keep;
    if (kink) {
      skipped++;
      continue;
    }
    double fd = (lp - lm) / (2.0 * h), an = analytic[i];
    if (fabs(fd - an) > 2e-3 + 1e-2 * fmax(fabs(fd), fabs(an))) {
      if (bad < 5)
        fprintf(stderr, "gradcheck: %s[%zu]: finite difference %.6f, analytic %.6f\n", what, i, fd,
                an);
      bad++;
    }
  }
  cr_expect_leq(skipped * 4, count, "%s: %zu of %zu differences crossed a ReLU kink", what, skipped,
                count);
  return bad;
}

static void check_net(int E, int L, const int *dims, int ln, int B, int w0, int wn, int dxr) {
  net n;
  net_make(&n, E, L, dims, ln, B, 42 + (uint64_t)E * 7 + (uint64_t)ln);
  n.w0 = w0;
  n.wn = wn;
  n.dxr = dxr;
  net_grads(&n);
  float *g = malloc(n.m.num_params * sizeof(float)), *dx = malloc((size_t)B * dims[0] * 4);
  memcpy(g, n.g, n.m.num_params * sizeof(float));
  memcpy(dx, n.dx, (size_t)B * dims[0] * 4);
  cr_expect_eq(fd_check(&n, n.p, g, n.m.num_params, w0, wn, "param"), 0,
               "parameter gradients (E=%d L=%d ln=%d rows %d+%d)", E, L, ln, w0, wn);
  cr_expect_eq(fd_check(&n, n.x, dx, (size_t)dxr * dims[0], 0, dxr, "input"), 0,
               "input gradients (E=%d L=%d ln=%d)", E, L, ln);
  free(g);
  free(dx);
  net_free(&n);
}

TestSuite(nn);

Test(nn, linear_gradients_match_finite_differences) {
  int dims[] = {5, 4};
  check_net(1, 1, dims, 0, 6, 0, 6, 6);
  check_net(3, 1, dims, 0, 6, 0, 6, 6); /* ensemble: stacked first layer, summed dx */
}

Test(nn, relu_mlp_gradients_match_finite_differences) {
  int dims[] = {6, 9, 7, 3};
  check_net(1, 3, dims, 0, 5, 0, 5, 5);
  check_net(2, 3, dims, 0, 5, 0, 5, 5);
}

Test(nn, row_subsets_split_weight_and_input_gradients) {
  /* weight gradients from rows 3..6 only, input gradients of rows 0..2 only */
  int dims[] = {6, 9, 7, 2};
  check_net(2, 3, dims, 0, 7, 3, 4, 3);
}

Test(nn, layernorm_mlp_gradients_match_finite_differences) {
  int dims[] = {5, 20, 6, 2}; /* 20 = one 16-lane block + a tail */
  check_net(1, 3, dims, 1, 4, 0, 4, 4);
  check_net(3, 3, dims, 1, 6, 2, 4, 2);
}

/* Backward adds into the gradient buffer (a loss with two terms runs two backwards into one
 * buffer): a second pass with the same upstream gradient doubles every parameter gradient,
 * LayerNorm's included, and leaves the (written) input gradient as it was. */
Test(nn, backward_accumulates_parameter_gradients) {
  int dims[] = {5, 20, 6, 2};
  net n;
  net_make(&n, 2, 3, dims, 1, 4, 11);
  net_grads(&n);
  size_t P = n.m.num_params, X = (size_t)n.B * dims[0];
  float *g1 = malloc(sizeof(float) * P), *dx1 = malloc(sizeof(float) * X);
  memcpy(g1, n.g, sizeof(float) * P);
  memcpy(dx1, n.dx, sizeof(float) * X);
  o2o_nn_mlp_backward(&n.m, n.p, n.x, dims[0], n.B, n.acts, n.R, n.g, n.w0, n.wn, n.dx, n.dxr,
                      dims[0]);
  size_t nonzero = 0;
  for (size_t i = 0; i < P; i++) {
    cr_assert_float_eq(n.g[i], 2.0f * g1[i], 1e-5f * (1.0f + fabsf(g1[i])), "param %zu", i);
    nonzero += g1[i] != 0.0f;
  }
  cr_assert_gt(nonzero, P / 2);
  for (size_t i = 0; i < X; i++)
    cr_assert_float_eq(n.dx[i], dx1[i], 1e-6f, "dx %zu", i);
  free(g1);
  free(dx1);
  net_free(&n);
}

Test(nn, gradient_check_fails_on_a_wrong_gradient) {
  int dims[] = {4, 6, 2};
  net n;
  net_make(&n, 2, 2, dims, 1, 4, 9);
  net_grads(&n);
  float *g = malloc(n.m.num_params * sizeof(float));
  memcpy(g, n.g, n.m.num_params * sizeof(float));
  g[n.m.b_off[0] + 1] *= 1.1f;  /* one bias gradient 10% off */
  g[n.m.w_off[1] + 3] += 0.05f; /* one weight gradient shifted */
  cr_expect_geq(fd_check(&n, n.p, g, n.m.num_params, 0, 4, "corrupted"), 1);
  free(g);
  net_free(&n);
}

Test(nn, forward_matches_a_naive_ensemble) {
  int dims[] = {3, 5, 2};
  net n;
  net_make(&n, 2, 2, dims, 0, 3, 5);
  net_loss(&n, 0, 3);
  const float *out = n.acts->out[1];
  for (int k = 0; k < 2; k++)
    for (int r = 0; r < 3; r++) {
      double h[5];
      for (int j = 0; j < 5; j++) {
        double z = n.p[n.m.b_off[0] + k * 5 + j];
        for (int i = 0; i < 3; i++)
          z += (double)n.p[n.m.w_off[0] + (k * 5 + j) * 3 + i] * n.x[r * 3 + i];
        h[j] = z > 0 ? z : 0;
      }
      for (int o = 0; o < 2; o++) {
        double y = n.p[n.m.b_off[1] + k * 2 + o];
        for (int j = 0; j < 5; j++)
          y += (double)n.p[n.m.w_off[1] + (k * 2 + o) * 5 + j] * h[j];
        cr_expect_float_eq(out[r * 4 + k * 2 + o], y, 1e-5, "member %d row %d out %d", k, r, o);
      }
    }
  net_free(&n);
}

Test(nn, relu_propagates_nan) {
  int dims[] = {2, 3, 1};
  net n;
  net_make(&n, 1, 2, dims, 0, 1, 3);
  n.x[0] = NAN;
  net_loss(&n, 0, 1);
  cr_expect(isnan(n.acts->out[1][0]), "a NaN input must reach the output, got %g",
            n.acts->out[1][0]);
  net_free(&n);
}

Test(nn, init_follows_pytorch_bounds) {
  int dims[] = {16, 64, 1};
  o2o_nn_mlp m;
  o2o_nn_mlp_init(&m, 2, 2, dims, 0);
  float *p = calloc(m.num_params, sizeof(float));
  o2o_nn_rng rng;
  o2o_nn_rng_seed(&rng, 1);
  o2o_nn_mlp_init_params(&m, p, &rng, 0.0f);
  float mx = 0;
  for (int i = 0; i < 2 * 64 * 16; i++)
    mx = fmaxf(mx, fabsf(p[m.w_off[0] + i]));
  cr_expect(mx <= 0.25f && mx > 0.24f, "layer 0 |W| max %g, want just under 1/sqrt(16)", mx);
  o2o_nn_mlp_init_params(&m, p, &rng, 1e-2f); /* small last layer, zero bias */
  mx = 0;
  for (int i = 0; i < 2 * 64; i++)
    mx = fmaxf(mx, fabsf(p[m.w_off[1] + i]));
  cr_expect(mx <= 1e-2f * sqrtf(6.0f / 65.0f) && mx > 0, "last layer |W| max %g", mx);
  cr_expect_eq(p[m.b_off[1]], 0.0f);
  free(p);
}

Test(nn, tensor_names_and_shapes) {
  int dims[] = {14, 32, 32, 1};
  o2o_nn_mlp m;
  o2o_nn_mlp_init(&m, 2, 3, dims, 1);
  float *p = calloc(m.num_params, sizeof(float));
  o2o_tensor_ref t[64];
  int n = o2o_nn_mlp_tensor_refs(&m, p, "critic", 1, t, 64);
  cr_assert_eq(n, 2 * (3 * 2 + 2 * 2));
  cr_expect_str_eq(t[0].name, "critic0.l0.weight");
  cr_expect_eq(t[0].shape[0], 32);
  cr_expect_eq(t[0].shape[1], 14);
  cr_expect_str_eq(t[2].name, "critic0.l0.ln.weight");
  cr_expect_str_eq(t[n / 2].name, "critic1.l0.weight");
  cr_expect_eq(t[n / 2].data, p + m.w_off[0] + 32 * 14, "member 1 is the second slice");
  size_t total = 0;
  for (int i = 0; i < n; i++)
    total += (size_t)o2o_tensor_numel(&t[i]);
  cr_expect_eq(total, m.num_params, "the views cover every parameter exactly once");
  free(p);
}

/* ---- tanh-Gaussian ---- */
static double tg_logp_ref(double mu, double raw, double e, double lo, double hi, double *a) {
  double ls = raw < lo ? lo : raw > hi ? hi : raw, u = mu + exp(ls) * e;
  *a = tanh(u);
  /* the textbook form with atanh-free log(1 - tanh^2) in double */
  return -0.5 * e * e - ls - 0.5 * log(2 * M_PI) - log(1.0 - tanh(u) * tanh(u));
}

Test(nn, tanh_gaussian_log_prob_matches_double_reference) {
  float out[6] = {0.3f, -1.2f, 2.5f, -0.7f, 0.4f, -3.0f}; /* mu[3] | raw log-std[3] */
  float eps[3] = {0.5f, -1.5f, 0.1f}, a[3], lp;
  o2o_tg_sample(out, 6, 1, 3, -20.0f, 2.0f, eps, a, &lp);
  double ref = 0;
  for (int i = 0; i < 3; i++) {
    double ai;
    ref += tg_logp_ref(out[i], out[3 + i], eps[i], -20, 2, &ai);
    cr_expect_float_eq(a[i], ai, 1e-6);
  }
  cr_expect_float_eq(lp, ref, 1e-4, "log pi %g vs double %g", lp, ref);
  /* far in the tail (u = 12) the naive log(1 - a^2) is -inf in float; the stable form is not */
  float out2[2] = {12.0f, -20.0f}, e2 = 0.0f, a2, lp2;
  o2o_tg_sample(out2, 2, 1, 1, -20.0f, 2.0f, &e2, &a2, &lp2);
  double expect = 20.0 - 0.5 * log(2 * M_PI) - 2.0 * (log(2.0) - 12.0 - log1p(exp(-24.0)));
  cr_expect(isfinite(lp2) && fabs(lp2 - expect) < 1e-3, "tail log pi %g, want %g", lp2, expect);
  /* log_prob of given actions inverts the sample */
  float lp3;
  o2o_tg_log_prob(out, 6, 1, 3, -20.0f, 2.0f, a, &lp3);
  cr_expect_float_eq(lp3, lp, 2e-2, "log_prob(a) %g vs sample's %g", lp3, lp);
  /* deterministic mode */
  o2o_tg_mode(out, 6, 1, 3, a);
  cr_expect_float_eq(a[2], tanhf(2.5f), 1e-7);
}

/* loss = sum_i wa_i a_i + wl * logp through the reparameterised sample, in double */
static double tg_loss(const float *out, const float *eps, const double *wa, double wl) {
  double L = 0, ai;
  for (int i = 0; i < 3; i++) {
    L += wl * tg_logp_ref(out[i], out[3 + i], eps[i], -5, 2, &ai);
    L += wa[i] * ai;
  }
  return L;
}

Test(nn, tanh_gaussian_backward_matches_finite_differences) {
  /* third log-std is clamped (raw 2.7 > 2): its gradient must be exactly 0 */
  float out[6] = {0.3f, -1.2f, 0.8f, -0.7f, 0.4f, 2.7f};
  float eps[3] = {0.5f, -1.5f, 0.9f}, a[3], lp, d[6];
  double wa[3] = {0.7, -1.3, 0.4}, wl = 0.6;
  float ga[3] = {0.7f, -1.3f, 0.4f}, gl = 0.6f;
  o2o_tg_sample(out, 6, 1, 3, -5.0f, 2.0f, eps, a, &lp);
  o2o_tg_backward(out, 6, 1, 3, -5.0f, 2.0f, eps, a, ga, &gl, d, 6);
  for (int i = 0; i < 6; i++) {
    float keep = out[i], h = 1e-3f;
    out[i] = keep + h;
    double lp_ = tg_loss(out, eps, wa, wl);
    out[i] = keep - h;
    double lm = tg_loss(out, eps, wa, wl);
    out[i] = keep;
    double fd = (lp_ - lm) / (2 * h);
    if (i == 5) fd = 0.0; /* clamped: flat (the double ref clamps too) */
    cr_expect(fabs(fd - d[i]) < 1e-3 + 1e-3 * fabs(fd), "d out[%d]: fd %.6f analytic %.6f", i, fd,
              d[i]);
  }
  cr_expect_eq(d[5], 0.0f, "gradient through a clamped log-std must be 0");
}

Test(nn, tanh_gaussian_log_prob_of_given_actions_backward) {
  float out[6] = {0.3f, -1.2f, 0.8f, -0.7f, 0.4f, -6.0f}; /* third log-std clamped (< -5) */
  const float a[3] = {0.2f, -0.9f, 0.5f};
  float gl = 0.7f, d[6], lp0;
  o2o_tg_log_prob(out, 6, 1, 3, -5.0f, 2.0f, a, &lp0);
  o2o_tg_log_prob_backward(out, 6, 1, 3, -5.0f, 2.0f, a, &gl, d, 6);
  for (int i = 0; i < 6; i++) {
    float keep = out[i], h = 1e-2f, lp, lm; /* smooth: a larger step beats float rounding */
    out[i] = keep + h;
    o2o_tg_log_prob(out, 6, 1, 3, -5.0f, 2.0f, a, &lp);
    out[i] = keep - h;
    o2o_tg_log_prob(out, 6, 1, 3, -5.0f, 2.0f, a, &lm);
    out[i] = keep;
    double fd = 0.7 * ((double)lp - lm) / (2 * h);
    cr_expect(fabs(fd - d[i]) < 1e-3 + 5e-3 * fabs(fd), "d out[%d]: fd %.6f analytic %.6f", i, fd,
              d[i]);
  }
  cr_expect_eq(d[5], 0.0f);
}

/* ---- Adam, Polyak, finite check ---- */
Test(nn, adam_matches_pytorch_formula) {
  enum { N = 37 }; /* two 16-wide vector blocks and a scalar tail */
  o2o_nn_adam a;
  cr_assert_eq(o2o_nn_adam_init(&a, N, 1e-2f), 0);
  float p[N];
  double pd[N], m[N] = {0}, v[N] = {0};
  for (int i = 0; i < N; i++)
    p[i] = (float)(pd[i] = 0.1 * i - 1.0);
  for (int t = 1; t <= 5; t++) {
    float g[N];
    for (int i = 0; i < N; i++)
      g[i] = (i % 2 ? 0.5f * t : -0.1f / t) * (1.0f + 0.01f * i);
    o2o_nn_adam_step(&a, p, g);
    for (int i = 0; i < N; i++) {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.999 * v[i] + 0.001 * (double)g[i] * g[i];
      double mh = m[i] / (1 - pow(0.9, t)), vh = sqrt(v[i]) / sqrt(1 - pow(0.999, t));
      pd[i] -= 1e-2 * mh / (vh + 1e-8);
    }
  }
  for (int i = 0; i < N; i++)
    cr_expect_float_eq(p[i], pd[i], 1e-5, "param %d", i);
  cr_expect_eq(a.t, 5);
  o2o_nn_adam_free(&a);
}

Test(nn, polyak_and_nonfinite_finder) {
  float t[3] = {1, 2, 3}, s[3] = {3, 2, 1};
  o2o_nn_polyak(t, s, 3, 0.25f);
  cr_expect_float_eq(t[0], 1.5f, 1e-7);
  cr_expect_float_eq(t[2], 2.5f, 1e-7);
  float x[100] = {0};
  cr_expect_eq(o2o_nn_find_nonfinite(x, 100), -1);
  x[77] = INFINITY;
  cr_expect_eq(o2o_nn_find_nonfinite(x, 100), 77);
  x[13] = NAN;
  cr_expect_eq(o2o_nn_find_nonfinite(x, 100), 13);
}

Test(nn, rng_is_reproducible_and_normal) {
  o2o_nn_rng a, b;
  o2o_nn_rng_seed(&a, 7);
  o2o_nn_rng_seed(&b, 7);
  static float x[20001], y[20001];
  o2o_nn_rng_normal(&a, x, 20001);
  o2o_nn_rng_normal(&b, y, 20001);
  cr_expect_arr_eq(x, y, sizeof x);
  double m = 0, v = 0;
  for (int i = 0; i < 20001; i++)
    m += x[i];
  m /= 20001;
  for (int i = 0; i < 20001; i++)
    v += (x[i] - m) * (x[i] - m);
  v /= 20000;
  cr_expect(fabs(m) < 0.03 && fabs(v - 1) < 0.05, "mean %g var %g", m, v);
}

Test(nn, blas_selfcheck_passes_on_the_chosen_kernel) {
  cr_expect_eq(o2o_blas_selfcheck(), 0, "sgemm mismatch on kernel %s", o2o_blas_corename());
  cr_log_info("OpenBLAS kernel %s, %d thread(s)", o2o_blas_corename(), o2o_blas_threads());
}

/* The re-exec path of the OpenBLAS trap, forced on a CPU that OpenBLAS does recognise. */
static int run_o2o(const char *env, char *out, size_t len) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "env -u OPENBLAS_CORETYPE -u O2O_BLAS_REEXEC %s %s/o2o --version 2>&1",
           env, O2O_TEST_BUILD_DIR);
  FILE *p = popen(cmd, "r");
  cr_assert_not_null(p);
  size_t n = fread(out, 1, len - 1, p);
  out[n] = 0;
  return pclose(p);
}

Test(nn, blas_trap_reexecutes_with_a_fast_kernel_once) {
  char out[4096];
  cr_assert_eq(run_o2o("O2O_BLAS_ASSUME_GENERIC=1", out, sizeof out), 0, "%s", out);
  cr_expect(strstr(out, "selected OPENBLAS_CORETYPE=") && strstr(out, "self-check passed"),
            "no kernel choice reported:\n%s", out);
  const char *first = strstr(out, "o2o: OpenBLAS");
  cr_expect(first && !strstr(first + 1, "o2o: OpenBLAS"), "said more than once:\n%s", out);
  cr_expect(strstr(out, "o2o 0.") != NULL, "the re-executed program ran:\n%s", out);
  /* the user's own OPENBLAS_CORETYPE is respected: no re-exec, no message */
  cr_assert_eq(run_o2o("OPENBLAS_CORETYPE=Haswell O2O_BLAS_ASSUME_GENERIC=1", out, sizeof out), 0);
  cr_expect(strstr(out, "o2o: OpenBLAS") == NULL, "user's OPENBLAS_CORETYPE overridden:\n%s", out);
}

Test(nn, blas_trap_falls_back_when_the_self_check_fails) {
  char out[4096];
  cr_assert_eq(run_o2o("O2O_BLAS_ASSUME_GENERIC=1 O2O_BLAS_TEST_SELFCHECK_FAIL=1", out, sizeof out),
               0, "%s", out);
  const char *w = strstr(out, "self-check failed");
  cr_expect(w && !strstr(w + 1, "self-check failed"), "one fallback warning expected:\n%s", out);
  const char *v = strstr(out, "o2o 0.");
  cr_expect(v && !strstr(v + 1, "o2o 0."), "the program runs exactly once:\n%s", out);
}
