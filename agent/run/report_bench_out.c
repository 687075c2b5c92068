/* report_bench_out.c: the offline benchmark report's files (report.h, second layout):
 * summary.csv, the --json summary, report.png (one panel per dataset: the score against
 * gradient steps of every algorithm) and report.html, with report_out.c's curves and
 * report_html.c's pieces. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json_out.h"
#include "o2o_agent.h"
#include "o2o_plot.h"
#include "run/report_bench.h"

/* fclose(f) (f NULL: fopen failed), -1 with err on an error */
static int closed(FILE *f, const char *path, char *err, size_t errlen) {
  if (f && !fclose(f)) return 0;
  o2o_agent_errf(err, errlen, "cannot write %s: %s", path, strerror(errno));
  return -1;
}

/* ---- summary.csv ---- */

int rpt_bench_csv(const rpt_bench *b, const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "w");
  if (!f) return closed(NULL, path, err, errlen);
  fprintf(f, "dataset,algo,seed,status,seeds_done,seeds_failed,seeds_running,evals,last_step,"
             "final_return,final_return_std,best_return,best_return_std,final_d4rl,"
             "final_d4rl_std,best_d4rl,best_d4rl_std,dataset_return_mean,dataset_d4rl,wall_s\n");
  for (int d = 0; d < b->nds; d++) {
    const rpt_run *r = b->ds[d];
    for (int i = 0; i < r->nmethods; i++) {
      const rpt_method *m = &r->methods[i];
      for (int k = 0; k < m->njobs; k++) {
        const rpt_job *j = &m->jobs[k];
        fprintf(f, "%s,%s,%d,%s,,,,%d", r->name, m->name, j->seed, rpt_status_name(j->status),
                j->nrows);
        rpt_csv_cell(f, "%.0f", j->nrows ? j->rows[j->nrows - 1].step : NAN);
        rpt_csv_cell(f, "%.4f", j->final_ret), rpt_csv_cell(f, "%.4f", NAN);
        rpt_csv_cell(f, "%.4f", j->best_ret), rpt_csv_cell(f, "%.4f", NAN);
        rpt_csv_cell(f, "%.3f", j->final_d4rl), rpt_csv_cell(f, "%.3f", NAN);
        rpt_csv_cell(f, "%.3f", j->best_d4rl), rpt_csv_cell(f, "%.3f", NAN);
        rpt_csv_cell(f, "%.4f", r->dataset_mean), rpt_csv_cell(f, "%.3f", b->ds_d4rl[d]);
        rpt_csv_cell(f, "%.1f", j->wall_s);
        fputc('\n', f);
      }
      rpt_bench_agg a;
      rpt_bench_stats(m, &a);
      fprintf(f, "%s,%s,all,%s,%d,%d,%d,", r->name, m->name, rpt_agg_status(m), m->done, m->failed,
              m->running);
      rpt_csv_cell(f, "%.0f", a.last_step); /* the furthest seed */
      rpt_csv_cell(f, "%.4f", m->final_mean), rpt_csv_cell(f, "%.4f", m->final_std);
      rpt_csv_cell(f, "%.4f", m->best_mean), rpt_csv_cell(f, "%.4f", m->best_std);
      rpt_csv_cell(f, "%.3f", m->final_d4rl), rpt_csv_cell(f, "%.3f", a.final_d4rl_std);
      rpt_csv_cell(f, "%.3f", m->best_d4rl), rpt_csv_cell(f, "%.3f", a.best_d4rl_std);
      rpt_csv_cell(f, "%.4f", r->dataset_mean), rpt_csv_cell(f, "%.3f", b->ds_d4rl[d]);
      rpt_csv_cell(f, "%.1f", m->wall_sum);
      fputc('\n', f);
    }
  }
  return closed(f, path, err, errlen);
}

/* ---- --json ---- */

