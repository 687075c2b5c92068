/* dataset_write.c: write a D4RL-layout HDF5 file (atomic: PATH.tmp.<pid>, then rename).
 * Core arrays and per-row infos are chunked (~1 MiB chunks) with byte-shuffle + gzip level 1:
 * shuffle groups the float bytes by significance, which both shrinks the file and makes
 * inflate about twice as fast as plain gzip on float data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset_internal.h"

#define CHUNK_BYTES (1 << 20)

typedef struct writer {
  hid_t file, lcpl;
  const char *path;
  int64_t n;
  int gzip, shuffle;
  int no_fast_write; /* O2O_DATASET_FAST_WRITE=0: HDF5's own filter pipeline */
  char *err;
  size_t errlen;
} writer;

static int h5_fail(writer *w, const char *key, const char *what) {
  char h5[256];
  o2o_ds_h5_message(h5, sizeof(h5));
  return o2o_ds_err(w->err, w->errlen, O2O_DATASET_EIO, "%s: key '%s': %s failed (%s)", w->path,
                    key, what, h5);
}

/* Create and fill one dataset. Arrays whose first dimension is the row count N and that
 * hold more than a few KB are chunked + compressed; small ones (metadata) are contiguous. */
static int put(writer *w, const char *key, hid_t file_type, hid_t mem_type, int ndim,
               const hsize_t *dims, const void *data) {
  hid_t space = ndim == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(ndim, dims, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_obj_track_times(dcpl, 0); /* no timestamps: same data -> same bytes */
  hsize_t numel = 1;
  for (int i = 0; i < ndim; i++)
    numel *= dims[i];
  size_t row_bytes = H5Tget_size(file_type);
  for (int i = 1; i < ndim; i++)
    row_bytes *= dims[i];
  hsize_t chunk[O2O_DATASET_MAX_DIMS] = {0};
  if (ndim >= 1 && numel * H5Tget_size(file_type) > 16384 && dims[0] > 1) {
    hsize_t rows = CHUNK_BYTES / (row_bytes ? row_bytes : 1);
    chunk[0] = rows < 1 ? 1 : rows > dims[0] ? dims[0] : rows;
    for (int i = 1; i < ndim; i++)
      chunk[i] = dims[i];
    H5Pset_chunk(dcpl, ndim, chunk);
    if (w->shuffle && w->gzip > 0) H5Pset_shuffle(dcpl);
    if (w->gzip > 0) H5Pset_deflate(dcpl, (unsigned)w->gzip);
  }
  /* Big compressed float arrays: chunks compressed by worker threads (dataset_fastwrite.c). */
  int es = H5Tequal(file_type, H5T_IEEE_F32LE) > 0   ? 4
           : H5Tequal(file_type, H5T_IEEE_F64LE) > 0 ? 8
                                                     : 0;
  int fast = chunk[0] && w->gzip > 0 && es && ndim <= 2 &&
             H5Tequal(mem_type, H5T_NATIVE_FLOAT) > 0 && numel * es >= 4 * (hsize_t)CHUNK_BYTES &&
             !w->no_fast_write;
  hid_t ds = H5Dcreate2(w->file, key, file_type, space, w->lcpl, dcpl, H5P_DEFAULT);
  int rc = 0;
  char msg[256];
  if (ds < 0)
    rc = h5_fail(w, key, "create");
  else if (fast && o2o_ds_fast_write(ds, data, (int64_t)dims[0], ndim == 2 ? (int)dims[1] : 1,
                                     (int64_t)chunk[0], es, w->shuffle, w->gzip, msg, sizeof(msg)))
    rc = o2o_ds_err(w->err, w->errlen, O2O_DATASET_EIO, "%s: key '%s': write failed (%s)", w->path,
                    key, msg);
  else if (!fast && numel && H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    rc = h5_fail(w, key, "write");
  if (ds >= 0) H5Dclose(ds);
  H5Pclose(dcpl);
  H5Sclose(space);
  return rc;
}

static int put_floats(writer *w, const char *key, const float *v, int cols, int store_f64) {
  hsize_t dims[2] = {(hsize_t)w->n, (hsize_t)cols};
  int64_t bad = o2o_ds_first_nonfinite(v, w->n * cols);
  if (bad >= 0)
    return o2o_ds_err(w->err, w->errlen, O2O_DATASET_EVALUE,
                      "%s: key '%s': %s at row %lld, column %lld (refusing to write it)", w->path,
                      key, v[bad] != v[bad] ? "NaN" : "inf", (long long)(bad / cols),
                      (long long)(bad % cols));
  return put(w, key, store_f64 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
             cols > 0 && strcmp(key, "rewards") ? 2 : 1, dims, v);
}

static int put_flags(writer *w, const char *key, const uint8_t *v) {
  for (int64_t i = 0; i < w->n; i++)
    if (v[i] > 1)
      return o2o_ds_err(w->err, w->errlen, O2O_DATASET_EVALUE,
                        "%s: key '%s': row %lld holds %u (flags must be 0 or 1)", w->path, key,
                        (long long)i, v[i]);
  hid_t t = o2o_ds_bool_type(); /* 0/1 bytes are valid int8 enum values as they are */
  hsize_t dims[1] = {(hsize_t)w->n};
  int rc = put(w, key, t, t, 1, dims, v);
  H5Tclose(t);
  return rc;
}

static int put_extra(writer *w, const o2o_dataset_extra *e) {
  if (!e->data)
    return o2o_ds_err(w->err, w->errlen, O2O_DATASET_EINVAL, "%s: key '%s' has no data", w->path,
                      e->key);
  if (e->dtype == O2O_DTYPE_STR) {
    /* Fixed-length ASCII, NULLPAD: what h5py writes for np.string_ scalars. */
    size_t len = strlen(e->data);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, len ? len : 1);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    int rc = put(w, e->key, t, t, 0, NULL, len ? e->data : "\0");
    H5Tclose(t);
    return rc;
  }
  if (e->ndim < 0 || e->ndim > O2O_DATASET_MAX_DIMS)
    return o2o_ds_err(w->err, w->errlen, O2O_DATASET_EINVAL, "%s: key '%s': rank %d unsupported",
                      w->path, e->key, e->ndim);
  hsize_t dims[O2O_DATASET_MAX_DIMS];
  for (int i = 0; i < e->ndim; i++)
    dims[i] = (hsize_t)e->shape[i];
  static const struct {
    o2o_dtype t;
    hid_t *file_type;
  } ft[] = {{O2O_DTYPE_F32, &H5T_IEEE_F32LE_g}, {O2O_DTYPE_F64, &H5T_IEEE_F64LE_g},
            {O2O_DTYPE_I8, &H5T_STD_I8LE_g},    {O2O_DTYPE_U8, &H5T_STD_U8LE_g},
            {O2O_DTYPE_I32, &H5T_STD_I32LE_g},  {O2O_DTYPE_I64, &H5T_STD_I64LE_g}};
  if (e->dtype == O2O_DTYPE_BOOL) {
    hid_t t = o2o_ds_bool_type();
    int rc = put(w, e->key, t, t, e->ndim, dims, e->data);
    H5Tclose(t);
    return rc;
  }
  for (size_t i = 0; i < sizeof(ft) / sizeof(ft[0]); i++)
    if (ft[i].t == e->dtype) {
      H5open(); /* the *_g type ids are valid only once the library is initialised */
      return put(w, e->key, *ft[i].file_type, o2o_ds_mem_type(e->dtype), e->ndim, dims, e->data);
    }
  return o2o_ds_err(w->err, w->errlen, O2O_DATASET_EINVAL, "%s: key '%s': unsupported dtype %s",
                    w->path, e->key, o2o_dtype_name(e->dtype));
}

static int write_all(writer *w, const o2o_dataset_data *d, int store_f64) {
  int rc = put_floats(w, "observations", d->obs, d->obs_dim, store_f64);
  if (!rc) rc = put_floats(w, "actions", d->act, d->act_dim, store_f64);
  if (!rc) rc = put_floats(w, "rewards", d->rew, 1, store_f64);
  if (!rc && d->next_obs)
    rc = put_floats(w, "next_observations", d->next_obs, d->obs_dim, store_f64);
  if (!rc) rc = put_flags(w, "terminals", d->terminals);
  if (!rc && d->timeouts) rc = put_flags(w, "timeouts", d->timeouts);
  for (int i = 0; !rc && i < d->num_extras; i++) {
    const o2o_dataset_extra *e = &d->extras[i];
    if (!strncmp(e->key, "infos/", 6) && (e->ndim < 1 || e->shape[0] != d->n))
      rc = o2o_ds_err(w->err, w->errlen, O2O_DATASET_EFORMAT,
                      "%s: key '%s' has %lld rows, expected %lld (one per transition)", w->path,
                      e->key, e->ndim >= 1 ? (long long)e->shape[0] : 0LL, (long long)d->n);
    else
      rc = put_extra(w, e);
  }
  return rc;
}

int o2o_dataset_write(const char *path, const o2o_dataset_data *d,
                      const o2o_dataset_write_opts *opts, char *err, size_t errlen) {
  o2o_ds_silence_hdf5();
  if (!path || !d || d->n < 1 || d->obs_dim < 1 || d->act_dim < 1 || !d->obs || !d->act ||
      !d->rew || !d->terminals)
    return o2o_ds_err(err, errlen, O2O_DATASET_EINVAL,
                      "%s: nothing to write (need n >= 1, dims >= 1, observations, actions, "
                      "rewards, terminals)",
                      path ? path : "(null)");
  char tmp[1100]; /* per process: two writers of the same file never share a temp file */
  snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
  writer w = {.path = path,
              .n = d->n,
              .gzip = opts ? opts->gzip_level : 1,
              .shuffle = opts ? !opts->no_shuffle : 1,
              .err = err,
              .errlen = errlen};
  if (w.gzip < 0 || w.gzip > 9)
    return o2o_ds_err(err, errlen, O2O_DATASET_EINVAL, "%s: gzip level %d outside 0..9", path,
                      w.gzip);
  const char *fw = getenv("O2O_DATASET_FAST_WRITE");
  w.no_fast_write = fw && !strcmp(fw, "0");
  w.file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (w.file < 0) {
    char h5[256];
    o2o_ds_h5_message(h5, sizeof(h5));
    return o2o_ds_err(err, errlen, O2O_DATASET_EIO, "%s: cannot create (%s)", tmp, h5);
  }
  w.lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(w.lcpl, 1);
  int rc = write_all(&w, d, opts && opts->store_f64);
  H5Pclose(w.lcpl);
  if (H5Fclose(w.file) < 0 && !rc) rc = h5_fail(&w, "(file)", "close");
  if (!rc && rename(tmp, path) != 0)
    rc = o2o_ds_err(err, errlen, O2O_DATASET_EIO, "%s: cannot rename %s into place", path, tmp);
  if (rc) remove(tmp);
  return rc;
}
