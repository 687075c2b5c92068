/* train_files.c: what a training run writes: config.json, checkpoints with metadata. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "o2o_version.h"
#include "run/train.h"
#include "io/json_out.h"

int o2o_train_mkdirs(const char *dir, char *err, size_t errlen) {
  char p[1024];
  if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p)) {
    o2o_agent_errf(err, errlen, "path too long: %s", dir);
    return -1;
  }
  for (char *s = p + 1;; s++) {
    if (*s == '/' || *s == 0) {
      char c = *s;
      *s = 0;
      if (mkdir(p, 0755) && errno != EEXIST) {
        o2o_agent_errf(err, errlen, "cannot create directory %s: %s", p, strerror(errno));
        return -1;
      }
      *s = c;
      if (!c) break;
    }
  }
  struct stat st;
  if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
    o2o_agent_errf(err, errlen, "%s is not a directory", dir);
    return -1;
  }
  return 0;
}

int o2o_train_make_run_dir(const char *want, char *out, size_t cap, char *err, size_t errlen) {
  char parent[1024];
  snprintf(parent, sizeof parent, "%s", want);
  char *slash = strrchr(parent, '/');
  if (slash && slash != parent) {
    *slash = 0;
    if (o2o_train_mkdirs(parent, err, errlen)) return -1;
  }
  for (int k = 1; k <= 1000; k++) {
    int n = k == 1 ? snprintf(out, cap, "%s", want) : snprintf(out, cap, "%s-%d", want, k);
    if (n < 0 || (size_t)n >= cap) {
      o2o_agent_errf(err, errlen, "run folder name too long: %s", want);
      return -1;
    }
    if (!mkdir(out, 0777)) return 0; /* mkdir is exclusive: this folder is ours alone */
    if (errno != EEXIST) {
      o2o_agent_errf(err, errlen, "cannot create run folder %s: %s", out, strerror(errno));
      return -1;
    }
  }
  o2o_agent_errf(err, errlen, "cannot find a free run folder name after %s-1000", want);
  return -1;
}

static void bounds_str(const float *v, int n, char *out, size_t cap) {
  size_t k = 0;
  out[0] = 0;
  for (int i = 0; i < n && k < cap; i++) {
    char num[40];
    o2o_agent_num_text(v[i], num, sizeof num);
    k += (size_t)snprintf(out + k, cap - k, i ? ",%s" : "%s", num);
  }
}

int o2o_train_save_checkpoint(const char *path, o2o_learner *l, const o2o_train_config *cfg,
                              const o2o_bridge_spec *spec, int64_t env_steps, char *err,
                              size_t errlen) {
  const o2o_tensor_ref *tensors;
  int n = o2o_learner_tensors(l, &tensors);
  o2o_ckpt_meta m;
  o2o_ckpt_meta_init(&m);
  char buf[O2O_CKPT_VALLEN];
  int rc = 0;
  rc |= o2o_ckpt_meta_set(&m, "format", "o2o-checkpoint-1");
  rc |= o2o_ckpt_meta_set(&m, "o2o_version", O2O_VERSION);
  rc |= o2o_ckpt_meta_set(&m, "scenario", spec->scenario);
  rc |= o2o_ckpt_meta_set(&m, "scenario_arg", cfg->scenario ? cfg->scenario : spec->scenario);
  rc |= o2o_ckpt_meta_set(&m, "task", spec->task);
  rc |= o2o_ckpt_meta_set(&m, "variant", spec->variant);
  bounds_str(spec->act_low, spec->act_dim, buf, sizeof(buf));
  rc |= o2o_ckpt_meta_set(&m, "act_low", buf);
  bounds_str(spec->act_high, spec->act_dim, buf, sizeof(buf));
  rc |= o2o_ckpt_meta_set(&m, "act_high", buf);
  rc |= o2o_ckpt_meta_setf(&m, "step", "%lld", (long long)env_steps);
  rc |= o2o_ckpt_meta_setf(&m, "seed", "%llu", (unsigned long long)cfg->seed);
  rc |= o2o_ckpt_meta_setf(&m, "steps", "%lld", (long long)cfg->steps);
  rc |= o2o_ckpt_meta_setf(&m, "envs_per_proc", "%d", cfg->envs_per_proc);
  rc |= o2o_ckpt_meta_setf(&m, "procs", "%d", cfg->procs);
  rc |= o2o_ckpt_meta_setf(&m, "eval_every", "%lld", (long long)cfg->eval_every);
  rc |= o2o_ckpt_meta_setf(&m, "eval_episodes", "%d", cfg->eval_episodes);
  rc |= o2o_ckpt_meta_setf(&m, "eval_seed", "%llu", (unsigned long long)cfg->eval_seed);
  rc |= o2o_ckpt_meta_setf(&m, "checkpoint_every", "%lld", (long long)cfg->checkpoint_every);
  rc |= o2o_ckpt_meta_setf(&m, "replay_capacity", "%lld", (long long)cfg->replay_capacity);
  if (cfg->real_dataset) rc |= o2o_ckpt_meta_set(&m, "real_dataset", cfg->real_dataset);
  if (cfg->init_from) rc |= o2o_ckpt_meta_set(&m, "init_from", cfg->init_from);
  if (cfg->warmup_steps > 0)
    rc |= o2o_ckpt_meta_setf(&m, "warmup_steps", "%lld", (long long)cfg->warmup_steps);
  if (rc) {
    o2o_agent_errf(err, errlen, "checkpoint %s: metadata too long", path);
    return -1;
  }
  char sub[O2O_AGENT_ERRLEN];
  if (o2o_learner_meta(l, &m, sub, sizeof sub)) {
    o2o_agent_errf(err, errlen, "checkpoint %s: %s", path, sub);
    return -1;
  }
  return o2o_ckpt_save(path, tensors, n, &m, err, errlen);
}

