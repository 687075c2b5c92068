/* client.c: one DEALER connection to one o2o-sim (o2o_client_* of o2o_bridge.h).
 *
 * Every request carries a fresh request id; replies with another id (answers to requests
 * that timed out earlier) are skipped, so a late reply can never be mistaken for the
 * answer to the current request. */
#include "o2o_bridge.h"
#include "o2o_wire.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

struct o2o_client {
  void *ctx;
  int own_ctx;
  void *sock;
  int timeout_ms;
  char endpoint[256];
  uint32_t next_id;
  uint32_t pending_id;
  int pending_type;           /* 0 = nothing outstanding */
  int64_t rcvtimeo;           /* ZMQ_RCVTIMEO currently set (-1 = ZeroMQ's default, infinite) */
  int step_first, step_count; /* env range of the outstanding STEP */
  o2o_bridge_spec spec;
  o2o_wire_tx *tx;
  o2o_wire_rx rx;
  /* batch arrays handed out by step (valid until the next call) */
  float *obs, *reward, *final_obs;
  uint8_t *terminated, *truncated;
  int32_t *episode_step;
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int send_request(o2o_client *c, o2o_wire_header *h, const o2o_wire_frame *arrays,
                        int narrays, char *err, size_t errlen) {
  if (c->pending_type) {
    o2o_bridge_errf(err, errlen, "%s: a %s request is still waiting for its reply", c->endpoint,
                    o2o_wire_type_name(c->pending_type));
    return O2O_BRIDGE_EINVAL;
  }
  h->request_id = ++c->next_id;
  if (o2o_wire_send(c->sock, c->tx, NULL, 0, h, arrays, narrays) != 0) {
    if (errno == EAGAIN) {
      o2o_bridge_errf(err, errlen, "%s: could not send %s within %d ms", c->endpoint,
                      o2o_wire_type_name(h->type), c->timeout_ms);
      return O2O_BRIDGE_ETIMEOUT;
    }
    o2o_bridge_errf(err, errlen, "%s: sending %s failed: %s", c->endpoint,
                    o2o_wire_type_name(h->type), zmq_strerror(errno));
    return O2O_BRIDGE_EZMQ;
  }
  c->pending_id = h->request_id;
  c->pending_type = h->type;
  return 0;
}

/* Waits for the reply to the outstanding request; msg views stay valid until the next
 * receive. A timeout abandons the request (its late reply will be skipped). */
static int recv_reply_ex(o2o_client *c, int timeout_ms, int abandon, o2o_wire_msg *msg, char *err,
                         size_t errlen) {
  if (!c->pending_type) {
    o2o_bridge_errf(err, errlen, "%s: no request is waiting for a reply", c->endpoint);
    return O2O_BRIDGE_EINVAL;
  }
  int type = c->pending_type;
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left < 0) left = 0;
    /* A blocking receive with a timeout: one call less than zmq_poll + receive. */
    if (left != c->rcvtimeo) {
      int t = (int)left;
      zmq_setsockopt(c->sock, ZMQ_RCVTIMEO, &t, sizeof t);
      c->rcvtimeo = left;
    }
    int rc = o2o_wire_recv(c->sock, &c->rx, 0);
    if (rc != 0 && errno == EINTR) {
      if (left > 0) continue;
      errno = EAGAIN;
    }
    if (rc != 0 && errno != EAGAIN) {
      o2o_bridge_errf(err, errlen, "%s: receive failed: %s", c->endpoint, zmq_strerror(errno));
      return O2O_BRIDGE_EZMQ;
    }
    if (rc != 0) {
      if (abandon) c->pending_type = 0;
      o2o_bridge_errf(err, errlen, "%s: no reply to %s within %d ms (is o2o-sim running?)",
                      c->endpoint, o2o_wire_type_name(type), timeout_ms);
      return O2O_BRIDGE_ETIMEOUT;
    }
    char derr[O2O_BRIDGE_ERRLEN];
    /* Extra frames past the kept ones still make the count wrong (kept > 7 > any type). */
    int drc = o2o_wire_decode(c->rx.frames, c->rx.num_frames, msg, derr, sizeof derr);
    if (drc == 0 || drc == -O2O_WIRE_EVERSION) {
      if (msg->h.request_id != c->pending_id) continue; /* stale reply */
    } else if (msg->h.request_id != c->pending_id) {
      continue; /* unreadable and not ours: skip */
    }
    c->pending_type = 0;
    if (drc == -O2O_WIRE_EVERSION) {
      o2o_bridge_errf(err, errlen, "%s: server speaks protocol version %u, this client speaks %d",
                      c->endpoint, (unsigned)msg->h.version, O2O_WIRE_VERSION);
      return O2O_BRIDGE_EPROTO;
    }
    if (drc) {
      o2o_bridge_errf(err, errlen, "%s: malformed reply to %s: %s", c->endpoint,
                      o2o_wire_type_name(type), derr);
      return O2O_BRIDGE_EPROTO;
    }
    if (msg->h.type == O2O_MSG_ERROR) {
      o2o_bridge_errf(err, errlen, "%s: o2o-sim answered ERROR %s: %.*s", c->endpoint,
                      o2o_wire_error_name(msg->h.code), (int)msg->arrays[0].size,
                      (const char *)msg->arrays[0].data);
      return O2O_BRIDGE_EREMOTE;
    }
    if (msg->h.type != (type | O2O_MSG_REPLY)) {
      o2o_bridge_errf(err, errlen, "%s: reply to %s has type %s", c->endpoint,
                      o2o_wire_type_name(type), o2o_wire_type_name(msg->h.type));
      return O2O_BRIDGE_EPROTO;
    }
    return 0;
  }
}

