/* report_html.c: report.html of a run folder, self-contained: the plot embedded as a base64
 * PNG data URI, inline CSS, no link or script; every text from the folder escaped. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "o2o_agent.h"
#include "run/report_internal.h"

void rpt_html_esc(FILE *f, const char *s) {
  for (; s && *s; s++)
    switch (*s) {
    case '&':
      fputs("&amp;", f);
      break;
    case '<':
      fputs("&lt;", f);
      break;
    case '>':
      fputs("&gt;", f);
      break;
    case '"':
      fputs("&quot;", f);
      break;
    case '\'':
      fputs("&#39;", f);
      break;
    default:
      fputc(*s, f);
    }
}

/* The file at path as base64 (RFC 4648) into f. */
int rpt_html_base64(FILE *f, const char *path) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  FILE *in = fopen(path, "rb");
  if (!in) return -1;
  unsigned char b[3];
  size_t n;
  while ((n = fread(b, 1, 3, in)) > 0) {
    unsigned v = (unsigned)b[0] << 16 | (n > 1 ? (unsigned)b[1] << 8 : 0) | (n > 2 ? b[2] : 0);
    char o[4] = {tab[v >> 18], tab[(v >> 12) & 63], n > 1 ? tab[(v >> 6) & 63] : '=',
                 n > 2 ? tab[v & 63] : '='};
    fwrite(o, 1, 4, f);
  }
  int bad = ferror(in);
  fclose(in);
  return bad ? -1 : 0;
}

/* "812.3 &plusmn; 4.1" (std only with more than one seed), or "&ndash;". */
void rpt_html_pm(FILE *f, double mean, double std, int n) {
  if (!isfinite(mean)) {
    fputs("&ndash;", f);
    return;
  }
  fprintf(f, "%.1f", mean);
  if (n > 1 && isfinite(std)) fprintf(f, " &plusmn; %.1f", std);
}

void rpt_html_td(FILE *f, const char *fmt, double v) {
  char b[64];
  rpt_fmt(b, sizeof b, fmt, v);
  fprintf(f, "<td>%s</td>", b[0] ? b : "&ndash;");
}

void rpt_html_row(FILE *f, const char *cls, const char *name) {
  fprintf(f, "<tr%s%s><td class=l>", cls ? " class=" : "", cls ? cls : "");
  rpt_html_esc(f, name);
  fputs("</td>", f);
}

static void summary_table(FILE *f, const rpt_run *r) {
  int d4 = 0, rho = 0; /* D4RL columns only for a task with reference scores */
  for (int i = 0; i < r->nmethods; i++)
    d4 |= isfinite(r->methods[i].final_d4rl), rho |= r->methods[i].nspearman > 0;
  fprintf(f,
          "<table><tr><th>method</th><th>seeds done / failed / running / missing</th>"
          "<th>final return</th><th>last-" RPT_LAST_S " mean</th><th>best return</th>%s"
          "<th>warm-start ratio</th>%s<th>eval restarts</th><th>simulator faults</th>"
          "<th>wall time (s, all seeds)</th></tr>\n",
          d4 ? "<th>final D4RL</th><th>best D4RL</th>" : "",
          rho ? "<th>gap Spearman (seeds)</th>" : "");
  for (int i = 0; i < r->nmethods; i++) {
    const rpt_method *m = &r->methods[i];
    rpt_html_row(f, NULL, m->name);
    fprintf(f, "<td>%d / %d / %d / %d</td><td>", m->done, m->failed, m->running, m->missing);
    rpt_html_pm(f, m->final_mean, m->final_std, m->nagg);
    fputs("</td><td>", f);
    rpt_html_pm(f, m->last_mean, m->last_std, m->nagg);
    fputs("</td><td>", f);
    rpt_html_pm(f, m->best_mean, m->best_std, m->nagg);
    fputs("</td>", f);
    if (d4) rpt_html_td(f, "%.1f", m->final_d4rl), rpt_html_td(f, "%.1f", m->best_d4rl);
    rpt_html_td(f, "%.3f", m->ratio);
    if (rho && m->nspearman) {
      fprintf(f, "<td>%.3f", m->spearman_mean);
      if (m->nspearman > 1) fprintf(f, " &plusmn; %.3f", m->spearman_std);
      fprintf(f, " (%d)</td>", m->nspearman);
    } else if (rho)
      fputs("<td>&ndash;</td>", f);
    rpt_html_td(f, "%.0f", m->restarts);
    rpt_html_td(f, "%.0f", m->sim_faults);
    rpt_html_td(f, "%.0f", m->wall_sum);
    fputs("</tr>\n", f);
  }
  fputs("</table>\n<p class=note>Final: the last evaluation of each seed; last-" RPT_LAST_S
        " mean: the mean of its last " RPT_LAST_S " evaluations (one evaluation is noisy); best: "
        "its best evaluation; mean &plusmn; std (ddof 0) over the seeds that have evaluations and "
        "did not fail. Every return is measured on the real variant.",
        f);
  if (rho)
    fputs(" Gap Spearman: each finished h2o job's discriminators against the true one-step gap "
          "(o2o gap --checkpoint, the job's gap.json): the rank correlation of -log w with the "
          "simulated next state's error; 0 = no better than chance.",
          f);
  fputs("</p>\n", f);
}

