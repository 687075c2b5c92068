/* train.h: the online training loop (any learner of learner.h through the bridge pool),
 * evaluation, run files.
 *
 * o2o_train_online is what `o2o train-online` runs: it spawns a pool of o2o-sim children
 * for training (variant cfg->variant) and a second pool of the real variant for
 * evaluation, then calls o2o_train_run. o2o_train_run works on any o2o_train_env, so tests
 * can drive the same loop with an in-process environment.
 *
 * Loop (one iteration = one step of all E envs = E env steps):
 *   (warm start: the learner comes from cfg->init_from, and an evaluation at step 0 scores it)
 *   act (uniform random for the first start_steps env steps, then sampled from the policy;
 *   no updates before max(start_steps, warmup_steps)),
 *   scale [-1, 1] to the env's bounds, send the step; while the simulators run, do
 *   utd * E gradient updates (once start_steps env steps were taken and the buffer holds a
 *   batch); receive; store (obs, a, r, final_obs, terminated) -- done = terminated only,
 *   next_obs = the final observation on autoreset (SAME_STEP).
 *   Every eval_every env steps: eval_episodes deterministic episodes on the real variant
 *   (fixed seeds), one metrics.csv row. Every checkpoint_every env steps: checkpoint.safetensors
 *   (atomic). At the end: final.safetensors and a last evaluation.
 * A non-finite value (env output, batch, loss or gradient) stops the run with an error that
 * names it and the step; no checkpoint is written after it, so the last good one stays. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "o2o_bridge.h"
#include "learn/learner.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An environment batch as the loop sees it (the pool, or a test's in-process env).
 * Same meaning as the o2o_pool_* calls. */
typedef struct o2o_train_env {
  void *ctx;
  const o2o_bridge_spec *(*spec)(void *ctx);
  int (*reset)(void *ctx, uint64_t seed, float *obs, char *err, size_t errlen);
  int (*step_send)(void *ctx, const float *actions, char *err, size_t errlen);
  int (*step_recv)(void *ctx, o2o_bridge_batch *out, char *err, size_t errlen);
  void (*destroy)(void *ctx);
  /* Optional (NULL = never): [num_envs] flags of the last step's rows whose step was lost to
   * a simulator fault (o2o_pool_lost): no transition happened, so none is stored. */
  const uint8_t *(*lost)(void *ctx);
} o2o_train_env;

/* Wrap a pool created from cfg (owned by the env: destroyed by env->destroy). */
int o2o_train_env_pool(o2o_train_env *env, const o2o_pool_config *cfg, char *err, size_t errlen);

typedef struct o2o_train_config {
  const char *scenario;     /* name or path */
  const char *variant;      /* training variant: "real" (default) or "sim" */
  uint64_t seed;            /* every stream of the run: o2o_seed_stream(seed, O2O_STREAM_*) */
  int64_t steps;            /* total env steps, default 100000 */
  int envs_per_proc;        /* envs per o2o-sim process, default 1 */
  int procs;                /* o2o-sim processes for training, default 1 */
  const char *sim_exe;      /* NULL: next to the running program */
  const char *connect;      /* comma-separated endpoints of running o2o-sim servers to train
                               in (procs/envs_per_proc unused); NULL = spawn. Evaluation
                               still spawns a local real-variant o2o-sim. */
  const char *out_dir;      /* run directory (created); NULL = write no files */
  int64_t eval_every;       /* env steps between evaluations, default 10000; 0 = only at the end */
  int eval_episodes;        /* default 10 */
  uint64_t eval_seed;       /* episode j of every evaluation starts from seed eval_seed + j,
                               as in `o2o eval --seed` (fixed, so runs are comparable); the
                               training streams are hashed from seed and cannot meet them */
  int64_t checkpoint_every; /* env steps between checkpoints, default 50000; 0 = final only */
  int64_t replay_capacity;  /* default min(steps, 1000000) */
  int progress;             /* progress line on stderr */
  int validate_transitions; /* reject non-finite env outputs before they enter the buffer
                               (default 1; 0 leaves the check to the learner's update) */
  double stop_at_return;    /* > 0: stop early once an evaluation's mean reaches it */
  int overwrite;            /* allow an out_dir that already holds a run (else an error) */
  const char *resume;       /* checkpoint to continue from: the learner is rebuilt from the
                               file alone (algorithm, config, every tensor incl. Adam and
                               rng); counting resumes at its "step", which must be below
                               steps; metrics.csv rows past it are cut. The replay buffer
                               comes back from replay.safetensors beside it (replay_file.h);
                               without one of its step it refills before updates resume. */
  const char *real_dataset; /* real data for learners that mix it into their batches (H2O:
                               o2o_learner_real_fraction >= 0): the dataset becomes the real
                               buffer, its observation mean/std go to o2o_learner_set_data_stats,
                               and the sim buffer fills from the training env. NULL = none */
  const char *algorithm;    /* learner name (learner.h registry), default "sac" */
  const void *learner_config; /* that algorithm's config struct; NULL = its defaults. The
                                 loop reads the fields "utd" (updates per env step, default
                                 1) and "start_steps" (random warm-up, default 0) from it
                                 when the algorithm has them. Ignored on resume. */
  const char *init_from;      /* checkpoint of a pretrained learner (any offline algo): the online
                                 learner is created with that checkpoint's architecture and takes
                                 every tensor it can (warm start, WSRL: o2o_learner_warm_start;
                                 algorithm and the other settings from algorithm /
                                 learner_config). Its start_steps is 0 unless learner_config sets
                                 another than the default. An evaluation at step 0 scores the
                                 pretrained policy. NULL = fresh. Ignored on resume. */
  int64_t warmup_steps;       /* first K env steps act with the (pretrained) policy, sampled, and
                                 do no updates (they fill the buffer); updates start at
                                 max(K, start_steps). Applies on resume too (a run resumed before
                                 K stays in warm-up). 0 = none */
} o2o_train_config;

