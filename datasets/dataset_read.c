/* dataset_read.c: read a validated dataset (dataset_open.c) in one pass into caller-owned
 * float32 arrays, checking every value for NaN/inf; and the extra keys (infos, metadata). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset_internal.h"

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
                      d->info.path, o2o_ds_core_keys[k], (long long)row0,
                      (long long)(row0 + rows - 1), msg);
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
                      o2o_ds_core_keys[k], (long long)row0, (long long)(row0 + rows - 1), h5,
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
                    d->info.path, o2o_ds_core_keys[k], v[bad] != v[bad] ? "NaN" : "inf",
                    (long long)file_row, (long long)(bad % cols));
}

/* The delivered timeout flag of file row `row`: its own, or (next_observations rebuilt) 1
 * when the next row is a timeout row, which is dropped: the episode is truncated after this
 * transition and must not run into the next episode's rows. */
static uint8_t delivered_timeout(const o2o_dataset *d, int64_t row) {
  if (d->timeouts[row]) return 1;
  return d->rows_of && !d->terminals[row] && row + 1 < d->info.rows && d->timeouts[row + 1] &&
         !d->terminals[row + 1];
}

static void copy_flags(const o2o_dataset *d, int64_t i, int64_t row, const o2o_dataset_dest *dst) {
  uint8_t to = delivered_timeout(d, row);
  if (dst->done) dst->done[i] = d->terminals[row] ? 1.0f : 0.0f;
  if (dst->terminals) dst->terminals[i] = d->terminals[row];
  if (dst->timeouts) dst->timeouts[i] = to;
  if (dst->episode_ends) dst->episode_ends[i] = d->terminals[row] || to;
}

int o2o_dataset_episode_ends(const o2o_dataset *d, int64_t first, int64_t count, uint8_t *ends,
                             char *err, size_t errlen) {
  if (!d || !ends || first < 0 || count < 0 || first + count > d->info.transitions)
    return o2o_ds_err(err, errlen, O2O_DATASET_EINVAL,
                      "o2o_dataset_episode_ends: bad range [%lld, %lld) of %lld transitions",
                      (long long)first, (long long)(first + count),
                      d ? (long long)d->info.transitions : 0LL);
  for (int64_t i = 0; i < count; i++) {
    int64_t row = d->rows_of ? d->rows_of[first + i] : first + i;
    ends[i] = d->terminals[row] || delivered_timeout(d, row);
  }
  return 0;
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
    if (e->ndim != 0 && !(e->ndim == 1 && e->shape[0] == 1))
      rc = o2o_ds_err(err, errlen, O2O_DATASET_EFORMAT,
                      "%s: key '%s': string arrays are not supported (only scalar strings)",
                      d->info.path, key->key);
    else if (!(e->data = o2o_ds_read_string_alloc(ds)))
      rc = o2o_ds_err(err, errlen, O2O_DATASET_EIO, "%s: key '%s': cannot read the string",
                      d->info.path, key->key);
    else
      e->ndim = 0;
  } else if (key->dtype == O2O_DTYPE_NONE || key->ndim < 0) {
    rc = 1; /* unsupported type: skipped by the caller with a warning */
  } else {
    /* Checked: a sparse chunked dataset can declare 2^62 elements, whose byte count wraps
     * to a tiny malloc that H5Dread would then overrun. */
    size_t es = o2o_dtype_size(key->dtype), numel = 1, bytes = es;
    int too_big = 0;
    for (int i = 0; i < key->ndim; i++)
      too_big |= __builtin_mul_overflow(numel, (size_t)key->shape[i], &numel);
    too_big |= __builtin_mul_overflow(numel ? numel : 1, es, &bytes);
    e->data = too_big ? NULL : malloc(bytes);
    hid_t mt = o2o_ds_mem_type(key->dtype);
    if (too_big)
      rc = o2o_ds_err(err, errlen, O2O_DATASET_EFORMAT,
                      "%s: key '%s': its shape holds more elements than memory can address",
                      d->info.path, key->key);
    else if (!e->data)
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
  if (d->keys_overflow) /* a round trip would silently lose the keys not listed */
    return o2o_ds_err(err, errlen, O2O_DATASET_EFORMAT,
                      "%s: more than %d datasets: extras cannot all be kept", d->info.path,
                      O2O_DATASET_MAX_KEYS);
  o2o_dataset_extra *out = calloc((size_t)d->info.num_keys + 1, sizeof(*out));
  if (!out) return o2o_ds_err(err, errlen, O2O_DATASET_ENOMEM, "%s: out of memory", d->info.path);
  int n = 0;
  for (int i = 0; i < d->info.num_keys; i++) {
    const o2o_dataset_extra *key = &d->info.keys[i];
    int core = 0;
    for (int k = 0; k < K_CORE; k++)
      core |= !strcmp(key->key, o2o_ds_core_keys[k]);
    if (core) continue;
    int rc = read_extra(d, key, &out[n], err, errlen);
    if (rc == 1) {
      o2o_ds_warn(&d->info, "key '%s' has an unsupported type and was skipped%.0lld", key->key, 0);
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
