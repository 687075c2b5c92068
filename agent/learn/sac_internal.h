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
  /* REDQ (0 < target_subset < num_critics): the drawn target critics are copied here and
   * only they are evaluated (the others' outputs would be discarded) */
  o2o_nn_mlp subset_m;
  float *subset_p;
  o2o_nn_acts *subset_acts;
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
  int reuse_noise; /* tests: keep eps and the target subset from the previous call */
  int subset[64];  /* target critics of this update: subset[0..num_subset) (REDQ) */
  int num_subset;
  double loss[3]; /* critic, actor, temperature loss of the last compute_grads, in double */
  /* named tensors; step counters and RNG state are mirrored into float tensors */
  o2o_tensor_ref *tensors;
  int num_tensors;
  float mirror[24], mirror_packed[24]; /* [0..7] four step counters, [8..23] rng */
};

/* sac_tensors.c: the tensor table (t NULL: only count), and the step counters and rng packed
 * into / adopted from their float mirrors (sync: after someone wrote the mirrors, e.g. a
 * checkpoint load; invalid values are dropped and the state in force re-packed). */
int o2o_sac_build_tensors(o2o_sac *s, o2o_tensor_ref *t, int max);
void o2o_sac_pack_state(o2o_sac *s);
void o2o_sac_sync_state(o2o_sac *s);

/* Losses and gradients of one update from the current parameters (nothing is changed except
 * the gradient buffers, the rng and the saved activations). Returns 0, or -1 with err naming
 * the batch entry or tensor that is not finite. */
int o2o_sac_compute_grads(o2o_sac *s, const o2o_batch *b, o2o_sac_stats *st, char *err,
                          size_t errlen);
/* Adam steps on log_alpha, actor and critics, then Polyak on the targets. */
void o2o_sac_apply_grads(o2o_sac *s);

/* The pieces of an update, shared by the one-step update and the high-UTD one (sac_redq.c):
 * each loss is spelt once. */
/* 0, or -1 with err naming the batch entry or parameter that is not finite (or a misfit). */
int o2o_sac_check_batch(o2o_sac *s, const o2o_batch *b, char *err, size_t errlen);
/* Draw this update's target critics (target_subset of them, or all) into s->subset. */
void o2o_sac_draw_subset(o2o_sac *s);
/* s->y[0..b->size) = r + gamma (1 - d) (min over the subset of Qbar_k(s', a') - [backup] alpha
 * log pi(a'|s')), with a' = pi_next rows and their log-probabilities logp_next. */
void o2o_sac_targets(o2o_sac *s, const o2o_batch *b, const float *pi_next, const float *logp_next,
                     float alpha);
/* Critic loss sum_k mean_r w_r (Q_k - y_r)^2 of the data rows q [B][N] (added to *loss, Q to
 * *q_sum, both unnormalised) and its output gradient into d [B][N]. */
void o2o_sac_td_loss(o2o_sac *s, const o2o_batch *b, const float *q, float *d, double *loss,
                     double *q_sum);
/* Actor loss rows: sum_r alpha log pi_r - min_k Q_k (into *actor_loss, log pi into *lp_sum) and
 * the output gradient -1/B on each row's minimum critic into d [B][N]. */
void o2o_sac_actor_rows(o2o_sac *s, int B, const float *q, float *d, const float *logp, float alpha,
                        double *actor_loss, double *lp_sum);
/* Temperature gradient from the mean log pi (detached); returns the temperature loss. */
float o2o_sac_temperature(o2o_sac *s, double lpm);
/* Adam on the critics, then Polyak on the target critics. */
void o2o_sac_critic_step(o2o_sac *s);
/* The high-UTD update (critic_steps > 1, sac_redq.c): critic_steps critic steps on
 * consecutive minibatches, each followed by Polyak, then one actor and one temperature step on
 * the whole batch. */
int o2o_sac_update_redq(o2o_sac *s, const o2o_batch *b, o2o_sac_stats *st, char *err,
                        size_t errlen);

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
