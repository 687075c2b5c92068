/* agent_errf.c: the error writer, the number text and the clock declared in o2o_agent.h. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "o2o_agent.h"

double o2o_agent_now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void o2o_agent_errf(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

void o2o_agent_num_text(double v, char *buf, size_t n) {
  if (!buf || n == 0) return;
  if (!isfinite(v)) {
    snprintf(buf, n, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
    return;
  }
  if (v == floor(v) && fabs(v) < 1e15) {
    snprintf(buf, n, "%.0f", v == 0 ? 0.0 : v); /* no "-0" */
    return;
  }
  const float fv = (float)v;
  if ((double)fv == v) {
    for (int prec = 1; prec <= 9; prec++) {
      snprintf(buf, n, "%.*g", prec, v);
      if (strtof(buf, NULL) == fv) return;
    }
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, n, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) return;
  }
}
