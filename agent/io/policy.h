/* policy.h: a tanh-Gaussian actor loaded from a checkpoint, for eval, collect and render.
 * Loading validates names, shapes and dtypes; nothing half-loaded is returned. */
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
