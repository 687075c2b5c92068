/* cli.h: checked parsing of the numbers on o2o's command lines. A typo, trailing garbage or
 * a value out of range prints "o2o CMD: FLAG expects ..., got 'S'" on stderr and returns -1
 * (the caller exits with the usage code 2); nothing is silently read as 0. */
#pragma once
#include <stdint.h>

int o2o_cli_int(const char *cmd, const char *flag, const char *s, int64_t lo, int64_t hi,
                int64_t *out);
int o2o_cli_num(const char *cmd, const char *flag, const char *s, double lo, double hi,
                double *out); /* finite values only */
