/* train_internal.h: what the files of the online loop share: the state of one run (train.c:
 * the loop; train_state.c: the learner, buffers and run files it starts from, checkpoints;
 * train_eval.c: evaluations, metrics.csv rows, progress lines). Not a public header. */
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "io/checkpoint.h"
#include "io/progress.h"
#include "run/dataset_load.h"
#include "run/train.h"
#include "replay/replay.h"

#define TRN_RECENT 10 /* training episodes in the running mean */
#define TRN_NSTATS 15 /* update statistics averaged into metrics.csv (train_eval.c) */

/* Everything one run owns, freed in one place (trn_free). */
typedef struct {
  const o2o_train_config *cfg; /* &run_cfg once trn_setup ran, the caller's before */
  o2o_train_config run_cfg;    /* the caller's, with the run's warm start source */
  o2o_train_env *env, *eval_env;
  const o2o_bridge_spec *spec;
  int E, O, A;
  o2o_learner *learner;
  int utd, batch_size;     /* the learner's */
  int64_t start_step;      /* env step the run starts from (a resumed run's checkpoint) */
  o2o_replay *rb;          /* what the training env produced (the sim buffer when mixed) */
  o2o_loaded_dataset real; /* cfg->real_dataset: the real buffer */
  double real_frac;        /* rows of each batch from the real buffer; < 0: none */
  o2o_batch batch;
  float *obs, *unit, *scaled; /* [E][O], [E][A], [E][A] */
  double *ep_ret;             /* [E] */
  double *eval_returns;       /* [eval_episodes] */
  double recent[TRN_RECENT];
  int recent_n, recent_pos, episodes;
  double last_return;
  uint64_t rng, warm_rng; /* replay sampling, warm-up actions */
  FILE *metrics;
  char ckpt_path[1024], final_path[1024], replay_path[1024];
  int64_t ckpt_step; /* env step of the last good checkpoint, -1 none */
  int hist_evals;    /* evaluations a resumed run's metrics.csv kept (its best is res's) */
  /* running means of update statistics since the last metrics row */
  double st_sum[TRN_NSTATS];
  int64_t st_n[TRN_NSTATS];
  double last_alpha;
  int64_t warmup_end;       /* uniform random actions before this env step (start_steps) */
  int64_t learn_from;       /* no updates before this env step: max(start_steps, warmup_steps) */
  int64_t learn_start_step; /* learn phase began at this env step (-1 not yet) */
  char init_from[O2O_CKPT_VALLEN]; /* a resumed run's warm start source (its checkpoint's) */
  double learn_start_t;
  double t0, last_eval_mean;
  int have_eval;
  o2o_progress prog; /* the [train] line: in place on a terminal, whole lines in a log */
} trn_run;

/* train_state.c */
/* The learner (resumed, warm-started or fresh), the real buffer, the replay buffer and the
 * run's arrays, then (cfg->out_dir) metrics.csv and config.json. Sets r->start_step. */
int trn_setup(trn_run *r, o2o_train_result *res, char *err, size_t errlen);
/* The learner to path with the run's metadata; path == r->ckpt_path records r->ckpt_step. */
int trn_checkpoint(trn_run *r, const char *path, int64_t env_steps, char *err, size_t errlen);
void trn_free(trn_run *r);

/* train_eval.c */
double trn_recent_mean(const trn_run *r); /* of the last TRN_RECENT training episodes */
double trn_eval_std(const trn_run *r);    /* population std of the last evaluation's returns */
int trn_write_metrics_header(FILE *f);
/* Add one update's statistics to the running means of the next metrics row. */
void trn_add_stats(trn_run *r, const o2o_learner_stats *st);
/* eval_episodes deterministic episodes on the eval env, one metrics.csv row, an [eval] line;
 * then res's best and count of evaluations (the first one is the best so far). */
int trn_evaluate(trn_run *r, o2o_train_result *res, int64_t env_steps, int64_t updates, char *err,
                 size_t errlen);
/* The [train] line (r->prog: at most every 0.5 s on a terminal, 10 s otherwise). */
void trn_progress_line(trn_run *r, int64_t env_steps, int64_t updates, double *last_t,
                       int64_t *last_steps, int64_t *last_updates);
