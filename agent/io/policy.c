/* policy.c: the acting side of a checkpoint (policy.h).
 *
 * A checkpoint of a learner (metadata "<algorithm>.<field>" keys, written by o2o_learner_meta)
 * is rebuilt whole by o2o_learner_load, the one loader, and acts through it (any algorithm,
 * its own observation normalisation). An actor-only file (the shipped
 * datasets/policies/ files, older checkpoints) is read here as a tanh-Gaussian actor:
 *
 * The actor is read from the tensors actor.l<i>.weight/bias (+ .ln.weight/.ln.bias when it
 * has LayerNorm), the layout of nn.h; its last layer outputs [mu | raw log-std]. The
 * log-std clamp comes from the metadata (log_std_min/log_std_max, default -20/2). When the
 * checkpoint holds obs_norm.mean and obs_norm.std ([obs_dim] each), observations are
 * normalised as (obs - mean) / std before the network. */
#include "io/policy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "learn/learner.h"
#include "nn/nn.h"
#include "nn/tanh_gaussian.h"

#define POLICY_MAX_ACT 256 /* action components checked in the metadata bounds */

struct o2o_policy {
  o2o_nn_mlp mlp;
  float *params;
  o2o_nn_acts *acts;
  int max_batch;
  int obs_dim, act_dim;
  float ls_min, ls_max;
  float *norm_mean, *norm_std; /* NULL when not normalised */
  float *xbuf;                 /* [max_batch][obs_dim] normalised inputs */
  float *eps;                  /* [max_batch][act_dim] */
  float *logp;                 /* [max_batch], unused output of sampling */
  o2o_nn_rng rng;
  o2o_learner *learner; /* a learner checkpoint: acts through it (the fields above unused) */
  o2o_ckpt_meta meta;   /* the file's metadata */
};

/* A metadata number: absent -> dflt (1); present must be a whole finite number (0), else -1
 * with err naming the key and its text. */
static int meta_num(const o2o_ckpt_meta *m, const char *path, const char *key, double *out,
                    char *err, size_t errlen) {
  const char *v = o2o_ckpt_meta_get(m, key);
  if (!v) return 1;
  char *end;
  double d = strtod(v, &end);
  if (end == v || *end || !isfinite(d)) {
    o2o_agent_errf(err, errlen, "checkpoint %s: metadata '%s' is '%s' (not a number)", path, key,
                   v);
    return -1;
  }
  *out = d;
  return 0;
}

/* Every metadata field of an actor-only file that shapes the network or its actions, against
 * the tensors (a file saying hidden 65 over 64-wide tensors is refused, not half-believed). */
