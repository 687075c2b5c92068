/* dataset_read.c: open + validate a D4RL-layout HDF5 file, then read it in one pass into
 * caller-owned float32 arrays. Open reads only the flags (terminals, timeouts): they decide
 * the episode structure, the number of transitions and which rows survive when
 * next_observations has to be rebuilt. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dataset_internal.h"

enum { K_OBS, K_ACT, K_REW, K_NEXT, K_TERM, K_TIME, K_CORE };
static const char *core_keys[K_CORE] = {"observations",      "actions",   "rewards",
                                        "next_observations", "terminals", "timeouts"};

struct o2o_dataset {
  hid_t file;
  hid_t dset[K_CORE]; /* -1 when absent */
  int rank[K_CORE];
  o2o_dataset_info info;
  uint8_t *terminals, *timeouts; /* [rows], timeouts inferred when absent */
  int64_t *rows_of;              /* [transitions] file row of each transition, or NULL */
  int no_fast_read;              /* O2O_DATASET_FAST_READ=0: always H5Dread */
};

/* ---- opening --------------------------------------------------------------------------- */

typedef struct visit_ctx {
  o2o_dataset_info *info;
  int overflow;
} visit_ctx;

static herr_t visit_cb(hid_t obj, const char *name, const H5O_info_t *oi, void *data) {
  visit_ctx *ctx = data;
  if (oi->type != H5O_TYPE_DATASET) return 0;
  o2o_dataset_info *info = ctx->info;
  if (info->num_keys >= O2O_DATASET_MAX_KEYS) {
    ctx->overflow = 1;
    return 0;
  }
  o2o_dataset_extra *k = &info->keys[info->num_keys];
  memset(k, 0, sizeof(*k));
  snprintf(k->key, sizeof(k->key), "%s", name);
  hid_t d = H5Dopen2(obj, name, H5P_DEFAULT);
  if (d < 0) return 0;
  hid_t t = H5Dget_type(d), s = H5Dget_space(d);
  k->dtype = o2o_ds_classify(t);
  int nd = H5Sget_simple_extent_ndims(s);
  hsize_t dims[H5S_MAX_RANK];
  if (nd > O2O_DATASET_MAX_DIMS)
    nd = -1;
  else if (nd > 0)
    H5Sget_simple_extent_dims(s, dims, NULL);
  k->ndim = nd;
  for (int i = 0; i < nd; i++)
    k->shape[i] = (int64_t)dims[i];
  H5Tclose(t);
  H5Sclose(s);
  H5Dclose(d);
  info->num_keys++;
  return 0;
}

static const o2o_dataset_extra *find_key(const o2o_dataset_info *info, const char *key) {
  for (int i = 0; i < info->num_keys; i++)
    if (!strcmp(info->keys[i].key, key)) return &info->keys[i];
  return NULL;
}

static void warn(o2o_dataset_info *info, const char *fmt, const char *a, int64_t x) {
  size_t len = strlen(info->warnings);
  if (len + 2 >= sizeof(info->warnings)) return;
  if (len) info->warnings[len++] = '\n';
  char line[400];
  snprintf(line, sizeof(line), fmt, a, (long long)x);
  snprintf(info->warnings + len, sizeof(info->warnings) - len, "%s", line);
}

/* A scalar string dataset (fixed or variable length) into out; 1 on success. */
static int read_string_dataset(hid_t d, char *out, size_t len) {
  out[0] = 0;
  hid_t t = H5Dget_type(d), s = H5Dget_space(d);
  int ok = 0;
  if (H5Tget_class(t) == H5T_STRING && H5Sget_simple_extent_npoints(s) == 1) {
    hid_t mt = H5Tcopy(H5T_C_S1);
    if (H5Tis_variable_str(t) > 0) {
      char *p = NULL;
      H5Tset_size(mt, H5T_VARIABLE);
      if (H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &p) >= 0 && p) {
        snprintf(out, len, "%s", p);
        ok = 1;
      }
      if (p) H5free_memory(p);
    } else {
      size_t sz = H5Tget_size(t);
      char *buf = calloc(1, sz + 1);
      H5Tset_size(mt, sz + 1);
      H5Tset_strpad(mt, H5T_STR_NULLTERM);
      if (buf && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0) {
        snprintf(out, len, "%s", buf);
        ok = 1;
      }
      free(buf);
    }
    H5Tclose(mt);
  }
  H5Tclose(t);
  H5Sclose(s);
  return ok;
}

