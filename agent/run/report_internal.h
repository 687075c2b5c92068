/* report_internal.h: what the files of `o2o report` share: the run folder as read by
 * report.c, the outputs (report_out.c: summary.csv, JSON, PNG; report_html.c), a reader
 * for the flat JSON files of a run (report_json.c) and the offline benchmark's report
 * (report_bench.c, report_bench_out.c), which reuses all of them. Not a public header. */
#pragma once
#include <stddef.h>
#include <stdio.h>

#include "run/report.h"

#define RPT_MAX_METHODS 16
#define RPT_MAX_SEEDS 64
#define RPT_MAX_INI 256
#define RPT_MAX_EVENTS 200
#define RPT_MAX_DIMS 512
#define RPT_LAST 3 /* evaluations averaged into a seed's "last" score: one is noisy */
#define RPT_LAST_S "3"

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
  double actor_delay; /* critic-only updates after K (config.json's actor_delay), 0 if none */
  double actor_step;  /* env step where those end and the actor learns (between evaluations,
                       * interpolated on the updates column); NAN none */
  double pretrained;  /* the offline job of this seed: its last evaluation; NAN none */
  double first_after; /* first evaluation at a step > K; NAN none */
  double final_ret, best_ret, final_d4rl, best_d4rl, ratio;
  double last_ret;           /* mean of the last RPT_LAST evaluations (or fewer); NAN none */
  double spearman, disc_acc; /* the job's own gap.json (an h2o job's discriminators); NAN none */
  int restarts;   /* evaluations whose simulator restarted (metrics.csv eval_restarted) */
  int sim_faults; /* "o2o pool: fault" lines in the job's log.txt */
} rpt_job;

typedef struct {
  char name[64];
  char dir[320]; /* its seed<k> folders' parent, relative to the run folder; "": name */
  int offline;   /* x = gradient steps */
  int color;     /* palette index */
  rpt_job jobs[RPT_MAX_SEEDS];
  int njobs;
  int done, failed, running, missing, nagg; /* nagg: seeds aggregated */
  double final_mean, final_std, best_mean, best_std, final_d4rl, best_d4rl;
  double pre_mean, first_mean, ratio, wall_sum;
  double last_mean, last_std;                   /* over seeds of rpt_job.last_ret */
  double spearman_mean, spearman_std, acc_mean; /* over seeds with a gap.json */
  int nspearman;
  int restarts, sim_faults, warm;
  double actor_step, actor_delay; /* means over its jobs that have them (NAN none) */
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
  int bench; /* jobs of o2o train-offline alone (no DONE): final.safetensors marks the end */
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
char *rpt_slurp(const char *path); /* the whole file, NUL-terminated; NULL: missing */
/* path without trailing '/' into dir, its last component into name */
void rpt_dir_name(const char *path, char *dir, size_t dcap, char *name, size_t ncap);
int rpt_is_dir(const char *path);
int rpt_exists(const char *path);
/* The method (job) of that name (seed), added when new; NULL when full. */
rpt_method *rpt_method_get(rpt_run *r, const char *name);
rpt_job *rpt_job_get(rpt_method *m, int seed);
/* Adds a job to m for every seed<k> folder in dir. Returns how many. */
int rpt_scan_seeds(rpt_method *m, const char *dir);
/* Sorts the methods and their jobs, reads every job and aggregates each method. */
int rpt_read_jobs(rpt_run *r, char *err, size_t errlen);
void rpt_free_run(rpt_run *r); /* and r itself (calloc'd) */

/* report_out.c */
/* Either report's files (r: a run folder; NULL: the benchmark b) into opt->out_dir (made)
 * or the folder read: report.png, summary.csv, report.html, and the JSON when asked. */
typedef struct rpt_bench rpt_bench;
int rpt_write_outputs(const rpt_run *r, const rpt_bench *b, const o2o_report_options *opt,
                      char *err, size_t errlen);
int rpt_write_csv(const rpt_run *r, const char *path, char *err, size_t errlen);
void rpt_write_json(const rpt_run *r, const char *out_dir, FILE *f);
int rpt_write_png(const rpt_run *r, const char *path, int width, int height, char *err,
                  size_t errlen);
const char *rpt_agg_status(const rpt_method *m);       /* done | failed | missing | partial */
void rpt_csv_cell(FILE *f, const char *fmt, double v); /* ",v" (NAN: ",") */
void rpt_json_key(FILE *f, const char *key, double v); /* ", \"key\": v" (NAN: null) */
/* A method's curve: at every evaluated step the mean over its seeds (not failed) and the
 * min-max band; rpt_make_curve returns the point count (0: none), -1 out of memory; *seeds
 * the seeds with evaluations. */
typedef struct {
  int n;
  double *x, *y, *lo, *hi;
} rpt_curve;
int rpt_make_curve(const rpt_method *m, rpt_curve *c, int *seeds);
void rpt_free_curve(rpt_curve *c);

/* report_html.c */
int rpt_write_html(const rpt_run *r, const char *png_path, const char *path, char *err,
                   size_t errlen);
/* <!DOCTYPE html> .. <body><h1>what: name</h1> */
void rpt_html_head(FILE *f, const char *what, const char *name);
void rpt_html_esc(FILE *f, const char *s);
int rpt_html_base64(FILE *f, const char *path); /* the file's bytes; -1 when unreadable */
void rpt_html_pm(FILE *f, double mean, double std, int n);     /* "m &plusmn; s", or &ndash; */
void rpt_html_td(FILE *f, const char *fmt, double v);          /* <td>v</td>, &ndash; for NAN */
void rpt_html_row(FILE *f, const char *cls, const char *name); /* <tr><td class=l>name</td> */
/* A job's status, evaluations, last step, (d4: final and best D4RL,) final and best return
 * and wall time cells; the caller ends the row. */
void rpt_html_seed_cells(FILE *f, const rpt_job *j, int d4);

/* report_bench.c: a folder of `o2o train-offline` runs (the offline benchmark): the report
 * of report.h's second layout. rpt_bench_kind: 0 not one (an o2o run folder, or nothing),
 * 1 one group (DIR/offline/seed<k>), 2 the parent of groups (DIR/<group>/offline/seed<k>). */
int rpt_bench_kind(const char *dir);
/* opt: not NULL */
int rpt_bench_write(const char *dir, int kind, const o2o_report_options *opt, char *err,
                    size_t errlen);

/* report_json.c: members of a JSON object ("a.b": member b of the object a). Each returns 1 when
 * key holds a value of that type, 0 otherwise (absent, null, another type). rpt_json_check: 0 when
 * text is one JSON object, else -1 with the byte offset of the first error in *at. */
int rpt_json_check(const char *text, long *at);
int rpt_json_number(const char *text, const char *key, double *out);
int rpt_json_string(const char *text, const char *key, char *out, size_t cap);
int rpt_json_numbers(const char *text, const char *key, double *out, int cap, int *n);
