/* replay.c: ring-buffer replay with uniform sampling (see replay.h). */
#include "replay/replay.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct o2o_replay {
  int64_t capacity;
  int obs_dim, act_dim;
  int64_t size;     /* rows stored */
  int64_t head;     /* next row to write */
  int64_t added;    /* rows ever committed */
  size_t bytes;     /* allocated, struct included */
  float *obs;       /* [capacity][obs_dim] */
  float *act;       /* [capacity][act_dim] */
  float *rew;       /* [capacity] */
  float *next_obs;  /* [capacity][obs_dim] */
  float *done;      /* [capacity] */
  int columns;      /* O2O_COLUMN_WEIGHT | O2O_COLUMN_MC_RETURN */
  float *weight;    /* [capacity] or NULL */
  float *mc_return; /* [capacity] or NULL */
};

static float *alloc_field(o2o_replay *rb, int64_t rows, int width) {
  size_t n = (size_t)rows * (size_t)width * sizeof(float);
  /* calloc: untouched pages of a large buffer cost no resident memory until written. */
  float *p = calloc((size_t)rows * (size_t)width, sizeof(float));
  if (p) rb->bytes += n;
  return p;
}

o2o_replay *o2o_replay_create(int64_t capacity, int obs_dim, int act_dim, char *err,
                              size_t errlen) {
  return o2o_replay_create_with(capacity, obs_dim, act_dim, 0, err, errlen);
}

o2o_replay *o2o_replay_create_with(int64_t capacity, int obs_dim, int act_dim, int columns,
                                   char *err, size_t errlen) {
  if (columns & ~(O2O_COLUMN_WEIGHT | O2O_COLUMN_MC_RETURN)) {
    o2o_agent_errf(err, errlen, "replay: columns 0x%x: a buffer stores only weight and mc_return",
                   (unsigned)columns);
    return NULL;
  }
  if (capacity < 1 || obs_dim < 1 || act_dim < 1) {
    o2o_agent_errf(err, errlen, "replay: invalid capacity %lld / obs_dim %d / act_dim %d",
                   (long long)capacity, obs_dim, act_dim);
    return NULL;
  }
  o2o_replay *rb = calloc(1, sizeof(*rb));
  if (!rb) {
    o2o_agent_errf(err, errlen, "replay: out of memory");
    return NULL;
  }
  rb->capacity = capacity;
  rb->obs_dim = obs_dim;
  rb->act_dim = act_dim;
  rb->bytes = sizeof(*rb);
  rb->obs = alloc_field(rb, capacity, obs_dim);
  rb->act = alloc_field(rb, capacity, act_dim);
  rb->rew = alloc_field(rb, capacity, 1);
  rb->next_obs = alloc_field(rb, capacity, obs_dim);
  rb->done = alloc_field(rb, capacity, 1);
  rb->columns = columns;
  if (columns & O2O_COLUMN_WEIGHT) rb->weight = alloc_field(rb, capacity, 1);
  if (columns & O2O_COLUMN_MC_RETURN) rb->mc_return = alloc_field(rb, capacity, 1);
  if (!rb->obs || !rb->act || !rb->rew || !rb->next_obs || !rb->done ||
      (!rb->weight && (columns & O2O_COLUMN_WEIGHT)) ||
      (!rb->mc_return && (columns & O2O_COLUMN_MC_RETURN))) {
    o2o_agent_errf(err, errlen, "replay: out of memory for %lld transitions (%.1f MB)",
                   (long long)capacity,
                   (double)capacity * 4.0 * (2.0 * obs_dim + act_dim + 2) / 1e6);
    o2o_replay_destroy(rb);
    return NULL;
  }
  return rb;
}

void o2o_replay_destroy(o2o_replay *rb) {
  if (!rb) return;
  free(rb->obs);
  free(rb->act);
  free(rb->rew);
  free(rb->next_obs);
  free(rb->done);
  free(rb->weight);
  free(rb->mc_return);
  free(rb);
}

