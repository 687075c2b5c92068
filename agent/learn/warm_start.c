/* warm_start.c: an online learner (sac, h2o) built from a pretrained checkpoint of any learner
 * (iql, cql, calql, sac, h2o), as WSRL does: "load the entire pretrained agent" (Zhou et al.
 * 2024, "Efficient Online Reinforcement Learning Fine-Tuning Need Not Retain Offline Data",
 * github.com/zhouzypaul/wsrl): actor, critics, target critics, temperature and the optimiser
 * state (Adam moments and step counts), and the observation normalisation.
 *
 * The online learner takes the checkpoint's architecture (hidden, layers, num_critics,
 * critic_layernorm, read from its tensors), then every tensor of the online learner that the
 * checkpoint holds under the same name and shape is copied (the SAC family, sac / cql /
 * calql / h2o, share SAC's tensor names). The sampling generators stay the online run's own.
 *
 * IQL's actor is another parameterisation: a mean net of act_dim outputs whose tanh is the
 * action, plus a state-independent log std (tensor actor.log_std). SAC's last layer outputs
 * [mu | raw log-std]; the conversion copies the hidden layers and the mean rows as they are and
 * makes the log-std rows weight 0, bias = IQL's log std (clamped to IQL's range, as IQL acts,
 * then to SAC's), so the deterministic action tanh(mu) is IQL's. The sampled policy is then
 * SAC's tanh-Gaussian tanh(mu + std eps) with IQL's std in the pre-tanh space, not IQL's
 * clip(tanh(mu) + std eps, -1, 1): same mode and spread, squashed instead of clipped. IQL's
 * critics and targets (2 members, SAC's layout) and their Adam state copy directly; its actor
 * Adam state does not fit the new head and starts fresh; its V net is dropped; the temperature
 * is the online config's init_alpha. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "learn/learner.h"
#include "nn/nn.h"

static const o2o_tensor_ref *find(const o2o_tensor_ref *t, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(t[i].name, name)) return &t[i];
  return NULL;
}

static int same_shape(const o2o_tensor_ref *a, const o2o_tensor_ref *b) {
  if (a->ndim != b->ndim) return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i]) return 0;
  return 1;
}

static void shape_text(const o2o_tensor_ref *t, char *out, size_t cap) {
  size_t k = (size_t)snprintf(out, cap, "[");
  for (int i = 0; i < t->ndim && k < cap; i++)
    k += (size_t)snprintf(out + k, cap - k, i ? ", %lld" : "%lld", (long long)t->shape[i]);
  if (k < cap) snprintf(out + k, cap - k, "]");
}

/* The report's name of the part a tensor belongs to. */
static const char *part_of(const char *name) {
  static const struct {
    const char *prefix, *part;
  } parts[] = {
      {"obs_norm.", "obs_norm"},
      {"actor.adam", "actor Adam"},
      {"critic.adam", "critic Adam"},
      {"log_alpha.adam", "temperature Adam"},
      {"value.adam", "value Adam"},
      {"cql.log_alpha_prime", "CQL alpha'"},
      {"log_alpha", "temperature"},
      {"actor.", "actor"},
      {"critic_target", "target critics"},
      {"critic", "critics"},
      {"value.", "value net"},
      {"sac.updates", "update counter"},
      {"disc", "discriminators"},
      {"h2o.", "h2o state"},
      {"iql.counters", "IQL step counters"},
  };
  size_t len = strlen(name);
  if (len >= 4 && !strcmp(name + len - 4, ".rng")) return "rng";
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
    if (!strncmp(name, parts[i].prefix, strlen(parts[i].prefix))) return parts[i].part;
  return name;
}

/* Append part to a comma-separated list once. */
static void list_add(char *list, size_t cap, const char *part) {
  size_t n = strlen(part), len = strlen(list);
  for (const char *p = list; (p = strstr(p, part)); p += n)
    if ((p == list || p[-2] == ',') && (p[n] == 0 || p[n] == ',')) return;
  snprintf(list + len, cap - len, "%s%s", len ? ", " : "", part);
}

/* The source's architecture, from its tensors (every learner names them alike). */
typedef struct arch {
  int v[4]; /* hidden, layers, num_critics, critic_layernorm */
} arch;
static const char *const arch_names[4] = {"hidden", "layers", "num_critics", "critic_layernorm"};

static int src_arch(const o2o_tensor_ref *t, int n, arch *a) {
  const o2o_tensor_ref *w0 = find(t, n, "actor.l0.weight");
  if (!w0 || w0->ndim != 2 || !find(t, n, "critic0.l0.weight")) return -1;
  a->v[0] = (int)w0->shape[0];
  char name[64];
  int layers = 0, critics = 0;
  do
    snprintf(name, sizeof name, "actor.l%d.weight", ++layers);
  while (find(t, n, name));
  do
    snprintf(name, sizeof name, "critic%d.l0.weight", ++critics);
  while (find(t, n, name));
  a->v[1] = layers - 1; /* hidden layers = Linear layers - 1 */
  a->v[2] = critics;
  a->v[3] = find(t, n, "critic0.l0.ln.weight") != NULL;
  return 0;
}