/* A scalar string under metadata/ ("" when absent or of another kind). */
static int read_scalar_string(hid_t file, const char *key, char *out, size_t len) {
  out[0] = 0;
  if (H5Lexists(file, "metadata", H5P_DEFAULT) <= 0 || H5Lexists(file, key, H5P_DEFAULT) <= 0)
    return 0;
  hid_t d = H5Dopen2(file, key, H5P_DEFAULT);
  if (d < 0) return 0;
  int ok = read_string_dataset(d, out, len);
  H5Dclose(d);
  return ok;
}

static int64_t read_scalar_int(hid_t file, const char *key) {
  if (H5Lexists(file, "metadata", H5P_DEFAULT) <= 0 || H5Lexists(file, key, H5P_DEFAULT) <= 0)
    return 0;
  hid_t d = H5Dopen2(file, key, H5P_DEFAULT);
  if (d < 0) return 0;
  int64_t v = 0;
  hid_t t = H5Dget_type(d), s = H5Dget_space(d);
  if (H5Tget_class(t) == H5T_INTEGER && H5Sget_simple_extent_npoints(s) == 1 &&
      H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) < 0)
    v = 0;
  H5Tclose(t);
  H5Sclose(s);
  H5Dclose(d);
  return v;
}

/* "hopper-gravity" / "hopper_medium-v2" / "Hopper-v3" -> "hopper" when it is a known task. */
static void guess_task(const char *s, char *task, size_t len) {
  static const char *known[] = {"halfcheetah", "hopper", "walker2d", "ant", "pendulum"};
  char low[256];
  size_t n = 0;
  for (; s[n] && n + 1 < sizeof(low); n++)
    low[n] = (char)tolower((unsigned char)s[n]);
  low[n] = 0;
  for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
    if (!strncmp(low, known[i], strlen(known[i]))) {
      snprintf(task, len, "%s", known[i]);
      return;
    }
  if (!strncmp(low, "half_cheetah", 12) || !strncmp(low, "half-cheetah", 12))
    snprintf(task, len, "halfcheetah");
}

/* Flags of `rows` rows as 0/1 bytes; anything else is an error naming the row. */
static int read_flags(o2o_dataset *d, int k, uint8_t *out, char *err, size_t errlen) {
  const o2o_dataset_extra *key = find_key(&d->info, core_keys[k]);
  return o2o_ds_read_flags(d->dset[k], key->dtype, d->info.rows, out, d->info.path, core_keys[k],
                           err, errlen);
}

