/* bench_common.c: shared pieces of the `o2o bench` programs (bench_common.h). */
#include "bench/bench_common.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define O2O_BENCH_X86 1
#endif

double o2o_bench_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double o2o_bench_median(const double *v, int n) {
  if (n < 1) return 0.0;
  double *t = malloc(sizeof(double) * (size_t)n);
  if (!t) return 0.0;
  memcpy(t, v, sizeof(double) * (size_t)n);
  qsort(t, (size_t)n, sizeof(double), cmp_double);
  double m = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
  free(t);
  return m;
}

/* ---------------- the matmul floor ---------------- */
int o2o_bench_floor_init(o2o_bench_floor *f, int cap) {
  memset(f, 0, sizeof *f);
  f->cap = cap;
  f->calls = calloc((size_t)cap, sizeof *f->calls);
  return f->calls ? 0 : -1;
}

int o2o_bench_floor_add(o2o_bench_floor *f, int M, int N, int K, int ta, int tb) {
  if (f->n >= f->cap) return -1;
  o2o_bench_gemm *c = &f->calls[f->n++];
  *c = (o2o_bench_gemm){M, N, K, ta, tb, NULL, NULL, NULL};
  c->a = calloc((size_t)M * K, sizeof(float));
  c->b = calloc((size_t)K * N, sizeof(float));
  c->c = calloc((size_t)M * N, sizeof(float));
  if (!c->a || !c->b || !c->c) return -1;
  for (size_t i = 0; i < (size_t)M * K; i++)
    c->a[i] = 0.01f * (float)(i % 7);
  for (size_t i = 0; i < (size_t)K * N; i++)
    c->b[i] = 0.01f * (float)(i % 5);
  f->flop += 2.0 * M * N * K;
  return 0;
}

int o2o_bench_floor_mlp(o2o_bench_floor *f, const int *d, int nl, int B, int fwd, int bwd,
                        int igrad0) {
  int rc = 0;
  if (fwd)
    for (int l = 0; l < nl; l++)
      rc |= o2o_bench_floor_add(f, B, d[l + 1], d[l], 0, 1);
  if (bwd)
    for (int l = nl - 1; l >= 0; l--) {
      rc |= o2o_bench_floor_add(f, d[l + 1], d[l], B, 1, 0);
      if (l > 0 || igrad0) rc |= o2o_bench_floor_add(f, B, d[l], d[l + 1], 0, 0);
    }
  return rc;
}

void o2o_bench_dims(int in, int hidden, int layers, int out, int *d) {
  d[0] = in;
  for (int l = 1; l <= layers; l++)
    d[l] = hidden;
  d[layers + 1] = out;
}

double o2o_bench_mlp_flop(const int *d, int nl, int B, int fwd, int bwd, int igrad0) {
  double mac = 0.0;
  for (int l = 0; l < nl; l++) {
    const double m = (double)B * d[l] * d[l + 1];
    mac += fwd ? m : 0.0;
    mac += bwd ? m * (1 + (l > 0 || igrad0)) : 0.0;
  }
  return 2.0 * mac;
}

void o2o_bench_floor_run(const o2o_bench_floor *f) {
  for (int i = 0; i < f->n; i++) {
    const o2o_bench_gemm *c = &f->calls[i];
    cblas_sgemm(CblasRowMajor, c->ta ? CblasTrans : CblasNoTrans, c->tb ? CblasTrans : CblasNoTrans,
                c->M, c->N, c->K, 1.0f, c->a, c->ta ? c->M : c->K, c->b, c->tb ? c->K : c->N, 0.0f,
                c->c, c->N);
  }
}

void o2o_bench_floor_free(o2o_bench_floor *f) {
  for (int i = 0; i < f->n; i++) {
    free(f->calls[i].a);
    free(f->calls[i].b);
    free(f->calls[i].c);
  }
  free(f->calls);
  memset(f, 0, sizeof *f);
}

