/* o2o_dataset.h: D4RL-layout HDF5 datasets (public API of datasets/).
 *
 * Layout (datasets/README.md): at the file root, N rows each of
 *   observations [N][obs_dim], actions [N][act_dim], rewards [N] or [N][1],
 *   next_observations [N][obs_dim] (optional: rebuilt from the next row of the episode),
 *   terminals [N], timeouts [N] (optional: inferred by counting steps to the episode limit)
 * plus any infos/... and metadata/... groups, kept through a round trip.
 * Arrays may be float32 or float64 (read converts to float32); flags may be the HDF5 enum
 * h5py writes for numpy bool (int8 FALSE/TRUE), any integer type or floats holding 0/1.
 *
 * Reading is: o2o_dataset_open (validates structure, flags and episode lengths; reads only
 * the flags) -> o2o_dataset_info (N, dims, dtypes, keys) -> o2o_dataset_read into arrays
 * the caller owns (e.g. a replay buffer's reserved rows: no second full copy). Values are
 * checked for NaN/inf while they are read; when o2o_dataset_read fails, the destination
 * holds partial data and the caller must discard it (never commit it).
 *
 * Errors: functions return 0 or a negative O2O_DATASET_E* code and write a message naming
 * the file, the key and the row/column to err. HDF5's own error printing is switched off.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define O2O_DATASET_ERRLEN 1024
#define O2O_DATASET_MAX_KEYS 256
#define O2O_DATASET_KEYLEN 256
#define O2O_DATASET_MAX_DIMS 4
#define O2O_DATASET_DEFAULT_LIMIT 1000 /* D4RL gym-mujoco episode limit */

enum {
  O2O_DATASET_OK = 0,
  O2O_DATASET_EIO = -1,     /* missing, unreadable, truncated or not an HDF5 file */
  O2O_DATASET_EFORMAT = -2, /* missing key, wrong rank/dtype, mismatched first dimension */
  O2O_DATASET_EVALUE = -3,  /* NaN/inf, flag not 0/1, episode longer than the limit */
  O2O_DATASET_EDIM = -4,    /* observation/action dimension differs from what was expected */
  O2O_DATASET_EINVAL = -5,  /* bad argument */
  O2O_DATASET_ENOMEM = -6,
};

typedef enum o2o_dtype {
  O2O_DTYPE_NONE = 0,
  O2O_DTYPE_F32,
  O2O_DTYPE_F64,
  O2O_DTYPE_I8,
  O2O_DTYPE_U8,
  O2O_DTYPE_I32,
  O2O_DTYPE_I64,
  O2O_DTYPE_BOOL, /* HDF5 enum {FALSE=0, TRUE=1} on int8, as h5py writes numpy bool */
  O2O_DTYPE_STR,  /* scalar fixed-length ASCII string (variable-length accepted on read) */
} o2o_dtype;

const char *o2o_dtype_name(o2o_dtype t); /* "float32", "bool", ... */
size_t o2o_dtype_size(o2o_dtype t);      /* bytes per element (STR: 1) */

/* One HDF5 dataset outside the six core keys (infos/..., metadata/..., anything else).
 * data holds numel elements of dtype, row-major; STR: a NUL-terminated string. */
typedef struct o2o_dataset_extra {
  char key[O2O_DATASET_KEYLEN]; /* full path without leading '/', e.g. "infos/qpos" */
  o2o_dtype dtype;
  int ndim; /* 0 = scalar */
  int64_t shape[O2O_DATASET_MAX_DIMS];
  void *data;
} o2o_dataset_extra;

int64_t o2o_dataset_extra_numel(const o2o_dataset_extra *e);

typedef struct o2o_dataset_open_opts {
  int expect_obs_dim; /* 0 = any; otherwise a mismatch is O2O_DATASET_EDIM */
  int expect_act_dim; /* 0 = any */
  /* Longest episode allowed without terminal/timeout, and the step count at which an
   * episode times out when the file has no timeouts key. 0 = metadata/max_episode_steps
   * if present, else O2O_DATASET_DEFAULT_LIMIT. */
  int episode_limit;
} o2o_dataset_open_opts;