void rpt_bench_json(const rpt_bench *b, const char *out_dir, FILE *f) {
  fprintf(f, "{\"bench_dir\": ");
  o2o_json_str(f, b->dir);
  fprintf(f, ", \"out_dir\": ");
  o2o_json_str(f, out_dir);
  fprintf(f, ", \"datasets\": [");
  for (int d = 0; d < b->nds; d++) {
    const rpt_run *r = b->ds[d];
    fprintf(f, "%s{\"dataset\": ", d ? ", " : "");
    o2o_json_str(f, r->name);
    fprintf(f, ", \"task\": ");
    o2o_json_str(f, r->task);
    rpt_json_key(f, "dataset_return_mean", r->dataset_mean);
    rpt_json_key(f, "dataset_d4rl", b->ds_d4rl[d]);
    fprintf(f, ", \"algos\": [");
    for (int i = 0; i < r->nmethods; i++) {
      const rpt_method *m = &r->methods[i];
      rpt_bench_agg a;
      rpt_bench_stats(m, &a);
      fprintf(f, "%s{\"algo\": ", i ? ", " : "");
      o2o_json_str(f, m->name);
      fprintf(f,
              ", \"status\": \"%s\", \"seeds_done\": %d, \"seeds_failed\": %d, "
              "\"seeds_running\": %d",
              rpt_agg_status(m), m->done, m->failed, m->running);
      rpt_json_key(f, "last_step", a.last_step);
      rpt_json_key(f, "final_return", m->final_mean),
          rpt_json_key(f, "final_return_std", m->final_std);
      rpt_json_key(f, "best_return", m->best_mean), rpt_json_key(f, "best_return_std", m->best_std);
      rpt_json_key(f, "final_d4rl", m->final_d4rl),
          rpt_json_key(f, "final_d4rl_std", a.final_d4rl_std);
      rpt_json_key(f, "best_d4rl", m->best_d4rl), rpt_json_key(f, "best_d4rl_std", a.best_d4rl_std);
      fprintf(f, ", \"seeds\": [");
      for (int k = 0; k < m->njobs; k++) {
        const rpt_job *j = &m->jobs[k];
        fprintf(f, "%s{\"seed\": %d, \"status\": \"%s\", \"evals\": %d", k ? ", " : "", j->seed,
                rpt_status_name(j->status), j->nrows);
        rpt_json_key(f, "final_return", j->final_ret), rpt_json_key(f, "best_return", j->best_ret);
        rpt_json_key(f, "final_d4rl", j->final_d4rl), rpt_json_key(f, "best_d4rl", j->best_d4rl);
        if (j->status == RPT_FAILED) {
          fprintf(f, ", \"error\": ");
          o2o_json_str(f, j->error);
        }
        fprintf(f, "}");
      }
      fprintf(f, "]}");
    }
    fprintf(f, "]}");
  }
  fprintf(f, "]}\n");
}

/* ---- report.png ---- */

/* "iql: 3 seeds, done" / "cql: 3 seeds (1 done, 1 running, 1 failed)"; curve: it has one */
static void algo_label(char *s, size_t cap, const rpt_method *m, int curve) {
  int k = snprintf(s, cap, "%s: %d seed%s", m->name, m->njobs, m->njobs == 1 ? "" : "s");
  if (m->failed == m->njobs) {
    snprintf(s + k, cap - (size_t)k, "%s failed: no curve", m->njobs == 1 ? "," : ", all");
    return;
  }
  if (m->done == m->njobs)
    k += snprintf(s + k, cap - (size_t)k, ", done");
  else if (m->failed)
    k += snprintf(s + k, cap - (size_t)k, " (%d done, %d running, %d failed)", m->done, m->running,
                  m->failed);
  else
    k += snprintf(s + k, cap - (size_t)k, " (%d done, %d running)", m->done, m->running);
  if (!curve) snprintf(s + k, cap - (size_t)k, ", no evaluation yet");
}

/* The task has D4RL reference scores. */
static int has_d4rl(const rpt_run *r) {
  double s;
  return rpt_bench_d4rl(r, 0, &s);
}

/* One dataset's panel: every algorithm's mean and min-max band over seeds, as D4RL scores
 * when the task has reference scores (the score is linear in the return, so the mean and
 * the band map through it), and the dataset's own mean as a dotted reference line. */
