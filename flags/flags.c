/* flags.c: see o2o_flags.h. */
#include "o2o_flags.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct o2o_flags {
  const char *prog;
  o2o_flag *flags;
  int n, cap;
  int oom;              /* an add failed: parse refuses */
  int pos_min, pos_max; /* positionals accepted */
  const char *pos_what;
  const char **pos; /* positionals after parse (point into argv) */
  int npos;
  void (*usage)(FILE *out); /* o2o_flags_std */
  const char *version;
  int help_given, version_given;
};

o2o_flags *o2o_flags_create(const char *prog) {
  o2o_flags *f = calloc(1, sizeof *f);
  if (f) f->prog = prog ? prog : "o2o";
  return f;
}

void o2o_flags_destroy(o2o_flags *f) {
  if (!f) return;
  for (int i = 0; i < f->n; i++)
    free((char *)f->flags[i].name);
  free(f->flags);
  free(f->pos);
  free(f);
}

static o2o_flag *add(o2o_flags *f, const char *name, o2o_flag_kind kind, void *dest,
                     const char *metavar, const char *help) {
  if (!f) return NULL;
  char *copy = strdup(name ? name : "");
  if (!copy) {
    f->oom = 1;
    return NULL;
  }
  if (f->n == f->cap) {
    int cap = f->cap ? 2 * f->cap : 32;
    o2o_flag *p = realloc(f->flags, (size_t)cap * sizeof *p);
    if (!p) {
      free(copy);
      f->oom = 1;
      return NULL;
    }
    f->flags = p;
    f->cap = cap;
  }
  o2o_flag *fl = &f->flags[f->n++];
  memset(fl, 0, sizeof *fl);
  fl->name = copy;
  fl->kind = kind;
  fl->dest = dest;
  fl->metavar = metavar;
  fl->help = help ? help : "";
  return fl;
}

o2o_flag *o2o_flags_bool(o2o_flags *f, const char *name, int *dest, const char *help) {
  return add(f, name, O2O_FLAG_BOOL, dest, NULL, help);
}
o2o_flag *o2o_flags_str(o2o_flags *f, const char *name, const char **dest, const char *metavar,
                        const char *help) {
  return add(f, name, O2O_FLAG_STR, (void *)dest, metavar, help);
}
static o2o_flag *add_int(o2o_flags *f, const char *name, o2o_flag_kind k, void *dest, int64_t lo,
                         int64_t hi, const char *metavar, const char *help) {
  o2o_flag *fl = add(f, name, k, dest, metavar, help);
  if (fl) fl->lo = lo, fl->hi = hi;
  return fl;
}
o2o_flag *o2o_flags_int(o2o_flags *f, const char *name, int *dest, int64_t lo, int64_t hi,
                        const char *metavar, const char *help) {
  return add_int(f, name, O2O_FLAG_INT, dest, lo, hi, metavar, help);
}
o2o_flag *o2o_flags_i64(o2o_flags *f, const char *name, int64_t *dest, int64_t lo, int64_t hi,
                        const char *metavar, const char *help) {
  return add_int(f, name, O2O_FLAG_I64, dest, lo, hi, metavar, help);
}
o2o_flag *o2o_flags_u64(o2o_flags *f, const char *name, uint64_t *dest, int64_t lo, int64_t hi,
                        const char *metavar, const char *help) {
  return add_int(f, name, O2O_FLAG_U64, dest, lo < 0 ? 0 : lo, hi, metavar, help);
}
o2o_flag *o2o_flags_num(o2o_flags *f, const char *name, double *dest, double lo, double hi,
                        const char *metavar, const char *help) {
  o2o_flag *fl = add(f, name, O2O_FLAG_NUM, dest, metavar, help);
  if (fl) fl->dlo = lo, fl->dhi = hi;
  return fl;
}
o2o_flag *o2o_flags_fn(o2o_flags *f, const char *name, o2o_flag_fn fn, void *dest, const void *data,
                       const char *metavar, const char *help) {
  o2o_flag *fl = add(f, name, O2O_FLAG_FN, dest, metavar, help);
  if (fl) fl->fn = fn, fl->data = data;
  return fl;
}