typedef struct o2o_dataset_info {
  char path[1024];
  int64_t rows;        /* rows stored in the file (N) */
  int64_t transitions; /* rows o2o_dataset_read delivers (N, or fewer when next_obs rebuilt) */
  int obs_dim, act_dim;
  o2o_dtype obs_dtype, act_dtype, rew_dtype, next_obs_dtype, terminals_dtype, timeouts_dtype;
  int has_next_obs; /* 0: next_observations rebuilt from the next row */
  int has_timeouts; /* 0: timeouts inferred by counting steps to episode_limit */
  int episode_limit;
  int64_t episodes;          /* complete episodes (ending with terminal or timeout) */
  int64_t terminal_episodes; /* ... of which ended by a terminal */
  int64_t trailing_rows;     /* rows after the last terminal/timeout (unfinished episode) */
  int64_t longest_episode;
  int64_t dropped_rows; /* rows without a successor when next_obs is rebuilt */
  /* Scalars found in metadata/ (empty when absent). */
  char task[32];     /* metadata/task, or guessed from metadata/scenario or env name */
  char scenario[64]; /* metadata/scenario */
  char variant[16];  /* metadata/variant */
  /* Every dataset in the file (core keys included), with dtype and shape. */
  int num_keys;
  o2o_dataset_extra keys[O2O_DATASET_MAX_KEYS]; /* data == NULL here */
  char warnings[1024];                          /* human-readable, '\n'-separated; empty if none */
} o2o_dataset_info;

typedef struct o2o_dataset o2o_dataset;

/* Resolve a dataset name ("pendulum-medium") or path to an existing file: the path as
 * given, then NAME and NAME.hdf5 in each directory of $O2O_DATASET_PATH (colon-separated),
 * in the source tree's datasets/ and in datasets/cache/. Returns 0 and writes the path to
 * out, or O2O_DATASET_EIO with every place tried listed in err. */
int o2o_dataset_find(const char *name_or_path, char *out, size_t outlen, char *err, size_t errlen);

o2o_dataset *o2o_dataset_open(const char *path, const o2o_dataset_open_opts *opts, char *err,
                              size_t errlen);
/* Same, returning the O2O_DATASET_E* code (opts may be NULL). */
int o2o_dataset_open2(const char *path, const o2o_dataset_open_opts *opts, o2o_dataset **out,
                      char *err, size_t errlen);
void o2o_dataset_close(o2o_dataset *d); /* NULL is fine */
const o2o_dataset_info *o2o_dataset_get_info(const o2o_dataset *d);

/* Destination of a read: row-major float32 arrays with room for `count` transitions.
 * Any pointer may be NULL (that field is skipped). done = terminals as 0/1 floats. */
typedef struct o2o_dataset_dest {
  float *obs;
  float *act;
  float *rew;
  float *next_obs;
  float *done;
  uint8_t *terminals;
  /* Truncations: the file's timeouts (inferred ones when it has none); when
   * next_observations is rebuilt, also the last delivered row before each dropped timeout
   * row (the episode was cut there), so episodes never run into the next one. */
  uint8_t *timeouts;
  /* 1 on the last delivered transition of each episode: terminals | timeouts as delivered.
   * Rows after the last end belong to an unfinished episode (0 here). */
  uint8_t *episode_ends;
} o2o_dataset_dest;

/* Read transitions [first, first + count) (0 <= first, first + count <= info.transitions)
 * in one pass. Fails on NaN/inf with the file row and column. */
int o2o_dataset_read(o2o_dataset *d, int64_t first, int64_t count, const o2o_dataset_dest *dst,
                     char *err, size_t errlen);

/* Episode-end markers of transitions [first, first + count) into ends (1 byte each), the
 * same as o2o_dataset_dest.episode_ends, from the flags held in memory (no file read).
 * Episode k is the transitions after end k-1 up to and including end k; returns-to-go
 * G_t = r_t + gamma * (1 - ends_t) * G_{t+1}, computed backwards (datasets/README.md). */
int o2o_dataset_episode_ends(const o2o_dataset *d, int64_t first, int64_t count, uint8_t *ends,
                             char *err, size_t errlen);

