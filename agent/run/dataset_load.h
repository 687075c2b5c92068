/* dataset_load.h: a real dataset read into a replay buffer for training (the offline loop's
 * data, H2O's real buffer), checked against the scenario first. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "o2o_bridge.h"

struct o2o_replay;

typedef struct o2o_loaded_dataset {
  struct o2o_replay *rb; /* every transition, rewards already scaled */
  char path[1024];
  int64_t rows, episodes;        /* transitions, complete episodes (terminal or timeout) */
  double return_mean;            /* mean return of the complete episodes (unscaled) */
  double reward_scale;           /* applied (1 = none) */
  float *obs_mean, *obs_std;     /* [obs_dim] of the observations (population std) */
  uint8_t *terminals, *timeouts; /* [rows] the episode ends (returns-to-go: o2o_mc_returns) */
} o2o_loaded_dataset;

/* name_or_path through o2o_dataset_find; dims and task checked against spec (the error names
 * both). reward_scale: 0 = none, > 0 = multiply, < 0 = 1000 / (max - min episode return).
 * columns: the buffer's optional O2O_COLUMN_WEIGHT / O2O_COLUMN_MC_RETURN (filled later, e.g.
 * o2o_replay_fill_mc_returns with the kept terminals/timeouts). */
int o2o_train_load_dataset(const char *name_or_path, const o2o_bridge_spec *spec,
                           double reward_scale, int columns, o2o_loaded_dataset *out, char *err,
                           size_t errlen);
void o2o_train_free_dataset(o2o_loaded_dataset *d);
/* The same checks without reading the data (o2o run, before any job starts); the file found
 * goes into path. */
int o2o_train_check_dataset(const char *name_or_path, const o2o_bridge_spec *spec, char *path,
                            size_t cap, char *err, size_t errlen);
