/* learner.c: the registry of algorithms and what every learner shares (learner.h):
 * observation normalisation, batch column checks, config fields, checkpoint metadata and
 * rebuilding a learner from a checkpoint file. */
#include "learn/learner.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"

/* ---- registry: one line per algorithm ------------------------------------------------- */
extern const o2o_learner_algo o2o_algo_sac;
extern const o2o_learner_algo o2o_algo_h2o;
extern const o2o_learner_algo o2o_algo_iql;
extern const o2o_learner_algo o2o_algo_cql;
extern const o2o_learner_algo o2o_algo_calql;

static const o2o_learner_algo *const registry[] = {
    &o2o_algo_sac, &o2o_algo_h2o, &o2o_algo_iql, &o2o_algo_cql, &o2o_algo_calql, NULL,
};

const o2o_learner_algo *const *o2o_learner_algos(void) {
  return registry;
}

const o2o_learner_algo *o2o_learner_find(const char *name) {
  for (int i = 0; name && registry[i]; i++)
    if (!strcmp(registry[i]->name, name)) return registry[i];
  return NULL;
}

const char *o2o_learner_names(int offline_only) {
  static char all[256], offline[256];
  char *buf = offline_only ? offline : all;
  if (buf[0]) return buf;
  size_t len = 0;
  for (int i = 0; registry[i]; i++) {
    if (offline_only && !registry[i]->offline) continue;
    len +=
        (size_t)snprintf(buf + len, sizeof all - len, "%s%s", len ? ", " : "", registry[i]->name);
    if (len >= sizeof all) break;
  }
  return buf;
}

/* ---- statistics --------------------------------------------------------------------------- */
void o2o_learner_stats_set(o2o_learner_stats *st, const char *name, double value) {
  for (int i = 0; i < st->count; i++)
    if (!strcmp(st->names[i], name)) {
      st->values[i] = value;
      return;
    }
  if (st->count >= O2O_LEARNER_MAX_STATS) return;
  st->names[st->count] = name;
  st->values[st->count++] = value;
}

double o2o_learner_stats_get(const o2o_learner_stats *st, const char *name) {
  for (int i = 0; i < st->count; i++)
    if (!strcmp(st->names[i], name)) return st->values[i];
  return NAN;
}

/* ---- config fields -------------------------------------------------------------------------- */
const o2o_learner_field *o2o_learner_field_find(const o2o_learner_algo *algo, const char *name) {
  for (int i = 0; i < algo->num_fields; i++)
    if (!strcmp(algo->fields[i].name, name)) return &algo->fields[i];
  return NULL;
}

double o2o_learner_field_get(const o2o_learner_field *f, const void *cfg) {
  const char *p = (const char *)cfg + f->offset;
  if (f->type == O2O_FIELD_INT) return *(const int *)p;
  return *(const float *)p;
}

/* value into the field after the range check; err names the field as a flag */
static int field_store(const o2o_learner_field *f, void *cfg, double v, char *err, size_t errlen) {
  /* a float field holds the float nearest v: range-check that (metadata writes -FLT_MAX as
   * "-3.40282347e+38", a double just beyond -FLT_MAX that reads back as -FLT_MAX) */
  if (f->type == O2O_FIELD_FLOAT && fabs(v) <= FLT_MAX)
    v = (double)(float)v;
  else if (f->type == O2O_FIELD_FLOAT && fabs(v) < (double)FLT_MAX + 0x1p103) /* half an ulp */
    v = copysign((double)FLT_MAX, v);
  if (!isfinite(v) || v < f->min || v > f->max) {
    o2o_agent_errf(err, errlen, "--%s %g: must be in [%g, %g] (%s)", f->name, v, f->min, f->max,
                   f->help);
    return -1;
  }
  char *p = (char *)cfg + f->offset;
  if (f->type == O2O_FIELD_INT) {
    if (v != floor(v)) {
      o2o_agent_errf(err, errlen, "--%s %g: must be an integer (%s)", f->name, v, f->help);
      return -1;
    }
    *(int *)p = (int)v;
  } else {
    *(float *)p = (float)v;
  }
  return 0;
}

int o2o_learner_field_parse(const o2o_learner_field *f, void *cfg, const char *text, char *err,
                            size_t errlen) {
  char *end = NULL;
  errno = 0;
  double v = text ? strtod(text, &end) : 0.0;
  if (!text || end == text || *end || errno == ERANGE) {
    o2o_agent_errf(err, errlen, "--%s '%s': not a number (%s)", f->name, text ? text : "", f->help);
    return -1;
  }
  return field_store(f, cfg, v, err, errlen);
}

