/* offline.c: training an offline learner from a dataset (offline.h). */
#include "run/offline.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "run/stop.h"
#include "io/json_out.h"
#include "io/progress.h"

#include "o2o_agent.h"
#include "o2o_bridge.h"
#include "o2o_version.h"
#include "replay/replay.h"
#include "run/dataset_load.h"
#include "run/train.h"

void o2o_offline_config_default(o2o_offline_config *c) {
  memset(c, 0, sizeof *c);
  c->algo = "iql";
  c->seed = 1;
  c->steps = 100000;
  c->eval_every = 5000;
  c->eval_episodes = 10;
  c->eval_seed = 1000000;
  c->checkpoint_every = 10000;
  c->progress = 1;
}

typedef struct run {
  const o2o_offline_config *cfg;
  const o2o_learner_algo *algo;
  o2o_learner *learner;
  o2o_loaded_dataset data;
  o2o_replay *rb; /* data.rb */
  o2o_batch batch;
  o2o_train_env eval;
  int have_eval;
  const o2o_bridge_spec *spec;
  char dataset_path[1024], dir[960];
  int64_t rows, episodes, start_step;
  double return_mean, reward_scale;
  float *obs_mean, *obs_std;
  FILE *metrics;
  int metrics_has_header;
  o2o_learner_stats stats, stats_sum;
  int stats_n;
  double *returns;
  double t0;
  o2o_progress line; /* the [offline] line: in place on a terminal, whole lines in a log */
} run;

/* 1. the dataset: checked against the scenario, read into the replay buffer */
static int load_dataset(run *r, char *err, size_t errlen) {
  const o2o_offline_config *c = r->cfg;
  if (o2o_train_load_dataset(c->dataset, r->spec, c->reward_scale,
                             r->algo->columns & (O2O_COLUMN_WEIGHT | O2O_COLUMN_MC_RETURN),
                             &r->data, err, errlen))
    return -1;
  r->rb = r->data.rb;
  r->rows = r->data.rows;
  r->episodes = r->data.episodes;
  r->return_mean = r->data.return_mean;
  r->reward_scale = r->data.reward_scale;
  snprintf(r->dataset_path, sizeof r->dataset_path, "%s", r->data.path);
  if (c->normalize_obs) { /* CORL: std + 1e-3 */
    const int O = r->spec->obs_dim;
    r->obs_mean = malloc(sizeof(float) * (size_t)O);
    r->obs_std = malloc(sizeof(float) * (size_t)O);
    if (!r->obs_mean || !r->obs_std) {
      o2o_agent_errf(err, errlen, "out of memory");
      return -1;
    }
    for (int j = 0; j < O; j++) {
      r->obs_mean[j] = r->data.obs_mean[j];
      r->obs_std[j] = r->data.obs_std[j] + 1e-3f;
    }
  }
  return 0;
}

static void act_det(void *ctx, const float *obs, int n, float *actions) {
  o2o_learner_act(ctx, obs, n, 1, actions);
}