/* ---------------- random replay data ---------------- */
static uint64_t next_u64(uint64_t *s) { /* splitmix64: the bench's own stream */
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static float uniform(uint64_t *s) {
  return (float)(next_u64(s) >> 40) / 16777216.0f;
}

int o2o_bench_data_init(o2o_bench_data *d, int64_t rows, int obs_dim, int act_dim, uint64_t seed) {
  memset(d, 0, sizeof *d);
  d->rows = rows, d->obs_dim = obs_dim, d->act_dim = act_dim, d->rng = seed;
  const size_t n = (size_t)rows, O = (size_t)obs_dim, A = (size_t)act_dim;
  d->obs = malloc(n * O * sizeof(float));
  d->next_obs = malloc(n * O * sizeof(float));
  d->act = malloc(n * A * sizeof(float));
  d->rew = malloc(n * sizeof(float));
  d->done = malloc(n * sizeof(float));
  if (!d->obs || !d->next_obs || !d->act || !d->rew || !d->done) return -1;
  for (size_t i = 0; i < n * O; i++) { /* roughly normal: sum of 4 uniforms, scaled */
    float a = uniform(&d->rng) + uniform(&d->rng) + uniform(&d->rng) + uniform(&d->rng) - 2.0f;
    float b = uniform(&d->rng) + uniform(&d->rng) + uniform(&d->rng) + uniform(&d->rng) - 2.0f;
    d->obs[i] = 1.732f * a, d->next_obs[i] = 1.732f * b;
  }
  for (size_t i = 0; i < n * A; i++)
    d->act[i] = 2.0f * uniform(&d->rng) - 1.0f;
  for (size_t i = 0; i < n; i++) {
    d->rew[i] = 2.0f * uniform(&d->rng) - 1.0f;
    d->done[i] = uniform(&d->rng) < 0.01f;
  }
  return 0;
}

void o2o_bench_data_free(o2o_bench_data *d) {
  free(d->obs);
  free(d->next_obs);
  free(d->act);
  free(d->rew);
  free(d->done);
  memset(d, 0, sizeof *d);
}

int o2o_bench_batch_alloc(o2o_batch *b, int size, int O, int A, int with_real) {
  const size_t B = (size_t)size;
  *b = (o2o_batch){.size = size, .obs_dim = O, .act_dim = A};
  float *m = malloc(B * (size_t)(2 * O + A + 2) * sizeof(float));
  if (!m) return -1;
  b->obs = m;
  b->act = b->obs + B * O;
  b->rew = b->act + B * A;
  b->next_obs = b->rew + B;
  b->done = b->next_obs + B * O;
  if (with_real && !(b->is_real = calloc(B, 1))) return -1;
  return 0;
}

void o2o_bench_batch_free(o2o_batch *b) {
  free(b->obs);
  free(b->is_real);
  memset(b, 0, sizeof *b);
}

void o2o_bench_sample(o2o_bench_data *d, o2o_batch *b) {
  const size_t O = (size_t)d->obs_dim, A = (size_t)d->act_dim;
  for (int i = 0; i < b->size; i++) {
    size_t j = (size_t)(next_u64(&d->rng) % (uint64_t)d->rows);
    memcpy(b->obs + i * O, d->obs + j * O, O * sizeof(float));
    memcpy(b->act + i * A, d->act + j * A, A * sizeof(float));
    memcpy(b->next_obs + i * O, d->next_obs + j * O, O * sizeof(float));
    b->rew[i] = d->rew[j];
    b->done[i] = d->done[j];
  }
}

/* ---------------- PyTorch reference ---------------- */
double o2o_bench_torch_round(const char *python, const char *script, const char *tag,
                             const char *coretype, int blas_threads, int torch_threads, int updates,
                             const char *extra, char *line, size_t linelen) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "OPENBLAS_CORETYPE='%s' OPENBLAS_NUM_THREADS=%d '%s' '%s' --threads %d --updates %d "
           "--warmup 20 --runs 1 %s 2>&1",
           coretype, blas_threads, python, script, torch_threads, updates, extra ? extra : "");
  FILE *p = popen(cmd, "r");
  if (!p) return -1.0;
  double med = -1.0;
  char buf[1024];
  line[0] = 0;
  while (fgets(buf, sizeof buf, p)) {
    const char *m = strstr(buf, "median=");
    if (strstr(buf, tag) && m) {
      med = strtod(m + 7, NULL);
      snprintf(line, linelen, "%s", buf);
    } else if (!line[0] || med < 0) {
      snprintf(line, linelen, "%s", buf); /* keep the last output line for the error */
    }
  }
  int rc = pclose(p);
  return rc == 0 ? med : -1.0;
}

int o2o_bench_torch_available(const char *python) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "'%s' -c 'import torch' >/dev/null 2>&1", python);
  return system(cmd) == 0;
}

