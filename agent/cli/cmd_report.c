/* cmd_report.c: `o2o report RUN_DIR`: the report of an `o2o run` folder (run/report.h), also
 * of a partial run; the same report `o2o run` writes at its end. Also of a folder of
 * `o2o train-offline` runs (the offline benchmark). */
#include <stdio.h>
#include <string.h>

#include "cli/o2o_commands.h"
#include "o2o_agent.h"
#include "o2o_flags.h"
#include "o2o_version.h"
#include "run/report.h"

static void usage(FILE *f) {
  fprintf(f, "usage: o2o report RUN_DIR [--out DIR] [--json] [--size WxH]\n"
             "  Reads an o2o run folder (runs/<experiment>: experiment.ini, <method>/seed<k>/\n"
             "  metrics.csv + DONE/FAILED, gap.json, run.log) and writes report.html\n"
             "  (self-contained), report.png and summary.csv. Works on a partial run: missing,\n"
             "  running and failed jobs are listed.\n"
             "  A folder of o2o train-offline runs (the offline benchmark: <dataset>-<algo>/\n"
             "  offline/seed<k>/, or one such folder; no experiment.ini) gets curves of the\n"
             "  D4RL score vs gradient step per dataset and a table of final and best scores.\n"
             "  --out DIR    where to write (default RUN_DIR)\n"
             "  --json       also the summary as one JSON object on stdout\n"
             "  --size WxH   report.png size in pixels (default 1200x700)\n"
             "exit code: 0 ok, 1 failure, 2 usage error\n");
}

/* --size WxH */
static int parse_size(const o2o_flag *flag, const char *value, char *err, size_t errlen) {
  o2o_report_options *o = flag->dest;
  int w, h;
  char tail;
  if (sscanf(value, "%dx%d%c", &w, &h, &tail) != 2 || w < 400 || h < 300 || w > 8000 || h > 8000) {
    snprintf(err, errlen, "--size expects WxH (400x300 to 8000x8000), got '%s'", value);
    return -1;
  }
  o->width = w, o->height = h;
  return 0;
}

int o2o_cmd_report(int argc, char **argv) {
  o2o_report_options o;
  o2o_report_options_default(&o);
  o.progress = 1;
  int json = 0;
  o2o_flags *f = o2o_flags_create("o2o report");
  o2o_flags_str(f, "out", &o.out_dir, "DIR", "where to write (default RUN_DIR)");
  o2o_flags_bool(f, "json", &json, "also the summary as one JSON object on stdout");
  o2o_flags_fn(f, "size", parse_size, &o, NULL, "WxH", "report.png size (default 1200x700)");
  o2o_flags_std(f, usage, "o2o " O2O_VERSION);
  o2o_flags_positionals(f, 0, 1, "RUN_DIR");
  int rc = o2o_flags_parse(f, argc, argv);
  const char *run_dir = !rc && o2o_flags_npos(f) ? o2o_flags_pos(f, 0) : NULL;
  o2o_flags_destroy(f);
  if (rc) return rc < 0 ? 2 : 0;
  if (!run_dir) {
    fprintf(stderr, "o2o report: give the RUN_DIR\n");
    usage(stderr);
    return 2;
  }
  if (json) o.json = stdout;
  char err[O2O_AGENT_ERRLEN * 2] = "";
  if (o2o_report_write(run_dir, &o, err, sizeof err)) {
    fprintf(stderr, "o2o report: %s\n", err);
    return 1;
  }
  return 0;
}
