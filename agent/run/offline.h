/* offline.h: offline training of any offline learner (IQL, CQL, Cal-QL) from a fixed dataset,
 * what `o2o train-offline` runs.
 *
 *   1. the dataset is checked against the scenario (obs/act dims, and the task when the file
 *      names one) before anything trains, then read straight into a replay buffer
 *   2. optional preprocessing, recorded in the checkpoint: reward scale (locomotion IQL:
 *      1000 / (max - min episode return)), observation normalisation (dataset mean/std, CORL)
 *   3. `steps` gradient steps on uniform batches; every eval_every steps the deterministic
 *      policy plays eval_episodes episodes on the scenario's REAL variant through o2o-sim
 *      (one metrics.csv row, a progress line: steps, updates/s, return, D4RL score, ETA)
 *   4. checkpoint.safetensors every checkpoint_every steps and final.safetensors at the end,
 *      written atomically, naming the learner, its full config and the run's keys
 *      (phase=offline, step, scenario, dataset, reward_scale), so o2o_learner_load rebuilds it
 *   5. resume: the checkpoint alone rebuilds the learner; the run continues in its folder,
 *      metrics.csv rows past the checkpoint's step are dropped
 * A non-finite loss stops training with the tensor and step named; the last good checkpoint
 * stays untouched. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "learn/learner.h"

typedef struct o2o_offline_config {
  const char *dataset;      /* file or name (o2o_dataset_find) */
  const char *scenario;     /* name or path; evaluation runs on its real variant */
  const char *algo;         /* "iql", "cql", "calql" */
  const void *algo_cfg;     /* the algorithm's config struct, NULL = its defaults */
  uint64_t seed;            /* learner init, batch sampling (streams derived from it) */
  int64_t steps;            /* gradient steps, default 100000 */
  int64_t eval_every;       /* default 5000; 0 = only at the end */
  int eval_episodes;        /* default 10 */
  uint64_t eval_seed;       /* episode j of every evaluation starts from eval_seed + j */
  int64_t checkpoint_every; /* default 10000; 0 = final only */
  double reward_scale;      /* 0 (default): rewards as recorded; > 0: multiply; < 0: locomotion
                               rule 1000 / (max - min return over the dataset's episodes) */
  int normalize_obs;        /* dataset mean/std normalisation (std + 1e-3, CORL), default 0 */
  const char *out_dir;      /* run folder; NULL = no files */
  const char *resume;       /* a checkpoint of this command: continue from it */
  int overwrite;            /* allow an out_dir that already holds a run */
  const char *sim_exe;      /* NULL: next to the running program */
  int progress;             /* progress on stderr */
} o2o_offline_config;

void o2o_offline_config_default(o2o_offline_config *cfg);

typedef struct o2o_offline_result {
  int64_t steps; /* gradient steps done (in all, resumed ones included) */
  double wall_s;
  int evals;
  double last_eval_mean, last_eval_std, best_eval_mean;
  double last_score;          /* D4RL score of the last evaluation, NAN if none */
  double dataset_return_mean; /* mean return of the dataset's complete episodes */
  double reward_scale;        /* the one applied (1 when none) */
  char last_checkpoint[1024];
} o2o_offline_result;

int o2o_offline_run(const o2o_offline_config *cfg, o2o_offline_result *res, char *err,
                    size_t errlen);
