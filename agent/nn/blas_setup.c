/* blas_setup.c: the OpenBLAS kernel trap and thread count (blas_setup.h). */
#include "nn/blas_setup.h"
#include "nn/par.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#define MARKER "O2O_BLAS_REEXEC"

static const char *generic_cores[] = {"Prescott", "Katmai", "Coppermine",  "Northwood",
                                      "Banias",   "Core2",  "Penryn",      "Dunnington",
                                      "Nehalem",  "Atom",   "Sandybridge", "Unknown"};

static int is_generic(const char *core) {
  for (size_t i = 0; i < sizeof generic_cores / sizeof generic_cores[0]; i++)
    if (!strcasecmp(core, generic_cores[i])) return 1;
  return 0;
}

const char *o2o_blas_corename(void) {
  const char *c = openblas_get_corename();
  return c ? c : "unknown";
}

int o2o_blas_threads(void) {
  return openblas_get_num_threads();
}

void o2o_blas_set_threads(int n) {
  if (n >= 1) openblas_set_num_threads(n);
}

int o2o_blas_selfcheck(void) {
  /* shapes like the SAC update's: NT forward, TN weight gradient, NN input gradient */
  enum { M = 37, K = 29, N = 41 };
  static float a[M * K], b[K * N], c[M * N], bt[N * K], at[K * M];
  uint32_t x = 12345u;
  for (int i = 0; i < M * K; i++)
    a[i] = (float)((x = x * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
  for (int i = 0; i < K * N; i++)
    b[i] = (float)((x = x * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
  for (int i = 0; i < M; i++)
    for (int k = 0; k < K; k++)
      at[k * M + i] = a[i * K + k];
  for (int k = 0; k < K; k++)
    for (int j = 0; j < N; j++)
      bt[j * K + k] = b[k * N + j];
  for (int form = 0; form < 3; form++) {
    if (form == 0)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
    else if (form == 1)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, bt, K, 0.0f, c, N);
    else
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, N, K, 1.0f, at, M, b, N, 0.0f, c, N);
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) {
        double ref = 0.0, mag = 0.0;
        for (int k = 0; k < K; k++) {
          ref += (double)a[i * K + k] * b[k * N + j];
          mag += fabs((double)a[i * K + k] * b[k * N + j]);
        }
        if (!(fabs(c[i * N + j] - ref) <= 1e-5 * mag + 1e-6)) return -1;
      }
  }
  return 0;
}

/* argv of this process from /proc/self/cmdline when main's argv is not at hand. */
static char **read_cmdline(void) {
  static char buf[65536];
  static char *args[1024];
  FILE *f = fopen("/proc/self/cmdline", "rb");
  if (!f) return NULL;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  int k = 0;
  for (size_t i = 0; i < n && k < 1023; i += strlen(buf + i) + 1)
    args[k++] = buf + i;
  args[k] = NULL;
  return k ? args : NULL;
}

static void reexec(char **argv) {
  fflush(stdout);
  fflush(stderr);
  execv("/proc/self/exe", argv);
  /* only reached when exec failed: keep running on the current kernel */
}

/* OpenBLAS's own; ends its worker threads, which it starts again (from the calling thread) on
 * the next parallel call. */
int blas_thread_shutdown_(void);

int o2o_fp_flush_denormals(void) {
#if defined(__SSE__)
  _mm_setcsr(_mm_getcsr() | 0x8040); /* FTZ (bit 15) and DAZ (bit 6) */
  /* threads copy the creator's MXCSR; OpenBLAS started its workers when it loaded, before
   * main(), so they would keep computing on denormals: restart them from this thread */
  blas_thread_shutdown_();
  return 1;
#else
  return 0;
#endif
}

/* In every process that keeps running (not before a re-exec), and before any thread it sizes
 * here starts, so that they inherit the flush. */
static void setup_threads(void) {
  o2o_fp_flush_denormals();
  const char *t = getenv("O2O_BLAS_THREADS");
  if (t && atoi(t) >= 1)
    openblas_set_num_threads(atoi(t));
  else if (!getenv("OPENBLAS_NUM_THREADS") && !getenv("OPENBLAS_NUM_THREAD"))
    openblas_set_num_threads(1);
  /* o2o's own worker (par.h): opt-in until it is measured faster on an idle machine */
  const char *p = getenv("O2O_PAR_THREADS");
  if (p && atoi(p) >= 1) o2o_par_set_threads(atoi(p));
}

void o2o_blas_setup(int argc, char **argv) {
  const char *marker = getenv(MARKER);
  const char *user_core = getenv("OPENBLAS_CORETYPE");
  if (!argv || argc <= 0) argv = read_cmdline();

  if (marker && !strcmp(marker, "fallback")) {
    unsetenv(MARKER);
    fprintf(stderr,
            "o2o: OpenBLAS self-check failed with a fast kernel; kept the generic kernel '%s' "
            "(about 5x slower; set OPENBLAS_CORETYPE to override)\n",
            o2o_blas_corename());
  } else if (marker) {
    /* we are the re-executed process: verify the kernel we asked for */
    unsetenv(MARKER);
    setup_threads();
    if (o2o_blas_selfcheck() == 0 && !getenv("O2O_BLAS_TEST_SELFCHECK_FAIL")) {
      fprintf(stderr,
              "o2o: OpenBLAS did not recognise this CPU (generic kernel '%s'); selected "
              "OPENBLAS_CORETYPE=%s -> kernel %s, sgemm self-check passed, %d thread(s)\n",
              marker + strcspn(marker, ":") + (marker[strcspn(marker, ":")] ? 1 : 0),
              user_core ? user_core : "?", o2o_blas_corename(), o2o_blas_threads());
      return;
    }
    if (argv) {
      unsetenv("OPENBLAS_CORETYPE");
      setenv(MARKER, "fallback", 1);
      reexec(argv);
    }
    fprintf(stderr, "o2o: warning: OpenBLAS sgemm self-check failed on kernel %s\n",
            o2o_blas_corename());
    return;
  } else if (!user_core && argv &&
             (is_generic(o2o_blas_corename()) || getenv("O2O_BLAS_ASSUME_GENERIC"))) {
    __builtin_cpu_init();
    const char *want = __builtin_cpu_supports("avx512f") ? "SkylakeX"
                       : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? "Haswell"
                                                                                         : NULL;
    if (want) {
      char m[96];
      snprintf(m, sizeof m, "%s:%s", want, o2o_blas_corename());
      setenv("OPENBLAS_CORETYPE", want, 1);
      setenv(MARKER, m, 1);
      reexec(argv);
      unsetenv("OPENBLAS_CORETYPE");
      unsetenv(MARKER);
      fprintf(stderr,
              "o2o: warning: could not re-execute with OPENBLAS_CORETYPE=%s; running on "
              "the generic OpenBLAS kernel '%s' (about 5x slower)\n",
              want, o2o_blas_corename());
    }
  }
  setup_threads();
}
