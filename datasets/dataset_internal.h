/* dataset_internal.h: helpers shared by the datasets/ sources (not part of the API). */
#pragma once
#include <hdf5.h>
#include <stdarg.h>

#include "o2o_dataset.h"

/* Turn HDF5's automatic error printing off for this thread (it would spam stderr). */
void o2o_ds_silence_hdf5(void);
/* Innermost HDF5 error description of this thread's stack ("" if none). */
void o2o_ds_h5_message(char *buf, size_t len);
/* snprintf into err (NULL-safe); returns code so callers can `return o2o_ds_err(...)`. */
int o2o_ds_err(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The o2o_dtype of an HDF5 type (O2O_DTYPE_NONE if unsupported, e.g. compound). */
o2o_dtype o2o_ds_classify(hid_t type);
/* Native in-memory HDF5 type for a numeric dtype (BOOL: a fresh enum; caller closes
 * with o2o_ds_close_type). */
hid_t o2o_ds_mem_type(o2o_dtype t);
void o2o_ds_close_type(o2o_dtype t, hid_t h);
/* int8 enum {FALSE=0, TRUE=1}: what h5py writes for numpy bool (caller H5Tclose). */
hid_t o2o_ds_bool_type(void);
/* First non-finite value of a [rows][cols] float array: returns its index or -1. */
int64_t o2o_ds_first_nonfinite(const float *v, int64_t count);
/* Parallel inflate of rows [row0, row0 + rows) of a gzip(+shuffle) chunked float32/float64
 * dataset with `cols` elements per row into out (float32). *handled = 0 when the layout is
 * not one it decodes (caller falls back to H5Dread). Returns 0, or -1 with msg. */
int o2o_ds_fast_read(hid_t dset, int64_t row0, int64_t rows, int cols, float *out, int *handled,
                     char *msg, size_t msglen);
/* Write a created chunked (shuffle? + deflate) dataset of rows x cols floats, stored as es-byte
 * IEEE LE floats, compressing chunk_rows-row chunks in worker threads (H5Dwrite_chunk).
 * Returns 0, or -1 with msg. */
int o2o_ds_fast_write(hid_t dset, const float *src, int64_t rows, int cols, int64_t chunk_rows,
                      int es, int shuffle, int level, char *msg, size_t msglen);
/* A flag array of n rows (bool enum, any integer, or 0/1 floats) as 0/1 bytes; any other
 * value is an error naming path, key and row. */
int o2o_ds_read_flags(hid_t dset, o2o_dtype t, int64_t n, uint8_t *out, const char *path,
                      const char *key, char *err, size_t errlen);

/* ---- the open dataset (dataset_open.c opens, dataset_read.c reads) ---------------------- */
enum { K_OBS, K_ACT, K_REW, K_NEXT, K_TERM, K_TIME, K_CORE };
extern const char *const o2o_ds_core_keys[K_CORE]; /* "observations", ... "timeouts" */

struct o2o_dataset {
  hid_t file;
  hid_t dset[K_CORE]; /* -1 when absent */
  int rank[K_CORE];
  o2o_dataset_info info;
  uint8_t *terminals, *timeouts; /* [rows], timeouts inferred when absent */
  int64_t *rows_of;              /* [transitions] file row of each transition, or NULL */
  int no_fast_read;              /* O2O_DATASET_FAST_READ=0: always H5Dread */
  int keys_overflow;             /* more datasets than info.keys holds */
};

/* Append a line to info->warnings (fmt takes a string and a long long). */
void o2o_ds_warn(o2o_dataset_info *info, const char *fmt, const char *a, int64_t x);
/* A scalar string dataset (fixed or variable length) into out; 1 on success. */
int o2o_ds_read_string(hid_t d, char *out, size_t len);
/* The same, any length, malloc'ed (NULL if not a scalar string or unreadable). */
char *o2o_ds_read_string_alloc(hid_t d);
/* Worker threads for chunk (de)compression: $O2O_DATASET_THREADS, else the idle cores
 * (online CPUs minus the 1-minute load average), 1..8. */
int o2o_ds_threads(void);