void o2o_flags_std(o2o_flags *f, void (*usage)(FILE *out), const char *version) {
  if (!f) return;
  f->usage = usage;
  f->version = version;
  o2o_flags_bool(f, "help", &f->help_given, "this text");
  if (version) o2o_flags_bool(f, "version", &f->version_given, "print the version");
}

void o2o_flags_positionals(o2o_flags *f, int min, int max, const char *what) {
  f->pos_min = min;
  f->pos_max = max;
  f->pos_what = what;
}

/* ---- lookup --------------------------------------------------------------------------------- */

enum { FOUND = 0, UNKNOWN = -1, AMBIGUOUS = -2 };

/* The flag `name` (len chars) names: exact, else the one flag it is a prefix of. */
static int lookup(const o2o_flags *f, const char *name, size_t len, int *index) {
  int hit = -1, hits = 0;
  for (int i = 0; i < f->n; i++) {
    if (strncmp(f->flags[i].name, name, len)) continue;
    if (f->flags[i].name[len] == 0) {
      *index = i;
      return FOUND;
    }
    hit = i, hits++;
  }
  if (hits == 1) {
    *index = hit;
    return FOUND;
  }
  return hits ? AMBIGUOUS : UNKNOWN;
}

static void report_unknown(const o2o_flags *f, const char *arg, const char *name, size_t len) {
  char word[128];
  snprintf(word, sizeof word, "%.*s", (int)(len < 127 ? len : 127), name);
  const char **names = malloc(sizeof(char *) * (size_t)(f->n ? f->n : 1));
  const char *best = NULL;
  if (names) {
    for (int i = 0; i < f->n; i++)
      names[i] = f->flags[i].name;
    best = o2o_flags_suggest(word, names, f->n);
    free(names);
  }
  if (best)
    fprintf(stderr, "%s: unknown option '%s' (did you mean --%s?)\n", f->prog, arg, best);
  else
    fprintf(stderr, "%s: unknown option '%s' (see --help)\n", f->prog, arg);
}

static void report_ambiguous(const o2o_flags *f, const char *arg, const char *name, size_t len) {
  fprintf(stderr, "%s: option '%s' is ambiguous (", f->prog, arg);
  int k = 0;
  for (int i = 0; i < f->n; i++)
    if (!strncmp(f->flags[i].name, name, len))
      fprintf(stderr, "%s--%s", k++ ? ", " : "", f->flags[i].name);
  fprintf(stderr, ")\n");
}

/* ---- values --------------------------------------------------------------------------------- */

static int parse_int(const o2o_flags *f, const o2o_flag *fl, const char *s, int64_t *out) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < fl->lo || v > fl->hi) {
    if (fl->hi == INT64_MAX)
      fprintf(stderr, "%s: --%s expects an integer >= %lld, got '%s'\n", f->prog, fl->name,
              (long long)fl->lo, s);
    else
      fprintf(stderr, "%s: --%s expects an integer in [%lld, %lld], got '%s'\n", f->prog, fl->name,
              (long long)fl->lo, (long long)fl->hi, s);
    return -1;
  }
  *out = v;
  return 0;
}

/* choices "real|sim" holds s as one of its |-separated words */
static int is_choice(const char *choices, const char *s) {
  size_t n = strlen(s);
  for (const char *c = choices; c && *c;) {
    const char *bar = strchr(c, '|');
    size_t len = bar ? (size_t)(bar - c) : strlen(c);
    if (len == n && !strncmp(c, s, n)) return 1;
    c = bar ? bar + 1 : NULL;
  }
  return 0;
}

