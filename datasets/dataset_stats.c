/* dataset_stats.c: episode returns, D4RL normalised scores and per-dimension ranges. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "o2o_dataset.h"

static void column_stats(int64_t n, int dim, const float *v, double *mn, double *mx, double *mean,
                         double *std) {
  for (int j = 0; j < dim; j++) {
    mn[j] = INFINITY;
    mx[j] = -INFINITY;
    mean[j] = 0;
    std[j] = 0;
  }
  /* Shifted sums (shift = first row) keep the variance accurate for large offsets. */
  for (int64_t i = 0; i < n; i++) {
    const float *row = v + i * dim;
    for (int j = 0; j < dim; j++) {
      double x = row[j], dx = x - v[j];
      if (x < mn[j]) mn[j] = x;
      if (x > mx[j]) mx[j] = x;
      mean[j] += dx;
      std[j] += dx * dx;
    }
  }
  for (int j = 0; j < dim; j++) {
    double m = n ? mean[j] / (double)n : 0, var = n ? std[j] / (double)n - m * m : 0;
    mean[j] = n ? v[j] + m : 0;
    std[j] = var > 0 ? sqrt(var) : 0;
  }
}

int o2o_dataset_stats_compute(o2o_dataset_stats *s, int64_t n, int obs_dim, int act_dim,
                              const float *obs, const float *act, const float *rew,
                              const uint8_t *terminals, const uint8_t *timeouts, const char *task) {
  memset(s, 0, sizeof(*s));
  s->transitions = n;
  s->obs_dim = obs_dim;
  s->act_dim = act_dim;
  double *buf = calloc((size_t)(4 * obs_dim + 4 * act_dim), sizeof(double));
  if (!buf) return O2O_DATASET_ENOMEM;
  s->obs_min = buf;
  s->obs_max = buf + obs_dim;
  s->obs_mean = buf + 2 * obs_dim;
  s->obs_std = buf + 3 * obs_dim;
  s->act_min = buf + 4 * obs_dim;
  s->act_max = s->act_min + act_dim;
  s->act_mean = s->act_min + 2 * act_dim;
  s->act_std = s->act_min + 3 * act_dim;
  column_stats(n, obs_dim, obs, s->obs_min, s->obs_max, s->obs_mean, s->obs_std);
  column_stats(n, act_dim, act, s->act_min, s->act_max, s->act_mean, s->act_std);

  double ret = 0, sum = 0, sum2 = 0, len_sum = 0, rsum = 0;
  int64_t len = 0;
  s->return_min = INFINITY;
  s->return_max = -INFINITY;
  s->reward_min = INFINITY;
  s->reward_max = -INFINITY;
  for (int64_t i = 0; i < n; i++) {
    ret += rew[i];
    rsum += rew[i];
    len++;
    if (rew[i] < s->reward_min) s->reward_min = rew[i];
    if (rew[i] > s->reward_max) s->reward_max = rew[i];
    s->terminals += terminals[i];
    s->timeouts += timeouts ? timeouts[i] : 0;
    if (terminals[i] || (timeouts && timeouts[i])) {
      s->episodes++;
      sum += ret;
      sum2 += ret * ret;
      len_sum += (double)len;
      if (ret < s->return_min) s->return_min = ret;
      if (ret > s->return_max) s->return_max = ret;
      ret = 0;
      len = 0;
    }
  }
  s->reward_mean = n ? rsum / (double)n : 0;
  if (s->episodes) {
    double e = (double)s->episodes;
    s->return_mean = sum / e;
    double var = sum2 / e - s->return_mean * s->return_mean;
    s->return_std = var > 0 ? sqrt(var) : 0;
    s->length_mean = len_sum / e;
  } else {
    s->return_min = s->return_max = s->return_mean = NAN;
  }
  double lo, hi;
  if (s->episodes && o2o_dataset_ref_scores(task, &lo, &hi)) {
    s->normalized_min = (s->return_min - lo) / (hi - lo);
    s->normalized_mean = (s->return_mean - lo) / (hi - lo);
    s->normalized_max = (s->return_max - lo) / (hi - lo);
  } else {
    s->normalized_min = s->normalized_mean = s->normalized_max = NAN;
  }
  return 0;
}

void o2o_dataset_stats_free(o2o_dataset_stats *s) {
  if (!s) return;
  free(s->obs_min);
  memset(s, 0, sizeof(*s));
}