static int recv_reply(o2o_client *c, int timeout_ms, o2o_wire_msg *msg, char *err, size_t errlen) {
  return recv_reply_ex(c, timeout_ms, 1, msg, err, errlen);
}

static int call(o2o_client *c, o2o_wire_header *h, const o2o_wire_frame *arrays, int narrays,
                o2o_wire_msg *reply, char *err, size_t errlen) {
  int rc = send_request(c, h, arrays, narrays, err, errlen);
  if (rc) return rc;
  return recv_reply(c, c->timeout_ms, reply, err, errlen);
}

o2o_client *o2o_client_connect(const char *endpoint, int timeout_ms, char *err, size_t errlen) {
  o2o_client_options opt = {0};
  opt.timeout_ms = timeout_ms;
  return o2o_client_connect_opts(endpoint, &opt, err, errlen);
}

static int setup_curve(o2o_client *c, const o2o_client_options *opt, char *err, size_t errlen) {
  char server_pub[41], pub[41], sec[41];
  if (o2o_wire_read_key_file(opt->curve_server_key, server_pub, NULL, err, errlen)) return -1;
  if (opt->curve_client_key) {
    if (o2o_wire_read_key_file(opt->curve_client_key, pub, sec, err, errlen)) return -1;
  } else if (zmq_curve_keypair(pub, sec) != 0) {
    o2o_bridge_errf(err, errlen, "zmq_curve_keypair: %s", zmq_strerror(errno));
    return -1;
  }
  if (zmq_setsockopt(c->sock, ZMQ_CURVE_SERVERKEY, server_pub, 40) ||
      zmq_setsockopt(c->sock, ZMQ_CURVE_PUBLICKEY, pub, 40) ||
      zmq_setsockopt(c->sock, ZMQ_CURVE_SECRETKEY, sec, 40)) {
    o2o_bridge_errf(err, errlen, "CURVE options: %s", zmq_strerror(errno));
    return -1;
  }
  return 0;
}