/* Shapes, dtypes and first dimensions of the core keys (and of infos/...). */
static int check_layout(o2o_dataset *d, const o2o_dataset_open_opts *o, char *err, size_t errlen) {
  o2o_dataset_info *info = &d->info;
  const char *p = info->path;
  for (int k = 0; k < K_CORE; k++) {
    const o2o_dataset_extra *key = find_key(info, core_keys[k]);
    if (!key) {
      if (k == K_NEXT || k == K_TIME) continue;
      return o2o_ds_err(err, errlen, O2O_DATASET_EFORMAT,
                        "%s: missing key '%s' (a D4RL file needs observations, actions, "
                        "rewards, terminals)",
                        p, core_keys[k]);
    }
    int is_flag = k == K_TERM || k == K_TIME;
    int is_float = key->dtype == O2O_DTYPE_F32 || key->dtype == O2O_DTYPE_F64;
    int is_int = key->dtype == O2O_DTYPE_BOOL || key->dtype == O2O_DTYPE_I8 ||
                 key->dtype == O2O_DTYPE_U8 || key->dtype == O2O_DTYPE_I32 ||
                 key->dtype == O2O_DTYPE_I64;
    if (!(is_float || (is_flag && is_int)))
      return o2o_ds_err(err, errlen, O2O_DATASET_EFORMAT, "%s: key '%s' has dtype %s (expected %s)",
                        p, core_keys[k], o2o_dtype_name(key->dtype),
                        is_flag ? "bool, an integer type or 0/1 floats" : "float32 or float64");
    int want2 = k == K_OBS || k == K_ACT || k == K_NEXT;
    int ok_rank = want2 ? key->ndim == 2 : key->ndim == 1 || (key->ndim == 2 && key->shape[1] == 1);
    if (!ok_rank)
      return o2o_ds_err(err, errlen, O2O_DATASET_EFORMAT, "%s: key '%s' has rank %d (expected %s)",
                        p, core_keys[k], key->ndim, want2 ? "2: [N][dim]" : "1: [N] (or [N][1])");
    if (k == K_OBS) {
      info->rows = key->shape[0];
      info->obs_dim = (int)key->shape[1];
    }
    if (key->shape[0] != info->rows)
      return o2o_ds_err(err, errlen, O2O_DATASET_EFORMAT,
                        "%s: key '%s' has %lld rows but observations has %lld (first "
                        "dimensions must match)",
                        p, core_keys[k], (long long)key->shape[0], (long long)info->rows);
    if (k == K_ACT) info->act_dim = (int)key->shape[1];
    if (k == K_NEXT && key->shape[1] != info->obs_dim)
      return o2o_ds_err(err, errlen, O2O_DATASET_EFORMAT,
                        "%s: key 'next_observations' has %lld columns but observations has %d", p,
                        (long long)key->shape[1], info->obs_dim);
    d->rank[k] = key->ndim;
    o2o_dtype *dt[K_CORE] = {&info->obs_dtype,      &info->act_dtype,       &info->rew_dtype,
                             &info->next_obs_dtype, &info->terminals_dtype, &info->timeouts_dtype};
    *dt[k] = key->dtype;
  }
  if (info->rows < 1)
    return o2o_ds_err(err, errlen, O2O_DATASET_EFORMAT, "%s: key 'observations' has 0 rows", p);
  if (info->obs_dim < 1 || info->act_dim < 1)
    return o2o_ds_err(err, errlen, O2O_DATASET_EFORMAT, "%s: observations/actions have 0 columns",
                      p);
  for (int i = 0; i < info->num_keys; i++) {
    const o2o_dataset_extra *key = &info->keys[i];
    if (!strncmp(key->key, "infos/", 6) && key->ndim >= 1 && key->shape[0] != info->rows)
      return o2o_ds_err(err, errlen, O2O_DATASET_EFORMAT,
                        "%s: key '%s' has %lld rows but observations has %lld (first "
                        "dimensions must match)",
                        p, key->key, (long long)key->shape[0], (long long)info->rows);
  }
  if (o && o->expect_obs_dim > 0 && o->expect_obs_dim != info->obs_dim)
    return o2o_ds_err(err, errlen, O2O_DATASET_EDIM,
                      "%s: key 'observations' has %d columns but the scenario expects %d", p,
                      info->obs_dim, o->expect_obs_dim);
  if (o && o->expect_act_dim > 0 && o->expect_act_dim != info->act_dim)
    return o2o_ds_err(err, errlen, O2O_DATASET_EDIM,
                      "%s: key 'actions' has %d columns but the scenario expects %d", p,
                      info->act_dim, o->expect_act_dim);
  return 0;
}

/* Episode structure from the flags; infers timeouts when absent; picks the rows that
 * become transitions when next_observations must be rebuilt. */
