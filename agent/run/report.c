/* report.c: `o2o report`: reads a run folder (the layout in report.h) into an rpt_run, with
 * per-seed and per-method figures, then writes the outputs (report_out.c, report_html.c). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "o2o_agent.h"
#include "run/report_internal.h"
#include "run/train.h"

/* The methods of `o2o run` in the report's order, with fixed colours (o2o_plot palette):
 * the two orange-ish ones go to full and sac-sim, whose curves are usually far apart. */
static const struct {
  const char *name;
  int color, warm; /* warm: pretrained from offline/seed<k> */
} known[] = {{"offline", 4, 0}, {"sac-sim", 1, 0}, {"naive", 5, 1},
             {"wsrl", 2, 1},    {"h2o", 0, 0},     {"full", 3, 1}};
#define NKNOWN 6

void o2o_report_options_default(o2o_report_options *opt) {
  memset(opt, 0, sizeof *opt);
  opt->width = 1200;
  opt->height = 700;
}

const char *rpt_status_name(rpt_status s) {
  static const char *const names[] = {"missing", "running", "done", "failed"};
  return names[s];
}

void rpt_fmt(char *buf, size_t cap, const char *fmt, double v) {
  if (isfinite(v))
    snprintf(buf, cap, fmt, v);
  else
    buf[0] = 0;
}

const char *rpt_ini(const rpt_run *r, const char *key) {
  for (int i = 0; i < r->nini; i++)
    if (!strcmp(r->ini_key[i], key)) return r->ini_val[i];
  return NULL;
}

char *rpt_slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *b = malloc(cap);
  for (size_t k; b && (k = fread(b + n, 1, cap - n - 1, f)) > 0;) {
    n += k;
    if (cap - n - 1 == 0) {
      char *nb = realloc(b, cap *= 2);
      if (!nb) free(b);
      b = nb;
    }
  }
  fclose(f);
  if (b) b[n] = 0;
  return b;
}

int rpt_is_dir(const char *path) {
  struct stat st;
  return !stat(path, &st) && S_ISDIR(st.st_mode);
}

int rpt_exists(const char *path) {
  struct stat st;
  return !stat(path, &st);
}

static int on_ini(void *user, const char *section, const char *name, const char *value) {
  rpt_run *r = user;
  if (r->nini < RPT_MAX_INI) {
    snprintf(r->ini_key[r->nini], sizeof r->ini_key[0], "%s.%s", section, name);
    snprintf(r->ini_val[r->nini++], sizeof r->ini_val[0], "%s", value);
  }
  return 1;
}

/* "1,2,5" or "1-3" (or a mix: "1-1,4") -> those; a lone "3" -> 1,2,3 (the RUNLAYOUT rule).
 * Returns the count. */
static int parse_seeds(const char *s, int *out, int cap) {
  int n = 0;
  if (!s) return 0;
  if (!strchr(s, ',') && !strchr(s, '-')) {
    int k = atoi(s);
    for (int i = 1; i <= k && n < cap; i++)
      out[n++] = i;
    return n;
  }
  for (const char *p = s; *p && n < cap;) {
    char *end;
    long a = strtol(p, &end, 10), b = a;
    if (end == p) break;
    if (*end == '-') {
      p = end + 1;
      b = strtol(p, &end, 10);
      if (end == p) break;
    }
    for (long v = a; v <= b && n < cap; v++)
      out[n++] = (int)v;
    p = end;
    while (*p == ',' || isspace((unsigned char)*p))
      p++;
  }
  return n;
}

static void add_event(rpt_run *r, const char *prefix, const char *line) {
  r->events_total++;
  if (r->nevents >= RPT_MAX_EVENTS) return;
  size_t n = strlen(prefix) + strlen(line) + 1;
  if ((r->events[r->nevents] = malloc(n)))
    snprintf(r->events[r->nevents++], n, "%s%s", prefix, line);
}

/* The job's log.txt (the worker's stderr): the pool's fault lines (a simulator restarted or
 * reconnected) become events and are counted. */