o2o_client *o2o_client_connect_opts(const char *endpoint, const o2o_client_options *opt, char *err,
                                    size_t errlen) {
  if (!endpoint || !*endpoint) {
    o2o_bridge_errf(err, errlen, "o2o_client_connect: no endpoint");
    return NULL;
  }
  o2o_client *c = calloc(1, sizeof *c);
  if (!c || o2o_wire_rx_init(&c->rx) != 0 || !(c->tx = o2o_wire_tx_create())) {
    o2o_bridge_errf(err, errlen, "out of memory");
    o2o_client_destroy(c);
    return NULL;
  }
  snprintf(c->endpoint, sizeof c->endpoint, "%s", endpoint);
  c->rcvtimeo = -1;
  c->timeout_ms = opt && opt->timeout_ms > 0 ? opt->timeout_ms : 5000;
  c->ctx = opt ? opt->zmq_ctx : NULL;
  if (!c->ctx) {
    c->ctx = zmq_ctx_new();
    c->own_ctx = 1;
  }
  if (c->ctx) c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
  if (!c->sock) {
    o2o_bridge_errf(err, errlen, "%s: cannot create a ZeroMQ socket: %s", endpoint,
                    zmq_strerror(errno));
    o2o_client_destroy(c);
    return NULL;
  }
  int zero = 0;
  zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof zero); /* exit never waits for a peer */
  zmq_setsockopt(c->sock, ZMQ_SNDTIMEO, &c->timeout_ms, sizeof c->timeout_ms);
  /* Keys from the environment reach programs (the o2o agent, the pool) that have no key
   * options of their own; they apply to tcp endpoints only. */
  o2o_client_options env_opt = {0};
  if ((!opt || !opt->curve_server_key) && strncmp(endpoint, "tcp://", 6) == 0 &&
      getenv("O2O_CURVE_SERVER_KEY")) {
    env_opt.curve_server_key = getenv("O2O_CURVE_SERVER_KEY");
    env_opt.curve_client_key = getenv("O2O_CURVE_CLIENT_KEY");
    opt = &env_opt;
  }
  if (opt && opt->curve_server_key && setup_curve(c, opt, err, errlen)) {
    o2o_client_destroy(c);
    return NULL;
  }
  if (zmq_connect(c->sock, endpoint) != 0) {
    o2o_bridge_errf(err, errlen, "%s: cannot connect: %s", endpoint, zmq_strerror(errno));
    o2o_client_destroy(c);
    return NULL;
  }
  o2o_wire_header h;
  o2o_wire_header_init(&h, O2O_MSG_HELLO, 0);
  o2o_wire_msg reply;
  int rc = call(c, &h, NULL, 0, &reply, err, errlen);
  if (rc == 0) {
    char derr[O2O_BRIDGE_ERRLEN];
    if (o2o_wire_spec_decode(&reply, &c->spec, derr, sizeof derr) != 0) {
      o2o_bridge_errf(err, errlen, "%s: bad SPEC: %s", endpoint, derr);
      rc = O2O_BRIDGE_EPROTO;
    }
  }
  if (rc == 0) {
    size_t n = (size_t)c->spec.num_envs, o = (size_t)c->spec.obs_dim;
    c->obs = malloc(4 * n * o);
    c->final_obs = malloc(4 * n * o);
    c->reward = malloc(4 * n);
    c->episode_step = malloc(4 * n);
    c->terminated = malloc(n);
    c->truncated = malloc(n);
    if (!c->obs || !c->final_obs || !c->reward || !c->episode_step || !c->terminated ||
        !c->truncated) {
      o2o_bridge_errf(err, errlen, "out of memory for %zu envs", n);
      rc = O2O_BRIDGE_EINVAL;
    }
  }
  if (rc) {
    o2o_client_destroy(c);
    return NULL;
  }
  return c;
}

void o2o_client_destroy(o2o_client *c) {
  if (!c) return;
  if (c->sock) zmq_close(c->sock);
  if (c->own_ctx && c->ctx) zmq_ctx_term(c->ctx);
  o2o_wire_rx_free(&c->rx);
  o2o_wire_tx_destroy(c->tx);
  free(c->obs);
  free(c->final_obs);
  free(c->reward);
  free(c->episode_step);
  free(c->terminated);
  free(c->truncated);
  free(c);
}

const o2o_bridge_spec *o2o_client_spec(const o2o_client *c) {
  return &c->spec;
}
const char *o2o_client_endpoint(const o2o_client *c) {
  return c->endpoint;
}
void o2o_client_set_timeout(o2o_client *c, int timeout_ms) {
  c->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
  zmq_setsockopt(c->sock, ZMQ_SNDTIMEO, &c->timeout_ms, sizeof c->timeout_ms);
}
int o2o_client_pending(const o2o_client *c) {
  return c->pending_type != 0;
}
void *o2o_client_socket(o2o_client *c) {
  return c->sock;
}

/* The reply's dims must be the spec's: a server never changes them. */
static int check_dims(o2o_client *c, const o2o_wire_msg *m, char *err, size_t errlen) {
  if (m->h.num_envs != c->spec.num_envs || m->h.obs_dim != c->spec.obs_dim) {
    o2o_bridge_errf(err, errlen, "%s: reply has %d envs x %d obs, spec says %d x %d", c->endpoint,
                    m->h.num_envs, m->h.obs_dim, c->spec.num_envs, c->spec.obs_dim);
    return O2O_BRIDGE_EPROTO;
  }
  return 0;
}

