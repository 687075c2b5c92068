/* progress.h: progress lines on stderr that read well both in a terminal and in a log file.
 *
 * A terminal (isatty(2)) gets one line rewritten in place ("\r\033[K"), at most every tty_every
 * seconds. Anything else (a log file, a pipe) gets whole newline-ended lines, at most one every
 * log_every seconds: a log holds lines one can read and grep, not one long line of carriage
 * returns. Every long command (train-online, train-offline, collect, gap) shows its progress
 * through these. */
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

typedef struct o2o_progress {
  int tty;      /* stderr is a terminal */
  int open;     /* a terminal line is shown without its newline */
  double every; /* seconds between lines: tty_every or log_every */
  double last;  /* when the last line was shown (monotonic seconds; init: the start) */
} o2o_progress;

void o2o_progress_init(o2o_progress *p, double tty_every, double log_every);
/* 1 when a line is due: force, or the interval has passed since the last one. */
int o2o_progress_due(const o2o_progress *p, int force);
/* One progress line (fmt without a newline), and the time of it. In place on a terminal,
 * where keep ends it with a newline so it stays (a final line, an evaluation); a whole line
 * otherwise. */
void o2o_progress_show(o2o_progress *p, int keep, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A line of its own (fmt without a newline) between progress lines: it replaces an open
 * terminal line and stays; the throttle is left as it was. */
void o2o_progress_note(o2o_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* End an open terminal line, so what follows (an error) starts on a line of its own. */
void o2o_progress_end(o2o_progress *p);

#ifdef __cplusplus
}
#endif
