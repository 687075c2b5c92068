/* dataset_common.c: dtype table, HDF5 error handling, metadata helpers, D4RL scores. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include "dataset_internal.h"
#include "o2o_version.h"

const char *o2o_dtype_name(o2o_dtype t) {
  switch (t) {
  case O2O_DTYPE_F32:
    return "float32";
  case O2O_DTYPE_F64:
    return "float64";
  case O2O_DTYPE_I8:
    return "int8";
  case O2O_DTYPE_U8:
    return "uint8";
  case O2O_DTYPE_I32:
    return "int32";
  case O2O_DTYPE_I64:
    return "int64";
  case O2O_DTYPE_BOOL:
    return "bool";
  case O2O_DTYPE_STR:
    return "string";
  default:
    return "none";
  }
}

size_t o2o_dtype_size(o2o_dtype t) {
  switch (t) {
  case O2O_DTYPE_F32:
  case O2O_DTYPE_I32:
    return 4;
  case O2O_DTYPE_F64:
  case O2O_DTYPE_I64:
    return 8;
  case O2O_DTYPE_I8:
  case O2O_DTYPE_U8:
  case O2O_DTYPE_BOOL:
  case O2O_DTYPE_STR:
    return 1;
  default:
    return 0;
  }
}

int64_t o2o_dataset_extra_numel(const o2o_dataset_extra *e) {
  if (e->dtype == O2O_DTYPE_STR) return e->data ? (int64_t)strlen(e->data) + 1 : 1;
  int64_t n = 1;
  for (int i = 0; i < e->ndim; i++)
    n *= e->shape[i];
  return n;
}

void o2o_ds_silence_hdf5(void) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static herr_t walk_innermost(unsigned n, const H5E_error2_t *e, void *data) {
  /* Downward walk: API call first, the failing internal function last; keep the last. */
  char *buf = data;
  (void)n;
  if (e->desc) snprintf(buf, 256, "%s", e->desc);
  return 0;
}

void o2o_ds_h5_message(char *buf, size_t len) {
  char tmp[256] = "";
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_innermost, tmp);
  snprintf(buf, len, "%s", tmp);
}

int o2o_ds_err(char *err, size_t errlen, int code, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return code;
}

o2o_dtype o2o_ds_classify(hid_t type) {
  H5T_class_t cls = H5Tget_class(type);
  size_t size = H5Tget_size(type);
  if (cls == H5T_FLOAT)
    return size == 4 ? O2O_DTYPE_F32 : size == 8 ? O2O_DTYPE_F64 : O2O_DTYPE_NONE;
  if (cls == H5T_STRING) return O2O_DTYPE_STR;
  if (cls == H5T_ENUM) {
    /* numpy bool from h5py: int8 enum with exactly FALSE=0 and TRUE=1. */
    int nmemb = H5Tget_nmembers(type);
    if (size == 1 && nmemb == 2) {
      char *n0 = H5Tget_member_name(type, 0), *n1 = H5Tget_member_name(type, 1);
      int ok = n0 && n1 && !strcmp(n0, "FALSE") && !strcmp(n1, "TRUE");
      H5free_memory(n0);
      H5free_memory(n1);
      if (ok) return O2O_DTYPE_BOOL;
    }
    hid_t base = H5Tget_super(type);
    o2o_dtype t = o2o_ds_classify(base);
    H5Tclose(base);
    return t;
  }
  if (cls == H5T_INTEGER) {
    int is_signed = H5Tget_sign(type) == H5T_SGN_2;
    if (size == 1) return is_signed ? O2O_DTYPE_I8 : O2O_DTYPE_U8;
    if (size <= 4 && (is_signed || size < 4)) return O2O_DTYPE_I32;
    return O2O_DTYPE_I64; /* uint32/int64/uint64: values kept as int64 */
  }
  return O2O_DTYPE_NONE;
}

hid_t o2o_ds_bool_type(void) {
  hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
  int8_t v = 0;
  H5Tenum_insert(t, "FALSE", &v);
  v = 1;
  H5Tenum_insert(t, "TRUE", &v);
  return t;
}