int o2o_client_reset(o2o_client *c, const uint64_t *seeds, float *obs, char *err, size_t errlen) {
  o2o_wire_header h;
  o2o_wire_header_init(&h, O2O_MSG_RESET, 0);
  h.num_envs = c->spec.num_envs;
  o2o_wire_frame a = {seeds, seeds ? 8 * (size_t)c->spec.num_envs : 0};
  if (!seeds) h.flags |= O2O_WIRE_FLAG_NO_SEEDS;
  o2o_wire_msg m;
  int rc = call(c, &h, &a, 1, &m, err, errlen);
  if (rc) return rc;
  if ((rc = check_dims(c, &m, err, errlen))) return rc;
  if (obs) memcpy(obs, m.arrays[0].data, m.arrays[0].size);
  return 0;
}

int o2o_client_step_send_range(o2o_client *c, int first, int count, const float *actions, char *err,
                               size_t errlen) {
  if (!actions || first < 0 || count < 1 || first > c->spec.num_envs - count) {
    o2o_bridge_errf(err, errlen,
                    "o2o_client_step: env range [%d, %d) outside [0, %d) or no actions", first,
                    first + count, c->spec.num_envs);
    return O2O_BRIDGE_EINVAL;
  }
  /* Checked here too so the caller learns which env is at fault without a round trip. */
  size_t values = (size_t)count * (size_t)c->spec.act_dim;
  long bad = o2o_wire_find_nonfinite_f32(actions, values);
  if (bad >= 0) {
    o2o_bridge_errf(err, errlen, "action of env %ld, component %ld is NaN or inf",
                    first + bad / c->spec.act_dim, bad % c->spec.act_dim);
    return O2O_BRIDGE_EINVAL;
  }
  o2o_wire_header h;
  o2o_wire_header_init(&h, O2O_MSG_STEP, 0);
  h.env = first;
  h.num_envs = count;
  h.act_dim = c->spec.act_dim;
  o2o_wire_frame a = {actions, 4 * values};
  int rc = send_request(c, &h, &a, 1, err, errlen);
  if (rc == 0) {
    c->step_first = first;
    c->step_count = count;
  }
  return rc;
}

int o2o_client_step_send(o2o_client *c, const float *actions, char *err, size_t errlen) {
  return o2o_client_step_send_range(c, 0, c->spec.num_envs, actions, err, errlen);
}

static int step_recv(o2o_client *c, o2o_bridge_batch *out, int timeout_ms, int abandon, char *err,
                     size_t errlen) {
  if (c->pending_type != O2O_MSG_STEP) {
    o2o_bridge_errf(err, errlen, "%s: step_recv without a STEP outstanding", c->endpoint);
    return O2O_BRIDGE_EINVAL;
  }
  o2o_wire_msg m;
  int rc = recv_reply_ex(c, timeout_ms, abandon, &m, err, errlen);
  if (rc) return rc;
  if (m.h.env != c->step_first || m.h.num_envs != c->step_count || m.h.obs_dim != c->spec.obs_dim) {
    o2o_bridge_errf(err, errlen,
                    "%s: STEP reply for envs [%d, %d) x %d obs, asked for [%d, %d) x %d",
                    c->endpoint, m.h.env, m.h.env + m.h.num_envs, m.h.obs_dim, c->step_first,
                    c->step_first + c->step_count, c->spec.obs_dim);
    return O2O_BRIDGE_EPROTO;
  }
  size_t n = (size_t)c->step_count; /* rows 0..n of the client's arrays */
  memcpy(c->obs, m.arrays[0].data, m.arrays[0].size);
  memcpy(c->reward, m.arrays[1].data, m.arrays[1].size);
  memcpy(c->terminated, m.arrays[2].data, n);
  memcpy(c->truncated, m.arrays[3].data, n);
  memcpy(c->final_obs, m.arrays[4].data, m.arrays[4].size);
  memcpy(c->episode_step, m.arrays[5].data, m.arrays[5].size);
  if (out) {
    out->num_envs = (int)n;
    out->obs = c->obs;
    out->reward = c->reward;
    out->terminated = c->terminated;
    out->truncated = c->truncated;
    out->final_obs = c->final_obs;
    out->episode_step = c->episode_step;
  }
  return 0;
}

