/* train.c: the online loop of any learner (see train.h). */
#include "run/train.h"

#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "replay/replay.h"
#include "run/dataset_load.h"

#define RECENT 10 /* training episodes in the running mean */
/* Update statistics averaged into metrics.csv (the SAC family's names; a learner that does not
 * report one leaves its column NaN). */
static const char *const metric_stats[] = {
    "critic_loss", "actor_loss", "alpha_loss", "alpha", "q_mean", "log_pi_mean",
    /* gap-aware learners (H2O's names; NaN for the others), after eval_restarted */
    "disc_sa_loss", "disc_sas_loss", "sqrt_is_ratio", "u_mean", "u_std", "omega_std",
    "penalty_diff", "q_real", "q_sim"};
#define NSTATS 15

/* Set by SIGINT/SIGTERM during o2o_train_online: the loop saves a checkpoint and stops. */
static volatile sig_atomic_t stop_requested;
static void on_stop_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void o2o_train_config_default(o2o_train_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->scenario = "pendulum";
  cfg->variant = "real";
  cfg->seed = 1;
  cfg->steps = 100000;
  cfg->envs_per_proc = 1;
  cfg->procs = 1;
  cfg->eval_every = 10000;
  cfg->eval_episodes = 10;
  cfg->eval_seed = 1000000;
  cfg->checkpoint_every = 50000;
  cfg->progress = 1;
  cfg->validate_transitions = 1;
  cfg->algorithm = "sac";
}

/* An int config field of the learner ("utd", "start_steps"), or dflt when it has none. */
static int learner_int(const o2o_learner *l, const char *name, int dflt) {
  const o2o_learner_field *f = o2o_learner_field_find(o2o_learner_algo_of(l), name);
  return f ? (int)o2o_learner_field_get(f, o2o_learner_config(l)) : dflt;
}

/* Everything one run owns, freed in one place. */
typedef struct {
  const o2o_train_config *cfg;
  o2o_train_env *env, *eval_env;
  const o2o_bridge_spec *spec;
  int E, O, A;
  o2o_learner *learner;
  o2o_replay *rb;          /* what the training env produced (the sim buffer when mixed) */
  o2o_loaded_dataset real; /* cfg->real_dataset: the real buffer */
  double real_frac;        /* rows of each batch from the real buffer; < 0: none */
  o2o_batch batch;
  float *obs, *unit, *scaled; /* [E][O], [E][A], [E][A] */
  double *ep_ret;             /* [E] */
  double *eval_returns;       /* [eval_episodes] */
  double recent[RECENT];
  int recent_n, recent_pos, episodes;
  double last_return;
  uint64_t rng, warm_rng; /* replay sampling, warm-up actions */
  FILE *metrics;
  char ckpt_path[1024], final_path[1024];
  int64_t ckpt_step; /* env step of the last good checkpoint, -1 none */
  /* running means of update statistics since the last metrics row */
  double st_sum[NSTATS];
  int64_t st_n[NSTATS];
  double last_alpha;
  int64_t warmup_end;       /* uniform random actions before this env step (start_steps) */
  int64_t learn_from;       /* no updates before this env step: max(start_steps, warmup_steps) */
  int64_t learn_start_step; /* learn phase began at this env step (-1 not yet) */
  char init_from[O2O_CKPT_VALLEN]; /* a resumed run's warm start source (its checkpoint's) */
  double learn_start_t;
  double t0, last_eval_mean;
  int have_eval;
  int tty; /* stderr is a terminal: progress overwrites one line */
} run_state;

static double recent_mean(const run_state *r) {
  double s = 0;
  for (int i = 0; i < r->recent_n; i++)
    s += r->recent[i];
  return r->recent_n ? s / r->recent_n : NAN;
}

/* Population std of the last evaluation's returns. */
static double eval_std(const run_state *r) {
  double var = 0;
  for (int i = 0; i < r->cfg->eval_episodes; i++)
    var += (r->eval_returns[i] - r->last_eval_mean) * (r->eval_returns[i] - r->last_eval_mean);
  return sqrt(var / r->cfg->eval_episodes);
}

static void act_deterministic(void *ctx, const float *obs, int n, float *actions) {
  o2o_learner_act(ctx, obs, n, 1, actions);
}

