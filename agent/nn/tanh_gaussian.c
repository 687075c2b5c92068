/* tanh_gaussian.c: tanh-Gaussian sampling, log-probability and its backward (tanh_gaussian.h). */
#include "nn/tanh_gaussian.h"

#include <math.h>
#include <stddef.h>

#define HALF_LOG_2PI 0.91893853320467274178f
#define LOG2 0.69314718055994530942f

static inline float softplus(float x) {
  return x > 20.0f ? x : log1pf(expf(x));
}
static inline float clampf(float x, float lo, float hi) {
  return x < lo ? lo : x > hi ? hi : x;
}
/* log(1 - tanh(u)^2), stable for large |u| */
static inline float log1m_tanh2(float u) {
  return 2.0f * (LOG2 - u - softplus(-2.0f * u));
}

void o2o_tg_sample(const float *out, int ldo, int B, int A, float ls_min, float ls_max,
                   const float *eps, float *a, float *logp) {
  for (int r = 0; r < B; r++) {
    const float *mu = out + (size_t)r * ldo, *raw = mu + A, *e = eps + (size_t)r * A;
    float *ar = a + (size_t)r * A, lp = 0.0f;
    for (int i = 0; i < A; i++) {
      float ls = clampf(raw[i], ls_min, ls_max);
      float u = mu[i] + expf(ls) * e[i];
      ar[i] = tanhf(u);
      lp += -0.5f * e[i] * e[i] - ls - HALF_LOG_2PI - log1m_tanh2(u);
    }
    logp[r] = lp;
  }
}

void o2o_tg_backward(const float *out, int ldo, int B, int A, float ls_min, float ls_max,
                     const float *eps, const float *a, const float *ga, const float *gl,
                     float *dout, int lddo) {
  for (int r = 0; r < B; r++) {
    const float *mu = out + (size_t)r * ldo, *raw = mu + A, *e = eps + (size_t)r * A;
    const float *ar = a + (size_t)r * A;
    float g_lp = gl ? gl[r] : 0.0f, *d = dout + (size_t)r * lddo;
    (void)mu;
    for (int i = 0; i < A; i++) {
      float t = ar[i];
      /* dlogp/du = 2 tanh(u); da/du = 1 - tanh(u)^2 */
      float du = 2.0f * t * g_lp + (ga ? ga[(size_t)r * A + i] * (1.0f - t * t) : 0.0f);
      d[i] = du;
      int inside = raw[i] >= ls_min && raw[i] <= ls_max;
      /* u depends on log_std through std*eps; logp also has -log_std directly */
      d[A + i] = inside ? du * expf(raw[i]) * e[i] - g_lp : 0.0f;
    }
  }
}

void o2o_tg_mode(const float *out, int ldo, int B, int A, float *a) {
  for (int r = 0; r < B; r++)
    for (int i = 0; i < A; i++)
      a[(size_t)r * A + i] = tanhf(out[(size_t)r * ldo + i]);
}

void o2o_tg_log_prob(const float *out, int ldo, int B, int A, float ls_min, float ls_max,
                     const float *a, float *logp) {
  const float lim = 1.0f - 1e-6f;
  for (int r = 0; r < B; r++) {
    const float *mu = out + (size_t)r * ldo, *raw = mu + A;
    float lp = 0.0f;
    for (int i = 0; i < A; i++) {
      float ls = clampf(raw[i], ls_min, ls_max);
      float u = atanhf(clampf(a[(size_t)r * A + i], -lim, lim));
      float z = (u - mu[i]) * expf(-ls);
      lp += -0.5f * z * z - ls - HALF_LOG_2PI - log1m_tanh2(u);
    }
    logp[r] = lp;
  }
}

void o2o_tg_log_prob_backward(const float *out, int ldo, int B, int A, float ls_min, float ls_max,
                              const float *a, const float *gl, float *dout, int lddo) {
  const float lim = 1.0f - 1e-6f;
  for (int r = 0; r < B; r++) {
    const float *mu = out + (size_t)r * ldo, *raw = mu + A;
    float *d = dout + (size_t)r * lddo, g = gl[r];
    for (int i = 0; i < A; i++) {
      float ls = clampf(raw[i], ls_min, ls_max), inv_std = expf(-ls);
      float u = atanhf(clampf(a[(size_t)r * A + i], -lim, lim));
      float z = (u - mu[i]) * inv_std;
      d[i] = g * z * inv_std; /* d/dmu of -z^2/2 */
      int inside = raw[i] >= ls_min && raw[i] <= ls_max;
      d[A + i] = inside ? g * (z * z - 1.0f) : 0.0f; /* d/dlog_std of -z^2/2 - ls */
    }
  }
}
