/* sac_redq.c: SAC's high update-to-data update (critic_steps > 1), as WSRL fine-tunes with
 * REDQ-SAC (Chen et al. 2021, "Randomized Ensembled Double Q-Learning"; Zhou et al. 2024,
 * github.com/zhouzypaul/wsrl, agents/sac.py update_high_utd):
 *   the batch of B rows is split into K = critic_steps consecutive minibatches of B/K rows;
 *   for each: a' ~ pi(s'), the target's min over target_subset randomly drawn target critics,
 *   the critic loss sum_k mean (Q_k - y)^2, one Adam step on the critics and one Polyak step;
 *   then one actor step on all B rows against the min over ALL (updated) critics and one
 *   temperature step from the same log pi.
 * The losses are SAC's own (sac.c: o2o_sac_targets, o2o_sac_td_loss, o2o_sac_actor_rows,
 * o2o_sac_temperature); only the order of the steps differs.
 * On a non-finite gradient in critic step k the steps before k stay applied (each is a whole
 * SAC critic step); the loop stops the run and keeps its last good checkpoint. Batch entries
 * and parameters are checked before anything changes. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "learn/sac_internal.h"
#include "nn/tanh_gaussian.h"

static int nonfinite(const char *what, long i, const float *g, int64_t step, char *err,
                     size_t errlen) {
  o2o_agent_errf(err, errlen, "%s gradient [%ld] is %g (not finite) at update step %lld", what, i,
                 (double)g[i], (long long)step);
  return -1;
}

int o2o_sac_update_redq(o2o_sac *s, const o2o_batch *b, o2o_sac_stats *st, char *err,
                        size_t errlen) {
  if (o2o_sac_check_batch(s, b, err, errlen)) return -1;
  const int B = b->size, O = s->obs_dim, A = s->act_dim, OA = O + A;
  const int N = s->cfg.num_critics, L = s->actor_m.num_layers, K = s->cfg.critic_steps;
  const int64_t step = s->updates + 1;
  if (B % K) {
    o2o_agent_errf(err, errlen,
                   "REDQ update: a batch of %d rows does not split into %d critic steps", B, K);
    return -1;
  }
  const int mb = B / K;
  const float alpha = expf(s->log_alpha[0]);
  const float lsmin = s->cfg.log_std_min, lsmax = s->cfg.log_std_max;
  /* noise: rows [0, B) for the next actions of the critic steps, [B, 2B) for the actor step */
  if (!s->reuse_noise) o2o_nn_rng_normal(&s->rng, s->eps, 2 * B * A);
  const float *aout = s->actor_acts->out[L - 1];
  const float *q = s->critic_acts->out[L - 1];
  double critic_loss = 0.0, q_sum = 0.0;

  for (int k = 0; k < K; k++) {
    const size_t r0 = (size_t)k * mb;
    o2o_batch mini = *b; /* a view of rows [r0, r0 + mb) */
    mini.size = mb;
    mini.obs = b->obs + r0 * O;
    mini.act = b->act + r0 * A;
    mini.rew = b->rew + r0;
    mini.next_obs = b->next_obs + r0 * O;
    mini.done = b->done + r0;
    mini.is_real = b->is_real ? b->is_real + r0 : NULL;
    mini.weight = b->weight ? b->weight + r0 : NULL;
    mini.mc_return = b->mc_return ? b->mc_return + r0 : NULL;
    /* a' ~ pi(s') and the target of the subset drawn for this step */
    o2o_nn_mlp_forward(&s->actor_m, s->actor_p, mini.next_obs, O, mb, s->actor_acts);
    o2o_tg_sample(aout, 2 * A, mb, A, lsmin, lsmax, s->eps + r0 * A, s->pi_act, s->logp);
    if (!s->reuse_noise) o2o_sac_draw_subset(s);
    o2o_sac_targets(s, &mini, s->pi_act, s->logp, alpha);
    for (int r = 0; r < mb; r++) {
      float *xd = s->x_critic + (size_t)r * OA;
      memcpy(xd, mini.obs + (size_t)r * O, sizeof(float) * O);
      memcpy(xd + O, mini.act + (size_t)r * A, sizeof(float) * A);
    }
    o2o_nn_mlp_forward(&s->critic_m, s->critic_p, s->x_critic, OA, mb, s->critic_acts);
    double loss = 0.0;
    o2o_sac_td_loss(s, &mini, q, s->d_critic_out, &loss, &q_sum);
    critic_loss += loss / mb / K;
    o2o_nn_zero(s->critic_g, s->critic_m.num_params);
    o2o_nn_mlp_backward(&s->critic_m, s->critic_p, s->x_critic, OA, mb, s->critic_acts,
                        s->d_critic_out, s->critic_g, 0, mb, NULL, 0, 0);
    long bad = o2o_nn_find_nonfinite(s->critic_g, s->critic_m.num_params);
    if (bad >= 0) return nonfinite("critic", bad, s->critic_g, step, err, errlen);
    o2o_sac_critic_step(s);
  }

  /* the actor on all rows against the min over all updated critics */
  o2o_nn_mlp_forward(&s->actor_m, s->actor_p, b->obs, O, B, s->actor_acts);
  const float *eps_pi = s->eps + (size_t)B * A;
  o2o_tg_sample(aout, 2 * A, B, A, lsmin, lsmax, eps_pi, s->pi_act, s->logp);
  for (int r = 0; r < B; r++) {
    float *xa = s->x_critic + (size_t)r * OA;
    memcpy(xa, b->obs + (size_t)r * O, sizeof(float) * O);
    memcpy(xa + O, s->pi_act + (size_t)r * A, sizeof(float) * A);
  }
  o2o_nn_mlp_forward(&s->critic_m, s->critic_p, s->x_critic, OA, B, s->critic_acts);
  double actor_loss = 0.0, lp_sum = 0.0;
  o2o_sac_actor_rows(s, B, q, s->d_critic_out, s->logp, alpha, &actor_loss, &lp_sum);
  actor_loss /= B;
  o2o_nn_mlp_backward(&s->critic_m, s->critic_p, s->x_critic, OA, B, s->critic_acts,
                      s->d_critic_out, NULL, 0, 0, s->dx_critic, B, OA);
  const float invB = 1.0f / (float)B;
  for (int r = 0; r < B; r++) {
    memcpy(s->ga + (size_t)r * A, s->dx_critic + (size_t)r * OA + O, sizeof(float) * A);
    s->gl[r] = alpha * invB;
  }
  o2o_tg_backward(aout, 2 * A, B, A, lsmin, lsmax, eps_pi, s->pi_act, s->ga, s->gl, s->d_actor_out,
                  2 * A);
  o2o_nn_zero(s->actor_g, s->actor_m.num_params);
  o2o_nn_mlp_backward(&s->actor_m, s->actor_p, b->obs, O, B, s->actor_acts, s->d_actor_out,
                      s->actor_g, 0, B, NULL, 0, 0);
  const double lpm = lp_sum / B;
  const float alpha_loss = o2o_sac_temperature(s, lpm);
  long bad = o2o_nn_find_nonfinite(s->actor_g, s->actor_m.num_params);
  if (bad >= 0) return nonfinite("actor", bad, s->actor_g, step, err, errlen);
  if (!isfinite(s->log_alpha_g[0]))
    return nonfinite("temperature", 0, s->log_alpha_g, step, err, errlen);
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
  o2o_nn_adam_step(&s->alpha_opt, s->log_alpha, s->log_alpha_g);
  if (s->updates >= s->cfg.actor_delay) o2o_nn_adam_step(&s->actor_opt, s->actor_p, s->actor_g);
  s->updates++;
  return 0;
}
