/* cmd_report.c: `o2o report RUN_DIR`: the report of an `o2o run` folder (run/report.h), also
 * of a partial run; the same report `o2o run` writes at its end. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/o2o_commands.h"
#include "o2o_agent.h"
#include "o2o_version.h"
#include "run/report.h"

static void usage(FILE *f) {
  fprintf(f, "usage: o2o report RUN_DIR [--out DIR] [--json] [--size WxH]\n"
             "  Reads an o2o run folder (runs/<experiment>: experiment.ini, <method>/seed<k>/\n"
             "  metrics.csv + DONE/FAILED, gap.json, run.log) and writes report.html\n"
             "  (self-contained), report.png and summary.csv. Works on a partial run: missing,\n"
             "  running and failed jobs are listed.\n"
             "  --out DIR    where to write (default RUN_DIR)\n"
             "  --json       also the summary as one JSON object on stdout\n"
             "  --size WxH   report.png size in pixels (default 1200x700)\n"
             "exit code: 0 ok, 1 failure, 2 usage error\n");
}

int o2o_cmd_report(int argc, char **argv) {
  o2o_report_options o;
  o2o_report_options_default(&o);
  o.progress = 1;
  int json = 0;
  static const struct option opts[] = {
      {"out", required_argument, 0, 'o'},  {"json", no_argument, 0, 'j'},
      {"size", required_argument, 0, 's'}, {"help", no_argument, 0, 'h'},
      {"version", no_argument, 0, 'V'},    {0, 0, 0, 0}};
  optind = 1;
  opterr = 0;
  for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
    switch (c) {
    case 'o':
      o.out_dir = optarg;
      break;
    case 'j':
      json = 1;
      break;
    case 's': {
      int w, h;
      char tail;
      if (sscanf(optarg, "%dx%d%c", &w, &h, &tail) != 2 || w < 400 || h < 300 || w > 8000 ||
          h > 8000) {
        fprintf(stderr, "o2o report: --size expects WxH (400x300 to 8000x8000), got '%s'\n",
                optarg);
        return 2;
      }
      o.width = w, o.height = h;
      break;
    }
    case 'h':
      usage(stdout);
      return 0;
    case 'V':
      printf("o2o %s\n", O2O_VERSION);
      return 0;
    default:
      fprintf(stderr, "o2o report: unknown or incomplete option '%s'\n", argv[optind - 1]);
      usage(stderr);
      return 2;
    }
  }
  if (optind + 1 != argc) {
    fprintf(stderr, "o2o report: give exactly one RUN_DIR\n");
    usage(stderr);
    return 2;
  }
  if (json) o.json = stdout;
  char err[O2O_AGENT_ERRLEN * 2] = "";
  if (o2o_report_write(argv[optind], &o, err, sizeof err)) {
    fprintf(stderr, "o2o report: %s\n", err);
    return 1;
  }
  return 0;
}
