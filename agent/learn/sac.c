/* sac.c: Soft Actor-Critic (sac.h) on the nn core.
 *
 * One update, every loss from the CURRENT parameters (SimpleSAC/CQL/H2O order, so a
 * non-finite gradient can be refused before anything changes):
 *   1. actor forward on [obs; next_obs] (2B rows, one pass) -> a~, log pi(a~|s), a', log pi(a'|s')
 *   2. target critics on (next_obs, a') -> y = r + gamma (1-d) (min_k Qt_k - [backup] alpha log
 * pi')
 *   3. critics on [(obs, a~); (obs, act)] (2B rows, one pass): the first B rows give the actor
 *      loss mean(alpha log pi - min_k Q_k), the last B rows the critic loss sum_k mean (Q_k - y)^2
 *   4. one critic backward: weight gradients from the critic rows only, input gradients of the
 *      actor rows down to the action (dQ_min/da) -> tanh-Gaussian backward -> actor backward
 *   5. temperature: dL/dlog_alpha = -mean(log pi + target_entropy) (log pi of step 1, detached)
 *   6. check every loss and gradient is finite, then Adam on log_alpha, actor, critics; Polyak.
 * Stacking the two actor passes and the two critic passes halves the number of sgemm calls
 * and makes each one twice as tall (faster per FLOP); CORL's extra actor forward for the alpha
 * loss and its critic weight gradients in the actor step are not computed at all. */
#include "learn/sac_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/tanh_gaussian.h"
#include "o2o_agent.h"

void o2o_sac_config_default(o2o_sac_config *c) {
  memset(c, 0, sizeof *c);
  c->hidden = 256;
  c->layers = 2;
  c->num_critics = 2;
  c->critic_layernorm = 0;
  c->batch_size = 256;
  c->gamma = 0.99f;
  c->tau = 0.005f;
  c->actor_lr = c->critic_lr = c->alpha_lr = 3e-4f;
  c->init_alpha = 1.0f;
  c->target_entropy = 0.0f; /* 0 = -act_dim */
  c->backup_entropy = 1;
  c->log_std_min = -20.0f;
  c->log_std_max = 2.0f;
  c->utd = 1;
  c->start_steps = 5000;
  c->last_layer_gain = 0.0f;
  c->target_subset = 0;
  c->critic_steps = 1;
}

int o2o_sac_config_check(const o2o_sac_config *c, int obs_dim, int act_dim, char *err,
                         size_t errlen) {
#define BAD(cond, fmt, ...)                                                                        \
  if (cond) {                                                                                      \
    o2o_agent_errf(err, errlen, "SAC config: " fmt, __VA_ARGS__);                                  \
    return -1;                                                                                     \
  }
  BAD(obs_dim < 1 || act_dim < 1, "obs_dim %d / act_dim %d must be >= 1", obs_dim, act_dim);
  BAD(c->hidden < 1 || c->hidden > 65536, "hidden = %d must be in 1..65536", c->hidden);
  BAD(c->layers < 1 || c->layers > O2O_NN_MAX_LAYERS - 1, "layers = %d must be in 1..%d", c->layers,
      O2O_NN_MAX_LAYERS - 1);
  BAD(c->num_critics < 1 || c->num_critics > 64, "num_critics = %d must be in 1..64",
      c->num_critics);
  BAD(c->batch_size < 1 || c->batch_size > 1 << 20, "batch_size = %d must be in 1..%d",
      c->batch_size, 1 << 20);
  BAD(!(c->gamma >= 0.0f && c->gamma <= 1.0f), "gamma = %g must be in [0, 1]", (double)c->gamma);
  BAD(!(c->tau > 0.0f && c->tau <= 1.0f), "tau = %g must be in (0, 1]", (double)c->tau);
  BAD(!(c->actor_lr > 0.0f && isfinite(c->actor_lr)), "actor_lr = %g must be > 0",
      (double)c->actor_lr);
  BAD(!(c->critic_lr > 0.0f && isfinite(c->critic_lr)), "critic_lr = %g must be > 0",
      (double)c->critic_lr);
  BAD(!(c->alpha_lr >= 0.0f && isfinite(c->alpha_lr)), "alpha_lr = %g must be >= 0",
      (double)c->alpha_lr);
  BAD(!(c->init_alpha > 0.0f && isfinite(c->init_alpha)), "init_alpha = %g must be > 0",
      (double)c->init_alpha);
  BAD(!isfinite(c->target_entropy), "target_entropy = %g must be finite",
      (double)c->target_entropy);
  BAD(!(c->log_std_min < c->log_std_max) || !isfinite(c->log_std_min) || !isfinite(c->log_std_max),
      "log_std_min = %g must be below log_std_max = %g", (double)c->log_std_min,
      (double)c->log_std_max);
  BAD(c->utd < 1, "utd = %d must be >= 1", c->utd);
  BAD(c->start_steps < 0, "start_steps = %d must be >= 0", c->start_steps);
  BAD(!(c->last_layer_gain >= 0.0f && isfinite(c->last_layer_gain)),
      "last_layer_gain = %g must be >= 0", (double)c->last_layer_gain);
  BAD(c->target_subset < 0 || c->target_subset > c->num_critics,
      "target_subset = %d must be in 0..num_critics (%d)", c->target_subset, c->num_critics);
  BAD(c->critic_steps < 1 || c->critic_steps > 64 || c->batch_size % c->critic_steps,
      "critic_steps = %d must be in 1..64 and divide batch_size = %d", c->critic_steps,
      c->batch_size);
#undef BAD
  return 0;
}

