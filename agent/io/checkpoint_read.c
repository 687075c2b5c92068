/* checkpoint_read.c: the strict safetensors reader (see checkpoint.h): a parser for the JSON
 * subset safetensors headers use, layout validation, and all-or-nothing loading. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/checkpoint.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint_read.c reads little-endian floats as host floats: add byte swapping"
#endif

/* safetensors' own limit on the JSON header (100 MB) */
#define CKPT_MAX_HEADER 100000000ULL
#define CKPT_NAMELEN ((int)sizeof(((o2o_tensor_ref *)0)->name))

/* ---- reading: a strict parser for the safetensors JSON subset ----------------------- */
typedef struct {
  char name[96];
  int ndim;
  int64_t shape[4];
  uint64_t begin, end;
} ckpt_entry;

struct o2o_ckpt {
  char path[512];
  o2o_ckpt_meta meta;
  int count;
  ckpt_entry *entries;
  float *data; /* the data area, 16-byte aligned copy */
  uint64_t data_len;
};

typedef struct {
  const char *s;
  size_t n, pos;
  const char *path;
  char *err;
  size_t errlen;
} jparser;

static int jfail(jparser *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int jfail(jparser *j, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  o2o_agent_errf(j->err, j->errlen, "checkpoint %s: header JSON at byte %zu: %s", j->path, j->pos,
                 msg);
  return -1;
}

static void jws(jparser *j) {
  while (j->pos < j->n && (j->s[j->pos] == ' ' || j->s[j->pos] == '\t' || j->s[j->pos] == '\n' ||
                           j->s[j->pos] == '\r'))
    j->pos++;
}

static int jexpect(jparser *j, char c) {
  jws(j);
  if (j->pos >= j->n) return jfail(j, "expected '%c', found end of header", c);
  if (j->s[j->pos] != c) return jfail(j, "expected '%c', found '%c'", c, j->s[j->pos]);
  j->pos++;
  return 0;
}

/* Peek the next non-space char (0 at the end). */
static char jpeek(jparser *j) {
  jws(j);
  return j->pos < j->n ? j->s[j->pos] : 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* A JSON string into out[cap] (UTF-8; \u escapes of the BMP, no surrogates). */
static int jstring(jparser *j, char *out, size_t cap, const char *what) {
  if (jexpect(j, '"')) return -1;
  size_t k = 0;
  for (;;) {
    if (j->pos >= j->n) return jfail(j, "unterminated string");
    unsigned char c = (unsigned char)j->s[j->pos++];
    if (c == '"') break;
    if (c < 0x20) return jfail(j, "control character 0x%02x in a string", c);
    char buf[4];
    size_t blen = 1;
    buf[0] = (char)c;
    if (c == '\\') {
      if (j->pos >= j->n) return jfail(j, "unterminated escape");
      char e = j->s[j->pos++];
      switch (e) {
      case '"':
        buf[0] = '"';
        break;
      case '\\':
        buf[0] = '\\';
        break;
      case '/':
        buf[0] = '/';
        break;
      case 'b':
        buf[0] = '\b';
        break;
      case 'f':
        buf[0] = '\f';
        break;
      case 'n':
        buf[0] = '\n';
        break;
      case 'r':
        buf[0] = '\r';
        break;
      case 't':
        buf[0] = '\t';
        break;
      case 'u': {
        unsigned cp = 0;
        for (int i = 0; i < 4; i++) {
          int h = j->pos < j->n ? hexval(j->s[j->pos]) : -1;
          if (h < 0) return jfail(j, "bad \\u escape");
          cp = cp * 16 + (unsigned)h;
          j->pos++;
        }
        if (cp == 0) return jfail(j, "\\u0000 in a string");
        if (cp >= 0xD800 && cp <= 0xDFFF) return jfail(j, "surrogate \\u escapes unsupported");
        if (cp < 0x80) {
          buf[0] = (char)cp;
        } else if (cp < 0x800) {
          buf[0] = (char)(0xC0 | (cp >> 6));
          buf[1] = (char)(0x80 | (cp & 0x3F));
          blen = 2;
        } else {
          buf[0] = (char)(0xE0 | (cp >> 12));
          buf[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
          buf[2] = (char)(0x80 | (cp & 0x3F));
          blen = 3;
        }
        break;
      }
      default:
        return jfail(j, "unknown escape '\\%c'", e);
      }
    }
    if (k + blen >= cap) return jfail(j, "%s longer than %zu bytes", what, cap - 1);
    memcpy(out + k, buf, blen);
    k += blen;
  }
  out[k] = 0;
  return 0;
}

static int juint(jparser *j, uint64_t *out, const char *what) {
  jws(j);
  size_t start = j->pos;
  uint64_t v = 0;
  while (j->pos < j->n && j->s[j->pos] >= '0' && j->s[j->pos] <= '9') {
    unsigned d = (unsigned)(j->s[j->pos] - '0');
    if (v > (UINT64_MAX - d) / 10) return jfail(j, "%s overflows 64 bits", what);
    v = v * 10 + d;
    j->pos++;
  }
  if (j->pos == start) return jfail(j, "%s: expected a non-negative integer", what);
  if (j->pos - start > 1 && j->s[start] == '0') return jfail(j, "%s: leading zero", what);
  if (j->pos < j->n && (j->s[j->pos] == '.' || j->s[j->pos] == 'e' || j->s[j->pos] == 'E'))
    return jfail(j, "%s: expected an integer", what);
  *out = v;
  return 0;
}

/* [u, u, ...] with at most max items */
static int juint_array(jparser *j, uint64_t *out, int max, int *count, const char *what) {
  if (jexpect(j, '[')) return -1;
  *count = 0;
  if (jpeek(j) == ']') {
    j->pos++;
    return 0;
  }
  for (;;) {
    if (*count >= max) return jfail(j, "%s has more than %d entries", what, max);
    if (juint(j, &out[(*count)++], what)) return -1;
    char c = jpeek(j);
    if (c == ',') {
      j->pos++;
      continue;
    }
    return jexpect(j, ']');
  }
}

static int parse_metadata(jparser *j, o2o_ckpt_meta *m) {
  if (jexpect(j, '{')) return -1;
  if (jpeek(j) == '}') {
    j->pos++;
    return 0;
  }
  for (;;) {
    char key[O2O_CKPT_KEYLEN], val[O2O_CKPT_VALLEN];
    if (jstring(j, key, sizeof(key), "metadata key")) return -1;
    if (jexpect(j, ':')) return -1;
    if (jpeek(j) != '"') return jfail(j, "metadata '%s': values must be strings", key);
    if (jstring(j, val, sizeof(val), "metadata value")) return -1;
    if (o2o_ckpt_meta_get(m, key)) return jfail(j, "duplicate metadata key '%s'", key);
    if (o2o_ckpt_meta_set(m, key, val))
      return jfail(j, "more than %d metadata entries", O2O_CKPT_MAX_META);
    char c = jpeek(j);
    if (c == ',') {
      j->pos++;
      continue;
    }
    return jexpect(j, '}');
  }
}

static int parse_entry(jparser *j, ckpt_entry *e) {
  int have_dtype = 0, have_shape = 0, have_off = 0;
  if (jexpect(j, '{')) return -1;
  for (;;) {
    char key[32];
    if (jstring(j, key, sizeof(key), "tensor field name")) return -1;
    if (jexpect(j, ':')) return -1;
    if (!strcmp(key, "dtype")) {
      char dt[16];
      if (have_dtype++) return jfail(j, "tensor '%s': duplicate dtype", e->name);
      if (jstring(j, dt, sizeof(dt), "dtype")) return -1;
      if (strcmp(dt, "F32"))
        return jfail(j, "tensor '%s': dtype %s unsupported (o2o stores F32 only)", e->name, dt);
    } else if (!strcmp(key, "shape")) {
      uint64_t dims[4];
      if (have_shape++) return jfail(j, "tensor '%s': duplicate shape", e->name);
      if (juint_array(j, dims, 4, &e->ndim, "shape")) return -1;
      for (int d = 0; d < e->ndim; d++) {
        if (dims[d] > (1ULL << 40)) return jfail(j, "tensor '%s': dimension too large", e->name);
        e->shape[d] = (int64_t)dims[d];
      }
    } else if (!strcmp(key, "data_offsets")) {
      uint64_t off[2];
      int n;
      if (have_off++) return jfail(j, "tensor '%s': duplicate data_offsets", e->name);
      if (juint_array(j, off, 2, &n, "data_offsets")) return -1;
      if (n != 2) return jfail(j, "tensor '%s': data_offsets needs 2 entries", e->name);
      e->begin = off[0];
      e->end = off[1];
    } else {
      return jfail(j, "tensor '%s': unknown field '%s'", e->name, key);
    }
    char c = jpeek(j);
    if (c == ',') {
      j->pos++;
      continue;
    }
    if (jexpect(j, '}')) return -1;
    break;
  }
  if (!have_dtype || !have_shape || !have_off)
    return jfail(j, "tensor '%s': missing %s", e->name,
                 !have_dtype   ? "dtype"
                 : !have_shape ? "shape"
                               : "data_offsets");
  return 0;
}

static int parse_header(jparser *j, o2o_ckpt *c) {
  int cap = 0;
  if (jexpect(j, '{')) return -1;
  if (jpeek(j) != '}') {
    for (;;) {
      char key[CKPT_NAMELEN];
      if (jstring(j, key, sizeof(key), "tensor name")) return -1;
      if (jexpect(j, ':')) return -1;
      if (!strcmp(key, "__metadata__")) {
        if (c->meta.count) return jfail(j, "duplicate __metadata__");
        if (parse_metadata(j, &c->meta)) return -1;
      } else {
        for (int i = 0; i < c->count; i++)
          if (!strcmp(c->entries[i].name, key)) return jfail(j, "duplicate tensor '%s'", key);
        if (c->count == cap) {
          cap = cap ? cap * 2 : 64;
          ckpt_entry *p = realloc(c->entries, (size_t)cap * sizeof(*p));
          if (!p) return jfail(j, "out of memory");
          c->entries = p;
        }
        ckpt_entry *e = &c->entries[c->count++];
        memset(e, 0, sizeof(*e));
        strcpy(e->name, key);
        if (parse_entry(j, e)) return -1;
      }
      char ch = jpeek(j);
      if (ch == ',') {
        j->pos++;
        continue;
      }
      if (jexpect(j, '}')) return -1;
      break;
    }
  } else {
    j->pos++;
  }
  jws(j);
  if (j->pos != j->n) return jfail(j, "unexpected data after the JSON object");
  return 0;
}

static int cmp_begin(const void *a, const void *b) {
  const ckpt_entry *x = *(const ckpt_entry *const *)a, *y = *(const ckpt_entry *const *)b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

static int validate_layout(o2o_ckpt *c, char *err, size_t errlen) {
  for (int i = 0; i < c->count; i++) {
    ckpt_entry *e = &c->entries[i];
    uint64_t numel = 1;
    int too_big = 0; /* dims up to 2^40 each: the product (and its bytes) can wrap to a match */
    for (int d = 0; d < e->ndim; d++)
      too_big |= __builtin_mul_overflow(numel, (uint64_t)e->shape[d], &numel);
    too_big |= numel > UINT64_MAX / sizeof(float);
    if (too_big) {
      o2o_agent_errf(err, errlen, "checkpoint %s: tensor '%s': shape holds more than 2^62 floats",
                     c->path, e->name);
      return -1;
    }
    if (e->end < e->begin || e->end - e->begin != numel * sizeof(float)) {
      o2o_agent_errf(err, errlen,
                     "checkpoint %s: tensor '%s': data_offsets [%llu, %llu] do not match its shape "
                     "(%llu floats = %llu bytes)",
                     c->path, e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
                     (unsigned long long)numel, (unsigned long long)(numel * sizeof(float)));
      return -1;
    }
    if (e->end > c->data_len) {
      o2o_agent_errf(err, errlen,
                     "checkpoint %s: tensor '%s': data_offsets end %llu beyond the %llu data bytes "
                     "(truncated file?)",
                     c->path, e->name, (unsigned long long)e->end, (unsigned long long)c->data_len);
      return -1;
    }
    if (e->begin % sizeof(float)) {
      o2o_agent_errf(err, errlen, "checkpoint %s: tensor '%s': offset %llu not a multiple of 4",
                     c->path, e->name, (unsigned long long)e->begin);
      return -1;
    }
  }
  /* Sorted by offset, tensors must tile the data area exactly: no overlap, no holes. */
  size_t norder = c->count > 0 ? (size_t)c->count : 1;
  ckpt_entry **order = malloc(norder * sizeof(*order));
  if (!order) {
    o2o_agent_errf(err, errlen, "checkpoint %s: out of memory", c->path);
    return -1;
  }
  for (int i = 0; i < c->count; i++)
    order[i] = &c->entries[i];
  qsort(order, (size_t)c->count, sizeof(*order), cmp_begin);
  uint64_t at = 0;
  int rc = 0;
  for (int i = 0; i < c->count && !rc; i++) {
    if (order[i]->begin < at) {
      o2o_agent_errf(err, errlen, "checkpoint %s: tensor '%s' overlaps tensor '%s'", c->path,
                     order[i]->name, order[i - 1]->name);
      rc = -1;
    } else if (order[i]->begin > at) {
      o2o_agent_errf(err, errlen, "checkpoint %s: hole of %llu bytes before tensor '%s'", c->path,
                     (unsigned long long)(order[i]->begin - at), order[i]->name);
      rc = -1;
    }
    at = order[i]->end;
  }
  if (!rc && at != c->data_len) {
    o2o_agent_errf(err, errlen, "checkpoint %s: %llu data bytes after the last tensor", c->path,
                   (unsigned long long)(c->data_len - at));
    rc = -1;
  }
  free(order);
  return rc;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one. */
static int utf8_len(const unsigned char *s) {
  if (s[0] < 0x80) return 1;
  int n = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 && s[0] < 0xE0 ? 2 : 0;
  for (int i = 1; i < n; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  if (n == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))) return 0;
  if (n == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))) return 0;
  return n;
}

/* Error texts quote header bytes (names, values): show bytes that are not UTF-8 text, and
 * control bytes, as \xNN so a terminal or a JSON consumer gets text. */
void o2o_ckpt_escape_text(char *text, size_t cap) {
  if (!text || !cap) return;
  size_t n = strnlen(text, cap - 1);
  char *copy = malloc(n + 1);
  if (!copy) return;
  memcpy(copy, text, n);
  copy[n] = 0;
  size_t k = 0;
  for (size_t i = 0; i < n && k + 1 < cap;) {
    const unsigned char *u = (const unsigned char *)copy + i;
    int len = utf8_len(u);
    if (len == 1 && u[0] >= 0x20 && u[0] != 0x7F) {
      text[k++] = copy[i++];
    } else if (len > 1 && k + (size_t)len < cap) {
      memcpy(text + k, copy + i, (size_t)len);
      k += (size_t)len;
      i += (size_t)len;
    } else {
      if (k + 4 >= cap) break;
      snprintf(text + k, cap - k, "\\x%02X", u[0]);
      k += 4;
      i++;
    }
  }
  text[k] = 0;
  free(copy);
}

static int read_exact(FILE *f, void *p, size_t n) {
  return fread(p, 1, n, f) == n ? 0 : -1;
}

o2o_ckpt *o2o_ckpt_open(const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    o2o_agent_errf(err, errlen, "checkpoint %s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  o2o_ckpt *c = calloc(1, sizeof(*c));
  char *header = NULL;
  struct stat st;
  if (!c || fstat(fileno(f), &st)) {
    o2o_agent_errf(err, errlen, "checkpoint %s: cannot stat or out of memory", path);
    goto fail;
  }
  snprintf(c->path, sizeof(c->path), "%s", path);
  if (S_ISDIR(st.st_mode)) {
    /* a run folder: name the checkpoint inside it */
    static const char *names[2] = {"final.safetensors", "checkpoint.safetensors"};
    const char *inside = NULL;
    char p[1200];
    for (int i = 0; i < 2 && !inside; i++) {
      snprintf(p, sizeof p, "%s/%s", path, names[i]);
      if (access(p, R_OK) == 0) inside = names[i];
    }
    if (inside)
      o2o_agent_errf(err, errlen,
                     "checkpoint %s is a folder, not a file: pass the file inside it, "
                     "%s/%s",
                     path, path, inside);
    else
      o2o_agent_errf(err, errlen,
                     "checkpoint %s is a folder, not a file (it holds no "
                     "final.safetensors or checkpoint.safetensors)",
                     path);
    goto fail;
  }
  uint64_t fsize = (uint64_t)st.st_size;
  uint8_t len8[8];
  if (fsize < 8 || read_exact(f, len8, 8)) {
    o2o_agent_errf(err, errlen, "checkpoint %s: file of %llu bytes is too short for a header", path,
                   (unsigned long long)fsize);
    goto fail;
  }
  uint64_t hlen = 0;
  for (int i = 0; i < 8; i++)
    hlen |= (uint64_t)len8[i] << (8 * i);
  if (hlen < 2 || hlen > CKPT_MAX_HEADER || hlen > fsize - 8) {
    o2o_agent_errf(err, errlen,
                   "checkpoint %s: header length %llu is impossible for a file of %llu bytes "
                   "(corrupt or not a safetensors file)",
                   path, (unsigned long long)hlen, (unsigned long long)fsize);
    goto fail;
  }
  header = malloc(hlen + 1);
  if (!header || read_exact(f, header, hlen)) {
    o2o_agent_errf(err, errlen, "checkpoint %s: cannot read the %llu-byte header", path,
                   (unsigned long long)hlen);
    goto fail;
  }
  header[hlen] = 0;
  if (memchr(header, 0, hlen)) {
    o2o_agent_errf(err, errlen, "checkpoint %s: NUL byte inside the JSON header", path);
    goto fail;
  }
  jparser j = {header, hlen, 0, path, err, errlen};
  if (parse_header(&j, c)) goto fail;
  c->data_len = fsize - 8 - hlen;
  if (validate_layout(c, err, errlen)) goto fail;
  c->data = malloc(c->data_len ? c->data_len : 1);
  if (!c->data || read_exact(f, c->data, c->data_len)) {
    o2o_agent_errf(err, errlen, "checkpoint %s: cannot read %llu data bytes", path,
                   (unsigned long long)c->data_len);
    goto fail;
  }
  free(header);
  fclose(f);
  return c;
fail:
  o2o_ckpt_escape_text(err, errlen);
  free(header);
  fclose(f);
  o2o_ckpt_close(c);
  return NULL;
}

void o2o_ckpt_close(o2o_ckpt *c) {
  if (!c) return;
  free(c->entries);
  free(c->data);
  free(c);
}

const o2o_ckpt_meta *o2o_ckpt_metadata(const o2o_ckpt *c) {
  return &c->meta;
}
int o2o_ckpt_num_tensors(const o2o_ckpt *c) {
  return c->count;
}

int o2o_ckpt_tensor(const o2o_ckpt *c, int i, o2o_tensor_ref *out) {
  if (i < 0 || i >= c->count) return -1;
  const ckpt_entry *e = &c->entries[i];
  memset(out, 0, sizeof(*out));
  strcpy(out->name, e->name);
  out->ndim = e->ndim;
  for (int d = 0; d < e->ndim; d++)
    out->shape[d] = e->shape[d];
  out->data = (float *)((char *)c->data + e->begin);
  return 0;
}

int o2o_ckpt_find(const o2o_ckpt *c, const char *name, o2o_tensor_ref *out) {
  for (int i = 0; i < c->count; i++)
    if (!strcmp(c->entries[i].name, name)) return o2o_ckpt_tensor(c, i, out);
  return -1;
}

static void shape_str(const int64_t *shape, int ndim, char *out, size_t n) {
  size_t k = (size_t)snprintf(out, n, "[");
  for (int d = 0; d < ndim && k < n; d++)
    k += (size_t)snprintf(out + k, n - k, d ? ", %lld" : "%lld", (long long)shape[d]);
  if (k < n) snprintf(out + k, n - k, "]");
}

int o2o_ckpt_load_into(const o2o_ckpt *c, const o2o_tensor_ref *dst, int n, int strict, char *err,
                       size_t errlen) {
  /* Check everything first; copy only when all of it matches. */
  for (int i = 0; i < n; i++) {
    o2o_tensor_ref src;
    if (o2o_ckpt_find(c, dst[i].name, &src)) {
      o2o_agent_errf(err, errlen, "checkpoint %s: tensor '%s' missing", c->path, dst[i].name);
      return -1;
    }
    int same = src.ndim == dst[i].ndim;
    for (int d = 0; same && d < src.ndim; d++)
      same = src.shape[d] == dst[i].shape[d];
    if (!same) {
      char a[96], b[96];
      shape_str(src.shape, src.ndim, a, sizeof(a));
      shape_str(dst[i].shape, dst[i].ndim, b, sizeof(b));
      o2o_agent_errf(err, errlen, "checkpoint %s: tensor '%s' has shape %s, expected %s", c->path,
                     dst[i].name, a, b);
      return -1;
    }
  }
  if (strict && c->count != n) {
    for (int i = 0; i < c->count; i++) {
      int found = 0;
      for (int k = 0; k < n && !found; k++)
        found = !strcmp(c->entries[i].name, dst[k].name);
      if (!found) {
        o2o_agent_errf(err, errlen,
                       "checkpoint %s: unexpected tensor '%s' (not part of this model)", c->path,
                       c->entries[i].name);
        o2o_ckpt_escape_text(err, errlen);
        return -1;
      }
    }
  }
  for (int i = 0; i < n; i++) {
    o2o_tensor_ref src;
    o2o_ckpt_find(c, dst[i].name, &src);
    memcpy(dst[i].data, src.data, (size_t)o2o_tensor_numel(&src) * sizeof(float));
  }
  return 0;
}