static int scan_episodes(o2o_dataset *d, char *err, size_t errlen) {
  o2o_dataset_info *info = &d->info;
  int64_t n = info->rows, start = 0;
  const int64_t limit = info->episode_limit;
  for (int64_t i = 0; i < n; i++) {
    int64_t len = i - start + 1;
    if (!info->has_timeouts) d->timeouts[i] = !d->terminals[i] && len == limit;
    if (d->terminals[i] || d->timeouts[i]) {
      info->episodes++;
      info->terminal_episodes += d->terminals[i];
      if (len > info->longest_episode) info->longest_episode = len;
      start = i + 1;
    } else if (len >= limit) {
      return o2o_ds_err(err, errlen, O2O_DATASET_EVALUE,
                        "%s: keys 'terminals'/'timeouts': the episode starting at row %lld has "
                        "no terminal or timeout within %lld steps (row %lld); an episode that "
                        "never ends (set the episode limit if this file uses a longer one)",
                        info->path, (long long)start, (long long)limit, (long long)i);
    }
  }
  info->trailing_rows = n - start;
  if (n - start > info->longest_episode) info->longest_episode = n - start;
  if (info->trailing_rows)
    warn(info,
         "%sthe last episode is unfinished: %lld rows after the last terminal/timeout "
         "(kept as truncated, not counted as an episode)",
         "", info->trailing_rows);
  if (!info->has_timeouts)
    warn(info, "%sno 'timeouts' key: timeouts inferred at episode step %lld (the episode limit)",
         "", limit);
  if (info->has_next_obs) {
    info->transitions = n;
    return 0;
  }
  /* As D4RL's qlearning_dataset: a row's successor is the next row of the same episode.
   * Rows ending by timeout, and the file's last row, have none and are dropped. Rows ending
   * by a terminal stay (their next observation is masked by done; o2o stores obs[i] there
   * rather than pairing with the next episode's first row). */
  d->rows_of = malloc((size_t)n * sizeof(int64_t));
  if (!d->rows_of)
    return o2o_ds_err(err, errlen, O2O_DATASET_ENOMEM, "%s: out of memory", info->path);
  int64_t t = 0;
  for (int64_t i = 0; i < n; i++)
    if (d->terminals[i] || (!d->timeouts[i] && i + 1 < n)) d->rows_of[t++] = i;
  info->transitions = t;
  info->dropped_rows = n - t;
  warn(info,
       "%sno 'next_observations' key: rebuilt from the next row of each episode "
       "(%lld rows without a successor dropped)",
       "", info->dropped_rows);
  if (t == 0)
    return o2o_ds_err(err, errlen, O2O_DATASET_EFORMAT,
                      "%s: no transitions left after rebuilding next_observations", info->path);
  return 0;
}

void o2o_dataset_close(o2o_dataset *d) {
  if (!d) return;
  for (int k = 0; k < K_CORE; k++)
    if (d->dset[k] >= 0) H5Dclose(d->dset[k]);
  if (d->file >= 0) H5Fclose(d->file);
  free(d->terminals);
  free(d->timeouts);
  free(d->rows_of);
  free(d);
}

o2o_dataset *o2o_dataset_open(const char *path, const o2o_dataset_open_opts *opts, char *err,
                              size_t errlen) {
  o2o_dataset *d = NULL;
  o2o_dataset_open2(path, opts, &d, err, errlen);
  return d;
}