/* checkpoint: the learner's metadata + the run's keys */
static int save(run *r, const char *name, int64_t step, char *err, size_t errlen) {
  if (!r->dir[0]) return 0;
  o2o_ckpt_meta meta;
  o2o_ckpt_meta_init(&meta);
  if (o2o_learner_meta(r->learner, &meta, err, errlen)) return -1;
  int bad = o2o_ckpt_meta_set(&meta, "phase", "offline");
  bad |= o2o_ckpt_meta_setf(&meta, "step", "%lld", (long long)step);
  bad |= o2o_ckpt_meta_set(&meta, "o2o_version", O2O_VERSION);
  bad |= o2o_ckpt_meta_set(&meta, "scenario", r->spec->scenario);
  bad |= o2o_ckpt_meta_set(&meta, "scenario_arg", r->cfg->scenario);
  bad |= o2o_ckpt_meta_set(&meta, "task", r->spec->task);
  bad |= o2o_ckpt_meta_set(&meta, "dataset", r->dataset_path);
  bad |= o2o_ckpt_meta_setf(&meta, "reward_scale", "%.17g", r->reward_scale);
  bad |= o2o_ckpt_meta_setf(&meta, "seed", "%llu", (unsigned long long)r->cfg->seed);
  bad |= o2o_ckpt_meta_setf(&meta, "steps", "%lld", (long long)r->cfg->steps);
  /* the run's settings, so that --resume CKPT alone continues it as it was */
  bad |= o2o_ckpt_meta_setf(&meta, "eval_every", "%lld", (long long)r->cfg->eval_every);
  bad |= o2o_ckpt_meta_setf(&meta, "eval_episodes", "%d", r->cfg->eval_episodes);
  bad |= o2o_ckpt_meta_setf(&meta, "eval_seed", "%llu", (unsigned long long)r->cfg->eval_seed);
  bad |= o2o_ckpt_meta_setf(&meta, "checkpoint_every", "%lld", (long long)r->cfg->checkpoint_every);
  char lo[256] = "", hi[256] = "";
  for (int j = 0; j < r->spec->act_dim; j++) {
    snprintf(lo + strlen(lo), sizeof lo - strlen(lo), "%s%.9g", j ? "," : "",
             (double)r->spec->act_low[j]);
    snprintf(hi + strlen(hi), sizeof hi - strlen(hi), "%s%.9g", j ? "," : "",
             (double)r->spec->act_high[j]);
  }
  bad |= o2o_ckpt_meta_set(&meta, "act_low", lo);
  bad |= o2o_ckpt_meta_set(&meta, "act_high", hi);
  if (bad) {
    o2o_agent_errf(err, errlen, "checkpoint metadata: too many keys");
    return -1;
  }
  char path[1100];
  snprintf(path, sizeof path, "%s/%s", r->dir, name);
  const o2o_tensor_ref *t;
  int n = o2o_learner_tensors(r->learner, &t);
  return o2o_ckpt_save(path, t, n, &meta, err, errlen);
}

