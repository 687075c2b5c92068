/* sac.h: Soft Actor-Critic with automatic entropy tuning and an ensemble of N critics
 * (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications"; defaults as
 * github.com/corl-team/CORL sac_n.py and github.com/young-geng/CQL SimpleSAC). One config
 * struct holds every hyperparameter with its default (o2o_sac_config_default). */
#pragma once
#include "o2o_agent.h"

typedef struct o2o_sac_config {
  int hidden;                          /* units per hidden layer, default 256 */
  int layers;                          /* hidden layers per network, default 2 */
  int num_critics;                     /* ensemble size N, default 2 */
  int critic_layernorm;                /* Dense->LayerNorm->ReLU in critics, default 0 */
  int batch_size;                      /* default 256 */
  float gamma;                         /* default 0.99 */
  float tau;                           /* Polyak rate, default 0.005 */
  float actor_lr, critic_lr, alpha_lr; /* default 3e-4 each */
  float init_alpha;                    /* default 1.0 */
  float target_entropy;                /* default -act_dim (set when 0) */
  int backup_entropy;                  /* subtract alpha*log pi in the target, default 1 */
  float log_std_min, log_std_max;      /* default -20, 2 */
  int utd;                             /* gradient updates per env step, default 1 */
  int start_steps;                     /* uniform-random env steps before learning, default 5000 */
  float last_layer_gain; /* >0: last layers xavier_uniform(gain), bias 0 (CQL family 1e-2);
                            default 0 = PyTorch default init everywhere */
  /* REDQ as WSRL uses it (Chen et al. 2021; Zhou et al. 2024, github.com/zhouzypaul/wsrl):
   * num_critics 10, critic_layernorm 1, target_subset 2, batch_size 1024, critic_steps 4. */
  int target_subset; /* the TD target's min is over this many target critics drawn at random
                        (without replacement) each critic step; default 0 = all */
  int critic_steps;  /* the batch is split into this many minibatches, one critic step (+ Polyak)
                        each, then one actor and one temperature step on the whole batch (UTD
                        critic_steps per update); default 1 = the one-step update */
  int actor_delay;   /* the first actor_delay updates step the critics and the temperature only
                        (the actor stays as it is): policy evaluation of a warm-started policy
                        under this TD target, the temperature fitted to its entropy, before
                        policy improvement; default 0 */
} o2o_sac_config;

/* Every field of o2o_sac_config once, with its accepted range and help text:
 * X(member, INT|FLOAT, min, max, help). The learner descriptors expand it (sac_learner.c), and
 * so do algorithms whose config embeds an o2o_sac_config (CQL, H2O: offsetof(theirs, sac) +
 * offsetof(o2o_sac_config, member)), so each SAC setting is spelt once. */
#define O2O_SAC_FIELDS(X)                                                                          \
  X(hidden, INT, 1, 65536, "units per hidden layer")                                               \
  X(layers, INT, 1, 7, "hidden layers per network")                                                \
  X(num_critics, INT, 1, 64, "critic ensemble size")                                               \
  X(critic_layernorm, INT, 0, 1, "LayerNorm in critic hidden layers (0/1)")                        \
  X(batch_size, INT, 1, 1 << 20, "batch size")                                                     \
  X(gamma, FLOAT, 0, 1, "discount")                                                                \
  X(tau, FLOAT, 1e-8, 1, "Polyak rate of the target critics")                                      \
  X(actor_lr, FLOAT, 1e-12, 1, "actor learning rate")                                              \
  X(critic_lr, FLOAT, 1e-12, 1, "critic learning rate")                                            \
  X(alpha_lr, FLOAT, 0, 1, "temperature learning rate (0 = fixed temperature)")                    \
  X(init_alpha, FLOAT, 1e-12, 1e6, "initial temperature")                                          \
  X(target_entropy, FLOAT, -1e6, 1e6, "target entropy (0 = -act_dim)")                             \
  X(backup_entropy, INT, 0, 1, "entropy term in the TD target (0/1)")                              \
  X(log_std_min, FLOAT, -100, 100, "log-std clamp, low")                                           \
  X(log_std_max, FLOAT, -100, 100, "log-std clamp, high")                                          \
  X(utd, INT, 1, 1000, "gradient updates per env step")                                            \
  X(start_steps, INT, 0, 1 << 30, "uniform-random env steps before learning")                      \
  X(last_layer_gain, FLOAT, 0, 1e3, "xavier gain of last layers (0 = PyTorch default init)")       \
  X(target_subset, INT, 0, 64, "target critics in the TD target's min, drawn at random (0 = all)") \
  X(critic_steps, INT, 1, 64, "critic steps (+ Polyak) per update on batch/critic_steps rows")     \
  X(actor_delay, INT, 0, 1 << 30,                                                                  \
    "first updates with the actor frozen (critics and temperature learn)")