void rpt_html_seed_cells(FILE *f, const rpt_job *j, int d4) {
  fprintf(f, "<td class=%s>%s</td><td>%d</td>", rpt_status_name(j->status),
          rpt_status_name(j->status), j->nrows);
  rpt_html_td(f, "%.0f", j->nrows ? j->rows[j->nrows - 1].step : NAN);
  if (d4) rpt_html_td(f, "%.1f", j->final_d4rl), rpt_html_td(f, "%.1f", j->best_d4rl);
  rpt_html_td(f, "%.1f", j->final_ret);
  rpt_html_td(f, "%.1f", j->best_ret);
  rpt_html_td(f, "%.0f", j->wall_s);
}

static void seed_table(FILE *f, const rpt_run *r) {
  fputs("<details><summary>per seed</summary><table><tr><th>method</th><th>seed</th>"
        "<th>status</th><th>evaluations</th><th>last step</th><th>final return</th>"
        "<th>best return</th><th>wall time (s)</th><th>last-" RPT_LAST_S " mean</th>"
        "<th>gap Spearman</th><th>discriminator accuracy</th></tr>\n",
        f);
  for (int i = 0; i < r->nmethods; i++)
    for (int k = 0; k < r->methods[i].njobs; k++) {
      const rpt_job *j = &r->methods[i].jobs[k];
      rpt_html_row(f, NULL, r->methods[i].name);
      fprintf(f, "<td>%d</td>", j->seed);
      rpt_html_seed_cells(f, j, 0);
      rpt_html_td(f, "%.1f", j->last_ret);
      rpt_html_td(f, "%.3f", j->spearman);
      rpt_html_td(f, "%.3f", j->disc_acc);
      fputs("</tr>\n", f);
    }
  fputs("</table></details>\n", f);
}

static void dip_table(FILE *f, const rpt_run *r) {
  fputs("<h2>Warm-start dip</h2>\n", f);
  int any = 0;
  for (int i = 0; i < r->nmethods; i++)
    any |= r->methods[i].warm;
  if (!any) {
    fputs("<p>No warm-started method (naive, wsrl, full) in this run.</p>\n", f);
    return;
  }
  fputs("<p class=note>The first evaluation once the policy began to learn (an env step &gt; K "
        "with more updates than the critic-only ones; K = 0 and none for naive) against the "
        "pretrained score (the offline job of the same seed, its last evaluation). A ratio "
        "below 0.9 is a collapse at the switch to online updates.</p>\n"
        "<table><tr><th>method</th><th>seed</th><th>K</th><th>critic-only updates</th>"
        "<th>actor learns from env step</th><th>pretrained</th><th>first after "
        "warm-up</th><th>ratio</th></tr>\n",
        f);
  for (int i = 0; i < r->nmethods; i++) {
    const rpt_method *m = &r->methods[i];
    if (!m->warm) continue;
    for (int k = 0; k < m->njobs; k++) {
      const rpt_job *j = &m->jobs[k];
      rpt_html_row(f, NULL, m->name);
      fprintf(f, "<td>%d</td>", j->seed);
      rpt_html_td(f, "%.0f", j->warmup);
      rpt_html_td(f, "%.0f", j->actor_delay);
      rpt_html_td(f, "%.0f", j->actor_step);
      rpt_html_td(f, "%.1f", j->pretrained);
      rpt_html_td(f, "%.1f", j->first_after);
      rpt_html_td(f, "%.3f", j->ratio);
      fputs("</tr>\n", f);
    }
    rpt_html_row(f, "agg", m->name);
    fputs("<td>mean</td><td></td><td></td>", f);
    rpt_html_td(f, "%.0f", m->actor_step);
    rpt_html_td(f, "%.1f", m->pre_mean);
    rpt_html_td(f, "%.1f", m->first_mean);
    rpt_html_td(f, "%.3f", m->ratio);
    fputs("</tr>\n", f);
  }
  fputs("</table>\n", f);
}