/* ---- create / destroy ---- */
o2o_sac *o2o_sac_create(int obs_dim, int act_dim, const o2o_sac_config *cfg, uint64_t seed) {
  o2o_sac_config c;
  if (cfg)
    c = *cfg;
  else
    o2o_sac_config_default(&c);
  if (o2o_sac_config_check(&c, obs_dim, act_dim, NULL, 0)) return NULL;
  if (c.target_entropy == 0.0f) c.target_entropy = -(float)act_dim;
  o2o_sac *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->cfg = c;
  s->obs_dim = obs_dim;
  s->act_dim = act_dim;
  s->max_batch = c.batch_size;
  int dims[O2O_NN_MAX_LAYERS + 1];
  dims[0] = obs_dim;
  for (int l = 1; l <= c.layers; l++)
    dims[l] = c.hidden;
  dims[c.layers + 1] = 2 * act_dim;
  o2o_nn_mlp_init(&s->actor_m, 1, c.layers + 1, dims, 0);
  dims[0] = obs_dim + act_dim;
  dims[c.layers + 1] = 1;
  o2o_nn_mlp_init(&s->critic_m, c.num_critics, c.layers + 1, dims, c.critic_layernorm);

  size_t pa = s->actor_m.num_params, pc = s->critic_m.num_params;
  size_t B = (size_t)c.batch_size, O = (size_t)obs_dim, A = (size_t)act_dim;
  size_t N = (size_t)c.num_critics;
  int ok = 1;
#define ALLOC(p, n) ok &= ((p) = calloc((n), sizeof(float))) != NULL
  ALLOC(s->actor_p, pa);
  ALLOC(s->actor_g, pa);
  ALLOC(s->critic_p, pc);
  ALLOC(s->critic_g, pc);
  ALLOC(s->target_p, pc);
  ALLOC(s->x_actor, 2 * B * O);
  ALLOC(s->x_critic, 2 * B * (O + A));
  ALLOC(s->x_target, B * (O + A));
  ALLOC(s->eps, 2 * B * A);
  ALLOC(s->pi_act, 2 * B * A);
  ALLOC(s->logp, 2 * B);
  ALLOC(s->y, B);
  ALLOC(s->d_critic_out, 2 * B * N);
  ALLOC(s->dx_critic, B * (O + A));
  ALLOC(s->ga, B * A);
  ALLOC(s->gl, B);
  ALLOC(s->d_actor_out, B * 2 * A);
  ok &= (s->actor_acts = o2o_nn_acts_create(&s->actor_m, 2 * c.batch_size)) != NULL;
  ok &= (s->critic_acts = o2o_nn_acts_create(&s->critic_m, 2 * c.batch_size)) != NULL;
  ok &= (s->target_acts = o2o_nn_acts_create(&s->critic_m, c.batch_size)) != NULL;
  if (c.target_subset > 0 && c.target_subset < c.num_critics) {
    ok &=
        o2o_nn_mlp_init(&s->subset_m, c.target_subset, c.layers + 1, dims, c.critic_layernorm) == 0;
    ALLOC(s->subset_p, s->subset_m.num_params);
    ok &= (s->subset_acts = o2o_nn_acts_create(&s->subset_m, c.batch_size)) != NULL;
  }
#undef ALLOC
  ok &= o2o_nn_adam_init(&s->actor_opt, pa, c.actor_lr) == 0;
  ok &= o2o_nn_adam_init(&s->critic_opt, pc, c.critic_lr) == 0;
  ok &= o2o_nn_adam_init(&s->alpha_opt, 1, c.alpha_lr) == 0;
  if (!ok) {
    o2o_sac_destroy(s);
    return NULL;
  }
  /* init: one stream for parameters (actor first, then critics), another for sampling */
  o2o_nn_rng init_rng;
  o2o_nn_rng_seed(&init_rng, seed);
  o2o_nn_mlp_init_params(&s->actor_m, s->actor_p, &init_rng, c.last_layer_gain);
  o2o_nn_mlp_init_params(&s->critic_m, s->critic_p, &init_rng, c.last_layer_gain);
  memcpy(s->target_p, s->critic_p, pc * sizeof(float));
  s->log_alpha[0] = logf(c.init_alpha);
  o2o_nn_rng_seed(&s->rng, seed ^ 0x5ac5ac5ac5ac5ac5ULL);
  s->num_subset = c.num_critics;
  for (int k = 0; k < c.num_critics; k++)
    s->subset[k] = k;

  s->num_tensors = o2o_sac_build_tensors(s, NULL, 0);
  s->tensors = calloc((size_t)s->num_tensors, sizeof *s->tensors);
  if (!s->tensors) {
    o2o_sac_destroy(s);
    return NULL;
  }
  o2o_sac_build_tensors(s, s->tensors, s->num_tensors);
  o2o_sac_pack_state(s);
  return s;
}