static int apply(const o2o_flags *f, o2o_flag *fl, const char *v) {
  int64_t n;
  switch (fl->kind) {
  case O2O_FLAG_BOOL:
    if (fl->dest) *(int *)fl->dest = 1;
    return 0;
  case O2O_FLAG_STR:
    if (fl->choices && !is_choice(fl->choices, v)) {
      fprintf(stderr, "%s: --%s must be ", f->prog, fl->name);
      for (const char *c = fl->choices; *c; c++) {
        if (*c == '|')
          fputs(strchr(c + 1, '|') ? ", " : " or ", stderr);
        else
          fputc(*c, stderr);
      }
      fprintf(stderr, ", got '%s'\n", v);
      return -1;
    }
    if (fl->dest) *(const char **)fl->dest = v;
    return 0;
  case O2O_FLAG_INT:
  case O2O_FLAG_I64:
  case O2O_FLAG_U64:
    if (parse_int(f, fl, v, &n)) return -1;
    if (!fl->dest) return 0;
    if (fl->kind == O2O_FLAG_INT)
      *(int *)fl->dest = (int)n;
    else if (fl->kind == O2O_FLAG_I64)
      *(int64_t *)fl->dest = n;
    else
      *(uint64_t *)fl->dest = (uint64_t)n;
    return 0;
  case O2O_FLAG_NUM: {
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d) || d < fl->dlo || d > fl->dhi) {
      fprintf(stderr, "%s: --%s expects a number in [%g, %g], got '%s'\n", f->prog, fl->name,
              fl->dlo, fl->dhi, v);
      return -1;
    }
    if (fl->dest) *(double *)fl->dest = d;
    return 0;
  }
  case O2O_FLAG_FN: {
    char err[1024] = "";
    if (fl->fn && fl->fn(fl, v, err, sizeof err)) {
      fprintf(stderr, "%s: %s\n", f->prog, err[0] ? err : "bad value");
      return -1;
    }
    return 0;
  }
  }
  return -1;
}

/* ---- parse ---------------------------------------------------------------------------------- */

/* One pass over argv. apply_values = 0: match only, silently (peek). Returns 0 or -1. */
static int run(o2o_flags *f, int argc, char **argv, int apply_values, const char *peek_name,
               const char **peeked) {
  int only_pos = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (only_pos || a[0] != '-' || !a[1]) {
      if (!apply_values) continue;
      if (f->npos >= f->pos_max) {
        fprintf(stderr, "%s: unexpected argument '%s'%s\n", f->prog, a,
                f->pos_max ? " (too many)" : " (see --help)");
        return -1;
      }
      f->pos[f->npos++] = a;
      continue;
    }
    if (!strcmp(a, "--")) {
      only_pos = 1;
      continue;
    }
    const char *name, *eq;
    size_t len;
    if (a[1] != '-') { /* single dash: only -h (for --help) */
      if (strcmp(a, "-h") || !o2o_flags_get(f, "help")) {
        if (!apply_values) continue;
        fprintf(stderr, "%s: unknown option '%s' (see --help)\n", f->prog, a);
        return -1;
      }
      name = "help", len = 4, eq = NULL;
    } else {
      name = a + 2;
      eq = strchr(name, '=');
      len = eq ? (size_t)(eq - name) : strlen(name);
    }
    int k = -1, r = lookup(f, name, len, &k);
    if (r != FOUND) {
      if (!apply_values) { /* skip a likely value of the unknown flag */
        if (!eq && i + 1 < argc && strncmp(argv[i + 1], "--", 2)) i++;
        continue;
      }
      if (r == AMBIGUOUS)
        report_ambiguous(f, a, name, len);
      else
        report_unknown(f, a, name, len);
      return -1;
    }
    o2o_flag *fl = &f->flags[k];
    const char *v = NULL;
    if (fl->kind == O2O_FLAG_BOOL) {
      if (eq) {
        if (apply_values) fprintf(stderr, "%s: --%s takes no value\n", f->prog, fl->name);
        if (apply_values) return -1;
        continue;
      }
    } else if (eq) {
      v = eq + 1;
    } else if (i + 1 < argc) {
      v = argv[++i];
    } else {
      if (apply_values) fprintf(stderr, "%s: --%s needs a value\n", f->prog, fl->name);
      if (apply_values) return -1;
      continue;
    }
    if (!apply_values) {
      if (peek_name && !strcmp(fl->name, peek_name)) *peeked = v;
      continue;
    }
    if (apply(f, fl, v)) return -1;
    fl->count++;
    fl->value = v;
  }
  return 0;
}

int o2o_flags_parse(o2o_flags *f, int argc, char **argv) {
  if (!f || f->oom) {
    fprintf(stderr, "%s: out of memory\n", f ? f->prog : "o2o");
    return -1;
  }
  free(f->pos);
  f->npos = 0;
  f->pos = malloc(sizeof(char *) * (size_t)(argc > 0 ? argc : 1));
  if (!f->pos) {
    fprintf(stderr, "%s: out of memory\n", f->prog);
    return -1;
  }
  for (int i = 0; i < f->n; i++)
    f->flags[i].count = 0, f->flags[i].value = NULL;
  f->help_given = f->version_given = 0;
  if (run(f, argc, argv, 1, NULL, NULL)) return -1;
  if (f->usage && f->help_given) {
    f->usage(stdout);
    return 1;
  }
  if (f->version && f->version_given) {
    printf("%s\n", f->version);
    return 1;
  }
  if (f->npos < f->pos_min) {
    fprintf(stderr, "%s: %s is needed (see --help)\n", f->prog,
            f->pos_what ? f->pos_what : "an argument");
    return -1;
  }
  return 0;
}