/* IQL's actor -> SAC's: hidden layers as they are; the last layer's mean rows copied, its
 * log-std rows weight 0 and bias = the clamped state-independent log std. */
static int convert_actor(const o2o_tensor_ref *dt, const o2o_tensor_ref *st, int ns, int A,
                         float ls_lo, float ls_hi, char *err, size_t errlen) {
  const o2o_tensor_ref *sw = find(st, ns, dt->name), *ls = find(st, ns, "actor.log_std");
  char a[48], b[48];
  const int is_bias = dt->ndim == 1;
  if (sw && same_shape(sw, dt)) { /* a hidden layer */
    memcpy(dt->data, sw->data, sizeof(float) * (size_t)o2o_tensor_numel(dt));
    return 0;
  }
  if (!sw || !ls || dt->shape[0] != 2 * A || sw->shape[0] != A ||
      (!is_bias && sw->shape[1] != dt->shape[1])) {
    shape_text(dt, a, sizeof a);
    if (sw) shape_text(sw, b, sizeof b);
    o2o_agent_errf(err, errlen,
                   "warm start: the online actor's %s %s has no counterpart in the checkpoint's "
                   "actor (%s%s)",
                   dt->name, a, sw ? "shape " : "missing", sw ? b : "");
    return -1;
  }
  const size_t row = is_bias ? 1 : (size_t)dt->shape[1];
  memcpy(dt->data, sw->data, sizeof(float) * row * (size_t)A);
  for (int j = 0; j < A; j++) {
    float v = ls->data[j];
    v = v < ls_lo ? ls_lo : v > ls_hi ? ls_hi : v;
    for (size_t c = 0; c < row; c++)
      dt->data[(size_t)(A + j) * row + c] = is_bias ? v : 0.0f;
  }
  return 0;
}

static float config_float(const o2o_learner_algo *algo, const void *cfg, const char *name,
                          float dflt) {
  const o2o_learner_field *f = o2o_learner_field_find(algo, name);
  return f ? (float)o2o_learner_field_get(f, cfg) : dflt;
}

