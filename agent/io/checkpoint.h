/* checkpoint.h: safetensors checkpoints (https://huggingface.co/docs/safetensors).
 *
 * File layout: u64 little-endian header length N, then N bytes of JSON
 *   {"__metadata__": {"key": "value", ...},
 *    "actor.l0.weight": {"dtype": "F32", "shape": [256, 11], "data_offsets": [0, 11264]}, ...}
 * padded with spaces to a multiple of 8, then the raw little-endian float32 tensors, in
 * the order given, back to back (offsets are relative to the end of the header).
 * Any safetensors reader (Python safetensors, or numpy alone: tests/agent/ckpt_numpy.py)
 * opens these files.
 *
 * Writing is atomic: a temp file in the same directory, fsync, rename over the target,
 * fsync of the directory. A failed write leaves an existing file untouched.
 *
 * Reading (o2o_ckpt_open) reads the whole file and validates it before anything is
 * returned: header length against the file size, strict JSON, dtype F32 only, shapes,
 * offsets in bounds, consistent with the shape, non-overlapping, and covering the data
 * area without holes. o2o_ckpt_load_into copies into live tensors only after every
 * expected tensor was found with the right shape, so a mismatch loads nothing. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "o2o_agent.h"

#ifdef __cplusplus
extern "C" {
#endif

#define O2O_CKPT_MAX_META 64
#define O2O_CKPT_KEYLEN 64
#define O2O_CKPT_VALLEN 256

/* String metadata (safetensors "__metadata__"): algorithm, config values, dims, step... */
typedef struct o2o_ckpt_meta {
  int count;
  char keys[O2O_CKPT_MAX_META][O2O_CKPT_KEYLEN];
  char values[O2O_CKPT_MAX_META][O2O_CKPT_VALLEN];
} o2o_ckpt_meta;

void o2o_ckpt_meta_init(o2o_ckpt_meta *m);
/* Set (add or replace) a key; returns 0, or -1 if full or too long. */
int o2o_ckpt_meta_set(o2o_ckpt_meta *m, const char *key, const char *value);
int o2o_ckpt_meta_setf(o2o_ckpt_meta *m, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *o2o_ckpt_meta_get(const o2o_ckpt_meta *m, const char *key); /* NULL if absent */
/* A key's value as a whole decimal integer >= 0, or -1 if absent or anything else ("12x",
 * "", "-3"): the one reader of step, rows and dims metadata. */
int64_t o2o_ckpt_meta_int(const o2o_ckpt_meta *m, const char *key);
/* Optional integer keys into int / int64_t / uint64_t fields (a resume's run settings): a
 * key an older o2o did not write keeps its field. Returns 0, or -1 at the first key that is
 * not a whole number that fits its field (err names the key and its value). */
typedef struct o2o_ckpt_int_key {
  const char *key;
  void *field;
  size_t size; /* 4 or 8 */
} o2o_ckpt_int_key;
#define O2O_CKPT_INT_KEY(k, f)                                                                     \
  { (k), &(f), sizeof(f) }
int o2o_ckpt_meta_read_ints(const o2o_ckpt_meta *m, const o2o_ckpt_int_key *keys, int n, char *err,
                            size_t errlen);

/* Write tensors + metadata to path atomically. Returns 0, or -1 with err. */
int o2o_ckpt_save(const char *path, const o2o_tensor_ref *tensors, int num_tensors,
                  const o2o_ckpt_meta *meta, char *err, size_t errlen);

/* ---- reading --------------------------------------------------------------------------- */
typedef struct o2o_ckpt o2o_ckpt; /* a validated file in memory */

o2o_ckpt *o2o_ckpt_open(const char *path, char *err, size_t errlen);
void o2o_ckpt_close(o2o_ckpt *c); /* NULL is fine */
const o2o_ckpt_meta *o2o_ckpt_metadata(const o2o_ckpt *c);
int o2o_ckpt_num_tensors(const o2o_ckpt *c);
/* Tensor i (file order) or by name: a view into the file's data (valid until close).
 * Returns 0, or -1 if absent. */
int o2o_ckpt_tensor(const o2o_ckpt *c, int i, o2o_tensor_ref *out);
int o2o_ckpt_find(const o2o_ckpt *c, const char *name, o2o_tensor_ref *out);
/* Copy the file's tensors into dst[0..n) (matched by name). Every dst tensor must be
 * present with the same shape; with `strict`, the file may hold no other tensors.
 * All-or-nothing: on error nothing in dst is changed. */
int o2o_ckpt_load_into(const o2o_ckpt *c, const o2o_tensor_ref *dst, int n, int strict, char *err,
                       size_t errlen);

/* Rewrite text in place (cap bytes) with bytes that are not UTF-8 text, and control bytes,
 * as \xNN: for error texts that quote a file's header. */
void o2o_ckpt_escape_text(char *text, size_t cap);

#ifdef __cplusplus
}
#endif
