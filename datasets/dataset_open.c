/* dataset_open.c: open + validate a D4RL-layout HDF5 file. Open reads only the flags
 * (terminals, timeouts): they decide the episode structure, the number of transitions and
 * which rows survive when next_observations has to be rebuilt (dataset_read.c reads). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dataset_internal.h"

const char *const o2o_ds_core_keys[K_CORE] = {"observations",      "actions",   "rewards",
                                              "next_observations", "terminals", "timeouts"};

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

void o2o_ds_warn(o2o_dataset_info *info, const char *fmt, const char *a, int64_t x) {
  size_t len = strlen(info->warnings);
  if (len + 2 >= sizeof(info->warnings)) return;
  if (len) info->warnings[len++] = '\n';
  char line[400];
  snprintf(line, sizeof(line), fmt, a, (long long)x);
  snprintf(info->warnings + len, sizeof(info->warnings) - len, "%s", line);
}

char *o2o_ds_read_string_alloc(hid_t d) {
  char *res = NULL;
  hid_t t = H5Dget_type(d), s = H5Dget_space(d);
  if (H5Tget_class(t) == H5T_STRING && H5Sget_simple_extent_npoints(s) == 1) {
    hid_t mt = H5Tcopy(H5T_C_S1);
    if (H5Tis_variable_str(t) > 0) {
      char *p = NULL;
      H5Tset_size(mt, H5T_VARIABLE);
      if (H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &p) >= 0 && p) res = strdup(p);
      if (p) H5free_memory(p);
    } else {
      size_t sz = H5Tget_size(t);
      char *buf = calloc(1, sz + 1);
      H5Tset_size(mt, sz + 1);
      H5Tset_strpad(mt, H5T_STR_NULLTERM);
      if (buf && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0)
        res = buf;
      else
        free(buf);
    }
    H5Tclose(mt);
  }
  H5Tclose(t);
  H5Sclose(s);
  return res;
}

int o2o_ds_read_string(hid_t d, char *out, size_t len) {
  char *s = o2o_ds_read_string_alloc(d);
  snprintf(out, len, "%s", s ? s : "");
  free(s);
  return s != NULL;
}

/* A scalar string under metadata/ ("" when absent or of another kind). */
static int read_scalar_string(hid_t file, const char *key, char *out, size_t len) {
  out[0] = 0;
  if (H5Lexists(file, "metadata", H5P_DEFAULT) <= 0 || H5Lexists(file, key, H5P_DEFAULT) <= 0)
    return 0;
  hid_t d = H5Dopen2(file, key, H5P_DEFAULT);
  if (d < 0) return 0;
  int ok = o2o_ds_read_string(d, out, len);
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

/* A task inferred from names whose dims disagree with the file's: warn (a hopper file with
 * 6 action columns is not hopper data). Dims: Gymnasium v4 / D4RL (ant: 27 or D4RL's 111). */
static void check_task_dims(o2o_dataset_info *info, const char *from) {
  static const struct {
    const char *task;
    int obs, obs_alt, act;
  } dims[] = {{"hopper", 11, 11, 3},
              {"halfcheetah", 17, 17, 6},
              {"walker2d", 17, 17, 6},
              {"ant", 27, 111, 8},
              {"pendulum", 4, 4, 1}};
  for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++) {
    if (strcmp(info->task, dims[i].task)) continue;
    if ((info->obs_dim == dims[i].obs || info->obs_dim == dims[i].obs_alt) &&
        info->act_dim == dims[i].act)
      return;
    char line[400];
    snprintf(line, sizeof line,
             "task '%s' (inferred from the %s) has obs %d / act %d, but the file has obs %d / "
             "act %d: not %s data? (pass --task or --scenario)",
             info->task, from, dims[i].obs, dims[i].act, info->obs_dim, info->act_dim, info->task);
    o2o_ds_warn(info, "%s", line, 0); /* the count argument is unused by "%s" */
    return;
  }
}

/* Flags of `rows` rows as 0/1 bytes; anything else is an error naming the row. */
static int read_flags(o2o_dataset *d, int k, uint8_t *out, char *err, size_t errlen) {
  const o2o_dataset_extra *key = find_key(&d->info, o2o_ds_core_keys[k]);
  return o2o_ds_read_flags(d->dset[k], key->dtype, d->info.rows, out, d->info.path,
                           o2o_ds_core_keys[k], err, errlen);
}

