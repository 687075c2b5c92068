/* pipeline.c: the phase of one (method, seed) job of `o2o run` (pipeline.h). */
#include "run/pipeline.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "io/json_out.h"
#include "learn/learner.h"
#include "o2o_agent.h"
#include "run/offline.h"
#include "run/train.h"

void o2o_pipeline_job_dir(const char *run_dir, int method, uint64_t seed, char *out, size_t cap) {
  snprintf(out, cap, "%s/%s/seed%llu", run_dir, o2o_method_name(method), (unsigned long long)seed);
}

int o2o_pipeline_write_file(const char *path, const char *text, char *err, size_t errlen) {
  char tmp[1200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    o2o_agent_errf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
    return -1;
  }
  int ok = fputs(text, f) >= 0;
  ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
  if (fclose(f) || !ok || rename(tmp, path)) {
    o2o_agent_errf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

/* The "step" a checkpoint records, or -1. */
static int64_t ckpt_step(const char *path) {
  char err[O2O_AGENT_ERRLEN];
  o2o_ckpt *c = o2o_ckpt_open(path, err, sizeof err);
  if (!c) return -1;
  int64_t st = o2o_ckpt_meta_int(o2o_ckpt_metadata(c), "step");
  o2o_ckpt_close(c);
  return st;
}

/* A DONE or FAILED file: {"method": .., "seed": .., <fields>} */
typedef struct json_buf {
  char *text;
  size_t len;
  FILE *f;
} json_buf;

static FILE *json_begin(json_buf *j, int method, uint64_t seed) {
  j->text = NULL;
  if (!(j->f = open_memstream(&j->text, &j->len))) return NULL;
  fprintf(j->f, "{\"method\": \"%s\", \"seed\": %llu", o2o_method_name(method),
          (unsigned long long)seed);
  return j->f;
}

static int json_end(json_buf *j, const char *path, char *err, size_t errlen) {
  fprintf(j->f, "}\n");
  fclose(j->f);
  int rc = j->text ? o2o_pipeline_write_file(path, j->text, err, errlen) : -1;
  free(j->text);
  return rc;
}

static void kv_num(FILE *f, const char *k, double v) {
  fprintf(f, ", \"%s\": ", k);
  o2o_json_num(f, v);
}

static void kv_str(FILE *f, const char *k, const char *v) {
  fprintf(f, ", \"%s\": ", k);
  if (v)
    o2o_json_str(f, v);
  else
    fprintf(f, "null");
}

static int run_offline(const o2o_experiment *x, const char *dir, uint64_t seed, const char *sim_exe,
                       int progress, json_buf *done, char *err, size_t errlen) {
  char ckpt[1200];
  snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", dir);
  o2o_offline_config c;
  o2o_offline_config_default(&c);
  c.dataset = x->dataset;
  c.scenario = x->scenario;
  c.algo = x->offline_algo;
  c.algo_cfg = x->offline_cfg;
  c.seed = seed;
  c.steps = x->offline_steps;
  c.eval_every = x->eval_every;
  c.eval_episodes = x->eval_episodes;
  c.eval_seed = x->eval_seed;
  c.checkpoint_every = x->offline_checkpoint_every;
  c.reward_scale = x->reward_scale;
  c.normalize_obs = x->normalize_obs;
  c.sim_exe = sim_exe;
  c.progress = progress;
  int64_t st = access(ckpt, R_OK) == 0 ? ckpt_step(ckpt) : -1;
  if (st >= 0) {
    c.resume = ckpt;
    fprintf(stderr, "o2o run: offline: resuming from checkpoint at step %lld\n", (long long)st);
  } else {
    c.out_dir = dir; /* a fresh start in the job's own folder (a killed start's rows go) */
    c.overwrite = 1;
  }
  o2o_offline_result r;
  if (o2o_offline_run(&c, &r, err, errlen)) return -1;
  FILE *f = json_begin(done, O2O_METHOD_OFFLINE, seed);
  if (!f) return -1;
  fprintf(f, ", \"phase\": \"offline\", \"algo\": \"%s\", \"steps\": %lld", x->offline_algo,
          (long long)r.steps);
  kv_num(f, "final_eval_mean", r.last_eval_mean);
  kv_num(f, "final_eval_std", r.last_eval_std);
  kv_num(f, "best_eval_mean", r.best_eval_mean);
  kv_num(f, "d4rl_score", r.last_score);
  kv_num(f, "dataset_return_mean", r.dataset_return_mean);
  kv_num(f, "wall_s", r.wall_s);
  fprintf(f, ", \"resumed_from_step\": %lld", (long long)st);
  kv_str(f, "final", r.last_checkpoint);
  return 0;
}

static int run_online(const o2o_experiment *x, const char *run_dir, const char *dir, int method,
                      uint64_t seed, const char *sim_exe, int progress, json_buf *done, char *err,
                      size_t errlen) {
  const int h2o = method == O2O_METHOD_H2O || method == O2O_METHOD_FULL;
  const int warm = method == O2O_METHOD_WSRL || method == O2O_METHOD_FULL;
  char pre[1200] = "", predone[1300], ckpt[1200];
  if (o2o_method_pretrained(method)) {
    char od[1100];
    o2o_pipeline_job_dir(run_dir, O2O_METHOD_OFFLINE, seed, od, sizeof od);
    snprintf(predone, sizeof predone, "%s/DONE", od);
    snprintf(pre, sizeof pre, "%s/final.safetensors", od);
    if (access(predone, F_OK) || access(pre, R_OK)) {
      o2o_agent_errf(err, errlen,
                     "%s needs the pretrain %s (DONE and final.safetensors): not there",
                     o2o_method_name(method), od);
      return -1;
    }
  }
  o2o_train_config c;
  o2o_train_config_default(&c);
  c.scenario = x->scenario;
  c.variant = "sim";
  c.seed = seed;
  c.steps = x->online_steps;
  c.eval_every = x->eval_every;
  c.eval_episodes = x->eval_episodes;
  c.eval_seed = x->eval_seed;
  c.checkpoint_every = x->online_checkpoint_every;
  c.sim_exe = sim_exe;
  c.progress = progress;
  c.out_dir = dir;
  c.algorithm = h2o ? "h2o" : "sac";
  const unsigned char *lcfg = h2o                         ? x->h2o_cfg
                              : method == O2O_METHOD_WSRL ? x->wsrl_cfg
                                                          : x->sac_cfg;
  /* the warm-started methods begin with critic-only updates: [warmstart] critic_updates */
  _Alignas(16) unsigned char warm_cfg[O2O_EXP_CFG_BYTES];
  if (warm) {
    const o2o_learner_algo *la = o2o_learner_find(c.algorithm);
    const o2o_learner_field *fd = la ? o2o_learner_field_find(la, "actor_delay") : NULL;
    char t[32];
    snprintf(t, sizeof t, "%lld", (long long)x->critic_updates);
    memcpy(warm_cfg, lcfg, sizeof warm_cfg);
    if (!fd || o2o_learner_field_parse(fd, warm_cfg, t, err, errlen)) {
      if (!fd) o2o_agent_errf(err, errlen, "%s: no actor_delay field", c.algorithm);
      return -1;
    }
    lcfg = warm_cfg;
  }
  c.learner_config = lcfg;
  if (h2o) c.real_dataset = x->dataset;
  c.init_from = pre[0] ? pre : NULL; /* ignored on resume */
  c.warmup_steps = warm ? x->warmup_steps : 0;
  snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", dir);
  int64_t st = access(ckpt, R_OK) == 0 ? ckpt_step(ckpt) : -1;
  if (st >= 0) {
    c.resume = ckpt;
    fprintf(stderr, "o2o run: %s: resuming from checkpoint at step %lld\n", o2o_method_name(method),
            (long long)st);
  } else {
    c.overwrite = 1; /* a fresh start in the job's own folder */
  }
  o2o_train_result r;
  if (o2o_train_online(&c, &r, err, errlen)) return -1;
  FILE *f = json_begin(done, method, seed);
  if (!f) return -1;
  fprintf(f,
          ", \"phase\": \"online\", \"algorithm\": \"%s\", \"env_steps\": %lld, \"updates\": %lld",
          c.algorithm, (long long)r.env_steps, (long long)r.updates);
  kv_num(f, "final_eval_mean", r.last_eval_mean);
  kv_num(f, "final_eval_std", r.last_eval_std);
  kv_num(f, "best_eval_mean", r.best_eval_mean);
  kv_num(f, "init_eval_mean", r.init_eval_mean); /* the pretrained policy at step 0 */
  fprintf(f, ", \"best_eval_step\": %lld", (long long)r.best_eval_step);
  kv_num(f, "wall_s", r.wall_s);
  fprintf(f, ", \"lost_steps\": %lld, \"resumed_from_step\": %lld", (long long)r.lost,
          (long long)st);
  kv_str(f, "init_from", pre[0] ? pre : NULL);
  fprintf(f, ", \"warmup_steps\": %lld", (long long)(warm ? x->warmup_steps : 0));
  kv_str(f, "real_dataset", h2o ? x->dataset : NULL);
  kv_str(f, "final", r.last_checkpoint);
  return 0;
}

int o2o_pipeline_run_job(const o2o_experiment *x, const char *run_dir, int method, uint64_t seed,
                         const char *sim_exe, int progress, char *err, size_t errlen) {
  char dir[1100], path[1200];
  o2o_pipeline_job_dir(run_dir, method, seed, dir, sizeof dir);
  snprintf(path, sizeof path, "%s/DONE", dir);
  if (access(path, F_OK) == 0) return 0;
  if (o2o_train_mkdirs(dir, err, errlen)) return -1;
  snprintf(path, sizeof path, "%s/FAILED", dir);
  unlink(path); /* a new attempt */
  double t0 = o2o_agent_now_s();
  json_buf done = {0};
  int rc = method == O2O_METHOD_OFFLINE
               ? run_offline(x, dir, seed, sim_exe, progress, &done, err, errlen)
               : run_online(x, run_dir, dir, method, seed, sim_exe, progress, &done, err, errlen);
  if (!rc) {
    if (!done.f) return -1;
    kv_num(done.f, "job_wall_s", o2o_agent_now_s() - t0);
    snprintf(path, sizeof path, "%s/DONE", dir);
    return json_end(&done, path, err, errlen);
  }
  if (strstr(err, "interrupted")) return -1; /* stopped by a signal: resumable, not failed */
  json_buf failed;
  FILE *f = json_begin(&failed, method, seed);
  if (f) {
    kv_str(f, "error", err);
    char sub[O2O_AGENT_ERRLEN];
    json_end(&failed, path, sub, sizeof sub);
  }
  return -1;
}
