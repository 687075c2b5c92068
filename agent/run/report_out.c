/* report_out.c: summary.csv, the --json summary and report.png (o2o_plot, cairo) of a run
 * folder read by report.c. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json_out.h"
#include "o2o_agent.h"
#include "o2o_plot.h"
#include "run/report_bench.h"
#include "run/train.h"

/* ---- the output folder ---- */

int rpt_write_outputs(const rpt_run *r, const rpt_bench *b, const o2o_report_options *opt,
                      char *err, size_t errlen) {
  const char *out = opt->out_dir ? opt->out_dir : r ? r->dir : b->dir;
  if (opt->out_dir && o2o_train_mkdirs(out, err, errlen)) return -1;
  char png[1400], csv[1400], html[1400];
  snprintf(png, sizeof png, "%s/report.png", out);
  snprintf(csv, sizeof csv, "%s/summary.csv", out);
  snprintf(html, sizeof html, "%s/report.html", out);
  const int w = opt->width > 0 ? opt->width : 1200, h = opt->height > 0 ? opt->height : 700;
  if (r ? rpt_write_png(r, png, w, h, err, errlen) || rpt_write_csv(r, csv, err, errlen) ||
              rpt_write_html(r, png, html, err, errlen)
        : rpt_bench_png(b, png, w, h, err, errlen) || rpt_bench_csv(b, csv, err, errlen) ||
              rpt_bench_html(b, png, html, err, errlen))
    return -1;
  if (opt->json && r) rpt_write_json(r, out, opt->json);
  if (opt->json && !r) rpt_bench_json(b, out, opt->json);
  if (opt->progress) fprintf(stderr, "o2o report: wrote %s, %s and %s\n", html, png, csv);
  return 0;
}

/* ---- summary.csv ---- */

void rpt_csv_cell(FILE *f, const char *fmt, double v) {
  char b[64];
  rpt_fmt(b, sizeof b, fmt, v);
  fprintf(f, ",%s", b);
}

const char *rpt_agg_status(const rpt_method *m) {
  if (m->done == m->njobs) return "done";
  if (m->failed == m->njobs) return "failed";
  if (m->missing == m->njobs) return "missing";
  return "partial";
}

