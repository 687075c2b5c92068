/* h2o.h: H2O, dynamics-aware hybrid offline-and-online RL (Niu et al., NeurIPS 2022, "When to
 * Trust Your Simulator"; official code t6-thu/H2O SimpleSAC/sim2real_sac.py), and DARC's
 * reward correction (Eysenbach et al., ICLR 2021) as an option of the same code.
 *
 * SAC (no entropy in the target) on mixed batches of real (dataset) and sim (o2o-sim) rows:
 *   1. discriminators (discriminator.h): one step on a fresh disc_batch real + disc_batch sim
 *   2. w = exp(log w) on the sim rows of the Q batch, clipped to [w_min, w_max]; the TD error
 *      of critic k is mean_real (Q_k - y)^2 + mean_sim w (Q_k - y)^2
 *   3. u over gap_samples perturbed next states (s' + u_std_ratio * dataset std (.) eps),
 *      clamped to [1e-45, u_max]; omega = u / sum_sim u (log omega in double)
 *   4. penalty beta * sum_k clip(T LSE_sim((Q_k + log omega) / T) - mean_real Q_k, +-clip) on the
 *      sim rows' buffer actions, added into the critic gradients (h2o_terms.h)
 *   5. actor and temperature on all real + sim states of the Q batch (SAC's own losses).
 * The state std for u is the real DATASET's (as D2C, the authors' second implementation, and
 * the paper's "std of s'"), not the official code's std over a mostly empty buffer array.
 *
 * DARC mode (darc = 1): no weights and no penalty; after darc_warmup updates the sim rows'
 * rewards get delta_r = log w (unclipped; bounded by the 2 tanh logits to [-4, 4]).
 *
 * A batch of real_batch + sim_batch + 2 disc_batch rows, real rows marked by is_real: the
 * first real_batch real and sim_batch sim rows are the Q batch, the next disc_batch of each the
 * discriminator's (o2o_learner_real_fraction = 0.5 with the defaults). */
#pragma once
#include "learn/learner.h"
#include "learn/sac.h"

typedef struct o2o_h2o_config {
  o2o_sac_config sac; /* backup_entropy 0, last_layer_gain 1e-2, batch_size = real + sim */
  int real_batch;     /* real rows of the Q batch, default 128 */
  int sim_batch;      /* sim rows of the Q batch, default 128 */
  float beta;         /* penalty weight (cql_min_q_weight), default 0.01 */
  float temp;         /* penalty logsumexp temperature, default 1 */
  float penalty_clip; /* |LSE - mean_real Q| clip, default 1000 */
  float w_min, w_max; /* dynamics-ratio clip, default [1e-5, 1] */
  float u_max;        /* gap weight ceiling, default 10 */
  float u_std_ratio;  /* s' perturbation in dataset stds, default 1 */
  int gap_samples;    /* perturbed s' per row for u, default 10 */
  int disc_hidden;    /* discriminator units per hidden layer, default 256 */
  int disc_batch;     /* real (and sim) rows per discriminator step, default 256 */
  float disc_lr;      /* default 3e-4 */
  float disc_noise;   /* discriminator input noise std in training, default 0.1 */
  int darc;           /* 1: DARC's reward correction instead of weights + penalty, default 0 */
  int darc_warmup;    /* DARC: updates before delta_r is applied, default 0 */
} o2o_h2o_config;

void o2o_h2o_config_default(o2o_h2o_config *cfg);

extern const o2o_learner_algo o2o_algo_h2o;

/* log w = log P_real(s'|s,a) / P_sim(s'|s,a) of an H2O learner's discriminators for n raw
 * transitions (the learner's observation normalisation applied). -1 + err when l is not an
 * H2O learner. */
int o2o_h2o_log_ratio(o2o_learner *l, const float *obs, const float *act, const float *next_obs,
                      int n, float *log_w, char *err, size_t errlen);

/* For tests (self = what o2o_algo_h2o.create returned): the critic loss of batch b, weighted
 * TD error + penalty, with its gradient left in the SAC critic's gradient buffer; no step, no
 * discriminator training; SAC's noise is drawn when first != 0 and reused otherwise. */
struct o2o_sac;
double o2o_h2o_test_critic_loss(void *self, const o2o_batch *b, int first, char *err,
                                size_t errlen);
struct o2o_sac *o2o_h2o_test_sac(void *self);
/* The row weights of the Q batch after the last update or test call: [real_batch real rows,
 * sim_batch sim rows] (2 and 2 clip(w), so SAC's mean over both halves is mean_real +
 * mean_sim w). */
const float *o2o_h2o_test_weights(void *self);
