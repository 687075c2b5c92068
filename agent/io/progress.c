/* progress.c: see progress.h. */
#include "io/progress.h"

#include "o2o_agent.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

void o2o_progress_init(o2o_progress *p, double tty_every, double log_every) {
  p->tty = isatty(2);
  p->open = 0;
  p->every = p->tty ? tty_every : log_every;
  p->last = o2o_agent_now_s();
}

int o2o_progress_due(const o2o_progress *p, int force) {
  return force || o2o_agent_now_s() - p->last >= p->every;
}

static void vline(o2o_progress *p, int keep, const char *fmt, va_list ap) {
  if (p->tty) fputs("\r\033[K", stderr);
  vfprintf(stderr, fmt, ap);
  p->open = p->tty && !keep;
  if (!p->open) fputc('\n', stderr);
  fflush(stderr);
}

void o2o_progress_show(o2o_progress *p, int keep, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vline(p, keep, fmt, ap);
  va_end(ap);
  p->last = o2o_agent_now_s();
}

void o2o_progress_note(o2o_progress *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vline(p, 1, fmt, ap);
  va_end(ap);
}

void o2o_progress_end(o2o_progress *p) {
  if (p->open) fputc('\n', stderr);
  p->open = 0;
}
