/* train_files.c: what a training run writes: config.json, checkpoints with metadata. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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

static void bounds_str(const float *v, int n, char *out, size_t cap) {
  size_t k = 0;
  out[0] = 0;
  for (int i = 0; i < n && k < cap; i++)
    k += (size_t)snprintf(out + k, cap - k, i ? ",%.9g" : "%.9g", v[i]);
}

int o2o_train_save_checkpoint(const char *path, o2o_sac *sac, const o2o_train_config *cfg,
                              const o2o_bridge_spec *spec, int64_t env_steps, char *err,
                              size_t errlen) {
  const o2o_tensor_ref *tensors;
  int n = o2o_sac_tensors(sac, &tensors);
  const o2o_sac_config *sc = o2o_sac_get_config(sac);
  o2o_ckpt_meta m;
  o2o_ckpt_meta_init(&m);
  char buf[O2O_CKPT_VALLEN];
  int rc = 0;
  rc |= o2o_ckpt_meta_set(&m, "format", "o2o-checkpoint-1");
  rc |= o2o_ckpt_meta_set(&m, "algorithm", "sac");
  rc |= o2o_ckpt_meta_set(&m, "o2o_version", O2O_VERSION);
  rc |= o2o_ckpt_meta_set(&m, "scenario", spec->scenario);
  rc |= o2o_ckpt_meta_set(&m, "task", spec->task);
  rc |= o2o_ckpt_meta_set(&m, "variant", spec->variant);
  rc |= o2o_ckpt_meta_setf(&m, "obs_dim", "%d", spec->obs_dim);
  rc |= o2o_ckpt_meta_setf(&m, "act_dim", "%d", spec->act_dim);
  bounds_str(spec->act_low, spec->act_dim, buf, sizeof(buf));
  rc |= o2o_ckpt_meta_set(&m, "act_low", buf);
  bounds_str(spec->act_high, spec->act_dim, buf, sizeof(buf));
  rc |= o2o_ckpt_meta_set(&m, "act_high", buf);
  rc |= o2o_ckpt_meta_setf(&m, "step", "%lld", (long long)env_steps);
  rc |= o2o_ckpt_meta_setf(&m, "seed", "%llu", (unsigned long long)cfg->seed);
#define META_FIELD(type, name, help) rc |= o2o_ckpt_meta_setf(&m, #name, "%.9g", (double)sc->name);
  O2O_SAC_CONFIG_FIELDS(META_FIELD)
#undef META_FIELD
  if (rc) {
    o2o_agent_errf(err, errlen, "checkpoint %s: metadata too long", path);
    return -1;
  }
  return o2o_ckpt_save(path, tensors, n, &m, err, errlen);
}

int o2o_train_write_config(const char *path, const o2o_train_config *cfg,
                           const o2o_bridge_spec *spec, char *err, size_t errlen) {
  FILE *f = fopen(path, "w");
  if (!f) {
    o2o_agent_errf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  fprintf(f, "{\n  \"o2o_version\": ");
  o2o_json_str(f, O2O_VERSION);
  fprintf(f, ",\n  \"algorithm\": \"sac\",\n  \"scenario\": ");
  o2o_json_str(f, cfg->scenario);
  fprintf(f, ",\n  \"variant\": ");
  o2o_json_str(f, cfg->variant);
  fprintf(f, ",\n  \"task\": ");
  o2o_json_str(f, spec->task);
  fprintf(f, ",\n  \"resume\": ");
  if (cfg->resume)
    o2o_json_str(f, cfg->resume);
  else
    fprintf(f, "null");
  fprintf(f,
          ",\n  \"obs_dim\": %d,\n  \"act_dim\": %d,\n  \"max_episode_steps\": %d,\n"
          "  \"seed\": %llu,\n  \"steps\": %lld,\n  \"envs_per_proc\": %d,\n  \"procs\": %d,\n"
          "  \"eval_every\": %lld,\n  \"eval_episodes\": %d,\n  \"eval_seed\": %llu,\n"
          "  \"checkpoint_every\": %lld,\n  \"replay_capacity\": %lld,\n"
          "  \"validate_transitions\": %d,\n  \"stop_at_return\": %.9g,\n  \"sac\": {",
          spec->obs_dim, spec->act_dim, spec->max_episode_steps, (unsigned long long)cfg->seed,
          (long long)cfg->steps, cfg->envs_per_proc, cfg->procs, (long long)cfg->eval_every,
          cfg->eval_episodes, (unsigned long long)cfg->eval_seed, (long long)cfg->checkpoint_every,
          (long long)cfg->replay_capacity, cfg->validate_transitions, cfg->stop_at_return);
  const char *sep = "\n";
#define JSON_FIELD(type, name, help)                                                               \
  fprintf(f, "%s    \"" #name "\": %.9g", sep, (double)cfg->sac.name);                             \
  sep = ",\n";
  O2O_SAC_CONFIG_FIELDS(JSON_FIELD)
#undef JSON_FIELD
  fprintf(f, "\n  }\n}\n");
  if (fclose(f)) {
    o2o_agent_errf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}