/* ---- an instance ---------------------------------------------------------------------------- */
struct o2o_learner {
  const o2o_learner_algo *algo;
  void *self;
  void *cfg; /* the learner's own copy (config_size bytes) */
  int obs_dim, act_dim;
  float *obs_norm;  /* [2][obs_dim]: mean then std; NULL when not normalising */
  float *obs_buf;   /* [max rows][obs_dim] normalised observations (act) */
  int obs_buf_rows; /* rows obs_buf holds */
  float *batch_buf; /* [2][batch_size][obs_dim] normalised obs and next_obs (update) */
  int batch_rows;
  o2o_tensor_ref *tensors; /* the algorithm's tensors + obs_norm.mean/std */
  int num_tensors;
};

o2o_learner *o2o_learner_create(const o2o_learner_algo *algo, int obs_dim, int act_dim,
                                const void *cfg, const float *obs_mean, const float *obs_std,
                                uint64_t seed, char *err, size_t errlen) {
  if (!algo || obs_dim <= 0 || act_dim <= 0) {
    o2o_agent_errf(err, errlen, "learner: %s",
                   algo ? "obs_dim and act_dim must be > 0" : "no algorithm given");
    return NULL;
  }
  o2o_learner *l = calloc(1, sizeof *l);
  if (!l || !(l->cfg = malloc(algo->config_size))) goto oom;
  l->algo = algo;
  l->obs_dim = obs_dim;
  l->act_dim = act_dim;
  if (cfg)
    memcpy(l->cfg, cfg, algo->config_size);
  else
    algo->config_default(l->cfg);
  for (int i = 0; i < algo->num_fields; i++) { /* the ranges, so every caller gets them */
    const o2o_learner_field *f = &algo->fields[i];
    if (field_store(f, l->cfg, o2o_learner_field_get(f, l->cfg), err, errlen)) goto fail;
  }
  if (algo->config_check && algo->config_check(l->cfg, obs_dim, act_dim, err, errlen)) goto fail;
  if ((obs_mean == NULL) != (obs_std == NULL)) {
    o2o_agent_errf(err, errlen, "learner: observation mean and std must be given together");
    goto fail;
  }
  if (obs_mean) {
    if (!(l->obs_norm = malloc(sizeof(float) * 2 * (size_t)obs_dim))) goto oom;
    for (int j = 0; j < obs_dim; j++) {
      if (!isfinite(obs_mean[j]) || !isfinite(obs_std[j]) || !(obs_std[j] > 0.0f)) {
        o2o_agent_errf(err, errlen,
                       "learner: observation normalisation dimension %d: mean %g, std %g (std "
                       "must be finite and > 0)",
                       j, obs_mean[j], obs_std[j]);
        goto fail;
      }
      l->obs_norm[j] = obs_mean[j];
      l->obs_norm[obs_dim + j] = obs_std[j];
    }
    l->batch_rows = algo->batch_size(l->cfg);
    l->batch_buf = malloc(sizeof(float) * 2 * (size_t)l->batch_rows * obs_dim);
    if (!l->batch_buf) goto oom;
  }
  if (!(l->self = algo->create(obs_dim, act_dim, l->cfg, seed, err, errlen))) goto fail;
  return l;
oom:
  o2o_agent_errf(err, errlen, "learner: out of memory");
fail:
  o2o_learner_destroy(l);
  return NULL;
}

void o2o_learner_destroy(o2o_learner *l) {
  if (!l) return;
  if (l->self) l->algo->destroy(l->self);
  free(l->cfg);
  free(l->obs_norm);
  free(l->obs_buf);
  free(l->batch_buf);
  free(l->tensors);
  free(l);
}

const o2o_learner_algo *o2o_learner_algo_of(const o2o_learner *l) {
  return l->algo;
}
const void *o2o_learner_config(const o2o_learner *l) {
  return l->cfg;
}
void *o2o_learner_impl(o2o_learner *l) {
  return l->self;
}
int o2o_learner_obs_dim(const o2o_learner *l) {
  return l->obs_dim;
}
int o2o_learner_act_dim(const o2o_learner *l) {
  return l->act_dim;
}
int o2o_learner_batch_size(const o2o_learner *l) {
  return l->algo->batch_size(l->cfg);
}
const float *o2o_learner_obs_mean(const o2o_learner *l) {
  return l->obs_norm;
}
const float *o2o_learner_obs_std(const o2o_learner *l) {
  return l->obs_norm ? l->obs_norm + l->obs_dim : NULL;
}