void o2o_sac_destroy(o2o_sac *s) {
  if (!s) return;
  free(s->actor_p);
  free(s->actor_g);
  free(s->critic_p);
  free(s->critic_g);
  free(s->target_p);
  free(s->x_actor);
  free(s->x_critic);
  free(s->x_target);
  free(s->eps);
  free(s->pi_act);
  free(s->logp);
  free(s->y);
  free(s->d_critic_out);
  free(s->dx_critic);
  free(s->ga);
  free(s->gl);
  free(s->d_actor_out);
  o2o_nn_acts_destroy(s->actor_acts);
  o2o_nn_acts_destroy(s->critic_acts);
  o2o_nn_acts_destroy(s->target_acts);
  o2o_nn_acts_destroy(s->subset_acts);
  free(s->subset_p);
  o2o_nn_adam_free(&s->actor_opt);
  o2o_nn_adam_free(&s->critic_opt);
  o2o_nn_adam_free(&s->alpha_opt);
  free(s->tensors);
  free(s);
}

const o2o_sac_config *o2o_sac_get_config(const o2o_sac *s) {
  return &s->cfg;
}

/* ---- acting ---- */
void o2o_sac_act(o2o_sac *s, const float *obs, int n, int deterministic, float *actions) {
  o2o_sac_sync_state(s);
  const int A = s->act_dim, chunk = s->actor_acts->max_batch;
  const int L = s->actor_m.num_layers;
  for (int i0 = 0; i0 < n; i0 += chunk) {
    int m = n - i0 < chunk ? n - i0 : chunk;
    o2o_nn_mlp_forward(&s->actor_m, s->actor_p, obs + (size_t)i0 * s->obs_dim, s->obs_dim, m,
                       s->actor_acts);
    const float *out = s->actor_acts->out[L - 1];
    float *a = actions + (size_t)i0 * A;
    if (deterministic) {
      o2o_tg_mode(out, 2 * A, m, A, a);
    } else {
      o2o_nn_rng_normal(&s->rng, s->eps, m * A);
      o2o_tg_sample(out, 2 * A, m, A, s->cfg.log_std_min, s->cfg.log_std_max, s->eps, a, s->logp);
    }
  }
  o2o_sac_pack_state(s);
}

