/* checkpoint.c: safetensors metadata and atomic writer (see checkpoint.h); the reader is
 * checkpoint_read.c. */
#include "io/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint.c writes host floats as little-endian: add byte swapping for this host"
#endif

/* ---- metadata ---------------------------------------------------------------------- */
void o2o_ckpt_meta_init(o2o_ckpt_meta *m) {
  memset(m, 0, sizeof(*m));
}

int o2o_ckpt_meta_set(o2o_ckpt_meta *m, const char *key, const char *value) {
  if (strlen(key) >= O2O_CKPT_KEYLEN || strlen(value) >= O2O_CKPT_VALLEN) return -1;
  for (int i = 0; i < m->count; i++)
    if (!strcmp(m->keys[i], key)) {
      strcpy(m->values[i], value);
      return 0;
    }
  if (m->count >= O2O_CKPT_MAX_META) return -1;
  strcpy(m->keys[m->count], key);
  strcpy(m->values[m->count], value);
  m->count++;
  return 0;
}

int o2o_ckpt_meta_setf(o2o_ckpt_meta *m, const char *key, const char *fmt, ...) {
  char v[O2O_CKPT_VALLEN];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(v, sizeof(v), fmt, ap);
  va_end(ap);
  if (n < 0 || n >= (int)sizeof(v)) return -1;
  return o2o_ckpt_meta_set(m, key, v);
}

const char *o2o_ckpt_meta_get(const o2o_ckpt_meta *m, const char *key) {
  for (int i = 0; i < m->count; i++)
    if (!strcmp(m->keys[i], key)) return m->values[i];
  return NULL;
}

int64_t o2o_ckpt_meta_int(const o2o_ckpt_meta *m, const char *key) {
  const char *s = o2o_ckpt_meta_get(m, key);
  if (!s || *s < '0' || *s > '9') return -1; /* strtoll would take "+1", " 1" and "-1" */
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  return *end || errno ? -1 : (int64_t)v;
}

int o2o_ckpt_meta_read_ints(const o2o_ckpt_meta *m, const o2o_ckpt_int_key *keys, int n, char *err,
                            size_t errlen) {
  for (int i = 0; i < n; i++) {
    const char *s = o2o_ckpt_meta_get(m, keys[i].key);
    if (!s) continue;
    if (keys[i].size != 4 && keys[i].size != 8) {
      o2o_agent_errf(err, errlen, "metadata '%s': a field of %zu bytes", keys[i].key, keys[i].size);
      return -1;
    }
    const int64_t v = o2o_ckpt_meta_int(m, keys[i].key);
    const int64_t max = keys[i].size == 4 ? INT32_MAX : INT64_MAX;
    if (v < 0 || v > max) {
      o2o_agent_errf(err, errlen, "metadata '%s' is '%s' (a whole number 0..%lld)", keys[i].key, s,
                     (long long)max);
      return -1;
    }
    if (keys[i].size == 4) {
      const int32_t v32 = (int32_t)v;
      memcpy(keys[i].field, &v32, 4);
    } else {
      memcpy(keys[i].field, &v, 8); /* an int64_t or a uint64_t: v >= 0 is the same bits */
    }
  }
  return 0;
}

/* ---- writing ----------------------------------------------------------------------- */
typedef struct {
  char *p;
  size_t len, cap;
  int oom;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

static void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(strbuf *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n > 0) sb_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void sb_json_string(strbuf *b, const char *s) {
  sb_put(b, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      sb_put(b, e, 2);
    } else if (c < 0x20) {
      sb_printf(b, "\\u%04x", c);
    } else {
      sb_put(b, (const char *)&c, 1);
    }
  }
  sb_put(b, "\"", 1);
}

