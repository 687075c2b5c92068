/* cli.c: see cli.h. */
#include "cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The messages of o2o_flags.h's own number checks, for values checked outside a table. */
static void int_error(char *err, size_t cap, const char *flag, const char *s, int64_t lo,
                      int64_t hi) {
  if (hi == INT64_MAX)
    snprintf(err, cap, "%s expects an integer >= %lld, got '%s'", flag, (long long)lo, s);
  else
    snprintf(err, cap, "%s expects an integer in [%lld, %lld], got '%s'", flag, (long long)lo,
             (long long)hi, s);
}

static int check_int(const char *s, int64_t lo, int64_t hi, int64_t *out) {
  char *end = NULL;
  errno = 0;
  long long v = s ? strtoll(s, &end, 10) : 0;
  if (!s || errno || end == s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

static int check_num(const char *s, double lo, double hi, double *out) {
  char *end = NULL;
  errno = 0;
  double v = s ? strtod(s, &end) : 0;
  if (!s || errno || end == s || *end || !isfinite(v) || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

int o2o_cli_int(const char *cmd, const char *flag, const char *s, int64_t lo, int64_t hi,
                int64_t *out) {
  if (!check_int(s, lo, hi, out)) return 0;
  char err[512];
  int_error(err, sizeof err, flag, s ? s : "", lo, hi);
  fprintf(stderr, "o2o %s: %s\n", cmd, err);
  return -1;
}

const char *o2o_cli_field_flag(const o2o_learner_field *fl, char *buf, size_t cap) {
  snprintf(buf, cap, "%s", fl->name);
  for (char *c = buf; *c; c++)
    if (*c == '_') *c = '-';
  return buf;
}

/* A learner field's flag: range first (the message of every other number flag), then the
 * learner's own parse (integer check, float storage). */
static int field_flag(const o2o_flag *flag, const char *v, char *err, size_t errlen) {
  const o2o_learner_field *fl = flag->data;
  char name[80];
  snprintf(name, sizeof name, "--%s", flag->name);
  if (fl->type == O2O_FIELD_INT) {
    int64_t n;
    if (check_int(v, (int64_t)fl->min, (int64_t)fl->max, &n)) {
      int_error(err, errlen, name, v, (int64_t)fl->min, (int64_t)fl->max);
      return -1;
    }
  } else {
    double d;
    if (check_num(v, fl->min, fl->max, &d)) {
      snprintf(err, errlen, "%s expects a number in [%g, %g], got '%s'", name, fl->min, fl->max, v);
      return -1;
    }
  }
  return o2o_learner_field_parse(fl, flag->dest, v, err, errlen);
}

int o2o_cli_learner_flags(o2o_flags *f, const o2o_learner_algo *algo, void *cfg, int tag) {
  for (int i = 0; i < algo->num_fields; i++) {
    const o2o_learner_field *fl = &algo->fields[i];
    char name[80];
    o2o_flag *x = o2o_flags_fn(f, o2o_cli_field_flag(fl, name, sizeof name), field_flag, cfg, fl,
                               fl->type == O2O_FIELD_INT ? "N" : "X", fl->help);
    if (!x) return -1;
    x->tag = tag;
  }
  return 0;
}
