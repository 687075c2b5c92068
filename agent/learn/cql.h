/* cql.h: Conservative Q-Learning (Kumar et al., NeurIPS 2020, "Conservative Q-Learning for
 * Offline Reinforcement Learning") and Cal-QL (Nakamoto et al., NeurIPS 2023, "Cal-QL:
 * Calibrated Offline RL Pre-Training for Efficient Online Fine-Tuning"), continuous actions,
 * built on SAC's update (sac_internal.h) as github.com/young-geng/CQL (SimpleSAC),
 * github.com/nakamotoo/Cal-QL (JaxCQL) and github.com/corl-team/CORL (algorithms/offline/cql.py,
 * algorithms/finetune/cal_ql.py) do.
 *
 * Critic loss of critic k: SAC's TD error (no entropy term in the target by default) plus
 *   alpha_cql * mean_s clip(T logsumexp_j((Q_k(s, a_j) - log q(a_j)) / T) - Q_k(s, a_data))
 * over 3 n_actions samples per state: n uniform in [-1, 1]^A (log q = A log 0.5), n from pi(.|s)
 * and n from pi(.|s') -- all three scored at s -- with log q = log pi (detached). Sampled
 * actions are constants. Cal-QL bounds the two policy kinds below by the row's Monte-Carlo
 * return-to-go G before the correction: Q <- max(Q, G) (no gradient where Q < G).
 * Lagrange option: alpha' = clamp(exp(log alpha'), 0, 1e6) multiplies alpha_cql (diff - gap)
 * and log alpha' ascends on that term (lr = critic_lr, log alpha' starts at 1).
 * Max-target backup: y = r + gamma (1 - d) max_i min_k Qt_k(s', a'_i) over n_actions a'.
 *
 * All 1 + 3n actions per state go through ONE stacked critic forward ([(1 + 3n) B] rows: the
 * data row then the samples), so each layer is one matrix product per critic member, and one
 * backward adds the penalty's gradient (and the max-backup correction of the TD gradient) into
 * SAC's accumulated critic gradients (o2o_sac_update_with). Both passes run over the stack in
 * cache-sized blocks of rows (each mixing samples of many states; 512 rows for 2x256 critics),
 * which measured ~20% faster than one 7936-row product per layer.
 *
 * Differences from the reference codes, on purpose:
 *   - the actor is SAC's (log-std head clamped to [log_std_min, log_std_max]), without
 *     SimpleSAC/CORL's trainable log-std multiplier and offset scalars;
 *   - the max-target backup reuses SAC's TD pass: its gradient is moved from SAC's target to
 *     the max target by 2 w (y_sac - y_max) / B on the stack's data rows (exact: the loss is
 *     quadratic in Q), so SAC's one-sample target forward is computed and then replaced;
 *   - Monte-Carlo returns (replay.h o2o_mc_returns) keep the timed-out row that D4RL's
 *     qlearning_dataset drops, so G there is its own reward (tail 0, as the official code). */
#pragma once
#include "learn/learner.h"
#include "learn/sac.h"

#define O2O_CQL_MAX_SAMPLES 768 /* 3 n_actions at most (n_actions <= 256) */

typedef struct o2o_cql_config {
  o2o_sac_config sac;      /* backup_entropy 0, last_layer_gain 1e-2 (the CQL family's init) */
  int n_actions;           /* samples per kind (uniform, pi(s), pi(s')), default 10 */
  float alpha_cql;         /* penalty weight (cql_min_q_weight), default 5; CORL locomotion 10 */
  float temp;              /* logsumexp temperature (cql_temp), default 1 */
  float clip_diff_min;     /* clip of LSE - Q(s, a_data), default -FLT_MAX (none, as CORL) */
  float clip_diff_max;     /* default FLT_MAX */
  int max_target_backup;   /* default 0 (CORL, SimpleSAC); Cal-QL repo 1 */
  int lagrange;            /* automatic alpha' with target action gap, default 0 */
  float target_gap;        /* cql_target_action_gap, default 1 (Cal-QL antmaze 0.8) */
  float init_log_alpha_pr; /* log alpha' at start, default 1 (CORL Scalar(1.0)) */
  int calibrate;           /* Cal-QL's bound on; cql 0, calql 1 (switch off online) */
  int bound_random;        /* also bound the uniform samples, default 0 (official) */
  int sparse_reward;       /* Cal-QL returns-to-go: all-reward_neg episodes -> r/(1-gamma) */
  float reward_neg;        /* the failure reward of a sparse task, default 0 */
  int mc_infinite_horizon; /* returns-to-go of truncated episodes continue with r_T/(1-gamma)
                              (official code's kitchen setting), default 0 (tail 0) */
} o2o_cql_config;

void o2o_cql_config_default(o2o_cql_config *cfg);   /* CQL */
void o2o_calql_config_default(o2o_cql_config *cfg); /* Cal-QL: calibrate 1, max backup 1,
                                                       actor/alpha lr 1e-4 (Cal-QL repo) */

extern const o2o_learner_algo o2o_algo_cql;
extern const o2o_learner_algo o2o_algo_calql; /* columns = O2O_COLUMN_MC_RETURN */

/* The penalty of one critic over B states (the pure core, exported for tests):
 *   q_data[r * ldq]                 Q(s_r, a_data_r)
 *   q_samp[(j * B + r) * ldq]       Q(s_r, a_j) of sample j = 0 .. S-1 (S = 3n)
 *   logq[j * B + r]                 log q(a_j) of that sample (the importance correction)
 *   bound (NULL = none), bound_lo:  samples j >= bound_lo use max(Q, bound[r])
 * S <= O2O_CQL_MAX_SAMPLES (else NAN). Returns mean_r clip(T LSE_j((Q_jr - logq_jr) / T) -
 * q_data_r, clip_lo, clip_hi) in double; with d_data / d_samp (same strides as q, may be NULL) its
 * gradient w.r.t. each Q, written; *bound_rate (may be NULL) the fraction of bounded samples with Q
 * < bound. */
double o2o_cql_penalty(const float *q_data, const float *q_samp, int ldq, int B, int S,
                       const float *logq, const float *bound, int bound_lo, double temp,
                       double clip_lo, double clip_hi, float *d_data, float *d_samp,
                       double *bound_rate);

/* For tests (self = what o2o_algo_cql/calql.create returned). */
struct o2o_sac;
struct o2o_sac *o2o_cql_test_sac(void *self);
/* The whole critic loss (TD + penalty) of batch b with its gradient left in the SAC critic's
 * gradient buffer; no step. first != 0 draws SAC's noise and the penalty's samples, 0 reuses
 * them (finite differences). */
double o2o_cql_test_critic_loss(void *self, const o2o_batch *b, int first, char *err,
                                size_t errlen);
/* The penalty's samples of the last update: uniform actions [n][B][A] and the normal noise
 * [3][n][B][A] of the pi(s), pi(s') and max-backup a' samples, writable (set them, then call
 * with first = 0). */
/* Rows per block of the stacked critic pass (default: cache-sized, at least 64; >= R = one
 * pass). */
void o2o_cql_test_set_block_rows(void *self, int rows);
float *o2o_cql_test_uniform(void *self);
float *o2o_cql_test_eps(void *self);
/* Losses of the last update/critic loss: TD part, penalty part (alpha-weighted, summed over
 * critics), and per-critic raw differences (mean LSE - Q_data). */
void o2o_cql_test_losses(void *self, double *td, double *penalty, double *diff0, double *diff1);
