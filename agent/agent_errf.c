/* agent_errf.c: the error writer declared in o2o_agent.h. */
#include <stdarg.h>
#include <stdio.h>

#include "o2o_agent.h"

void o2o_agent_errf(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}
