/* json_out.h: the small pieces of JSON output the o2o commands share (config.json,
 * --json results). Strings are escaped; non-finite numbers become null. */
#pragma once
#include <stdio.h>

void o2o_json_str(FILE *f, const char *s); /* NULL writes "" */
void o2o_json_num(FILE *f, double v);