int o2o_learner_config_set(o2o_learner *l, const char *field, double value, char *err,
                           size_t errlen) {
  const o2o_learner_field *f = o2o_learner_field_find(l->algo, field);
  if (!f) {
    o2o_agent_errf(err, errlen, "%s has no setting '%s'", l->algo->name, field);
    return -1;
  }
  double old = o2o_learner_field_get(f, l->cfg);
  if (field_store(f, l->cfg, value, err, errlen)) return -1;
  if ((l->algo->config_check &&
       l->algo->config_check(l->cfg, l->obs_dim, l->act_dim, err, errlen)) ||
      (l->algo->config_changed && l->algo->config_changed(l->self, l->cfg, err, errlen))) {
    field_store(f, l->cfg, old, NULL, 0);
    return -1;
  }
  return 0;
}

static void normalise(const float *norm, int dim, const float *x, int n, float *out);

double o2o_learner_real_fraction(const o2o_learner *l) {
  return l->algo->real_fraction ? l->algo->real_fraction(l->cfg) : -1.0;
}

int o2o_learner_set_data_stats(o2o_learner *l, const float *obs_mean, const float *obs_std,
                               char *err, size_t errlen) {
  if (!l->algo->set_data_stats) return 0;
  if (!l->obs_norm) return l->algo->set_data_stats(l->self, obs_mean, obs_std, err, errlen);
  /* the algorithm sees normalised observations: hand it the statistics in those units */
  const int O = l->obs_dim;
  float *t = malloc(sizeof(float) * 2 * (size_t)O);
  if (!t) {
    o2o_agent_errf(err, errlen, "learner: out of memory");
    return -1;
  }
  normalise(l->obs_norm, O, obs_mean, 1, t);
  for (int j = 0; j < O; j++)
    t[O + j] = obs_std[j] / l->obs_norm[O + j];
  int rc = l->algo->set_data_stats(l->self, t, t + O, err, errlen);
  free(t);
  return rc;
}

/* (x - mean) / std for n rows into out */
static void normalise(const float *norm, int dim, const float *x, int n, float *out) {
  const float *mean = norm, *std = norm + dim;
  for (int r = 0; r < n; r++)
    for (int j = 0; j < dim; j++)
      out[(size_t)r * dim + j] = (x[(size_t)r * dim + j] - mean[j]) / std[j];
}

void o2o_learner_act(o2o_learner *l, const float *obs, int n, int deterministic, float *actions) {
  if (l->obs_norm && n > 0) {
    if (n > l->obs_buf_rows) { /* grows once to the largest n seen (evaluation width) */
      float *b = realloc(l->obs_buf, sizeof(float) * (size_t)n * l->obs_dim);
      if (!b) { /* cannot normalise: refuse to act on raw inputs silently */
        for (size_t i = 0; i < (size_t)n * l->act_dim; i++)
          actions[i] = NAN;
        return;
      }
      l->obs_buf = b;
      l->obs_buf_rows = n;
    }
    normalise(l->obs_norm, l->obs_dim, obs, n, l->obs_buf);
    obs = l->obs_buf;
  }
  l->algo->act(l->self, obs, n, deterministic, actions);
}

int o2o_learner_update(o2o_learner *l, const o2o_batch *batch, o2o_learner_stats *stats, char *err,
                       size_t errlen) {
  const int need = l->algo->columns;
  const int want = l->algo->batch_size(l->cfg);
  if (batch->obs_dim != l->obs_dim || batch->act_dim != l->act_dim || batch->size != want) {
    o2o_agent_errf(err, errlen, "%s update: batch of %d rows, obs %d, act %d; expected %d, %d, %d",
                   l->algo->name, batch->size, batch->obs_dim, batch->act_dim, want, l->obs_dim,
                   l->act_dim);
    return -1;
  }
  const char *missing = (need & O2O_COLUMN_IS_REAL) && !batch->is_real       ? "is_real"
                        : (need & O2O_COLUMN_WEIGHT) && !batch->weight       ? "weight"
                        : (need & O2O_COLUMN_MC_RETURN) && !batch->mc_return ? "mc_return"
                                                                             : NULL;
  if (missing) {
    o2o_agent_errf(err, errlen, "%s update: the batch has no '%s' column, which %s needs%s",
                   l->algo->name, missing, l->algo->name,
                   !strcmp(missing, "mc_return")
                       ? " (Monte-Carlo returns-to-go come from the dataset's episode boundaries)"
                       : "");
    return -1;
  }
  o2o_batch b = *batch;
  if (l->obs_norm) {
    float *no = l->batch_buf, *nn = l->batch_buf + (size_t)l->batch_rows * l->obs_dim;
    normalise(l->obs_norm, l->obs_dim, batch->obs, batch->size, no);
    normalise(l->obs_norm, l->obs_dim, batch->next_obs, batch->size, nn);
    b.obs = no;
    b.next_obs = nn;
  }
  if (stats) stats->count = 0;
  return l->algo->update(l->self, &b, stats, err, errlen);
}