const char *o2o_flags_peek(const o2o_flags *f, int argc, char **argv, const char *name) {
  const char *v = NULL;
  if (f) run((o2o_flags *)f, argc, argv, 0, name, &v);
  return v;
}

int o2o_flags_npos(const o2o_flags *f) {
  return f->npos;
}
const char *o2o_flags_pos(const o2o_flags *f, int i) {
  return i >= 0 && i < f->npos ? f->pos[i] : NULL;
}
const o2o_flag *o2o_flags_get(const o2o_flags *f, const char *name) {
  for (int i = 0; i < f->n; i++)
    if (!strcmp(f->flags[i].name, name)) return &f->flags[i];
  return NULL;
}
int o2o_flags_given(const o2o_flags *f, const char *name) {
  const o2o_flag *fl = o2o_flags_get(f, name);
  return fl ? fl->count : 0;
}
int o2o_flags_num_flags(const o2o_flags *f) {
  return f->n;
}
const o2o_flag *o2o_flags_at(const o2o_flags *f, int i) {
  return i >= 0 && i < f->n ? &f->flags[i] : NULL;
}

void o2o_flags_help(const o2o_flags *f, FILE *out) {
  for (int i = 0; i < f->n; i++) {
    const o2o_flag *fl = &f->flags[i];
    char left[96];
    snprintf(left, sizeof left, "--%s%s%s", fl->name, fl->metavar ? " " : "",
             fl->metavar ? fl->metavar : "");
    fprintf(out, "  %-22s %s\n", left, fl->help);
  }
}

/* ---- did you mean --------------------------------------------------------------------------- */

int o2o_flags_edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 255 || lb > 255) return (int)(la > lb ? la : lb);
  int row[256];
  for (size_t j = 0; j <= lb; j++)
    row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int up = row[j];
      int best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

/* How near word is to c: its edit distance, or (a longer name) the distance to c's start of
 * about word's length, at least 1, so "trian" is near train-online; *prefix says the start
 * was nearer. */
static int suggest_distance(const char *word, const char *c, int *prefix) {
  size_t lw = strlen(word), lc = strlen(c);
  int d = o2o_flags_edit_distance(word, c), p = 1 << 30;
  if (lw >= 3 && lw < 256 && lc > lw) {
    char head[258];
    for (size_t k = lw - 1; k <= lw + 1 && k < lc; k++) {
      memcpy(head, c, k);
      head[k] = 0;
      int e = o2o_flags_edit_distance(word, head);
      if (e < p) p = e;
    }
    if (p < 1) p = 1;
  }
  *prefix = p < d;
  return p < d ? p : d;
}

int o2o_flags_suggest_all(const char *word, const char *const *candidates, int n, const char **out,
                          int cap) {
  int best_d = 1 << 30, best_p = 1, prefix;
  for (int i = 0; i < n; i++) {
    if (!candidates[i]) continue;
    int d = suggest_distance(word, candidates[i], &prefix);
    if (d < best_d || (d == best_d && !prefix)) best_d = d, best_p = prefix;
  }
  int lw = (int)strlen(word), limit = lw / 3 > 2 ? lw / 3 : 2;
  if (best_d > limit || best_d >= lw) return 0;
  int k = 0; /* every candidate as near (a whole-name match beats a start that is as near) */
  for (int i = 0; i < n && k < cap; i++)
    if (candidates[i] && suggest_distance(word, candidates[i], &prefix) == best_d &&
        prefix == best_p)
      out[k++] = candidates[i];
  return k;
}

const char *o2o_flags_suggest(const char *word, const char *const *candidates, int n) {
  const char *best = NULL;
  return o2o_flags_suggest_all(word, candidates, n, &best, 1) ? best : NULL;
}