static void read_job_log(rpt_run *r, const char *dir, const char *job, rpt_job *j) {
  char p[1500], prefix[420], line[2048];
  snprintf(p, sizeof p, "%s/log.txt", dir);
  snprintf(prefix, sizeof prefix, "%s: ", job);
  FILE *f = fopen(p, "r");
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "o2o pool: fault", 15)) continue;
    line[strcspn(line, "\r\n")] = 0;
    j->sim_faults++;
    add_event(r, prefix, line);
  }
  fclose(f);
}

rpt_method *rpt_method_get(rpt_run *r, const char *name) {
  for (int i = 0; i < r->nmethods; i++)
    if (!strcmp(r->methods[i].name, name)) return &r->methods[i];
  if (r->nmethods >= RPT_MAX_METHODS) return NULL;
  rpt_method *m = &r->methods[r->nmethods++];
  memset(m, 0, sizeof *m);
  snprintf(m->name, sizeof m->name, "%s", name);
  m->offline = !strcmp(name, "offline");
  m->color = 6;
  for (int k = 0; k < NKNOWN; k++)
    if (!strcmp(known[k].name, name)) m->color = known[k].color, m->warm = known[k].warm;
  return m;
}

rpt_job *rpt_job_get(rpt_method *m, int seed) {
  for (int i = 0; i < m->njobs; i++)
    if (m->jobs[i].seed == seed) return &m->jobs[i];
  if (m->njobs >= RPT_MAX_SEEDS) return NULL;
  rpt_job *j = &m->jobs[m->njobs++];
  memset(j, 0, sizeof *j);
  j->seed = seed;
  return j;
}

/* The header's column index of name, or -1. */
static int column(char **cols, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(cols[i], name)) return i;
  return -1;
}

/* Splits line in place at commas (the newline dropped). Returns the field count. */
static int split(char *line, char **f, int cap) {
  line[strcspn(line, "\r\n")] = 0;
  int n = 0;
  for (char *s = line;; s++) {
    if (n < cap) f[n] = s;
    n++;
    s = strchr(s, ',');
    if (!s) break;
    *s = 0;
  }
  return n;
}

static int read_metrics(const char *path, rpt_job *j, char *err, size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) return 0; /* no evaluation yet */
  enum { MAXF = 128 };
  char line[16384], head[16384], *cols[MAXF], *v[MAXF];
  int rc = -1, lineno = 1, ncol = 0, cap = 0;
  if (!fgets(head, sizeof head, f)) { /* empty: started, no row yet */
    fclose(f);
    return 0;
  }
  ncol = split(head, cols, MAXF);
  const char *need[] = {"step", "wall_s", "eval_return_mean"};
  const int nc = ncol < MAXF ? ncol : MAXF;
  int idx[3], opt[2] = {column(cols, nc, "eval_restarted"), column(cols, nc, "updates")};
  for (int k = 0; k < 3; k++)
    if ((idx[k] = column(cols, ncol < MAXF ? ncol : MAXF, need[k])) < 0) {
      o2o_agent_errf(err, errlen, "%s:1: no column '%s' in the header", path, need[k]);
      goto done;
    }
  while (fgets(line, sizeof line, f)) {
    lineno++;
    if (!strchr(line, '\n')) {
      if (!feof(f)) {
        o2o_agent_errf(err, errlen, "%s:%d: line longer than %zu bytes", path, lineno,
                       sizeof line - 1);
        goto done;
      }
      break; /* a row being written: not a row yet */
    }
    if (line[strspn(line, " \r\n")] == 0) continue;
    int n = split(line, v, MAXF);
    if (n != ncol) {
      o2o_agent_errf(err, errlen, "%s:%d: %d fields, the header has %d", path, lineno, n, ncol);
      goto done;
    }
    double d[5] = {0, 0, 0, 0, NAN}; /* no updates column (offline): unknown */
    for (int k = 0; k < 5; k++) {
      int c = k < 3 ? idx[k] : opt[k - 3];
      if (c < 0) continue;
      char *end;
      d[k] = strtod(v[c], &end);
      if (end == v[c] || *end) {
        o2o_agent_errf(err, errlen, "%s:%d: column '%s': '%s' is not a number", path, lineno,
                       cols[c], v[c]);
        goto done;
      }
    }
    if (j->nrows == cap) {
      cap = cap ? 2 * cap : 64;
      rpt_row *nr = realloc(j->rows, sizeof(rpt_row) * (size_t)cap);
      if (!nr) {
        o2o_agent_errf(err, errlen, "out of memory reading %s", path);
        goto done;
      }
      j->rows = nr;
    }
    j->rows[j->nrows++] = (rpt_row){d[0], d[1], d[2], d[3], d[4]};
  }
  rc = 0;