static void num(FILE *f, const char *fmt, double v) {
  char b[64];
  rpt_fmt(b, sizeof b, fmt, v);
  fputs(b[0] ? b : "&ndash;", f);
}

static void gap_section(FILE *f, const rpt_run *r) {
  fputs("<h2>Dynamics gap (o2o gap)</h2>\n", f);
  if (!r->has_gap) {
    fputs("<p>No gap.json in the run folder: the gap was not measured (the dataset records "
          "no simulator states, or the run did not get there).</p>\n",
          f);
    return;
  }
  fputs("<p>The ", f);
  rpt_html_esc(f, r->gap_variant[0] ? r->gap_variant : "sim");
  fputs(" variant of <code>", f);
  rpt_html_esc(f, r->gap_scenario);
  fputs("</code> replaying <code>", f);
  rpt_html_esc(f, r->gap_dataset);
  fputs("</code>: ", f);
  num(f, "%.0f", r->gap_transitions);
  fputs(" transitions from ", f);
  rpt_html_esc(f, r->gap_source);
  fputs("; mean |error| over dimensions <b>", f);
  num(f, "%.3f", r->gap_overall);
  fputs("</b> dataset stds, largest single error ", f);
  num(f, "%.4g", r->gap_max_abs);
  fputs(".</p>\n<table><tr><th>obs dim</th><th>mean |error| (stds)</th>"
        "<th>95th pct (stds)</th></tr>\n",
        f);
  for (int d = 0; d < r->gap_dims; d++) {
    fprintf(f, "<tr><td>%d</td>", d);
    rpt_html_td(f, "%.4f", r->gap_mean_std[d]);
    rpt_html_td(f, "%.4f", r->gap_p95_std[d]);
    fputs("</tr>\n", f);
  }
  fputs("</table>\n", f);
}

static void jobs_section(FILE *f, const rpt_run *r) {
  int failed = 0, open = 0;
  for (int i = 0; i < r->nmethods; i++)
    for (int k = 0; k < r->methods[i].njobs; k++) {
      rpt_status s = r->methods[i].jobs[k].status;
      failed += s == RPT_FAILED, open += s == RPT_RUNNING || s == RPT_MISSING;
    }
  if (open) {
    fputs("<h2>Unfinished jobs</h2>\n<p class=warn>This run is not finished: the figures above "
          "cover what is there.</p><ul>\n",
          f);
    for (int i = 0; i < r->nmethods; i++)
      for (int k = 0; k < r->methods[i].njobs; k++) {
        const rpt_job *j = &r->methods[i].jobs[k];
        if (j->status != RPT_RUNNING && j->status != RPT_MISSING) continue;
        fputs("<li>", f);
        rpt_html_esc(f, r->methods[i].name);
        fprintf(f, "/seed%d: %s</li>\n", j->seed,
                j->status == RPT_MISSING ? "not started (no folder)"
                                         : "running or interrupted (no DONE, no FAILED)");
      }
    fputs("</ul>\n", f);
  }
  if (failed) {
    fputs("<h2>Failed jobs</h2>\n<table><tr><th>job</th><th>error</th></tr>\n", f);
    for (int i = 0; i < r->nmethods; i++)
      for (int k = 0; k < r->methods[i].njobs; k++) {
        const rpt_job *j = &r->methods[i].jobs[k];
        if (j->status != RPT_FAILED) continue;
        fputs("<tr><td class=l>", f);
        rpt_html_esc(f, r->methods[i].name);
        fprintf(f, "/seed%d</td><td class=l><code>", j->seed);
        rpt_html_esc(f, j->error);
        fputs("</code></td></tr>\n", f);
      }
    fputs("</table>\n", f);
  }
}

static void log_section(FILE *f, const rpt_run *r) {
  fputs("<h2>Log events</h2>\n", f);
  if (!r->events_total) {
    fputs("<p>No restart, failure or error in run.log, no simulator fault in the jobs' "
          "log.txt.</p>\n",
          f);
    return;
  }
  fprintf(f,
          "<p>%d line%s of run.log naming a restart, failure, error, kill or timeout, and the "
          "simulator faults in the jobs' log.txt (the pool restarted or reconnected o2o-sim):"
          "</p><pre>",
          r->events_total, r->events_total == 1 ? "" : "s");
  for (int i = 0; i < r->nevents; i++) {
    rpt_html_esc(f, r->events[i]);
    fputc('\n', f);
  }
  if (r->events_total > r->nevents)
    fprintf(f, "... and %d more (see run.log)\n", r->events_total - r->nevents);
  fputs("</pre>\n", f);
}

