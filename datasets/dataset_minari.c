/* dataset_minari.c: import a Minari dataset (HDF5 backend) into the D4RL layout.
 *
 * Minari's main_data.hdf5 holds one group per episode, episode_0, episode_1, ...:
 *   observations [T+1][obs] (reset obs + one per step), actions [T][act], rewards [T],
 *   terminations [T], truncations [T]  (tasks_and_datasets.md B.6).
 * D4RL rows: observations = obs[0..T-1], next_observations = obs[1..T],
 * terminals = terminations, timeouts = truncations (and not terminations). Box spaces only:
 * Dict/Tuple observations (sub-groups) are refused with the episode named. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dataset_internal.h"

typedef struct imp {
  const char *path;
  int64_t n, cap;
  int od, ad;
  float *obs, *act, *rew, *next;
  uint8_t *term, *tout;
  char *err;
  size_t errlen;
} imp;

static int grow(imp *m, int64_t need) {
  if (need <= m->cap) return 0;
  int64_t cap = m->cap ? m->cap : 4096;
  while (cap < need)
    cap *= 2;
  float *o = realloc(m->obs, cap * m->od * 4);
  if (o) m->obs = o;
  float *nx = realloc(m->next, cap * m->od * 4);
  if (nx) m->next = nx;
  float *a = realloc(m->act, cap * m->ad * 4);
  if (a) m->act = a;
  float *r = realloc(m->rew, cap * 4);
  if (r) m->rew = r;
  uint8_t *t = realloc(m->term, cap);
  if (t) m->term = t;
  uint8_t *u = realloc(m->tout, cap);
  if (u) m->tout = u;
  if (!o || !nx || !a || !r || !t || !u)
    return o2o_ds_err(m->err, m->errlen, O2O_DATASET_ENOMEM, "%s: out of memory", m->path);
  m->cap = cap;
  return 0;
}

/* Open group/key as a float array of `rows` x `cols` (cols 0 = 1-D, or (rows, 1)). */
static int read_floats(imp *m, hid_t g, const char *ep, const char *key, int64_t rows, int *cols,
                       float **out) {
  if (H5Lexists(g, key, H5P_DEFAULT) <= 0)
    return o2o_ds_err(m->err, m->errlen, O2O_DATASET_EFORMAT, "%s: %s: missing key '%s'", m->path,
                      ep, key);
  H5O_info_t oi;
  if (H5Oget_info_by_name2(g, key, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
      oi.type != H5O_TYPE_DATASET)
    return o2o_ds_err(m->err, m->errlen, O2O_DATASET_EFORMAT,
                      "%s: %s/%s is a group (Dict or Tuple space): only Box spaces are imported",
                      m->path, ep, key);
  hid_t d = H5Dopen2(g, key, H5P_DEFAULT);
  hid_t t = H5Dget_type(d), s = H5Dget_space(d);
  o2o_dtype dt = o2o_ds_classify(t);
  int nd = H5Sget_simple_extent_ndims(s);
  hsize_t dims[2] = {0, 1};
  int rc = 0;
  if (dt != O2O_DTYPE_F32 && dt != O2O_DTYPE_F64)
    rc = o2o_ds_err(m->err, m->errlen, O2O_DATASET_EFORMAT,
                    "%s: %s/%s has dtype %s (expected float32 or float64)", m->path, ep, key,
                    o2o_dtype_name(dt));
  else if (nd < 1 || nd > 2)
    rc = o2o_ds_err(m->err, m->errlen, O2O_DATASET_EFORMAT, "%s: %s/%s has rank %d", m->path, ep,
                    key, nd);
  if (!rc) {
    H5Sget_simple_extent_dims(s, dims, NULL);
    int c = nd == 2 ? (int)dims[1] : 1;
    if (nd == 2 && dims[1] > INT_MAX) /* (int) would wrap: H5Dread then overruns *out */
      rc = o2o_ds_err(m->err, m->errlen, O2O_DATASET_EFORMAT,
                      "%s: %s/%s has %llu columns (more than %d)", m->path, ep, key,
                      (unsigned long long)dims[1], INT_MAX);
    else if ((int64_t)dims[0] != rows)
      rc = o2o_ds_err(m->err, m->errlen, O2O_DATASET_EFORMAT,
                      "%s: %s/%s has %lld rows, expected %lld", m->path, ep, key,
                      (long long)dims[0], (long long)rows);
    else if (*cols && c != *cols)
      rc = o2o_ds_err(m->err, m->errlen, O2O_DATASET_EFORMAT,
                      "%s: %s/%s has %d columns, earlier episodes have %d", m->path, ep, key, c,
                      *cols);
    else if (!(*out = malloc((size_t)(rows ? rows : 1) * c * 4)))
      rc = o2o_ds_err(m->err, m->errlen, O2O_DATASET_ENOMEM, "%s: out of memory", m->path);
    else if (rows && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0)
      rc = o2o_ds_err(m->err, m->errlen, O2O_DATASET_EIO, "%s: %s/%s: read failed", m->path, ep,
                      key);
    *cols = c;
  }
  H5Tclose(t);
  H5Sclose(s);
  H5Dclose(d);
  return rc;
}

static int read_episode_flags(imp *m, hid_t g, const char *ep, const char *key, int64_t rows,
                              uint8_t *out) {
  if (H5Lexists(g, key, H5P_DEFAULT) <= 0)
    return o2o_ds_err(m->err, m->errlen, O2O_DATASET_EFORMAT, "%s: %s: missing key '%s'", m->path,
                      ep, key);
  hid_t d = H5Dopen2(g, key, H5P_DEFAULT);
  hid_t t = H5Dget_type(d), s = H5Dget_space(d);
  o2o_dtype dt = o2o_ds_classify(t);
  int rc = 0;
  char full[128];
  snprintf(full, sizeof(full), "%s/%s", ep, key);
  if (H5Sget_simple_extent_npoints(s) != rows)
    rc = o2o_ds_err(m->err, m->errlen, O2O_DATASET_EFORMAT, "%s: %s has %lld rows, expected %lld",
                    m->path, full, (long long)H5Sget_simple_extent_npoints(s), (long long)rows);
  else if (dt == O2O_DTYPE_NONE || dt == O2O_DTYPE_STR)
    rc = o2o_ds_err(m->err, m->errlen, O2O_DATASET_EFORMAT, "%s: %s has dtype %s", m->path, full,
                    o2o_dtype_name(dt));
  else
    rc = o2o_ds_read_flags(d, dt, rows, out, m->path, full, m->err, m->errlen);
  H5Tclose(t);
  H5Sclose(s);
  H5Dclose(d);
  return rc;
}

static int import_episode(imp *m, hid_t file, const char *ep) {
  hid_t g = H5Gopen2(file, ep, H5P_DEFAULT);
  if (g < 0)
    return o2o_ds_err(m->err, m->errlen, O2O_DATASET_EFORMAT, "%s: %s is not a group", m->path, ep);
  float *obs = NULL, *act = NULL, *rew = NULL;
  int rc = 0, one = 0;
  /* T from actions, then every other key is checked against it. */
  hsize_t adims[2] = {0, 0};
  if (H5Lexists(g, "actions", H5P_DEFAULT) > 0) {
    hid_t d = H5Dopen2(g, "actions", H5P_DEFAULT);
    hid_t s = H5Dget_space(d);
    H5Sget_simple_extent_dims(s, adims, NULL);
    H5Sclose(s);
    H5Dclose(d);
  }
  int64_t T = (int64_t)adims[0];
  rc = read_floats(m, g, ep, "actions", T, &m->ad, &act);
  if (!rc) rc = read_floats(m, g, ep, "observations", T + 1, &m->od, &obs);
  if (!rc) rc = read_floats(m, g, ep, "rewards", T, &one, &rew);
  if (!rc && one != 1)
    rc = o2o_ds_err(m->err, m->errlen, O2O_DATASET_EFORMAT, "%s: %s/rewards has %d columns",
                    m->path, ep, one);
  if (!rc) rc = grow(m, m->n + T);
  if (!rc) rc = read_episode_flags(m, g, ep, "terminations", T, m->term + m->n);
  if (!rc) rc = read_episode_flags(m, g, ep, "truncations", T, m->tout + m->n);
  if (!rc) {
    int64_t bad = o2o_ds_first_nonfinite(obs, (T + 1) * m->od);
    const char *which = "observations";
    if (bad < 0 && (bad = o2o_ds_first_nonfinite(act, T * m->ad)) >= 0) which = "actions";
    if (bad < 0 && (bad = o2o_ds_first_nonfinite(rew, T)) >= 0) which = "rewards";
    if (bad >= 0) {
      int cols = !strcmp(which, "observations") ? m->od : !strcmp(which, "actions") ? m->ad : 1;
      rc = o2o_ds_err(m->err, m->errlen, O2O_DATASET_EVALUE,
                      "%s: %s/%s: NaN or inf at row %lld, column %lld", m->path, ep, which,
                      (long long)(bad / cols), (long long)(bad % cols));
    }
  }
  if (!rc) {
    int64_t n = m->n;
    memcpy(m->obs + n * m->od, obs, (size_t)T * m->od * 4);
    memcpy(m->next + n * m->od, obs + m->od, (size_t)T * m->od * 4);
    memcpy(m->act + n * m->ad, act, (size_t)T * m->ad * 4);
    memcpy(m->rew + n, rew, (size_t)T * 4);
    for (int64_t i = 0; i < T; i++)
      if (m->term[n + i]) m->tout[n + i] = 0; /* D4RL: a row is a terminal or a timeout */
    m->n += T;
  }
  free(obs), free(act), free(rew);
  H5Gclose(g);
  return rc;
}

/* metadata.json next to or above main_data.hdf5 (Minari >= 0.5), as text. */
static char *read_metadata_json(const char *h5path) {
  char dir[1200];
  snprintf(dir, sizeof(dir), "%s", h5path);
  char *slash = strrchr(dir, '/');
  if (slash)
    *slash = 0;
  else
    snprintf(dir, sizeof(dir), ".");
  char path[1300];
  snprintf(path, sizeof(path), "%s/metadata.json", dir);
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = len >= 0 && len < (1 << 24) ? malloc((size_t)len + 1) : NULL;
  if (s) s[fread(s, 1, (size_t)len, f)] = 0;
  fclose(f);
  return s;
}

int o2o_dataset_import_minari(const char *src, const char *out_path,
                              const o2o_dataset_write_opts *opts, char *err, size_t errlen) {
  o2o_ds_silence_hdf5();
  char h5path[1100];
  struct stat st;
  if (!src || stat(src, &st) != 0)
    return o2o_ds_err(err, errlen, O2O_DATASET_EIO, "%s: cannot open", src ? src : "(null)");
  /* A dataset directory (.../name-v0 or its data/), or main_data.hdf5 itself. */
  if (S_ISDIR(st.st_mode)) {
    snprintf(h5path, sizeof(h5path), "%s/data/main_data.hdf5", src);
    if (stat(h5path, &st) != 0) snprintf(h5path, sizeof(h5path), "%s/main_data.hdf5", src);
  } else {
    snprintf(h5path, sizeof(h5path), "%s", src);
  }
  if (stat(h5path, &st) != 0)
    return o2o_ds_err(err, errlen, O2O_DATASET_EIO, "%s: no main_data.hdf5 (Minari HDF5 backend)",
                      src);
  if (H5Fis_hdf5(h5path) <= 0)
    return o2o_ds_err(err, errlen, O2O_DATASET_EIO, "%s: not an HDF5 file", h5path);
  hid_t file = H5Fopen(h5path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) {
    char h5[256];
    o2o_ds_h5_message(h5, sizeof(h5));
    return o2o_ds_err(err, errlen, O2O_DATASET_EIO, "%s: cannot open as HDF5 (%s)", h5path, h5);
  }
  imp m = {.path = h5path, .err = err, .errlen = errlen};
  int rc = 0, episodes = 0;
  for (;; episodes++) {
    char ep[64];
    snprintf(ep, sizeof(ep), "episode_%d", episodes);
    if (H5Lexists(file, ep, H5P_DEFAULT) <= 0) break;
    if ((rc = import_episode(&m, file, ep))) break;
  }
  H5Fclose(file);
  if (!rc && episodes == 0)
    rc = o2o_ds_err(err, errlen, O2O_DATASET_EFORMAT, "%s: no group 'episode_0': not a Minari file",
                    h5path);
  if (!rc && m.n == 0)
    rc = o2o_ds_err(err, errlen, O2O_DATASET_EFORMAT, "%s: the episodes hold no steps", h5path);
  if (!rc) {
    o2o_dataset_extra ex[3];
    int nex = 0;
    o2o_dataset_extra_string(&ex[nex++], "metadata/source", "minari");
    o2o_dataset_extra_int(&ex[nex++], "metadata/minari_episodes", episodes);
    char *json = read_metadata_json(h5path);
    if (json) o2o_dataset_extra_string(&ex[nex++], "metadata/minari_metadata_json", json);
    free(json);
    o2o_dataset_data d = {m.n, m.od, m.ad, m.obs, m.act, m.rew, m.next, m.term, m.tout, nex, ex};
    rc = o2o_dataset_write(out_path, &d, opts, err, errlen);
    for (int i = 0; i < nex; i++)
      free(ex[i].data);
  }
  free(m.obs), free(m.act), free(m.rew), free(m.next), free(m.term), free(m.tout);
  return rc;
}