hid_t o2o_ds_mem_type(o2o_dtype t) {
  switch (t) {
  case O2O_DTYPE_F32:
    return H5T_NATIVE_FLOAT;
  case O2O_DTYPE_F64:
    return H5T_NATIVE_DOUBLE;
  case O2O_DTYPE_I8:
    return H5T_NATIVE_INT8;
  case O2O_DTYPE_U8:
    return H5T_NATIVE_UINT8;
  case O2O_DTYPE_I32:
    return H5T_NATIVE_INT32;
  case O2O_DTYPE_I64:
    return H5T_NATIVE_INT64;
  case O2O_DTYPE_BOOL:
    return o2o_ds_bool_type();
  default:
    return H5I_INVALID_HID;
  }
}

void o2o_ds_close_type(o2o_dtype t, hid_t h) {
  if (t == O2O_DTYPE_BOOL && h >= 0) H5Tclose(h);
}

/* NaN/inf = all exponent bits set. An integer test on the bits (through a may_alias type)
 * vectorises, so the common all-finite case runs at memory speed. */
typedef uint32_t __attribute__((may_alias)) o2o_u32_alias;

#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("O3")))
#endif
static uint32_t
any_nonfinite(const o2o_u32_alias *w, int64_t n) {
  uint32_t bad = 0;
  for (int64_t i = 0; i < n; i++)
    bad |= (uint32_t)((w[i] & 0x7f800000u) == 0x7f800000u);
  return bad;
}

int64_t o2o_ds_first_nonfinite(const float *v, int64_t count) {
  const int64_t block = 16384;
  const o2o_u32_alias *w = (const o2o_u32_alias *)(const void *)v;
  for (int64_t b = 0; b < count; b += block) {
    int64_t e = b + block < count ? b + block : count;
    if (any_nonfinite(w + b, e - b))
      for (int64_t i = b; i < e; i++)
        if (!isfinite(v[i])) return i;
  }
  return -1;
}

static void extra_init(o2o_dataset_extra *e, const char *key, o2o_dtype t, size_t bytes) {
  memset(e, 0, sizeof(*e));
  snprintf(e->key, sizeof(e->key), "%s", key);
  e->dtype = t;
  e->data = calloc(1, bytes ? bytes : 1);
}

void o2o_dataset_extra_string(o2o_dataset_extra *e, const char *key, const char *value) {
  extra_init(e, key, O2O_DTYPE_STR, strlen(value) + 1);
  if (e->data) memcpy(e->data, value, strlen(value) + 1);
}

void o2o_dataset_extra_int(o2o_dataset_extra *e, const char *key, int64_t value) {
  extra_init(e, key, O2O_DTYPE_I64, 8);
  if (e->data) memcpy(e->data, &value, 8);
}

void o2o_dataset_extra_double(o2o_dataset_extra *e, const char *key, double value) {
  extra_init(e, key, O2O_DTYPE_F64, 8);
  if (e->data) memcpy(e->data, &value, 8);
}

int o2o_dataset_extra_floats(o2o_dataset_extra *e, const char *key, const float *v, int64_t rows,
                             int cols) {
  int64_t numel = rows * (cols > 0 ? cols : 1);
  extra_init(e, key, O2O_DTYPE_F32, (size_t)numel * 4);
  if (!e->data) return O2O_DATASET_ENOMEM;
  e->ndim = cols > 0 ? 2 : 1;
  e->shape[0] = rows;
  e->shape[1] = cols;
  memcpy(e->data, v, (size_t)numel * 4);
  return 0;
}

void o2o_dataset_extras_free(o2o_dataset_extra *extras, int num_extras) {
  if (!extras) return;
  for (int i = 0; i < num_extras; i++)
    free(extras[i].data);
  free(extras);
}

int o2o_dataset_ref_scores(const char *task, double *ref_min, double *ref_max) {
  /* D4RL d4rl/infos.py: same constants for every dataset kind and version of a task. */
  static const struct {
    const char *task;
    double lo, hi;
  } refs[] = {{"hopper", -20.272305, 3234.3},
              {"halfcheetah", -280.178953, 12135.0},
              {"walker2d", 1.629008, 4592.3},
              {"ant", -325.6, 3879.7}};
  if (!task) return 0;
  for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++)
    if (!strcmp(task, refs[i].task)) {
      *ref_min = refs[i].lo;
      *ref_max = refs[i].hi;
      return 1;
    }
  return 0;
}