int o2o_client_step_recv_timeout(o2o_client *c, o2o_bridge_batch *out, int timeout_ms, char *err,
                                 size_t errlen) {
  return step_recv(c, out, timeout_ms < 0 ? 0 : timeout_ms, 0, err, errlen);
}

int o2o_client_step_recv(o2o_client *c, o2o_bridge_batch *out, char *err, size_t errlen) {
  return step_recv(c, out, c->timeout_ms, 1, err, errlen);
}

void o2o_client_abandon(o2o_client *c) {
  c->pending_type = 0;
}

int o2o_client_step(o2o_client *c, const float *actions, o2o_bridge_batch *out, char *err,
                    size_t errlen) {
  int rc = o2o_client_step_send(c, actions, err, errlen);
  if (rc) return rc;
  return o2o_client_step_recv(c, out, err, errlen);
}

int o2o_client_set_dynamics(o2o_client *c, int num_params, const char (*names)[32],
                            const double *values, char *err, size_t errlen) {
  if (num_params < 0 || num_params > O2O_BRIDGE_MAX_PARAMS || (num_params && (!names || !values))) {
    o2o_bridge_errf(err, errlen,
                    "o2o_client_set_dynamics: %d parameters (0..%d, names and values "
                    "needed)",
                    num_params, O2O_BRIDGE_MAX_PARAMS);
    return O2O_BRIDGE_EINVAL;
  }
  /* Copy names into clean NUL-padded records (the caller's may hold garbage after NUL). */
  char recs[O2O_BRIDGE_MAX_PARAMS][O2O_WIRE_NAME_SIZE];
  memset(recs, 0, sizeof recs);
  for (int i = 0; i < num_params; i++) {
    size_t len = strnlen(names[i], 32);
    if (len == 0 || len == 32) {
      o2o_bridge_errf(err, errlen,
                      "o2o_client_set_dynamics: parameter %d has an empty or unterminated "
                      "name",
                      i);
      return O2O_BRIDGE_EINVAL;
    }
    memcpy(recs[i], names[i], len);
  }
  o2o_wire_header h;
  o2o_wire_header_init(&h, O2O_MSG_SET_DYNAMICS, 0);
  h.num_params = num_params;
  o2o_wire_frame a[2] = {{recs, O2O_WIRE_NAME_SIZE * (size_t)num_params},
                         {values, 8 * (size_t)num_params}};
  o2o_wire_msg m;
  int rc = call(c, &h, a, 2, &m, err, errlen);
  if (rc) return rc;
  /* The reply holds every parameter now in effect: keep the spec current. */
  int np = m.h.num_params;
  c->spec.num_params = np;
  for (int i = 0; i < np; i++)
    memcpy(c->spec.param_names[i], (const char *)m.arrays[0].data + i * O2O_WIRE_NAME_SIZE, 32);
  if (np) memcpy(c->spec.params, m.arrays[1].data, m.arrays[1].size);
  return 0;
}

/* Envs [env, env + n) of the server, n >= 1; check_env: the one env. */
static int check_range(o2o_client *c, int env, int n, char *err, size_t errlen) {
  if (n >= 1 && env >= 0 && env <= c->spec.num_envs - n) return 0;
  if (n == 1)
    o2o_bridge_errf(err, errlen, "env %d out of range (server has %d envs)", env, c->spec.num_envs);
  else
    o2o_bridge_errf(err, errlen, "envs [%d, %d) out of range (server has %d envs)", env, env + n,
                    c->spec.num_envs);
  return O2O_BRIDGE_EINVAL;
}

static int check_env(o2o_client *c, int env, char *err, size_t errlen) {
  return check_range(c, env, 1, err, errlen);
}

/* num_envs 0 is the one-env form of GET_STATE/SET_STATE; a batch says how many. */
static int get_state_range(o2o_client *c, int env, int n, int32_t num_envs, double *states,
                           char *err, size_t errlen) {
  o2o_wire_header h;
  o2o_wire_header_init(&h, O2O_MSG_GET_STATE, 0);
  h.env = env;
  h.num_envs = num_envs;
  o2o_wire_msg m;
  int rc = call(c, &h, NULL, 0, &m, err, errlen);
  if (rc) return rc;
  if (m.h.state_dim != c->spec.state_dim || m.h.env != env || m.h.num_envs != num_envs) {
    o2o_bridge_errf(err, errlen,
                    "%s: STATE reply for envs [%d, +%d) with %d doubles each, expected [%d, +%d), "
                    "%d",
                    c->endpoint, m.h.env, m.h.num_envs ? m.h.num_envs : 1, m.h.state_dim, env, n,
                    c->spec.state_dim);
    return O2O_BRIDGE_EPROTO;
  }
  memcpy(states, m.arrays[0].data, m.arrays[0].size);
  return 0;
}