int o2o_train_mark_failed(const char *dir, const char *error, int64_t step) {
  char path[1100];
  snprintf(path, sizeof path, "%s/FAILED", dir);
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fprintf(f, "{\"error\": ");
  o2o_json_str(f, error);
  fprintf(f, ", \"step\": %lld}\n", (long long)step);
  return fclose(f) ? -1 : 0;
}

void o2o_train_clear_failed(const char *dir) {
  char path[1100];
  snprintf(path, sizeof path, "%s/FAILED", dir);
  unlink(path);
}

/* "key": "text" or null */
static void json_str_or_null(FILE *f, const char *key, const char *v) {
  fprintf(f, ",\n  \"%s\": ", key);
  if (v)
    o2o_json_str(f, v);
  else
    fprintf(f, "null");
}

int o2o_train_write_config(const char *path, const o2o_train_config *cfg,
                           const o2o_bridge_spec *spec, const o2o_learner *l,
                           const o2o_warm_report *warm, char *err, size_t errlen) {
  FILE *f = fopen(path, "w");
  if (!f) {
    o2o_agent_errf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  const o2o_learner_algo *algo = o2o_learner_algo_of(l);
  fprintf(f, "{\n  \"command\": \"train-online\",\n");
  o2o_json_invocation(f, "  ");
  fprintf(f, "  \"o2o_version\": ");
  o2o_json_str(f, O2O_VERSION);
  fprintf(f, ",\n  \"algorithm\": ");
  o2o_json_str(f, algo->name);
  fprintf(f, ",\n  \"scenario\": ");
  o2o_json_str(f, cfg->scenario);
  fprintf(f, ",\n  \"variant\": ");
  o2o_json_str(f, cfg->variant);
  fprintf(f, ",\n  \"task\": ");
  o2o_json_str(f, spec->task);
  json_str_or_null(f, "resume", cfg->resume);
  json_str_or_null(f, "init_from", cfg->init_from);
  fprintf(f, ",\n  \"warmup_steps\": %lld,\n  \"warm_start\": ", (long long)cfg->warmup_steps);
  if (warm) {
    fprintf(f, "{\n    \"source\": ");
    o2o_json_str(f, warm->source);
    fprintf(f, ",\n    \"source_algorithm\": ");
    o2o_json_str(f, warm->source_algo);
    fprintf(f, ",\n    \"source_step\": %lld", (long long)warm->source_step);
    const char *keys[4] = {"copied", "converted", "fresh", "dropped"};
    const char *vals[4] = {warm->copied, warm->converted, warm->fresh, warm->dropped};
    for (int k = 0; k < 4; k++) {
      fprintf(f, ",\n    \"%s\": ", keys[k]);
      o2o_json_str(f, vals[k]);
    }
    fprintf(f, "\n  }");
  } else {
    fprintf(f, "null");
  }
  fprintf(f,
          ",\n  \"obs_dim\": %d,\n  \"act_dim\": %d,\n  \"max_episode_steps\": %d,\n"
          "  \"seed\": %llu,\n  \"steps\": %lld,\n  \"envs_per_proc\": %d,\n  \"procs\": %d,\n"
          "  \"eval_every\": %lld,\n  \"eval_episodes\": %d,\n  \"eval_seed\": %llu,\n"
          "  \"checkpoint_every\": %lld,\n  \"replay_capacity\": %lld,\n"
          "  \"validate_transitions\": %d,\n  \"stop_at_return\": ",
          spec->obs_dim, spec->act_dim, spec->max_episode_steps, (unsigned long long)cfg->seed,
          (long long)cfg->steps, cfg->envs_per_proc, cfg->procs, (long long)cfg->eval_every,
          cfg->eval_episodes, (unsigned long long)cfg->eval_seed, (long long)cfg->checkpoint_every,
          (long long)cfg->replay_capacity, cfg->validate_transitions);
  o2o_json_num(f, cfg->stop_at_return);
  fprintf(f, ",\n  \"obs_norm\": %d,\n  ", o2o_learner_obs_mean(l) != NULL);
  o2o_json_str(f, algo->name);
  fprintf(f, ": {");
  for (int i = 0; i < algo->num_fields; i++) {
    fprintf(f, "%s\n    \"%s\": ", i ? "," : "", algo->fields[i].name);
    o2o_json_num(f, o2o_learner_field_resolved(l, &algo->fields[i]));
  }
  fprintf(f, "\n  }\n}\n");
  if (fclose(f)) {
    o2o_agent_errf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

int o2o_train_cut_metrics(const char *path, int64_t step, char *err, size_t errlen) {
  FILE *in = fopen(path, "r");
  if (!in) return 0; /* nothing to cut */
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *out = fopen(tmp, "w");
  if (!out) {
    fclose(in);
    o2o_agent_errf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
    return -1;
  }
  char line[8192];
  int first = 1, ok = 1;
  while (fgets(line, sizeof line, in)) {
    char *end;
    long long s = strtoll(line, &end, 10);
    /* the header, and rows at or before the checkpoint (a partial last line is dropped) */
    if (first || (end != line && *end == ',' && s <= step && strchr(line, '\n')))
      ok &= fputs(line, out) >= 0;
    first = 0;
  }
  fclose(in);
  if (fclose(out) || !ok || rename(tmp, path)) {
    o2o_agent_errf(err, errlen, "cannot rewrite %s: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

int o2o_train_metrics_best(const char *path, double *best, int64_t *best_step) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char line[8192];
  int col = -1, n = 0;
  if (fgets(line, sizeof line, f)) { /* the column of eval_return_mean in the header */
    char *save = NULL;
    int k = 0;
    for (char *t = strtok_r(line, ",\n", &save); t; t = strtok_r(NULL, ",\n", &save), k++)
      if (col < 0 && !strcmp(t, "eval_return_mean")) col = k;
  }
  while (col >= 0 && fgets(line, sizeof line, f)) {
    char *p = line, *end;
    long long step = strtoll(p, &end, 10);
    if (end == p) continue;
    for (int k = 0; k < col && p; k++) /* empty fields count: no strtok */
      p = (p = strchr(p, ',')) ? p + 1 : NULL;
    double v = p ? strtod(p, &end) : NAN;
    if (!p || end == p || !isfinite(v)) continue; /* a row without an evaluation */
    if (n++ == 0 || v > *best) {
      *best = v;
      if (best_step) *best_step = step;
    }
  }
  fclose(f);
  return n;
}

void o2o_train_dir_of(const char *path, char *out, size_t cap) {
  snprintf(out, cap, "%s", path);
  char *slash = strrchr(out, '/');
  if (slash)
    *slash = 0;
  else
    snprintf(out, cap, ".");
}
