/* stop.h: Ctrl-C and SIGTERM during a long loop (train-online, train-offline): instead of
 * dying mid-step, the process notes the request; the loop finishes its step, writes its
 * checkpoint and returns an error that says "interrupted", which callers treat as resumable
 * (no FAILED marker: the folder stays a run to continue). */
#pragma once
#include <signal.h>
#include <stddef.h>

typedef struct {
  struct sigaction old_int, old_term;
} o2o_stop;

/* Installs the handlers (the previous ones kept in s) and clears the request. */
void o2o_stop_begin(o2o_stop *s);
/* Restores the previous handlers. */
void o2o_stop_end(o2o_stop *s);
/* 1 once SIGINT or SIGTERM arrived since o2o_stop_begin. */
int o2o_stop_requested(void);
/* After a loop failed (rc != 0) while a stop was requested: a signal cut a simulator call
 * short, so append " (interrupted by a signal)" to err (unless it says "interrupted")
 * rather than blame the simulator. */
void o2o_stop_explain(int rc, char *err, size_t errlen);
