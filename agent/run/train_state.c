/* train_state.c: what an online run starts from and leaves: the learner (resumed from a
 * checkpoint, warm-started from a pretrained one, or fresh), its buffers, the run folder's
 * metrics.csv and config.json, checkpoints. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run/replay_file.h"
#include "run/train_internal.h"

/* An int config field of the learner ("utd", "start_steps"), or dflt when it has none. */
static int learner_int(const o2o_learner *l, const char *name, int dflt) {
  const o2o_learner_field *f = o2o_learner_field_find(o2o_learner_algo_of(l), name);
  return f ? (int)o2o_learner_field_get(f, o2o_learner_config(l)) : dflt;
}

/* Rebuild the learner from a checkpoint alone (o2o_learner_load); r->start_step = its step. */
static int resume_from(trn_run *r, const char *path, char *err, size_t errlen) {
  o2o_ckpt_meta m;
  char sub[O2O_AGENT_ERRLEN];
  r->learner = o2o_learner_load(path, NULL, &m, sub, sizeof sub);
  if (!r->learner) {
    o2o_agent_errf(err, errlen, "resume: %s", sub);
    return -1;
  }
  const int64_t st = o2o_ckpt_meta_int(&m, "step");
  if (st < 0) {
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
                   path, (long long)st, (long long)r->cfg->steps);
    return -1;
  }
  const char *from = o2o_ckpt_meta_get(&m, "init_from");
  if (from) snprintf(r->init_from, sizeof r->init_from, "%s", from);
  r->start_step = st;
  return 0;
}

/* The online learner from a pretrained checkpoint (o2o_learner_warm_start), checked against
 * the scenario: dims, task and action bounds (when the file records them). */
