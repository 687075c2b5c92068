/* sac_learner.c: SAC (sac.h) behind the learner interface (learner.h): its config fields with
 * their accepted ranges, and the algorithm descriptor o2o_algo_sac. */
#include <float.h>
#include <stddef.h>

#include "learn/learner.h"
#include "learn/sac.h"

#define F(member, kind, lo, hi, text)                                                              \
  { #member, O2O_FIELD_##kind, offsetof(o2o_sac_config, member), text, lo, hi }
static const o2o_learner_field sac_fields[] = {
    F(hidden, INT, 1, 65536, "units per hidden layer"),
    F(layers, INT, 1, 7, "hidden layers per network"),
    F(num_critics, INT, 1, 64, "critic ensemble size"),
    F(critic_layernorm, INT, 0, 1, "LayerNorm in critic hidden layers (0/1)"),
    F(batch_size, INT, 1, 1 << 20, "batch size"),
    F(gamma, FLOAT, 0, 1, "discount"),
    F(tau, FLOAT, 1e-8, 1, "Polyak rate of the target critics"),
    F(actor_lr, FLOAT, 1e-12, 1, "actor learning rate"),
    F(critic_lr, FLOAT, 1e-12, 1, "critic learning rate"),
    F(alpha_lr, FLOAT, 0, 1, "temperature learning rate (0 = fixed temperature)"),
    F(init_alpha, FLOAT, 1e-12, 1e6, "initial temperature"),
    F(target_entropy, FLOAT, -1e6, 1e6, "target entropy (0 = -act_dim)"),
    F(backup_entropy, INT, 0, 1, "entropy term in the TD target (0/1)"),
    F(log_std_min, FLOAT, -100, 100, "log-std clamp, low"),
    F(log_std_max, FLOAT, -100, 100, "log-std clamp, high"),
    F(utd, INT, 1, 1000, "gradient updates per env step"),
    F(start_steps, INT, 0, 1 << 30, "uniform-random env steps before learning"),
    F(last_layer_gain, FLOAT, 0, 1e3, "xavier gain of last layers (0 = PyTorch default init)"),
};
#undef F

static void cfg_default(void *cfg) {
  o2o_sac_config_default(cfg);
}
static int cfg_check(const void *cfg, int obs_dim, int act_dim, char *err, size_t errlen) {
  return o2o_sac_config_check(cfg, obs_dim, act_dim, err, errlen);
}
static int cfg_batch(const void *cfg) {
  return ((const o2o_sac_config *)cfg)->batch_size;
}

static void *create(int obs_dim, int act_dim, const void *cfg, uint64_t seed, char *err,
                    size_t errlen) {
  o2o_sac *s = o2o_sac_create(obs_dim, act_dim, cfg, seed);
  if (!s) o2o_agent_errf(err, errlen, "sac: out of memory");
  return s;
}
static void destroy(void *self) {
  o2o_sac_destroy(self);
}
static void act(void *self, const float *obs, int n, int deterministic, float *actions) {
  o2o_sac_act(self, obs, n, deterministic, actions);
}

static int update(void *self, const o2o_batch *b, o2o_learner_stats *st, char *err, size_t errlen) {
  o2o_sac_stats s;
  if (o2o_sac_update(self, b, &s, err, errlen)) return -1;
  if (st) {
    o2o_learner_stats_set(st, "critic_loss", s.critic_loss);
    o2o_learner_stats_set(st, "actor_loss", s.actor_loss);
    o2o_learner_stats_set(st, "alpha_loss", s.alpha_loss);
    o2o_learner_stats_set(st, "alpha", s.alpha);
    o2o_learner_stats_set(st, "q_mean", s.q_mean);
    o2o_learner_stats_set(st, "log_pi_mean", s.log_pi_mean);
  }
  return 0;
}

static int tensors(void *self, const o2o_tensor_ref **t) {
  return o2o_sac_tensors(self, t);
}
static int tensors_loaded(void *self, char *err, size_t errlen) {
  return o2o_sac_tensors_loaded(self, err, errlen);
}

const o2o_learner_algo o2o_algo_sac = {
    .name = "sac",
    .summary = "Soft Actor-Critic with automatic temperature and N critics (Haarnoja et al. 2018)",
    .offline = 0,
    .config_size = sizeof(o2o_sac_config),
    .config_default = cfg_default,
    .fields = sac_fields,
    .num_fields = (int)(sizeof sac_fields / sizeof sac_fields[0]),
    .config_check = cfg_check,
    .batch_size = cfg_batch,
    .columns = 0,
    .create = create,
    .destroy = destroy,
    .act = act,
    .update = update,
    .tensors = tensors,
    .tensors_loaded = tensors_loaded,
};
