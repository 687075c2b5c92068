/* discriminator.h: the pair of domain classifiers that estimate the dynamics gap between a
 * real dataset and a simulator (H2O: Niu et al. 2022, official code t6-thu/H2O
 * Network/Weight_net.py and sim2real_sac.py; the same estimator as DARC, Eysenbach et al. 2021).
 *
 *   D_sa  : (s, a)     -> 256 -> ReLU -> 256 -> ReLU -> 2, output 2 tanh(z)   (logits l_sa)
 *   D_sas : (s, a, s') -> 256 -> ReLU -> 256 -> ReLU -> 2, output 2 tanh(z)   (l_sas = D_sas +
 * l_sa) Class 0 = real, class 1 = sim (H2O's order; DARC's TensorFlow code uses the opposite).
 *
 * Training (o2o_disc_train, one Adam step per network): a fresh batch of real rows and the same
 * number of sim rows, N(0, noise^2) added to every input coordinate (raw units), losses
 *   L_sa  = mean_i [ -log p_sa(real_i)[0]  - log p_sa(sim_i)[1] ]
 *   L_sas = mean_i [ -log p_sas(real_i)[0] - log p_sas(sim_i)[1] ]
 * D_sas gets grad L_sas; D_sa gets grad L_sa + grad L_sas (l_sas contains l_sa).
 *
 * Estimates (no noise, no gradient):
 *   log w(s,a,s') = log P_real(s'|s,a) / P_sim(s'|s,a)
 *                 = log p_sas[0] - log p_sas[1] - log p_sa[0] + log p_sa[1]
 *                 = D_sas[0] - D_sas[1]        (the l_sa terms cancel, so only D_sas runs)
 *   u(s,a) = mean over K perturbed s'_k = s' + std (.) eps_k of -log w(s,a,s'_k), clamped to
 *            [1e-45, 10] (a KL(P_sim || P_real) estimate, kept positive for log omega). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "o2o_agent.h"

typedef struct o2o_disc_config {
  int hidden;      /* units per hidden layer, default 256 */
  int layers;      /* hidden layers, default 2 */
  int batch_size;  /* real rows per training step (and as many sim rows), default 256 */
  float lr;        /* Adam, both networks, default 3e-4 */
  float noise;     /* input noise std during training, default 0.1 */
  int gap_samples; /* K perturbed next states for u, default 10 */
} o2o_disc_config;

void o2o_disc_config_default(o2o_disc_config *cfg);

typedef struct o2o_disc_stats {
  double loss_sa, loss_sas; /* both stay below log 4 = 1.386 once the classifiers learn */
  double acc_sa, acc_sas;   /* fraction of the training rows classified right */
} o2o_disc_stats;

typedef struct o2o_disc o2o_disc;

/* NULL on a bad config or out of memory (err says which). */
o2o_disc *o2o_disc_create(int obs_dim, int act_dim, const o2o_disc_config *cfg, uint64_t seed,
                          char *err, size_t errlen);
void o2o_disc_destroy(o2o_disc *d);

/* One training step on real and sim batches of cfg->batch_size rows each (obs, act, next_obs
 * are used). Returns 0, or -1 with err naming the tensor that went non-finite (then nothing
 * changed). */
int o2o_disc_train(o2o_disc *d, const o2o_batch *real, const o2o_batch *sim, o2o_disc_stats *st,
                   char *err, size_t errlen);

/* log w for n rows (any n: processed in chunks of the batch size). */
void o2o_disc_log_ratio(o2o_disc *d, const float *obs, const float *act, const float *next_obs,
                        int n, float *log_w);
/* u for n rows: K = gap_samples perturbations s' + state_std (.) eps per row, from the
 * discriminator's own rng. state_std [obs_dim]. */
void o2o_disc_gap(o2o_disc *d, const float *obs, const float *act, const float *next_obs, int n,
                  const float *state_std, double *u);

/* Parameters, Adam moments and counters as named tensors ("disc_sa.l0.weight", ...,
 * "disc_sa.adam_m", "disc.rng"); same contract as o2o_sac_tensors. */
int o2o_disc_tensors(o2o_disc *d, const o2o_tensor_ref **tensors);
int o2o_disc_tensors_loaded(o2o_disc *d, char *err, size_t errlen);

/* For tests: loss of the last o2o_disc_train in double precision, and a switch that makes the
 * next o2o_disc_train reuse its previous noise and only compute gradients (no Adam step), and
 * o2o_disc_gap draw the same perturbations on every call, so finite differences see one fixed
 * function. */
double o2o_disc_last_loss(const o2o_disc *d);
void o2o_disc_test_freeze(o2o_disc *d, int freeze);
float *o2o_disc_params(o2o_disc *d, int which, size_t *n); /* 0 = D_sa, 1 = D_sas */
float *o2o_disc_grads(o2o_disc *d, int which);