static int warm_start(trn_run *r, o2o_train_result *res, char *err, size_t errlen) {
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

/* The learner of the run: resumed, warm-started, or fresh; a learner that mixes real data
 * (H2O) gets the dataset as its real buffer. */
static int make_learner(trn_run *r, o2o_train_result *res, char *err, size_t errlen) {
  const o2o_train_config *cfg = r->cfg;
  char sub[O2O_AGENT_ERRLEN];
  if (cfg->resume) {
    if (resume_from(r, cfg->resume, err, errlen)) return -1;
  } else if (cfg->init_from) {
    if (warm_start(r, res, err, errlen)) return -1;
  } else {
    const o2o_learner_algo *algo = o2o_learner_find(cfg->algorithm ? cfg->algorithm : "sac");
    if (!algo) {
      o2o_agent_errf(err, errlen, "train: unknown algorithm '%s' (one of %s)", cfg->algorithm,
                     o2o_learner_names(0));
      return -1;
    }
    r->learner =
        o2o_learner_create(algo, r->O, r->A, cfg->learner_config, NULL, NULL,
                           o2o_seed_stream(cfg->seed, O2O_STREAM_LEARNER), sub, sizeof(sub));
    if (!r->learner) {
      o2o_agent_errf(err, errlen, "train: %s", sub);
      return -1;
    }
  }
  r->real_frac = o2o_learner_real_fraction(r->learner);
  if ((r->real_frac >= 0) != (cfg->real_dataset != NULL)) {
    o2o_agent_errf(err, errlen,
                   cfg->real_dataset
                       ? "train: --dataset %s: the %s learner does not mix real data into its "
                         "batches (h2o does)"
                       : "train: the %s learner needs a real dataset (--dataset FILE): its "
                         "batches mix real and sim rows",
                   cfg->real_dataset ? cfg->real_dataset : o2o_learner_algo_of(r->learner)->name,
                   o2o_learner_algo_of(r->learner)->name);
    return -1;
  }
  if (cfg->real_dataset) {
    if (o2o_train_load_dataset(cfg->real_dataset, r->spec, 0, 0, &r->real, sub, sizeof sub) ||
        o2o_learner_set_data_stats(r->learner, r->real.obs_mean, r->real.obs_std, sub,
                                   sizeof sub)) {
      o2o_agent_errf(err, errlen, "train: %s", sub);
      return -1;
    }
    if (cfg->progress)
      fprintf(stderr, "train: real buffer %s: %lld transitions, %lld episodes, mean return %.1f\n",
              r->real.path, (long long)r->real.rows, (long long)r->real.episodes,
              r->real.return_mean);
  }
  return 0;
}

/* The replay buffer, the batch and the per-env arrays; the run's random streams. */
static int alloc_buffers(trn_run *r, int64_t capacity, char *err, size_t errlen) {
  const o2o_train_config *cfg = r->cfg;
  const int E = r->E, O = r->O, A = r->A;
  char sub[O2O_AGENT_ERRLEN];
  r->rb = o2o_replay_create(capacity, O, A, sub, sizeof(sub));
  if (!r->rb) {
    o2o_agent_errf(err, errlen, "train: %s", sub);
    return -1;
  }
  r->obs = malloc((size_t)E * O * sizeof(float));
  r->unit = malloc((size_t)E * A * sizeof(float));
  r->scaled = malloc((size_t)E * A * sizeof(float));
  r->ep_ret = calloc((size_t)E, sizeof(double));
  r->eval_returns = calloc((size_t)cfg->eval_episodes, sizeof(double));
  if (o2o_replay_batch_alloc(&r->batch, r->batch_size, O, A, r->real.rb != NULL) || !r->obs ||
      !r->unit || !r->scaled || !r->ep_ret || !r->eval_returns) {
    o2o_agent_errf(err, errlen, "train: out of memory");
    return -1;
  }
  /* A resumed run draws fresh streams from its step, not the ones of its first part. */
  o2o_replay_rng_seed(
      &r->rng, o2o_seed_stream(o2o_seed_stream(cfg->seed, O2O_STREAM_REPLAY), r->start_step));
  r->warm_rng = o2o_seed_stream(cfg->seed, O2O_STREAM_WARMUP);
  return 0;
}

/* metrics.csv at p: a resumed run continues its own, a new run makes it exclusively. */
static int open_metrics(trn_run *r, const char *p, char *err, size_t errlen) {
  const o2o_train_config *cfg = r->cfg;
  if (cfg->resume) {
    /* A resumed run continues its metrics: the rows of the killed run past the checkpoint go. */
    if (o2o_train_cut_metrics(p, r->start_step, err, errlen)) return -1;
    FILE *old = fopen(p, "r");
    int exists = old && fgetc(old) != EOF;
    if (old) fclose(old);
    r->metrics = fopen(p, exists ? "a" : "w");
    if (r->metrics && !exists && trn_write_metrics_header(r->metrics)) {
      fclose(r->metrics);
      r->metrics = NULL;
    }
  } else {
    /* Exclusive unless --overwrite: a second run never writes into this one's folder. */
    int fd = open(p, O_WRONLY | O_CREAT | (cfg->overwrite ? O_TRUNC : O_EXCL), 0666);
    if (fd < 0 && errno == EEXIST) {
      o2o_agent_errf(err, errlen,
                     "train: %s already holds a run (metrics.csv); pick another --out, --resume "
                     "it, or pass --overwrite",
                     cfg->out_dir);
      return -1;
    }
    r->metrics = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!r->metrics && fd >= 0) close(fd);
    if (r->metrics && trn_write_metrics_header(r->metrics)) {
      fclose(r->metrics);
      r->metrics = NULL;
    }
  }
  if (!r->metrics) {
    o2o_agent_errf(err, errlen, "train: cannot write %s: %s", p, strerror(errno));
    return -1;
  }
  return 0;
}

/* The run folder: metrics.csv, config.json, the checkpoint paths. */
static int open_run_files(trn_run *r, const o2o_train_result *res, int64_t capacity, char *err,
                          size_t errlen) {
  const o2o_train_config *cfg = r->cfg;
  char p[1100];
  if (o2o_train_mkdirs(cfg->out_dir, err, errlen)) return -1;
  snprintf(p, sizeof(p), "%s/metrics.csv", cfg->out_dir);
  if (open_metrics(r, p, err, errlen)) return -1;
  o2o_train_clear_failed(cfg->out_dir); /* a resumed run is no longer a failed one */
  o2o_train_config resolved = *r->cfg;  /* config.json records what the run uses */
  resolved.replay_capacity = capacity;
  snprintf(p, sizeof(p), "%s/config.json", cfg->out_dir);
  if (o2o_train_write_config(p, &resolved, r->spec, r->learner,
                             res->warm_started ? &res->warm : NULL, err, errlen))
    return -1;
  snprintf(r->ckpt_path, sizeof(r->ckpt_path), "%s/checkpoint.safetensors", cfg->out_dir);
  snprintf(r->final_path, sizeof(r->final_path), "%s/final.safetensors", cfg->out_dir);
  snprintf(r->replay_path, sizeof(r->replay_path), "%s/" O2O_REPLAY_FILE, cfg->out_dir);
  return 0;
}

