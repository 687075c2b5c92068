/* bench_common.h: the small helpers every o2o-bench-* program shares (each bench_X.c is its
 * own program, so these are static inline rather than a library file). */
#pragma once
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Seconds on clock id: CLOCK_MONOTONIC (wall), CLOCK_THREAD_CPUTIME_ID, ... */
static inline double o2o_bench_seconds(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* "PROG: FLAG wants an integer in [lo, hi], got 'S'" on stderr and -1 unless S is one. */
static inline int o2o_bench_parse_int(const char *prog, const char *flag, const char *s, int lo,
                                      int hi, int *out) {
  char *end = NULL;
  errno = 0;
  long v = s ? strtol(s, &end, 10) : 0;
  if (!s || errno || end == s || *end || v < lo || v > hi) {
    fprintf(stderr, "%s: %s wants an integer in [%d, %d], got '%s'\n", prog, flag, lo, hi,
            s ? s : "(nothing)");
    return -1;
  }
  *out = (int)v;
  return 0;
}

static inline int o2o_bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of v[0..n) (v is left as it was; n <= 4096). */
static inline double o2o_bench_median(const double *v, int n) {
  double c[4096];
  if (n < 1 || n > 4096) return 0;
  memcpy(c, v, sizeof(double) * (size_t)n);
  qsort(c, (size_t)n, sizeof(double), o2o_bench_cmp_double);
  return n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
}
