/* h2o.c: H2O (and DARC's reward correction) on SAC's update (h2o.h).
 *
 * One update:
 *   1. split the batch by is_real into the Q batch [real_batch real; sim_batch sim] and the
 *      discriminator's disc_batch real + disc_batch sim rows; one discriminator step
 *   2. log w of the Q batch's sim rows; H2O: row weights 2 on real rows and 2 clip(w) on sim
 *      rows (SAC's weighted mean over the 2 halves = mean_real + mean_sim w); DARC: r += log w
 *   3. u of the sim rows -> log omega (double)
 *   4. o2o_sac_update_with: SAC's gradients, then the penalty's gradient through a second
 *      critic backward on the same forward (rows of the Q batch's (s, a)), then the step. */
#include "learn/h2o.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learn/discriminator.h"
#include "learn/h2o_terms.h"
#include "learn/sac_internal.h"
#include "nn/nn.h"
#include "replay/replay.h"

typedef struct h2o {
  o2o_h2o_config cfg;
  int obs_dim, act_dim;
  o2o_sac *sac;
  o2o_disc *disc;
  o2o_batch q, dreal, dsim; /* the Q batch and the discriminator halves (own storage) */
  float *weight;            /* [Q rows] */
  float *log_w;             /* [sim_batch] */
  double *u, *log_omega;    /* [sim_batch] */
  float *dout;              /* [2 Q rows][num_critics] penalty gradient at the critic outputs */
  float *g_sim, *g_real;    /* [sim_batch], [real_batch] dP/dQ of one critic */
  float *state_std;         /* [obs_dim] the real dataset's (tensor h2o.state_std) */
  int have_std;
  int64_t updates;
  double penalty, penalty_diff; /* of the last update, summed / averaged over critics */
  o2o_disc_stats ds;            /* the last discriminator step */
  double sqrt_w, lw_mean, u_mean, u_std, omega_std; /* of the last update's sim rows */
  float *std_scaled;                                /* [obs_dim] u_std_ratio * state_std */
  o2o_tensor_ref *tensors;
  int num_tensors;
  float mirror[2]; /* updates */
} h2o;

void o2o_h2o_config_default(o2o_h2o_config *c) {
  memset(c, 0, sizeof *c);
  o2o_sac_config_default(&c->sac);
  c->sac.backup_entropy = 0;      /* H2O's target has no entropy term */
  c->sac.last_layer_gain = 1e-2f; /* the SimpleSAC family's last-layer init */
  c->sac.start_steps = 0;         /* no random warm-up: the first sim steps come from the policy */
  c->real_batch = c->sim_batch = 128;
  c->sac.batch_size = 256;
  c->beta = 0.01f;
  c->temp = 1.0f;
  c->penalty_clip = 1000.0f;
  c->w_min = 1e-5f;
  c->w_max = 1.0f;
  c->u_max = 10.0f;
  c->u_std_ratio = 1.0f;
  c->gap_samples = 10;
  c->disc_hidden = 256;
  c->disc_batch = 256;
  c->disc_lr = 3e-4f;
  c->disc_noise = 0.1f;
  c->darc = 0;
  c->darc_warmup = 0;
}

