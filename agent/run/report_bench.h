/* report_bench.h: the offline benchmark's report (report.h, second layout), shared by
 * report_bench.c (reading) and report_bench_out.c (summary.csv, JSON, PNG, HTML). Not a
 * public header. */
#pragma once
#include <stddef.h>
#include <stdio.h>

#include "run/report_internal.h"

#define RPT_MAX_DATASETS 16

typedef struct rpt_bench {
  char dir[1024], name[256];
  rpt_run *ds[RPT_MAX_DATASETS];    /* by dataset name; its methods are the algorithms */
  double ds_d4rl[RPT_MAX_DATASETS]; /* the dataset's mean return as a D4RL score; NAN: none */
  int nds;
} rpt_bench;

/* What report.c's aggregate has no field for: the D4RL stds over the aggregated seeds and
 * the furthest step any seed got to. */
typedef struct {
  double final_d4rl_std, best_d4rl_std, last_step;
} rpt_bench_agg;

/* ret as the D4RL score of r's task: 1, or 0 with NAN (no reference scores, ret NAN). */
int rpt_bench_d4rl(const rpt_run *r, double ret, double *out);
void rpt_bench_stats(const rpt_method *m, rpt_bench_agg *a);

int rpt_bench_csv(const rpt_bench *b, const char *path, char *err, size_t errlen);
void rpt_bench_json(const rpt_bench *b, const char *out_dir, FILE *f);
int rpt_bench_png(const rpt_bench *b, const char *path, int width, int height, char *err,
                  size_t errlen);
int rpt_bench_html(const rpt_bench *b, const char *png_path, const char *path, char *err,
                   size_t errlen);
