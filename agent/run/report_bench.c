/* report_bench.c: `o2o report` on a folder of `o2o train-offline` runs (the offline benchmark,
 * agent/bench/results/offline.sh): DIR/<dataset>-<algo>/offline/seed<k>/, or one such group.
 * Each dataset becomes an rpt_run whose methods are the algorithms, so report.c reads and
 * aggregates the jobs as for `o2o run`; report_bench_out.c writes the files. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "o2o_agent.h"
#include "run/report_bench.h"
#include "run/train.h"

/* Fixed colours (o2o_plot palette) so an algorithm looks the same in every panel and report. */
static int algo_color(const char *algo, int index) {
  static const char *const known[] = {"iql", "cql", "calql"};
  for (int k = 0; k < 3; k++)
    if (!strcmp(algo, known[k])) return k;
  return 3 + index % 4;
}

/* DIR/offline holds seed<k> folders. */
static int is_group(const char *dir) {
  char p[1500];
  snprintf(p, sizeof p, "%s/offline", dir);
  return rpt_scan_seeds(NULL, p) > 0;
}

/* An o2o run folder keeps its methods beside offline/: such a folder is no benchmark group. */
static int has_online_methods(const char *dir) {
  static const char *const online[] = {"sac-sim", "naive", "wsrl", "h2o", "full"};
  char p[1400];
  for (int k = 0; k < 5; k++) {
    snprintf(p, sizeof p, "%s/%s", dir, online[k]);
    if (rpt_is_dir(p)) return 1;
  }
  return 0;
}