int64_t o2o_replay_size(const o2o_replay *rb) {
  return rb->size;
}
int64_t o2o_replay_capacity(const o2o_replay *rb) {
  return rb->capacity;
}
int64_t o2o_replay_added(const o2o_replay *rb) {
  return rb->added;
}
int o2o_replay_obs_dim(const o2o_replay *rb) {
  return rb->obs_dim;
}
int o2o_replay_act_dim(const o2o_replay *rb) {
  return rb->act_dim;
}
int o2o_replay_columns(const o2o_replay *rb) {
  return rb->columns;
}
size_t o2o_replay_bytes(const o2o_replay *rb) {
  return rb->bytes;
}

void o2o_replay_clear(o2o_replay *rb) {
  rb->size = 0;
  rb->head = 0;
  rb->added = 0;
}

void o2o_replay_reserve(o2o_replay *rb, int64_t n, o2o_replay_view *view) {
  int64_t rows = rb->capacity - rb->head;
  if (n < rows) rows = n < 0 ? 0 : n;
  view->rows = rows;
  view->obs = rb->obs + rb->head * rb->obs_dim;
  view->act = rb->act + rb->head * rb->act_dim;
  view->rew = rb->rew + rb->head;
  view->next_obs = rb->next_obs + rb->head * rb->obs_dim;
  view->done = rb->done + rb->head;
  view->weight = rb->weight ? rb->weight + rb->head : NULL;
  view->mc_return = rb->mc_return ? rb->mc_return + rb->head : NULL;
  for (int64_t i = 0; i < rows; i++) { /* defaults for rows whose writer has no such column */
    if (view->weight) view->weight[i] = 1.0f;
    if (view->mc_return) view->mc_return[i] = 0.0f;
  }
}

int o2o_replay_commit(o2o_replay *rb, int64_t rows, char *err, size_t errlen) {
  if (rows < 0 || rows > rb->capacity - rb->head) {
    o2o_agent_errf(err, errlen, "replay: commit of %lld rows exceeds the %lld reserved",
                   (long long)rows, (long long)(rb->capacity - rb->head));
    return -1;
  }
  rb->head += rows;
  if (rb->head == rb->capacity) rb->head = 0;
  rb->size += rows;
  if (rb->size > rb->capacity) rb->size = rb->capacity;
  rb->added += rows;
  return 0;
}

void o2o_replay_add(o2o_replay *rb, int64_t n, const float *obs, const float *act, const float *rew,
                    const float *next_obs, const float *done) {
  const int od = rb->obs_dim, ad = rb->act_dim;
  int64_t i = 0;
  while (i < n) {
    o2o_replay_view v;
    o2o_replay_reserve(rb, n - i, &v);
    memcpy(v.obs, obs + i * od, (size_t)(v.rows * od) * sizeof(float));
    memcpy(v.act, act + i * ad, (size_t)(v.rows * ad) * sizeof(float));
    memcpy(v.rew, rew + i, (size_t)v.rows * sizeof(float));
    memcpy(v.next_obs, next_obs + i * od, (size_t)(v.rows * od) * sizeof(float));
    if (done)
      memcpy(v.done, done + i, (size_t)v.rows * sizeof(float));
    else
      memset(v.done, 0, (size_t)v.rows * sizeof(float));
    o2o_replay_commit(rb, v.rows, NULL, 0);
    i += v.rows;
  }
}

void o2o_replay_storage(const o2o_replay *rb, o2o_replay_view *view, int64_t *oldest) {
  view->rows = rb->size;
  view->obs = rb->obs;
  view->act = rb->act;
  view->rew = rb->rew;
  view->next_obs = rb->next_obs;
  view->done = rb->done;
  view->weight = rb->weight;
  view->mc_return = rb->mc_return;
  *oldest = rb->size < rb->capacity ? 0 : rb->head;
}

