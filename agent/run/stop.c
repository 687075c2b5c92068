/* stop.c: see stop.h. */
#include "run/stop.h"

#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t requested;

static void on_signal(int sig) {
  (void)sig;
  requested = 1;
}

void o2o_stop_begin(o2o_stop *s) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  requested = 0;
  sigaction(SIGINT, &sa, &s->old_int);
  sigaction(SIGTERM, &sa, &s->old_term);
}

void o2o_stop_end(o2o_stop *s) {
  sigaction(SIGINT, &s->old_int, NULL);
  sigaction(SIGTERM, &s->old_term, NULL);
}

int o2o_stop_requested(void) {
  return requested != 0;
}

void o2o_stop_explain(int rc, char *err, size_t errlen) {
  if (!rc || !err || !errlen || !requested || strstr(err, "interrupted")) return;
  size_t k = strnlen(err, errlen - 1);
  snprintf(err + k, errlen - k, " (interrupted by a signal)");
}