static int check_actor_meta(o2o_policy *p, const char *path, const int *dims, int L, char *err,
                            size_t errlen) {
  const o2o_ckpt_meta *m = &p->meta;
  double v;
  int r;
  struct {
    const char *key;
    int want;
  } ints[4] = {{"obs_dim", dims[0]}, {"act_dim", dims[L] / 2}, {"layers", L - 1}, {"hidden", -1}};
  for (int i = 0; i < 4; i++) {
    if ((r = meta_num(m, path, ints[i].key, &v, err, errlen)) < 0) return -1;
    if (r) continue;
    if (ints[i].want >= 0 && v != ints[i].want) {
      o2o_agent_errf(err, errlen, "checkpoint %s: metadata %s = %s but the actor tensors give %d",
                     path, ints[i].key, o2o_ckpt_meta_get(m, ints[i].key), ints[i].want);
      return -1;
    }
    for (int l = 1; ints[i].want < 0 && l < L; l++)
      if (v != dims[l]) {
        o2o_agent_errf(err, errlen,
                       "checkpoint %s: metadata hidden = %s but actor layer %d has %d units", path,
                       o2o_ckpt_meta_get(m, "hidden"), l - 1, dims[l]);
        return -1;
      }
  }
  double lo = -20.0, hi = 2.0;
  if (meta_num(m, path, "log_std_min", &lo, err, errlen) < 0 ||
      meta_num(m, path, "log_std_max", &hi, err, errlen) < 0)
    return -1;
  if (!(lo < hi)) {
    o2o_agent_errf(err, errlen,
                   "checkpoint %s: metadata log_std_min %g must be below log_std_max %g", path, lo,
                   hi);
    return -1;
  }
  p->ls_min = (float)lo;
  p->ls_max = (float)hi;
  /* action bounds: a list of act_dim finite numbers with low < high */
  float b[2][POLICY_MAX_ACT];
  static const char *keys[2] = {"act_low", "act_high"};
  int have[2] = {0, 0}, A = dims[L] / 2;
  for (int k = 0; k < 2; k++) {
    const char *t = o2o_ckpt_meta_get(m, keys[k]);
    if (!t) continue;
    have[k] = 1;
    const char *q = t;
    for (int j = 0; j < A; j++) {
      char *end;
      float x = strtof(q, &end);
      if (end == q || !isfinite(x) || (j + 1 < A ? *end != ',' : *end != 0) ||
          j >= POLICY_MAX_ACT) {
        o2o_agent_errf(err, errlen,
                       "checkpoint %s: metadata %s '%s' is not %d comma-separated finite numbers "
                       "(the actor has %d actions)",
                       path, keys[k], t, A, A);
        return -1;
      }
      b[k][j] = x;
      q = end + 1;
    }
  }
  for (int j = 0; have[0] && have[1] && j < A; j++)
    if (!(b[0][j] < b[1][j])) {
      o2o_agent_errf(err, errlen,
                     "checkpoint %s: metadata act_low[%d] = %g is not below act_high "
                     "%g",
                     path, j, b[0][j], b[1][j]);
      return -1;
    }
  return 0;
}

/* A learner checkpoint: "<algorithm>.<field>" keys in its metadata. */
static int is_learner_file(const o2o_ckpt_meta *m) {
  const char *alg = o2o_ckpt_meta_get(m, "algorithm");
  size_t n = alg ? strlen(alg) : 0;
  for (int i = 0; alg && i < m->count; i++)
    if (!strncmp(m->keys[i], alg, n) && m->keys[i][n] == '.') return 1;
  return 0;
}

static int ensure_batch(o2o_policy *p, int n) {
  if (n <= p->max_batch) return 0;
  int cap = n < 64 ? 64 : n;
  o2o_nn_acts *acts = o2o_nn_acts_create(&p->mlp, cap);
  float *x = malloc((size_t)cap * (size_t)p->obs_dim * sizeof(float));
  float *e = malloc((size_t)cap * (size_t)p->act_dim * sizeof(float));
  float *lp = malloc((size_t)cap * sizeof(float));
  if (!acts || !x || !e || !lp) {
    o2o_nn_acts_destroy(acts);
    free(x);
    free(e);
    free(lp);
    return -1;
  }
  o2o_nn_acts_destroy(p->acts);
  free(p->xbuf);
  free(p->eps);
  free(p->logp);
  p->acts = acts;
  p->xbuf = x;
  p->eps = e;
  p->logp = lp;
  p->max_batch = cap;
  return 0;
}

