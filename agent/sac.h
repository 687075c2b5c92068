/* sac.h: Soft Actor-Critic with automatic entropy tuning and an ensemble of N critics
 * (CORL/SimpleSAC family; ../shared/research/algorithms.md section 2). One config struct
 * holds every hyperparameter with its default (o2o_sac_config_default). */
#pragma once
#include "o2o_agent.h"

typedef struct o2o_sac_config {
  int hidden;            /* units per hidden layer, default 256 */
  int layers;            /* hidden layers per network, default 2 */
  int num_critics;       /* ensemble size N, default 2 */
  int critic_layernorm;  /* Dense->LayerNorm->ReLU in critics, default 0 */
  int batch_size;        /* default 256 */
  float gamma;           /* default 0.99 */
  float tau;             /* Polyak rate, default 0.005 */
  float actor_lr, critic_lr, alpha_lr; /* default 3e-4 each */
  float init_alpha;      /* default 1.0 */
  float target_entropy;  /* default -act_dim (set when 0) */
  int backup_entropy;    /* subtract alpha*log pi in the target, default 1 */
  float log_std_min, log_std_max; /* default -20, 2 */
  int utd;               /* gradient updates per env step, default 1 */
  int start_steps;       /* uniform-random env steps before learning, default 5000 */
} o2o_sac_config;

void o2o_sac_config_default(o2o_sac_config *cfg);

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
/* One gradient step on every network. Returns 0, or -1 with err naming the tensor that
 * went non-finite (nothing is changed in that case). */
int o2o_sac_update(o2o_sac *s, const o2o_batch *batch, o2o_sac_stats *stats, char *err,
                   size_t errlen);
/* Every parameter, target parameter, Adam moment and scalar (log_alpha, step counters as
 * float tensors) as named tensors, for checkpoints. The array is owned by s. */
int o2o_sac_tensors(o2o_sac *s, const o2o_tensor_ref **tensors);