void o2o_train_config_default(o2o_train_config *cfg);

/* Run files (train_files.c). */
/* Checkpoint of the whole learner, written atomically, with the learner's metadata
 * (o2o_learner_meta: algorithm, dims, every config field) and the run's: format,
 * o2o_version, scenario (+ scenario_arg, the name or path the run was given), task, variant,
 * act_low/act_high, step, and the run settings resume needs (seed, steps, envs_per_proc,
 * procs, eval_every, eval_episodes, eval_seed, checkpoint_every, replay_capacity; init_from
 * and warmup_steps when set). */
int o2o_train_save_checkpoint(const char *path, o2o_learner *l, const o2o_train_config *cfg,
                              const o2o_bridge_spec *spec, int64_t env_steps, char *err,
                              size_t errlen);
/* The checkpoint's act_low/act_high (when it records them) against the scenario's bounds:
 * 0, or -1 with err naming the component and both values (a policy scaled to other bounds
 * would act wrongly). Also checks the scenario's bounds are finite with low < high. */
struct o2o_ckpt_meta;
int o2o_train_check_bounds(const struct o2o_ckpt_meta *m, const char *path,
                           const o2o_bridge_spec *spec, char *err, size_t errlen);
/* Keep the header and the rows of metrics.csv at path whose step is <= step (a resumed run
 * drops the killed run's rows past its checkpoint); rewritten atomically. */
int o2o_train_cut_metrics(const char *path, int64_t step, char *err, size_t errlen);
/* The best eval_return_mean among the rows of metrics.csv at path (a resumed run's history, so
 * its "best" is the whole run's): the number of rows with an evaluation (0: no file or none);
 * *best and *best_step (may be NULL) are set when it is > 0. */
int o2o_train_metrics_best(const char *path, double *best, int64_t *best_step);
/* The folder of a file path into out ("." for a bare name): a checkpoint's run folder. */
void o2o_train_dir_of(const char *path, char *out, size_t cap);
/* Seconds left: warm-up steps are cheap (no updates), so the rate of the learning phase
 * (learn_rate, env steps/s; <= 0 unknown) prices the learning steps, warm_rate the warm-up
 * ones. -1 when a needed rate is unknown. */
double o2o_train_eta_s(int64_t done, int64_t total, int64_t warmup_end, double warm_rate,
                       double learn_rate);
/* A run folder whose run stopped with an error gets dir/FAILED, one JSON object {"error",
 * "step"}, so it cannot be mistaken for a finished run (finished runs have final.safetensors
 * and no FAILED); a run that starts again in the folder (resume) removes it first. */
