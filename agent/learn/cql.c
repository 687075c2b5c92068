/* cql.c: CQL and Cal-QL on SAC's update (cql.h).
 *
 * One update = o2o_sac_update_with(SAC's losses from the current parameters, add_penalty):
 *   1. SAC: actor on [obs; next_obs], TD target (no entropy term), critic and actor losses and
 *      gradients, temperature gradient (sac.c)
 *   2. add_penalty, from the actor outputs SAC's forward left in actor_acts:
 *      a. samples: n uniform actions, n from pi(.|s), n from pi(.|s'), with log q
 *      b. [max-target backup: n a' ~ pi(.|s') through the target critics, y = max_i min_k]
 *      c. ONE critic forward over [(s, a_data); (s, a_uniform); (s, a_pi(s)); (s, a_pi(s'))]
 *         ((1 + 3n) B rows; every sample row holds s, never s')
 *      d. per critic: penalty and its gradient (o2o_cql_penalty), times alpha_cql [* alpha'];
 *         max backup: the TD gradient's correction 2 w (y_sac - y_max) / B on the data rows
 *      e. ONE backward of that stack, added into SAC's critic gradients (both passes in
 *         cache-sized row blocks: the same products, each block kept in cache)
 *   3. the Adam/Polyak step (SAC), then log alpha' (Lagrange) from the same update's gradient.
 * Samples come from SAC's generator (checkpointed as sac.rng, restored on a refused update). */
#include "learn/cql.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learn/sac_internal.h"
#include "nn/nn.h"
#include "nn/tanh_gaussian.h"

#define ALPHA_PRIME_MAX 1e6

void o2o_cql_config_default(o2o_cql_config *c) {
  memset(c, 0, sizeof *c);
  o2o_sac_config_default(&c->sac);
  c->sac.backup_entropy = 0;      /* CQL's target has no entropy term (CORL, SimpleSAC) */
  c->sac.last_layer_gain = 1e-2f; /* the CQL family's last-layer init */
  c->n_actions = 10;
  c->alpha_cql = 5.0f;
  c->temp = 1.0f;
  c->clip_diff_min = -FLT_MAX;
  c->clip_diff_max = FLT_MAX;
  c->max_target_backup = 0;
  c->lagrange = 0;
  c->target_gap = 1.0f;
  c->init_log_alpha_pr = 1.0f;
  c->calibrate = 0;
  c->bound_random = 0;
  c->sparse_reward = 0;
  c->reward_neg = 0.0f;
  c->mc_infinite_horizon = 0;
}

void o2o_calql_config_default(o2o_cql_config *c) {
  o2o_cql_config_default(c);
  c->calibrate = 1;
  c->max_target_backup = 1;
  c->sac.actor_lr = c->sac.alpha_lr = 1e-4f;
}

