/* wire.c: header packing, message layout and validation (bridge/PROTOCOL.md). Pure
 * functions over byte buffers: no ZeroMQ, no allocation, safe on any input. */
#include "o2o_wire.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "o2o's wire arrays are raw little-endian: port the array copies for big-endian hosts"
#endif

void o2o_bridge_errf(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static void put_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static void put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get_u16(const uint8_t *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}
static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t get_u64(const uint8_t *p) {
  return (uint64_t)get_u32(p) | ((uint64_t)get_u32(p + 4) << 32);
}

void o2o_wire_header_init(o2o_wire_header *h, int type, uint32_t request_id) {
  memset(h, 0, sizeof *h);
  h->magic = O2O_WIRE_MAGIC;
  h->version = O2O_WIRE_VERSION;
  h->type = (uint16_t)type;
  h->request_id = request_id;
}

void o2o_wire_header_pack(const o2o_wire_header *h, uint8_t out[O2O_WIRE_HEADER_SIZE]) {
  memset(out, 0, O2O_WIRE_HEADER_SIZE);
  put_u32(out + 0, h->magic);
  put_u16(out + 4, h->version);
  put_u16(out + 6, h->type);
  put_u32(out + 8, h->request_id);
  put_u32(out + 12, h->flags);
  put_u32(out + 16, (uint32_t)h->code);
  put_u32(out + 20, (uint32_t)h->num_envs);
  put_u32(out + 24, (uint32_t)h->obs_dim);
  put_u32(out + 28, (uint32_t)h->act_dim);
  put_u32(out + 32, (uint32_t)h->env);
  put_u32(out + 36, (uint32_t)h->width);
  put_u32(out + 40, (uint32_t)h->height);
  put_u32(out + 44, (uint32_t)h->state_dim);
  put_u32(out + 48, (uint32_t)h->num_params);
  put_u32(out + 52, (uint32_t)h->max_episode_steps);
  uint64_t bits;
  memcpy(&bits, &h->dt, 8);
  put_u64(out + 56, bits);
}

void o2o_wire_header_unpack(const uint8_t in[O2O_WIRE_HEADER_SIZE], o2o_wire_header *h) {
  h->magic = get_u32(in + 0);
  h->version = get_u16(in + 4);
  h->type = get_u16(in + 6);
  h->request_id = get_u32(in + 8);
  h->flags = get_u32(in + 12);
  h->code = (int32_t)get_u32(in + 16);
  h->num_envs = (int32_t)get_u32(in + 20);
  h->obs_dim = (int32_t)get_u32(in + 24);
  h->act_dim = (int32_t)get_u32(in + 28);
  h->env = (int32_t)get_u32(in + 32);
  h->width = (int32_t)get_u32(in + 36);
  h->height = (int32_t)get_u32(in + 40);
  h->state_dim = (int32_t)get_u32(in + 44);
  h->num_params = (int32_t)get_u32(in + 48);
  h->max_episode_steps = (int32_t)get_u32(in + 52);
  uint64_t bits = get_u64(in + 56);
  memcpy(&h->dt, &bits, 8);
}

const char *o2o_wire_type_name(int type) {
  static const char *names[] = {"?",         "HELLO",     "RESET",  "STEP", "SET_DYNAMICS",
                                "GET_STATE", "SET_STATE", "RENDER", "CLOSE"};
  if (type == O2O_MSG_ERROR) return "ERROR";
  if (type == O2O_MSG_SPEC) return "SPEC";
  if (type >= 1 && type <= 8) return names[type];
  if (type > O2O_MSG_REPLY && type <= (O2O_MSG_REPLY | 8)) {
    static const char *replies[] = {"?",     "SPEC",         "RESET_OK", "STEP_OK", "DYNAMICS",
                                    "STATE", "SET_STATE_OK", "FRAME",    "CLOSE_OK"};
    return replies[type & 0x7F];
  }
  return "UNKNOWN";
}

const char *o2o_wire_error_name(int code) {
  static const char *names[] = {"OK",       "BAD_HEADER", "VERSION",   "UNKNOWN_TYPE", "BAD_FRAMES",
                                "BAD_SIZE", "BAD_DIMS",   "NONFINITE", "TOO_LARGE",    "BAD_ARG",
                                "SIM",      "RENDER",     "INTERNAL"};
  if (code >= 0 && code < O2O_WIRE_NUM_CODES) return names[code];
  return "UNKNOWN_CODE";
}

long o2o_wire_find_nonfinite_f32(const void *data, size_t n) {
  const uint8_t *p = data;
  for (size_t i = 0; i < n; i++) {
    uint32_t bits;
    memcpy(&bits, p + 4 * i, 4);
    if ((bits & 0x7F800000u) == 0x7F800000u) return (long)i; /* exponent all ones */
  }
  return -1;
}

long o2o_wire_find_nonfinite_f64(const void *data, size_t n) {
  const uint8_t *p = data;
  for (size_t i = 0; i < n; i++) {
    uint64_t bits;
    memcpy(&bits, p + 8 * i, 8);
    if ((bits & 0x7FF0000000000000ull) == 0x7FF0000000000000ull) return (long)i;
  }
  return -1;
}

/* Checks lo <= v <= hi: negative -> EDIMS, too large -> ETOOLARGE. */
static int check_dim(const char *what, int32_t v, int32_t lo, int32_t hi, char *err,
                     size_t errlen) {
  if (v < lo) {
    o2o_bridge_errf(err, errlen, "header field %s = %d: must be >= %d", what, v, lo);
    return -O2O_WIRE_EDIMS;
  }
  if (v > hi) {
    o2o_bridge_errf(err, errlen, "header field %s = %d: larger than the limit %d", what, v, hi);
    return -O2O_WIRE_ETOOLARGE;
  }
  return 0;
}

/* An env index outside [0, O2O_WIRE_MAX_ENVS) is BAD_ARG, like an env outside the server's
 * envs (one code for "no such env" wherever it is found). */
static int check_env(int32_t env, char *err, size_t errlen) {
  if (env < 0 || env >= O2O_WIRE_MAX_ENVS) {
    o2o_bridge_errf(err, errlen, "header field env = %d: outside [0, %d]", env,
                    O2O_WIRE_MAX_ENVS - 1);
    return -O2O_WIRE_EARG;
  }
  return 0;
}

#define CHECK(what, v, lo, hi)                                                                     \
  do {                                                                                             \
    int rc_ = check_dim(what, v, lo, hi, err, errlen);                                             \
    if (rc_) return rc_;                                                                           \
  } while (0)

#define CHECK_ENV(v)                                                                               \
  do {                                                                                             \
    int rc_ = check_env(v, err, errlen);                                                           \
    if (rc_) return rc_;                                                                           \
  } while (0)

int o2o_wire_layout(const o2o_wire_header *h, size_t sizes[O2O_WIRE_MAX_ARRAYS], char *err,
                    size_t errlen) {
  size_t n, o, a;
  switch (h->type) {
  case O2O_MSG_HELLO:
  case O2O_MSG_CLOSE:
  case O2O_MSG_CLOSE | O2O_MSG_REPLY:
    return 0;
  case O2O_MSG_GET_STATE: /* envs [env, env + max(num_envs, 1)) */
  case O2O_MSG_SET_STATE | O2O_MSG_REPLY:
    CHECK_ENV(h->env);
    CHECK("num_envs", h->num_envs, 0, O2O_WIRE_MAX_ENVS);
    return 0;
  case O2O_MSG_RENDER:
    CHECK_ENV(h->env);
    CHECK("width", h->width, 1, O2O_WIRE_MAX_PIXELS);
    CHECK("height", h->height, 1, O2O_WIRE_MAX_PIXELS);
    return 0;
  case O2O_MSG_SPEC:
    CHECK("num_envs", h->num_envs, 1, O2O_WIRE_MAX_ENVS);
    CHECK("obs_dim", h->obs_dim, 1, O2O_BRIDGE_MAX_OBS);
    CHECK("act_dim", h->act_dim, 1, O2O_BRIDGE_MAX_ACT);
    CHECK("state_dim", h->state_dim, 0, O2O_WIRE_MAX_STATE);
    CHECK("num_params", h->num_params, 0, O2O_BRIDGE_MAX_PARAMS);
    sizes[0] = SIZE_MAX;
    sizes[1] = sizes[2] = 4 * (size_t)h->act_dim;
    sizes[3] = O2O_WIRE_NAME_SIZE * (size_t)h->num_params;
    sizes[4] = 8 * (size_t)h->num_params;
    return 5;
  case O2O_MSG_RESET:
    CHECK("num_envs", h->num_envs, 1, O2O_WIRE_MAX_ENVS);
    sizes[0] = (h->flags & O2O_WIRE_FLAG_NO_SEEDS) ? 0 : 8 * (size_t)h->num_envs;
    return 1;
  case O2O_MSG_RESET | O2O_MSG_REPLY:
    CHECK("num_envs", h->num_envs, 1, O2O_WIRE_MAX_ENVS);
    CHECK("obs_dim", h->obs_dim, 1, O2O_BRIDGE_MAX_OBS);
    sizes[0] = 4 * (size_t)h->num_envs * (size_t)h->obs_dim;
    return 1;
  case O2O_MSG_STEP: /* envs [env, env + num_envs) */
    CHECK_ENV(h->env);
    CHECK("num_envs", h->num_envs, 1, O2O_WIRE_MAX_ENVS);
    CHECK("act_dim", h->act_dim, 1, O2O_BRIDGE_MAX_ACT);
    sizes[0] = 4 * (size_t)h->num_envs * (size_t)h->act_dim;
    return 1;
  case O2O_MSG_STEP | O2O_MSG_REPLY:
    CHECK_ENV(h->env);
    CHECK("num_envs", h->num_envs, 1, O2O_WIRE_MAX_ENVS);
    CHECK("obs_dim", h->obs_dim, 1, O2O_BRIDGE_MAX_OBS);
    n = (size_t)h->num_envs;
    o = (size_t)h->obs_dim;
    sizes[0] = 4 * n * o; /* obs */
    sizes[1] = 4 * n;     /* reward */
    sizes[2] = n;         /* terminated */
    sizes[3] = n;         /* truncated */
    sizes[4] = 4 * n * o; /* final_obs */
    sizes[5] = 4 * n;     /* episode_step */
    return 6;
  case O2O_MSG_SET_DYNAMICS:
  case O2O_MSG_SET_DYNAMICS | O2O_MSG_REPLY:
    CHECK("num_params", h->num_params, 0, O2O_BRIDGE_MAX_PARAMS);
    a = (size_t)h->num_params;
    sizes[0] = O2O_WIRE_NAME_SIZE * a;
    sizes[1] = 8 * a;
    return 2;
  case O2O_MSG_GET_STATE | O2O_MSG_REPLY:
  case O2O_MSG_SET_STATE: /* num_envs 0: one env (f64[s]), else f64[num_envs][s] */
    CHECK_ENV(h->env);
    CHECK("num_envs", h->num_envs, 0, O2O_WIRE_MAX_ENVS);
    CHECK("state_dim", h->state_dim, 1, O2O_WIRE_MAX_STATE);
    sizes[0] = 8 * (size_t)(h->num_envs ? h->num_envs : 1) * (size_t)h->state_dim;
    return 1;
  case O2O_MSG_RENDER | O2O_MSG_REPLY:
    CHECK_ENV(h->env);
    CHECK("width", h->width, 1, O2O_WIRE_MAX_PIXELS);
    CHECK("height", h->height, 1, O2O_WIRE_MAX_PIXELS);
    sizes[0] = 3 * (size_t)h->width * (size_t)h->height;
    return 1;
  case O2O_MSG_ERROR:
    sizes[0] = SIZE_MAX;
    return 1;
  default:
    o2o_bridge_errf(err, errlen, "unknown message type %u (0x%x)", (unsigned)h->type,
                    (unsigned)h->type);
    return -O2O_WIRE_ETYPE;
  }
}

/* Every name record must hold a non-empty, NUL-terminated name of printable characters. */
static int check_names(const o2o_wire_frame *f, int count, int frame_index, char *err,
                       size_t errlen) {
  const uint8_t *p = f->data;
  for (int i = 0; i < count; i++) {
    const uint8_t *r = p + (size_t)i * O2O_WIRE_NAME_SIZE;
    size_t len = 0;
    while (len < O2O_WIRE_NAME_SIZE && r[len])
      len++;
    if (len == 0 || len == O2O_WIRE_NAME_SIZE) {
      o2o_bridge_errf(err, errlen, "frame %d (parameter names), record %d: %s", frame_index, i,
                      len ? "name not NUL-terminated within 32 bytes" : "empty name");
      return -O2O_WIRE_EARG;
    }
    for (size_t k = 0; k < len; k++) {
      if (r[k] < 0x21 || r[k] > 0x7E) {
        o2o_bridge_errf(err, errlen,
                        "frame %d (parameter names), record %d: byte %zu is not printable "
                        "ASCII",
                        frame_index, i, k);
        return -O2O_WIRE_EARG;
      }
    }
  }
  return 0;
}

/* Flag bits each type defines; any other bit set is refused (a newer peer's flag that this
 * side does not know must not be silently ignored). */
static uint32_t defined_flags(int type) {
  return type == O2O_MSG_RESET ? O2O_WIRE_FLAG_NO_SEEDS : 0u;
}

static int is_request(int type) {
  return type >= O2O_MSG_HELLO && type <= O2O_MSG_CLOSE;
}

static int decode(const o2o_wire_frame *frames, int nframes, o2o_wire_msg *msg, int requests_only,
                  char *err, size_t errlen) {
  memset(msg, 0, sizeof *msg);
  if (nframes < 1 || !frames) {
    o2o_bridge_errf(err, errlen, "empty message: no header frame");
    return -O2O_WIRE_EHEADER;
  }
  const uint8_t *hb = frames[0].data;
  size_t hs = frames[0].size;
  /* The first 8 bytes (magic, version, type) keep their place in every version, so a
   * version mismatch is reported even if the header size changed. */
  if (hs < 8 || get_u32(hb) != O2O_WIRE_MAGIC) {
    o2o_bridge_errf(err, errlen, "frame 0 is not an o2o header (%zu bytes%s)", hs,
                    hs >= 4 ? ", wrong magic" : "");
    return -O2O_WIRE_EHEADER;
  }
  msg->h.magic = O2O_WIRE_MAGIC;
  msg->h.version = get_u16(hb + 4);
  msg->h.type = get_u16(hb + 6);
  if (hs >= 12) msg->h.request_id = get_u32(hb + 8);
  if (msg->h.version != O2O_WIRE_VERSION) {
    o2o_bridge_errf(err, errlen, "protocol version %u not supported (this side speaks %d)",
                    (unsigned)msg->h.version, O2O_WIRE_VERSION);
    return -O2O_WIRE_EVERSION;
  }
  if (hs != O2O_WIRE_HEADER_SIZE) {
    o2o_bridge_errf(err, errlen, "header frame has %zu bytes, expected %d", hs,
                    O2O_WIRE_HEADER_SIZE);
    return -O2O_WIRE_EHEADER;
  }
  o2o_wire_header_unpack(hb, &msg->h);
  if (requests_only && !is_request(msg->h.type)) {
    const char *name = o2o_wire_type_name(msg->h.type);
    if (strcmp(name, "UNKNOWN") != 0)
      o2o_bridge_errf(err, errlen, "%s (type 0x%x) is a reply, not a request", name,
                      (unsigned)msg->h.type);
    else
      o2o_bridge_errf(err, errlen, "unknown message type %u (0x%x)", (unsigned)msg->h.type,
                      (unsigned)msg->h.type);
    return -O2O_WIRE_ETYPE;
  }
  uint32_t extra = msg->h.flags & ~defined_flags(msg->h.type);
  if (extra) {
    o2o_bridge_errf(err, errlen, "header field flags = 0x%x: bits 0x%x are not defined for %s",
                    (unsigned)msg->h.flags, (unsigned)extra, o2o_wire_type_name(msg->h.type));
    return -O2O_WIRE_EHEADER;
  }

  size_t sizes[O2O_WIRE_MAX_ARRAYS];
  int n = o2o_wire_layout(&msg->h, sizes, err, errlen);
  if (n < 0) return n;
  if (nframes != n + 1) {
    o2o_bridge_errf(err, errlen, "%s message has %d frames, expected %d (header + %d arrays)",
                    o2o_wire_type_name(msg->h.type), nframes, n + 1, n);
    return -O2O_WIRE_EFRAMES;
  }
  size_t total = hs;
  for (int i = 0; i < n; i++) {
    size_t got = frames[i + 1].size;
    if (sizes[i] == SIZE_MAX) {
      if (got > O2O_WIRE_MAX_TEXT) {
        o2o_bridge_errf(err, errlen, "frame %d (text) has %zu bytes, limit %d", i + 1, got,
                        O2O_WIRE_MAX_TEXT);
        return -O2O_WIRE_ETOOLARGE;
      }
      if (got && memchr(frames[i + 1].data, 0, got)) {
        o2o_bridge_errf(err, errlen, "frame %d (text) contains a NUL byte", i + 1);
        return -O2O_WIRE_EARG;
      }
    } else if (got != sizes[i]) {
      o2o_bridge_errf(err, errlen, "%s frame %d has %zu bytes, expected %zu from the header",
                      o2o_wire_type_name(msg->h.type), i + 1, got, sizes[i]);
      return -O2O_WIRE_ESIZE;
    }
    if (got && !frames[i + 1].data) {
      o2o_bridge_errf(err, errlen, "frame %d has no data", i + 1);
      return -O2O_WIRE_ESIZE;
    }
    total += got;
    if (total > O2O_WIRE_MAX_MSG) {
      o2o_bridge_errf(err, errlen, "message larger than the limit of %u bytes", O2O_WIRE_MAX_MSG);
      return -O2O_WIRE_ETOOLARGE;
    }
    msg->arrays[i] = frames[i + 1];
  }
  msg->num_arrays = n;

  /* NaN policy: actions and dynamics values must be finite (PROTOCOL.md). */
  long bad;
  switch (msg->h.type) {
  case O2O_MSG_STEP:
    bad = o2o_wire_find_nonfinite_f32(msg->arrays[0].data,
                                      (size_t)msg->h.num_envs * (size_t)msg->h.act_dim);
    if (bad >= 0) {
      o2o_bridge_errf(err, errlen, "action of env %ld, component %ld is NaN or inf",
                      msg->h.env + bad / msg->h.act_dim, bad % msg->h.act_dim);
      return -O2O_WIRE_ENONFINITE;
    }
    break;
  case O2O_MSG_SET_DYNAMICS:
  case O2O_MSG_SET_DYNAMICS | O2O_MSG_REPLY: {
    int rc = check_names(&msg->arrays[0], msg->h.num_params, 1, err, errlen);
    if (rc) return rc;
    bad = o2o_wire_find_nonfinite_f64(msg->arrays[1].data, (size_t)msg->h.num_params);
    if (bad >= 0) {
      o2o_bridge_errf(err, errlen, "dynamics value %ld is NaN or inf", bad);
      return -O2O_WIRE_ENONFINITE;
    }
    break;
  }
  case O2O_MSG_SPEC: {
    int rc = check_names(&msg->arrays[3], msg->h.num_params, 4, err, errlen);
    if (rc) return rc;
    break;
  }
  default:
    break;
  }
  return 0;
}

int o2o_wire_decode(const o2o_wire_frame *frames, int nframes, o2o_wire_msg *msg, char *err,
                    size_t errlen) {
  return decode(frames, nframes, msg, 0, err, errlen);
}

int o2o_wire_decode_request(const o2o_wire_frame *frames, int nframes, o2o_wire_msg *msg, char *err,
                            size_t errlen) {
  return decode(frames, nframes, msg, 1, err, errlen);
}

/* ---- SPEC ---------------------------------------------------------------------------- */

int o2o_wire_spec_encode(const o2o_bridge_spec *spec, uint32_t request_id, o2o_wire_header *h,
                         char *text, o2o_wire_frame arrays[5]) {
  o2o_wire_header_init(h, O2O_MSG_SPEC, request_id);
  h->num_envs = spec->num_envs;
  h->obs_dim = spec->obs_dim;
  h->act_dim = spec->act_dim;
  h->state_dim = spec->state_dim;
  h->num_params = spec->num_params;
  h->max_episode_steps = spec->max_episode_steps;
  h->dt = spec->dt;
  int len = snprintf(text, O2O_WIRE_MAX_TEXT, "scenario=%s\nvariant=%s\ntask=%s\n", spec->scenario,
                     spec->variant, spec->task);
  if (len < 0 || len >= O2O_WIRE_MAX_TEXT) return -O2O_WIRE_EINTERNAL;
  arrays[0] = (o2o_wire_frame){text, (size_t)len};
  arrays[1] = (o2o_wire_frame){spec->act_low, 4 * (size_t)spec->act_dim};
  arrays[2] = (o2o_wire_frame){spec->act_high, 4 * (size_t)spec->act_dim};
  arrays[3] = (o2o_wire_frame){spec->param_names, O2O_WIRE_NAME_SIZE * (size_t)spec->num_params};
  arrays[4] = (o2o_wire_frame){spec->params, 8 * (size_t)spec->num_params};
  return 0;
}

/* Copies value of "key=value\n" line into out (truncation is an error). */
static int text_field(const char *text, size_t len, const char *key, char *out, size_t outlen) {
  size_t klen = strlen(key);
  size_t i = 0;
  while (i < len) {
    size_t end = i;
    while (end < len && text[end] != '\n')
      end++;
    if (end - i > klen && memcmp(text + i, key, klen) == 0 && text[i + klen] == '=') {
      size_t vlen = end - i - klen - 1;
      if (vlen + 1 > outlen) return -1;
      memcpy(out, text + i + klen + 1, vlen);
      out[vlen] = 0;
      return 0;
    }
    i = end + 1;
  }
  return -1;
}

int o2o_wire_spec_decode(const o2o_wire_msg *msg, o2o_bridge_spec *spec, char *err, size_t errlen) {
  if (msg->h.type != O2O_MSG_SPEC) {
    o2o_bridge_errf(err, errlen, "expected SPEC, got %s", o2o_wire_type_name(msg->h.type));
    return -O2O_WIRE_ETYPE;
  }
  memset(spec, 0, sizeof *spec);
  const o2o_wire_header *h = &msg->h;
  spec->num_envs = h->num_envs;
  spec->obs_dim = h->obs_dim;
  spec->act_dim = h->act_dim;
  spec->state_dim = h->state_dim;
  spec->num_params = h->num_params;
  spec->max_episode_steps = h->max_episode_steps;
  spec->dt = h->dt;
  const char *text = msg->arrays[0].data;
  size_t tlen = msg->arrays[0].size;
  if (text_field(text, tlen, "scenario", spec->scenario, sizeof spec->scenario) ||
      text_field(text, tlen, "variant", spec->variant, sizeof spec->variant) ||
      text_field(text, tlen, "task", spec->task, sizeof spec->task)) {
    o2o_bridge_errf(err, errlen,
                    "SPEC text frame lacks scenario=, variant= or task= (or one is too "
                    "long)");
    return -O2O_WIRE_EARG;
  }
  if (!(h->dt > 0 && h->dt < 1e6) || h->max_episode_steps < 1) {
    o2o_bridge_errf(err, errlen, "SPEC has dt = %g and max_episode_steps = %d", h->dt,
                    h->max_episode_steps);
    return -O2O_WIRE_EDIMS;
  }
  memcpy(spec->act_low, msg->arrays[1].data, msg->arrays[1].size); /* act_dim >= 1 */
  memcpy(spec->act_high, msg->arrays[2].data, msg->arrays[2].size);
  for (int i = 0; i < h->num_params; i++)
    memcpy(spec->param_names[i], (const uint8_t *)msg->arrays[3].data + i * O2O_WIRE_NAME_SIZE,
           O2O_WIRE_NAME_SIZE);
  if (h->num_params) memcpy(spec->params, msg->arrays[4].data, msg->arrays[4].size);
  return 0;
}