done:
  fclose(f);
  return rc;
}

/* One job's folder: status, rows, DONE / FAILED / config.json facts. */
static int read_job(rpt_run *r, rpt_method *m, rpt_job *j, char *err, size_t errlen) {
  char dir[1400], p[1500];
  snprintf(dir, sizeof dir, "%s/%s/seed%d", r->dir, m->dir[0] ? m->dir : m->name, j->seed);
  j->wall_s = j->pretrained = j->first_after = NAN;
  j->actor_delay = 0;
  j->final_ret = j->best_ret = j->final_d4rl = j->best_d4rl = j->ratio = NAN;
  j->last_ret = j->spearman = j->disc_acc = j->actor_step = NAN;
  if (!rpt_is_dir(dir)) {
    j->status = RPT_MISSING;
    return 0;
  }
  snprintf(p, sizeof p, "%s/metrics.csv", dir);
  if (read_metrics(p, j, err, errlen)) return -1;
  j->warm = m->warm;
  j->warmup = !strcmp(m->name, "naive") ? 0 : r->K;
  snprintf(p, sizeof p, "%s/FAILED", dir);
  char *t, s[1024];
  if ((t = rpt_slurp(p))) {
    j->status = RPT_FAILED;
    if (!rpt_json_string(t, "error", j->error, sizeof j->error))
      snprintf(j->error, sizeof j->error, "%s", t);
    free(t);
  } else {
    char fin[1500];
    snprintf(fin, sizeof fin, "%s/final.safetensors", dir); /* train-offline's last write */
    snprintf(p, sizeof p, "%s/DONE", dir);
    j->status = rpt_exists(p) || (r->bench && rpt_exists(fin)) ? RPT_DONE : RPT_RUNNING;
    if ((t = rpt_slurp(p))) {
      rpt_json_number(t, "wall_s", &j->wall_s);
      if (rpt_json_string(t, "init_from", s, sizeof s) && s[0]) j->warm = 1;
      rpt_json_number(t, "warmup_steps", &j->warmup);
      double dm;
      if (m->offline && (rpt_json_number(t, "dataset_return_mean", &dm) ||
                         rpt_json_number(t, "dataset_mean_return", &dm)))
        r->dataset_mean = dm;
      free(t);
    }
  }
  if (!isfinite(j->wall_s) && j->nrows) j->wall_s = j->rows[j->nrows - 1].wall;
  char job[400];
  snprintf(job, sizeof job, "%s/seed%d", m->dir[0] ? m->dir : m->name, j->seed);
  read_job_log(r, dir, job, j);
  snprintf(p, sizeof p, "%s/config.json", dir);
  if ((t = rpt_slurp(p))) {
    if (!r->task[0]) rpt_json_string(t, "task", r->task, sizeof r->task);
    /* train-offline's own record of the data, for a job without DONE (a standalone run) */
    if (m->offline && !isfinite(r->dataset_mean))
      rpt_json_number(t, "dataset_return_mean", &r->dataset_mean);
    if (rpt_json_string(t, "init_from", s, sizeof s) && s[0]) j->warm = 1;
    rpt_json_number(t, "warmup_steps", &j->warmup);
    char algo[32], key[64]; /* the learner's own section: "h2o": {..., "actor_delay": N} */
    if (rpt_json_string(t, "algorithm", algo, sizeof algo)) {
      snprintf(key, sizeof key, "%s.actor_delay", algo);
      rpt_json_number(t, key, &j->actor_delay);
    }
    free(t);
  }
  if (j->warm) m->warm = 1;
  /* o2o run measures each finished h2o job's discriminators against the true gap */
  snprintf(p, sizeof p, "%s/gap.json", dir);
  if ((t = rpt_slurp(p))) {
    rpt_json_number(t, "spearman", &j->spearman);
    rpt_json_number(t, "disc_accuracy", &j->disc_acc);
    free(t);
  }
  return 0;
}

