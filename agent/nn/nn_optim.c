/* nn_optim.c: Adam, Polyak, zeroing and the finite check over flat parameter arrays (nn.h),
 * split over o2o's worker for big arrays (par.h). */
#include "nn/nn.h"
#include "nn/par.h"

#include "nn/nn_simd.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- Adam, Polyak ---------------- */
int o2o_nn_adam_init(o2o_nn_adam *a, size_t n, float lr) {
  memset(a, 0, sizeof *a);
  a->lr = lr;
  a->beta1 = 0.9f;
  a->beta2 = 0.999f;
  a->eps = 1e-8f;
  a->n = n;
  a->m = calloc(n ? n : 1, sizeof(float));
  a->v = calloc(n ? n : 1, sizeof(float));
  if (!a->m || !a->v) {
    o2o_nn_adam_free(a);
    return -1;
  }
  return 0;
}

void o2o_nn_adam_free(o2o_nn_adam *a) {
  free(a->m);
  free(a->v);
  a->m = a->v = NULL;
}

/* One Adam pass over [i0, n): the scalar reference (and the tail of the vector version). */
static void adam_scalar(float *restrict p, const float *restrict g, float *restrict mm,
                        float *restrict vv, size_t i0, size_t n, float b1, float b2, float step,
                        float ibc2, float eps) {
  for (size_t i = i0; i < n; i++) {
    float m = b1 * mm[i] + (1.0f - b1) * g[i];
    float v = b2 * vv[i] + (1.0f - b2) * g[i] * g[i];
    mm[i] = m;
    vv[i] = v;
    p[i] -= step * m / (sqrtf(v) * ibc2 + eps);
  }
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <immintrin.h>
/* sqrtf keeps the loop above scalar (errno; the pragma cannot turn -fmath-errno off), so
 * the AVX-512 version is written out: same operations in the same order, no FMA. */
__attribute__((target("avx512f"))) static void
adam_avx512(float *restrict p, const float *restrict g, float *restrict mm, float *restrict vv,
            size_t n, float b1, float b2, float step, float ibc2, float eps) {
  const __m512 B1 = _mm512_set1_ps(b1), C1 = _mm512_set1_ps(1.0f - b1);
  const __m512 B2 = _mm512_set1_ps(b2), C2 = _mm512_set1_ps(1.0f - b2);
  const __m512 S = _mm512_set1_ps(step), I2 = _mm512_set1_ps(ibc2), E = _mm512_set1_ps(eps);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 gi = _mm512_loadu_ps(g + i);
    __m512 m = _mm512_add_ps(_mm512_mul_ps(B1, _mm512_loadu_ps(mm + i)), _mm512_mul_ps(C1, gi));
    __m512 v = _mm512_add_ps(_mm512_mul_ps(B2, _mm512_loadu_ps(vv + i)),
                             _mm512_mul_ps(_mm512_mul_ps(C2, gi), gi));
    _mm512_storeu_ps(mm + i, m);
    _mm512_storeu_ps(vv + i, v);
    __m512 den = _mm512_add_ps(_mm512_mul_ps(_mm512_sqrt_ps(v), I2), E);
    __m512 upd = _mm512_div_ps(_mm512_mul_ps(S, m), den);
    _mm512_storeu_ps(p + i, _mm512_sub_ps(_mm512_loadu_ps(p + i), upd));
  }
  adam_scalar(p, g, mm, vv, i, n, b1, b2, step, ibc2, eps);
}
#define HAVE_ADAM_AVX512 1
#endif

/* Element-wise passes over big arrays split in two halves (par.h); below this they stay on
 * one thread (a wake-up costs more than the pass). */
#define SPLIT_MIN ((size_t)1 << 16)

typedef struct {
  o2o_nn_adam *a;
  float *params, *target;
  const float *grads;
  float step, ibc2, tau;
  size_t n;
  long bad[2];
} elem_job;

static int adam_use_avx512(void) {
#ifdef HAVE_ADAM_AVX512
  static int avx512 = -1; /* set on the first (single-threaded) call */
  if (avx512 < 0) {
    __builtin_cpu_init();
    avx512 = __builtin_cpu_supports("avx512f") != 0;
  }
  return avx512;
#else
  return 0;
#endif
}