#define SACF(m, kind, lo, hi, text)                                                                \
  {#m, O2O_FIELD_##kind, offsetof(o2o_cql_config, sac) + offsetof(o2o_sac_config, m), text, lo, hi},
#define F(m, kind, lo, hi, text) {#m, O2O_FIELD_##kind, offsetof(o2o_cql_config, m), text, lo, hi},
static const o2o_learner_field cql_fields[] = {
    O2O_SAC_FIELDS(SACF) /* SAC's */
    F(n_actions, INT, 1, O2O_CQL_MAX_SAMPLES / 3,
      "penalty samples per kind (uniform, pi(s), pi(s'))")                                 /* */
    F(alpha_cql, FLOAT, 0, 1e6, "penalty weight (CORL locomotion 10)")                     /* */
    F(temp, FLOAT, 1e-6, 1e6, "temperature of the penalty's logsumexp")                    /* */
    F(clip_diff_min, FLOAT, -FLT_MAX, FLT_MAX, "clip of LSE - Q(s,a_data), low")           /* */
    F(clip_diff_max, FLOAT, -FLT_MAX, FLT_MAX, "clip of LSE - Q(s,a_data), high")          /* */
    F(max_target_backup, INT, 0, 1, "TD target: max over n_actions a' of min_k (0/1)")     /* */
    F(lagrange, INT, 0, 1, "automatic penalty weight alpha' with a target gap (0/1)")      /* */
    F(target_gap, FLOAT, -1e6, 1e6, "Lagrange: target action gap")                         /* */
    F(init_log_alpha_pr, FLOAT, -100, 100, "Lagrange: initial log alpha'")                 /* */
    F(calibrate, INT, 0, 1, "Cal-QL: bound policy samples' Q below by the MC return")      /* */
    F(bound_random, INT, 0, 1, "Cal-QL: bound the uniform samples too (0/1)")              /* */
    F(sparse_reward, INT, 0, 1, "Cal-QL returns: all-reward_neg episodes get r/(1-gamma)") /* */
    F(reward_neg, FLOAT, -1e9, 1e9, "Cal-QL returns: the failure reward of a sparse task") /* */
    F(mc_infinite_horizon, INT, 0, 1, "Cal-QL returns: truncated episodes go on r_T/(1-gamma)")};
#undef F
#undef SACF

typedef struct cql {
  o2o_cql_config cfg;
  int O, A, B, n, R; /* R = (1 + 3n) B stacked rows */
  int blk;           /* rows per block of the stacked pass (cache-sized, see stack_pass) */
  o2o_sac *sac;
  o2o_nn_acts *acts;            /* the stacked forward (also the max-backup target forward) */
  float *x;                     /* [R][O+A] */
  float *unif;                  /* [n][B][A] */
  float *eps;                   /* [3n][B][A]: pi(s), pi(s') noise, then the max backup's */
  float *eps_t;                 /* = eps + 2nBA */
  float *act_tmp, *logp_tmp;    /* [nB][A], [nB] */
  float *logq;                  /* [3n][B] */
  float *dout;                  /* [R][N] */
  float *y;                     /* [B] max-backup targets */
  float log_ap[1], log_ap_g[1]; /* log alpha' and its gradient */
  o2o_nn_adam ap_opt;
  int reuse; /* tests: keep the samples of the previous call */
  double td, penalty, diff_mean, diff[2], bound_rate, alpha_prime, q_data;
  o2o_tensor_ref *tensors;
  int num_tensors;
  float mirror[2]; /* log alpha' Adam step */
} cql;

static int cfg_check(const void *cfgp, int obs_dim, int act_dim, char *err, size_t errlen) {
  const o2o_cql_config *c = cfgp;
  if (o2o_sac_config_check(&c->sac, obs_dim, act_dim, err, errlen)) return -1;
  if (!(c->clip_diff_min <= c->clip_diff_max)) {
    o2o_agent_errf(err, errlen, "cql: --clip-diff-min %g above --clip-diff-max %g",
                   (double)c->clip_diff_min, (double)c->clip_diff_max);
    return -1;
  }
  if ((int64_t)(1 + 3 * (int64_t)c->n_actions) * c->sac.batch_size > (1 << 24)) {
    o2o_agent_errf(err, errlen,
                   "cql: (1 + 3 x --n-actions %d) x --batch-size %d rows exceed the 2^24 rows of "
                   "one stacked critic pass",
                   c->n_actions, c->sac.batch_size);
    return -1;
  }
  return 0;
}

static int cfg_batch(const void *cfgp) {
  return ((const o2o_cql_config *)cfgp)->sac.batch_size;
}

static void cql_destroy(void *self) {
  cql *q = self;
  if (!q) return;
  o2o_sac_destroy(q->sac);
  o2o_nn_acts_destroy(q->acts);
  free(q->x);
  free(q->unif);
  free(q->eps);
  free(q->act_tmp);
  free(q->logp_tmp);
  free(q->logq);
  free(q->dout);
  free(q->y);
  o2o_nn_adam_free(&q->ap_opt);
  free(q->tensors);
  free(q);
}

static void *cql_create(int obs_dim, int act_dim, const void *cfgp, uint64_t seed, char *err,
                        size_t errlen) {
  const o2o_cql_config *c = cfgp;
  cql *q = calloc(1, sizeof *q);
  if (!q) goto oom;
  q->cfg = *c;
  q->O = obs_dim;
  q->A = act_dim;
  q->B = c->sac.batch_size;
  q->n = c->n_actions;
  q->R = (1 + 3 * q->n) * q->B;
  /* one hidden activation block of all members <= 1 MiB (measured on Zen3, 2x256 critics: the
   * 7936-row stack in blocks of 256-1024 rows ran ~20% faster than in one pass) */
  q->blk = (int)((1 << 18) / ((int64_t)c->sac.num_critics * c->sac.hidden));
  q->blk = q->blk < 64 ? 64 : q->blk > q->R ? q->R : q->blk;
  if (!(q->sac = o2o_sac_create(obs_dim, act_dim, &c->sac, seed))) goto oom;
  const size_t B = (size_t)q->B, A = (size_t)act_dim, n = (size_t)q->n;
  const size_t N = (size_t)c->sac.num_critics, OA = (size_t)(obs_dim + act_dim);
  int ok = (q->acts = o2o_nn_acts_create(&q->sac->critic_m, q->R)) != NULL;
#define ALLOC(p, k) ok &= ((p) = calloc((k), sizeof(float))) != NULL
  ALLOC(q->x, (size_t)q->R * OA);
  ALLOC(q->unif, n * B * A);
  ALLOC(q->eps, 3 * n * B * A);
  ALLOC(q->act_tmp, n * B * A);
  ALLOC(q->logp_tmp, n * B);
  ALLOC(q->logq, 3 * n * B);
  ALLOC(q->dout, (size_t)q->R * N);
  ALLOC(q->y, B);
#undef ALLOC
  ok &= o2o_nn_adam_init(&q->ap_opt, 1, c->sac.critic_lr) == 0;
  if (!ok) goto oom;
  q->eps_t = q->eps + 2 * n * B * A;
  q->log_ap[0] = c->init_log_alpha_pr;
  return q;
oom:
  o2o_agent_errf(err, errlen, "cql: out of memory");
  cql_destroy(q);
  return NULL;
}

static void cql_act(void *self, const float *obs, int n, int deterministic, float *actions) {
  o2o_sac_act(((cql *)self)->sac, obs, n, deterministic, actions);
}

double o2o_cql_penalty(const float *q_data, const float *q_samp, int ldq, int B, int S,
                       const float *logq, const float *bound, int bound_lo, double temp,
                       double clip_lo, double clip_hi, float *d_data, float *d_samp,
                       double *bound_rate) {
  double total = 0.0, xs[O2O_CQL_MAX_SAMPLES];
  uint8_t cut[O2O_CQL_MAX_SAMPLES];
  int64_t bounded = 0, below = 0;
  if (S > O2O_CQL_MAX_SAMPLES) return NAN;
  for (int r = 0; r < B; r++) {
    double m = -INFINITY;
    for (int j = 0; j < S; j++) {
      double v = q_samp[((size_t)j * B + r) * ldq];
      cut[j] = bound && j >= bound_lo && v < bound[r]; /* Cal-QL: max(Q, G), no gradient */
      bounded += bound && j >= bound_lo;
      below += cut[j];
      if (cut[j]) v = bound[r];
      xs[j] = (v - logq[(size_t)j * B + r]) / temp; /* importance correction */
      if (xs[j] > m) m = xs[j];
    }
    double sum = 0.0;
    for (int j = 0; j < S; j++)
      sum += exp(xs[j] - m);
    double lse = temp * (m + log(sum)), diff = lse - q_data[(size_t)r * ldq];
    int inside = diff >= clip_lo && diff <= clip_hi;
    total += diff < clip_lo ? clip_lo : diff > clip_hi ? clip_hi : diff;
    if (d_data) d_data[(size_t)r * ldq] = inside ? (float)(-1.0 / B) : 0.0f;
    if (d_samp)
      for (int j = 0; j < S; j++)
        d_samp[((size_t)j * B + r) * ldq] =
            inside && !cut[j] ? (float)(exp(xs[j] - m) / sum / B) : 0.0f;
  }
  if (bound_rate) *bound_rate = bounded ? (double)below / (double)bounded : 0.0;
  return total / B;
}

/* a: the penalty's samples into the stacked input x and logq (rows: data, uniform, pi(s),
 * pi(s')); every row holds s. */
static void build_stack(cql *q, const o2o_sac *s, const o2o_batch *b) {
  const int B = q->B, A = q->A, O = q->O, OA = O + A, n = q->n;
  const float *aout = s->actor_acts->out[s->actor_m.num_layers - 1]; /* [2B][2A] */
  const float lsmin = s->cfg.log_std_min, lsmax = s->cfg.log_std_max;
  for (int r = 0; r < B; r++) {
    memcpy(q->x + (size_t)r * OA, b->obs + (size_t)r * O, sizeof(float) * O);
    memcpy(q->x + (size_t)r * OA + O, b->act + (size_t)r * A, sizeof(float) * A);
  }
  const float log_unif = (float)(A * log(0.5));
  for (int kind = 0; kind < 3; kind++)
    for (int j = 0; j < n; j++) {
      const int blk = kind * n + j; /* sample index 0 .. 3n-1 */
      const float *acts = q->unif + (size_t)j * B * A;
      if (kind == 0) {
        for (int r = 0; r < B; r++)
          q->logq[(size_t)blk * B + r] = log_unif;
      } else { /* pi(.|s) from rows [0, B), pi(.|s') from rows [B, 2B) of the actor output */
        const float *out = aout + (kind == 2 ? (size_t)B * 2 * A : 0);
        const float *e = q->eps + ((size_t)(kind - 1) * n + j) * B * A;
        o2o_tg_sample(out, 2 * A, B, A, lsmin, lsmax, e, q->act_tmp, q->logq + (size_t)blk * B);
        acts = q->act_tmp;
      }
      float *xb = q->x + (size_t)(1 + blk) * B * OA;
      for (int r = 0; r < B; r++) {
        memcpy(xb + (size_t)r * OA, b->obs + (size_t)r * O, sizeof(float) * O);
        memcpy(xb + (size_t)r * OA + O, acts + (size_t)r * A, sizeof(float) * A);
      }
    }
}

/* b: y = r + gamma (1 - d) (max_i min_k Qt_k(s', a'_i) - [backup] alpha log pi(a'_i*|s')) */
static void max_backup(cql *q, const o2o_sac *s, const o2o_batch *b) {
  const int B = q->B, A = q->A, O = q->O, OA = O + A, n = q->n, N = s->cfg.num_critics;
  const float *anext = s->actor_acts->out[s->actor_m.num_layers - 1] + (size_t)B * 2 * A;
  for (int j = 0; j < n; j++) {
    o2o_tg_sample(anext, 2 * A, B, A, s->cfg.log_std_min, s->cfg.log_std_max,
                  q->eps_t + (size_t)j * B * A, q->act_tmp + (size_t)j * B * A,
                  q->logp_tmp + (size_t)j * B);
    for (int r = 0; r < B; r++) {
      float *xr = q->x + ((size_t)j * B + r) * OA;
      memcpy(xr, b->next_obs + (size_t)r * O, sizeof(float) * O);
      memcpy(xr + O, q->act_tmp + ((size_t)j * B + r) * A, sizeof(float) * A);
    }
  }
  o2o_nn_mlp_forward(&s->critic_m, s->target_p, q->x, OA, n * B, q->acts);
  const float *qt = q->acts->out[s->critic_m.num_layers - 1];
  const float ent = s->cfg.backup_entropy ? expf(s->log_alpha[0]) : 0.0f;
  for (int r = 0; r < B; r++) {
    float best = -INFINITY, lp = 0.0f;
    for (int j = 0; j < n; j++) {
      const float *v = qt + ((size_t)j * B + r) * N;
      float m = v[0];
      for (int k = 1; k < N; k++)
        if (v[k] < m || v[k] != v[k]) m = v[k];
      if (m > best || m != m || j == 0) {
        best = m;
        lp = q->logp_tmp[(size_t)j * B + r];
      }
    }
    q->y[r] = b->rew[r] + s->cfg.gamma * (1.0f - b->done[r]) * (best - ent * lp);
  }
}

/* The stacked critic pass over x's R rows (every sample of every state), forward (grads NULL)
 * or backward of dout added into grads, in row blocks of blk: the same products as one pass,
 * but each block's activations stay in cache from layer to layer. */
static void stack_pass(cql *q, const o2o_sac *s, float *grads) {
  const int OA = q->O + q->A, N = s->cfg.num_critics;
  for (int r0 = 0; r0 < q->R; r0 += q->blk) {
    const int rows = q->R - r0 < q->blk ? q->R - r0 : q->blk;
    const float *x = q->x + (size_t)r0 * OA;
    o2o_nn_acts v;
    o2o_nn_acts_view(&s->critic_m, q->acts, r0, rows, &v);
    if (grads)
      o2o_nn_mlp_backward(&s->critic_m, s->critic_p, x, OA, rows, &v, q->dout + (size_t)r0 * N,
                          grads, 0, rows, NULL, 0, 0);
    else
      o2o_nn_mlp_forward(&s->critic_m, s->critic_p, x, OA, rows, &v);
  }
}

static int add_penalty(void *ctx, o2o_sac *s, const o2o_batch *b, char *err, size_t errlen) {
  cql *q = ctx;
  const o2o_cql_config *c = &q->cfg;
  const int B = q->B, A = q->A, n = q->n, N = s->cfg.num_critics;
  const int L = s->critic_m.num_layers;
  if (c->calibrate && !b->mc_return) {
    o2o_agent_errf(err, errlen,
                   "cql: calibration needs the batch's mc_return column (update step %lld)",
                   (long long)s->updates + 1);
    return -1;
  }
  long bad = c->calibrate ? o2o_nn_find_nonfinite(b->mc_return, (size_t)B) : -1;
  if (bad >= 0) {
    o2o_agent_errf(err, errlen,
                   "cql: batch.mc_return row %ld is %g (not finite) at update step %lld", bad,
                   (double)b->mc_return[bad], (long long)s->updates + 1);
    return -1;
  }
  if (!q->reuse) {
    for (size_t i = 0; i < (size_t)n * B * A; i++)
      q->unif[i] = 2.0f * o2o_nn_rng_uniform(&s->rng) - 1.0f;
    o2o_nn_rng_normal(&s->rng, q->eps, 2 * n * B * A);
    if (c->max_target_backup) o2o_nn_rng_normal(&s->rng, q->eps_t, n * B * A);
  }
  if (c->max_target_backup) max_backup(q, s, b); /* before the stack overwrites x and acts */
  build_stack(q, s, b);
  stack_pass(q, s, NULL);
  const float *out = q->acts->out[L - 1];

  const double ap = c->lagrange ? fmin(exp((double)q->log_ap[0]), ALPHA_PRIME_MAX) : 1.0;
  const double wgt = ap * c->alpha_cql;
  const float *bound = c->calibrate ? b->mc_return : NULL;
  double pen = 0.0, diff_sum = 0.0, gap_sum = 0.0, rate = 0.0;
  for (int k = 0; k < N; k++) {
    double rk;
    double d = o2o_cql_penalty(out + k, out + (size_t)B * N + k, N, B, 3 * n, q->logq, bound,
                               c->bound_random ? 0 : n, c->temp, c->clip_diff_min, c->clip_diff_max,
                               q->dout + k, q->dout + (size_t)B * N + k, &rk);
    if (k < 2) q->diff[k] = d;
    diff_sum += d;
    gap_sum += d - (c->lagrange ? c->target_gap : 0.0);
    rate += rk / N;
    pen += wgt * (d - (c->lagrange ? c->target_gap : 0.0));
  }
  for (size_t i = 0; i < (size_t)q->R * N; i++)
    q->dout[i] = (float)(wgt * q->dout[i]);

  /* TD loss of SAC's forward (data rows B..2B of its critic pass); with the max backup, its
   * gradient moves from SAC's target to ours through this stack's data rows */
  const float *qd = s->critic_acts->out[L - 1] + (size_t)B * N;
  const float *y = c->max_target_backup ? q->y : s->y;
  double td = 0.0, qsum = 0.0;
  for (int r = 0; r < B; r++) {
    const double w = b->weight ? b->weight[r] : 1.0;
    for (int k = 0; k < N; k++) {
      double e = (double)qd[(size_t)r * N + k] - y[r];
      td += w * e * e / B;
      qsum += qd[(size_t)r * N + k];
      if (c->max_target_backup)
        q->dout[(size_t)r * N + k] += (float)(2.0 * w * (s->y[r] - y[r]) / B);
    }
  }
  q->td = td;
  q->penalty = pen;
  q->diff_mean = diff_sum / N;
  q->bound_rate = rate;
  q->alpha_prime = ap;
  q->q_data = qsum / ((double)B * N);
  /* Lagrange: alpha' ascends on alpha' alpha_cql (diff - gap): loss -mean_k, d/dlog alpha' */
  q->log_ap_g[0] = c->lagrange && exp((double)q->log_ap[0]) < ALPHA_PRIME_MAX
                       ? (float)(-wgt * gap_sum / N)
                       : 0.0f;
  if (!isfinite(pen) || !isfinite(td) || !isfinite(q->log_ap_g[0])) {
    o2o_agent_errf(err, errlen,
                   "cql: loss not finite at update step %lld: TD %g, penalty %g (mean difference "
                   "%g, alpha' %g)",
                   (long long)s->updates + 1, td, pen, q->diff_mean, ap);
    return -1;
  }
  stack_pass(q, s, s->critic_g);
  return 0;
}

static int cql_update(void *self, const o2o_batch *b, o2o_learner_stats *st, char *err,
                      size_t errlen) {
  cql *q = self;
  o2o_sac_stats ss;
  q->reuse = 0;
  if (o2o_sac_update_with(q->sac, b, &ss, add_penalty, q, err, errlen)) return -1;
  if (q->cfg.lagrange) o2o_nn_adam_step(&q->ap_opt, q->log_ap, q->log_ap_g);
  if (!st) return 0;
  o2o_learner_stats_set(st, "critic_loss", q->td + q->penalty);
  o2o_learner_stats_set(st, "td_loss", q->td);
  o2o_learner_stats_set(st, "cql_penalty", q->penalty);
  o2o_learner_stats_set(st, "cql_diff", q->diff_mean);
  o2o_learner_stats_set(st, "actor_loss", ss.actor_loss);
  o2o_learner_stats_set(st, "alpha_loss", ss.alpha_loss);
  o2o_learner_stats_set(st, "alpha", ss.alpha);
  o2o_learner_stats_set(st, "q_mean", q->q_data);
  o2o_learner_stats_set(st, "log_pi_mean", ss.log_pi_mean);
  if (q->cfg.lagrange) o2o_learner_stats_set(st, "alpha_prime", q->alpha_prime);
  if (q->cfg.calibrate) o2o_learner_stats_set(st, "calql_bound_rate", q->bound_rate);
  return 0;
}

/* SAC's tensors and log alpha' with its Adam state */
static int cql_tensors(void *self, const o2o_tensor_ref **out) {
  cql *q = self;
  const o2o_tensor_ref *ts;
  int ns = o2o_sac_tensors(q->sac, &ts);
  if (!q->tensors) {
    q->tensors = calloc((size_t)ns + 4, sizeof(o2o_tensor_ref));
    if (!q->tensors) {
      *out = ts;
      return ns;
    }
    memcpy(q->tensors, ts, sizeof(o2o_tensor_ref) * (size_t)ns);
    static const char *names[4] = {"cql.log_alpha_prime", "cql.log_alpha_prime.adam_m",
                                   "cql.log_alpha_prime.adam_v", "cql.log_alpha_prime.adam_step"};
    float *data[4] = {q->log_ap, q->ap_opt.m, q->ap_opt.v, q->mirror};
    for (int i = 0; i < 4; i++) {
      o2o_tensor_ref *t = &q->tensors[ns + i];
      snprintf(t->name, sizeof t->name, "%s", names[i]);
      t->data = data[i];
      t->ndim = 1;
      t->shape[0] = i == 3 ? 2 : 1;
    }
    q->num_tensors = ns + 4;
  }
  o2o_nn_pack_count(q->mirror, q->ap_opt.t);
  *out = q->tensors;
  return q->num_tensors;
}

static int cql_tensors_loaded(void *self, char *err, size_t errlen) {
  cql *q = self;
  int64_t t;
  if (o2o_sac_tensors_loaded(q->sac, err, errlen)) return -1;
  if (o2o_nn_unpack_count(q->mirror, &t)) {
    o2o_agent_errf(err, errlen, "tensor cql.log_alpha_prime.adam_step does not hold a counter");
    return -1;
  }
  if (!isfinite(q->log_ap[0])) {
    o2o_agent_errf(err, errlen, "tensor cql.log_alpha_prime is %g", (double)q->log_ap[0]);
    return -1;
  }
  q->ap_opt.t = t;
  return 0;
}

/* A live learner takes new CQL settings (alpha_cql, calibrate for the online phase, ...); the
 * shapes (SAC's settings, n_actions) are fixed at create. */
static int cql_config_changed(void *self, const void *cfgp, char *err, size_t errlen) {
  cql *q = self;
  const o2o_cql_config *c = cfgp;
  if (memcmp(&c->sac, &q->cfg.sac, sizeof c->sac) || c->n_actions != q->cfg.n_actions) {
    o2o_agent_errf(err, errlen,
                   "cql: SAC's settings and n_actions are fixed once the learner exists (change "
                   "alpha_cql, temp, clips, max_target_backup, lagrange, target_gap, calibrate)");
    return -1;
  }
  q->cfg = *c;
  return 0;
}

static void cfg_default_cql(void *cfg) {
  o2o_cql_config_default(cfg);
}
static void cfg_default_calql(void *cfg) {
  o2o_calql_config_default(cfg);
}

#define CQL_ALGO_COMMON                                                                            \
  .offline = 1, .config_size = sizeof(o2o_cql_config), .fields = cql_fields,                       \
  .num_fields = (int)(sizeof cql_fields / sizeof cql_fields[0]), .config_check = cfg_check,        \
  .batch_size = cfg_batch, .create = cql_create, .destroy = cql_destroy, .act = cql_act,           \
  .update = cql_update, .tensors = cql_tensors, .tensors_loaded = cql_tensors_loaded,              \
  .config_changed = cql_config_changed

const o2o_learner_algo o2o_algo_cql = {
    .name = "cql",
    .summary = "CQL: SAC with the importance-sampled conservative penalty (Kumar et al. 2020)",
    .config_default = cfg_default_cql,
    .columns = 0,
    CQL_ALGO_COMMON,
};

const o2o_learner_algo o2o_algo_calql = {
    .name = "calql",
    .summary = "Cal-QL: CQL with policy Q bounded below by Monte-Carlo returns (Nakamoto et al. "
               "2023)",
    .config_default = cfg_default_calql,
    .columns = O2O_COLUMN_MC_RETURN,
    CQL_ALGO_COMMON,
};

/* ---- tests ---- */
o2o_sac *o2o_cql_test_sac(void *self) {
  return ((cql *)self)->sac;
}

double o2o_cql_test_critic_loss(void *self, const o2o_batch *b, int first, char *err,
                                size_t errlen) {
  cql *q = self;
  q->sac->reuse_noise = !first;
  q->reuse = !first;
  if (o2o_sac_compute_grads(q->sac, b, NULL, err, errlen)) return NAN;
  if (add_penalty(q, q->sac, b, err, errlen)) return NAN;
  return q->td + q->penalty;
}

void o2o_cql_test_set_block_rows(void *self, int rows) {
  cql *q = self;
  q->blk = rows < 1 ? 1 : rows > q->R ? q->R : rows;
}

float *o2o_cql_test_uniform(void *self) {
  return ((cql *)self)->unif;
}
float *o2o_cql_test_eps(void *self) {
  return ((cql *)self)->eps;
}

void o2o_cql_test_losses(void *self, double *td, double *penalty, double *diff0, double *diff1) {
  cql *q = self;
  *td = q->td;
  *penalty = q->penalty;
  *diff0 = q->diff[0];
  *diff1 = q->diff[1];
}