static double mean_of(const double *v, int n) {
  double s = 0;
  for (int i = 0; i < n; i++)
    s += v[i];
  return n ? s / n : NAN;
}

static double std_of(const double *v, int n) {
  double m = mean_of(v, n), s = 0;
  for (int i = 0; i < n; i++)
    s += (v[i] - m) * (v[i] - m);
  return n ? sqrt(s / n) : NAN;
}

static void d4rl(const rpt_run *r, double ret, double *out) {
  if (!isfinite(ret) || !o2o_train_d4rl_score(r->task, ret, out)) *out = NAN;
}

/* Per-seed figures, then the method's aggregate over seeds with evaluations that did not fail. */
static void aggregate(rpt_run *r, rpt_method *m, const rpt_method *off) {
  double fin[RPT_MAX_SEEDS], best[RPT_MAX_SEEDS], pre[RPT_MAX_SEEDS], first[RPT_MAX_SEEDS];
  double last[RPT_MAX_SEEDS], rho[RPT_MAX_SEEDS], acc[RPT_MAX_SEEDS];
  double ast[RPT_MAX_SEEDS], adl[RPT_MAX_SEEDS];
  int n = 0, npre = 0, nfirst = 0, nrho = 0, nast = 0;
  m->wall_sum = 0;
  int walls = 0;
  for (int i = 0; i < m->njobs; i++) {
    rpt_job *j = &m->jobs[i];
    m->done += j->status == RPT_DONE, m->failed += j->status == RPT_FAILED;
    m->running += j->status == RPT_RUNNING, m->missing += j->status == RPT_MISSING;
    double ps = j->warmup, pu = 0; /* updates begin at K */
    for (int k = 0; k < j->nrows; k++) {
      const rpt_row *w = &j->rows[k];
      if (j->actor_delay > 0 && !isfinite(j->actor_step) && w->updates > j->actor_delay &&
          w->updates > pu && w->step >= ps)
        j->actor_step = ps + (j->actor_delay - pu) * (w->step - ps) / (w->updates - pu);
      if (w->updates <= j->actor_delay) ps = w->step, pu = w->updates;
      j->restarts += w->restarted > 0;
      if (!(w->mean <= j->best_ret)) j->best_ret = isfinite(w->mean) ? w->mean : j->best_ret;
      /* the first evaluation once the policy began to change: after K, and after the
       * learner's critic-only updates (a row's "updates" column, when the file has one) */
      if (!isfinite(j->first_after) && w->step > j->warmup && !(w->updates <= j->actor_delay))
        j->first_after = w->mean;
    }
    if (j->nrows) j->final_ret = j->rows[j->nrows - 1].mean;
    int nl = j->nrows < RPT_LAST ? j->nrows : RPT_LAST;
    if (nl) {
      double s = 0;
      for (int k = j->nrows - nl; k < j->nrows; k++)
        s += j->rows[k].mean;
      j->last_ret = s / nl;
    }
    d4rl(r, j->final_ret, &j->final_d4rl);
    d4rl(r, j->best_ret, &j->best_d4rl);
    if (!j->warm) j->first_after = NAN;
    if (j->warm && off)
      for (int k = 0; k < off->njobs; k++)
        if (off->jobs[k].seed == j->seed) j->pretrained = off->jobs[k].final_ret;
    /* no offline job to compare with: the warm-started loop's own step-0 evaluation is the
     * pretrained policy (train-online evaluates it before the first env step) */
    if (j->warm && !isfinite(j->pretrained) && j->nrows && j->rows[0].step == 0)
      j->pretrained = j->rows[0].mean;
    j->ratio = j->first_after / j->pretrained;
    if (isfinite(j->wall_s)) m->wall_sum += j->wall_s, walls++;
    m->restarts += j->restarts, m->sim_faults += j->sim_faults;
    if (isfinite(j->spearman)) rho[nrho] = j->spearman, acc[nrho++] = j->disc_acc;
    if (j->warm && isfinite(j->actor_step)) ast[nast] = j->actor_step, adl[nast++] = j->actor_delay;
    if (j->status == RPT_FAILED || !j->nrows) continue;
    last[n] = j->last_ret, fin[n] = j->final_ret, best[n++] = j->best_ret;
    if (isfinite(j->pretrained)) pre[npre++] = j->pretrained;
    if (isfinite(j->first_after)) first[nfirst++] = j->first_after;
  }
  if (!walls) m->wall_sum = NAN;
  m->nagg = n;
  m->final_mean = mean_of(fin, n), m->final_std = std_of(fin, n);
  m->best_mean = mean_of(best, n), m->best_std = std_of(best, n);
  m->last_mean = mean_of(last, n), m->last_std = std_of(last, n);
  m->nspearman = nrho;
  m->spearman_mean = mean_of(rho, nrho), m->spearman_std = std_of(rho, nrho);
  m->acc_mean = mean_of(acc, nrho);
  m->actor_step = mean_of(ast, nast), m->actor_delay = mean_of(adl, nast);
  d4rl(r, m->final_mean, &m->final_d4rl);
  d4rl(r, m->best_mean, &m->best_d4rl);
  m->pre_mean = mean_of(pre, npre), m->first_mean = mean_of(first, nfirst);
  m->ratio = m->first_mean / m->pre_mean;
}

