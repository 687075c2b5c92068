/* o2o_flags.h: the one command-line parser of every `o2o` command and of `o2o-sim`.
 *
 * A command describes its flags in a table (name, whether it takes a value, help text, and
 * where the value goes: a typed destination or a handler), then parses argv once:
 *
 *   o2o_flags *f = o2o_flags_create("o2o eval");
 *   o2o_flags_str(f, "checkpoint", &ckpt, "C", "checkpoint to evaluate");
 *   o2o_flags_i64(f, "episodes", &episodes, 1, 10000, "N", "episodes (default 10)");
 *   o2o_flags_bool(f, "json", &json, "one JSON object on stdout");
 *   o2o_flags_std(f, usage, "o2o " O2O_VERSION);  // --help prints usage(stdout), --version
 *   int rc = o2o_flags_parse(f, argc, argv);       // -1: error printed; 1: help/version printed
 *   o2o_flags_destroy(f);
 *   if (rc) return rc < 0 ? 2 : 0;
 *
 * Behaviour (the same everywhere, as getopt_long):
 *   --flag value and --flag=value; a value may start with '-' (--stop-at-return -150);
 *   a unique prefix is accepted (--eval-ep = --eval-episodes), an exact name always wins,
 *   an ambiguous prefix is an error listing the candidates; "-h" means --help when a "help"
 *   flag exists; "--" ends the flags; other arguments are positionals (refused unless
 *   o2o_flags_positionals allows them).
 *   Errors go to stderr as "PROG: ..." and parse returns -1 (the caller exits with 2):
 *   "unknown option '--stpes' (did you mean --steps?)", "option '--eval' is ambiguous
 *   (--eval-every, --eval-seed)", "--steps needs a value", "--json takes no value",
 *   "--steps expects an integer >= 1, got '5k'", "--variant must be real or sim, got 'x'".
 * Numbers are checked whole (no trailing garbage), finite and in range before they are stored.
 *
 * Learner config fields become flags with o2o_cli_learner_flags (agent/cli/cli.h), which
 * appends one O2O_FLAG_FN flag per field ('_' -> '-'). o2o_flags_suggest gives the
 * "did you mean" for other names (commands, scenarios). */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  O2O_FLAG_BOOL, /* no value; dest int*, set to 1 */
  O2O_FLAG_STR,  /* dest const char ** (points into argv); choices "a|b" restricts it */
  O2O_FLAG_INT,  /* dest int *, range [lo, hi] */
  O2O_FLAG_I64,  /* dest int64_t *, range [lo, hi] */
  O2O_FLAG_U64,  /* dest uint64_t *, range [lo, hi] (lo >= 0) */
  O2O_FLAG_NUM,  /* dest double *, finite, range [lo, hi] */
  O2O_FLAG_FN    /* fn(flag, value, err, errlen) parses the value itself */
} o2o_flag_kind;

typedef struct o2o_flag o2o_flag;
/* Handler of an O2O_FLAG_FN flag: 0, or -1 with err (printed as "PROG: err"). */
typedef int (*o2o_flag_fn)(const o2o_flag *flag, const char *value, char *err, size_t errlen);

struct o2o_flag {
  const char *name; /* without the dashes: "eval-every" */
  o2o_flag_kind kind;
  void *dest;          /* see o2o_flag_kind; for FN: the handler's object */
  const void *data;    /* FN: anything the handler needs (e.g. a learner field) */
  o2o_flag_fn fn;      /* FN only */
  int64_t lo, hi;      /* INT, I64, U64 range (inclusive) */
  double dlo, dhi;     /* NUM range (inclusive) */
  const char *choices; /* STR: "real|sim" = the accepted values; NULL = any */
  const char *metavar; /* "N", "FILE" in help; NULL for BOOL */
  const char *help;    /* one line */
  int tag;             /* free for the command (e.g. "fixed by --resume") */
  int count;           /* how many times it was given (set by parse) */
  const char *value;   /* the last value given (NULL for BOOL or when not given) */
};