void o2o_sac_config_default(o2o_sac_config *cfg);
/* 0 if cfg is usable for these dimensions, else -1 with err naming the field and its value
 * (o2o_sac_create returns NULL for exactly these configs, or when out of memory). */
int o2o_sac_config_check(const o2o_sac_config *cfg, int obs_dim, int act_dim, char *err,
                         size_t errlen);

/* Statistics of one update, for logging and NaN detection. */
typedef struct o2o_sac_stats {
  float critic_loss, actor_loss, alpha_loss, alpha, q_mean, log_pi_mean;
} o2o_sac_stats;

typedef struct o2o_sac o2o_sac;

o2o_sac *o2o_sac_create(int obs_dim, int act_dim, const o2o_sac_config *cfg, uint64_t seed);
void o2o_sac_destroy(o2o_sac *s);
const o2o_sac_config *o2o_sac_get_config(const o2o_sac *s);
/* Actions for n observations [n][obs_dim] -> [n][act_dim] in [-1, 1]
 * (deterministic = tanh(mu), else sampled). */
void o2o_sac_act(o2o_sac *s, const float *obs, int n, int deterministic, float *actions);
/* One gradient step on every network. With batch->weight, the critic loss weights each row's
 * squared TD error: sum_k mean_i weight_i (Q_k(s_i, a_i) - y_i)^2 (H2O's dynamics ratio). Returns
 * 0, or -1 with err naming the tensor that went non-finite (nothing is changed in that case). */
int o2o_sac_update(o2o_sac *s, const o2o_batch *batch, o2o_sac_stats *stats, char *err,
                   size_t errlen);
/* Every parameter, target parameter, Adam moment and scalar (log_alpha, step counters as
 * float tensors) as named tensors, for checkpoints. The array is owned by s; the data
 * pointers are the live state (write into them to load a checkpoint).
 *
 * Names (L = layers + 1 Linear layers, i = 0..L-1, k = 0..num_critics-1, H = hidden):
 *   actor.l<i>.weight [out][in], actor.l<i>.bias [out]    actor obs -> H ... -> 2*act_dim;
 *       the last layer's outputs are [mu (act_dim) | raw log-std (act_dim)]
 *   critic<k>.l<i>.weight, critic<k>.l<i>.bias            critic (obs ++ act) -> H ... -> 1
 *   critic<k>.l<i>.ln.weight, .ln.bias [H]                hidden layers, critic_layernorm only
 *   critic_target<k>.l<i>.*                               target critics, same shapes
 *   log_alpha [1]
 *   actor.adam_m, actor.adam_v [P_actor]                  Adam moments over the flat actor
 *   critic.adam_m, critic.adam_v [P_critic]               parameter arrays (layer-major, see nn.h)
 *   log_alpha.adam_m, log_alpha.adam_v [1]
 *   sac.updates, actor.adam_step, critic.adam_step, log_alpha.adam_step [2]:
 *       integer counters as {low 24 bits, high bits} (exact in float32)
 *   sac.rng [16]: the sampling generator's 256-bit state as 16-bit integers
 * The counters and sac.rng are copies: after writing into them, call o2o_sac_tensors_loaded
 * (the next act/update/tensors call also adopts changed values by itself). Restoring every
 * tensor resumes training bit-exactly. */
int o2o_sac_tensors(o2o_sac *s, const o2o_tensor_ref **tensors);
/* Adopt the step counters and rng state written into the tensors; -1 + err if they are not
 * valid (the previous state stays). */
int o2o_sac_tensors_loaded(o2o_sac *s, char *err, size_t errlen);
