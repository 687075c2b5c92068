/* dataset_load.c: a real dataset into a replay buffer (dataset_load.h). */
#include "run/dataset_load.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "o2o_agent.h"
#include "o2o_dataset.h"
#include "replay/replay.h"

void o2o_train_free_dataset(o2o_loaded_dataset *d) {
  o2o_replay_destroy(d->rb);
  free(d->obs_mean);
  free(d->obs_std);
  free(d->terminals);
  free(d->timeouts);
  memset(d, 0, sizeof *d);
}

/* dims and task of the file against the scenario */
static int check_info(const o2o_dataset_info *in, const char *path, const o2o_bridge_spec *sp,
                      char *err, size_t errlen) {
  if (in->obs_dim != sp->obs_dim || in->act_dim != sp->act_dim) {
    o2o_agent_errf(err, errlen,
                   "dataset %s has obs %d / act %d but scenario %s (task %s) has obs %d / act "
                   "%d: not data of this task",
                   path, in->obs_dim, in->act_dim, sp->scenario, sp->task, sp->obs_dim,
                   sp->act_dim);
    return -1;
  }
  if (in->task[0] && sp->task[0] && strcmp(in->task, sp->task)) {
    o2o_agent_errf(err, errlen, "dataset %s was recorded on task '%s', scenario %s is task '%s'",
                   path, in->task, sp->scenario, sp->task);
    return -1;
  }
  return 0;
}

static o2o_dataset *open_checked(const char *name, const o2o_bridge_spec *sp, char *path,
                                 size_t cap, char *err, size_t errlen) {
  char derr[O2O_DATASET_ERRLEN];
  if (o2o_dataset_find(name, path, cap, derr, sizeof derr)) {
    o2o_agent_errf(err, errlen, "%s", derr);
    return NULL;
  }
  o2o_dataset *ds = o2o_dataset_open(path, NULL, derr, sizeof derr);
  if (!ds) {
    o2o_agent_errf(err, errlen, "%s", derr);
    return NULL;
  }
  if (check_info(o2o_dataset_get_info(ds), path, sp, err, errlen)) {
    o2o_dataset_close(ds);
    return NULL;
  }
  return ds;
}

int o2o_train_check_dataset(const char *name, const o2o_bridge_spec *sp, char *path, size_t cap,
                            char *err, size_t errlen) {
  o2o_dataset *ds = open_checked(name, sp, path, cap, err, errlen);
  o2o_dataset_close(ds);
  return ds ? 0 : -1;
}

int o2o_train_load_dataset(const char *name, const o2o_bridge_spec *sp, double reward_scale,
                           int columns, o2o_loaded_dataset *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  char derr[O2O_DATASET_ERRLEN];
  o2o_dataset *ds = open_checked(name, sp, out->path, sizeof out->path, err, errlen);
  if (!ds) return -1;
  const o2o_dataset_info *in = o2o_dataset_get_info(ds);
  int rc = -1;
  uint8_t *term = NULL, *tout = NULL;
  const int64_t N = out->rows = in->transitions;
  const int O = in->obs_dim;
  if (N < 1) {
    o2o_agent_errf(err, errlen, "dataset %s holds no transitions", out->path);
    goto done;
  }
  if (!(out->rb = o2o_replay_create_with(N, O, in->act_dim, columns, err, errlen))) goto done;
  term = malloc((size_t)N);
  tout = malloc((size_t)N);
  out->obs_mean = calloc((size_t)O, sizeof(float));
  out->obs_std = calloc((size_t)O, sizeof(float));
  if (!term || !tout || !out->obs_mean || !out->obs_std) {
    o2o_agent_errf(err, errlen, "out of memory for %lld transitions", (long long)N);
    goto done;
  }
  o2o_replay_view v;
  o2o_replay_reserve(out->rb, N, &v);
  o2o_dataset_dest d = {v.obs, v.act, v.rew, v.next_obs, v.done, term, tout, NULL};
  if (o2o_dataset_read(ds, 0, N, &d, derr, sizeof derr)) {
    o2o_agent_errf(err, errlen, "%s", derr);
    goto done;
  }
  /* episode returns (a terminal or a timeout ends one): the mean, and the locomotion reward
   * scale 1000 / (max - min) of IQL (Kostrikov et al. 2021, official code) */
  double ret = 0, sum = 0, lo = INFINITY, hi = -INFINITY;
  for (int64_t i = 0; i < N; i++) {
    ret += v.rew[i];
    if (term[i] || tout[i]) {
      sum += ret;
      lo = ret < lo ? ret : lo;
      hi = ret > hi ? ret : hi;
      out->episodes++;
      ret = 0;
    }
  }
  out->return_mean = out->episodes ? sum / (double)out->episodes : NAN;
  out->reward_scale = reward_scale > 0 ? reward_scale : 1.0;
  if (reward_scale < 0) {
    if (out->episodes < 2 || !(hi > lo)) {
      o2o_agent_errf(err, errlen,
                     "dataset %s: the locomotion reward scale needs at least two complete "
                     "episodes of different returns (%lld found)",
                     out->path, (long long)out->episodes);
      goto done;
    }
    out->reward_scale = 1000.0 / (hi - lo);
  }
  if (out->reward_scale != 1.0)
    for (int64_t i = 0; i < N; i++)
      v.rew[i] = (float)(v.rew[i] * out->reward_scale);
  for (int j = 0; j < O; j++) { /* observation mean/std in double */
    double m = 0, s = 0;
    for (int64_t i = 0; i < N; i++)
      m += v.obs[(size_t)i * O + j];
    m /= (double)N;
    for (int64_t i = 0; i < N; i++) {
      double e = v.obs[(size_t)i * O + j] - m;
      s += e * e;
    }
    out->obs_mean[j] = (float)m;
    out->obs_std[j] = (float)sqrt(s / (double)N);
  }
  rc = o2o_replay_commit(out->rb, N, err, errlen);
  out->terminals = term;
  out->timeouts = tout;
  term = tout = NULL;
done:
  free(term);
  free(tout);
  o2o_dataset_close(ds);
  if (rc) o2o_train_free_dataset(out);
  return rc;
}