int o2o_dataset_open2(const char *path, const o2o_dataset_open_opts *opts, o2o_dataset **out,
                      char *err, size_t errlen) {
  int rc = 0;
  *out = NULL;
  o2o_ds_silence_hdf5();
  struct stat st;
  if (!path || stat(path, &st) != 0) {
    return o2o_ds_err(err, errlen, O2O_DATASET_EIO, "%s: cannot open (%s)", path ? path : "(null)",
                      strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) {
    return o2o_ds_err(err, errlen, O2O_DATASET_EIO, "%s: is a directory, not an HDF5 file", path);
  }
  htri_t is_h5 = H5Fis_hdf5(path);
  if (is_h5 <= 0) {
    return o2o_ds_err(err, errlen, O2O_DATASET_EIO,
                      "%s: not an HDF5 file (no HDF5 signature; %lld bytes)", path,
                      (long long)st.st_size);
  }
  o2o_dataset *d = calloc(1, sizeof(*d));
  if (!d) {
    return o2o_ds_err(err, errlen, O2O_DATASET_ENOMEM, "%s: out of memory", path);
  }
  d->file = -1;
  for (int k = 0; k < K_CORE; k++)
    d->dset[k] = -1;
  o2o_dataset_info *info = &d->info;
  snprintf(info->path, sizeof(info->path), "%s", path);
  d->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (d->file < 0) {
    char h5[256];
    o2o_ds_h5_message(h5, sizeof(h5));
    rc = o2o_ds_err(err, errlen, O2O_DATASET_EIO, "%s: cannot open as HDF5 (%s)%s", path, h5,
                    strstr(h5, "truncated") ? ": the file is truncated" : "");
    goto fail;
  }
  visit_ctx ctx = {info, 0};
  if (H5Ovisit2(d->file, H5_INDEX_NAME, H5_ITER_INC, visit_cb, &ctx, H5O_INFO_BASIC) < 0) {
    char h5[256];
    o2o_ds_h5_message(h5, sizeof(h5));
    rc = o2o_ds_err(err, errlen, O2O_DATASET_EIO, "%s: cannot list the file's keys (%s)", path, h5);
    goto fail;
  }
  if (ctx.overflow)
    warn(info, "%smore than %lld datasets: only the first ones are listed", "",
         O2O_DATASET_MAX_KEYS);
  if ((rc = check_layout(d, opts, err, errlen))) goto fail;
  for (int k = 0; k < K_CORE; k++) {
    if (!find_key(info, core_keys[k])) continue;
    d->dset[k] = H5Dopen2(d->file, core_keys[k], H5P_DEFAULT);
    if (d->dset[k] < 0) {
      rc =
          o2o_ds_err(err, errlen, O2O_DATASET_EIO, "%s: key '%s': cannot open", path, core_keys[k]);
      goto fail;
    }
  }
  info->has_next_obs = d->dset[K_NEXT] >= 0;
  info->has_timeouts = d->dset[K_TIME] >= 0;
  read_scalar_string(d->file, "metadata/task", info->task, sizeof(info->task));
  read_scalar_string(d->file, "metadata/scenario", info->scenario, sizeof(info->scenario));
  read_scalar_string(d->file, "metadata/variant", info->variant, sizeof(info->variant));
  if (!info->task[0] && info->scenario[0])
    guess_task(info->scenario, info->task, sizeof(info->task));
  if (!info->task[0]) {
    const char *base = strrchr(path, '/');
    guess_task(base ? base + 1 : path, info->task, sizeof(info->task));
  }
  info->episode_limit = opts && opts->episode_limit > 0 ? opts->episode_limit : 0;
  if (!info->episode_limit)
    info->episode_limit = (int)read_scalar_int(d->file, "metadata/max_episode_steps");
  if (info->episode_limit <= 0) info->episode_limit = O2O_DATASET_DEFAULT_LIMIT;
  d->terminals = calloc((size_t)info->rows, 1);
  d->timeouts = calloc((size_t)info->rows, 1);
  if (!d->terminals || !d->timeouts) {
    rc = o2o_ds_err(err, errlen, O2O_DATASET_ENOMEM, "%s: out of memory", path);
    goto fail;
  }
  if ((rc = read_flags(d, K_TERM, d->terminals, err, errlen))) goto fail;
  if (info->has_timeouts && (rc = read_flags(d, K_TIME, d->timeouts, err, errlen))) goto fail;
  if ((rc = scan_episodes(d, err, errlen))) goto fail;
  *out = d;
  return 0;
fail:
  o2o_dataset_close(d);
  return rc;
}

const o2o_dataset_info *o2o_dataset_get_info(const o2o_dataset *d) {
  return &d->info;
}

/* ---- reading --------------------------------------------------------------------------- */

/* Rows [row0, row0 + rows) of core key k as float32 into out ([rows][cols]). */
static int read_rows(o2o_dataset *d, int k, int64_t row0, int64_t rows, float *out, char *err,
                     size_t errlen) {
  hid_t fs = H5Dget_space(d->dset[k]);
  hsize_t dims[2] = {0, 1};
  H5Sget_simple_extent_dims(fs, dims, NULL);
  int handled = 0;
  char msg[256] = "";
  if (!d->no_fast_read &&
      o2o_ds_fast_read(d->dset[k], row0, rows, (int)dims[1], out, &handled, msg, sizeof(msg))) {
    H5Sclose(fs);
    return o2o_ds_err(err, errlen, O2O_DATASET_EIO, "%s: key '%s': reading rows %lld..%lld: %s",
                      d->info.path, core_keys[k], (long long)row0, (long long)(row0 + rows - 1),
                      msg);
  }
  if (handled) {
    H5Sclose(fs);
    return 0;
  }
  hid_t ms = H5S_ALL;
  /* Whole array: H5S_ALL. A row range: a hyperslab and a memory space of the same shape
   * (a rank mismatch between the two sends HDF5 down a much slower path). */
  if (row0 != 0 || (hsize_t)rows != dims[0]) {
    hsize_t start[2] = {(hsize_t)row0, 0}, count[2] = {(hsize_t)rows, dims[1]};
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    ms = H5Screate_simple(d->rank[k], count, NULL);
  }
  herr_t rc =
      H5Dread(d->dset[k], H5T_NATIVE_FLOAT, ms, ms == H5S_ALL ? H5S_ALL : fs, H5P_DEFAULT, out);
  if (ms != H5S_ALL) H5Sclose(ms);
  H5Sclose(fs);
  if (rc < 0) {
    char h5[256];
    o2o_ds_h5_message(h5, sizeof(h5));
    return o2o_ds_err(err, errlen, O2O_DATASET_EIO,
                      "%s: key '%s': reading rows %lld..%lld failed (%s)%s", d->info.path,
                      core_keys[k], (long long)row0, (long long)(row0 + rows - 1), h5,
                      " (truncated or corrupt file?)");
  }
  return 0;
}

/* NaN/inf check; `row_of` maps a row of the array to its file row (NULL: row0 + i). */
static int check_finite(const o2o_dataset *d, int k, const float *v, int64_t rows, int cols,
                        int64_t row0, const int64_t *row_of, char *err, size_t errlen) {
  int64_t bad = o2o_ds_first_nonfinite(v, rows * cols);
  if (bad < 0) return 0;
  int64_t r = bad / cols, file_row = row_of ? row_of[r] : row0 + r;
  return o2o_ds_err(err, errlen, O2O_DATASET_EVALUE, "%s: key '%s': %s at row %lld, column %lld",
                    d->info.path, core_keys[k], v[bad] != v[bad] ? "NaN" : "inf",
                    (long long)file_row, (long long)(bad % cols));
}

static void copy_flags(const o2o_dataset *d, int64_t i, int64_t row, const o2o_dataset_dest *dst) {
  if (dst->done) dst->done[i] = d->terminals[row] ? 1.0f : 0.0f;
  if (dst->terminals) dst->terminals[i] = d->terminals[row];
  if (dst->timeouts) dst->timeouts[i] = d->timeouts[row];
}

/* next_observations present: transition i is file row i; read straight into dst. */
static int read_direct(o2o_dataset *d, int64_t first, int64_t count, const o2o_dataset_dest *dst,
                       char *err, size_t errlen) {
  const o2o_dataset_info *info = &d->info;
  struct {
    int k;
    float *out;
    int cols;
  } fields[] = {{K_OBS, dst->obs, info->obs_dim},
                {K_ACT, dst->act, info->act_dim},
                {K_REW, dst->rew, 1},
                {K_NEXT, dst->next_obs, info->obs_dim}};
  for (int f = 0; f < 4; f++) {
    if (!fields[f].out) continue;
    int rc = read_rows(d, fields[f].k, first, count, fields[f].out, err, errlen);
    if (!rc)
      rc = check_finite(d, fields[f].k, fields[f].out, count, fields[f].cols, first, NULL, err,
                        errlen);
    if (rc) return rc;
  }
  for (int64_t i = 0; i < count; i++)
    copy_flags(d, i, first + i, dst);
  return 0;
}

/* next_observations rebuilt: read blocks of file rows and scatter the kept ones. */
static int read_rebuilt(o2o_dataset *d, int64_t first, int64_t count, const o2o_dataset_dest *dst,
                        char *err, size_t errlen) {
  const o2o_dataset_info *info = &d->info;
  const int od = info->obs_dim, ad = info->act_dim;
  const int64_t block = 1 << 16;
  float *obs = malloc((size_t)(block + 1) * od * sizeof(float));
  float *act = malloc((size_t)block * ad * sizeof(float));
  float *rew = malloc((size_t)block * sizeof(float));
  int rc = 0;
  if (!obs || !act || !rew)
    rc = o2o_ds_err(err, errlen, O2O_DATASET_ENOMEM, "%s: out of memory", info->path);
  for (int64_t t0 = first; !rc && t0 < first + count;) {
    /* Transitions t0..t1-1 whose rows (and successors) fit one block of file rows. */
    int64_t r0 = d->rows_of[t0], t1 = t0;
    while (t1 < first + count && d->rows_of[t1] - r0 < block)
      t1++;
    int64_t r_end = d->rows_of[t1 - 1] + 1;                 /* rows [r0, r_end) */
    int64_t r_obs = r_end < info->rows ? r_end + 1 : r_end; /* plus one successor */
    if (dst->obs || dst->next_obs) {
      rc = read_rows(d, K_OBS, r0, r_obs - r0, obs, err, errlen);
      if (!rc) rc = check_finite(d, K_OBS, obs, r_obs - r0, od, r0, NULL, err, errlen);
    }
    if (!rc && dst->act) {
      rc = read_rows(d, K_ACT, r0, r_end - r0, act, err, errlen);
      if (!rc) rc = check_finite(d, K_ACT, act, r_end - r0, ad, r0, NULL, err, errlen);
    }
    if (!rc && dst->rew) {
      rc = read_rows(d, K_REW, r0, r_end - r0, rew, err, errlen);
      if (!rc) rc = check_finite(d, K_REW, rew, r_end - r0, 1, r0, NULL, err, errlen);
    }
    for (int64_t t = t0; !rc && t < t1; t++) {
      int64_t row = d->rows_of[t], j = row - r0, i = t - first;
      /* A terminal row without a same-episode successor gets its own obs (masked by done). */
      int64_t next = d->terminals[row] ? j : j + 1;
      if (dst->obs) memcpy(dst->obs + i * od, obs + j * od, (size_t)od * sizeof(float));
      if (dst->next_obs)
        memcpy(dst->next_obs + i * od, obs + next * od, (size_t)od * sizeof(float));
      if (dst->act) memcpy(dst->act + i * ad, act + j * ad, (size_t)ad * sizeof(float));
      if (dst->rew) dst->rew[i] = rew[j];
      copy_flags(d, i, row, dst);
    }
    t0 = t1;
  }
  free(obs);
  free(act);
  free(rew);
  return rc;
}

int o2o_dataset_read(o2o_dataset *d, int64_t first, int64_t count, const o2o_dataset_dest *dst,
                     char *err, size_t errlen) {
  if (!d || !dst || first < 0 || count < 0 || first + count > d->info.transitions)
    return o2o_ds_err(err, errlen, O2O_DATASET_EINVAL,
                      "%s: read of transitions [%lld, %lld) outside [0, %lld)",
                      d ? d->info.path : "(null)", (long long)first, (long long)(first + count),
                      d ? (long long)d->info.transitions : 0LL);
  if (count == 0) return 0;
  o2o_ds_silence_hdf5();
  return d->rows_of ? read_rebuilt(d, first, count, dst, err, errlen)
                    : read_direct(d, first, count, dst, err, errlen);
}

/* ---- extras (infos/..., metadata/..., anything else) ---------------------------------- */

static int read_extra(o2o_dataset *d, const o2o_dataset_extra *key, o2o_dataset_extra *e, char *err,
                      size_t errlen) {
  *e = *key;
  e->data = NULL;
  hid_t ds = H5Dopen2(d->file, key->key, H5P_DEFAULT);
  if (ds < 0)
    return o2o_ds_err(err, errlen, O2O_DATASET_EIO, "%s: key '%s': cannot open", d->info.path,
                      key->key);
  int rc = 0;
  if (key->dtype == O2O_DTYPE_STR) {
    char buf[4096];
    if (e->ndim != 0 && !(e->ndim == 1 && e->shape[0] == 1))
      rc = o2o_ds_err(err, errlen, O2O_DATASET_EFORMAT,
                      "%s: key '%s': string arrays are not supported (only scalar strings)",
                      d->info.path, key->key);
    else if (!read_string_dataset(ds, buf, sizeof(buf)))
      rc = o2o_ds_err(err, errlen, O2O_DATASET_EIO, "%s: key '%s': cannot read the string",
                      d->info.path, key->key);
    else {
      e->ndim = 0;
      e->data = strdup(buf);
      if (!e->data) rc = O2O_DATASET_ENOMEM;
    }
  } else if (key->dtype == O2O_DTYPE_NONE || key->ndim < 0) {
    rc = 1; /* unsupported type: skipped by the caller with a warning */
  } else {
    int64_t numel = o2o_dataset_extra_numel(key);
    size_t es = o2o_dtype_size(key->dtype);
    e->data = malloc((size_t)(numel ? numel : 1) * es);
    hid_t mt = o2o_ds_mem_type(key->dtype);
    if (!e->data)
      rc = o2o_ds_err(err, errlen, O2O_DATASET_ENOMEM, "%s: out of memory", d->info.path);
    else if (numel && H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, e->data) < 0) {
      char h5[256];
      o2o_ds_h5_message(h5, sizeof(h5));
      rc = o2o_ds_err(err, errlen, O2O_DATASET_EIO, "%s: key '%s': read failed (%s)", d->info.path,
                      key->key, h5);
    }
    o2o_ds_close_type(key->dtype, mt);
  }
  H5Dclose(ds);
  if (rc) {
    free(e->data);
    e->data = NULL;
  }
  return rc;
}

int o2o_dataset_read_extras(o2o_dataset *d, o2o_dataset_extra **extras, int *num_extras, char *err,
                            size_t errlen) {
  o2o_ds_silence_hdf5();
  *extras = NULL;
  *num_extras = 0;
  o2o_dataset_extra *out = calloc((size_t)d->info.num_keys + 1, sizeof(*out));
  if (!out) return o2o_ds_err(err, errlen, O2O_DATASET_ENOMEM, "%s: out of memory", d->info.path);
  int n = 0;
  for (int i = 0; i < d->info.num_keys; i++) {
    const o2o_dataset_extra *key = &d->info.keys[i];
    int core = 0;
    for (int k = 0; k < K_CORE; k++)
      core |= !strcmp(key->key, core_keys[k]);
    if (core) continue;
    int rc = read_extra(d, key, &out[n], err, errlen);
    if (rc == 1) {
      warn(&d->info, "key '%s' has an unsupported type and was skipped%.0lld", key->key, 0);
      continue;
    }
    if (rc) {
      o2o_dataset_extras_free(out, n);
      return rc;
    }
    n++;
  }
  *extras = out;
  *num_extras = n;
  return 0;
}