/* A resumed run refills its buffer from the replay file beside the checkpoint it resumes. A file
 * that is missing or of another step (the run was killed between writing the two, or resumes
 * an older checkpoint than the last one written) leaves the buffer empty, said on stderr; a
 * broken one is an error. */
static int restore_replay(trn_run *r, o2o_train_result *res, char *err, size_t errlen) {
  char dir[1024], path[1100], sub[O2O_AGENT_ERRLEN];
  o2o_train_dir_of(r->cfg->resume, dir, sizeof dir);
  snprintf(path, sizeof path, "%s/" O2O_REPLAY_FILE, dir);
  if (access(path, F_OK)) {
    if (r->cfg->progress)
      fprintf(stderr, "resume: no %s beside the checkpoint: the replay buffer starts empty\n",
              path);
    return 0;
  }
  int64_t n = o2o_replay_file_load(r->rb, path, r->start_step, sub, sizeof sub);
  if (n == -2) {
    if (r->cfg->progress) fprintf(stderr, "resume: %s: the replay buffer starts empty\n", sub);
    return 0;
  }
  if (n < 0) {
    o2o_agent_errf(err, errlen, "resume: %s (delete it to resume with an empty replay buffer)",
                   sub);
    return -1;
  }
  res->replay_restored = n;
  if (r->cfg->progress)
    fprintf(stderr, "resume: %lld replay rows restored from %s\n", (long long)n, path);
  return 0;
}

int trn_setup(trn_run *r, o2o_train_result *res, char *err, size_t errlen) {
  const o2o_train_config *cfg = r->cfg;
  int64_t capacity = cfg->replay_capacity > 0 ? cfg->replay_capacity
                     : cfg->steps < 1000000   ? cfg->steps
                                              : 1000000;
  r->start_step = 0;
  if (make_learner(r, res, err, errlen)) return -1;
  /* checkpoints and config.json record the run's warm start source, a resumed run's too */
  r->run_cfg = *cfg;
  r->run_cfg.init_from = *r->init_from ? r->init_from : NULL;
  r->cfg = &r->run_cfg;
  r->utd = learner_int(r->learner, "utd", 1);
  r->batch_size = o2o_learner_batch_size(r->learner);
  /* Random warm-up only for a fresh learner; a resumed one acts with its policy at once. */
  r->warmup_end = cfg->resume ? 0 : learner_int(r->learner, "start_steps", 0);
  r->learn_from = r->warmup_end > cfg->warmup_steps ? r->warmup_end : cfg->warmup_steps;
  r->learn_start_step = -1;
  if (alloc_buffers(r, capacity, err, errlen)) return -1;
  res->replay_restored = -1;
  if (cfg->resume && restore_replay(r, res, err, errlen)) return -1;
  if (!cfg->out_dir) return 0;
  if (open_run_files(r, res, capacity, err, errlen)) return -1;
  if (cfg->resume) { /* the best evaluation so far is the whole run's, not this part's */
    char p[1100];
    snprintf(p, sizeof p, "%s/metrics.csv", cfg->out_dir);
    r->hist_evals = o2o_train_metrics_best(p, &res->best_eval_mean, &res->best_eval_step);
  }
  return 0;
}

int trn_checkpoint(trn_run *r, const char *path, int64_t env_steps, char *err, size_t errlen) {
  if (o2o_train_save_checkpoint(path, r->learner, r->cfg, r->spec, env_steps, err, errlen))
    return -1;
  if (path == r->ckpt_path) r->ckpt_step = env_steps;
  /* the buffer goes with the checkpoint a resumed run starts from (a killed run: the last
   * checkpoint; a finished one extended with a larger --steps: the final one) */
  return o2o_replay_file_save(r->rb, r->replay_path, env_steps, err, errlen);
}

void trn_free(trn_run *r) {
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
