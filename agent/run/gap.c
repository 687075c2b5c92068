/* gap.c: `o2o gap`, replaying dataset transitions in a simulator variant (gap.h). */
#include "run/gap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/progress.h"

#include "o2o_agent.h"
#include "learn/h2o.h"
#include "learn/learner.h"
#include "nn/nn.h"
#include "o2o_bridge.h"
#include "o2o_dataset.h"
#include "run/train.h"

void o2o_gap_config_default(o2o_gap_config *c) {
  memset(c, 0, sizeof *c);
  c->variant = "sim";
  c->transitions = 10000;
  c->seed = 1;
  c->procs = 2;
  c->envs_per_proc = 64;
}

void o2o_gap_result_free(o2o_gap_result *r) {
  free(r->mean_abs);
  free(r->p95_abs);
  free(r->data_std);
  free(r->mean_std_units);
  free(r->p95_std_units);
  free(r->row_error);
  memset(r, 0, sizeof *r);
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

typedef struct value_index {
  double v;
  int64_t i;
} value_index;

static int cmp_value(const void *a, const void *b) {
  double x = ((const value_index *)a)->v, y = ((const value_index *)b)->v;
  return (x > y) - (x < y);
}

/* ranks (1-based, ties averaged) of x into r; -1 when out of memory */
static int ranks(const double *x, int64_t n, double *r) {
  value_index *p = malloc(sizeof(value_index) * (size_t)n);
  if (!p) return -1;
  for (int64_t i = 0; i < n; i++)
    p[i] = (value_index){x[i], i};
  qsort(p, (size_t)n, sizeof *p, cmp_value);
  for (int64_t i = 0; i < n;) {
    int64_t j = i;
    while (j + 1 < n && p[j + 1].v == p[i].v)
      j++;
    for (int64_t k = i; k <= j; k++)
      r[p[k].i] = 0.5 * (double)(i + j) + 1.0;
    i = j + 1;
  }
  free(p);
  return 0;
}

double o2o_gap_spearman(const double *x, const double *y, int64_t n) {
  if (n < 2) return NAN;
  double *rx = malloc(sizeof(double) * (size_t)n), *ry = malloc(sizeof(double) * (size_t)n);
  double c = NAN;
  if (rx && ry && !ranks(x, n, rx) && !ranks(y, n, ry)) {
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (int64_t i = 0; i < n; i++)
      mx += rx[i] / n, my += ry[i] / n;
    for (int64_t i = 0; i < n; i++) {
      sxy += (rx[i] - mx) * (ry[i] - my);
      sxx += (rx[i] - mx) * (rx[i] - mx);
      syy += (ry[i] - my) * (ry[i] - my);
    }
    if (sxx > 0 && syy > 0) c = sxy / sqrt(sxx * syy);
  }
  free(rx);
  free(ry);
  return c;
}

static const o2o_dataset_extra *find_extra(const o2o_dataset_extra *ex, int n, const char *key) {
  for (int i = 0; i < n; i++)
    if (!strcmp(ex[i].key, key)) return &ex[i];
  return NULL;
}

/* float64 value (i, j) of a 2-D extra of any float dtype */
static double extra_at(const o2o_dataset_extra *e, int64_t i, int64_t j) {
  int64_t k = i * e->shape[1] + j;
  return e->dtype == O2O_DTYPE_F64 ? ((const double *)e->data)[k] : ((const float *)e->data)[k];
}

typedef struct gap_run {
  const o2o_gap_config *cfg;
  o2o_dataset *ds;
  o2o_dataset_extra *extras;
  int num_extras;
  const o2o_dataset_extra *full, *qpos, *qvel;
  int64_t N;
  int O, A, S, nq, nv, na;
  float *obs, *act, *next_obs; /* the whole dataset (core arrays) */
  int64_t *rows;               /* [M] the rows measured */
  float *sim_next;             /* [M][O] */
  o2o_pool *pool;
} gap_run;

/* State of dataset row r for env j into dst (template = the env's own current state). */
static void build_state(const gap_run *g, int64_t r, const double *tmpl, double *dst) {
  memcpy(dst, tmpl, sizeof(double) * (size_t)g->S);
  const int phys = 1 + g->nq + g->nv + g->na + g->nv; /* time, qpos, qvel, act, warmstart */
  if (g->full) {
    const int delay_at = phys + 1;
    const int same_delay = extra_at(g->full, r, delay_at) == tmpl[delay_at];
    const int upto = same_delay ? g->S : phys;
    for (int k = 0; k < upto; k++)
      dst[k] = extra_at(g->full, r, k);
    if (same_delay) dst[phys] = tmpl[phys]; /* the env's episode step (no early truncation) */
    return;
  }
  dst[0] = 0.0;
  for (int k = 0; k < g->nq; k++)
    dst[1 + k] = extra_at(g->qpos, r, k);
  for (int k = 0; k < g->nv; k++)
    dst[1 + g->nq + k] = extra_at(g->qvel, r, k);
  for (int k = 1 + g->nq + g->nv; k < phys; k++)
    dst[k] = 0.0; /* act and qacc_warmstart are not in D4RL files */
}

static int load(gap_run *g, char *err, size_t errlen) {
  const o2o_gap_config *c = g->cfg;
  char path[1024], derr[O2O_DATASET_ERRLEN];
  if (o2o_dataset_find(c->dataset, path, sizeof path, derr, sizeof derr) ||
      !(g->ds = o2o_dataset_open(path, NULL, derr, sizeof derr))) {
    o2o_agent_errf(err, errlen, "%s", derr);
    return -1;
  }
  const o2o_dataset_info *in = o2o_dataset_get_info(g->ds);
  if (!in->has_next_obs) {
    o2o_agent_errf(err, errlen,
                   "%s: no next_observations (D4RL v0 layout): `o2o gap` compares with recorded "
                   "next observations; files written by `o2o collect` have them",
                   path);
    return -1;
  }
  g->N = in->transitions;
  g->O = in->obs_dim;
  g->A = in->act_dim;
  if (o2o_dataset_read_extras(g->ds, &g->extras, &g->num_extras, derr, sizeof derr)) {
    o2o_agent_errf(err, errlen, "%s", derr);
    return -1;
  }
  g->full = find_extra(g->extras, g->num_extras, "infos/sim_state");
  g->qpos = find_extra(g->extras, g->num_extras, "infos/qpos");
  g->qvel = find_extra(g->extras, g->num_extras, "infos/qvel");
  const o2o_dataset_extra *keys[3] = {g->full, g->qpos, g->qvel};
  for (int k = 0; k < 3; k++) {
    const o2o_dataset_extra *e = keys[k];
    if (e && (e->ndim != 2 || e->shape[0] != in->rows ||
              (e->dtype != O2O_DTYPE_F64 && e->dtype != O2O_DTYPE_F32))) {
      o2o_agent_errf(err, errlen, "%s: key '%s' must be float [%lld][...] (one row per transition)",
                     path, e->key, (long long)in->rows);
      return -1;
    }
  }
  if (!g->full && !(g->qpos && g->qvel)) {
    o2o_agent_errf(err, errlen,
                   "%s has no simulator states: `o2o gap` needs 'infos/sim_state' (the full "
                   "state, as `o2o collect` records it) or D4RL's 'infos/qpos' and 'infos/qvel'. "
                   "Record a dataset with `o2o collect --scenario S --checkpoint C --out F`",
                   path);
    return -1;
  }
  size_t no = (size_t)g->N * g->O, na = (size_t)g->N * g->A;
  g->obs = malloc(sizeof(float) * no);
  g->next_obs = malloc(sizeof(float) * no);
  g->act = malloc(sizeof(float) * na);
  if (!g->obs || !g->next_obs || !g->act) {
    o2o_agent_errf(err, errlen, "%s: out of memory for %lld transitions", path, (long long)g->N);
    return -1;
  }
  o2o_dataset_dest d = {.obs = g->obs, .act = g->act, .next_obs = g->next_obs};
  if (o2o_dataset_read(g->ds, 0, g->N, &d, derr, sizeof derr)) {
    o2o_agent_errf(err, errlen, "%s", derr);
    return -1;
  }
  return 0;
}

/* The rows to measure: all, or a seeded sample without replacement (partial Fisher-Yates). */
static int pick_rows(gap_run *g, int64_t M) {
  int64_t *all = malloc(sizeof(int64_t) * (size_t)g->N);
  if (!all) return -1;
  for (int64_t i = 0; i < g->N; i++)
    all[i] = i;
  o2o_nn_rng rng;
  o2o_nn_rng_seed(&rng, g->cfg->seed);
  for (int64_t i = 0; i < M && M < g->N; i++) {
    uint64_t j = (uint64_t)i + o2o_nn_rng_next(&rng) % (uint64_t)(g->N - i);
    int64_t t = all[i];
    all[i] = all[j];
    all[j] = t;
  }
  g->rows = all;
  return 0;
}

static int connect_pool(gap_run *g, char *err, size_t errlen) {
  const o2o_gap_config *c = g->cfg;
  o2o_pool_config pc = {0};
  pc.scenario = c->scenario;
  pc.variant = c->variant;
  pc.num_procs = c->procs;
  pc.envs_per_proc = c->envs_per_proc;
  pc.sim_exe = c->sim_exe;
  pc.quiet = !c->progress;
  if (!(g->pool = o2o_pool_create(&pc, err, errlen))) return -1;
  const o2o_bridge_spec *sp = o2o_pool_spec(g->pool);
  if (sp->obs_dim != g->O || sp->act_dim != g->A) {
    o2o_agent_errf(err, errlen,
                   "dataset %s has obs %d / act %d, scenario %s (%s) has obs %d / act %d: not "
                   "data of this task",
                   c->dataset, g->O, g->A, c->scenario, c->variant, sp->obs_dim, sp->act_dim);
    return -1;
  }
  g->S = sp->state_dim;
  if (g->full && g->full->shape[1] != g->S) {
    o2o_agent_errf(err, errlen,
                   "dataset %s: infos/sim_state has %lld values per row, scenario %s's state has "
                   "%d (recorded with another model?)",
                   c->dataset, (long long)g->full->shape[1], c->scenario, g->S);
    return -1;
  }
  if (!g->qpos || !g->qvel) { /* load() refused files with neither: this is sim_state alone */
    o2o_agent_errf(err, errlen,
                   "dataset %s: infos/sim_state needs infos/qpos and infos/qvel beside it (their "
                   "widths give the state layout)",
                   c->dataset);
    return -1;
  }
  g->nq = (int)g->qpos->shape[1];
  g->nv = (int)g->qvel->shape[1];
  g->na = g->S - (1 + g->nq + 2 * g->nv + 3 + 32 * g->A + 8);
  if (g->na < 0) {
    o2o_agent_errf(err, errlen,
                   "dataset %s: qpos %d + qvel %d values do not fit scenario %s's state of %d",
                   c->dataset, g->nq, g->nv, c->scenario, g->S);
    return -1;
  }
  return 0;
}

/* The progress line (in place on a terminal, whole lines in a log); final: kept. */
static void progress(o2o_progress *p, int64_t done, int64_t M, double t0, int final) {
  if (!o2o_progress_due(p, final)) return;
  double dt = o2o_agent_now_s() - t0, rate = done / (dt > 0 ? dt : 1e-9);
  o2o_progress_show(p, final, "gap: %lld/%lld transitions  %.0f/s  ETA %.0f s", (long long)done,
                    (long long)M, rate, (double)(M - done) / (rate > 0 ? rate : 1));
}

/* Replay every picked row: set, step, record the next observation. */
static int replay(gap_run *g, int64_t M, double *seconds, char *err, size_t errlen) {
  const o2o_bridge_spec *sp = o2o_pool_spec(g->pool);
  const int E = sp->num_envs;
  double *tmpl = malloc(sizeof(double) * (size_t)E * g->S);
  double *states = malloc(sizeof(double) * (size_t)E * g->S);
  float *obs0 = malloc(sizeof(float) * (size_t)E * g->O);
  float *act = malloc(sizeof(float) * (size_t)E * g->A), *unit = malloc(sizeof(float) * E * g->A);
  int rc = -1;
  o2o_progress line = {0};
  if (!tmpl || !states || !obs0 || !act || !unit) {
    o2o_agent_errf(err, errlen, "gap: out of memory");
    goto done;
  }
  if (o2o_pool_reset(g->pool, g->cfg->seed, obs0, err, errlen)) goto done;
  if (o2o_pool_get_states(g->pool, tmpl, err, errlen)) goto done;
  const double t0 = o2o_agent_now_s();
  o2o_progress_init(&line, 0.5, 10.0);
  for (int64_t i0 = 0; i0 < M; i0 += E) {
    const int m = M - i0 < E ? (int)(M - i0) : E;
    for (int j = 0; j < E; j++) { /* envs past m replay the chunk's first row (ignored) */
      int64_t r = g->rows[i0 + (j < m ? j : 0)];
      build_state(g, r, tmpl + (size_t)j * g->S, states + (size_t)j * g->S);
      memcpy(unit + (size_t)j * g->A, g->act + (size_t)r * g->A, sizeof(float) * g->A);
    }
    if (o2o_pool_set_states(g->pool, states, err, errlen)) goto done;
    o2o_train_scale_actions(unit, E, g->A, sp->act_low, sp->act_high, act);
    o2o_bridge_batch out;
    if (o2o_pool_step(g->pool, act, &out, err, errlen)) goto done;
    const uint8_t *lost = o2o_pool_lost(g->pool);
    for (int j = 0; j < m; j++) {
      if (lost && lost[j]) {
        o2o_agent_errf(err, errlen,
                       "gap: env %d lost its step (a simulator died): rerun, the replay is "
                       "deterministic",
                       j);
        goto done;
      }
      memcpy(g->sim_next + (size_t)(i0 + j) * g->O, out.final_obs + (size_t)j * g->O,
             sizeof(float) * g->O);
    }
    if (g->cfg->progress) progress(&line, i0 + m, M, t0, 0);
  }
  *seconds = o2o_agent_now_s() - t0;
  if (g->cfg->progress) progress(&line, M, M, t0, 1);
  rc = 0;
done:
  o2o_progress_end(&line); /* an error starts on a line of its own */
  free(tmpl);
  free(states);
  free(obs0);
  free(act);
  free(unit);
  return rc;
}

static int statistics(gap_run *g, int64_t M, o2o_gap_result *res) {
  const int O = g->O;
  res->obs_dim = O;
  res->n = M;
  res->mean_abs = calloc((size_t)O, sizeof(double));
  res->p95_abs = calloc((size_t)O, sizeof(double));
  res->data_std = calloc((size_t)O, sizeof(double));
  res->mean_std_units = calloc((size_t)O, sizeof(double));
  res->p95_std_units = calloc((size_t)O, sizeof(double));
  res->row_error = calloc((size_t)M, sizeof(float));
  float *col = malloc(sizeof(float) * (size_t)M);
  if (!res->mean_abs || !res->p95_abs || !res->data_std || !res->mean_std_units ||
      !res->p95_std_units || !res->row_error || !col) {
    free(col);
    return -1;
  }
  for (int k = 0; k < O; k++) { /* std of the dataset's next observations, in double */
    double m = 0, v = 0;
    for (int64_t i = 0; i < g->N; i++)
      m += g->next_obs[(size_t)i * O + k];
    m /= (double)g->N;
    for (int64_t i = 0; i < g->N; i++) {
      double d = g->next_obs[(size_t)i * O + k] - m;
      v += d * d;
    }
    res->data_std[k] = sqrt(v / (double)g->N);
  }
  for (int k = 0; k < O; k++) {
    const double sd = res->data_std[k] > 1e-12 ? res->data_std[k] : 1.0;
    for (int64_t i = 0; i < M; i++) {
      double e = fabs((double)g->sim_next[(size_t)i * O + k] -
                      (double)g->next_obs[(size_t)g->rows[i] * O + k]);
      col[i] = (float)e;
      res->mean_abs[k] += e / (double)M;
      res->row_error[i] += (float)(e / sd / O);
      if (e > res->overall_max_abs) res->overall_max_abs = e;
    }
    qsort(col, (size_t)M, sizeof(float), cmp_float);
    res->p95_abs[k] = col[(size_t)((double)(M - 1) * 0.95)];
    res->mean_std_units[k] = res->mean_abs[k] / sd;
    res->p95_std_units[k] = res->p95_abs[k] / sd;
    res->overall_mean_std += res->mean_std_units[k] / O;
  }
  free(col);
  return 0;
}

/* With an H2O checkpoint: how well do its discriminators rank the true gap? */
static int rank_discriminators(gap_run *g, int64_t M, o2o_gap_result *res, char *err,
                               size_t errlen) {
  o2o_learner *l = o2o_learner_load(g->cfg->checkpoint, "h2o", NULL, err, errlen);
  if (!l) return -1;
  int rc = -1;
  const int O = g->O, A = g->A;
  float *so = malloc(sizeof(float) * (size_t)M * O), *sa = malloc(sizeof(float) * (size_t)M * A);
  float *sn = malloc(sizeof(float) * (size_t)M * O), *lw_real = malloc(sizeof(float) * M);
  float *lw_sim = malloc(sizeof(float) * M);
  double *x = malloc(sizeof(double) * M), *y = malloc(sizeof(double) * M);
  if (!so || !sa || !sn || !lw_real || !lw_sim || !x || !y) {
    o2o_agent_errf(err, errlen, "gap: out of memory");
    goto done;
  }
  if (o2o_learner_obs_dim(l) != O || o2o_learner_act_dim(l) != A) {
    o2o_agent_errf(err, errlen, "checkpoint %s: obs %d / act %d, dataset obs %d / act %d",
                   g->cfg->checkpoint, o2o_learner_obs_dim(l), o2o_learner_act_dim(l), O, A);
    goto done;
  }
  for (int64_t i = 0; i < M; i++) {
    int64_t r = g->rows[i];
    memcpy(so + i * O, g->obs + r * O, sizeof(float) * O);
    memcpy(sa + i * A, g->act + r * A, sizeof(float) * A);
    memcpy(sn + i * O, g->next_obs + r * O, sizeof(float) * O);
  }
  if (o2o_h2o_log_ratio(l, so, sa, sn, (int)M, lw_real, err, errlen) ||
      o2o_h2o_log_ratio(l, so, sa, g->sim_next, (int)M, lw_sim, err, errlen))
    goto done;
  int64_t right = 0;
  res->log_w_mean_real = res->log_w_mean_sim = 0;
  for (int64_t i = 0; i < M; i++) {
    right += (lw_real[i] > 0) + (lw_sim[i] < 0);
    res->log_w_mean_real += lw_real[i] / (double)M;
    res->log_w_mean_sim += lw_sim[i] / (double)M;
    x[i] = -(double)lw_sim[i]; /* the estimated gap of the simulated transition */
    y[i] = res->row_error[i];
  }
  res->disc_accuracy = (double)right / (2.0 * (double)M);
  res->spearman = o2o_gap_spearman(x, y, M);
  rc = 0;
done:
  free(so);
  free(sa);
  free(sn);
  free(lw_real);
  free(lw_sim);
  free(x);
  free(y);
  o2o_learner_destroy(l);
  return rc;
}

int o2o_gap_measure(const o2o_gap_config *cfg, o2o_gap_result *res, char *err, size_t errlen) {
  memset(res, 0, sizeof *res);
  res->spearman = res->disc_accuracy = res->log_w_mean_real = res->log_w_mean_sim = NAN;
  gap_run g = {.cfg = cfg};
  int rc = -1;
  if (!cfg->dataset || !cfg->scenario) {
    o2o_agent_errf(err, errlen, "gap: a dataset and a scenario are needed");
    return -1;
  }
  if (load(&g, err, errlen) || connect_pool(&g, err, errlen)) goto done;
  const int64_t M = cfg->transitions > 0 && cfg->transitions < g.N ? cfg->transitions : g.N;
  snprintf(res->state_source, sizeof res->state_source, "%s",
           g.full ? "infos/sim_state" : "infos/qpos+qvel");
  if (pick_rows(&g, M) || !(g.sim_next = malloc(sizeof(float) * (size_t)M * g.O))) {
    o2o_agent_errf(err, errlen, "gap: out of memory");
    goto done;
  }
  if (replay(&g, M, &res->seconds, err, errlen)) goto done;
  res->rate = (double)M / (res->seconds > 0 ? res->seconds : 1e-9);
  if (statistics(&g, M, res)) {
    o2o_agent_errf(err, errlen, "gap: out of memory");
    goto done;
  }
  if (cfg->checkpoint && rank_discriminators(&g, M, res, err, errlen)) goto done;
  rc = 0;
done:
  if (rc) o2o_gap_result_free(res);
  o2o_pool_destroy(g.pool);
  o2o_dataset_extras_free(g.extras, g.num_extras);
  o2o_dataset_close(g.ds);
  free(g.obs);
  free(g.act);
  free(g.next_obs);
  free(g.rows);
  free(g.sim_next);
  return rc;
}