/* ---- update ---- */
static int check_field(const float *x, int rows, int cols, const char *name, int64_t step,
                       char *err, size_t errlen) {
  long i = o2o_nn_find_nonfinite(x, (size_t)rows * cols);
  if (i < 0) return 0;
  o2o_agent_errf(err, errlen, "batch.%s row %ld col %ld is %g (not finite) at update step %lld",
                 name, i / cols, i % cols, (double)x[i], (long long)step);
  return -1;
}

/* Name the tensor holding element `i` of a parameter array (for error messages). */
static const char *tensor_of(o2o_sac *s, const float *base, long i, long *local) {
  const float *p = base + i;
  for (int t = 0; t < s->num_tensors; t++) {
    const o2o_tensor_ref *r = &s->tensors[t];
    if (p >= r->data && p < r->data + o2o_tensor_numel(r)) {
      *local = (long)(p - r->data);
      return r->name;
    }
  }
  *local = i;
  return "?";
}

static int check_grads(o2o_sac *s, const float *grads, const float *params, size_t n,
                       const char *what, int64_t step, char *err, size_t errlen) {
  long i = o2o_nn_find_nonfinite(grads, n);
  if (i < 0) return 0;
  long local;
  const char *name = tensor_of(s, params, i, &local);
  o2o_agent_errf(err, errlen, "%s gradient of %s[%ld] is %g (not finite) at update step %lld", what,
                 name, local, (double)grads[i], (long long)step);
  return -1;
}

/* A non-finite parameter (including targets and log_alpha), named, or 0. */
static int check_params(o2o_sac *s, int64_t step, char *err, size_t errlen) {
  for (int t = 0; t < s->num_tensors; t++) {
    const o2o_tensor_ref *r = &s->tensors[t];
    if (strstr(r->name, "adam") || strncmp(r->name, "sac.", 4) == 0) continue;
    long i = o2o_nn_find_nonfinite(r->data, (size_t)o2o_tensor_numel(r));
    if (i >= 0) {
      o2o_agent_errf(err, errlen, "parameter %s[%ld] is %g (not finite) at update step %lld",
                     r->name, i, (double)r->data[i], (long long)step);
      return -1;
    }
  }
  return 0;
}

int o2o_sac_check_batch(o2o_sac *s, const o2o_batch *b, char *err, size_t errlen) {
  const int B = b->size, O = s->obs_dim, A = s->act_dim;
  const int64_t step = s->updates + 1;
  if (B < 1 || B > s->max_batch || b->obs_dim != O || b->act_dim != A) {
    o2o_agent_errf(
        err, errlen,
        "batch of %d rows, obs_dim %d, act_dim %d does not fit this SAC (1..%d rows, obs_dim "
        "%d, act_dim %d) at update step %lld",
        B, b->obs_dim, b->act_dim, s->max_batch, O, A, (long long)step);
    return -1;
  }
  if (check_field(b->obs, B, O, "obs", step, err, errlen) ||
      check_field(b->act, B, A, "act", step, err, errlen) ||
      check_field(b->rew, B, 1, "rew", step, err, errlen) ||
      check_field(b->next_obs, B, O, "next_obs", step, err, errlen) ||
      check_field(b->done, B, 1, "done", step, err, errlen) ||
      (b->weight && check_field(b->weight, B, 1, "weight", step, err, errlen)))
    return -1;
  /* parameters written from outside (a loaded checkpoint) or left broken: ~10 us */
  return check_params(s, step, err, errlen);
}

/* The critic ensemble's targets of the target subset (REDQ): target_subset distinct critics
 * drawn without replacement (partial Fisher-Yates), or all of them. */