static o2o_plot *panel(const rpt_bench *b, int d, int width, int height) {
  const rpt_run *r = b->ds[d];
  const int d4 = has_d4rl(r);
  char title[400], lab[400];
  int any = 0;
  for (int i = 0; i < r->nmethods; i++)
    for (int k = 0; k < r->methods[i].njobs; k++)
      any |= r->methods[i].jobs[k].nrows > 0;
  snprintf(title, sizeof title, "%s: %s", r->name,
           !any ? "no evaluation yet"
           : d4 ? "D4RL score on the real variant"
                : "return on the real variant");
  o2o_plot *p = o2o_plot_create(width, height, title, "gradient steps",
                                d4 ? "D4RL score (mean over seeds, min-max band)"
                                   : "eval return (mean over seeds, min-max band)");
  if (!p) return NULL;
  o2o_plot_legend_below(p, 1);
  double ylo = INFINITY, yhi = -INFINITY;
  for (int i = 0; i < r->nmethods; i++) {
    const rpt_method *m = &r->methods[i];
    rpt_curve c;
    int seeds;
    if (rpt_make_curve(m, &c, &seeds) < 0) {
      rpt_free_curve(&c);
      o2o_plot_destroy(p);
      return NULL;
    }
    for (int k = 0; d4 && k < c.n; k++) {
      rpt_bench_d4rl(r, c.y[k], &c.y[k]);
      rpt_bench_d4rl(r, c.lo[k], &c.lo[k]);
      rpt_bench_d4rl(r, c.hi[k], &c.hi[k]);
    }
    for (int k = 0; k < c.n; k++)
      if (isfinite(c.lo[k])) ylo = fmin(ylo, c.lo[k]), yhi = fmax(yhi, c.hi[k]);
    algo_label(lab, sizeof lab, m, c.n > 0);
    const double none = NAN; /* no curve yet: still in the legend, saying so */
    if (c.n)
      o2o_plot_series(p, lab, c.x, c.y, c.lo, c.hi, c.n);
    else
      o2o_plot_series(p, lab, &none, &none, NULL, NULL, 1);
    o2o_plot_color(p, m->color);
    rpt_free_curve(&c);
  }
  const double ref = d4 ? b->ds_d4rl[d] : r->dataset_mean;
  if (isfinite(ref)) {
    snprintf(lab, sizeof lab, "dataset mean %s: %.1f", d4 ? "score" : "return", ref);
    o2o_plot_hline(p, ref, lab);
    o2o_plot_dash(p, 1);
    ylo = fmin(ylo, ref), yhi = fmax(yhi, ref);
  }
  if (ylo < yhi) { /* room around the reference line when it is the lowest or highest */
    const double pad = 0.06 * (yhi - ylo);
    o2o_plot_ylim(p, ylo - pad, yhi + pad);
  }
  o2o_plot_xlim(p, 0, NAN);
  return p;
}

int rpt_bench_png(const rpt_bench *b, const char *path, int width, int height, char *err,
                  size_t errlen) {
  o2o_plot *pl[RPT_MAX_DATASETS] = {NULL};
  const int n = b->nds ? b->nds : 1;
  const int w = width / n < 480 ? 480 : width / n; /* wider than asked before unreadable */
  int rc = -1;
  for (int d = 0; d < b->nds; d++)
    if (!(pl[d] = panel(b, d, w, height))) {
      o2o_agent_errf(err, errlen, "%s: a plot of %d x %d px cannot be drawn", path, w, height);
      goto done;
    }
  rc = o2o_plot_write_png_row(pl, b->nds, path, err, errlen);
done:
  for (int d = 0; d < b->nds; d++)
    o2o_plot_destroy(pl[d]);
  return rc;
}

/* ---- report.html ---- */

/* "hopper-medium-iql/offline/seed2" */
static void job_name(FILE *f, const rpt_method *m, const rpt_job *j) {
  rpt_html_esc(f, m->dir);
  fprintf(f, "/seed%d", j->seed);
}

static void dataset_section(FILE *f, const rpt_bench *b, int d) {
  const rpt_run *r = b->ds[d];
  const int d4 = has_d4rl(r);
  fputs("<h2>", f);
  rpt_html_esc(f, r->name);
  fputs("</h2>\n<p>Dataset mean return ", f);
  rpt_html_pm(f, r->dataset_mean, NAN, 1);
  if (d4) {
    fputs(", D4RL score <b>", f);
    rpt_html_pm(f, b->ds_d4rl[d], NAN, 1);
    fputs("</b> (task ", f);
    rpt_html_esc(f, r->task);
    fputs(")", f);
  }
  fputs(".</p>\n<table><tr><th>algo</th><th>seeds done / failed / running</th>"
        "<th>last step</th>",
        f);
  if (d4) fputs("<th>final D4RL</th><th>best D4RL</th>", f);
  fputs("<th>final return</th><th>best return</th><th>wall time (s, all seeds)</th></tr>\n", f);
  for (int i = 0; i < r->nmethods; i++) {
    const rpt_method *m = &r->methods[i];
    rpt_bench_agg a;
    rpt_bench_stats(m, &a);
    rpt_html_row(f, NULL, m->name);
    fprintf(f, "<td class=%s>%d / %d / %d</td>",
            m->failed    ? "failed"
            : m->running ? "running"
                         : "done",
            m->done, m->failed, m->running);
    rpt_html_td(f, "%.0f", a.last_step);
    double v[4][2] = {{m->final_d4rl, a.final_d4rl_std},
                      {m->best_d4rl, a.best_d4rl_std},
                      {m->final_mean, m->final_std},
                      {m->best_mean, m->best_std}};
    for (int c = d4 ? 0 : 2; c < 4; c++) {
      fputs(c < 2 ? "<td><b>" : "<td>", f);
      rpt_html_pm(f, v[c][0], v[c][1], m->nagg);
      fputs(c < 2 ? "</b></td>" : "</td>", f);
    }
    rpt_html_td(f, "%.0f", m->wall_sum);
    fputs("</tr>\n", f);
  }
  fputs("</table>\n<details><summary>per seed</summary><table><tr><th>run</th><th>status</th>"
        "<th>evaluations</th><th>last step</th>",
        f);
  fputs(d4 ? "<th>final D4RL</th><th>best D4RL</th>" : "", f);
  fputs("<th>final return</th><th>best return</th><th>wall time (s)</th></tr>\n", f);
  for (int i = 0; i < r->nmethods; i++)
    for (int k = 0; k < r->methods[i].njobs; k++) {
      const rpt_job *j = &r->methods[i].jobs[k];
      fputs("<tr><td class=l>", f);
      job_name(f, &r->methods[i], j);
      fputs("</td>", f);
      rpt_html_seed_cells(f, j, d4);
      fputs("</tr>\n", f);
    }
  fputs("</table></details>\n", f);
}

