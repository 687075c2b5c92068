/* train.h: the online training loop (SAC through the bridge pool), evaluation, run files.
 *
 * o2o_train_online is what `o2o train-online` runs: it spawns a pool of o2o-sim children
 * for training (variant cfg->variant) and a second pool of the real variant for
 * evaluation, then calls o2o_train_run. o2o_train_run works on any o2o_train_env, so tests
 * can drive the same loop with an in-process environment.
 *
 * Loop (one iteration = one step of all E envs = E env steps):
 *   act (uniform random for the first start_steps env steps, then sampled from the policy),
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
#include "learn/sac.h"

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
  uint64_t seed;            /* SAC init, warm-up actions, env seeds (env j: seed*1000 + j) */
  int64_t steps;            /* total env steps, default 100000 */
  int envs_per_proc;        /* envs per o2o-sim process, default 1 */
  int procs;                /* o2o-sim processes for training, default 1 */
  const char *sim_exe;      /* NULL: next to the running program */
  const char *out_dir;      /* run directory (created); NULL = write no files */
  int64_t eval_every;       /* env steps between evaluations, default 10000; 0 = only at the end */
  int eval_episodes;        /* default 10 */
  uint64_t eval_seed;       /* episode j of every evaluation starts from seed eval_seed + j */
  int64_t checkpoint_every; /* env steps between checkpoints, default 50000; 0 = final only */
  int64_t replay_capacity;  /* default min(steps, 1000000) */
  int progress;             /* progress line on stderr */
  int validate_transitions; /* reject non-finite env outputs before they enter the buffer
                               (default 1; 0 leaves the check to o2o_sac_update) */
  double stop_at_return;    /* > 0: stop early once an evaluation's mean reaches it */
  int overwrite;            /* allow an out_dir that already holds a run (else an error) */
  const char *resume;       /* checkpoint to continue from (whole SAC state incl. Adam and
                               rng; counting resumes at its "step"). The replay buffer is
                               not in checkpoints: it refills before updates resume. */
  o2o_sac_config sac;
} o2o_train_config;

void o2o_train_config_default(o2o_train_config *cfg);

/* Every SAC hyperparameter once: CLI flag (--name, '_' -> '-'), config.json and checkpoint
 * metadata all come from this list. X(type, field, help); type is int or float. */
#define O2O_SAC_CONFIG_FIELDS(X)                                                                   \
  X(int, hidden, "units per hidden layer")                                                         \
  X(int, layers, "hidden layers per network")                                                      \
  X(int, num_critics, "critic ensemble size")                                                      \
  X(int, critic_layernorm, "LayerNorm in critic hidden layers (0/1)")                              \
  X(int, batch_size, "batch size")                                                                 \
  X(float, gamma, "discount")                                                                      \
  X(float, tau, "Polyak rate of the target critics")                                               \
  X(float, actor_lr, "actor learning rate")                                                        \
  X(float, critic_lr, "critic learning rate")                                                      \
  X(float, alpha_lr, "temperature learning rate")                                                  \
  X(float, init_alpha, "initial temperature")                                                      \
  X(float, target_entropy, "target entropy (0 = -act_dim)")                                        \
  X(int, backup_entropy, "entropy term in the TD target (0/1)")                                    \
  X(float, log_std_min, "log-std clamp, low")                                                      \
  X(float, log_std_max, "log-std clamp, high")                                                     \
  X(int, utd, "gradient updates per env step")                                                     \
  X(int, start_steps, "uniform-random env steps before learning")                                  \
  X(float, last_layer_gain, "xavier gain of last layers (0 = PyTorch default init)")

/* Run files (train_files.c). */
/* Checkpoint of the whole learner + metadata (algorithm, scenario, variant, dims, step,
 * o2o version, every SAC hyperparameter, action bounds), written atomically. */
int o2o_train_save_checkpoint(const char *path, o2o_sac *sac, const o2o_train_config *cfg,
                              const o2o_bridge_spec *spec, int64_t env_steps, char *err,
                              size_t errlen);
/* The resolved config as JSON (run_dir/config.json). */
int o2o_train_write_config(const char *path, const o2o_train_config *cfg,
                           const o2o_bridge_spec *spec, char *err, size_t errlen);
/* mkdir -p */
int o2o_train_mkdirs(const char *dir, char *err, size_t errlen);

typedef struct o2o_train_result {
  int64_t env_steps, updates;
  double wall_s;
  int evals;
  double last_eval_mean, last_eval_std; /* the final evaluation */
  double best_eval_mean;
  int64_t best_eval_step;
  int episodes;               /* training episodes finished */
  int64_t transitions;        /* stored in the replay (lost rows excluded) */
  int64_t lost;               /* rows lost to simulator faults */
  double train_return_mean;   /* mean of the last 10 training episodes */
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