static int write_config(run *r, char *err, size_t errlen) {
  if (!r->dir[0]) return 0;
  char path[1100];
  snprintf(path, sizeof path, "%s/config.json", r->dir);
  FILE *f = fopen(path, "w");
  if (!f) {
    o2o_agent_errf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  const o2o_offline_config *c = r->cfg;
  fprintf(f, "{\n  \"command\": \"train-offline\",\n");
  o2o_json_invocation(f, "  ");
  fprintf(f, "  \"o2o_version\": ");
  o2o_json_str(f, O2O_VERSION);
  fprintf(f, ",\n  \"algorithm\": ");
  o2o_json_str(f, r->algo->name);
  fprintf(f, ",\n  \"dataset\": ");
  o2o_json_str(f, r->dataset_path);
  fprintf(f, ",\n  \"scenario\": ");
  o2o_json_str(f, r->spec->scenario);
  fprintf(f, ",\n  \"task\": ");
  o2o_json_str(f, r->spec->task);
  fprintf(f,
          ",\n  \"seed\": %llu, \"steps\": %lld, \"eval_every\": %lld, \"eval_episodes\": %d,"
          " \"eval_seed\": %llu, \"checkpoint_every\": %lld,\n",
          (unsigned long long)c->seed, (long long)c->steps, (long long)c->eval_every,
          c->eval_episodes, (unsigned long long)c->eval_seed, (long long)c->checkpoint_every);
  fprintf(f,
          "  \"dataset_transitions\": %lld, \"dataset_episodes\": %lld, "
          "\"dataset_return_mean\": ",
          (long long)r->rows, (long long)r->episodes);
  o2o_json_num(f, r->return_mean);
  fprintf(f, ", \"reward_scale\": ");
  o2o_json_num(f, r->reward_scale);
  fprintf(f, ", \"normalize_obs\": %d,\n  \"%s\": {", c->normalize_obs, r->algo->name);
  for (int i = 0; i < r->algo->num_fields; i++) {
    const o2o_learner_field *fl = &r->algo->fields[i];
    fprintf(f, "%s\"%s\": ", i ? ", " : "", fl->name);
    o2o_json_num(f, o2o_learner_field_resolved(r->learner, fl));
  }
  fprintf(f, "}\n}\n");
  if (fclose(f)) {
    o2o_agent_errf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

static int evaluate(run *r, int64_t step, double ups, o2o_offline_result *res, char *err,
                    size_t errlen) {
  const int n = r->cfg->eval_episodes;
  if (!r->have_eval || n < 1) return 0;
  if (o2o_train_evaluate(&r->eval, act_det, r->learner, n, r->cfg->eval_seed, r->returns, err,
                         errlen))
    return -1;
  double m = 0, s = 0, lo = INFINITY, hi = -INFINITY, score = NAN;
  for (int i = 0; i < n; i++) {
    m += r->returns[i] / n;
    lo = r->returns[i] < lo ? r->returns[i] : lo;
    hi = r->returns[i] > hi ? r->returns[i] : hi;
  }
  for (int i = 0; i < n; i++)
    s += (r->returns[i] - m) * (r->returns[i] - m) / n;
  if (!o2o_train_d4rl_score(r->spec->task, m, &score)) score = NAN;
  res->evals++;
  res->last_eval_mean = m;
  res->last_eval_std = sqrt(s);
  res->last_score = score;
  if (!(m <= res->best_eval_mean)) res->best_eval_mean = m;
  if (r->metrics) {
    if (!r->metrics_has_header) {
      fprintf(r->metrics, "step,wall_s,eval_return_mean,eval_return_std,eval_return_min,"
                          "eval_return_max,eval_episodes,d4rl_score,updates_per_s");
      for (int i = 0; i < r->stats.count; i++)
        fprintf(r->metrics, ",%s", r->stats.names[i]);
      fprintf(r->metrics, "\n");
      r->metrics_has_header = 1;
    }
    fprintf(r->metrics, "%lld,%.3f,%.6g,%.6g,%.6g,%.6g,%d,", (long long)step,
            o2o_agent_now_s() - r->t0, m, sqrt(s), lo, hi, n);
    if (isfinite(score)) fprintf(r->metrics, "%.4g", score);
    fprintf(r->metrics, ",%.2f", ups);
    for (int i = 0; i < r->stats.count; i++) /* means since the previous row */
      fprintf(r->metrics, ",%.6g", r->stats_n ? r->stats_sum.values[i] / r->stats_n : NAN);
    fprintf(r->metrics, "\n");
    fflush(r->metrics);
  }
  r->stats_n = 0;
  return 0;
}

/* The [offline] line; keep: an evaluation's, which stays on a terminal too. */
static void progress(run *r, int64_t step, double ups, const o2o_offline_result *res, int keep) {
  const int64_t left = r->cfg->steps - step;
  double eta = ups > 0 ? left / ups : -1;
  char ev[64] = "";
  if (res->evals) {
    int k = snprintf(ev, sizeof ev, " | eval %.1f", res->last_eval_mean);
    if (isfinite(res->last_score)) snprintf(ev + k, sizeof ev - k, " (D4RL %.1f)", res->last_score);
  }
  o2o_progress_show(&r->line, keep,
                    "[offline %s] step %lld/%lld (%.0f%%) | %.0f upd/s%s | ETA %.0fm%02.0fs",
                    r->algo->name, (long long)step, (long long)r->cfg->steps,
                    100.0 * (double)step / (double)r->cfg->steps, ups, ev,
                    eta > 0 ? floor(eta / 60) : 0, eta > 0 ? fmod(eta, 60) : 0);
}

/* The run folder: new (exclusive), or the resumed checkpoint's. */
static int open_dir(run *r, char *err, size_t errlen) {
  const o2o_offline_config *c = r->cfg;
  if (c->resume) {
    if (strlen(c->resume) >= sizeof r->dir) {
      o2o_agent_errf(err, errlen, "resume: checkpoint path longer than %zu characters",
                     sizeof r->dir - 1);
      return -1;
    }
    o2o_train_dir_of(c->resume, r->dir, sizeof r->dir);
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.csv", r->dir);
    if (access(path, F_OK) == 0 && o2o_train_cut_metrics(path, r->start_step, err, errlen))
      return -1;
    r->metrics_has_header = access(path, F_OK) == 0;
  } else if (c->out_dir) {
    struct stat st;
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/metrics.csv", c->out_dir);
    if (!c->overwrite && stat(probe, &st) == 0 && st.st_size > 0) {
      o2o_agent_errf(err, errlen,
                     "%s already holds a run (metrics.csv): pick another --out, --resume its "
                     "checkpoint, or --overwrite",
                     c->out_dir);
      return -1;
    }
    if (c->overwrite) {
      snprintf(r->dir, sizeof r->dir, "%s", c->out_dir);
      if (o2o_train_mkdirs(r->dir, err, errlen)) return -1;
      unlink(probe);
    } else if (o2o_train_make_run_dir(c->out_dir, r->dir, sizeof r->dir, err, errlen)) {
      return -1;
    }
  } else {
    return 0;
  }
  char path[1100];
  snprintf(path, sizeof path, "%s/metrics.csv", r->dir);
  o2o_train_clear_failed(r->dir); /* a resumed run is no longer a failed one */
  if (!(r->metrics = fopen(path, "a"))) {
    o2o_agent_errf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* Monte-Carlo returns-to-go of every row (Cal-QL's mc_return column) from the episode ends, with
 * the learner's discount and return rules, on the rewards as it sees them (after any scale). */
static int fill_returns(run *r, char *err, size_t errlen) {
  if (!(o2o_replay_columns(r->rb) & O2O_COLUMN_MC_RETURN)) return 0;
  const void *cfg = o2o_learner_config(r->learner);
  const o2o_learner_field *g = o2o_learner_field_find(r->algo, "gamma");
  const o2o_learner_field *sp = o2o_learner_field_find(r->algo, "sparse_reward");
  const o2o_learner_field *rn = o2o_learner_field_find(r->algo, "reward_neg");
  const o2o_learner_field *ih = o2o_learner_field_find(r->algo, "mc_infinite_horizon");
  o2o_mc_opts o = {.gamma = g ? o2o_learner_field_get(g, cfg) : 0.99,
                   .sparse_reward = sp && o2o_learner_field_get(sp, cfg) != 0,
                   .reward_neg = rn ? o2o_learner_field_get(rn, cfg) : 0.0,
                   .infinite_horizon = ih && o2o_learner_field_get(ih, cfg) != 0};
  char sub[O2O_AGENT_ERRLEN];
  if (o2o_replay_fill_mc_returns(r->rb, 0, r->rows, r->data.terminals, r->data.timeouts, &o, sub,
                                 sizeof sub)) {
    o2o_agent_errf(err, errlen, "dataset %s: %s", r->dataset_path, sub);
    return -1;
  }
  return 0;
}

static int make_learner(run *r, char *err, size_t errlen) {
  const o2o_offline_config *c = r->cfg;
  if (c->resume) {
    o2o_ckpt_meta meta;
    if (!(r->learner = o2o_learner_load(c->resume, c->algo, &meta, err, errlen))) return -1;
    const char *phase = o2o_ckpt_meta_get(&meta, "phase"), *st = o2o_ckpt_meta_get(&meta, "step");
    const char *rs = o2o_ckpt_meta_get(&meta, "reward_scale");
    r->start_step = o2o_ckpt_meta_int(&meta, "step");
    if (!phase || strcmp(phase, "offline") || r->start_step < 0) {
      o2o_agent_errf(err, errlen,
                     "resume: %s is not a train-offline checkpoint (phase %s, step %s)", c->resume,
                     phase ? phase : "missing", st ? st : "missing");
      return -1;
    }
    if (rs && fabs(strtod(rs, NULL) - r->reward_scale) > 1e-9 * fabs(r->reward_scale)) {
      o2o_agent_errf(err, errlen,
                     "resume: %s was trained with reward scale %s, this dataset gives %.17g "
                     "(another dataset or --reward-scale?)",
                     c->resume, rs, r->reward_scale);
      return -1;
    }
    if (r->start_step >= c->steps) {
      o2o_agent_errf(err, errlen,
                     "resume: %s is already at step %lld; --steps %lld is reached (give a "
                     "larger --steps to train further)",
                     c->resume, (long long)r->start_step, (long long)c->steps);
      return -1;
    }
    return 0;
  }
  r->learner =
      o2o_learner_create(r->algo, r->spec->obs_dim, r->spec->act_dim, c->algo_cfg, r->obs_mean,
                         r->obs_std, o2o_seed_stream(c->seed, O2O_STREAM_LEARNER), err, errlen);
  return r->learner ? 0 : -1;
}

int o2o_offline_run(const o2o_offline_config *c, o2o_offline_result *res, char *err,
                    size_t errlen) {
  memset(res, 0, sizeof *res);
  res->last_score = res->last_eval_mean = NAN;
  res->best_eval_mean = -INFINITY;
  run r = {.cfg = c};
  int rc = -1;
  if (!(r.algo = o2o_learner_find(c->algo)) || !r.algo->offline) {
    o2o_agent_errf(err, errlen, "--algo '%s': not an offline learner (offline ones: %s)",
                   c->algo ? c->algo : "", o2o_learner_names(1));
    return -1;
  }
  if (c->eval_episodes < 1 || c->steps < 1) {
    o2o_agent_errf(err, errlen, "--steps and --eval-episodes must be >= 1");
    return -1;
  }
  /* the evaluation pool first: its SPEC is what the dataset is checked against */
  o2o_pool_config pc = {.scenario = c->scenario,
                        .variant = "real",
                        .num_procs = 1,
                        .envs_per_proc = c->eval_episodes,
                        .sim_exe = c->sim_exe,
                        .quiet = !c->progress};
  if (o2o_train_env_pool(&r.eval, &pc, err, errlen)) return -1;
  r.have_eval = 1;
  o2o_stop stop; /* Ctrl-C / SIGTERM: finish the step, checkpoint, stop (resumable) */
  o2o_stop_begin(&stop);
  r.spec = r.eval.spec(r.eval.ctx);
  if (load_dataset(&r, err, errlen) || make_learner(&r, err, errlen) ||
      fill_returns(&r, err, errlen) || open_dir(&r, err, errlen) ||
      (!c->resume && write_config(&r, err, errlen)))
    goto done;
  res->dataset_return_mean = r.return_mean;
  res->reward_scale = r.reward_scale;
  if (c->resume) { /* the best evaluation so far is the whole run's, not this part's */
    char p[1100];
    snprintf(p, sizeof p, "%s/metrics.csv", r.dir);
    o2o_train_metrics_best(p, &res->best_eval_mean, NULL);
  }
  const int B = o2o_learner_batch_size(r.learner);
  if (o2o_replay_batch_alloc_with(&r.batch, B, r.spec->obs_dim, r.spec->act_dim,
                                  o2o_replay_columns(r.rb)) ||
      !(r.returns = calloc((size_t)c->eval_episodes, sizeof(double)))) {
    o2o_agent_errf(err, errlen, "out of memory");
    goto done;
  }
  if (c->progress)
    fprintf(stderr,
            "o2o train-offline: %s on %s (%lld transitions, %lld episodes, mean return %.1f), "
            "scenario %s, %lld steps from %lld, reward scale %.4g, run dir %s\n",
            r.algo->name, r.dataset_path, (long long)r.rows, (long long)r.episodes, r.return_mean,
            r.spec->scenario, (long long)c->steps, (long long)r.start_step, r.reward_scale,
            r.dir[0] ? r.dir : "(none)");
  /* sampling: a stream of the seed and the starting step, so a resumed run draws anew */
  uint64_t rng;
  o2o_replay_rng_seed(&rng, o2o_seed_stream(c->seed, O2O_STREAM_REPLAY) ^ (uint64_t)r.start_step);
  r.t0 = o2o_agent_now_s();
  double rate_t = r.t0;
  o2o_progress_init(&r.line, 0.5, 10.0);
  int64_t rate_step = r.start_step;
  double ups = 0;
  char last_ckpt[1100] = "";
  for (int64_t step = r.start_step + 1; step <= c->steps; step++) {
    if (o2o_replay_sample(r.rb, &rng, &r.batch, 0, err, errlen)) goto done;
    char uerr[O2O_AGENT_ERRLEN];
    if (o2o_learner_update(r.learner, &r.batch, &r.stats, uerr, sizeof uerr)) {
      o2o_agent_errf(err, errlen, "training stopped at gradient step %lld: %s%s%s%s",
                     (long long)step, uerr, last_ckpt[0] ? "; last good checkpoint " : "",
                     last_ckpt[0] ? last_ckpt : "", last_ckpt[0] ? " left untouched" : "");
      goto done;
    }
    if (r.stats_n == 0) /* running sums for the next metrics row */
      r.stats_sum = r.stats;
    else
      for (int i = 0; i < r.stats.count && i < r.stats_sum.count; i++)
        r.stats_sum.values[i] += r.stats.values[i];
    r.stats_n++;
    double t = o2o_agent_now_s();
    if (t - rate_t > 2.0) {
      ups = (double)(step - rate_step) / (t - rate_t);
      rate_t = t, rate_step = step;
    }
    const int eval_now = step == c->steps || (c->eval_every > 0 && step % c->eval_every == 0);
    if (eval_now) {
      if (ups == 0) ups = (double)(step - r.start_step) / (t - r.t0 > 0 ? t - r.t0 : 1e-9);
      if (evaluate(&r, step, ups, res, err, errlen)) goto done;
    }
    if (c->progress && o2o_progress_due(&r.line, eval_now)) progress(&r, step, ups, res, eval_now);
    if (step < c->steps && c->checkpoint_every > 0 && step % c->checkpoint_every == 0 && r.dir[0]) {
      if (save(&r, "checkpoint.safetensors", step, err, errlen)) goto done;
      snprintf(last_ckpt, sizeof last_ckpt, "%s/checkpoint.safetensors", r.dir);
    }
    res->steps = step;
    if (o2o_stop_requested() && step < c->steps) {
      char saved[1200] = "";
      if (r.dir[0]) {
        if (save(&r, "checkpoint.safetensors", step, err, errlen)) goto done;
        snprintf(saved, sizeof saved, "; checkpoint saved to %s/checkpoint.safetensors", r.dir);
      }
      o2o_agent_errf(err, errlen, "interrupted at gradient step %lld%s (--resume continues)",
                     (long long)step, saved);
      goto done;
    }
  }
  if (r.dir[0]) {
    if (save(&r, "final.safetensors", c->steps, err, errlen)) goto done;
    snprintf(res->last_checkpoint, sizeof res->last_checkpoint, "%s/final.safetensors", r.dir);
  }
  res->wall_s = o2o_agent_now_s() - r.t0;
  rc = 0;
done:
  o2o_stop_end(&stop);
  o2o_progress_end(&r.line); /* an error starts on a line of its own */
  o2o_stop_explain(rc, err, errlen);
  /* the folder holds a run: say it did not finish (an interrupted one is only paused) */
  if (rc && r.metrics && !o2o_stop_requested())
    o2o_train_mark_failed(r.dir, err ? err : "",
                          res->steps > r.start_step ? res->steps : r.start_step);
  if (r.metrics) fclose(r.metrics);
  if (r.have_eval) r.eval.destroy(r.eval.ctx);
  o2o_learner_destroy(r.learner);
  o2o_train_free_dataset(&r.data);
  o2o_replay_batch_free(&r.batch);
  free(r.obs_mean);
  free(r.obs_std);
  free(r.returns);
  return rc;
}