/* Runs not finished, and failed ones with their error. */
static void open_runs(FILE *f, const rpt_bench *b) {
  int head = 0;
  for (int d = 0; d < b->nds; d++)
    for (int i = 0; i < b->ds[d]->nmethods; i++)
      for (int k = 0; k < b->ds[d]->methods[i].njobs; k++) {
        const rpt_method *m = &b->ds[d]->methods[i];
        const rpt_job *j = &m->jobs[k];
        if (j->status == RPT_DONE) continue;
        if (!head++) fputs("<h2>Unfinished and failed runs</h2>\n<ul>\n", f);
        fputs("<li><code>", f);
        job_name(f, m, j);
        fputs("</code>: ", f);
        if (j->status == RPT_FAILED) {
          fputs("<span class=failed>failed</span>: <code>", f);
          rpt_html_esc(f, j->error);
          fputs("</code>", f);
        } else {
          fprintf(f, "running or interrupted at step %.0f (no final.safetensors, no DONE)",
                  j->nrows ? j->rows[j->nrows - 1].step : 0.0);
        }
        fputs("</li>\n", f);
      }
  if (head) fputs("</ul>\n", f);
}

int rpt_bench_html(const rpt_bench *b, const char *png_path, const char *path, char *err,
                   size_t errlen) {
  FILE *f = fopen(path, "w");
  if (!f) return closed(NULL, path, err, errlen);
  int total = 0, done = 0, failed = 0;
  for (int d = 0; d < b->nds; d++)
    for (int i = 0; i < b->ds[d]->nmethods; i++) {
      const rpt_method *m = &b->ds[d]->methods[i];
      total += m->njobs, done += m->done, failed += m->failed;
    }
  rpt_html_head(f, "o2o offline benchmark", b->name);
  fputs("<p class=note>folder <code>", f);
  rpt_html_esc(f, b->dir);
  fprintf(f, "</code> (runs of <code>o2o train-offline</code>)</p>\n<p>Runs: %d of %d done", done,
          total);
  if (failed) fprintf(f, ", <span class=failed>%d failed</span>", failed);
  if (done + failed < total)
    fprintf(f, ", <span class=warn>%d not finished</span> (partial: see below)",
            total - done - failed);
  fputs(".</p>\n<img alt=\"score vs gradient step of every algorithm per dataset\" "
        "src=\"data:image/png;base64,",
        f);
  if (rpt_html_base64(f, png_path)) {
    fclose(f);
    o2o_agent_errf(err, errlen, "cannot read %s to embed it in %s", png_path, path);
    return -1;
  }
  fputs("\">\n<p class=note>Final: the last evaluation of each seed (a running seed's latest); "
        "best: its best evaluation; mean &plusmn; std (ddof 0) over the seeds that have "
        "evaluations and did not fail. Every score is measured on the real variant; a run is "
        "done when its final.safetensors (or DONE) exists.</p>\n",
        f);
  for (int d = 0; d < b->nds; d++)
    dataset_section(f, b, d);
  open_runs(f, b);
  fputs("<p class=note>The report again, at any time: <code>./build/o2o report ", f);
  rpt_html_esc(f, b->dir);
  fputs("</code></p>\n</body></html>\n", f);
  return closed(f, path, err, errlen);
}