void o2o_sac_draw_subset(o2o_sac *s) {
  const int N = s->cfg.num_critics;
  s->num_subset = s->cfg.target_subset > 0 ? s->cfg.target_subset : N;
  for (int k = 0; k < N; k++)
    s->subset[k] = k;
  if (s->num_subset == N) return;
  for (int i = 0; i < s->num_subset; i++) {
    int j = i + (int)(o2o_nn_rng_next(&s->rng) % (uint64_t)(N - i));
    int t = s->subset[i];
    s->subset[i] = s->subset[j];
    s->subset[j] = t;
  }
}

void o2o_sac_targets(o2o_sac *s, const o2o_batch *b, const float *pi_next, const float *logp_next,
                     float alpha) {
  const int B = b->size, O = s->obs_dim, A = s->act_dim, OA = O + A;
  const int N = s->cfg.num_critics, L = s->critic_m.num_layers;
  for (int r = 0; r < B; r++) {
    memcpy(s->x_target + (size_t)r * OA, b->next_obs + (size_t)r * O, sizeof(float) * O);
    memcpy(s->x_target + (size_t)r * OA + O, pi_next + (size_t)r * A, sizeof(float) * A);
  }
  const int M = s->num_subset, *ks = s->subset;
  int sub_idx[64];
  const float *qt;
  int ld = N;
  if (s->subset_acts && M == s->subset_m.ensemble) { /* only the drawn critics */
    o2o_nn_mlp_gather(&s->critic_m, s->target_p, ks, &s->subset_m, s->subset_p);
    o2o_nn_mlp_forward(&s->subset_m, s->subset_p, s->x_target, OA, B, s->subset_acts);
    qt = s->subset_acts->out[L - 1];
    ld = M;
    for (int k = 0; k < M; k++)
      sub_idx[k] = k;
    ks = sub_idx;
  } else {
    o2o_nn_mlp_forward(&s->critic_m, s->target_p, s->x_target, OA, B, s->target_acts);
    qt = s->target_acts->out[L - 1];
  }
  const float ent = s->cfg.backup_entropy ? alpha : 0.0f;
  for (int r = 0; r < B; r++) {
    float m = qt[(size_t)r * ld + ks[0]];
    for (int k = 1; k < M; k++) { /* a min that keeps NaN (fminf would drop it) */
      float v = qt[(size_t)r * ld + ks[k]];
      if (v < m || v != v) m = v;
    }
    s->y[r] = b->rew[r] + s->cfg.gamma * (1.0f - b->done[r]) * (m - ent * logp_next[r]);
  }
}

void o2o_sac_td_loss(o2o_sac *s, const o2o_batch *b, const float *q, float *d, double *loss,
                     double *q_sum) {
  const int B = b->size, N = s->cfg.num_critics;
  const float invB = 1.0f / (float)B;
  for (int r = 0; r < B; r++) {
    const float *qd = q + (size_t)r * N;
    float *dd = d + (size_t)r * N;
    const float wr = b->weight ? b->weight[r] : 1.0f; /* importance weight of the row */
    for (int k = 0; k < N; k++) {
      float e = qd[k] - s->y[r];
      *loss += (double)wr * e * e;
      *q_sum += qd[k];
      dd[k] = 2.0f * wr * e * invB;
    }
  }
}

void o2o_sac_actor_rows(o2o_sac *s, int B, const float *q, float *d, const float *logp, float alpha,
                        double *actor_loss, double *lp_sum) {
  const int N = s->cfg.num_critics;
  const float invB = 1.0f / (float)B;
  for (int r = 0; r < B; r++) {
    const float *qa = q + (size_t)r * N;
    int kmin = 0;
    for (int k = 1; k < N; k++)
      if (qa[k] < qa[kmin] || qa[k] != qa[k]) kmin = k;
    *actor_loss += (double)alpha * logp[r] - qa[kmin];
    *lp_sum += logp[r];
    float *da = d + (size_t)r * N;
    for (int k = 0; k < N; k++)
      da[k] = k == kmin ? -invB : 0.0f;
  }
}