/* Storage index of logical row i (0 = oldest). */
static int64_t storage_row(const o2o_replay *rb, int64_t i) {
  if (rb->size < rb->capacity) return i;
  int64_t r = rb->head + i;
  return r >= rb->capacity ? r - rb->capacity : r;
}

int o2o_replay_get(const o2o_replay *rb, int64_t i, float *obs, float *act, float *rew,
                   float *next_obs, float *done) {
  if (i < 0 || i >= rb->size) return -1;
  int64_t r = storage_row(rb, i);
  const int od = rb->obs_dim, ad = rb->act_dim;
  if (obs) memcpy(obs, rb->obs + r * od, (size_t)od * sizeof(float));
  if (act) memcpy(act, rb->act + r * ad, (size_t)ad * sizeof(float));
  if (rew) *rew = rb->rew[r];
  if (next_obs) memcpy(next_obs, rb->next_obs + r * od, (size_t)od * sizeof(float));
  if (done) *done = rb->done[r];
  return 0;
}

int o2o_replay_get_columns(const o2o_replay *rb, int64_t i, float *weight, float *mc_return) {
  if (i < 0 || i >= rb->size || (weight && !rb->weight) || (mc_return && !rb->mc_return)) return -1;
  int64_t r = storage_row(rb, i);
  if (weight) *weight = rb->weight[r];
  if (mc_return) *mc_return = rb->mc_return[r];
  return 0;
}

/* ---- Monte-Carlo returns-to-go ---------------------------------------------------------- */
static int mc_check(int64_t n, const uint8_t *terminals, const uint8_t *timeouts,
                    const o2o_mc_opts *o, char *err, size_t errlen) {
  if (!(o->gamma >= 0.0 && o->gamma <= 1.0) ||
      ((o->sparse_reward || o->infinite_horizon) && !(o->gamma < 1.0))) {
    o2o_agent_errf(err, errlen,
                   "returns-to-go: gamma %g must be in [0, 1] (below 1 with the sparse-reward or "
                   "infinite-horizon rule)",
                   o->gamma);
    return -1;
  }
  int64_t ends = 0;
  for (int64_t i = 0; i < n; i++)
    ends += (terminals && terminals[i]) || (timeouts && timeouts[i]);
  if (n > 0 && ends == 0) {
    o2o_agent_errf(err, errlen,
                   "returns-to-go: the %lld rows have no episode boundaries (no terminal or "
                   "timeout set): Monte-Carlo returns (Cal-QL) need the dataset's episode ends",
                   (long long)n);
    return -1;
  }
  return 0;
}

int o2o_mc_returns(int64_t n, const float *rew, const uint8_t *terminals, const uint8_t *timeouts,
                   const o2o_mc_opts *o, float *out, char *err, size_t errlen) {
  if (mc_check(n, terminals, timeouts, o, err, errlen)) return -1;
  for (int64_t a = 0; a < n;) { /* one episode: rows [a, b) */
    int64_t b = a;
    while (b < n && !((terminals && terminals[b]) || (timeouts && timeouts[b])))
      b++;
    b = b < n ? b + 1 : n;
    int all_neg = o->sparse_reward;
    for (int64_t k = a; k < b && all_neg; k++)
      all_neg = rew[k] == (float)o->reward_neg;
    const int term = terminals && terminals[b - 1];
    double g = !term && o->infinite_horizon ? rew[b - 1] / (1.0 - o->gamma) : 0.0;
    for (int64_t k = b - 1; k >= a; k--) {
      const int t = terminals && terminals[k];
      g = all_neg ? o->reward_neg / (1.0 - o->gamma) : rew[k] + o->gamma * (1 - t) * g;
      out[k] = (float)g;
    }
    a = b;
  }
  return 0;
}

