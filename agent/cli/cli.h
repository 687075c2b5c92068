/* cli.h: what o2o's commands share on top of the flag parser (flags/o2o_flags.h):
 * learner config fields as flags, and checked number parsing for the few values read
 * outside a flag table. A typo, trailing garbage or a value out of range prints
 * "o2o CMD: FLAG expects ..., got 'S'" on stderr and returns -1 (the caller exits with the
 * usage code 2); nothing is silently read as 0. */
#pragma once
#include <stdint.h>

#include "learn/learner.h"
#include "o2o_flags.h"

int o2o_cli_int(const char *cmd, const char *flag, const char *s, int64_t lo, int64_t hi,
                int64_t *out);

/* One flag per config field of algo ("--batch-size" for batch_size), parsed into cfg (the
 * algorithm's config struct) with the field's type and range; each flag's tag is set to tag.
 * Returns 0, or -1 when out of memory (o2o_flags_parse then fails too). */
int o2o_cli_learner_flags(o2o_flags *f, const o2o_learner_algo *algo, void *cfg, int tag);

/* The flag name of a learner field: "batch_size" -> "batch-size" (in buf). */
const char *o2o_cli_field_flag(const o2o_learner_field *fl, char *buf, size_t cap);
