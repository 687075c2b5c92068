/* sac_learner.c: SAC (sac.h) behind the learner interface (learner.h): its config fields with
 * their accepted ranges, and the algorithm descriptor o2o_algo_sac. */
#include <float.h>
#include <stddef.h>

#include "learn/learner.h"
#include "learn/sac.h"

#define F(member, kind, lo, hi, text)                                                              \
  {#member, O2O_FIELD_##kind, offsetof(o2o_sac_config, member), text, lo, hi},
static const o2o_learner_field sac_fields[] = {O2O_SAC_FIELDS(F)};
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