o2o_policy *o2o_policy_load(const char *path, char *err, size_t errlen) {
  o2o_ckpt *c = o2o_ckpt_open(path, err, errlen);
  if (!c) return NULL;
  o2o_policy *p = calloc(1, sizeof(*p));
  o2o_tensor_ref *refs = NULL;
  if (!p) goto oom;
  p->meta = *o2o_ckpt_metadata(c);
  if (is_learner_file(&p->meta)) {
    o2o_ckpt_close(c);
    p->learner = o2o_learner_load(path, NULL, NULL, err, errlen);
    if (!p->learner) {
      o2o_ckpt_escape_text(err, errlen); /* it may quote metadata values */
      free(p);
      return NULL;
    }
    p->obs_dim = o2o_learner_obs_dim(p->learner);
    p->act_dim = o2o_learner_act_dim(p->learner);
    return p;
  }

  /* Architecture from the tensor shapes: actor.l0 .. actor.l<L-1>. */
  int dims[O2O_NN_MAX_LAYERS + 1], L = 0;
  for (; L <= O2O_NN_MAX_LAYERS; L++) {
    char name[96];
    o2o_tensor_ref w;
    snprintf(name, sizeof(name), "actor.l%d.weight", L);
    if (o2o_ckpt_find(c, name, &w)) break;
    if (L == O2O_NN_MAX_LAYERS) {
      snprintf(err, errlen, "checkpoint %s: actor has more than %d layers", path,
               O2O_NN_MAX_LAYERS);
      goto fail;
    }
    if (w.ndim != 2 || w.shape[0] < 1 || w.shape[1] < 1 || w.shape[0] > (1 << 20) ||
        w.shape[1] > (1 << 20)) {
      snprintf(err, errlen, "checkpoint %s: tensor '%s' must be a 2-d [out, in] matrix", path,
               name);
      goto fail;
    }
    if (L == 0) dims[0] = (int)w.shape[1];
    if (w.shape[1] != dims[L]) {
      snprintf(err, errlen, "checkpoint %s: tensor '%s' has %lld inputs, layer %d gives %d", path,
               name, (long long)w.shape[1], L - 1, dims[L]);
      goto fail;
    }
    dims[L + 1] = (int)w.shape[0];
  }
  if (L == 0) {
    snprintf(err, errlen, "checkpoint %s: no actor (tensor 'actor.l0.weight' missing)", path);
    goto fail;
  }
  if (dims[L] % 2) {
    snprintf(err, errlen, "checkpoint %s: actor output %d is not [mu | log-std] (odd)", path,
             dims[L]);
    goto fail;
  }
  o2o_tensor_ref probe;
  int layernorm = L > 1 && !o2o_ckpt_find(c, "actor.l0.ln.weight", &probe);
  if (o2o_nn_mlp_init(&p->mlp, 1, L, dims, layernorm)) {
    snprintf(err, errlen, "checkpoint %s: unsupported actor layout", path);
    goto fail;
  }
  p->obs_dim = dims[0];
  p->act_dim = dims[L] / 2;
  p->params = calloc(p->mlp.num_params, sizeof(float));
  refs = calloc(4 * O2O_NN_MAX_LAYERS + 2, sizeof(*refs));
  if (!p->params || !refs) goto oom;
  int n = o2o_nn_mlp_tensor_refs(&p->mlp, p->params, "actor", 0, refs, 4 * O2O_NN_MAX_LAYERS);

  /* Optional observation normalisation. */
  o2o_tensor_ref mean, sd;
  int has_mean = !o2o_ckpt_find(c, "obs_norm.mean", &mean);
  int has_std = !o2o_ckpt_find(c, "obs_norm.std", &sd);
  if (has_mean != has_std) {
    snprintf(err, errlen, "checkpoint %s: obs_norm.mean and obs_norm.std must come together", path);
    goto fail;
  }
  if (has_mean) {
    p->norm_mean = malloc((size_t)p->obs_dim * sizeof(float));
    p->norm_std = malloc((size_t)p->obs_dim * sizeof(float));
    if (!p->norm_mean || !p->norm_std) goto oom;
    refs[n] = (o2o_tensor_ref){
        .name = "obs_norm.mean", .data = p->norm_mean, .ndim = 1, .shape = {p->obs_dim}};
    refs[n + 1] = (o2o_tensor_ref){
        .name = "obs_norm.std", .data = p->norm_std, .ndim = 1, .shape = {p->obs_dim}};
    n += 2;
  }
  if (o2o_ckpt_load_into(c, refs, n, 0, err, errlen)) goto fail;
  for (int i = 0; has_std && i < p->obs_dim; i++)
    if (!(p->norm_std[i] > 0)) {
      snprintf(err, errlen, "checkpoint %s: obs_norm.std[%d] = %g is not positive", path, i,
               p->norm_std[i]);
      goto fail;
    }
  for (size_t i = 0; i < p->mlp.num_params; i++)
    if (!isfinite(p->params[i])) {
      snprintf(err, errlen, "checkpoint %s: actor parameter %zu is not finite", path, i);
      goto fail;
    }
  if (check_actor_meta(p, path, dims, L, err, errlen)) goto fail;
  o2o_nn_rng_seed(&p->rng, 0);
  if (ensure_batch(p, 64)) goto oom;
  free(refs);
  o2o_ckpt_close(c);
  return p;
oom:
  snprintf(err, errlen, "checkpoint %s: out of memory", path);
fail:
  o2o_ckpt_escape_text(err, errlen);
  free(refs);
  o2o_ckpt_close(c);
  o2o_policy_destroy(p);
  return NULL;
}