int rpt_write_csv(const rpt_run *r, const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "w");
  if (!f) {
    o2o_agent_errf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  fprintf(f, "method,seed,status,seeds_done,seeds_failed,seeds_running,seeds_missing,evals,"
             "last_step,final_return,final_return_std,best_return,best_return_std,final_d4rl,"
             "best_d4rl,pretrained_return,first_eval_after_warmup,warm_start_ratio,"
             "eval_restarts,sim_faults,wall_s,last" RPT_LAST_S "_return,last" RPT_LAST_S
             "_return_std,gap_spearman,gap_spearman_std,disc_accuracy\n");
  for (int i = 0; i < r->nmethods; i++) {
    const rpt_method *m = &r->methods[i];
    for (int k = 0; k < m->njobs; k++) {
      const rpt_job *j = &m->jobs[k];
      fprintf(f, "%s,%d,%s,,,,,%d", m->name, j->seed, rpt_status_name(j->status), j->nrows);
      rpt_csv_cell(f, "%.0f", j->nrows ? j->rows[j->nrows - 1].step : NAN);
      rpt_csv_cell(f, "%.4f", j->final_ret);
      rpt_csv_cell(f, "%.4f", NAN);
      rpt_csv_cell(f, "%.4f", j->best_ret);
      rpt_csv_cell(f, "%.4f", NAN);
      rpt_csv_cell(f, "%.3f", j->final_d4rl);
      rpt_csv_cell(f, "%.3f", j->best_d4rl);
      rpt_csv_cell(f, "%.4f", j->pretrained);
      rpt_csv_cell(f, "%.4f", j->first_after);
      rpt_csv_cell(f, "%.4f", j->ratio);
      fprintf(f, ",%d,%d", j->restarts, j->sim_faults);
      rpt_csv_cell(f, "%.1f", j->wall_s);
      rpt_csv_cell(f, "%.4f", j->last_ret);
      rpt_csv_cell(f, "%.4f", NAN);
      rpt_csv_cell(f, "%.4f", j->spearman);
      rpt_csv_cell(f, "%.4f", NAN);
      rpt_csv_cell(f, "%.4f", j->disc_acc);
      fputc('\n', f);
    }
    fprintf(f, "%s,all,%s,%d,%d,%d,%d,,", m->name, rpt_agg_status(m), m->done, m->failed,
            m->running, m->missing);
    rpt_csv_cell(f, "%.4f", m->final_mean); /* evals and last_step are per seed */
    rpt_csv_cell(f, "%.4f", m->final_std);
    rpt_csv_cell(f, "%.4f", m->best_mean);
    rpt_csv_cell(f, "%.4f", m->best_std);
    rpt_csv_cell(f, "%.3f", m->final_d4rl);
    rpt_csv_cell(f, "%.3f", m->best_d4rl);
    rpt_csv_cell(f, "%.4f", m->pre_mean);
    rpt_csv_cell(f, "%.4f", m->first_mean);
    rpt_csv_cell(f, "%.4f", m->ratio);
    fprintf(f, ",%d,%d", m->restarts, m->sim_faults);
    rpt_csv_cell(f, "%.1f", m->wall_sum);
    rpt_csv_cell(f, "%.4f", m->last_mean);
    rpt_csv_cell(f, "%.4f", m->last_std);
    rpt_csv_cell(f, "%.4f", m->spearman_mean);
    rpt_csv_cell(f, "%.4f", m->spearman_std);
    rpt_csv_cell(f, "%.4f", m->acc_mean);
    fputc('\n', f);
  }
  if (fclose(f)) {
    o2o_agent_errf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* ---- --json ---- */

void rpt_json_key(FILE *f, const char *k, double v) {
  fprintf(f, ", \"%s\": ", k);
  o2o_json_num(f, v);
}

void rpt_write_json(const rpt_run *r, const char *out_dir, FILE *f) {
  fprintf(f, "{\"run_dir\": ");
  o2o_json_str(f, r->dir);
  fprintf(f, ", \"experiment\": ");
  o2o_json_str(f, r->name);
  fprintf(f, ", \"out_dir\": ");
  o2o_json_str(f, out_dir);
  fprintf(f, ", \"task\": ");
  o2o_json_str(f, r->task);
  rpt_json_key(f, "warmup_steps", r->K);
  rpt_json_key(f, "dataset_return_mean", r->dataset_mean);
  rpt_json_key(f, "gap_overall_mean_std", r->has_gap ? r->gap_overall : NAN);
  fprintf(f, ", \"log_events\": %d, \"methods\": [", r->events_total);
  for (int i = 0; i < r->nmethods; i++) {
    const rpt_method *m = &r->methods[i];
    fprintf(f, "%s{\"method\": ", i ? ", " : "");
    o2o_json_str(f, m->name);
    fprintf(f, ", \"status\": ");
    o2o_json_str(f, rpt_agg_status(m));
    fprintf(f,
            ", \"seeds_done\": %d, \"seeds_failed\": %d, \"seeds_running\": %d, "
            "\"seeds_missing\": %d",
            m->done, m->failed, m->running, m->missing);
    rpt_json_key(f, "final_return", m->final_mean);
    rpt_json_key(f, "final_return_std", m->final_std);
    rpt_json_key(f, "best_return", m->best_mean);
    rpt_json_key(f, "best_return_std", m->best_std);
    rpt_json_key(f, "last" RPT_LAST_S "_return", m->last_mean);
    rpt_json_key(f, "last" RPT_LAST_S "_return_std", m->last_std);
    rpt_json_key(f, "gap_spearman", m->spearman_mean);
    rpt_json_key(f, "gap_spearman_std", m->spearman_std);
    rpt_json_key(f, "disc_accuracy", m->acc_mean);
    rpt_json_key(f, "final_d4rl", m->final_d4rl);
    rpt_json_key(f, "best_d4rl", m->best_d4rl);
    rpt_json_key(f, "pretrained_return", m->pre_mean);
    rpt_json_key(f, "first_eval_after_warmup", m->first_mean);
    rpt_json_key(f, "warm_start_ratio", m->ratio);
    rpt_json_key(f, "wall_s", m->wall_sum);
    fprintf(f, ", \"eval_restarts\": %d, \"sim_faults\": %d, \"seeds\": [", m->restarts,
            m->sim_faults);
    for (int k = 0; k < m->njobs; k++) {
      const rpt_job *j = &m->jobs[k];
      fprintf(f, "%s{\"seed\": %d, \"status\": \"%s\", \"evals\": %d", k ? ", " : "", j->seed,
              rpt_status_name(j->status), j->nrows);
      rpt_json_key(f, "final_return", j->final_ret);
      rpt_json_key(f, "best_return", j->best_ret);
      rpt_json_key(f, "last" RPT_LAST_S "_return", j->last_ret);
      rpt_json_key(f, "gap_spearman", j->spearman);
      rpt_json_key(f, "disc_accuracy", j->disc_acc);
      rpt_json_key(f, "first_eval_after_warmup", j->first_after);
      rpt_json_key(f, "warm_start_ratio", j->ratio);
      rpt_json_key(f, "actor_from_step", j->actor_step);
      rpt_json_key(f, "wall_s", j->wall_s);
      if (j->status == RPT_FAILED) {
        fprintf(f, ", \"error\": ");
        o2o_json_str(f, j->error);
      }
      fprintf(f, "}");
    }
    fprintf(f, "]}");
  }
  fprintf(f, "]}\n");
}

/* ---- report.png ---- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int rpt_make_curve(const rpt_method *m, rpt_curve *c, int *seeds) {
  memset(c, 0, sizeof *c);
  int total = 0;
  *seeds = 0;
  for (int k = 0; k < m->njobs; k++)
    if (m->jobs[k].status != RPT_FAILED && m->jobs[k].nrows) total += m->jobs[k].nrows, ++*seeds;
  if (!total) return 0;
  double *steps = malloc(sizeof(double) * (size_t)total);
  c->x = malloc(sizeof(double) * (size_t)total);
  c->y = malloc(sizeof(double) * (size_t)total);
  c->lo = malloc(sizeof(double) * (size_t)total);
  c->hi = malloc(sizeof(double) * (size_t)total);
  if (!steps || !c->x || !c->y || !c->lo || !c->hi) {
    free(steps);
    return -1;
  }
  int n = 0;
  for (int k = 0; k < m->njobs; k++)
    if (m->jobs[k].status != RPT_FAILED)
      for (int i = 0; i < m->jobs[k].nrows; i++)
        steps[n++] = m->jobs[k].rows[i].step;
  qsort(steps, (size_t)n, sizeof(double), cmp_double);
  for (int i = 0; i < n; i++) {
    if (i && steps[i] == steps[i - 1]) continue;
    double s = 0, lo = INFINITY, hi = -INFINITY;
    int cnt = 0;
    for (int k = 0; k < m->njobs; k++) {
      const rpt_job *j = &m->jobs[k];
      if (j->status == RPT_FAILED) continue;
      for (int q = 0; q < j->nrows; q++)
        if (j->rows[q].step == steps[i] && isfinite(j->rows[q].mean)) {
          s += j->rows[q].mean, cnt++;
          lo = fmin(lo, j->rows[q].mean), hi = fmax(hi, j->rows[q].mean);
          break;
        }
    }
    c->x[c->n] = steps[i];
    c->y[c->n] = cnt ? s / cnt : NAN;
    c->lo[c->n] = cnt ? lo : NAN;
    c->hi[c->n++] = cnt ? hi : NAN;
  }
  free(steps);
  return c->n;
}

void rpt_free_curve(rpt_curve *c) {
  free(c->x);
  free(c->y);
  free(c->lo);
  free(c->hi);
}

static void grow(double v, double *lo, double *hi) {
  if (isfinite(v)) *lo = fmin(*lo, v), *hi = fmax(*hi, v);
}

static void series_label(char *b, size_t cap, const rpt_method *m, int seeds) {
  int k = snprintf(b, cap, "%s (%d seed%s", m->name, seeds, seeds == 1 ? "" : "s");
  if (m->failed) k += snprintf(b + k, cap - (size_t)k, ", %d failed", m->failed);
  if (m->running || m->missing) k += snprintf(b + k, cap - (size_t)k, ", not finished");
  snprintf(b + k, cap - (size_t)k, ")");
}

int rpt_write_png(const rpt_run *r, const char *path, int width, int height, char *err,
                  size_t errlen) {
  rpt_curve cv[RPT_MAX_METHODS];
  int seeds[RPT_MAX_METHODS], online = 0, rc = -1;
  const rpt_method *off = NULL;
  double ylo = INFINITY, yhi = -INFINITY;
  memset(cv, 0, sizeof cv);
  for (int i = 0; i < r->nmethods; i++) {
    if (rpt_make_curve(&r->methods[i], &cv[i], &seeds[i]) < 0) {
      o2o_agent_errf(err, errlen, "out of memory drawing %s", path);
      goto done;
    }
    if (!cv[i].n) continue;
    if (r->methods[i].offline)
      off = &r->methods[i];
    else
      online++;
    for (int k = 0; k < cv[i].n; k++)
      grow(cv[i].lo[k], &ylo, &yhi), grow(cv[i].hi[k], &ylo, &yhi);
  }
  const double pre = off ? off->final_mean : NAN;
  grow(pre, &ylo, &yhi);
  grow(r->dataset_mean, &ylo, &yhi);
  if (ylo <= yhi) {
    double pad = yhi - ylo > 1e-9 ? 0.06 * (yhi - ylo) : 1;
    ylo -= pad, yhi += pad;
  }
  const char *algo = rpt_ini(r, "offline.algo");
  const char *eps = rpt_ini(r, "experiment.eval_episodes");
  char title[400], ylabel[128], lab[400];
  snprintf(ylabel, sizeof ylabel, "return on the real variant (mean of %s eval episodes)",
           eps ? eps : "the");
  const int split = off && online;
  const int w1 = split ? (int)(width * 0.68) : width;
  o2o_plot *pl[2] = {NULL, NULL};
  int np = 0;
  if (online || !off) {
    if (online)
      snprintf(title, sizeof title, "%s: real-variant return (mean, min-max band over seeds)",
               r->name);
    else
      snprintf(title, sizeof title, "%s: no evaluation yet", r->name);
    pl[np] = o2o_plot_create(w1, height, title, "online env steps (in the sim variant)", ylabel);
    if (!pl[np]) goto bad_size;
    o2o_plot *p = pl[np++];
    o2o_plot_legend_below(p, 1);
    int warm_k = 0;
    double actor_end = NAN, actor_updates = NAN; /* the latest method's critic-only phase end */
    for (int i = 0; i < r->nmethods; i++) {
      const rpt_method *m = &r->methods[i];
      if (m->offline) continue;
      if (!cv[i].n) { /* in the legend all the same, saying why there is no curve */
        if (!m->failed) continue;
        const double none = NAN;
        snprintf(lab, sizeof lab, "%s (%d failed: no curve)", m->name, m->failed);
        o2o_plot_series(p, lab, &none, &none, NULL, NULL, 1);
        o2o_plot_color(p, m->color);
        continue;
      }
      series_label(lab, sizeof lab, m, seeds[i]);
      o2o_plot_series(p, lab, cv[i].x, cv[i].y, cv[i].lo, cv[i].hi, cv[i].n);
      o2o_plot_color(p, m->color);
      warm_k |= m->warm && strcmp(m->name, "naive") && r->K > 0;
      if (m->warm && !(m->actor_step <= actor_end) && isfinite(m->actor_step))
        actor_end = m->actor_step, actor_updates = m->actor_delay;
    }
    if (isfinite(pre)) {
      snprintf(lab, sizeof lab, "offline-only (%s), final: %.1f", algo ? algo : "pretrained", pre);
      o2o_plot_hline(p, pre, lab);
      o2o_plot_color(p, off->color);
    }
    if (isfinite(r->dataset_mean)) {
      snprintf(lab, sizeof lab, "dataset mean return: %.1f", r->dataset_mean);
      o2o_plot_hline(p, r->dataset_mean, lab);
      o2o_plot_dash(p, 1);
    }
    if (warm_k) {
      snprintf(lab, sizeof lab, "warm-up: %.0f steps, pretrained policy, no updates", r->K);
      o2o_plot_xspan(p, 0, r->K, lab);
    }
    if (isfinite(actor_end) && actor_end > (warm_k ? r->K : 0)) {
      snprintf(lab, sizeof lab, "then %.0f critic-only updates, actor frozen", actor_updates);
      o2o_plot_xspan(p, warm_k ? r->K : 0, actor_end, lab);
    }
    if (ylo <= yhi) o2o_plot_ylim(p, ylo, yhi);
    o2o_plot_xlim(p, 0, NAN); /* env steps from 0 */
  }
  if (off) {
    snprintf(title, sizeof title, "offline pretraining%s%s%s on the dataset", algo ? " (" : "",
             algo ? algo : "", algo ? ")" : "");
    pl[np] = o2o_plot_create(split ? width - w1 : width, height, title, "gradient steps",
                             split ? "" : ylabel);
    if (!pl[np]) goto bad_size;
    o2o_plot *p = pl[np++];
    o2o_plot_legend_below(p, 1);
    const int i = (int)(off - r->methods);
    series_label(lab, sizeof lab, off, seeds[i]);
    o2o_plot_series(p, lab, cv[i].x, cv[i].y, cv[i].lo, cv[i].hi, cv[i].n);
    o2o_plot_color(p, off->color);
    if (isfinite(r->dataset_mean)) {
      snprintf(lab, sizeof lab, "dataset mean return: %.1f", r->dataset_mean);
      o2o_plot_hline(p, r->dataset_mean, lab);
      o2o_plot_dash(p, 1);
    }
    if (ylo <= yhi) o2o_plot_ylim(p, ylo, yhi);
    o2o_plot_xlim(p, 0, NAN);
  }
  rc = o2o_plot_write_png_row(pl, np, path, err, errlen);
  o2o_plot_destroy(pl[0]);
  o2o_plot_destroy(pl[1]);
  goto done;
bad_size:
  o2o_agent_errf(err, errlen, "%s: a plot of %d x %d px cannot be drawn", path, width, height);
  o2o_plot_destroy(pl[0]);
done:
  for (int i = 0; i < r->nmethods; i++)
    rpt_free_curve(&cv[i]);
  return rc;
}