static const char *const css =
    "body{font-family:'DejaVu Sans',sans-serif;margin:24px auto;max-width:1240px;color:#222}"
    "h1{font-size:24px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:4px 10px;"
    "text-align:right}th{background:#f2f2f2;text-align:center}td.l{text-align:left}tr.agg "
    "td{font-weight:bold}"
    "td.failed,.failed{color:#b00020}td{white-space:nowrap}td.running,td.missing{color:#a06000}."
    "warn{color:#a06000}"
    ".note{color:#555;font-size:13px}pre{background:#f6f6f6;padding:10px;white-space:pre-wrap;word-"
    "break:break-all}"
    "img{max-width:100%;border:1px solid #ddd}";

void rpt_html_head(FILE *f, const char *what, const char *name) {
  fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>", f);
  rpt_html_esc(f, what);
  fputs(": ", f);
  rpt_html_esc(f, name);
  fprintf(f, "</title><style>%s</style></head><body>\n<h1>", css);
  rpt_html_esc(f, what);
  fputs(": ", f);
  rpt_html_esc(f, name);
  fputs("</h1>\n", f);
}

int rpt_write_html(const rpt_run *r, const char *png_path, const char *path, char *err,
                   size_t errlen) {
  FILE *f = fopen(path, "w");
  if (!f) {
    o2o_agent_errf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  int total = 0, done = 0, failed = 0;
  for (int i = 0; i < r->nmethods; i++)
    total += r->methods[i].njobs, done += r->methods[i].done, failed += r->methods[i].failed;
  rpt_html_head(f, "o2o run report", r->name);
  fputs("<p class=note>run folder <code>", f);
  rpt_html_esc(f, r->dir);
  fputs("</code></p>\n<p>", f);
  const char *k[] = {"experiment.description", "experiment.scenario", "experiment.dataset"};
  const char *lab[] = {"", "scenario: ", "dataset: "};
  for (int i = 0; i < 3; i++)
    if (rpt_ini(r, k[i])) {
      fputs(i ? " &middot; " : "", f);
      fputs(lab[i], f);
      rpt_html_esc(f, rpt_ini(r, k[i]));
    }
  fprintf(f, "</p>\n<p>Jobs: %d of %d done", done, total);
  if (failed) fprintf(f, ", <span class=failed>%d failed</span> (see Failed jobs)", failed);
  if (done + failed < total)
    fprintf(f, ", <span class=warn>%d not finished</span> (a partial run: see Unfinished jobs)",
            total - done - failed);
  fputs(".</p>\n", f);
  if (!r->ini_text)
    fputs("<p class=warn>No experiment.ini in the run folder: expected jobs, K and the config "
          "are unknown.</p>\n",
          f);
  fputs("<img alt=\"return vs env step of every method\" src=\"data:image/png;base64,", f);
  if (rpt_html_base64(f, png_path)) {
    fclose(f);
    o2o_agent_errf(err, errlen, "cannot read %s to embed it in %s", png_path, path);
    return -1;
  }
  fputs("\">\n<h2>Summary</h2>\n", f);
  summary_table(f, r);
  seed_table(f, r);
  dip_table(f, r);
  gap_section(f, r);
  jobs_section(f, r);
  log_section(f, r);
  fputs("<h2>Resolved config (experiment.ini)</h2>\n<pre>", f);
  rpt_html_esc(f, r->ini_text ? r->ini_text : "(missing)");
  fputs("</pre>\n<h2>Reproduce</h2>\n<pre>", f);
  if (r->command[0]) {
    rpt_html_esc(f, r->command);
  } else {
    fputs("./build/o2o run ", f);
    rpt_html_esc(f, r->dir);
    fputs("/experiment.ini --out NEW_RUN_DIR", f);
  }
  fputs("</pre>\n<p class=note>experiment.ini is the resolved experiment (every key, defaults "
        "filled in); run into the same folder, o2o run resumes it or, when finished, only "
        "rebuilds the report.</p>\n",
        f);
  fputs("<p class=note>The report again, at any time: <code>./build/o2o report ", f);
  rpt_html_esc(f, r->dir);
  fputs("</code></p>\n</body></html>\n", f);
  if (fclose(f)) {
    o2o_agent_errf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}
