/* iql.c: Implicit Q-Learning (iql.h) on the nn core.
 *
 * One update (official order, ikostrikov/implicit_q_learning learner.py):
 *   1. target critics on (s, a) -> q_t = min_k Qt_k(s, a)            (used by V and the actor)
 *   2. V on s; expectile loss on u = q_t - V(s); V step
 *   3. V (new) on [s; s'] -> adv = q_t - V(s), y = r + gamma (1 - d) V(s')
 *   4. actor on s; AWR loss with weights min(exp(beta adv), exp_adv_max); actor step with the
 *      cosine-decayed learning rate
 *   5. critics on (s, a); loss sum_k mean (Q_k - y)^2; critic step; Polyak
 * The actor's parameter array ends with its state-independent log std [A], so one Adam covers
 * both. Every loss and gradient is checked before its step; on a non-finite value the update
 * stops and names it (the steps before it in this update have happened: V first, as the
 * order requires). */
#include "learn/iql.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"

typedef struct net {
  o2o_nn_mlp m;
  float *p, *g;
  size_t n; /* parameters (the actor's include its log std) */
  o2o_nn_adam opt;
  o2o_nn_acts *acts;
} net;

typedef struct iql {
  o2o_iql_config cfg;
  int obs_dim, act_dim, B;
  net actor, critic, value;
  float *target_p;          /* target critics, same layout as critic.p */
  o2o_nn_acts *t_acts;      /* target critic activations */
  float *x_sa;              /* [B][O + A] (s, a) */
  float *x_v;               /* [2B][O] s then s' */
  float *q_t, *y, *adv, *w; /* [B] */
  float *d_out;             /* [2B][max(2, A)] output gradients */
  float *eps;               /* [max act rows][A] sampling noise */
  int eps_rows;
  o2o_nn_rng rng;
  int64_t updates;
  double loss[3], stats[6]; /* value, actor, critic; adv mean, weight mean, q, v, lr, std */
  o2o_tensor_ref *tensors;
  int num_tensors;
  float mirror[2 + 2 * 3 + 16]; /* updates, three adam steps, rng */
} iql;

void o2o_iql_config_default(o2o_iql_config *c) {
  c->hidden = 256;
  c->layers = 2;
  c->batch_size = 256;
  c->gamma = 0.99f;
  c->tau = 0.005f;
  c->expectile = 0.7f;
  c->beta = 3.0f;
  c->exp_adv_max = 100.0f;
  c->actor_lr = c->critic_lr = c->value_lr = 3e-4f;
  c->max_steps = 1000000;
  c->log_std_min = -5.0f;
  c->log_std_max = 2.0f;
}

#define F(m, kind, lo, hi, text) {#m, O2O_FIELD_##kind, offsetof(o2o_iql_config, m), text, lo, hi},
static const o2o_learner_field iql_fields[] = {
    F(hidden, INT, 1, 65536, "units per hidden layer") F(layers, INT, 1, 7,
                                                         "hidden layers per network")
        F(batch_size, INT, 1, 1 << 20, "batch size") F(gamma, FLOAT, 0, 1, "discount")
            F(tau, FLOAT, 1e-8, 1, "Polyak rate of the target critics")
                F(expectile, FLOAT, 1e-3, 0.999, "expectile of the value loss")
                    F(beta, FLOAT, 0, 1e4, "inverse temperature of the advantage weights")
                        F(exp_adv_max, FLOAT, 1e-6, 1e9, "clip of the advantage weights")
                            F(actor_lr, FLOAT, 1e-12, 1, "actor learning rate (cosine-decayed)")
                                F(critic_lr, FLOAT, 1e-12, 1, "critic learning rate")
                                    F(value_lr, FLOAT, 1e-12, 1, "value learning rate")
                                        F(max_steps, INT, 0, 1 << 30,
                                          "updates of the actor's cosine decay (0 = constant)")
                                            F(log_std_min, FLOAT, -100, 100, "log-std clamp, low")
                                                F(log_std_max, FLOAT, -100, 100,
                                                  "log-std clamp, high")};
#undef F

