/* sac_internal.h: the o2o_sac struct and the two halves of an update, for tests (gradient
 * checks) and for algorithms built on SAC. Not a stable API: use sac.h. */
#pragma once
#include "nn/nn.h"
#include "learn/sac.h"

struct o2o_sac {
  o2o_sac_config cfg;
  int obs_dim, act_dim, max_batch;
  o2o_nn_mlp actor_m, critic_m;          /* critic_m: ensemble of num_critics members */
  float *actor_p, *actor_g;              /* actor params / grads */
  float *critic_p, *critic_g, *target_p; /* critics, their grads, target critics */
  float log_alpha[1], log_alpha_g[1];
  o2o_nn_adam actor_opt, critic_opt, alpha_opt;
  o2o_nn_acts *actor_acts, *critic_acts, *target_acts;
  /* per-update buffers (allocated once) */
  float *x_actor;             /* [2B][obs]: obs rows then next_obs rows */
  float *x_critic;            /* [2B][obs+act]: (obs, pi(obs)) rows then (obs, act) rows */
  float *x_target;            /* [B][obs+act]: (next_obs, pi(next_obs)) */
  float *eps, *pi_act, *logp; /* [2B][act], [2B][act], [2B] */
  float *y;                   /* [B] TD targets */
  float *d_critic_out;        /* [2B][N] */
  float *dx_critic;           /* [B][obs+act] */
  float *ga, *gl;             /* [B][act], [B] */
  float *d_actor_out;         /* [B][2 act] */
  o2o_nn_rng rng;
  int64_t updates;
  int reuse_noise; /* tests: keep eps from the previous call (finite differences) */
  double loss[3];  /* critic, actor, temperature loss of the last compute_grads, in double */
  /* named tensors; step counters and RNG state are mirrored into float tensors */
  o2o_tensor_ref *tensors;
  int num_tensors;
  float mirror[24], mirror_packed[24]; /* [0..7] four step counters, [8..23] rng */
};

/* Losses and gradients of one update from the current parameters (nothing is changed except
 * the gradient buffers, the rng and the saved activations). Returns 0, or -1 with err naming
 * the batch entry or tensor that is not finite. */
int o2o_sac_compute_grads(o2o_sac *s, const o2o_batch *b, o2o_sac_stats *st, char *err,
                          size_t errlen);
/* Adam steps on log_alpha, actor and critics, then Polyak on the targets. */
void o2o_sac_apply_grads(o2o_sac *s);

/* An extra loss term of an algorithm built on SAC: called after o2o_sac_compute_grads, it adds
 * its gradients into s->critic_g / s->actor_g (a second backward accumulates: CQL's penalty,
 * H2O's gap penalty), using the saved activations of the update's forward passes. Returns 0,
 * or -1 with err to refuse the update. */
typedef int (*o2o_sac_extra_fn)(void *ctx, o2o_sac *s, const o2o_batch *b, char *err,
                                size_t errlen);
/* o2o_sac_update with an extra term: compute_grads, extra, a finite check of the summed
 * gradients, then the Adam/Polyak step. On any failure nothing changes (rng included). */
int o2o_sac_update_with(o2o_sac *s, const o2o_batch *batch, o2o_sac_stats *stats,
                        o2o_sac_extra_fn extra, void *ctx, char *err, size_t errlen);