float o2o_sac_temperature(o2o_sac *s, double lpm) {
  s->log_alpha_g[0] = (float)-(lpm + s->cfg.target_entropy);
  s->loss[2] = -(double)s->log_alpha[0] * (lpm + s->cfg.target_entropy);
  return -s->log_alpha[0] * (float)(lpm + s->cfg.target_entropy);
}

int o2o_sac_compute_grads(o2o_sac *s, const o2o_batch *b, o2o_sac_stats *st, char *err,
                          size_t errlen) {
  const int B = b->size, O = s->obs_dim, A = s->act_dim, OA = O + A;
  const int N = s->cfg.num_critics, L = s->actor_m.num_layers;
  const int64_t step = s->updates + 1;
  if (o2o_sac_check_batch(s, b, err, errlen)) return -1;
  const float alpha = expf(s->log_alpha[0]);
  const float lsmin = s->cfg.log_std_min, lsmax = s->cfg.log_std_max;

  /* 1. actor on [obs; next_obs] */
  memcpy(s->x_actor, b->obs, sizeof(float) * (size_t)B * O);
  memcpy(s->x_actor + (size_t)B * O, b->next_obs, sizeof(float) * (size_t)B * O);
  o2o_nn_mlp_forward(&s->actor_m, s->actor_p, s->x_actor, O, 2 * B, s->actor_acts);
  const float *aout = s->actor_acts->out[L - 1];
  if (!s->reuse_noise) {
    o2o_nn_rng_normal(&s->rng, s->eps, 2 * B * A);
    o2o_sac_draw_subset(s);
  }
  o2o_tg_sample(aout, 2 * A, 2 * B, A, lsmin, lsmax, s->eps, s->pi_act, s->logp);

  /* 2. targets (of the target subset of critics, REDQ; all by default) */
  o2o_sac_targets(s, b, s->pi_act + (size_t)B * A, s->logp + B, alpha);

  /* 3. critics on [(obs, pi(obs)); (obs, act)] */
  for (int r = 0; r < B; r++) {
    float *xa = s->x_critic + (size_t)r * OA, *xd = s->x_critic + (size_t)(B + r) * OA;
    memcpy(xa, b->obs + (size_t)r * O, sizeof(float) * O);
    memcpy(xa + O, s->pi_act + (size_t)r * A, sizeof(float) * A);
    memcpy(xd, b->obs + (size_t)r * O, sizeof(float) * O);
    memcpy(xd + O, b->act + (size_t)r * A, sizeof(float) * A);
  }
  o2o_nn_mlp_forward(&s->critic_m, s->critic_p, s->x_critic, OA, 2 * B, s->critic_acts);
  const float *q = s->critic_acts->out[L - 1];
  double actor_loss = 0.0, critic_loss = 0.0, q_sum = 0.0, lp_sum = 0.0;
  const float invB = 1.0f / (float)B;
  o2o_sac_actor_rows(s, B, q, s->d_critic_out, s->logp, alpha, &actor_loss, &lp_sum);
  o2o_sac_td_loss(s, b, q + (size_t)B * N, s->d_critic_out + (size_t)B * N, &critic_loss, &q_sum);
  actor_loss /= B;
  critic_loss /= B;

  /* 4. critic backward (weights from the data rows, action gradient of the policy rows) */
  o2o_nn_zero(s->critic_g, s->critic_m.num_params);
  o2o_nn_zero(s->actor_g, s->actor_m.num_params);
  o2o_nn_mlp_backward(&s->critic_m, s->critic_p, s->x_critic, OA, 2 * B, s->critic_acts,
                      s->d_critic_out, s->critic_g, B, B, s->dx_critic, B, OA);
  for (int r = 0; r < B; r++) {
    memcpy(s->ga + (size_t)r * A, s->dx_critic + (size_t)r * OA + O, sizeof(float) * A);
    s->gl[r] = alpha * invB;
  }
  o2o_tg_backward(aout, 2 * A, B, A, lsmin, lsmax, s->eps, s->pi_act, s->ga, s->gl, s->d_actor_out,
                  2 * A);
  o2o_nn_mlp_backward(&s->actor_m, s->actor_p, s->x_actor, O, B, s->actor_acts, s->d_actor_out,
                      s->actor_g, 0, B, NULL, 0, 0);

  /* 5. temperature */
  double lpm = lp_sum / B;
  float alpha_loss = o2o_sac_temperature(s, lpm);

  s->loss[0] = critic_loss;
  s->loss[1] = actor_loss;
  if (st) {
    st->critic_loss = (float)critic_loss;
    st->actor_loss = (float)actor_loss;
    st->alpha_loss = alpha_loss;
    st->alpha = alpha;
    st->q_mean = (float)(q_sum / ((double)B * N));
    st->log_pi_mean = (float)lpm;
  }

  /* 6. refuse non-finite losses and gradients */
  int bad = !isfinite(critic_loss) || !isfinite(actor_loss) || !isfinite(alpha_loss) ||
            o2o_nn_find_nonfinite(s->critic_g, s->critic_m.num_params) >= 0 ||
            o2o_nn_find_nonfinite(s->actor_g, s->actor_m.num_params) >= 0 ||
            !isfinite(s->log_alpha_g[0]);
  if (!bad) return 0;
  /* diagnose: the gradient, else the loss */
  if (check_grads(s, s->critic_g, s->critic_p, s->critic_m.num_params, "critic", step, err,
                  errlen) ||
      check_grads(s, s->actor_g, s->actor_p, s->actor_m.num_params, "actor", step, err, errlen) ||
      check_grads(s, s->log_alpha_g, s->log_alpha, 1, "temperature", step, err, errlen))
    return -1;
  o2o_agent_errf(
      err, errlen,
      "loss not finite at update step %lld: critic_loss %g, actor_loss %g, alpha_loss %g",
      (long long)step, critic_loss, actor_loss, (double)alpha_loss);
  return -1;
}

