/* policy.h: the policy of a checkpoint, for eval, collect and render: a learner checkpoint is
 * rebuilt whole (o2o_learner_load) and acts through its learner; an actor-only file (shipped
 * policies) is read as a tanh-Gaussian actor. Loading validates names, shapes, dtypes and every
 * metadata field that shapes the network or its actions; nothing half-loaded is returned. */
#pragma once
#include "o2o_agent.h"

typedef struct o2o_policy o2o_policy;

o2o_policy *o2o_policy_load(const char *checkpoint_path, char *err, size_t errlen);
void o2o_policy_destroy(o2o_policy *p);
int o2o_policy_obs_dim(const o2o_policy *p);
int o2o_policy_act_dim(const o2o_policy *p);
/* Actions in [-1, 1]: deterministic = tanh(mu); else sampled with the policy's own RNG
 * (seeded by o2o_policy_seed). Observation normalisation stored in the checkpoint is
 * applied. */
void o2o_policy_act(o2o_policy *p, const float *obs, int n, int deterministic, float *actions);
void o2o_policy_seed(o2o_policy *p, uint64_t seed);
/* The file's metadata (scenario, act_low/act_high, ...): check the bounds against the scenario
 * with o2o_train_check_bounds before acting. */
struct o2o_ckpt_meta;
const struct o2o_ckpt_meta *o2o_policy_meta(const o2o_policy *p);