static int cfg_check(const void *cfgp, int obs_dim, int act_dim, char *err, size_t errlen) {
  const o2o_iql_config *c = cfgp;
  (void)obs_dim, (void)act_dim;
  if (!(c->log_std_min < c->log_std_max)) {
    o2o_agent_errf(err, errlen, "iql: --log-std-min %g must be below --log-std-max %g",
                   (double)c->log_std_min, (double)c->log_std_max);
    return -1;
  }
  return 0;
}
static int cfg_batch(const void *cfgp) {
  return ((const o2o_iql_config *)cfgp)->batch_size;
}
static void cfg_default(void *cfg) {
  o2o_iql_config_default(cfg);
}

static int net_init(net *n, int ensemble, int in, int out, const o2o_iql_config *c, size_t extra,
                    int rows, float lr, o2o_nn_rng *rng) {
  int dims[O2O_NN_MAX_LAYERS + 1] = {in};
  for (int l = 1; l <= c->layers; l++)
    dims[l] = c->hidden;
  dims[c->layers + 1] = out;
  if (o2o_nn_mlp_init(&n->m, ensemble, c->layers + 1, dims, 0)) return -1;
  n->n = n->m.num_params + extra;
  n->p = calloc(n->n, sizeof(float));
  n->g = calloc(n->n, sizeof(float));
  n->acts = o2o_nn_acts_create(&n->m, rows);
  if (!n->p || !n->g || !n->acts || o2o_nn_adam_init(&n->opt, n->n, lr)) return -1;
  o2o_nn_mlp_init_params(&n->m, n->p, rng, 0.0f); /* PyTorch default init (CORL) */
  return 0;
}

static void net_free(net *n) {
  free(n->p);
  free(n->g);
  o2o_nn_acts_destroy(n->acts);
  o2o_nn_adam_free(&n->opt);
}

static void iql_destroy(void *self) {
  iql *q = self;
  if (!q) return;
  net_free(&q->actor);
  net_free(&q->critic);
  net_free(&q->value);
  free(q->target_p);
  o2o_nn_acts_destroy(q->t_acts);
  free(q->x_sa);
  free(q->x_v);
  free(q->q_t);
  free(q->y);
  free(q->adv);
  free(q->w);
  free(q->d_out);
  free(q->eps);
  free(q->tensors);
  free(q);
}

static void *iql_create(int obs_dim, int act_dim, const void *cfgp, uint64_t seed, char *err,
                        size_t errlen) {
  const o2o_iql_config *c = cfgp;
  iql *q = calloc(1, sizeof *q);
  if (!q) goto oom;
  q->cfg = *c;
  q->obs_dim = obs_dim;
  q->act_dim = act_dim;
  const int B = q->B = c->batch_size, O = obs_dim, A = act_dim;
  o2o_nn_rng init;
  o2o_nn_rng_seed(&init, seed);
  /* the actor's array ends with log std [A] (init 0, as the official code) */
  if (net_init(&q->actor, 1, O, A, c, (size_t)A, B, c->actor_lr, &init) ||
      net_init(&q->critic, 2, O + A, 1, c, 0, B, c->critic_lr, &init) ||
      net_init(&q->value, 1, O, 1, c, 0, 2 * B, c->value_lr, &init))
    goto oom;
  q->target_p = malloc(sizeof(float) * q->critic.n);
  q->t_acts = o2o_nn_acts_create(&q->critic.m, B);
  q->x_sa = malloc(sizeof(float) * (size_t)B * (O + A));
  q->x_v = malloc(sizeof(float) * (size_t)2 * B * O);
  q->q_t = malloc(sizeof(float) * (size_t)B);
  q->y = malloc(sizeof(float) * (size_t)B);
  q->adv = malloc(sizeof(float) * (size_t)B);
  q->w = malloc(sizeof(float) * (size_t)B);
  q->d_out = calloc((size_t)2 * B * (A > 2 ? A : 2), sizeof(float));
  if (!q->target_p || !q->t_acts || !q->x_sa || !q->x_v || !q->q_t || !q->y || !q->adv || !q->w ||
      !q->d_out)
    goto oom;
  memcpy(q->target_p, q->critic.p, sizeof(float) * q->critic.n);
  o2o_nn_rng_seed(&q->rng, seed ^ 0x69716c5f616374ULL); /* "iql_act": sampling apart from init */
  return q;
oom:
  o2o_agent_errf(err, errlen, "iql: out of memory");
  iql_destroy(q);
  return NULL;
}