static int by_seed(const void *a, const void *b) {
  return ((const rpt_job *)a)->seed - ((const rpt_job *)b)->seed;
}

static int rank_of(const char *name) {
  for (int k = 0; k < NKNOWN; k++)
    if (!strcmp(known[k].name, name)) return k;
  return NKNOWN;
}

static int by_method(const void *a, const void *b) {
  const rpt_method *x = a, *y = b;
  int d = rank_of(x->name) - rank_of(y->name);
  return d ? d : strcmp(x->name, y->name);
}

int rpt_scan_seeds(rpt_method *m, const char *dir) {
  DIR *sd = opendir(dir);
  if (!sd) return 0;
  int n = 0;
  for (struct dirent *s; (s = readdir(sd));) {
    char *end;
    long k = strncmp(s->d_name, "seed", 4) ? -1 : strtol(s->d_name + 4, &end, 10);
    if (k < 0 || end == s->d_name + 4 || *end || k > 1000000000) continue;
    n++;
    if (m) rpt_job_get(m, (int)k);
  }
  closedir(sd);
  return n;
}

/* Method folders: the known names, and any folder holding seed<k> folders. */
static void scan_dirs(rpt_run *r) {
  DIR *d = opendir(r->dir);
  if (!d) return;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.' || strlen(e->d_name) >= 64) continue;
    char p[1400];
    snprintf(p, sizeof p, "%s/%s", r->dir, e->d_name);
    if (!rpt_is_dir(p)) continue;
    if (rank_of(e->d_name) == NKNOWN && !rpt_scan_seeds(NULL, p)) continue;
    rpt_method *m = rpt_method_get(r, e->d_name);
    if (m) rpt_scan_seeds(m, p);
  }
  closedir(d);
}