void o2o_policy_destroy(o2o_policy *p) {
  if (!p) return;
  o2o_learner_destroy(p->learner);
  o2o_nn_acts_destroy(p->acts);
  free(p->params);
  free(p->norm_mean);
  free(p->norm_std);
  free(p->xbuf);
  free(p->eps);
  free(p->logp);
  free(p);
}

int o2o_policy_obs_dim(const o2o_policy *p) {
  return p->obs_dim;
}
int o2o_policy_act_dim(const o2o_policy *p) {
  return p->act_dim;
}
const o2o_ckpt_meta *o2o_policy_meta(const o2o_policy *p) {
  return &p->meta;
}

void o2o_policy_seed(o2o_policy *p, uint64_t seed) {
  o2o_nn_rng_seed(&p->rng, seed);
  if (!p->learner) return;
  /* a learner samples with its own generator: its "<name>.rng" state tensors get the seed */
  const o2o_tensor_ref *t;
  int n = o2o_learner_tensors(p->learner, &t);
  for (int i = 0; i < n; i++) {
    size_t len = strlen(t[i].name);
    if (len >= 4 && !strcmp(t[i].name + len - 4, ".rng") && o2o_tensor_numel(&t[i]) == 16) {
      o2o_nn_rng r;
      o2o_nn_rng_seed(&r, o2o_seed_stream(seed, (uint64_t)i));
      o2o_nn_pack_rng(t[i].data, &r);
    }
  }
  o2o_learner_tensors_loaded(p->learner, NULL, 0);
}

void o2o_policy_act(o2o_policy *p, const float *obs, int n, int deterministic, float *actions) {
  if (p->learner) {
    o2o_learner_act(p->learner, obs, n, deterministic, actions);
    return;
  }
  const int A = p->act_dim, D = p->obs_dim;
  for (int r0 = 0; r0 < n;) {
    int B = n - r0;
    if (ensure_batch(p, B)) B = p->max_batch; /* no memory for a bigger batch: chunk */
    const float *x = obs + (size_t)r0 * D;
    if (p->norm_mean) {
      for (int i = 0; i < B; i++)
        for (int j = 0; j < D; j++)
          p->xbuf[(size_t)i * D + j] = (x[(size_t)i * D + j] - p->norm_mean[j]) / p->norm_std[j];
      x = p->xbuf;
    }
    o2o_nn_mlp_forward(&p->mlp, p->params, x, D, B, p->acts);
    const float *out = p->acts->out[p->mlp.num_layers - 1];
    float *a = actions + (size_t)r0 * A;
    if (deterministic) {
      o2o_tg_mode(out, 2 * A, B, A, a);
    } else {
      o2o_nn_rng_normal(&p->rng, p->eps, B * A);
      o2o_tg_sample(out, 2 * A, B, A, p->ls_min, p->ls_max, p->eps, a, p->logp);
    }
    r0 += B;
  }
}