static float *log_std(iql *q) {
  return q->actor.p + q->actor.m.num_params;
}

static float clampf(float v, float lo, float hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

static void iql_act(void *self, const float *obs, int n, int deterministic, float *actions) {
  iql *q = self;
  const int A = q->act_dim, chunk = q->actor.acts->max_batch;
  if (!deterministic && n * A > q->eps_rows * A) {
    float *e = realloc(q->eps, sizeof(float) * (size_t)n * A);
    if (e) q->eps = e, q->eps_rows = n;
  }
  for (int i0 = 0; i0 < n; i0 += chunk) {
    const int m = n - i0 < chunk ? n - i0 : chunk;
    o2o_nn_mlp_forward(&q->actor.m, q->actor.p, obs + (size_t)i0 * q->obs_dim, q->obs_dim, m,
                       q->actor.acts);
    const float *out = q->actor.acts->out[q->actor.m.num_layers - 1];
    float *a = actions + (size_t)i0 * A;
    const int noisy = !deterministic && q->eps_rows >= n;
    if (noisy) o2o_nn_rng_normal(&q->rng, q->eps, m * A);
    for (int i = 0; i < m; i++)
      for (int j = 0; j < A; j++) {
        float mu = tanhf(out[i * A + j]);
        if (noisy) {
          float s = expf(clampf(log_std(q)[j], q->cfg.log_std_min, q->cfg.log_std_max));
          mu = clampf(mu + s * q->eps[i * A + j], -1.0f, 1.0f);
        }
        a[i * A + j] = mu;
      }
  }
}

/* Finite check of a loss and a gradient array; err names them. */
static int check(const iql *q, double loss, const char *what, const float *g, size_t n, char *err,
                 size_t errlen) {
  long bad = isfinite(loss) ? o2o_nn_find_nonfinite(g, n) : -2;
  if (bad == -1) return 0;
  if (bad == -2)
    o2o_agent_errf(err, errlen, "iql: %s loss is %g (not finite) at update step %lld", what, loss,
                   (long long)q->updates + 1);
  else
    o2o_agent_errf(err, errlen, "iql: %s gradient [%ld] is %g (not finite) at update step %lld",
                   what, bad, (double)g[bad], (long long)q->updates + 1);
  return -1;
}

/* 1-2: target critics' min on (s, a), then the expectile loss of V(s) and its gradient. */
static double value_loss(iql *q, const o2o_batch *b) {
  const int B = q->B, O = q->obs_dim, A = q->act_dim;
  for (int i = 0; i < B; i++) {
    memcpy(q->x_sa + (size_t)i * (O + A), b->obs + (size_t)i * O, sizeof(float) * O);
    memcpy(q->x_sa + (size_t)i * (O + A) + O, b->act + (size_t)i * A, sizeof(float) * A);
  }
  o2o_nn_mlp_forward(&q->critic.m, q->target_p, q->x_sa, O + A, B, q->t_acts);
  const float *qt = q->t_acts->out[q->critic.m.num_layers - 1]; /* [B][2] */
  for (int i = 0; i < B; i++)
    q->q_t[i] = qt[2 * i] < qt[2 * i + 1] ? qt[2 * i] : qt[2 * i + 1];
  o2o_nn_mlp_forward(&q->value.m, q->value.p, b->obs, O, B, q->value.acts);
  const float *v = q->value.acts->out[q->value.m.num_layers - 1];
  double loss = 0.0;
  const double tau = q->cfg.expectile;
  for (int i = 0; i < B; i++) {
    double u = (double)q->q_t[i] - v[i], wt = u < 0 ? 1.0 - tau : tau;
    loss += wt * u * u;
    q->d_out[i] = (float)(-2.0 * wt * u / B);
  }
  o2o_nn_zero(q->value.g, q->value.n);
  o2o_nn_mlp_backward(&q->value.m, q->value.p, b->obs, O, B, q->value.acts, q->d_out, q->value.g, 0,
                      B, NULL, 0, 0);
  return loss / B;
}

/* 3: V on [s; s'] -> advantages and targets. */
static void value_targets(iql *q, const o2o_batch *b) {
  const int B = q->B, O = q->obs_dim;
  memcpy(q->x_v, b->obs, sizeof(float) * (size_t)B * O);
  memcpy(q->x_v + (size_t)B * O, b->next_obs, sizeof(float) * (size_t)B * O);
  o2o_nn_mlp_forward(&q->value.m, q->value.p, q->x_v, O, 2 * B, q->value.acts);
  const float *v = q->value.acts->out[q->value.m.num_layers - 1];
  for (int i = 0; i < B; i++) {
    q->adv[i] = q->q_t[i] - v[i];
    q->y[i] = b->rew[i] + q->cfg.gamma * (1.0f - b->done[i]) * v[B + i];
  }
}

/* 4: the AWR actor loss -mean w log pi(a|s) and its gradient (mean and log std). */
static double actor_loss(iql *q, const o2o_batch *b) {
  const int B = q->B, O = q->obs_dim, A = q->act_dim;
  o2o_nn_mlp_forward(&q->actor.m, q->actor.p, b->obs, O, B, q->actor.acts);
  const float *out = q->actor.acts->out[q->actor.m.num_layers - 1];
  o2o_nn_zero(q->actor.g, q->actor.n);
  float *g_ls = q->actor.g + q->actor.m.num_params;
  const float *ls = log_std(q);
  const double half_log_2pi = 0.5 * log(2.0 * M_PI);
  double loss = 0.0, wsum = 0.0;
  for (int i = 0; i < B; i++) {
    double w = exp((double)q->cfg.beta * q->adv[i]);
    w = w < q->cfg.exp_adv_max ? w : q->cfg.exp_adv_max;
    q->w[i] = (float)w;
    wsum += w;
    double logp = 0.0;
    for (int j = 0; j < A; j++) {
      const float raw = ls[j], lsc = clampf(raw, q->cfg.log_std_min, q->cfg.log_std_max);
      const double s = exp((double)lsc), mu = tanh((double)out[i * A + j]);
      const double z = ((double)b->act[i * A + j] - mu) / s;
      logp += -0.5 * z * z - lsc - half_log_2pi;
      /* dL/dmu = -w/B * z / s; through tanh: (1 - mu^2) */
      q->d_out[i * A + j] = (float)(-w / B * z / s * (1.0 - mu * mu));
      if (raw >= q->cfg.log_std_min && raw <= q->cfg.log_std_max)
        g_ls[j] += (float)(-w / B * (z * z - 1.0)); /* clamped: no gradient */
    }
    loss -= w * logp;
  }
  o2o_nn_mlp_backward(&q->actor.m, q->actor.p, b->obs, O, B, q->actor.acts, q->d_out, q->actor.g, 0,
                      B, NULL, 0, 0);
  q->stats[1] = wsum / B;
  return loss / B;
}

/* 5: the critic loss sum_k mean (Q_k - y)^2 and its gradient. */
static double critic_loss(iql *q) {
  const int B = q->B, O = q->obs_dim, A = q->act_dim;
  o2o_nn_mlp_forward(&q->critic.m, q->critic.p, q->x_sa, O + A, B, q->critic.acts);
  const float *qo = q->critic.acts->out[q->critic.m.num_layers - 1];
  double loss = 0.0, qsum = 0.0;
  for (int i = 0; i < B; i++)
    for (int k = 0; k < 2; k++) {
      double e = (double)qo[2 * i + k] - q->y[i];
      loss += e * e;
      qsum += qo[2 * i + k];
      q->d_out[2 * i + k] = (float)(2.0 * e / B);
    }
  o2o_nn_zero(q->critic.g, q->critic.n);
  o2o_nn_mlp_backward(&q->critic.m, q->critic.p, q->x_sa, O + A, B, q->critic.acts, q->d_out,
                      q->critic.g, 0, B, NULL, 0, 0);
  q->stats[2] = qsum / (2.0 * B);
  return loss / B;
}

static float cosine_lr(const iql *q) {
  if (q->cfg.max_steps <= 0) return q->cfg.actor_lr;
  double t = (double)q->updates / q->cfg.max_steps;
  return (float)(q->cfg.actor_lr * 0.5 * (1.0 + cos(M_PI * (t < 1.0 ? t : 1.0))));
}

static int iql_update(void *self, const o2o_batch *b, o2o_learner_stats *st, char *err,
                      size_t errlen) {
  iql *q = self;
  /* every column before the V step: a NaN reward would otherwise surface only in the critic
   * loss, after V and the actor had stepped */
  const struct {
    const char *name;
    const float *x;
    int cols;
  } cols[] = {{"obs", b->obs, q->obs_dim},
              {"act", b->act, q->act_dim},
              {"rew", b->rew, 1},
              {"next_obs", b->next_obs, q->obs_dim},
              {"done", b->done, 1}};
  for (int k = 0; k < 5; k++) {
    long i = o2o_nn_find_nonfinite(cols[k].x, (size_t)q->B * cols[k].cols);
    if (i >= 0) {
      o2o_agent_errf(err, errlen,
                     "iql: batch.%s row %ld col %ld is %g (not finite) at update step %lld",
                     cols[k].name, i / cols[k].cols, i % cols[k].cols, (double)cols[k].x[i],
                     (long long)q->updates + 1);
      return -1;
    }
  }
  double lv = value_loss(q, b);
  if (check(q, lv, "value", q->value.g, q->value.n, err, errlen)) return -1;
  o2o_nn_adam_step(&q->value.opt, q->value.p, q->value.g);
  value_targets(q, b);
  double la = actor_loss(q, b);
  if (check(q, la, "actor", q->actor.g, q->actor.n, err, errlen)) return -1;
  q->actor.opt.lr = cosine_lr(q);
  o2o_nn_adam_step(&q->actor.opt, q->actor.p, q->actor.g);
  double lq = critic_loss(q);
  if (check(q, lq, "critic", q->critic.g, q->critic.n, err, errlen)) return -1;
  o2o_nn_adam_step(&q->critic.opt, q->critic.p, q->critic.g);
  o2o_nn_polyak(q->target_p, q->critic.p, q->critic.n, q->cfg.tau);
  q->updates++;
  if (st) {
    double adv = 0.0, v = 0.0;
    const float *vo = q->value.acts->out[q->value.m.num_layers - 1];
    for (int i = 0; i < q->B; i++)
      adv += q->adv[i] / q->B, v += vo[i] / q->B;
    o2o_learner_stats_set(st, "value_loss", lv);
    o2o_learner_stats_set(st, "actor_loss", la);
    o2o_learner_stats_set(st, "critic_loss", lq);
    o2o_learner_stats_set(st, "q_mean", q->stats[2]);
    o2o_learner_stats_set(st, "v_mean", v);
    o2o_learner_stats_set(st, "adv_mean", adv);
    o2o_learner_stats_set(st, "weight_mean", q->stats[1]);
    o2o_learner_stats_set(st, "actor_lr", q->actor.opt.lr);
  }
  return 0;
}

double o2o_iql_test_loss(void *self, const o2o_batch *b, int which) {
  iql *q = self;
  double lv = value_loss(q, b);
  if (which == 0) return lv;
  value_targets(q, b);
  if (which == 1) return actor_loss(q, b);
  return critic_loss(q);
}

float *o2o_iql_test_params(void *self, int which, size_t *n) {
  iql *q = self;
  net *t = which == 0 ? &q->value : which == 1 ? &q->actor : &q->critic;
  if (n) *n = t->n;
  return t->p;
}

float *o2o_iql_test_grads(void *self, int which) {
  iql *q = self;
  return (which == 0 ? &q->value : which == 1 ? &q->actor : &q->critic)->g;
}

/* ---- tensors ---- */
static int build_tensors(iql *q, o2o_tensor_ref *t, int max) { /* t NULL: count */
  int n = 0;
  if (!t) max = 0;
  n += o2o_nn_mlp_tensor_refs(&q->actor.m, q->actor.p, "actor", 0, t ? t + n : NULL, max - n);
  n += o2o_nn_mlp_tensor_refs(&q->critic.m, q->critic.p, "critic", 1, t ? t + n : NULL, max - n);
  n += o2o_nn_mlp_tensor_refs(&q->critic.m, q->target_p, "critic_target", 1, t ? t + n : NULL,
                              max - n);
  n += o2o_nn_mlp_tensor_refs(&q->value.m, q->value.p, "value", 0, t ? t + n : NULL, max - n);
  n = o2o_nn_tensor_ref_1d(t, n, max, "actor.log_std", log_std(q), q->act_dim);
  net *nets[3] = {&q->actor, &q->critic, &q->value};
  const char *names[3][2] = {{"actor.adam_m", "actor.adam_v"},
                             {"critic.adam_m", "critic.adam_v"},
                             {"value.adam_m", "value.adam_v"}};
  for (int k = 0; k < 3; k++) {
    n = o2o_nn_tensor_ref_1d(t, n, max, names[k][0], nets[k]->opt.m, (int64_t)nets[k]->n);
    n = o2o_nn_tensor_ref_1d(t, n, max, names[k][1], nets[k]->opt.v, (int64_t)nets[k]->n);
  }
  n = o2o_nn_tensor_ref_1d(t, n, max, "iql.counters", q->mirror, 8);
  n = o2o_nn_tensor_ref_1d(t, n, max, "iql.rng", q->mirror + 8, 16);
  return n;
}

static void pack(iql *q) {
  o2o_nn_pack_count(q->mirror, q->updates);
  o2o_nn_pack_count(q->mirror + 2, q->actor.opt.t);
  o2o_nn_pack_count(q->mirror + 4, q->critic.opt.t);
  o2o_nn_pack_count(q->mirror + 6, q->value.opt.t);
  o2o_nn_pack_rng(q->mirror + 8, &q->rng);
}

static int iql_tensors(void *self, const o2o_tensor_ref **out) {
  iql *q = self;
  if (!q->tensors) {
    q->num_tensors = build_tensors(q, NULL, 0);
    q->tensors = calloc((size_t)q->num_tensors, sizeof(o2o_tensor_ref));
    if (!q->tensors) {
      *out = NULL;
      return 0;
    }
    build_tensors(q, q->tensors, q->num_tensors);
  }
  pack(q);
  *out = q->tensors;
  return q->num_tensors;
}

static int iql_tensors_loaded(void *self, char *err, size_t errlen) {
  iql *q = self;
  int64_t c[4];
  o2o_nn_rng r;
  for (int k = 0; k < 4; k++)
    if (o2o_nn_unpack_count(q->mirror + 2 * k, &c[k])) {
      o2o_agent_errf(err, errlen, "tensor iql.counters does not hold step counters");
      return -1;
    }
  if (o2o_nn_unpack_rng(q->mirror + 8, &r)) {
    o2o_agent_errf(err, errlen, "tensor iql.rng is not a generator state");
    return -1;
  }
  q->updates = c[0];
  q->actor.opt.t = c[1];
  q->critic.opt.t = c[2];
  q->value.opt.t = c[3];
  q->rng = r;
  return 0;
}

const o2o_learner_algo o2o_algo_iql = {
    .name = "iql",
    .summary = "Implicit Q-Learning: expectile V, AWR actor (Kostrikov et al. 2021)",
    .offline = 1,
    .config_size = sizeof(o2o_iql_config),
    .config_default = cfg_default,
    .fields = iql_fields,
    .num_fields = (int)(sizeof iql_fields / sizeof iql_fields[0]),
    .config_check = cfg_check,
    .batch_size = cfg_batch,
    .columns = 0,
    .create = iql_create,
    .destroy = iql_destroy,
    .act = iql_act,
    .update = iql_update,
    .tensors = iql_tensors,
    .tensors_loaded = iql_tensors_loaded,
};