int rpt_bench_kind(const char *dir) {
  char p[1400];
  snprintf(p, sizeof p, "%s/experiment.ini", dir);
  if (!rpt_is_dir(dir) || rpt_exists(p)) return 0;
  if (is_group(dir)) return has_online_methods(dir) ? 0 : 1;
  DIR *d = opendir(dir);
  if (!d) return 0;
  int kind = 0;
  for (struct dirent *e; !kind && (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    kind = is_group(p) ? 2 : 0;
  }
  closedir(d);
  return kind;
}

/* "hopper-medium-iql" -> dataset "hopper-medium", algo "iql" (offline.sh's names); without a
 * '-' the algorithm of the first seed's config.json, or "offline". */
static void split_group(const char *dir, const char *name, char *ds, size_t dcap, char *algo,
                        size_t acap) {
  const char *dash = strrchr(name, '-');
  if (dash && dash > name && dash[1]) {
    snprintf(ds, dcap, "%.*s", (int)(dash - name), name);
    snprintf(algo, acap, "%s", dash + 1);
    return;
  }
  snprintf(ds, dcap, "%s", name);
  snprintf(algo, acap, "offline");
  char p[1500];
  snprintf(p, sizeof p, "%s/offline/seed1/config.json", dir);
  char *t = rpt_slurp(p);
  if (t) rpt_json_string(t, "algorithm", algo, acap);
  free(t);
}

static rpt_run *dataset_get(rpt_bench *b, const char *name) {
  for (int i = 0; i < b->nds; i++)
    if (!strcmp(b->ds[i]->name, name)) return b->ds[i];
  if (b->nds >= RPT_MAX_DATASETS) return NULL;
  rpt_run *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  snprintf(r->dir, sizeof r->dir, "%s", b->dir);
  snprintf(r->name, sizeof r->name, "%s", name);
  r->K = r->dataset_mean = NAN;
  r->bench = 1;
  return b->ds[b->nds++] = r;
}

/* One group folder: rel is its path under b->dir ("" for the folder itself). */
static int add_group(rpt_bench *b, const char *rel, const char *name, char *err, size_t errlen) {
  char dir[1400], ds[256], algo[64];
  snprintf(dir, sizeof dir, "%s%s%s", b->dir, rel[0] ? "/" : "", rel);
  split_group(dir, name, ds, sizeof ds, algo, sizeof algo);
  rpt_run *r = dataset_get(b, ds);
  rpt_method *m = r ? rpt_method_get(r, algo) : NULL;
  if (!m || m->njobs) { /* full, or the same pair twice ("hopper-iql", "hopper" of iql) */
    o2o_agent_errf(err, errlen, "%s: %s", dir,
                   m ? "a second group of the same dataset and algorithm"
                     : "too many datasets or algorithms (or out of memory)");
    return -1;
  }
  m->offline = 1;
  m->color = algo_color(algo, r->nmethods - 1);
  snprintf(m->dir, sizeof m->dir, "%s%soffline", rel, rel[0] ? "/" : "");
  char off[1500];
  snprintf(off, sizeof off, "%s/offline", dir);
  rpt_scan_seeds(m, off);
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp((*(rpt_run *const *)a)->name, (*(rpt_run *const *)b)->name);
}

static int read_bench(rpt_bench *b, const char *dir, int kind, char *err, size_t errlen) {
  rpt_dir_name(dir, b->dir, sizeof b->dir, b->name, sizeof b->name);
  if (kind == 1) {
    if (add_group(b, "", b->name, err, errlen)) return -1;
  } else {
    DIR *d = opendir(b->dir);
    if (!d) {
      o2o_agent_errf(err, errlen, "%s: not a directory", dir);
      return -1;
    }
    int rc = 0;
    for (struct dirent *e; !rc && (e = readdir(d));) {
      char p[1400];
      snprintf(p, sizeof p, "%s/%s", b->dir, e->d_name);
      if (e->d_name[0] != '.' && strlen(e->d_name) < 256 && is_group(p))
        rc = add_group(b, e->d_name, e->d_name, err, errlen);
    }
    closedir(d);
    if (rc) return -1;
  }
  qsort(b->ds, (size_t)b->nds, sizeof b->ds[0], by_name);
  for (int i = 0; i < b->nds; i++) {
    if (rpt_read_jobs(b->ds[i], err, errlen)) return -1;
    if (!o2o_train_d4rl_score(b->ds[i]->task, b->ds[i]->dataset_mean, &b->ds_d4rl[i]))
      b->ds_d4rl[i] = NAN;
  }
  return 0;
}

int rpt_bench_d4rl(const rpt_run *r, double ret, double *out) {
  if (isfinite(ret) && o2o_train_d4rl_score(r->task, ret, out)) return 1;
  *out = NAN;
  return 0;
}

void rpt_bench_stats(const rpt_method *m, rpt_bench_agg *a) {
  double f[RPT_MAX_SEEDS], bst[RPT_MAX_SEEDS];
  int n = 0;
  for (int k = 0; k < m->njobs; k++) { /* the seeds report.c aggregates */
    const rpt_job *j = &m->jobs[k];
    if (j->status == RPT_FAILED || !j->nrows) continue;
    f[n] = j->final_d4rl, bst[n++] = j->best_d4rl;
  }
  a->final_d4rl_std = a->best_d4rl_std = NAN;
  if (n && isfinite(f[0])) { /* the task has D4RL reference scores */
    double mf = 0, mb = 0, vf = 0, vb = 0;
    for (int i = 0; i < n; i++)
      mf += f[i] / n, mb += bst[i] / n;
    for (int i = 0; i < n; i++)
      vf += (f[i] - mf) * (f[i] - mf) / n, vb += (bst[i] - mb) * (bst[i] - mb) / n;
    a->final_d4rl_std = sqrt(vf), a->best_d4rl_std = sqrt(vb);
  }
  a->last_step = NAN;
  for (int k = 0; k < m->njobs; k++)
    if (m->jobs[k].nrows && !(m->jobs[k].rows[m->jobs[k].nrows - 1].step <= a->last_step))
      a->last_step = m->jobs[k].rows[m->jobs[k].nrows - 1].step;
}

int rpt_bench_write(const char *dir, int kind, const o2o_report_options *opt, char *err,
                    size_t errlen) {
  rpt_bench *b = calloc(1, sizeof *b);
  if (!b) {
    o2o_agent_errf(err, errlen, "out of memory");
    return -1;
  }
  const int rc =
      read_bench(b, dir, kind, err, errlen) ? -1 : rpt_write_outputs(NULL, b, opt, err, errlen);
  for (int i = 0; i < b->nds; i++)
    rpt_free_run(b->ds[i]);
  free(b);
  return rc;
}
