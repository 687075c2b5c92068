/* replay_file.c: a run's replay buffer as a safetensors file (replay_file.h). */
#include "run/replay_file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"

enum { F_OBS, F_ACT, F_REW, F_NEXT, F_DONE, NF };
static const char *const field_name[NF] = {"obs", "act", "rew", "next_obs", "done"};

static int field_width(int f, int O, int A) {
  return f == F_OBS || f == F_NEXT ? O : f == F_ACT ? A : 1;
}

int o2o_replay_file_save(const o2o_replay *rb, const char *path, int64_t step, char *err,
                         size_t errlen) {
  const int O = o2o_replay_obs_dim(rb), A = o2o_replay_act_dim(rb);
  o2o_replay_view v;
  int64_t oldest;
  o2o_replay_storage(rb, &v, &oldest);
  const int64_t n = v.rows;
  const float *src[NF] = {v.obs, v.act, v.rew, v.next_obs, v.done};
  /* oldest first: the ring's two segments copied into one array per field */
  float *buf = malloc(((size_t)n * (size_t)(2 * O + A + 2) + 1) * sizeof(float));
  if (!buf) {
    o2o_agent_errf(err, errlen, "%s: out of memory for %lld replay rows", path, (long long)n);
    return -1;
  }
  o2o_tensor_ref t[NF];
  float *p = buf;
  for (int f = 0; f < NF; f++) {
    const size_t w = (size_t)field_width(f, O, A), tail = (size_t)(n - oldest) * w;
    memcpy(p, src[f] + (size_t)oldest * w, tail * sizeof(float));
    memcpy(p + tail, src[f], (size_t)oldest * w * sizeof(float));
    memset(&t[f], 0, sizeof t[f]);
    snprintf(t[f].name, sizeof t[f].name, "%s", field_name[f]);
    t[f].data = p;
    t[f].ndim = f == F_REW || f == F_DONE ? 1 : 2;
    t[f].shape[0] = n;
    t[f].shape[1] = (int64_t)w;
    p += (size_t)n * w;
  }
  o2o_ckpt_meta m;
  o2o_ckpt_meta_init(&m);
  o2o_ckpt_meta_set(&m, "kind", "o2o-replay");
  o2o_ckpt_meta_setf(&m, "rows", "%lld", (long long)n);
  o2o_ckpt_meta_setf(&m, "obs_dim", "%d", O);
  o2o_ckpt_meta_setf(&m, "act_dim", "%d", A);
  o2o_ckpt_meta_setf(&m, "step", "%lld", (long long)step);
  int rc = o2o_ckpt_save(path, t, NF, &m, err, errlen);
  free(buf);
  return rc;
}

int64_t o2o_replay_file_load(o2o_replay *rb, const char *path, int64_t want_step, char *err,
                             size_t errlen) {
  const int O = o2o_replay_obs_dim(rb), A = o2o_replay_act_dim(rb);
  char sub[O2O_AGENT_ERRLEN];
  o2o_ckpt *c = o2o_ckpt_open(path, sub, sizeof sub);
  if (!c) {
    o2o_agent_errf(err, errlen, "%s", sub);
    return -1;
  }
  const o2o_ckpt_meta *m = o2o_ckpt_metadata(c);
  const char *kind = o2o_ckpt_meta_get(m, "kind");
  const long long n = o2o_ckpt_meta_int(m, "rows"), step = o2o_ckpt_meta_int(m, "step");
  const long long fo = o2o_ckpt_meta_int(m, "obs_dim"), fa = o2o_ckpt_meta_int(m, "act_dim");
  int64_t rc = -1;
  if (!kind || strcmp(kind, "o2o-replay") || n < 0 || step < 0) {
    o2o_agent_errf(err, errlen, "%s: not a replay file (metadata kind, rows, step)", path);
    goto done;
  }
  if (fo != O || fa != A) {
    o2o_agent_errf(err, errlen, "%s: obs/act dims %lld/%lld, the run's buffer %d/%d", path, fo, fa,
                   O, A);
    goto done;
  }
  if (step != want_step) {
    o2o_agent_errf(err, errlen, "%s is at env step %lld, the checkpoint at %lld", path, step,
                   (long long)want_step);
    rc = -2;
    goto done;
  }
  const float *src[NF];
  for (int f = 0; f < NF; f++) {
    o2o_tensor_ref t;
    const int w = field_width(f, O, A);
    if (o2o_ckpt_find(c, field_name[f], &t) || t.shape[0] != n || o2o_tensor_numel(&t) != n * w) {
      o2o_agent_errf(err, errlen, "%s: tensor '%s' missing or not [%lld][%d]", path, field_name[f],
                     n, w);
      goto done;
    }
    for (int64_t i = 0; i < n * w; i++)
      if (!isfinite(t.data[i])) {
        o2o_agent_errf(err, errlen, "%s: non-finite value in '%s' row %lld", path, field_name[f],
                       (long long)(i / w));
        goto done;
      }
    src[f] = t.data;
  }
  o2o_replay_add(rb, n, src[F_OBS], src[F_ACT], src[F_REW], src[F_NEXT], src[F_DONE]);
  rc = n;
done:
  o2o_ckpt_close(c);
  return rc;
}