int o2o_train_mark_failed(const char *dir, const char *error, int64_t step);
void o2o_train_clear_failed(const char *dir);
/* The resolved config as JSON (run_dir/config.json): what the run uses, every default filled
 * in, plus the command line, git commit, host and start time (o2o_json_invocation), with
 * init_from, warmup_steps and warm (NULL = not warm-started by this run: null) as
 * "warm_start": {source, source_algorithm, source_step, copied, converted, fresh, dropped}. */
int o2o_train_write_config(const char *path, const o2o_train_config *cfg,
                           const o2o_bridge_spec *spec, const o2o_learner *l,
                           const o2o_warm_report *warm, char *err, size_t errlen);
/* Create a new run folder exclusively: want, else want-2, want-3, ... (two runs started in the
 * same second get two folders); parents are made as needed. The name made goes into out. */
int o2o_train_make_run_dir(const char *want, char *out, size_t cap, char *err, size_t errlen);
/* mkdir -p */
int o2o_train_mkdirs(const char *dir, char *err, size_t errlen);

typedef struct o2o_train_result {
  int64_t env_steps, updates;
  double wall_s;
  int evals;
  double last_eval_mean, last_eval_std; /* the final evaluation */
  double best_eval_mean;
  int64_t best_eval_step;
  int episodes;             /* training episodes finished */
  int64_t transitions;      /* stored in the replay (lost rows excluded) */
  int64_t lost;             /* rows lost to simulator faults */
  int64_t replay_restored;  /* rows a resumed run reloaded from replay.safetensors, -1 none */
  double train_return_mean; /* mean of the last 10 training episodes */
  double init_eval_mean;    /* the step-0 evaluation of a warm-started run, NAN otherwise */
  double init_eval_std;
  int warm_started; /* 1: the learner came from init_from; warm says how */
  o2o_warm_report warm;
  char last_checkpoint[1024]; /* "" if none written */
} o2o_train_result;

/* Train on env, evaluate on eval_env (NULL: no evaluation). Returns 0, or -1 with err. */
int o2o_train_run(const o2o_train_config *cfg, o2o_train_env *env, o2o_train_env *eval_env,
                  o2o_train_result *res, char *err, size_t errlen);

/* The full command: spawns the pools and runs. Returns 0, or -1 with err. */
int o2o_train_online(const o2o_train_config *cfg, o2o_train_result *res, char *err, size_t errlen);

/* Deterministic episodes: env resets with seed, each of its first `episodes` envs plays one
 * episode (env->spec num_envs must be >= episodes); actions from act(ctx, obs, n, out) in
 * [-1, 1], scaled to the spec bounds. returns[episodes] out. Returns 0 or -1 with err. */
typedef void (*o2o_train_act_fn)(void *ctx, const float *obs, int n, float *actions);
int o2o_train_evaluate(o2o_train_env *env, o2o_train_act_fn act, void *act_ctx, int episodes,
                       uint64_t seed, double *returns, char *err, size_t errlen);
/* The same, and *restarted = episodes whose simulator was restarted mid-episode (the pool
 * then starts them afresh with another seed: the evaluation is not the fixed-seed one). */
int o2o_train_evaluate_flagged(o2o_train_env *env, o2o_train_act_fn act, void *act_ctx,
                               int episodes, uint64_t seed, double *returns, int *restarted,
                               char *err, size_t errlen);

/* D4RL normalised score for tasks with reference returns (hopper, halfcheetah, walker2d):
 * returns 1 and sets *score, or 0 when the task has none. */
int o2o_train_d4rl_score(const char *task, double ret, double *score);

/* Store one step of E envs into rb: (obs, unit actions, reward, next_obs, done) with
 * next_obs = out->final_obs (the last observation of an episode that ended, else the new
 * observation) and done = terminated (never truncated). Rows with lost[i] set (lost may be
 * NULL) are skipped. */
struct o2o_replay;
void o2o_train_store_step(struct o2o_replay *rb, const float *obs, const float *unit_actions,
                          const o2o_bridge_batch *out, const uint8_t *lost, int num_envs);

/* [-1, 1] -> [low, high] per component (n rows of act_dim). */
void o2o_train_scale_actions(const float *unit, int n, int act_dim, const float *low,
                             const float *high, float *out);

#ifdef __cplusplus
}
#endif