typedef struct o2o_flags o2o_flags;

/* prog: the name errors start with ("o2o train-online", "o2o-sim"). NULL on out of memory. */
o2o_flags *o2o_flags_create(const char *prog);
void o2o_flags_destroy(o2o_flags *f); /* NULL is fine */

/* Add a flag (the name is copied; the later of two equal names is never matched). Each returns
 * the flag (to set tag, choices...) or NULL on out of memory (then parse fails cleanly). */
o2o_flag *o2o_flags_bool(o2o_flags *f, const char *name, int *dest, const char *help);
o2o_flag *o2o_flags_str(o2o_flags *f, const char *name, const char **dest, const char *metavar,
                        const char *help);
o2o_flag *o2o_flags_int(o2o_flags *f, const char *name, int *dest, int64_t lo, int64_t hi,
                        const char *metavar, const char *help);
o2o_flag *o2o_flags_i64(o2o_flags *f, const char *name, int64_t *dest, int64_t lo, int64_t hi,
                        const char *metavar, const char *help);
o2o_flag *o2o_flags_u64(o2o_flags *f, const char *name, uint64_t *dest, int64_t lo, int64_t hi,
                        const char *metavar, const char *help);
o2o_flag *o2o_flags_num(o2o_flags *f, const char *name, double *dest, double lo, double hi,
                        const char *metavar, const char *help);
o2o_flag *o2o_flags_fn(o2o_flags *f, const char *name, o2o_flag_fn fn, void *dest, const void *data,
                       const char *metavar, const char *help);

/* Register --help (-h) and, when version is not NULL, --version: parse then prints usage(stdout)
 * or the version line on stdout and returns 1 (the command exits 0). */
void o2o_flags_std(o2o_flags *f, void (*usage)(FILE *out), const char *version);

/* Positionals accepted (default 0..0); what names them in errors ("DATASET"). */
void o2o_flags_positionals(o2o_flags *f, int min, int max, const char *what);

/* Parse argv[1..argc-1] (argv[0] is the program or command name). 0; 1 when o2o_flags_std's
 * --help or --version was given and printed; -1 after printing the error on stderr (the
 * caller exits with 2). Flags are applied in command-line order. */
int o2o_flags_parse(o2o_flags *f, int argc, char **argv);

/* The value of flag `name` on the command line, without applying anything or printing errors
 * (unknown flags are skipped): for a flag that decides the rest of the table (--algo decides
 * the learner flags). Prefixes resolve against the flags already in f. NULL if not given. */
const char *o2o_flags_peek(const o2o_flags *f, int argc, char **argv, const char *name);

/* After parse: the positionals, and lookup by name (exact) of a flag of the table. */
int o2o_flags_npos(const o2o_flags *f);
const char *o2o_flags_pos(const o2o_flags *f, int i);
const o2o_flag *o2o_flags_get(const o2o_flags *f, const char *name);
int o2o_flags_given(const o2o_flags *f, const char *name); /* times given; 0 when unknown */
int o2o_flags_num_flags(const o2o_flags *f);
const o2o_flag *o2o_flags_at(const o2o_flags *f, int i);

/* "  --name META   help" for every flag, one per line. */
void o2o_flags_help(const o2o_flags *f, FILE *out);

/* Levenshtein distance, and the candidate nearest to word when it is close enough to be a
 * plausible typo (distance <= 2, or <= a third of the word), else NULL. A longer name is also
 * measured by its start of about word's length (at least 1), so a typo of a prefix counts:
 * "trian" is near train-online. For "did you mean" on commands and scenario names.
 * o2o_flags_suggest_all: every candidate as near as the nearest, up to cap, into out; returns
 * how many (0: none close enough). */
int o2o_flags_edit_distance(const char *a, const char *b);
const char *o2o_flags_suggest(const char *word, const char *const *candidates, int n);
int o2o_flags_suggest_all(const char *word, const char *const *candidates, int n, const char **out,
                          int cap);

#ifdef __cplusplus
}
#endif