/* Expected jobs from experiment.ini: methods x seeds (warm methods imply offline). */
static void expected_jobs(rpt_run *r) {
  int seeds[RPT_MAX_SEEDS];
  int ns = parse_seeds(rpt_ini(r, "experiment.seeds"), seeds, RPT_MAX_SEEDS);
  const char *ml = rpt_ini(r, "experiment.methods");
  if (!ml || !ns) return;
  char list[256];
  snprintf(list, sizeof list, "%s", ml);
  int all = !strcmp(list, "all"), warm = 0;
  for (int k = 0; k < NKNOWN; k++) {
    int want = all;
    for (char *t = list, *save = NULL; !want && (t = strtok_r(t, ", \t", &save)); t = NULL)
      want = !strcmp(t, known[k].name);
    snprintf(list, sizeof list, "%s", ml); /* strtok_r cut it */
    warm |= want && known[k].warm;
    if (!want) continue;
    rpt_method *m = rpt_method_get(r, known[k].name);
    for (int i = 0; m && i < ns; i++)
      rpt_job_get(m, seeds[i]);
  }
  /* offline comes first in known[], so a warm method listed later adds it here */
  if (warm) {
    rpt_method *m = rpt_method_get(r, "offline");
    for (int i = 0; m && i < ns; i++)
      rpt_job_get(m, seeds[i]);
  }
}

static void read_log(rpt_run *r) {
  char p[1400];
  snprintf(p, sizeof p, "%s/run.log", r->dir);
  FILE *f = fopen(p, "r");
  if (!f) return;
  static const char *const words[] = {"restart", "fail",   "error",   "died",
                                      "kill",    "signal", "timeout", "warning"};
  char line[2048];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = 0;
    /* "command: ..." at the start or after the time stamp o2o run puts first */
    const char *c = strstr(line, "command: ");
    if (c && !r->command[0] && (c == line || (c[-1] == ' ' && !memchr(line, ' ', c - 1 - line)))) {
      snprintf(r->command, sizeof r->command, "%s", c + 9);
      continue;
    }
    if (strstr(line, "o2o pool: fault")) continue; /* listed from the job's log.txt */
    /* o2o run's closing "N of M jobs DONE, 0 FAILED" is no failure */
    char probe[sizeof line];
    snprintf(probe, sizeof probe, "%s", line);
    for (char *z; (z = strstr(probe, " 0 FAILED"));)
      memset(z, '_', 9);
    int hit = 0;
    for (size_t k = 0; k < sizeof words / sizeof words[0] && !hit; k++)
      hit = strcasestr(probe, words[k]) != NULL;
    if (hit) add_event(r, "", line);
  }
  fclose(f);
}

static int read_gap(rpt_run *r, char *err, size_t errlen) {
  char p[1400];
  snprintf(p, sizeof p, "%s/gap.json", r->dir);
  char *t = rpt_slurp(p);
  if (!t) return 0;
  long at;
  if (rpt_json_check(t, &at)) {
    o2o_agent_errf(err, errlen, "%s: not a JSON object (error at byte %ld)", p, at);
    free(t);
    return -1;
  }
  int n1 = 0, n2 = 0;
  r->has_gap = rpt_json_numbers(t, "mean_std_units", r->gap_mean_std, RPT_MAX_DIMS, &n1);
  rpt_json_numbers(t, "p95_std_units", r->gap_p95_std, RPT_MAX_DIMS, &n2);
  r->gap_dims = n1;
  for (int i = n2; i < n1; i++)
    r->gap_p95_std[i] = NAN;
  r->gap_transitions = r->gap_overall = r->gap_max_abs = NAN;
  rpt_json_string(t, "dataset", r->gap_dataset, sizeof r->gap_dataset);
  rpt_json_string(t, "scenario", r->gap_scenario, sizeof r->gap_scenario);
  rpt_json_string(t, "variant", r->gap_variant, sizeof r->gap_variant);
  rpt_json_string(t, "state_source", r->gap_source, sizeof r->gap_source);
  rpt_json_number(t, "transitions", &r->gap_transitions);
  rpt_json_number(t, "overall_mean_std", &r->gap_overall);
  rpt_json_number(t, "max_abs", &r->gap_max_abs);
  free(t);
  if (!r->has_gap) {
    o2o_agent_errf(err, errlen, "%s: no \"mean_std_units\" array (not o2o gap --json output)", p);
    return -1;
  }
  return 0;
}