#define SACF(m, kind, lo, hi, text)                                                                \
  {#m, O2O_FIELD_##kind, offsetof(o2o_h2o_config, sac) + offsetof(o2o_sac_config, m), text, lo, hi},
#define F(m, kind, lo, hi, text) {#m, O2O_FIELD_##kind, offsetof(o2o_h2o_config, m), text, lo, hi},
static const o2o_learner_field h2o_fields[] = {
    O2O_SAC_FIELDS(SACF) F(real_batch, INT, 1, 1 << 16, "real rows per Q batch") F(
        sim_batch, INT, 1, 1 << 16, "sim rows per Q batch") F(beta, FLOAT, 0, 1e6,
                                                              "weight of the gap penalty")
        F(temp, FLOAT, 1e-6, 1e6, "temperature of the penalty's logsumexp") F(
            penalty_clip, FLOAT, 0, 1e9,
            "clip of the penalty's difference") F(w_min, FLOAT, 0, 1, "dynamics ratio clip, low")
            F(w_max, FLOAT, 1e-12, 1e6, "dynamics ratio clip, high") F(u_max, FLOAT, 1e-6, 1e6,
                                                                       "gap weight ceiling")
                F(u_std_ratio, FLOAT, 0, 1e3, "s' perturbation for the gap weight, in dataset stds")
                    F(gap_samples, INT, 1, 512, "perturbed next states per row for the gap weight")
                        F(disc_hidden, INT, 1, 65536, "discriminator units per hidden layer")
                            F(disc_batch, INT, 1, 1 << 16,
                              "real (and sim) rows per discriminator step")
                                F(disc_lr, FLOAT, 1e-12, 1, "discriminator learning rate")
                                    F(disc_noise, FLOAT, 0, 1e3,
                                      "discriminator input noise std (training only)")
                                        F(darc, INT, 0, 1,
                                          "DARC reward correction instead of H2O's weights and "
                                          "penalty (0/1)")
                                            F(darc_warmup, INT, 0, 1 << 30,
                                              "DARC: updates before the reward correction starts")};
#undef F
#undef SACF

static int cfg_check(const void *cfgp, int obs_dim, int act_dim, char *err, size_t errlen) {
  const o2o_h2o_config *c = cfgp;
  if (c->sac.batch_size != c->real_batch + c->sim_batch) {
    o2o_agent_errf(err, errlen, "h2o: --batch-size %d must be --real-batch %d + --sim-batch %d",
                   c->sac.batch_size, c->real_batch, c->sim_batch);
    return -1;
  }
  if (!(c->w_min <= c->w_max)) {
    o2o_agent_errf(err, errlen, "h2o: --w-min %g above --w-max %g", (double)c->w_min,
                   (double)c->w_max);
    return -1;
  }
  if (c->gap_samples > 2 * c->disc_batch) {
    o2o_agent_errf(err, errlen, "h2o: --gap-samples %d above 2 x --disc-batch %d", c->gap_samples,
                   c->disc_batch);
    return -1;
  }
  return o2o_sac_config_check(&c->sac, obs_dim, act_dim, err, errlen);
}

static int cfg_batch(const void *cfgp) {
  const o2o_h2o_config *c = cfgp;
  return c->real_batch + c->sim_batch + 2 * c->disc_batch;
}

static double cfg_real_fraction(const void *cfgp) {
  const o2o_h2o_config *c = cfgp;
  return (double)(c->real_batch + c->disc_batch) / cfg_batch(c);
}

static int alloc_batch(o2o_batch *b, int rows, int O, int A) {
  return o2o_replay_batch_alloc(b, rows, O, A, 0);
}

static void h2o_destroy(void *self) {
  h2o *h = self;
  if (!h) return;
  o2o_sac_destroy(h->sac);
  o2o_disc_destroy(h->disc);
  o2o_replay_batch_free(&h->q);
  o2o_replay_batch_free(&h->dreal);
  o2o_replay_batch_free(&h->dsim);
  free(h->weight);
  free(h->log_w);
  free(h->u);
  free(h->log_omega);
  free(h->dout);
  free(h->state_std);
  free(h->std_scaled);
  free(h->g_sim);
  free(h->g_real);
  free(h->tensors);
  free(h);
}

static void *h2o_create(int obs_dim, int act_dim, const void *cfgp, uint64_t seed, char *err,
                        size_t errlen) {
  const o2o_h2o_config *c = cfgp;
  h2o *h = calloc(1, sizeof *h);
  if (!h) goto oom;
  h->cfg = *c;
  h->obs_dim = obs_dim;
  h->act_dim = act_dim;
  o2o_disc_config dc;
  o2o_disc_config_default(&dc);
  dc.hidden = c->disc_hidden;
  dc.batch_size = c->disc_batch;
  dc.lr = c->disc_lr;
  dc.noise = c->disc_noise;
  dc.gap_samples = c->gap_samples;
  /* separate streams for the agent and the discriminators, both from the seed */
  if (!(h->disc =
            o2o_disc_create(obs_dim, act_dim, &dc, seed ^ 0x68326f5f64697363ULL, err, errlen)))
    goto fail;
  if (!(h->sac = o2o_sac_create(obs_dim, act_dim, &c->sac, seed))) goto oom;
  const int Q = c->real_batch + c->sim_batch, N = c->sac.num_critics;
  if (alloc_batch(&h->q, Q, obs_dim, act_dim) ||
      alloc_batch(&h->dreal, c->disc_batch, obs_dim, act_dim) ||
      alloc_batch(&h->dsim, c->disc_batch, obs_dim, act_dim))
    goto oom;
  h->weight = malloc(sizeof(float) * (size_t)Q);
  h->log_w = malloc(sizeof(float) * (size_t)c->sim_batch);
  h->u = malloc(sizeof(double) * (size_t)c->sim_batch);
  h->log_omega = malloc(sizeof(double) * (size_t)c->sim_batch);
  h->dout = calloc((size_t)2 * Q * N, sizeof(float));
  h->state_std = calloc((size_t)obs_dim, sizeof(float));
  h->std_scaled = calloc((size_t)obs_dim, sizeof(float));
  h->g_sim = malloc(sizeof(float) * (size_t)c->sim_batch);
  h->g_real = malloc(sizeof(float) * (size_t)c->real_batch);
  if (!h->weight || !h->log_w || !h->u || !h->log_omega || !h->dout || !h->state_std ||
      !h->std_scaled || !h->g_sim || !h->g_real)
    goto oom;
  h->q.weight = h->weight;
  return h;
oom:
  o2o_agent_errf(err, errlen, "h2o: out of memory");
fail:
  h2o_destroy(h);
  return NULL;
}

static void h2o_act(void *self, const float *obs, int n, int deterministic, float *actions) {
  o2o_sac_act(((h2o *)self)->sac, obs, n, deterministic, actions);
}

/* copy row r of src into row i of dst */
static void copy_row(o2o_batch *dst, int i, const o2o_batch *src, int r) {
  const int O = src->obs_dim, A = src->act_dim;
  memcpy(dst->obs + (size_t)i * O, src->obs + (size_t)r * O, sizeof(float) * O);
  memcpy(dst->next_obs + (size_t)i * O, src->next_obs + (size_t)r * O, sizeof(float) * O);
  memcpy(dst->act + (size_t)i * A, src->act + (size_t)r * A, sizeof(float) * A);
  dst->rew[i] = src->rew[r];
  dst->done[i] = src->done[r];
}

/* The penalty's gradient through a second critic backward on SAC's forward of this update:
 * rows [B, 2B) of x_critic are the Q batch's (s, a), real rows first. */
static int add_penalty(void *ctx, o2o_sac *s, const o2o_batch *b, char *err, size_t errlen) {
  h2o *h = ctx;
  const int B = b->size, N = s->cfg.num_critics, R = h->cfg.real_batch, S = h->cfg.sim_batch;
  const int OA = s->obs_dim + s->act_dim;
  const float *q = s->critic_acts->out[s->critic_m.num_layers - 1] + (size_t)B * N;
  float *d = h->dout + (size_t)B * N; /* rows [0, B) (policy rows) stay 0 */
  float *gsim = h->g_sim, *greal = h->g_real;
  double total = 0.0, diff_sum = 0.0;
  for (int k = 0; k < N; k++) {
    double diff;
    total += o2o_h2o_penalty(q + (size_t)R * N + k, N, S, q + k, N, R, h->log_omega, h->cfg.temp,
                             h->cfg.penalty_clip, &diff, gsim, greal);
    diff_sum += diff;
    for (int j = 0; j < R; j++)
      d[(size_t)j * N + k] = h->cfg.beta * greal[j];
    for (int i = 0; i < S; i++)
      d[(size_t)(R + i) * N + k] = h->cfg.beta * gsim[i];
  }
  h->penalty = h->cfg.beta * total;
  h->penalty_diff = diff_sum / N;
  if (!isfinite(h->penalty)) {
    o2o_agent_errf(err, errlen, "h2o: gap penalty is not finite (difference %g) at update %lld",
                   h->penalty_diff, (long long)h->updates + 1);
    return -1;
  }
  o2o_nn_mlp_backward(&s->critic_m, s->critic_p, s->x_critic, OA, 2 * B, s->critic_acts, h->dout,
                      s->critic_g, B, B, NULL, 0, 0);
  return 0;
}

/* Steps 1-3 of an update: split the batch, [train the discriminators], weights and omega. */
static int prepare(h2o *h, const o2o_batch *b, int train_disc, char *err, size_t errlen) {
  const o2o_h2o_config *c = &h->cfg;
  const int R = c->real_batch, S = c->sim_batch, D = c->disc_batch;
  if (!h->have_std && !c->darc) {
    o2o_agent_errf(err, errlen,
                   "h2o: no state std of the real dataset was given (o2o_learner_set_data_stats); "
                   "the gap weight perturbs s' by it");
    return -1;
  }
  /* 1. split by is_real */
  int nr = 0, ns = 0;
  for (int r = 0; r < b->size; r++) {
    if (b->is_real[r]) {
      if (nr < R)
        copy_row(&h->q, nr, b, r);
      else if (nr < R + D)
        copy_row(&h->dreal, nr - R, b, r);
      nr++;
    } else {
      if (ns < S)
        copy_row(&h->q, R + ns, b, r);
      else if (ns < S + D)
        copy_row(&h->dsim, ns - S, b, r);
      ns++;
    }
  }
  if (nr != R + D || ns != S + D) {
    o2o_agent_errf(err, errlen,
                   "h2o: the batch holds %d real and %d sim rows; it needs %d and %d (real %d + "
                   "discriminator %d, sim %d + discriminator %d)",
                   nr, ns, R + D, S + D, R, D, S, D);
    return -1;
  }
  /* (the discriminators step first, as in the official code; a later refusal leaves that step) */
  if (train_disc && o2o_disc_train(h->disc, &h->dreal, &h->dsim, &h->ds, err, errlen)) return -1;
  /* 2. dynamics ratio of the Q batch's sim rows */
  const float *so = h->q.obs + (size_t)R * h->obs_dim, *sa = h->q.act + (size_t)R * h->act_dim;
  const float *sn = h->q.next_obs + (size_t)R * h->obs_dim;
  o2o_disc_log_ratio(h->disc, so, sa, sn, S, h->log_w);
  const int darc_on = c->darc && h->updates >= c->darc_warmup;
  h->sqrt_w = h->lw_mean = 0.0;
  for (int j = 0; j < R; j++)
    h->weight[j] = c->darc ? 1.0f : 2.0f; /* x2: SAC's mean over 2 halves -> mean per half */
  for (int i = 0; i < S; i++) {
    double w = exp((double)h->log_w[i]);
    w = w < c->w_min ? c->w_min : w > c->w_max ? c->w_max : w;
    h->sqrt_w += sqrt(w) / S;
    h->lw_mean += h->log_w[i] / S;
    h->weight[R + i] = c->darc ? 1.0f : (float)(2.0 * w);
    if (darc_on) h->q.rew[R + i] += h->log_w[i];
  }
  /* 3. gap weight u and omega */
  h->u_mean = h->u_std = h->omega_std = 0.0;
  if (c->darc) return 0;
  for (int j = 0; j < h->obs_dim; j++)
    h->std_scaled[j] = c->u_std_ratio * h->state_std[j];
  o2o_disc_gap(h->disc, so, sa, sn, S, h->std_scaled, h->u);
  for (int i = 0; i < S; i++) {
    if (h->u[i] > c->u_max) h->u[i] = c->u_max;
    h->u_mean += h->u[i] / S;
  }
  o2o_h2o_log_omega(h->u, S, h->log_omega);
  double u_var = 0.0, om_mean = 0.0, om_sq = 0.0;
  for (int i = 0; i < S; i++) {
    u_var += (h->u[i] - h->u_mean) * (h->u[i] - h->u_mean) / S;
    double om = exp(h->log_omega[i]);
    om_mean += om / S;
    om_sq += om * om / S;
  }
  h->u_std = sqrt(u_var);
  h->omega_std = om_sq > om_mean * om_mean ? sqrt(om_sq - om_mean * om_mean) : 0.0;
  return 0;
}

static int h2o_update(void *self, const o2o_batch *b, o2o_learner_stats *st, char *err,
                      size_t errlen) {
  h2o *h = self;
  const o2o_h2o_config *c = &h->cfg;
  if (prepare(h, b, 1, err, errlen)) return -1;
  /* 4. SAC with the weighted TD error, plus the penalty */
  o2o_sac_stats ss;
  h->penalty = h->penalty_diff = 0.0;
  if (o2o_sac_update_with(h->sac, &h->q, &ss, c->darc || c->beta == 0.0f ? NULL : add_penalty, h,
                          err, errlen))
    return -1;
  h->updates++;
  if (!st) return 0;
  const int R = c->real_batch, S = c->sim_batch;
  double q_real = 0.0, q_sim = 0.0;
  const o2o_sac *s = h->sac;
  const int N = s->cfg.num_critics, B = R + S;
  const float *q = s->critic_acts->out[s->critic_m.num_layers - 1] + (size_t)B * N;
  for (int r = 0; r < B; r++)
    for (int k = 0; k < N; k++)
      *(r < R ? &q_real : &q_sim) += q[(size_t)r * N + k] / ((r < R ? R : S) * (double)N);
  o2o_learner_stats_set(st, "critic_loss", ss.critic_loss + h->penalty);
  o2o_learner_stats_set(st, "actor_loss", ss.actor_loss);
  o2o_learner_stats_set(st, "alpha_loss", ss.alpha_loss);
  o2o_learner_stats_set(st, "alpha", ss.alpha);
  o2o_learner_stats_set(st, "log_pi_mean", ss.log_pi_mean);
  o2o_learner_stats_set(st, "q_mean", 0.5 * (q_real + q_sim));
  o2o_learner_stats_set(st, "q_real", q_real);
  o2o_learner_stats_set(st, "q_sim", q_sim);
  o2o_learner_stats_set(st, "disc_sa_loss", h->ds.loss_sa);
  o2o_learner_stats_set(st, "disc_sas_loss", h->ds.loss_sas);
  o2o_learner_stats_set(st, "disc_sas_acc", h->ds.acc_sas);
  o2o_learner_stats_set(st, "sqrt_is_ratio", h->sqrt_w);
  o2o_learner_stats_set(st, "log_w_mean", h->lw_mean);
  o2o_learner_stats_set(st, "u_mean", h->u_mean);
  o2o_learner_stats_set(st, "u_std", h->u_std);
  o2o_learner_stats_set(st, "omega_std", h->omega_std);
  o2o_learner_stats_set(st, "penalty_diff", h->penalty_diff);
  return 0;
}

double o2o_h2o_test_critic_loss(void *self, const o2o_batch *b, int first, char *err,
                                size_t errlen) {
  h2o *h = self;
  o2o_disc_test_freeze(h->disc, 1);
  if (prepare(h, b, 0, err, errlen)) return NAN;
  h->sac->reuse_noise = !first;
  if (o2o_sac_compute_grads(h->sac, &h->q, NULL, err, errlen)) return NAN;
  h->penalty = 0.0;
  if (!h->cfg.darc && add_penalty(h, h->sac, &h->q, err, errlen)) return NAN;
  return h->sac->loss[0] + h->penalty;
}

o2o_sac *o2o_h2o_test_sac(void *self) {
  return ((h2o *)self)->sac;
}

const float *o2o_h2o_test_weights(void *self) {
  return ((h2o *)self)->weight;
}

static int h2o_set_data_stats(void *self, const float *mean, const float *std, char *err,
                              size_t errlen) {
  (void)mean;
  h2o *h = self;
  for (int j = 0; j < h->obs_dim; j++)
    if (!isfinite(std[j]) || std[j] < 0.0f) {
      o2o_agent_errf(err, errlen, "h2o: dataset state std of dimension %d is %g", j,
                     (double)std[j]);
      return -1;
    }
  memcpy(h->state_std, std, sizeof(float) * h->obs_dim);
  h->have_std = 1;
  return 0;
}

/* SAC's tensors, the discriminators', the state std and the update counter */
static int h2o_tensors(void *self, const o2o_tensor_ref **out) {
  h2o *h = self;
  const o2o_tensor_ref *ts, *td;
  int ns = o2o_sac_tensors(h->sac, &ts), nd = o2o_disc_tensors(h->disc, &td);
  if (!h->tensors) {
    h->tensors = malloc(sizeof(o2o_tensor_ref) * (size_t)(ns + nd + 2));
    if (!h->tensors) {
      *out = ts;
      return ns;
    }
    memcpy(h->tensors, ts, sizeof(o2o_tensor_ref) * (size_t)ns);
    memcpy(h->tensors + ns, td, sizeof(o2o_tensor_ref) * (size_t)nd);
    o2o_tensor_ref *t = &h->tensors[ns + nd];
    memset(t, 0, 2 * sizeof *t);
    snprintf(t[0].name, sizeof t[0].name, "h2o.state_std");
    t[0].data = h->state_std;
    t[0].ndim = 1;
    t[0].shape[0] = h->obs_dim;
    snprintf(t[1].name, sizeof t[1].name, "h2o.updates");
    t[1].data = h->mirror;
    t[1].ndim = 1;
    t[1].shape[0] = 2;
    h->num_tensors = ns + nd + 2;
  }
  o2o_nn_pack_count(h->mirror, h->updates);
  *out = h->tensors;
  return h->num_tensors;
}

static int h2o_tensors_loaded(void *self, char *err, size_t errlen) {
  h2o *h = self;
  int64_t u;
  if (o2o_sac_tensors_loaded(h->sac, err, errlen) || o2o_disc_tensors_loaded(h->disc, err, errlen))
    return -1;
  if (o2o_nn_unpack_count(h->mirror, &u)) {
    o2o_agent_errf(err, errlen, "tensor h2o.updates does not hold a counter");
    return -1;
  }
  h->updates = u;
  for (int j = 0; j < h->obs_dim; j++)
    h->have_std |= h->state_std[j] > 0.0f;
  return 0;
}

static void cfg_default(void *cfg) {
  o2o_h2o_config_default(cfg);
}

const o2o_learner_algo o2o_algo_h2o = {
    .name = "h2o",
    .summary = "H2O: SAC on real + sim data with a dynamics-gap penalty (Niu et al. 2022)",
    .offline = 0,
    .config_size = sizeof(o2o_h2o_config),
    .config_default = cfg_default,
    .fields = h2o_fields,
    .num_fields = (int)(sizeof h2o_fields / sizeof h2o_fields[0]),
    .config_check = cfg_check,
    .batch_size = cfg_batch,
    .columns = O2O_COLUMN_IS_REAL,
    .create = h2o_create,
    .destroy = h2o_destroy,
    .act = h2o_act,
    .update = h2o_update,
    .tensors = h2o_tensors,
    .tensors_loaded = h2o_tensors_loaded,
    .real_fraction = cfg_real_fraction,
    .set_data_stats = h2o_set_data_stats,
};

int o2o_h2o_log_ratio(o2o_learner *l, const float *obs, const float *act, const float *next_obs,
                      int n, float *log_w, char *err, size_t errlen) {
  if (o2o_learner_algo_of(l) != &o2o_algo_h2o) {
    o2o_agent_errf(err, errlen, "a %s learner has no discriminators (h2o has)",
                   o2o_learner_algo_of(l)->name);
    return -1;
  }
  h2o *h = o2o_learner_impl(l);
  const float *mean = o2o_learner_obs_mean(l), *std = o2o_learner_obs_std(l);
  if (!mean) {
    o2o_disc_log_ratio(h->disc, obs, act, next_obs, n, log_w);
    return 0;
  }
  const int O = h->obs_dim;
  float *no = malloc(sizeof(float) * (size_t)n * O), *nn = malloc(sizeof(float) * (size_t)n * O);
  if (!no || !nn) {
    free(no);
    free(nn);
    o2o_agent_errf(err, errlen, "h2o: out of memory");
    return -1;
  }
  for (size_t i = 0; i < (size_t)n * O; i++) {
    no[i] = (obs[i] - mean[i % O]) / std[i % O];
    nn[i] = (next_obs[i] - mean[i % O]) / std[i % O];
  }
  o2o_disc_log_ratio(h->disc, no, act, nn, n, log_w);
  free(no);
  free(nn);
  return 0;
}