int o2o_replay_fill_mc_returns(o2o_replay *rb, int64_t first, int64_t n, const uint8_t *terminals,
                               const uint8_t *timeouts, const o2o_mc_opts *o, char *err,
                               size_t errlen) {
  if (!rb->mc_return) {
    o2o_agent_errf(err, errlen, "replay: the buffer stores no mc_return column");
    return -1;
  }
  if (first < 0 || n < 0 || first + n > rb->size) {
    o2o_agent_errf(err, errlen, "replay: rows [%lld, %lld) outside the %lld stored",
                   (long long)first, (long long)(first + n), (long long)rb->size);
    return -1;
  }
  /* the rows in episode order (the ring may wrap), then back */
  float *rew = malloc(sizeof(float) * (size_t)(n > 0 ? 2 * n : 1)), *g = rew + n;
  if (!rew) {
    o2o_agent_errf(err, errlen, "replay: out of memory for returns-to-go of %lld rows",
                   (long long)n);
    return -1;
  }
  for (int64_t i = 0; i < n; i++)
    rew[i] = rb->rew[storage_row(rb, first + i)];
  int rc = o2o_mc_returns(n, rew, terminals, timeouts, o, g, err, errlen);
  for (int64_t i = 0; rc == 0 && i < n; i++)
    rb->mc_return[storage_row(rb, first + i)] = g[i];
  free(rew);
  return rc;
}

/* ---- random numbers ------------------------------------------------------------------ */
void o2o_replay_rng_seed(uint64_t *rng, uint64_t seed) {
  *rng = seed ^ 0x5851f42d4c957f2dULL;
}

uint64_t o2o_replay_rng_next(uint64_t *rng) {
  return o2o_splitmix64(rng);
}

uint64_t o2o_replay_rng_below(uint64_t *rng, uint64_t n) {
  /* Rejection of the short top range keeps every index equally likely. */
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do
    x = o2o_replay_rng_next(rng);
  while (x >= limit);
  return x % n;
}

/* ---- sampling ------------------------------------------------------------------------ */
int o2o_replay_sample_into(const o2o_replay *rb, uint64_t *rng, o2o_batch *batch, int row0, int n,
                           char *err, size_t errlen) {
  if (rb->size == 0) {
    o2o_agent_errf(err, errlen, "replay: cannot sample from an empty buffer");
    return -1;
  }
  if (batch->obs_dim != rb->obs_dim || batch->act_dim != rb->act_dim) {
    o2o_agent_errf(err, errlen, "replay: batch dims obs %d act %d differ from buffer obs %d act %d",
                   batch->obs_dim, batch->act_dim, rb->obs_dim, rb->act_dim);
    return -1;
  }
  if (row0 < 0 || n < 0 || row0 + n > batch->size) {
    o2o_agent_errf(err, errlen, "replay: rows [%d, %d) outside a batch of %d", row0, row0 + n,
                   batch->size);
    return -1;
  }
  if ((batch->weight && !rb->weight) || (batch->mc_return && !rb->mc_return)) {
    o2o_agent_errf(err, errlen, "replay: the batch has a %s column the buffer does not store",
                   batch->weight && !rb->weight ? "weight" : "mc_return");
    return -1;
  }
  const int od = rb->obs_dim, ad = rb->act_dim;
  /* Any stored row is valid; the ring order does not matter for uniform sampling. */
  for (int b = row0; b < row0 + n; b++) {
    int64_t r = (int64_t)o2o_replay_rng_below(rng, (uint64_t)rb->size);
    memcpy(batch->obs + (size_t)b * od, rb->obs + r * od, (size_t)od * sizeof(float));
    memcpy(batch->act + (size_t)b * ad, rb->act + r * ad, (size_t)ad * sizeof(float));
    batch->rew[b] = rb->rew[r];
    memcpy(batch->next_obs + (size_t)b * od, rb->next_obs + r * od, (size_t)od * sizeof(float));
    batch->done[b] = rb->done[r];
    if (batch->weight) batch->weight[b] = rb->weight[r];
    if (batch->mc_return) batch->mc_return[b] = rb->mc_return[r];
  }
  return 0;
}