int o2o_ds_read_flags(hid_t dset, o2o_dtype t, int64_t n, uint8_t *out, const char *path,
                      const char *key, char *err, size_t errlen) {
  int is_float = t == O2O_DTYPE_F32 || t == O2O_DTYPE_F64;
  size_t esize = t == O2O_DTYPE_BOOL ? 1 : 8;
  void *tmp = malloc((size_t)(n ? n : 1) * esize);
  if (!tmp) return o2o_ds_err(err, errlen, O2O_DATASET_ENOMEM, "%s: out of memory", path);
  hid_t mt = t == O2O_DTYPE_BOOL ? o2o_ds_bool_type()
             : is_float          ? H5T_NATIVE_DOUBLE
                                 : H5T_NATIVE_INT64;
  herr_t rc = H5Dread(dset, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp);
  if (t == O2O_DTYPE_BOOL) H5Tclose(mt);
  if (rc < 0) {
    char h5[256];
    o2o_ds_h5_message(h5, sizeof(h5));
    free(tmp);
    return o2o_ds_err(err, errlen, O2O_DATASET_EIO, "%s: key '%s': read failed (%s)", path, key,
                      h5);
  }
  for (int64_t i = 0; i < n; i++) {
    double v = t == O2O_DTYPE_BOOL ? (double)((int8_t *)tmp)[i]
               : is_float          ? ((double *)tmp)[i]
                                   : (double)((int64_t *)tmp)[i];
    if (v != 0.0 && v != 1.0) {
      free(tmp);
      return o2o_ds_err(err, errlen, O2O_DATASET_EVALUE,
                        "%s: key '%s': row %lld holds %g (flags must be 0 or 1)", path, key,
                        (long long)i, v);
    }
    out[i] = v != 0.0;
  }
  free(tmp);
  return 0;
}

static int is_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int o2o_dataset_find(const char *name, char *out, size_t outlen, char *err, size_t errlen) {
  if (!name || !name[0]) return o2o_ds_err(err, errlen, O2O_DATASET_EINVAL, "empty dataset name");
  if (is_file(name)) {
    snprintf(out, outlen, "%s", name);
    return 0;
  }
  char dirs[4096] = "";
  const char *env = getenv("O2O_DATASET_PATH");
  snprintf(dirs, sizeof(dirs), "%s%s%s:%s/cache", env ? env : "", env ? ":" : "", O2O_DATASET_DIR,
           O2O_DATASET_DIR);
  char tried[2048] = "";
  size_t used = 0;
  for (char *save = NULL, *dir = strtok_r(dirs, ":", &save); dir;
       dir = strtok_r(NULL, ":", &save)) {
    if (!dir[0] || strchr(name, '/')) continue; /* paths are taken as given */
    for (int ext = 0; ext < 2; ext++) {
      char cand[4096];
      snprintf(cand, sizeof(cand), "%s/%s%s", dir, name, ext ? ".hdf5" : "");
      if (is_file(cand)) {
        snprintf(out, outlen, "%s", cand);
        return 0;
      }
      if (used + 2 < sizeof(tried))
        used +=
            (size_t)snprintf(tried + used, sizeof(tried) - used, "%s%s", used ? ", " : "", cand);
    }
  }
  return o2o_ds_err(err, errlen, O2O_DATASET_EIO, "%s: no such dataset file (tried %s)", name,
                    used ? tried : name);
}

int o2o_ds_threads(void) {
  const char *env = getenv("O2O_DATASET_THREADS");
  if (env) {
    long n = atol(env);
    return n < 1 ? 1 : n > 8 ? 8 : (int)n;
  }
  /* One thread per idle core: on a machine already busy, extra threads only wait for each
   * other at every batch of chunks (measured: slower than one thread at load 6 on 2 cores). */
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  double load = 0;
  if (getloadavg(&load, 1) != 1) load = 0;
  long idle = cpus - (long)(load + 0.5);
  long n = idle < 1 ? 1 : idle;
  return n > 8 ? 8 : (int)n;
}
