/* sac_tensors.c: a SAC learner's named tensors (sac.h's o2o_sac_tensors): the networks, the
 * target critics, log alpha, every Adam moment, and the step counters and rng state, which are
 * integers kept in float tensors so that one safetensors file holds the whole learner and a
 * resumed run continues bit for bit. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "learn/sac_internal.h"
#include "o2o_agent.h"

/* ---- step counters and rng state as float tensors (exact small integers) ---- */
static void pack_i64(float *f, int64_t v) {
  f[0] = (float)(v & 0xFFFFFF);
  f[1] = (float)(v >> 24);
}
static int unpack_i64(const float *f, int64_t *v) {
  for (int i = 0; i < 2; i++)
    if (!(f[i] >= 0.0f && f[i] < 16777216.0f && f[i] == floorf(f[i]))) return -1;
  *v = (int64_t)f[0] | ((int64_t)f[1] << 24);
  return 0;
}

void o2o_sac_pack_state(o2o_sac *s) {
  pack_i64(s->mirror + 0, s->updates);
  pack_i64(s->mirror + 2, s->actor_opt.t);
  pack_i64(s->mirror + 4, s->critic_opt.t);
  pack_i64(s->mirror + 6, s->alpha_opt.t);
  for (int i = 0; i < 16; i++)
    s->mirror[8 + i] = (float)((s->rng.s[i / 4] >> (16 * (i % 4))) & 0xFFFF);
  memcpy(s->mirror_packed, s->mirror, sizeof s->mirror);
}

static int unpack_state(o2o_sac *s, char *err, size_t errlen) {
  int64_t c[4];
  static const char *names[4] = {"sac.updates", "actor.adam_step", "critic.adam_step",
                                 "log_alpha.adam_step"};
  for (int i = 0; i < 4; i++)
    if (unpack_i64(s->mirror + 2 * i, &c[i])) {
      o2o_agent_errf(err, errlen, "tensor %s does not hold a step counter (values %g, %g)",
                     names[i], s->mirror[2 * i], s->mirror[2 * i + 1]);
      return -1;
    }
  uint64_t r[4] = {0, 0, 0, 0};
  for (int i = 0; i < 16; i++) {
    float f = s->mirror[8 + i];
    if (!(f >= 0.0f && f <= 65535.0f && f == floorf(f))) {
      o2o_agent_errf(err, errlen, "tensor sac.rng[%d] = %g is not a 16-bit integer", i, f);
      return -1;
    }
    r[i / 4] |= (uint64_t)f << (16 * (i % 4));
  }
  if (!(r[0] | r[1] | r[2] | r[3])) {
    o2o_agent_errf(err, errlen, "tensor sac.rng is all zero (not a valid generator state)");
    return -1;
  }
  s->updates = c[0];
  s->actor_opt.t = c[1];
  s->critic_opt.t = c[2];
  s->alpha_opt.t = c[3];
  memcpy(s->rng.s, r, sizeof r);
  memcpy(s->mirror_packed, s->mirror, sizeof s->mirror);
  return 0;
}

int o2o_sac_tensors_loaded(o2o_sac *s, char *err, size_t errlen) {
  if (unpack_state(s, err, errlen)) {
    o2o_sac_pack_state(s); /* restore the mirrors of the state that stays in force */
    return -1;
  }
  return 0;
}

/* Someone wrote into the mirrored tensors (a checkpoint load): adopt them if valid. */
void o2o_sac_sync_state(o2o_sac *s) {
  if (memcmp(s->mirror, s->mirror_packed, sizeof s->mirror))
    if (unpack_state(s, NULL, 0)) o2o_sac_pack_state(s);
}

/* ---- tensor table ---- */
int o2o_sac_build_tensors(o2o_sac *s, o2o_tensor_ref *t, int max) {
  int n = 0;
  n += o2o_nn_mlp_tensor_refs(&s->actor_m, s->actor_p, "actor", 0, t ? t + n : NULL,
                              t ? max - n : 0);
  n += o2o_nn_mlp_tensor_refs(&s->critic_m, s->critic_p, "critic", 1, t ? t + n : NULL,
                              t ? max - n : 0);
  n += o2o_nn_mlp_tensor_refs(&s->critic_m, s->target_p, "critic_target", 1, t ? t + n : NULL,
                              t ? max - n : 0);
  if (!t) max = 0;
  int64_t pa = (int64_t)s->actor_m.num_params, pc = (int64_t)s->critic_m.num_params;
  n = o2o_nn_tensor_ref_1d(t, n, max, "log_alpha", s->log_alpha, 1);
  n = o2o_nn_tensor_ref_1d(t, n, max, "actor.adam_m", s->actor_opt.m, pa);
  n = o2o_nn_tensor_ref_1d(t, n, max, "actor.adam_v", s->actor_opt.v, pa);
  n = o2o_nn_tensor_ref_1d(t, n, max, "critic.adam_m", s->critic_opt.m, pc);
  n = o2o_nn_tensor_ref_1d(t, n, max, "critic.adam_v", s->critic_opt.v, pc);
  n = o2o_nn_tensor_ref_1d(t, n, max, "log_alpha.adam_m", s->alpha_opt.m, 1);
  n = o2o_nn_tensor_ref_1d(t, n, max, "log_alpha.adam_v", s->alpha_opt.v, 1);
  n = o2o_nn_tensor_ref_1d(t, n, max, "sac.updates", s->mirror + 0, 2);
  n = o2o_nn_tensor_ref_1d(t, n, max, "actor.adam_step", s->mirror + 2, 2);
  n = o2o_nn_tensor_ref_1d(t, n, max, "critic.adam_step", s->mirror + 4, 2);
  n = o2o_nn_tensor_ref_1d(t, n, max, "log_alpha.adam_step", s->mirror + 6, 2);
  n = o2o_nn_tensor_ref_1d(t, n, max, "sac.rng", s->mirror + 8, 16);
  return n;
}

int o2o_sac_tensors(o2o_sac *s, const o2o_tensor_ref **tensors) {
  o2o_sac_sync_state(s);
  *tensors = s->tensors;
  return s->num_tensors;
}
