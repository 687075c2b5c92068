/* cli.c: see cli.h. */
#include "cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int o2o_cli_int(const char *cmd, const char *flag, const char *s, int64_t lo, int64_t hi,
                int64_t *out) {
  char *end = NULL;
  errno = 0;
  long long v = s ? strtoll(s, &end, 10) : 0;
  if (!s || errno || end == s || *end || v < lo || v > hi) {
    if (hi == INT64_MAX)
      fprintf(stderr, "o2o %s: %s expects an integer >= %lld, got '%s'\n", cmd, flag, (long long)lo,
              s ? s : "");
    else
      fprintf(stderr, "o2o %s: %s expects an integer in [%lld, %lld], got '%s'\n", cmd, flag,
              (long long)lo, (long long)hi, s ? s : "");
    return -1;
  }
  *out = v;
  return 0;
}

int o2o_cli_num(const char *cmd, const char *flag, const char *s, double lo, double hi,
                double *out) {
  char *end = NULL;
  errno = 0;
  double v = s ? strtod(s, &end) : 0;
  if (!s || errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
    fprintf(stderr, "o2o %s: %s expects a number in [%g, %g], got '%s'\n", cmd, flag, lo, hi,
            s ? s : "");
    return -1;
  }
  *out = v;
  return 0;
}