int o2o_learner_tensors(o2o_learner *l, const o2o_tensor_ref **tensors) {
  const o2o_tensor_ref *own;
  int n = l->algo->tensors(l->self, &own);
  if (!l->obs_norm) {
    *tensors = own;
    return n;
  }
  if (!l->tensors) { /* the algorithm's array + 2: built once (its data pointers are stable) */
    l->tensors = malloc(sizeof(o2o_tensor_ref) * (size_t)(n + 2));
    if (!l->tensors) {
      *tensors = own;
      return n;
    }
    memcpy(l->tensors, own, sizeof(o2o_tensor_ref) * (size_t)n);
    const char *names[2] = {"obs_norm.mean", "obs_norm.std"};
    for (int k = 0; k < 2; k++) {
      o2o_tensor_ref *t = &l->tensors[n + k];
      memset(t, 0, sizeof *t);
      snprintf(t->name, sizeof t->name, "%s", names[k]);
      t->data = l->obs_norm + (size_t)k * l->obs_dim;
      t->ndim = 1;
      t->shape[0] = l->obs_dim;
    }
    l->num_tensors = n + 2;
  }
  *tensors = l->tensors;
  return l->num_tensors;
}

int o2o_learner_tensors_loaded(o2o_learner *l, char *err, size_t errlen) {
  if (l->obs_norm)
    for (int j = 0; j < l->obs_dim; j++)
      if (!isfinite(l->obs_norm[j]) || !(l->obs_norm[l->obs_dim + j] > 0.0f) ||
          !isfinite(l->obs_norm[l->obs_dim + j])) {
        o2o_agent_errf(err, errlen, "obs_norm: dimension %d has mean %g, std %g", j, l->obs_norm[j],
                       l->obs_norm[l->obs_dim + j]);
        return -1;
      }
  return l->algo->tensors_loaded ? l->algo->tensors_loaded(l->self, err, errlen) : 0;
}

/* ---- checkpoints ---------------------------------------------------------------------------- */
double o2o_learner_field_resolved(const o2o_learner *l, const o2o_learner_field *f) {
  double v = o2o_learner_field_get(f, l->cfg);
  if (!strcmp(f->name, "target_entropy") && v == 0) return -(double)l->act_dim;
  return v;
}

int o2o_learner_meta(const o2o_learner *l, o2o_ckpt_meta *meta, char *err, size_t errlen) {
  int bad = o2o_ckpt_meta_set(meta, "algorithm", l->algo->name);
  bad |= o2o_ckpt_meta_setf(meta, "obs_dim", "%d", l->obs_dim);
  bad |= o2o_ckpt_meta_setf(meta, "act_dim", "%d", l->act_dim);
  bad |= o2o_ckpt_meta_setf(meta, "obs_norm", "%d", l->obs_norm != NULL);
  for (int i = 0; i < l->algo->num_fields; i++) {
    const o2o_learner_field *f = &l->algo->fields[i];
    char key[O2O_CKPT_KEYLEN], val[32];
    snprintf(key, sizeof key, "%s.%s", l->algo->name, f->name);
    if (f->type == O2O_FIELD_INT)
      snprintf(val, sizeof val, "%d", *(const int *)((const char *)l->cfg + f->offset));
    else
      o2o_agent_num_text(*(const float *)((const char *)l->cfg + f->offset), val, sizeof val);
    bad |= o2o_ckpt_meta_set(meta, key, val);
  }
  if (bad) {
    o2o_agent_errf(err, errlen, "checkpoint metadata: more than %d keys", O2O_CKPT_MAX_META);
    return -1;
  }
  return 0;
}

/* a positive int metadata value, or -1 with err */
static int meta_int(const o2o_ckpt_meta *m, const char *path, const char *key, char *err,
                    size_t errlen) {
  const char *v = o2o_ckpt_meta_get(m, key);
  int64_t x = o2o_ckpt_meta_int(m, key);
  if (x <= 0 || x > 1000000) {
    o2o_agent_errf(err, errlen, "checkpoint %s: metadata '%s' is %s%s%s (a positive integer)", path,
                   key, v ? "'" : "missing", v ? v : "", v ? "'" : "");
    return -1;
  }
  return (int)x;
}