static void adam_part(void *ctx, int part, int parts) {
  elem_job *j = ctx;
  o2o_nn_adam *a = j->a;
  size_t i0, i1;
  o2o_par_range(j->n, 64, part, parts, &i0, &i1);
#ifdef HAVE_ADAM_AVX512
  if (adam_use_avx512()) {
    adam_avx512(j->params + i0, j->grads + i0, a->m + i0, a->v + i0, i1 - i0, a->beta1, a->beta2,
                j->step, j->ibc2, a->eps);
    return;
  }
#endif
  adam_scalar(j->params, j->grads, a->m, a->v, i0, i1, a->beta1, a->beta2, j->step, j->ibc2,
              a->eps);
}

void o2o_nn_adam_step(o2o_nn_adam *a, float *restrict params, const float *restrict grads) {
  a->t++;
  /* bias corrections in double, like PyTorch's Python-float arithmetic */
  double bc1 = 1.0 - pow((double)a->beta1, (double)a->t);
  double bc2 = 1.0 - pow((double)a->beta2, (double)a->t);
  elem_job j = {.a = a,
                .params = params,
                .grads = grads,
                .step = (float)(a->lr / bc1),
                .ibc2 = (float)(1.0 / sqrt(bc2)),
                .n = a->n};
  adam_use_avx512();
  if (a->n >= SPLIT_MIN)
    o2o_par_run(adam_part, &j);
  else
    adam_part(&j, 0, 1);
}

static void zero_part(void *ctx, int part, int parts) {
  elem_job *j = ctx;
  size_t i0, i1;
  o2o_par_range(j->n, 64, part, parts, &i0, &i1);
  memset(j->params + i0, 0, sizeof(float) * (i1 - i0));
}

void o2o_nn_zero(float *x, size_t n) {
  elem_job j = {.params = x, .n = n};
  if (n >= SPLIT_MIN)
    o2o_par_run(zero_part, &j);
  else
    zero_part(&j, 0, 1);
}

SIMD_CLONES static void polyak_range(float *restrict target, const float *restrict src, size_t n,
                                     float tau) {
  const float keep = 1.0f - tau;
  for (size_t i = 0; i < n; i++)
    target[i] = keep * target[i] + tau * src[i];
}

static void polyak_part(void *ctx, int part, int parts) {
  elem_job *j = ctx;
  size_t i0, i1;
  o2o_par_range(j->n, 64, part, parts, &i0, &i1);
  polyak_range(j->target + i0, j->grads + i0, i1 - i0, j->tau);
}

void o2o_nn_polyak(float *restrict target, const float *restrict src, size_t n, float tau) {
  elem_job j = {.target = target, .grads = src, .n = n, .tau = tau};
  if (n >= SPLIT_MIN)
    o2o_par_run(polyak_part, &j);
  else
    polyak_part(&j, 0, 1);
}

SIMD_CLONES static long find_nonfinite_range(const float *x, size_t n) {
  /* fast path: the largest exponent field over all values (an integer max, vectorised) is
   * all ones iff some value is inf or NaN; the element-wise search runs only on failure */
  uint32_t emax = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t b;
    memcpy(&b, &x[i], sizeof b);
    b &= 0x7f800000u;
    emax = b > emax ? b : emax;
  }
  if (emax != 0x7f800000u) return -1;
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return (long)i;
  return -1;
}

static void nonfinite_part(void *ctx, int part, int parts) {
  elem_job *j = ctx;
  size_t i0, i1;
  o2o_par_range(j->n, 64, part, parts, &i0, &i1);
  long i = find_nonfinite_range(j->grads + i0, i1 - i0);
  j->bad[part] = i < 0 ? -1 : (long)i0 + i;
}

long o2o_nn_find_nonfinite(const float *x, size_t n) {
  elem_job j = {.grads = x, .n = n, .bad = {-1, -1}};
  if (n >= SPLIT_MIN)
    o2o_par_run(nonfinite_part, &j);
  else
    nonfinite_part(&j, 0, 1);
  return j.bad[0] >= 0 ? j.bad[0] : j.bad[1]; /* the first one */
}
