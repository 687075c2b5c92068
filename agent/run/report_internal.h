/* report_internal.h: what the files of `o2o report` share: the run folder as read by
 * report.c, the outputs (report_out.c: summary.csv, JSON, PNG; report_html.c) and a reader
 * for the flat JSON files of a run (report_json.c). Not a public header. */
#pragma once
#include <stddef.h>
#include <stdio.h>

#include "run/report.h"

#define RPT_MAX_METHODS 16
#define RPT_MAX_SEEDS 64
#define RPT_MAX_INI 256
#define RPT_MAX_EVENTS 200
#define RPT_MAX_DIMS 512

typedef enum { RPT_MISSING, RPT_RUNNING, RPT_DONE, RPT_FAILED } rpt_status;

typedef struct {
  double step, wall, mean, restarted, updates; /* updates: NAN when the file has none */
} rpt_row;

typedef struct {
  int seed;
  rpt_status status;
  rpt_row *rows;
  int nrows;
  char error[1024];   /* FAILED's error text */
  double wall_s;      /* DONE's, else the last row's; NAN unknown */
  int warm;           /* warm-started from the offline job */
  double warmup;      /* K of this job */
  double pretrained;  /* the offline job of this seed: its last evaluation; NAN none */
  double first_after; /* first evaluation at a step > K; NAN none */
  double final_ret, best_ret, final_d4rl, best_d4rl, ratio;
  int restarts;   /* evaluations whose simulator restarted (metrics.csv eval_restarted) */
  int sim_faults; /* "o2o pool: fault" lines in the job's log.txt */
} rpt_job;

typedef struct {
  char name[64];
  int offline; /* x = gradient steps */
  int color;   /* palette index */
  rpt_job jobs[RPT_MAX_SEEDS];
  int njobs;
  int done, failed, running, missing, nagg; /* nagg: seeds aggregated */
  double final_mean, final_std, best_mean, best_std, final_d4rl, best_d4rl;
  double pre_mean, first_mean, ratio, wall_sum;
  int restarts, sim_faults, warm;
} rpt_method;

typedef struct {
  char dir[1024], name[256];
  char *ini_text; /* experiment.ini as written; NULL when missing */
  int nini;
  char ini_key[RPT_MAX_INI][96], ini_val[RPT_MAX_INI][256]; /* "section.key" */
  char task[64];
  double K, dataset_mean;
  rpt_method methods[RPT_MAX_METHODS];
  int nmethods;
  /* gap.json */
  int has_gap;
  char gap_dataset[512], gap_scenario[256], gap_variant[32], gap_source[64];
  double gap_transitions, gap_overall, gap_max_abs;
  int gap_dims;
  double gap_mean_std[RPT_MAX_DIMS], gap_p95_std[RPT_MAX_DIMS];
  /* run.log */
  char *events[RPT_MAX_EVENTS];
  int nevents, events_total;
  char command[2048];
} rpt_run;

/* report.c */
const char *rpt_ini(const rpt_run *r, const char *key); /* "section.key", NULL when absent */
const char *rpt_status_name(rpt_status s);
void rpt_fmt(char *buf, size_t cap, const char *fmt, double v); /* NAN: "" */

/* report_out.c */
int rpt_write_csv(const rpt_run *r, const char *path, char *err, size_t errlen);
void rpt_write_json(const rpt_run *r, const char *out_dir, FILE *f);
int rpt_write_png(const rpt_run *r, const char *path, int width, int height, char *err,
                  size_t errlen);

/* report_html.c */
int rpt_write_html(const rpt_run *r, const char *png_path, const char *path, char *err,
                   size_t errlen);

/* report_json.c: top-level members of a JSON object. Each returns 1 when key holds a value of
 * that type, 0 otherwise (absent, null, another type). rpt_json_check: 0 when text is one
 * JSON object, else -1 with the byte offset of the first error in *at. */
int rpt_json_check(const char *text, long *at);
int rpt_json_number(const char *text, const char *key, double *out);
int rpt_json_string(const char *text, const char *key, char *out, size_t cap);
int rpt_json_numbers(const char *text, const char *key, double *out, int cap, int *n);