static void fmt_eta(double s, char *out, size_t n) {
  if (!(s >= 0) || s > 1e7) {
    snprintf(out, n, "?");
    return;
  }
  long t = (long)(s + 0.5);
  if (t >= 3600)
    snprintf(out, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else
    snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
}

static int write_metrics_header(FILE *f) {
  return fprintf(f, "step,wall_s,eval_return_mean,eval_return_std,eval_return_min,"
                    "eval_return_max,eval_episodes,d4rl_score,train_return_mean,train_episodes,"
                    "updates,critic_loss,actor_loss,alpha_loss,alpha,q_mean,log_pi_mean,"
                    "env_steps_per_s,updates_per_s,eval_restarted,disc_sa_loss,"
                    "disc_sas_loss,sqrt_is_ratio,u_mean,u_std,omega_std,penalty_diff,q_real,"
                    "q_sim\n") < 0;
}

static int evaluate(run_state *r, int64_t env_steps, int64_t updates, char *err, size_t errlen) {
  const o2o_train_config *cfg = r->cfg;
  const int n = cfg->eval_episodes;
  int restarted = 0;
  if (o2o_train_evaluate_flagged(r->eval_env, act_deterministic, r->learner, n, cfg->eval_seed,
                                 r->eval_returns, &restarted, err, errlen))
    return -1;
  double mean = 0, var = 0, mn = INFINITY, mx = -INFINITY;
  for (int i = 0; i < n; i++) {
    mean += r->eval_returns[i] / n;
    mn = fmin(mn, r->eval_returns[i]);
    mx = fmax(mx, r->eval_returns[i]);
  }
  for (int i = 0; i < n; i++)
    var += (r->eval_returns[i] - mean) * (r->eval_returns[i] - mean) / n;
  r->last_eval_mean = mean;
  r->have_eval = 1;
  double wall = now_s() - r->t0, score;
  int has_score = o2o_train_d4rl_score(r->spec->task, mean, &score);
  if (r->metrics) {
    double m[NSTATS];
    for (int k = 0; k < NSTATS; k++)
      m[k] = r->st_n[k] ? r->st_sum[k] / (double)r->st_n[k] : NAN;
    char sc[32] = "";
    if (has_score) snprintf(sc, sizeof(sc), "%.3f", score);
    fprintf(r->metrics,
            "%lld,%.3f,%.4f,%.4f,%.4f,%.4f,%d,%s,%.4f,%d,%lld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.1f,"
            "%.1f,%d",
            (long long)env_steps, wall, mean, sqrt(var), mn, mx, n, sc, recent_mean(r), r->episodes,
            (long long)updates, m[0], m[1], m[2], m[3], m[4], m[5],
            wall > 0 ? (double)env_steps / wall : 0.0, wall > 0 ? (double)updates / wall : 0.0,
            restarted);
    for (int k = 6; k < NSTATS; k++)
      fprintf(r->metrics, ",%.6g", m[k]);
    fputc('\n', r->metrics);
    fflush(r->metrics);
  }
  memset(r->st_sum, 0, sizeof(r->st_sum));
  memset(r->st_n, 0, sizeof(r->st_n));
  if (cfg->progress) {
    char sc[48] = "";
    if (has_score) snprintf(sc, sizeof(sc), " (D4RL %.1f)", score);
    fprintf(stderr, "%s[eval] step %lld: return %.1f +- %.1f over %d episodes%s%s\n",
            r->tty ? "\r\033[K" : "", (long long)env_steps, mean, sqrt(var), n, sc,
            restarted ? " (a simulator restarted: not the fixed-seed episodes)" : "");
  }
  return 0;
}

static int checkpoint(run_state *r, const char *path, int64_t env_steps, char *err, size_t errlen) {
  if (o2o_train_save_checkpoint(path, r->learner, r->cfg, r->spec, env_steps, err, errlen))
    return -1;
  if (path == r->ckpt_path) r->ckpt_step = env_steps;
  return 0;
}

static void progress_line(run_state *r, int64_t env_steps, int64_t updates, double *last_t,
                          int64_t *last_steps, int64_t *last_updates, int tty) {
  double t = now_s();
  double dt = t - *last_t;
  if (dt < (tty ? 0.5 : 10.0)) return;
  double sps = (double)(env_steps - *last_steps) / dt;
  double ups = (double)(updates - *last_updates) / dt;
  char eta[32];
  /* warm-up steps make no updates: price the learning steps at the learning phase's rate */
  double learn_rate = -1;
  if (r->learn_start_step >= 0 && env_steps > r->learn_start_step && t > r->learn_start_t)
    learn_rate = (double)(env_steps - r->learn_start_step) / (t - r->learn_start_t);
  fmt_eta(o2o_train_eta_s(env_steps, r->cfg->steps, r->learn_from, sps, learn_rate), eta,
          sizeof(eta));
  char ev[48] = "";
  if (r->have_eval) snprintf(ev, sizeof(ev), " | eval %.1f", r->last_eval_mean);
  fprintf(stderr,
          "%s[train %s/%s] step %lld/%lld (%.0f%%) | %.0f steps/s | %.0f upd/s | return last %.1f "
          "mean%d %.1f%s | alpha %.3g | ETA %s%s",
          tty ? "\r\033[K" : "", r->spec->scenario, r->spec->variant, (long long)env_steps,
          (long long)r->cfg->steps, 100.0 * (double)env_steps / (double)r->cfg->steps, sps, ups,
          r->last_return, RECENT, recent_mean(r), ev, r->last_alpha, eta, tty ? "" : "\n");
  *last_t = t;
  *last_steps = env_steps;
  *last_updates = updates;
}

/* Rebuild the learner from a checkpoint alone (o2o_learner_load); *env_steps = its step. */
static int resume_from(run_state *r, const char *path, int64_t *env_steps, char *err,
                       size_t errlen) {
  o2o_ckpt_meta m;
  char sub[O2O_AGENT_ERRLEN];
  r->learner = o2o_learner_load(path, NULL, &m, sub, sizeof sub);
  if (!r->learner) {
    o2o_agent_errf(err, errlen, "resume: %s", sub);
    return -1;
  }
  const char *step = o2o_ckpt_meta_get(&m, "step");
  char *end = NULL;
  long long st = step ? strtoll(step, &end, 10) : -1;
  if (!step || end == step || *end || st < 0) {
    o2o_agent_errf(err, errlen,
                   "resume: %s has no valid 'step' in its metadata (not a checkpoint "
                   "of a training run)",
                   path);
    return -1;
  }
  if (o2o_learner_obs_dim(r->learner) != r->O || o2o_learner_act_dim(r->learner) != r->A) {
    o2o_agent_errf(err, errlen, "resume: %s has obs/act dims %d/%d, the scenario %d/%d", path,
                   o2o_learner_obs_dim(r->learner), o2o_learner_act_dim(r->learner), r->O, r->A);
    return -1;
  }
  if (o2o_train_check_bounds(&m, path, r->spec, sub, sizeof sub)) {
    o2o_agent_errf(err, errlen, "resume: %s", sub);
    return -1;
  }
  if (st >= r->cfg->steps) {
    o2o_agent_errf(err, errlen,
                   "resume: %s is at env step %lld, already at or past the target --steps %lld "
                   "(give a larger --steps)",
                   path, st, (long long)r->cfg->steps);
    return -1;
  }
  const char *from = o2o_ckpt_meta_get(&m, "init_from");
  if (from) snprintf(r->init_from, sizeof r->init_from, "%s", from);
  *env_steps = st;
  return 0;
}

/* The online learner from a pretrained checkpoint (o2o_learner_warm_start), checked against
 * the scenario: dims, task and action bounds (when the file records them). */
static int warm_start(run_state *r, o2o_train_result *res, char *err, size_t errlen) {
  const o2o_train_config *cfg = r->cfg;
  const char *path = cfg->init_from;
  const o2o_learner_algo *algo = o2o_learner_find(cfg->algorithm ? cfg->algorithm : "sac");
  o2o_ckpt_meta m;
  char sub[O2O_AGENT_ERRLEN];
  r->learner = algo ? o2o_learner_warm_start(algo, cfg->learner_config, path,
                                             o2o_seed_stream(cfg->seed, O2O_STREAM_LEARNER), &m,
                                             &res->warm, sub, sizeof sub)
                    : NULL;
  if (!r->learner) {
    if (algo)
      o2o_agent_errf(err, errlen, "train: --init-from: %s", sub);
    else
      o2o_agent_errf(err, errlen, "train: unknown algorithm '%s' (one of %s)", cfg->algorithm,
                     o2o_learner_names(0));
    return -1;
  }
  const char *task = o2o_ckpt_meta_get(&m, "task");
  if (o2o_learner_obs_dim(r->learner) != r->O || o2o_learner_act_dim(r->learner) != r->A) {
    o2o_agent_errf(err, errlen, "train: --init-from %s has obs/act dims %d/%d, the scenario %d/%d",
                   path, o2o_learner_obs_dim(r->learner), o2o_learner_act_dim(r->learner), r->O,
                   r->A);
    return -1;
  }
  if (task && strcmp(task, r->spec->task)) {
    o2o_agent_errf(err, errlen, "train: --init-from %s was trained on task %s, the scenario is %s",
                   path, task, r->spec->task);
    return -1;
  }
  if (o2o_train_check_bounds(&m, path, r->spec, sub, sizeof sub)) {
    o2o_agent_errf(err, errlen, "train: --init-from: %s", sub);
    return -1;
  }
  /* a pretrained policy needs no uniform random exploration, unless asked for */
  const o2o_learner_field *ss = o2o_learner_field_find(algo, "start_steps");
  if (ss) {
    unsigned char dflt[4096] __attribute__((aligned(16)));
    int set = 0;
    if (cfg->learner_config && algo->config_size <= sizeof dflt) {
      algo->config_default(dflt);
      set = o2o_learner_field_get(ss, cfg->learner_config) != o2o_learner_field_get(ss, dflt);
    }
    if (!set && o2o_learner_config_set(r->learner, "start_steps", 0, sub, sizeof sub)) {
      o2o_agent_errf(err, errlen, "train: --init-from: %s", sub);
      return -1;
    }
  }
  res->warm_started = 1;
  snprintf(r->init_from, sizeof r->init_from, "%s", path);
  if (cfg->progress)
    fprintf(stderr,
            "train: warm start from %s (%s, step %lld): copied %s; converted %s; fresh %s; "
            "dropped %s\n",
            path, res->warm.source_algo, (long long)res->warm.source_step,
            *res->warm.copied ? res->warm.copied : "-",
            *res->warm.converted ? res->warm.converted : "-",
            *res->warm.fresh ? res->warm.fresh : "-", *res->warm.dropped ? res->warm.dropped : "-");
  return 0;
}

/* Finish a step in flight so the env is idle when the run stops. */
static void drain(o2o_train_env *env) {
  o2o_bridge_batch out;
  char sub[O2O_AGENT_ERRLEN];
  env->step_recv(env->ctx, &out, sub, sizeof sub);
}

static void free_run(run_state *r) {
  o2o_learner_destroy(r->learner);
  o2o_replay_destroy(r->rb);
  o2o_train_free_dataset(&r->real);
  o2o_replay_batch_free(&r->batch);
  free(r->obs);
  free(r->unit);
  free(r->scaled);
  free(r->ep_ret);
  free(r->eval_returns);
  if (r->metrics) fclose(r->metrics);
}

static int check_finite_rows(const float *x, int rows, int cols, const char *what, int64_t step,
                             char *err, size_t errlen) {
  for (int i = 0; i < rows; i++)
    for (int j = 0; j < cols; j++)
      if (!isfinite(x[(size_t)i * cols + j])) {
        o2o_agent_errf(err, errlen, "env %d returned a non-finite %s[%d] (%g) at env step %lld", i,
                       what, j, x[(size_t)i * cols + j], (long long)step);
        return -1;
      }
  return 0;
}

void o2o_train_store_step(o2o_replay *rb, const float *obs, const float *unit_actions,
                          const o2o_bridge_batch *out, const uint8_t *lost, int num_envs) {
  const int O = o2o_replay_obs_dim(rb), A = o2o_replay_act_dim(rb);
  for (int i = 0; i < num_envs; i++) {
    if (lost && lost[i]) continue;
    float done = out->terminated[i] ? 1.0f : 0.0f; /* truncation bootstraps */
    o2o_replay_add(rb, 1, obs + (size_t)i * O, unit_actions + (size_t)i * A, &out->reward[i],
                   out->final_obs + (size_t)i * O, &done);
  }
}

int o2o_train_run(const o2o_train_config *cfg, o2o_train_env *env, o2o_train_env *eval_env,
                  o2o_train_result *res, char *err, size_t errlen) {
  run_state r;
  memset(&r, 0, sizeof(r));
  memset(res, 0, sizeof(*res));
  r.cfg = cfg;
  r.env = env;
  r.eval_env = eval_env;
  r.spec = env->spec(env->ctx);
  r.E = r.spec->num_envs;
  r.O = r.spec->obs_dim;
  r.A = r.spec->act_dim;
  r.ckpt_step = -1;
  r.last_return = NAN;
  r.t0 = now_s();
  res->init_eval_mean = res->init_eval_std = NAN;
  const int E = r.E, O = r.O, A = r.A;
  char sub[O2O_AGENT_ERRLEN];
  int rc = -1;

  if (cfg->steps < 1 || cfg->eval_episodes < 1) {
    o2o_agent_errf(err, errlen, "train: steps and eval episodes must be >= 1");
    return -1;
  }
  if (eval_env) {
    const o2o_bridge_spec *es = eval_env->spec(eval_env->ctx);
    if (es->obs_dim != O || es->act_dim != A) {
      o2o_agent_errf(err, errlen, "train: eval env dims %d/%d differ from the training env's %d/%d",
                     es->obs_dim, es->act_dim, O, A);
      return -1;
    }
  }
  if (o2o_train_check_bounds(NULL, NULL, r.spec, err, errlen)) return -1;
  int64_t capacity = cfg->replay_capacity > 0 ? cfg->replay_capacity
                     : cfg->steps < 1000000   ? cfg->steps
                                              : 1000000;
  int64_t env_steps = 0, updates = 0, last_eval_step = -1;
  if (cfg->warmup_steps < 0) {
    o2o_agent_errf(err, errlen, "train: warmup_steps %lld must be >= 0",
                   (long long)cfg->warmup_steps);
    return -1;
  }
  if (cfg->resume) {
    if (resume_from(&r, cfg->resume, &env_steps, err, errlen)) goto done;
  } else if (cfg->init_from) {
    if (warm_start(&r, res, err, errlen)) goto done;
  } else {
    const o2o_learner_algo *algo = o2o_learner_find(cfg->algorithm ? cfg->algorithm : "sac");
    if (!algo) {
      o2o_agent_errf(err, errlen, "train: unknown algorithm '%s' (one of %s)", cfg->algorithm,
                     o2o_learner_names(0));
      goto done;
    }
    r.learner =
        o2o_learner_create(algo, O, A, cfg->learner_config, NULL, NULL,
                           o2o_seed_stream(cfg->seed, O2O_STREAM_LEARNER), sub, sizeof(sub));
    if (!r.learner) {
      o2o_agent_errf(err, errlen, "train: %s", sub);
      goto done;
    }
  }
  /* a learner that mixes real data (H2O) gets the dataset as its real buffer */
  r.real_frac = o2o_learner_real_fraction(r.learner);
  if ((r.real_frac >= 0) != (cfg->real_dataset != NULL)) {
    o2o_agent_errf(err, errlen,
                   cfg->real_dataset
                       ? "train: --dataset %s: the %s learner does not mix real data into its "
                         "batches (h2o does)"
                       : "train: the %s learner needs a real dataset (--dataset FILE): its "
                         "batches mix real and sim rows",
                   cfg->real_dataset ? cfg->real_dataset : o2o_learner_algo_of(r.learner)->name,
                   o2o_learner_algo_of(r.learner)->name);
    goto done;
  }
  if (cfg->real_dataset) {
    if (o2o_train_load_dataset(cfg->real_dataset, r.spec, 0, 0, &r.real, sub, sizeof sub) ||
        o2o_learner_set_data_stats(r.learner, r.real.obs_mean, r.real.obs_std, sub, sizeof sub)) {
      o2o_agent_errf(err, errlen, "train: %s", sub);
      goto done;
    }
    if (cfg->progress)
      fprintf(stderr, "train: real buffer %s: %lld transitions, %lld episodes, mean return %.1f\n",
              r.real.path, (long long)r.real.rows, (long long)r.real.episodes, r.real.return_mean);
  }
  /* checkpoints and config.json record the run's warm start source, a resumed run's too */
  o2o_train_config run_cfg = *cfg;
  run_cfg.init_from = *r.init_from ? r.init_from : NULL;
  r.cfg = &run_cfg;
  const int64_t start_step = env_steps;
  const int utd = learner_int(r.learner, "utd", 1);
  const int batch_size = o2o_learner_batch_size(r.learner);
  /* Random warm-up only for a fresh learner; a resumed one acts with its policy at once. */
  r.warmup_end = cfg->resume ? 0 : learner_int(r.learner, "start_steps", 0);
  r.learn_from = r.warmup_end > cfg->warmup_steps ? r.warmup_end : cfg->warmup_steps;
  r.learn_start_step = -1;
  r.rb = o2o_replay_create(capacity, O, A, sub, sizeof(sub));
  if (!r.rb) {
    o2o_agent_errf(err, errlen, "train: %s", sub);
    goto done;
  }
  r.obs = malloc((size_t)E * O * sizeof(float));
  r.unit = malloc((size_t)E * A * sizeof(float));
  r.scaled = malloc((size_t)E * A * sizeof(float));
  r.ep_ret = calloc((size_t)E, sizeof(double));
  r.eval_returns = calloc((size_t)cfg->eval_episodes, sizeof(double));
  if (o2o_replay_batch_alloc(&r.batch, batch_size, O, A, r.real.rb != NULL) || !r.obs || !r.unit ||
      !r.scaled || !r.ep_ret || !r.eval_returns) {
    o2o_agent_errf(err, errlen, "train: out of memory");
    goto done;
  }
  /* A resumed run draws fresh streams from its step, not the ones of its first part. */
  o2o_replay_rng_seed(&r.rng,
                      o2o_seed_stream(o2o_seed_stream(cfg->seed, O2O_STREAM_REPLAY), start_step));
  r.warm_rng = o2o_seed_stream(cfg->seed, O2O_STREAM_WARMUP);

  if (cfg->out_dir) {
    char p[1100];
    if (o2o_train_mkdirs(cfg->out_dir, err, errlen)) goto done;
    snprintf(p, sizeof(p), "%s/metrics.csv", cfg->out_dir);
    if (cfg->resume) {
      /* A resumed run continues its metrics: the rows of the killed run past the checkpoint go. */
      if (o2o_train_cut_metrics(p, start_step, err, errlen)) goto done;
      FILE *old = fopen(p, "r");
      int exists = old && fgetc(old) != EOF;
      if (old) fclose(old);
      r.metrics = fopen(p, exists ? "a" : "w");
      if (r.metrics && !exists && write_metrics_header(r.metrics)) {
        fclose(r.metrics);
        r.metrics = NULL;
      }
    } else {
      /* Exclusive unless --overwrite: a second run never writes into this one's folder. */
      int fd = open(p, O_WRONLY | O_CREAT | (cfg->overwrite ? O_TRUNC : O_EXCL), 0666);
      if (fd < 0 && errno == EEXIST) {
        o2o_agent_errf(
            err, errlen,
            "train: %s already holds a run (metrics.csv); pick another --out, --resume it, "
            "or pass --overwrite",
            cfg->out_dir);
        goto done;
      }
      r.metrics = fd >= 0 ? fdopen(fd, "w") : NULL;
      if (!r.metrics && fd >= 0) close(fd);
      if (r.metrics && write_metrics_header(r.metrics)) {
        fclose(r.metrics);
        r.metrics = NULL;
      }
    }
    if (!r.metrics) {
      o2o_agent_errf(err, errlen, "train: cannot write %s: %s", p, strerror(errno));
      goto done;
    }
    o2o_train_clear_failed(cfg->out_dir); /* a resumed run is no longer a failed one */
    o2o_train_config resolved = *r.cfg;   /* config.json records what the run uses */
    resolved.replay_capacity = capacity;
    snprintf(p, sizeof(p), "%s/config.json", cfg->out_dir);
    if (o2o_train_write_config(p, &resolved, r.spec, r.learner,
                               res->warm_started ? &res->warm : NULL, err, errlen))
      goto done;
    snprintf(r.ckpt_path, sizeof(r.ckpt_path), "%s/checkpoint.safetensors", cfg->out_dir);
    snprintf(r.final_path, sizeof(r.final_path), "%s/final.safetensors", cfg->out_dir);
  }

  if (env->reset(env->ctx,
                 o2o_seed_stream(o2o_seed_stream(cfg->seed, O2O_STREAM_TRAIN_ENV), start_step),
                 r.obs, sub, sizeof(sub))) {
    o2o_agent_errf(err, errlen, "train: reset: %s", sub);
    goto done;
  }
  if (cfg->validate_transitions && check_finite_rows(r.obs, E, O, "obs", 0, err, errlen)) goto done;

  const int tty = r.tty = isatty(2);
  double last_t = now_s();
  int64_t last_steps = 0, last_updates = 0;
  const int64_t warmup_end = r.warmup_end, learn_from = r.learn_from;
  last_steps = env_steps;
  int64_t next_eval = INT64_MAX, next_ckpt = INT64_MAX;
  if (cfg->eval_every > 0) next_eval = (env_steps / cfg->eval_every + 1) * cfg->eval_every;
  if (cfg->checkpoint_every > 0)
    next_ckpt = (env_steps / cfg->checkpoint_every + 1) * cfg->checkpoint_every;
  int stopped_early = 0;
  if (res->warm_started && eval_env) { /* the pretrained policy on real: the warm-start dip */
    if (evaluate(&r, 0, 0, err, errlen)) goto done;
    last_eval_step = 0;
    res->init_eval_mean = res->best_eval_mean = r.last_eval_mean;
    res->init_eval_std = eval_std(&r);
    res->best_eval_step = 0;
    res->evals++;
  }

  while (env_steps < cfg->steps) {
    /* 1. actions in [-1, 1] */
    if (env_steps < warmup_end) {
      for (int i = 0; i < E * A; i++)
        r.unit[i] = (float)((double)(o2o_splitmix64(&r.warm_rng) >> 11) * 0x1.0p-53 * 2.0 - 1.0);
    } else {
      o2o_learner_act(r.learner, r.obs, E, 0, r.unit);
    }
    o2o_train_scale_actions(r.unit, E, A, r.spec->act_low, r.spec->act_high, r.scaled);
    if (env->step_send(env->ctx, r.scaled, sub, sizeof(sub))) {
      o2o_agent_errf(err, errlen, "train: step at env step %lld: %s", (long long)env_steps, sub);
      goto done;
    }
    /* 2. learn while the simulators step */
    const int64_t need =
        r.real.rb ? batch_size - o2o_replay_mix_count(batch_size, r.real_frac) : batch_size;
    if (env_steps >= learn_from && o2o_replay_size(r.rb) >= need) {
      if (r.learn_start_step < 0) {
        r.learn_start_step = env_steps;
        r.learn_start_t = now_s();
      }
      int n_upd = utd * E;
      for (int u = 0; u < n_upd; u++) {
        o2o_learner_stats st = {0};
        if (r.real.rb ? o2o_replay_sample_mixed(r.real.rb, r.rb, r.real_frac, &r.rng, &r.batch, sub,
                                                sizeof(sub))
                      : o2o_replay_sample(r.rb, &r.rng, &r.batch, 0, sub, sizeof(sub))) {
          o2o_agent_errf(err, errlen, "train: %s", sub);
          drain(env); /* leave the env idle */
          goto done;
        }
        if (o2o_learner_update(r.learner, &r.batch, &st, sub, sizeof(sub))) {
          o2o_agent_errf(err, errlen, "train: update %lld at env step %lld: %s",
                         (long long)updates + 1, (long long)env_steps, sub);
          drain(env);
          goto done;
        }
        updates++;
        for (int k = 0; k < NSTATS; k++) {
          double v = o2o_learner_stats_get(&st, metric_stats[k]);
          if (v == v) {
            r.st_sum[k] += v;
            r.st_n[k]++;
          }
        }
        double a = o2o_learner_stats_get(&st, "alpha");
        if (a == a) r.last_alpha = a;
      }
    }
    /* 3. store the transitions */
    o2o_bridge_batch out;
    if (env->step_recv(env->ctx, &out, sub, sizeof(sub))) {
      o2o_agent_errf(err, errlen, "train: step at env step %lld: %s", (long long)env_steps, sub);
      goto done;
    }
    if (cfg->validate_transitions &&
        (check_finite_rows(out.reward, E, 1, "reward", env_steps + 1, err, errlen) ||
         check_finite_rows(out.final_obs, E, O, "obs", env_steps + 1, err, errlen) ||
         check_finite_rows(out.obs, E, O, "obs", env_steps + 1, err, errlen)))
      goto done;
    const uint8_t *lost = env->lost ? env->lost(env->ctx) : NULL;
    o2o_train_store_step(r.rb, r.obs, r.unit, &out, lost, E);
    for (int i = 0; i < E; i++) {
      if (lost && lost[i]) {
        /* A simulator fault cut this episode: drop its partial return. */
        r.ep_ret[i] = 0;
        res->lost++;
        continue;
      }
      r.ep_ret[i] += out.reward[i];
      if (out.terminated[i] || out.truncated[i]) {
        r.last_return = r.ep_ret[i];
        r.recent[r.recent_pos] = r.ep_ret[i];
        r.recent_pos = (r.recent_pos + 1) % RECENT;
        if (r.recent_n < RECENT) r.recent_n++;
        r.episodes++;
        r.ep_ret[i] = 0;
      }
    }
    memcpy(r.obs, out.obs, (size_t)E * O * sizeof(float));
    env_steps += E;

    /* 4. evaluation, checkpoints, progress */
    if (env_steps >= next_eval && eval_env) {
      if (evaluate(&r, env_steps, updates, err, errlen)) goto done;
      last_eval_step = env_steps;
      while (next_eval <= env_steps)
        next_eval += cfg->eval_every;
      if (r.last_eval_mean > res->best_eval_mean || res->evals == 0) {
        res->best_eval_mean = r.last_eval_mean;
        res->best_eval_step = env_steps;
      }
      res->evals++;
      if (cfg->stop_at_return > 0 && r.last_eval_mean >= cfg->stop_at_return) {
        stopped_early = 1;
        break;
      }
    }
    if (env_steps >= next_ckpt) {
      while (next_ckpt <= env_steps)
        next_ckpt += cfg->checkpoint_every;
      if (cfg->out_dir && checkpoint(&r, r.ckpt_path, env_steps, err, errlen)) goto done;
    }
    if (cfg->progress)
      progress_line(&r, env_steps, updates, &last_t, &last_steps, &last_updates, tty);
    if (stop_requested) {
      /* The learner is consistent between iterations: keep its state. */
      if (cfg->out_dir && checkpoint(&r, r.ckpt_path, env_steps, err, errlen)) goto done;
      o2o_agent_errf(err, errlen, "interrupted at env step %lld", (long long)env_steps);
      goto done;
    }
  }
  if (eval_env && last_eval_step != env_steps) {
    if (evaluate(&r, env_steps, updates, err, errlen)) goto done;
    if (r.last_eval_mean > res->best_eval_mean || res->evals == 0) {
      res->best_eval_mean = r.last_eval_mean;
      res->best_eval_step = env_steps;
    }
    res->evals++;
  }
  if (cfg->out_dir) {
    if (checkpoint(&r, r.final_path, env_steps, err, errlen)) goto done;
    snprintf(res->last_checkpoint, sizeof(res->last_checkpoint), "%s", r.final_path);
  }
  res->env_steps = env_steps;
  res->updates = updates;
  res->wall_s = now_s() - r.t0;
  res->episodes = r.episodes;
  res->transitions = o2o_replay_added(r.rb);
  res->train_return_mean = recent_mean(&r);
  if (r.have_eval) {
    res->last_eval_mean = r.last_eval_mean;
    res->last_eval_std = eval_std(&r);
  }
  if (cfg->progress)
    fprintf(stderr, "%s[train] done: %lld env steps, %lld updates in %.1f s%s\n",
            tty ? "\r\033[K" : "", (long long)env_steps, (long long)updates, res->wall_s,
            stopped_early ? " (stopped early: eval return reached the target)" : "");
  rc = 0;
done:
  if (rc && err && errlen) {
    /* Say what is on disk: the last good checkpoint is never overwritten after an error. */
    size_t k = strnlen(err, errlen - 1);
    if (stop_requested && r.ckpt_step >= 0)
      snprintf(err + k, errlen - k, "; checkpoint saved to %s", r.ckpt_path);
    else if (r.ckpt_step >= 0)
      snprintf(err + k, errlen - k,
               "; training stopped, last good checkpoint %s (env step %lld) "
               "left untouched",
               r.ckpt_path, (long long)r.ckpt_step);
    else
      snprintf(err + k, errlen - k, "; training stopped, no checkpoint written");
    if (r.ckpt_step >= 0)
      snprintf(res->last_checkpoint, sizeof(res->last_checkpoint), "%s", r.ckpt_path);
  }
  if (rc && r.metrics) /* the folder holds a run: say it did not finish */
    o2o_train_mark_failed(cfg->out_dir, err ? err : "", env_steps);
  free_run(&r);
  return rc;
}

int o2o_train_online(const o2o_train_config *cfg, o2o_train_result *res, char *err, size_t errlen) {
  o2o_pool_config pc;
  memset(&pc, 0, sizeof(pc));
  pc.scenario = cfg->scenario;
  pc.variant = cfg->variant ? cfg->variant : "real";
  pc.num_procs = cfg->procs;
  pc.envs_per_proc = cfg->envs_per_proc;
  pc.sim_exe = cfg->sim_exe;
  pc.quiet = !cfg->progress;
  char epbuf[4096];
  const char *eps[64];
  if (cfg->connect) { /* "EP,EP,...": the pool connects instead of spawning */
    if (snprintf(epbuf, sizeof(epbuf), "%s", cfg->connect) >= (int)sizeof(epbuf)) {
      o2o_agent_errf(err, errlen, "train: --connect: longer than %zu bytes", sizeof(epbuf) - 1);
      return -1;
    }
    char *save = NULL;
    for (char *tok = strtok_r(epbuf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
      if (pc.num_endpoints == 64) {
        o2o_agent_errf(err, errlen, "train: --connect: more than 64 endpoints");
        return -1;
      }
      eps[pc.num_endpoints++] = tok;
    }
    pc.endpoints = eps;
    pc.scenario = NULL;
  }
  o2o_train_env env, eval_env;
  char sub[O2O_AGENT_ERRLEN];
  if (o2o_train_env_pool(&env, &pc, sub, sizeof(sub))) {
    o2o_agent_errf(err, errlen, "train: cannot start the %s pool for '%s': %s", pc.variant,
                   cfg->scenario, sub);
    return -1;
  }
  if (cfg->connect) { /* the servers must serve what the flags say: --scenario, --variant */
    const o2o_bridge_spec *sp = env.spec(env.ctx);
    const char *base = strrchr(cfg->scenario, '/');
    base = base ? base + 1 : cfg->scenario;
    size_t blen = strcspn(base, ".");
    if (strlen(sp->scenario) != blen || strncmp(sp->scenario, base, blen) ||
        strcmp(sp->variant, pc.variant)) {
      o2o_agent_errf(err, errlen,
                     "train: --connect %s serves %s/%s, but --scenario %s --variant %s was asked",
                     cfg->connect, sp->scenario, sp->variant, cfg->scenario, pc.variant);
      env.destroy(env.ctx);
      return -1;
    }
  }
  /* Evaluation always runs on the real variant, one env per episode, spawned here. */
  pc.endpoints = NULL;
  pc.num_endpoints = 0;
  pc.scenario = cfg->scenario;
  pc.variant = "real";
  pc.num_procs = 1;
  pc.envs_per_proc = cfg->eval_episodes;
  if (o2o_train_env_pool(&eval_env, &pc, sub, sizeof(sub))) {
    o2o_agent_errf(err, errlen, "train: cannot start the evaluation pool for '%s': %s",
                   cfg->scenario, sub);
    env.destroy(env.ctx);
    return -1;
  }
  /* Ctrl-C / SIGTERM: finish the iteration, checkpoint, and reap the simulators. */
  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  stop_requested = 0;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  int rc = o2o_train_run(cfg, &env, &eval_env, res, err, errlen);
  if (rc && err && errlen && stop_requested && !strstr(err, "interrupted")) {
    /* A signal cut a simulator call short: say so rather than blame the simulator. */
    size_t k = strnlen(err, errlen - 1);
    snprintf(err + k, errlen - k, " (interrupted by a signal)");
  }
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  eval_env.destroy(eval_env.ctx);
  env.destroy(env.ctx);
  return rc;
}