void o2o_sac_apply_grads(o2o_sac *s) {
  o2o_nn_adam_step(&s->alpha_opt, s->log_alpha, s->log_alpha_g);
  if (s->updates >= s->cfg.actor_delay) o2o_nn_adam_step(&s->actor_opt, s->actor_p, s->actor_g);
  o2o_sac_critic_step(s);
  s->updates++;
}

void o2o_sac_critic_step(o2o_sac *s) {
  o2o_nn_adam_step(&s->critic_opt, s->critic_p, s->critic_g);
  o2o_nn_polyak(s->target_p, s->critic_p, s->critic_m.num_params, s->cfg.tau);
}

int o2o_sac_update_with(o2o_sac *s, const o2o_batch *batch, o2o_sac_stats *stats,
                        o2o_sac_extra_fn extra, void *ctx, char *err, size_t errlen) {
  o2o_sac_sync_state(s);
  o2o_nn_rng saved = s->rng;
  if (s->cfg.critic_steps > 1) {
    if (extra) {
      o2o_agent_errf(err, errlen, "an extra loss term needs critic_steps = 1 (it is %d)",
                     s->cfg.critic_steps);
      return -1;
    }
    int rc = o2o_sac_update_redq(s, batch, stats, err, errlen);
    if (rc) s->rng = saved;
    o2o_sac_pack_state(s);
    return rc;
  }
  if (o2o_sac_compute_grads(s, batch, stats, err, errlen) ||
      (extra && (extra(ctx, s, batch, err, errlen) ||
                 check_grads(s, s->critic_g, s->critic_p, s->critic_m.num_params,
                             "with the extra loss term, the", s->updates + 1, err, errlen) ||
                 check_grads(s, s->actor_g, s->actor_p, s->actor_m.num_params,
                             "with the extra loss term, the", s->updates + 1, err, errlen)))) {
    s->rng = saved; /* nothing changes on failure, the rng included */
    return -1;
  }
  o2o_sac_apply_grads(s);
  o2o_sac_pack_state(s);
  return 0;
}

int o2o_sac_update(o2o_sac *s, const o2o_batch *batch, o2o_sac_stats *stats, char *err,
                   size_t errlen) {
  return o2o_sac_update_with(s, batch, stats, NULL, NULL, err, errlen);
}
