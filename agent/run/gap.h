/* gap.h: direct measurement of the dynamics gap between a real dataset and a simulator
 * variant (`o2o gap`): the ground truth that H2O's discriminators only estimate.
 *
 * For M transitions (s, a, s') of the dataset, each env of the chosen variant is set to the
 * recorded state of s (SET_STATE, all envs of the pool in parallel), steps the recorded action
 * once, and its next observation is compared with the recorded s'. On the variant that
 * recorded the data this replays exactly (error 0); on the sim variant the error is the gap.
 *
 * The recorded state comes from `infos/sim_state` (the full GET_STATE layout, written by
 * `o2o collect`): the physics part (time, qpos, qvel, act, qacc_warmstart) always, the rest
 * (episode step, action-delay queue, RNG) only when the env's action delay equals the
 * recording's (else the env's own). A D4RL file with only `infos/qpos` and `infos/qvel` is
 * replayed from them with act = 0 and qacc_warmstart = 0: the solver's warm start differs, so
 * replay is exact to solver tolerance, not bit for bit. */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct o2o_gap_config {
  const char *dataset;    /* file or name (o2o_dataset_find) */
  const char *scenario;   /* name or path */
  const char *variant;    /* "sim" (default) or "real" */
  int64_t transitions;    /* M, default 10000; 0 or more than the file holds = all */
  uint64_t seed;          /* which rows (a seeded sample without replacement when M < N) */
  int procs;              /* o2o-sim processes, default 2 */
  int envs_per_proc;      /* default 64 */
  const char *sim_exe;    /* NULL: next to the running program */
  const char *checkpoint; /* optional H2O checkpoint: rank its discriminators against truth */
  int progress;           /* progress line on stderr */
} o2o_gap_config;

void o2o_gap_config_default(o2o_gap_config *cfg);

typedef struct o2o_gap_result {
  int obs_dim;
  int64_t n;               /* transitions measured */
  char state_source[32];   /* "infos/sim_state" or "infos/qpos+qvel" */
  double *mean_abs;        /* [obs_dim] mean |s'_sim - s'_data| */
  double *p95_abs;         /* [obs_dim] 95th percentile of it */
  double *data_std;        /* [obs_dim] std of the dataset's next observations */
  double *mean_std_units;  /* [obs_dim] mean_abs / data_std */
  double *p95_std_units;   /* [obs_dim] */
  double overall_mean_std; /* mean over dims of mean_std_units */
  double overall_max_abs;  /* largest single error */
  float *row_error;        /* [n] mean over dims of |error| / data_std (for the histogram) */
  double seconds, rate;    /* wall time of the replay, transitions/s */
  /* with a checkpoint (NAN otherwise): */
  double spearman;      /* rank correlation of -log w with row_error */
  double disc_accuracy; /* real (s,a,s'_data) called real and (s,a,s'_sim) called sim */
  double log_w_mean_real, log_w_mean_sim;
} o2o_gap_result;

/* Runs the replay. Returns 0, or -1 with err (dataset without states: which keys it needs
 * and how to record them; a dataset of other dims than the scenario: both named). */
int o2o_gap_measure(const o2o_gap_config *cfg, o2o_gap_result *res, char *err, size_t errlen);
void o2o_gap_result_free(o2o_gap_result *res);

/* Spearman rank correlation of x and y (ties get their mean rank); NAN when n < 2 or a
 * side is constant. */
double o2o_gap_spearman(const double *x, const double *y, int64_t n);
