/* json_out.h: the small pieces of JSON output the o2o commands share (config.json,
 * --json results). Strings are escaped; numbers are the shortest text that reads back
 * (o2o_agent_num_text: 0.99, not 0.99000001); non-finite numbers become null. */
#pragma once
#include <stdio.h>

void o2o_json_str(FILE *f, const char *s); /* NULL writes "" */
void o2o_json_num(FILE *f, double v);

/* Record this process's command line and start time (main calls it once; argv must live
 * as long as the process). */
void o2o_json_set_invocation(int argc, char *const *argv);
/* Write the provenance members of a config.json, each on its own line after indent and
 * followed by ",\n": "command_line" (argv as an array; [] when never set), "git_commit"
 * (`git describe --always --dirty` at configure time, "unknown" outside a checkout), "host",
 * "start_time" (UTC, ISO-8601). */
void o2o_json_invocation(FILE *f, const char *indent);