o2o_learner *o2o_learner_load(const char *path, const char *expect_algo, o2o_ckpt_meta *meta_out,
                              char *err, size_t errlen) {
  o2o_ckpt *c = o2o_ckpt_open(path, err, errlen);
  if (!c) return NULL;
  o2o_learner *l = NULL;
  void *cfg = NULL;
  const o2o_ckpt_meta *m = o2o_ckpt_metadata(c);
  const char *name = o2o_ckpt_meta_get(m, "algorithm");
  const o2o_learner_algo *algo = o2o_learner_find(name);
  if (!name) {
    o2o_agent_errf(err, errlen,
                   "checkpoint %s: no 'algorithm' in its metadata (an actor-only policy file? "
                   "it can be evaluated and rendered, not trained further)",
                   path);
    goto done;
  }
  if (!algo) {
    o2o_agent_errf(err, errlen, "checkpoint %s: algorithm '%s' is not one of this o2o (%s)", path,
                   name, o2o_learner_names(0));
    goto done;
  }
  if (expect_algo && strcmp(expect_algo, name)) {
    o2o_agent_errf(err, errlen, "checkpoint %s holds a %s learner, not %s", path, name,
                   expect_algo);
    goto done;
  }
  int obs_dim = meta_int(m, path, "obs_dim", err, errlen);
  int act_dim = obs_dim < 0 ? -1 : meta_int(m, path, "act_dim", err, errlen);
  if (act_dim < 0) goto done;
  if (!(cfg = malloc(algo->config_size))) {
    o2o_agent_errf(err, errlen, "checkpoint %s: out of memory", path);
    goto done;
  }
  algo->config_default(cfg);
  size_t plen = strlen(algo->name);
  for (int i = 0; i < m->count; i++) { /* every "<algo>.<field>" key */
    const char *key = m->keys[i];
    if (strncmp(key, algo->name, plen) || key[plen] != '.') continue;
    const o2o_learner_field *f = o2o_learner_field_find(algo, key + plen + 1);
    if (!f) {
      o2o_agent_errf(err, errlen,
                     "checkpoint %s: metadata '%s' is not a setting of %s (a file from another "
                     "version of o2o?)",
                     path, key, algo->name);
      goto done;
    }
    char ferr[O2O_AGENT_ERRLEN];
    if (o2o_learner_field_parse(f, cfg, m->values[i], ferr, sizeof ferr)) {
      o2o_agent_errf(err, errlen, "checkpoint %s: metadata '%s': %s", path, key, ferr);
      goto done;
    }
  }
  const char *norm = o2o_ckpt_meta_get(m, "obs_norm");
  o2o_tensor_ref mean, std;
  int normalised = norm && !strcmp(norm, "1");
  if (normalised &&
      (o2o_ckpt_find(c, "obs_norm.mean", &mean) || o2o_ckpt_find(c, "obs_norm.std", &std) ||
       mean.ndim != 1 || std.ndim != 1 || mean.shape[0] != obs_dim || std.shape[0] != obs_dim)) {
    o2o_agent_errf(err, errlen,
                   "checkpoint %s: metadata says obs_norm 1 but tensors obs_norm.mean/std [%d] "
                   "are missing or of another shape",
                   path, obs_dim);
    goto done;
  }
  char cerr[O2O_AGENT_ERRLEN];
  /* the tensors' own (validated) values are loaded below; create with them already */
  l = o2o_learner_create(algo, obs_dim, act_dim, cfg, normalised ? mean.data : NULL,
                         normalised ? std.data : NULL, 0, cerr, sizeof cerr);
  if (!l) {
    o2o_agent_errf(err, errlen, "checkpoint %s: its metadata does not make a %s learner: %s", path,
                   name, cerr);
    goto done;
  }
  const o2o_tensor_ref *t;
  int n = o2o_learner_tensors(l, &t);
  if (o2o_ckpt_load_into(c, t, n, 1, cerr, sizeof cerr) ||
      o2o_learner_tensors_loaded(l, cerr, sizeof cerr)) {
    /* a shape mismatch here is metadata that disagrees with the tensors (hidden 65 vs 64) */
    o2o_agent_errf(err, errlen, "%s (the learner was built from the file's metadata)", cerr);
    o2o_learner_destroy(l);
    l = NULL;
    goto done;
  }
  if (meta_out) *meta_out = *m;
done:
  free(cfg);
  o2o_ckpt_close(c);
  return l;
}