int o2o_client_get_state(o2o_client *c, int env, double *state, char *err, size_t errlen) {
  int rc = check_env(c, env, err, errlen);
  return rc ? rc : get_state_range(c, env, 1, 0, state, err, errlen);
}

int o2o_client_get_states(o2o_client *c, int env, int n, double *states, char *err, size_t errlen) {
  int rc = check_range(c, env, n, err, errlen);
  return rc ? rc : get_state_range(c, env, n, n, states, err, errlen);
}

static int set_state_send(o2o_client *c, int env, int n, int32_t num_envs, const double *states,
                          char *err, size_t errlen) {
  o2o_wire_header h;
  o2o_wire_header_init(&h, O2O_MSG_SET_STATE, 0);
  h.env = env;
  h.num_envs = num_envs;
  h.state_dim = c->spec.state_dim;
  o2o_wire_frame a = {states, 8 * (size_t)n * (size_t)c->spec.state_dim};
  return send_request(c, &h, &a, 1, err, errlen);
}

int o2o_client_set_state_send(o2o_client *c, int env, const double *state, char *err,
                              size_t errlen) {
  int rc = check_env(c, env, err, errlen);
  return rc ? rc : set_state_send(c, env, 1, 0, state, err, errlen);
}

int o2o_client_set_states_send(o2o_client *c, int env, int n, const double *states, char *err,
                               size_t errlen) {
  int rc = check_range(c, env, n, err, errlen);
  return rc ? rc : set_state_send(c, env, n, n, states, err, errlen);
}

int o2o_client_set_state_recv(o2o_client *c, char *err, size_t errlen) {
  o2o_wire_msg m;
  return recv_reply(c, c->timeout_ms, &m, err, errlen);
}

int o2o_client_set_state(o2o_client *c, int env, const double *state, char *err, size_t errlen) {
  int rc = o2o_client_set_state_send(c, env, state, err, errlen);
  return rc ? rc : o2o_client_set_state_recv(c, err, errlen);
}

int o2o_client_set_states(o2o_client *c, int env, int n, const double *states, char *err,
                          size_t errlen) {
  int rc = o2o_client_set_states_send(c, env, n, states, err, errlen);
  return rc ? rc : o2o_client_set_state_recv(c, err, errlen);
}

int o2o_client_render(o2o_client *c, int env, int width, int height, uint8_t *rgb, char *err,
                      size_t errlen) {
  int rc = check_env(c, env, err, errlen);
  if (rc) return rc;
  if (width < 1 || height < 1 || width > O2O_WIRE_MAX_PIXELS || height > O2O_WIRE_MAX_PIXELS) {
    o2o_bridge_errf(err, errlen, "render size %dx%d outside 1..%d", width, height,
                    O2O_WIRE_MAX_PIXELS);
    return O2O_BRIDGE_EINVAL;
  }
  o2o_wire_header h;
  o2o_wire_header_init(&h, O2O_MSG_RENDER, 0);
  h.env = env;
  h.width = width;
  h.height = height;
  o2o_wire_msg m;
  if ((rc = call(c, &h, NULL, 0, &m, err, errlen))) return rc;
  if (m.h.width != width || m.h.height != height) {
    o2o_bridge_errf(err, errlen, "%s: FRAME reply is %dx%d, asked for %dx%d", c->endpoint,
                    m.h.width, m.h.height, width, height);
    return O2O_BRIDGE_EPROTO;
  }
  memcpy(rgb, m.arrays[0].data, m.arrays[0].size);
  return 0;
}

int o2o_client_close(o2o_client *c, char *err, size_t errlen) {
  o2o_wire_header h;
  o2o_wire_header_init(&h, O2O_MSG_CLOSE, 0);
  o2o_wire_msg m;
  return call(c, &h, NULL, 0, &m, err, errlen);
}