static int write_all(int fd, const void *data, size_t n) {
  const char *p = data;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int o2o_ckpt_save(const char *path, const o2o_tensor_ref *tensors, int num_tensors,
                  const o2o_ckpt_meta *meta, char *err, size_t errlen) {
  strbuf h = {0};
  sb_put(&h, "{", 1);
  int first = 1;
  if (meta && meta->count > 0) {
    sb_put(&h, "\"__metadata__\":{", 16);
    for (int i = 0; i < meta->count; i++) {
      if (i) sb_put(&h, ",", 1);
      sb_json_string(&h, meta->keys[i]);
      sb_put(&h, ":", 1);
      sb_json_string(&h, meta->values[i]);
    }
    sb_put(&h, "}", 1);
    first = 0;
  }
  uint64_t offset = 0;
  for (int i = 0; i < num_tensors; i++) {
    const o2o_tensor_ref *t = &tensors[i];
    if (t->ndim < 0 || t->ndim > 4 || (!t->data && o2o_tensor_numel(t) > 0) || !t->name[0]) {
      o2o_agent_errf(err, errlen, "checkpoint %s: tensor %d ('%s') has no data or a bad rank %d",
                     path, i, t->name, t->ndim);
      free(h.p);
      return -1;
    }
    uint64_t bytes = (uint64_t)o2o_tensor_numel(t) * sizeof(float);
    if (!first) sb_put(&h, ",", 1);
    first = 0;
    sb_json_string(&h, t->name);
    sb_put(&h, ":{\"dtype\":\"F32\",\"shape\":[", 25);
    for (int d = 0; d < t->ndim; d++)
      sb_printf(&h, d ? ",%lld" : "%lld", (long long)t->shape[d]);
    sb_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
              (unsigned long long)(offset + bytes));
    offset += bytes;
  }
  sb_put(&h, "}", 1);
  /* Pad with spaces so the data area starts 8-byte aligned (allowed by the format). */
  while ((h.len + 8) % 8)
    sb_put(&h, " ", 1);
  if (h.oom) {
    free(h.p);
    o2o_agent_errf(err, errlen, "checkpoint %s: out of memory for the header", path);
    return -1;
  }

  /* Temp file in the target's directory so rename() is atomic (same filesystem). */
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 16);
  char *dircopy = strdup(path);
  if (!tmp || !dircopy) {
    free(tmp);
    free(dircopy);
    free(h.p);
    o2o_agent_errf(err, errlen, "checkpoint %s: out of memory", path);
    return -1;
  }
  snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd >= 0) {
    /* mkstemp makes 0600: give the checkpoint the umask's mode, like every other run file */
    mode_t um = umask(0);
    umask(um);
    fchmod(fd, 0666 & ~um);
  }
  if (fd < 0) {
    o2o_agent_errf(err, errlen, "checkpoint %s: cannot create temp file %s: %s", path, tmp,
                   strerror(errno));
    free(tmp);
    free(dircopy);
    free(h.p);
    return -1;
  }
  uint8_t len8[8];
  uint64_t hl = h.len;
  for (int i = 0; i < 8; i++)
    len8[i] = (uint8_t)(hl >> (8 * i));
  int rc = write_all(fd, len8, 8) || write_all(fd, h.p, h.len);
  for (int i = 0; i < num_tensors && !rc; i++)
    rc = write_all(fd, tensors[i].data, (size_t)o2o_tensor_numel(&tensors[i]) * sizeof(float));
  const char *stage = "write";
  if (!rc) {
    stage = "fsync";
    rc = fsync(fd);
  }
  int saved_errno = errno;
  if (close(fd) && !rc) {
    stage = "close";
    rc = -1;
    saved_errno = errno;
  }
  if (!rc) {
    stage = "rename";
    rc = rename(tmp, path);
    saved_errno = errno;
  }
  if (rc) {
    o2o_agent_errf(err, errlen,
                   "checkpoint %s: %s failed: %s (the previous file, if any, is unchanged)", path,
                   stage, strerror(saved_errno));
    unlink(tmp);
  } else {
    /* Make the rename itself durable. */
    int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
      fsync(dfd);
      close(dfd);
    }
  }
  free(tmp);
  free(dircopy);
  free(h.p);
  return rc ? -1 : 0;
}
