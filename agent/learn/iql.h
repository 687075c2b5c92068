/* iql.h: Implicit Q-Learning (Kostrikov, Nair, Levine 2021, "Offline Reinforcement Learning
 * with Implicit Q-Learning"; official code ikostrikov/implicit_q_learning, and CORL's
 * algorithms/offline/iql.py) on the nn core.
 *
 *   V  : s -> 256 -> 256 -> 1          L_V = mean |tau - 1[u < 0]| u^2, u = min_k Qt_k(s,a) - V(s)
 *   Q_k: (s, a) -> 256 -> 256 -> 1     L_Q = mean sum_k (Q_k(s,a) - y)^2, y = r + gamma (1-d) V(s')
 *   pi : s -> 256 -> 256 -> A, mean = tanh(.), state-independent log std (clamped)
 *                                      L_pi = -mean min(exp(beta (Qt(s,a) - V(s))), exp_adv_max)
 *                                             * log pi(a|s)     (dataset actions; no gradient
 *                                             through the weight)
 * One update in the official order: V step, actor step (with the new V), Q step (with the new
 * V), Polyak on the target critics. The actor's learning rate follows a cosine decay to 0
 * over max_steps updates. Actions: the mean (deterministic) or mean + std eps clipped to
 * [-1, 1]; log pi is the plain Gaussian's (no tanh correction), as the official code. */
#pragma once
#include "learn/learner.h"

typedef struct o2o_iql_config {
  int hidden;        /* units per hidden layer (all three networks), default 256 */
  int layers;        /* hidden layers, default 2 */
  int batch_size;    /* default 256 */
  float gamma;       /* default 0.99 */
  float tau;         /* Polyak rate of the target critics, default 0.005 */
  float expectile;   /* tau of the expectile loss, default 0.7 (locomotion) */
  float beta;        /* inverse temperature of the advantage weights, default 3 */
  float exp_adv_max; /* weight clip, default 100 */
  float actor_lr, critic_lr, value_lr; /* default 3e-4 each */
  int max_steps; /* length of the actor's cosine decay, default 1000000 (0 = none) */
  float log_std_min, log_std_max; /* clamp of the state-independent log std, default -5, 2 */
} o2o_iql_config;

void o2o_iql_config_default(o2o_iql_config *cfg);

extern const o2o_learner_algo o2o_algo_iql;

/* For tests (self = what o2o_algo_iql.create returned): the three losses of one update on b
 * in double precision, computed from the current parameters in the update's order but without
 * any step (each later loss sees the V of the current parameters), and their gradients left
 * in the gradient buffers. which: 0 = value, 1 = actor, 2 = critic. */
double o2o_iql_test_loss(void *self, const o2o_batch *b, int which);
float *o2o_iql_test_params(void *self, int which, size_t *n); /* 1: actor incl. log std last */
float *o2o_iql_test_grads(void *self, int which);