/* ---------------- FMA peak ---------------- */
/* Independent accumulators hide the FMA latency (4-5 cycles) on 2 pipes; 24 FMAs per
 * iteration. Each function returns a value derived from every accumulator so the loop stays. */
#ifdef O2O_BENCH_X86
/* 12 named accumulators (registers, not an array the compiler may keep in memory) */
#define FMA12(F)                                                                                   \
  a0 = F(a0, x, y), a1 = F(a1, x, y), a2 = F(a2, x, y), a3 = F(a3, x, y), a4 = F(a4, x, y),        \
  a5 = F(a5, x, y), a6 = F(a6, x, y), a7 = F(a7, x, y), a8 = F(a8, x, y), a9 = F(a9, x, y),        \
  a10 = F(a10, x, y), a11 = F(a11, x, y)
#define FMA_BODY(T, SET, F, ADD)                                                                   \
  T x = SET(0.999999f), y = SET(1e-7f), a0 = SET(0.f), a1 = SET(1.f), a2 = SET(2.f);               \
  T a3 = SET(3.f), a4 = SET(4.f), a5 = SET(5.f), a6 = SET(6.f), a7 = SET(7.f), a8 = SET(8.f);      \
  T a9 = SET(9.f), a10 = SET(10.f), a11 = SET(11.f);                                               \
  for (long i = 0; i < iters; i++) {                                                               \
    FMA12(F);                                                                                      \
    FMA12(F);                                                                                      \
  }                                                                                                \
  T s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));                         \
  s = ADD(s, ADD(ADD(a8, a9), ADD(a10, a11)))

__attribute__((target("avx512f"))) static float fma_avx512(long iters) {
  FMA_BODY(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float fma_avx2(long iters) {
  FMA_BODY(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps);
  float t[8];
  _mm256_storeu_ps(t, s);
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
#endif

static float fma_scalar(long iters) { /* 24 FMAs per iteration like the others */
  float acc[24];
  for (int k = 0; k < 24; k++)
    acc[k] = (float)k;
  for (long i = 0; i < iters; i++)
    for (int k = 0; k < 24; k++)
      acc[k] = acc[k] * 0.999999f + 1e-7f;
  float s = 0.0f;
  for (int k = 0; k < 24; k++)
    s += acc[k];
  return s;
}

static double time_loop(float (*fn)(long), int lanes, double seconds, volatile float *sink) {
  long iters = 1000;
  double best = 0.0, t_total = 0.0;
  while (t_total < seconds) {
    double t = o2o_bench_now();
    *sink += fn(iters);
    double dt = o2o_bench_now() - t;
    t_total += dt;
    if (dt < 0.02) {
      iters *= 4;
      continue;
    }
    double g = 2.0 * 24.0 * lanes * (double)iters / dt / 1e9;
    best = g > best ? g : best;
  }
  return best;
}

double o2o_bench_fma_peak(double seconds, const char **isa) {
  static volatile float sink;
  double best = 0.0;
  *isa = "scalar";
#ifdef O2O_BENCH_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) {
    best = time_loop(fma_avx512, 16, seconds, &sink);
    *isa = "avx512f";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    double g = time_loop(fma_avx2, 8, seconds, &sink); /* a double-pumped AVX-512 can be slower */
    if (g > best) best = g, *isa = "avx2+fma";
  }
  if (best > 0.0) return best;
#endif
  return time_loop(fma_scalar, 1, seconds, &sink);
}

void o2o_bench_json_torch(FILE *f, double updates_per_s, const char *coretype, int blas_threads,
                          int torch_threads, double ratio) {
  fprintf(f,
          ",\n \"torch_updates_per_s\": %.2f, \"torch_coretype\": \"%s\", "
          "\"torch_openblas_threads\": %d, \"torch_threads\": %d, \"ratio_o2o_torch\": %.4f",
          updates_per_s, coretype, blas_threads, torch_threads, ratio);
}

void o2o_bench_json_rounds(FILE *f, const double *o2o, const double *floor, const double *torch,
                           int rounds) {
  fprintf(f, ",\n \"rounds_detail\": [");
  for (int r = 0; r < rounds; r++)
    fprintf(f, "%s{\"o2o\": %.2f, \"floor\": %.2f, \"torch\": %.2f}", r ? ", " : "", o2o[r],
            floor[r], torch ? torch[r] : 0.0);
  fprintf(f, "]}\n");
}