/* Shapes, dtypes and first dimensions of the core keys (and of infos/...). */
static int check_layout(o2o_dataset *d, const o2o_dataset_open_opts *o, char *err, size_t errlen) {
  o2o_dataset_info *info = &d->info;
  const char *p = info->path;
  for (int k = 0; k < K_CORE; k++) {
    const o2o_dataset_extra *key = find_key(info, o2o_ds_core_keys[k]);
    if (!key) {
      if (k == K_NEXT || k == K_TIME) continue;
      return o2o_ds_err(err, errlen, O2O_DATASET_EFORMAT,
                        "%s: missing key '%s' (a D4RL file needs observations, actions, "
                        "rewards, terminals)",
                        p, o2o_ds_core_keys[k]);
    }
    int is_flag = k == K_TERM || k == K_TIME;
    int is_float = key->dtype == O2O_DTYPE_F32 || key->dtype == O2O_DTYPE_F64;
    int is_int = key->dtype == O2O_DTYPE_BOOL || key->dtype == O2O_DTYPE_I8 ||
                 key->dtype == O2O_DTYPE_U8 || key->dtype == O2O_DTYPE_I32 ||
                 key->dtype == O2O_DTYPE_I64;
    if (!(is_float || (is_flag && is_int)))
      return o2o_ds_err(err, errlen, O2O_DATASET_EFORMAT, "%s: key '%s' has dtype %s (expected %s)",
                        p, o2o_ds_core_keys[k], o2o_dtype_name(key->dtype),
                        is_flag ? "bool, an integer type or 0/1 floats" : "float32 or float64");
    int want2 = k == K_OBS || k == K_ACT || k == K_NEXT;
    int ok_rank = want2 ? key->ndim == 2 : key->ndim == 1 || (key->ndim == 2 && key->shape[1] == 1);
    if (!ok_rank)
      return o2o_ds_err(err, errlen, O2O_DATASET_EFORMAT, "%s: key '%s' has rank %d (expected %s)",
                        p, o2o_ds_core_keys[k], key->ndim,
                        want2 ? "2: [N][dim]" : "1: [N] (or [N][1])");
    if (want2 && key->shape[1] > INT_MAX) /* would wrap when stored as an int dim */
      return o2o_ds_err(err, errlen, O2O_DATASET_EFORMAT,
                        "%s: key '%s' has %lld columns (more than %d)", p, o2o_ds_core_keys[k],
                        (long long)key->shape[1], INT_MAX);
    if (k == K_OBS) {
      info->rows = key->shape[0];
      info->obs_dim = (int)key->shape[1];
    }
    if (key->shape[0] != info->rows)
      return o2o_ds_err(err, errlen, O2O_DATASET_EFORMAT,
                        "%s: key '%s' has %lld rows but observations has %lld (first "
                        "dimensions must match)",
                        p, o2o_ds_core_keys[k], (long long)key->shape[0], (long long)info->rows);
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
    o2o_ds_warn(info,
                "%sthe last episode is unfinished: %lld rows after the last terminal/timeout "
                "(kept as truncated, not counted as an episode)",
                "", info->trailing_rows);
  if (!info->has_timeouts)
    o2o_ds_warn(info,
                "%sno 'timeouts' key: timeouts inferred at episode step %lld (the episode limit)",
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
  o2o_ds_warn(info,
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
  d->keys_overflow = ctx.overflow;
  if (ctx.overflow)
    o2o_ds_warn(info, "%smore than %lld datasets: only the first ones are listed", "",
                O2O_DATASET_MAX_KEYS);
  if ((rc = check_layout(d, opts, err, errlen))) goto fail;
  for (int k = 0; k < K_CORE; k++) {
    if (!find_key(info, o2o_ds_core_keys[k])) continue;
    d->dset[k] = H5Dopen2(d->file, o2o_ds_core_keys[k], H5P_DEFAULT);
    if (d->dset[k] < 0) {
      rc = o2o_ds_err(err, errlen, O2O_DATASET_EIO, "%s: key '%s': cannot open", path,
                      o2o_ds_core_keys[k]);
      goto fail;
    }
  }
  info->has_next_obs = d->dset[K_NEXT] >= 0;
  info->has_timeouts = d->dset[K_TIME] >= 0;
  read_scalar_string(d->file, "metadata/task", info->task, sizeof(info->task));
  read_scalar_string(d->file, "metadata/scenario", info->scenario, sizeof(info->scenario));
  read_scalar_string(d->file, "metadata/variant", info->variant, sizeof(info->variant));
  const char *task_from = "metadata/task";
  if (!info->task[0] && info->scenario[0]) {
    guess_task(info->scenario, info->task, sizeof(info->task));
    task_from = "metadata/scenario";
  }
  if (!info->task[0]) {
    const char *base = strrchr(path, '/');
    guess_task(base ? base + 1 : path, info->task, sizeof(info->task));
    task_from = "file name";
  }
  if (info->task[0]) check_task_dims(info, task_from);
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