int o2o_replay_sample(const o2o_replay *rb, uint64_t *rng, o2o_batch *batch, int is_real, char *err,
                      size_t errlen) {
  if (o2o_replay_sample_into(rb, rng, batch, 0, batch->size, err, errlen)) return -1;
  if (batch->is_real) memset(batch->is_real, is_real ? 1 : 0, (size_t)batch->size);
  return 0;
}

int o2o_replay_mix_count(int batch_size, double real_ratio) {
  if (!(real_ratio > 0)) return 0;
  if (real_ratio >= 1) return batch_size;
  return (int)lround(real_ratio * batch_size);
}

int o2o_replay_sample_mixed(const o2o_replay *real, const o2o_replay *sim, double real_ratio,
                            uint64_t *rng, o2o_batch *batch, char *err, size_t errlen) {
  if (!(real_ratio >= 0 && real_ratio <= 1)) {
    o2o_agent_errf(err, errlen, "replay: real ratio %g outside [0, 1]", real_ratio);
    return -1;
  }
  if (!batch->is_real) {
    o2o_agent_errf(err, errlen, "replay: a mixed batch needs is_real storage");
    return -1;
  }
  int n_real = o2o_replay_mix_count(batch->size, real_ratio);
  char sub[256];
  if (n_real > 0 && o2o_replay_sample_into(real, rng, batch, 0, n_real, sub, sizeof(sub))) {
    o2o_agent_errf(err, errlen, "real buffer: %s", sub);
    return -1;
  }
  if (batch->size - n_real > 0 &&
      o2o_replay_sample_into(sim, rng, batch, n_real, batch->size - n_real, sub, sizeof(sub))) {
    o2o_agent_errf(err, errlen, "sim buffer: %s", sub);
    return -1;
  }
  memset(batch->is_real, 1, (size_t)n_real);
  memset(batch->is_real + n_real, 0, (size_t)(batch->size - n_real));
  return 0;
}

int o2o_replay_batch_alloc(o2o_batch *batch, int size, int obs_dim, int act_dim, int with_is_real) {
  return o2o_replay_batch_alloc_with(batch, size, obs_dim, act_dim,
                                     with_is_real ? O2O_COLUMN_IS_REAL : 0);
}

int o2o_replay_batch_alloc_with(o2o_batch *batch, int size, int obs_dim, int act_dim, int columns) {
  memset(batch, 0, sizeof(*batch));
  if (size < 1 || obs_dim < 1 || act_dim < 1) return -1;
  const int nw = !!(columns & O2O_COLUMN_WEIGHT), nm = !!(columns & O2O_COLUMN_MC_RETURN);
  size_t floats = (size_t)size * (2 * (size_t)obs_dim + (size_t)act_dim + 2 + nw + nm);
  size_t bytes = floats * sizeof(float) + ((columns & O2O_COLUMN_IS_REAL) ? (size_t)size : 0);
  float *p = calloc(1, bytes);
  if (!p) return -1;
  batch->size = size;
  batch->obs_dim = obs_dim;
  batch->act_dim = act_dim;
  batch->obs = p;
  batch->act = batch->obs + (size_t)size * obs_dim;
  batch->rew = batch->act + (size_t)size * act_dim;
  batch->next_obs = batch->rew + size;
  batch->done = batch->next_obs + (size_t)size * obs_dim;
  float *extra = batch->done + size;
  batch->weight = nw ? extra : NULL;
  batch->mc_return = nm ? extra + (size_t)size * nw : NULL;
  batch->is_real =
      (columns & O2O_COLUMN_IS_REAL) ? (uint8_t *)(extra + (size_t)size * (nw + nm)) : NULL;
  return 0;
}

void o2o_replay_batch_free(o2o_batch *batch) {
  if (!batch) return;
  free(batch->obs);
  memset(batch, 0, sizeof(*batch));
}