int rpt_read_jobs(rpt_run *r, char *err, size_t errlen) {
  qsort(r->methods, (size_t)r->nmethods, sizeof r->methods[0], by_method);
  for (int i = 0; i < r->nmethods; i++) {
    rpt_method *m = &r->methods[i];
    qsort(m->jobs, (size_t)m->njobs, sizeof m->jobs[0], by_seed);
    for (int k = 0; k < m->njobs; k++)
      if (read_job(r, m, &m->jobs[k], err, errlen)) return -1;
  }
  /* a benchmark's methods are all offline learners: none is another's pretrain */
  const rpt_method *off = !r->bench && r->methods[0].offline ? &r->methods[0] : NULL;
  for (int i = 0; i < r->nmethods; i++)
    aggregate(r, &r->methods[i], off);
  return 0;
}

void rpt_dir_name(const char *path, char *dir, size_t dcap, char *name, size_t ncap) {
  snprintf(dir, dcap, "%s", path);
  size_t len = strlen(dir);
  while (len > 1 && dir[len - 1] == '/')
    dir[--len] = 0;
  const char *base = strrchr(dir, '/');
  snprintf(name, ncap, "%s", base ? base + 1 : dir);
}

static int read_run(rpt_run *r, const char *run_dir, char *err, size_t errlen) {
  rpt_dir_name(run_dir, r->dir, sizeof r->dir, r->name, sizeof r->name);
  r->K = r->dataset_mean = NAN;
  if (!rpt_is_dir(r->dir)) {
    o2o_agent_errf(err, errlen, "%s: not a directory", run_dir);
    return -1;
  }
  char p[1400];
  snprintf(p, sizeof p, "%s/experiment.ini", r->dir);
  if ((r->ini_text = rpt_slurp(p))) {
    int line = ini_parse(p, on_ini, r);
    if (line) {
      o2o_agent_errf(err, errlen, "%s:%d: not INI", p, line);
      return -1;
    }
    const char *k = rpt_ini(r, "warmstart.steps");
    if (k) r->K = atof(k);
    const char *name = rpt_ini(r, "experiment.name"); /* the folder may be named otherwise */
    if (name && name[0]) snprintf(r->name, sizeof r->name, "%.255s", name);
  }
  read_log(r);
  scan_dirs(r);
  expected_jobs(r);
  if (!r->nmethods) {
    o2o_agent_errf(err, errlen,
                   "%s: not a run folder of o2o run (no experiment.ini, no method folders with "
                   "seed<k> folders: offline/seed1, full/seed1, ...) nor of the offline "
                   "benchmark (<dataset>-<algo>/offline/seed1, ...)",
                   run_dir);
    return -1;
  }
  if (rpt_read_jobs(r, err, errlen)) return -1;
  return read_gap(r, err, errlen);
}

void rpt_free_run(rpt_run *r) {
  free(r->ini_text);
  for (int i = 0; i < r->nmethods; i++)
    for (int k = 0; k < r->methods[i].njobs; k++)
      free(r->methods[i].jobs[k].rows);
  for (int i = 0; i < r->nevents; i++)
    free(r->events[i]);
  free(r);
}

int o2o_report_write(const char *run_dir, const o2o_report_options *opt, char *err, size_t errlen) {
  o2o_report_options def;
  if (!opt) o2o_report_options_default(&def), opt = &def;
  const int bench = rpt_bench_kind(run_dir);
  if (bench) return rpt_bench_write(run_dir, bench, opt, err, errlen);
  rpt_run *r = calloc(1, sizeof *r);
  if (!r) {
    o2o_agent_errf(err, errlen, "out of memory");
    return -1;
  }
  const int rc =
      read_run(r, run_dir, err, errlen) ? -1 : rpt_write_outputs(r, NULL, opt, err, errlen);
  rpt_free_run(r);
  return rc;
}