o2o_learner *o2o_learner_warm_start(const o2o_learner_algo *algo, const void *cfg, const char *path,
                                    uint64_t seed, struct o2o_ckpt_meta *meta_out,
                                    o2o_warm_report *rep, char *err, size_t errlen) {
  o2o_warm_report local;
  if (!rep) rep = &local;
  memset(rep, 0, sizeof *rep);
  rep->source_step = -1;
  if (!algo || algo->offline) {
    o2o_agent_errf(err, errlen,
                   "warm start: the online learner must be an online algorithm (sac, h2o), not %s",
                   algo ? algo->name : "none");
    return NULL;
  }
  char sub[O2O_AGENT_ERRLEN];
  o2o_ckpt_meta meta;
  o2o_learner *src = o2o_learner_load(path, NULL, &meta, sub, sizeof sub), *dst = NULL;
  void *dcfg = NULL, *dflt = NULL;
  if (!src) {
    o2o_agent_errf(err, errlen, "warm start from %s: %s", path, sub);
    return NULL;
  }
  const o2o_learner_algo *salgo = o2o_learner_algo_of(src);
  snprintf(rep->source, sizeof rep->source, "%s", path);
  snprintf(rep->source_algo, sizeof rep->source_algo, "%s", salgo->name);
  rep->source_step = o2o_ckpt_meta_int(&meta, "step"); /* -1 absent (or malformed) */
  const o2o_tensor_ref *st;
  const int ns = o2o_learner_tensors(src, &st);
  arch sa;
  if (src_arch(st, ns, &sa)) {
    o2o_agent_errf(err, errlen,
                   "warm start from %s: its %s learner has no actor.l0.weight / critic0.l0.weight "
                   "tensors (not an actor-critic an online learner can start from)",
                   path, salgo->name);
    goto fail;
  }
  /* the checkpoint's architecture; a setting that differs from the online default is an
   * explicit choice and must agree with it */
  dcfg = malloc(algo->config_size);
  dflt = malloc(algo->config_size);
  if (!dcfg || !dflt) goto oom;
  algo->config_default(dflt);
  if (cfg)
    memcpy(dcfg, cfg, algo->config_size);
  else
    memcpy(dcfg, dflt, algo->config_size);
  for (int k = 0; k < 4; k++) {
    const o2o_learner_field *f = o2o_learner_field_find(algo, arch_names[k]);
    if (!f || f->type != O2O_FIELD_INT) {
      o2o_agent_errf(err, errlen, "warm start: the %s learner has no integer setting '%s'",
                     algo->name, arch_names[k]);
      goto fail;
    }
    int *v = (int *)((char *)dcfg + f->offset), d = *(const int *)((const char *)dflt + f->offset);
    if (*v != d && *v != sa.v[k]) {
      o2o_agent_errf(err, errlen,
                     "warm start: the online %s setting %s = %d conflicts with the checkpoint %s "
                     "(%s, %s = %d); the online learner takes the checkpoint's architecture: drop "
                     "the setting or make it %d",
                     algo->name, arch_names[k], *v, path, salgo->name, arch_names[k], sa.v[k],
                     sa.v[k]);
      goto fail;
    }
    *v = sa.v[k];
  }
  dst = o2o_learner_create(algo, o2o_learner_obs_dim(src), o2o_learner_act_dim(src), dcfg,
                           o2o_learner_obs_mean(src), o2o_learner_obs_std(src), seed, sub,
                           sizeof sub);
  if (!dst) {
    o2o_agent_errf(err, errlen, "warm start from %s: %s", path, sub);
    goto fail;
  }
  const o2o_tensor_ref *dt;
  const int nd = o2o_learner_tensors(dst, &dt);
  const int A = o2o_learner_act_dim(dst);
  const int iql_actor = find(st, ns, "actor.log_std") != NULL;
  uint8_t *used = calloc((size_t)ns, 1);
  if (!used) goto oom;
  for (int i = 0; i < nd; i++) {
    const o2o_tensor_ref *d = &dt[i];
    const char *part = part_of(d->name);
    const o2o_tensor_ref *s = find(st, ns, d->name);
    if (s) used[s - st] = 1;
    if (!strcmp(part, "rng")) { /* the online run's own sampling streams */
      list_add(rep->fresh, sizeof rep->fresh, part);
    } else if (iql_actor && !strcmp(part, "actor")) {
      float lo = config_float(algo, dcfg, "log_std_min", -20.0f);
      float hi = config_float(algo, dcfg, "log_std_max", 2.0f);
      float slo = config_float(salgo, o2o_learner_config(src), "log_std_min", lo);
      float shi = config_float(salgo, o2o_learner_config(src), "log_std_max", hi);
      if (convert_actor(d, st, ns, A, fmaxf(lo, slo), fminf(hi, shi), err, errlen)) {
        free(used);
        goto fail;
      }
      used[find(st, ns, "actor.log_std") - st] = 1;
      list_add(rep->converted, sizeof rep->converted,
               "actor (IQL mean net + state-independent log std -> SAC mean | log-std head)");
    } else if (iql_actor && !strcmp(d->name, "critic.adam_step")) {
      /* IQL keeps its critic's Adam step in iql.counters [updates, actor, critic, value] */
      const o2o_tensor_ref *c = find(st, ns, "iql.counters");
      if (c && o2o_tensor_numel(c) >= 6) {
        memcpy(d->data, c->data + 4, 2 * sizeof(float));
        used[c - st] = 1;
        list_add(rep->converted, sizeof rep->converted, "critic Adam step (iql.counters)");
      } else {
        list_add(rep->fresh, sizeof rep->fresh, "critic Adam step");
      }
    } else if (iql_actor && !strcmp(part, "actor Adam")) {
      list_add(rep->fresh, sizeof rep->fresh, part); /* moments of another head */
      if (s) used[s - st] = 0;
    } else if (s && same_shape(s, d)) {
      memcpy(d->data, s->data, sizeof(float) * (size_t)o2o_tensor_numel(d));
      list_add(rep->copied, sizeof rep->copied, part);
    } else if (s && (!strcmp(part, "actor") || !strcmp(part, "critics") ||
                     !strcmp(part, "target critics"))) {
      char a[48], b[48];
      shape_text(d, a, sizeof a);
      shape_text(s, b, sizeof b);
      o2o_agent_errf(err, errlen, "warm start from %s: tensor %s is %s there, %s online", path,
                     d->name, b, a);
      free(used);
      goto fail;
    } else {
      if (s) used[s - st] = 0;
      list_add(rep->fresh, sizeof rep->fresh, part);
    }
  }
  for (int i = 0; i < ns; i++)
    if (!used[i] && strcmp(part_of(st[i].name), "rng"))
      list_add(rep->dropped, sizeof rep->dropped, part_of(st[i].name));
  free(used);
  if (o2o_learner_tensors_loaded(dst, sub, sizeof sub)) {
    o2o_agent_errf(err, errlen, "warm start from %s: %s", path, sub);
    goto fail;
  }
  if (meta_out) *meta_out = meta;
  free(dcfg);
  free(dflt);
  o2o_learner_destroy(src);
  return dst;
oom:
  o2o_agent_errf(err, errlen, "warm start: out of memory");
fail:
  free(dcfg);
  free(dflt);
  o2o_learner_destroy(dst);
  o2o_learner_destroy(src);
  return NULL;
}