/* Every dataset outside the six core keys, loaded into memory (caller frees with
 * o2o_dataset_extras_free). */
int o2o_dataset_read_extras(o2o_dataset *d, o2o_dataset_extra **extras, int *num_extras, char *err,
                            size_t errlen);
void o2o_dataset_extras_free(o2o_dataset_extra *extras, int num_extras);

/* ---- writing ----------------------------------------------------------------------- */

/* A whole dataset in memory. next_obs and timeouts may be NULL (key not written). */
typedef struct o2o_dataset_data {
  int64_t n;
  int obs_dim, act_dim;
  const float *obs, *act, *rew, *next_obs;
  const uint8_t *terminals, *timeouts;
  int num_extras;
  const o2o_dataset_extra *extras; /* infos/..., metadata/... */
} o2o_dataset_data;

typedef struct o2o_dataset_write_opts {
  int gzip_level; /* 0 = no compression; default (opts NULL) 1 */
  int no_shuffle; /* 1 = skip the byte-shuffle filter (default on: 2x faster inflate) */
  int store_f64;  /* 1 = store core float arrays as float64 (as D4RL replay files) */
} o2o_dataset_write_opts;

/* Writes atomically (PATH.tmp.<pid> then rename). Validates dims and flags; NaN/inf in core
 * arrays is refused with the row and column. */
int o2o_dataset_write(const char *path, const o2o_dataset_data *data,
                      const o2o_dataset_write_opts *opts, char *err, size_t errlen);

/* Import a Minari dataset (HDF5 backend: src = the dataset directory, its data/ folder or
 * main_data.hdf5) into a D4RL-layout file: episode_i/observations [T+1] give observations
 * and next_observations, terminations -> terminals, truncations -> timeouts. Box spaces
 * only; metadata.json is kept as metadata/minari_metadata_json. */
int o2o_dataset_import_minari(const char *src, const char *out_path,
                              const o2o_dataset_write_opts *opts, char *err, size_t errlen);

/* Helpers to build metadata entries (data is malloc'ed; free with o2o_dataset_extras_free). */
void o2o_dataset_extra_string(o2o_dataset_extra *e, const char *key, const char *value);
void o2o_dataset_extra_int(o2o_dataset_extra *e, const char *key, int64_t value);
void o2o_dataset_extra_double(o2o_dataset_extra *e, const char *key, double value);
/* A [rows][cols] float32 array (cols 0 = 1-D), copied. */
int o2o_dataset_extra_floats(o2o_dataset_extra *e, const char *key, const float *v, int64_t rows,
                             int cols);

/* ---- statistics -------------------------------------------------------------------- */

typedef struct o2o_dataset_stats {
  int64_t transitions, episodes; /* complete episodes (terminal or timeout) */
  double return_min, return_mean, return_max, return_std;
  double length_mean;
  double reward_min, reward_mean, reward_max;
  int64_t terminals, timeouts;
  double normalized_min, normalized_mean, normalized_max; /* NaN when the task has no refs */
  int obs_dim, act_dim;
  double *obs_min, *obs_max, *obs_mean, *obs_std; /* [obs_dim] */
  double *act_min, *act_max, *act_mean, *act_std; /* [act_dim] */
} o2o_dataset_stats;

/* Statistics of n rows held in memory. Episodes split at terminals|timeouts; a trailing
 * unfinished episode is not counted. Returns 0 or O2O_DATASET_ENOMEM. */
int o2o_dataset_stats_compute(o2o_dataset_stats *s, int64_t n, int obs_dim, int act_dim,
                              const float *obs, const float *act, const float *rew,
                              const uint8_t *terminals, const uint8_t *timeouts, const char *task);
void o2o_dataset_stats_free(o2o_dataset_stats *s);

/* D4RL reference returns (random, expert) of hopper/halfcheetah/walker2d/ant; 0 if the
 * task is unknown. normalized = (ret - min) / (max - min). */
int o2o_dataset_ref_scores(const char *task, double *ref_min, double *ref_max);

#ifdef __cplusplus
}
#endif
