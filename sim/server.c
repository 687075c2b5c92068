/* server.c: the o2o-sim request loop (bridge/PROTOCOL.md over a ROUTER socket).
 *
 * The loop never trusts a request: o2o_wire_decode validates it, the handlers check it
 * against this server's envs, and every failure becomes an ERROR reply with a code and a
 * text; the loop then goes on serving. No allocation per message: requests are copied into
 * preallocated aligned buffers, replies go out through the sender's reusable blocks. */
#include "server.h"
#include "server_internal.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

#include "o2o_render.h"
#include "o2o_wire.h"

struct o2o_server {
  o2o_vecenv *env;
  const o2o_env_spec *es;
  o2o_bridge_spec spec;
  char endpoint[512];
  void *ctx, *sock;
  o2o_server_auth *auth;
  o2o_wire_tx *tx;
  o2o_wire_rx rx;
  int quiet;
  /* aligned copies of request arrays */
  float *actions;
  uint64_t *seeds;
  float *obs;
  double *state;      /* [num_envs][state_dim]: a GET_STATE reply or a SET_STATE's input */
  double *state_undo; /* [num_envs][state_dim]: a batched SET_STATE's previous states */
  /* rendering: created on the first RENDER */
  o2o_renderer *renderer;
  uint8_t *rgb;
  size_t rgb_cap;
  o2o_wire_tx *render_tx; /* RENDER replies only, so a big frame's block can be dropped */
  o2o_viewer *viewer;
  int viewer_closed;
  /* reply being built */
  o2o_wire_frame route[2];
  int nroute;
  long requests, errors;
  int closing;
  int bound_ipc; /* remove the socket file on exit */
  char text[O2O_WIRE_MAX_TEXT];
  char err[O2O_WIRE_MAX_TEXT];
};

/* The host of a tcp endpoint (between "tcp://" and the last ':', brackets of an IPv6
 * address removed) into host; -1 if there is none or it does not fit. */
static int tcp_host(const char *ep, char *host, size_t len) {
  if (strncmp(ep, "tcp://", 6) != 0) return -1;
  const char *h = ep + 6, *colon = strrchr(h, ':');
  if (!colon || colon == h) return -1;
  size_t n = (size_t)(colon - h);
  if (n >= 2 && h[0] == '[' && h[n - 1] == ']') h++, n -= 2;
  if (n == 0 || n >= len) return -1;
  memcpy(host, h, n);
  host[n] = 0;
  return 0;
}

int o2o_server_endpoint_is_loopback(const char *ep) {
  char host[256];
  if (strchr(ep, ';') || tcp_host(ep, host, sizeof host)) return 0;
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton(AF_INET, host, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, host, &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
  return 0; /* a name (interface or host): only the numeric address says where it binds */
}

static void fill_params(o2o_server *s) {
  o2o_dynamics d;
  o2o_vecenv_get_dynamics(s->env, &d);
  s->spec.num_params = NUM_DYN_PARAMS;
  memset(s->spec.param_names, 0, sizeof s->spec.param_names);
  for (int i = 0; i < NUM_DYN_PARAMS; i++) {
    snprintf(s->spec.param_names[i], 32, "%s", o2o_server_param_names[i]);
    s->spec.params[i] = o2o_server_param_get(&d, i);
  }
}

/* ZeroMQ silently replaces an existing ipc socket file, which would steal the endpoint of a
 * running server: refuse if something still accepts connections there. */
static int ipc_in_use(const char *path) {
  struct sockaddr_un a;
  if (strlen(path) >= sizeof a.sun_path) return 0;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  memcpy(a.sun_path, path, strlen(path));
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  int used = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return used;
}

static int bind_socket(o2o_server *s, const o2o_server_config *cfg, char *err, size_t errlen) {
  const char *ep = s->endpoint;
  int is_ipc = strncmp(ep, "ipc://", 6) == 0, is_tcp = strncmp(ep, "tcp://", 6) == 0;
  if (!is_ipc && !is_tcp) {
    o2o_bridge_errf(err, errlen, "endpoint '%s': use ipc://PATH or tcp://HOST:PORT", ep);
    return -1;
  }
  if (is_tcp && strchr(ep, ';')) {
    /* ZeroMQ reads tcp://SOURCE;DEST as "connect from SOURCE": on a bind the part after
     * ';' is the address actually bound, so 127.0.0.1:0;0.0.0.0:PORT would listen on
     * every interface. */
    o2o_bridge_errf(err, errlen,
                    "endpoint '%s': the 'SOURCE;ADDRESS' form is not accepted; give the one "
                    "address to bind, e.g. tcp://127.0.0.1:PORT",
                    ep);
    return -1;
  }
  if (is_tcp && strncmp(ep, "tcp://localhost:", 16) == 0) {
    /* ZeroMQ binds interface names and numeric addresses, not host names. */
    char port[32];
    if (strlen(ep + 16) >= sizeof port) {
      o2o_bridge_errf(err, errlen, "endpoint '%.64s...': the port is too long", ep);
      return -1;
    }
    snprintf(port, sizeof port, "%s", ep + 16);
    snprintf(s->endpoint, sizeof s->endpoint, "tcp://127.0.0.1:%s", port);
  }
  int remote = is_tcp && !o2o_server_endpoint_is_loopback(ep);
  if (remote && !cfg->allow_remote) {
    o2o_bridge_errf(err, errlen,
                    "endpoint '%s' is not a loopback address: binding it lets other "
                    "machines drive this simulator. Pass --allow-remote (with "
                    "--curve-server-key and --curve-client-keys, or --insecure)",
                    ep);
    return -1;
  }
  int curve = cfg->curve_server_key != NULL;
  if (remote && !curve && !cfg->insecure) {
    o2o_bridge_errf(err, errlen,
                    "endpoint '%s': a non-loopback address needs CURVE keys "
                    "(--curve-server-key FILE --curve-client-keys FILE|DIR; make them with "
                    "--gen-keys DIR) or an explicit --insecure",
                    ep);
    return -1;
  }
  if (curve) {
    if (!cfg->curve_client_keys) {
      o2o_bridge_errf(err, errlen,
                      "--curve-server-key needs --curve-client-keys (the public keys of the "
                      "clients allowed to connect)");
      return -1;
    }
    char pub[41], sec[41];
    if (o2o_wire_read_key_file(cfg->curve_server_key, pub, sec, err, errlen)) return -1;
    s->auth = o2o_server_auth_start(s->ctx, cfg->curve_client_keys, cfg->quiet, err, errlen);
    if (!s->auth) return -1;
    int one = 1;
    zmq_setsockopt(s->sock, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt(s->sock, ZMQ_CURVE_SECRETKEY, sec, 40);
    zmq_setsockopt(s->sock, ZMQ_ZAP_DOMAIN, "o2o", 3);
  }
  if (is_ipc && ipc_in_use(ep + 6)) {
    o2o_bridge_errf(err, errlen, "endpoint '%s' is in use by another running server", ep);
    return -1;
  }
  if (is_tcp && ep[6] == '[') {
    int one = 1;
    zmq_setsockopt(s->sock, ZMQ_IPV6, &one, sizeof one);
  }
  if (zmq_bind(s->sock, ep) != 0) {
    o2o_bridge_errf(err, errlen, "cannot bind '%s': %s", ep, zmq_strerror(errno));
    return -1;
  }
  if (is_tcp) {
    /* Trust the address ZeroMQ reports as bound, not the text we were given (an interface
     * name, a port 0): it is also what the server prints and clients connect to. */
    char bound[sizeof s->endpoint];
    size_t blen = sizeof bound;
    if (zmq_getsockopt(s->sock, ZMQ_LAST_ENDPOINT, bound, &blen) != 0 || blen == 0) {
      o2o_bridge_errf(err, errlen, "endpoint '%s': cannot read the address bound: %s", ep,
                      zmq_strerror(errno));
      return -1;
    }
    bound[sizeof bound - 1] = 0;
    if (!cfg->allow_remote && !o2o_server_endpoint_is_loopback(bound)) {
      o2o_bridge_errf(err, errlen,
                      "endpoint '%s' bound %s, which is not a loopback address; refused "
                      "(pass --allow-remote with CURVE keys to serve other machines)",
                      ep, bound);
      return -1; /* o2o_server_destroy closes the socket */
    }
    snprintf(s->endpoint, sizeof s->endpoint, "%s", bound);
  }
  s->bound_ipc = is_ipc && ep[6] != '@'; /* ipc://@name is abstract: no file */
  return 0;
}

o2o_server *o2o_server_create(o2o_vecenv *env, const o2o_server_config *cfg, char *err,
                              size_t errlen) {
  o2o_server *s = calloc(1, sizeof *s);
  if (!s) {
    o2o_bridge_errf(err, errlen, "out of memory");
    return NULL;
  }
  s->env = env;
  s->es = o2o_vecenv_spec(env);
  s->quiet = cfg->quiet;
  if (cfg->endpoint)
    snprintf(s->endpoint, sizeof s->endpoint, "%s", cfg->endpoint);
  else
    snprintf(s->endpoint, sizeof s->endpoint, "ipc:///tmp/o2o-sim-%ld.ipc", (long)getpid());

  const o2o_env_spec *es = s->es;
  const o2o_scenario *sc = o2o_vecenv_scenario(env);
  o2o_bridge_spec *sp = &s->spec;
  snprintf(sp->scenario, sizeof sp->scenario, "%s", sc->name);
  snprintf(sp->variant, sizeof sp->variant, "%s", o2o_variant_name(o2o_vecenv_variant(env)));
  snprintf(sp->task, sizeof sp->task, "%s", sc->task);
  sp->num_envs = es->num_envs;
  sp->obs_dim = es->obs_dim;
  sp->act_dim = es->act_dim;
  memcpy(sp->act_low, es->act_low, sizeof(float) * (size_t)es->act_dim);
  memcpy(sp->act_high, es->act_high, sizeof(float) * (size_t)es->act_dim);
  sp->dt = es->dt;
  sp->max_episode_steps = es->max_episode_steps;
  sp->state_dim = es->state_dim;
  fill_params(s);

  size_t n = (size_t)es->num_envs;
  s->actions = malloc(sizeof(float) * n * (size_t)es->act_dim);
  s->seeds = malloc(sizeof(uint64_t) * n);
  s->obs = malloc(sizeof(float) * n * (size_t)es->obs_dim);
  size_t states = n * (size_t)(es->state_dim > 0 ? es->state_dim : 1);
  s->state = malloc(sizeof(double) * states);
  s->state_undo = malloc(sizeof(double) * states);
  s->tx = o2o_wire_tx_create();
  if (!s->actions || !s->seeds || !s->obs || !s->state || !s->state_undo || !s->tx ||
      o2o_wire_rx_init(&s->rx)) {
    o2o_bridge_errf(err, errlen, "out of memory");
    o2o_server_destroy(s);
    return NULL;
  }
  s->ctx = zmq_ctx_new();
  s->sock = s->ctx ? zmq_socket(s->ctx, ZMQ_ROUTER) : NULL;
  if (!s->sock) {
    o2o_bridge_errf(err, errlen, "cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
    o2o_server_destroy(s);
    return NULL;
  }
  int zero = 0;
  zmq_setsockopt(s->sock, ZMQ_LINGER, &zero, sizeof zero);
  /* Frames beyond this disconnect the peer inside ZeroMQ, before we could even read them;
   * smaller oversized messages are answered with ERROR TOO_LARGE by the decoder. */
  int64_t maxmsg = (int64_t)O2O_WIRE_MAX_MSG + 4096;
  zmq_setsockopt(s->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
  if (bind_socket(s, cfg, err, errlen)) {
    o2o_server_destroy(s);
    return NULL;
  }
  if (cfg->render) {
    s->viewer = o2o_viewer_create(env, err, errlen);
    if (!s->viewer) {
      o2o_server_destroy(s);
      return NULL;
    }
  }
  return s;
}

void o2o_server_destroy(o2o_server *s) {
  if (!s) return;
  if (s->sock) zmq_close(s->sock);
  if (s->auth) o2o_server_auth_stop(s->auth); /* before ctx_term: its socket must close */
  if (s->ctx) zmq_ctx_term(s->ctx);
  if (s->bound_ipc) unlink(s->endpoint + 6);
  o2o_wire_rx_free(&s->rx);
  o2o_wire_tx_destroy(s->tx);
  o2o_wire_tx_destroy(s->render_tx);
  if (s->renderer) o2o_renderer_destroy(s->renderer);
  if (s->viewer) o2o_viewer_destroy(s->viewer);
  free(s->rgb);
  free(s->actions);
  free(s->seeds);
  free(s->obs);
  free(s->state);
  free(s->state_undo);
  free(s);
}

const char *o2o_server_endpoint(const o2o_server *s) {
  return s->endpoint;
}

void o2o_server_stats(const o2o_server *s, long *requests, long *errors) {
  if (requests) *requests = s->requests;
  if (errors) *errors = s->errors;
}

/* ---- replies ------------------------------------------------------------------------ */

static void send_reply_tx(o2o_server *s, o2o_wire_tx *tx, const o2o_wire_header *h,
                          const o2o_wire_frame *arrays, int n) {
  /* A peer that went away makes ROUTER drop the reply; nothing else can fail here but
   * memory, and then the client times out. */
  if (o2o_wire_send(s->sock, tx, s->route, s->nroute, h, arrays, n) != 0 && !s->quiet)
    fprintf(stderr, "o2o-sim: sending a reply failed: %s\n", zmq_strerror(errno));
}

static void send_reply(o2o_server *s, const o2o_wire_header *h, const o2o_wire_frame *arrays,
                       int n) {
  send_reply_tx(s, s->tx, h, arrays, n);
}

static void send_error(o2o_server *s, uint32_t request_id, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(s->text, sizeof s->text, fmt, ap);
  va_end(ap);
  if (len < 0) len = 0;
  if (len >= (int)sizeof s->text) len = (int)sizeof s->text - 1;
  o2o_wire_header h;
  o2o_wire_header_init(&h, O2O_MSG_ERROR, request_id);
  h.code = code;
  o2o_wire_frame f = {s->text, (size_t)len};
  s->errors++;
  /* Say on stderr why the first requests were refused: it is often a client bug. */
  if (!s->quiet && s->errors <= 10)
    fprintf(stderr, "o2o-sim: answered ERROR %s: %s%s\n", o2o_wire_error_name(code), s->text,
            s->errors == 10 ? " (further ERROR replies are not shown)" : "");
  send_reply(s, &h, &f, 1);
}

static void reply_header(o2o_wire_header *h, int type, const o2o_wire_msg *req) {
  o2o_wire_header_init(h, type | O2O_MSG_REPLY, req->h.request_id);
}

/* ---- handlers ----------------------------------------------------------------------- */

static void on_hello(o2o_server *s, const o2o_wire_msg *m) {
  fill_params(s);
  o2o_wire_header h;
  o2o_wire_frame a[5];
  o2o_wire_spec_encode(&s->spec, m->h.request_id, &h, s->text, a);
  send_reply(s, &h, a, 5);
}

static int check_envs(o2o_server *s, const o2o_wire_msg *m) {
  if (m->h.num_envs != s->es->num_envs) {
    send_error(s, m->h.request_id, O2O_WIRE_EDIMS, "%s has num_envs = %d; this server has %d",
               o2o_wire_type_name(m->h.type), m->h.num_envs, s->es->num_envs);
    return -1;
  }
  return 0;
}

static void after_step(o2o_server *s, const o2o_step_result *res) {
  if (s->viewer && !s->viewer_closed && o2o_viewer_update(s->viewer, res) == 1)
    s->viewer_closed = 1;
}

static void on_reset(o2o_server *s, const o2o_wire_msg *m) {
  if (check_envs(s, m)) return;
  const uint64_t *seeds = NULL;
  if (!(m->h.flags & O2O_WIRE_FLAG_NO_SEEDS)) {
    memcpy(s->seeds, m->arrays[0].data, m->arrays[0].size);
    seeds = s->seeds;
  }
  if (o2o_vecenv_reset(s->env, seeds, s->obs, s->err, sizeof s->err) != 0) {
    send_error(s, m->h.request_id, O2O_WIRE_ESIM, "RESET: %s", s->err);
    return;
  }
  after_step(s, NULL);
  o2o_wire_header h;
  reply_header(&h, O2O_MSG_RESET, m);
  h.num_envs = s->es->num_envs;
  h.obs_dim = s->es->obs_dim;
  o2o_wire_frame a = {s->obs, sizeof(float) * (size_t)s->es->num_envs * (size_t)s->es->obs_dim};
  send_reply(s, &h, &a, 1);
}

/* STEP of envs [env, env + num_envs): all of them, or a sub-batch (a pool keeps several
 * sub-batches of one server in flight). */
static void on_step(o2o_server *s, const o2o_wire_msg *m) {
  const o2o_env_spec *es = s->es;
  int first = m->h.env, num = m->h.num_envs;
  if (first > es->num_envs - num) {
    send_error(s, m->h.request_id, O2O_WIRE_EARG,
               "STEP of envs [%d, %d): outside this server's envs [0, %d)", first, first + num,
               es->num_envs);
    return;
  }
  if (m->h.act_dim != es->act_dim) {
    send_error(s, m->h.request_id, O2O_WIRE_EDIMS,
               "STEP has act_dim = %d; this server's envs take %d action values", m->h.act_dim,
               es->act_dim);
    return;
  }
  memcpy(s->actions, m->arrays[0].data, m->arrays[0].size);
  o2o_step_result r;
  if (o2o_vecenv_step_range(s->env, first, num, s->actions, &r, s->err, sizeof s->err) != 0) {
    send_error(s, m->h.request_id, O2O_WIRE_ESIM, "STEP: %s", s->err);
    return;
  }
  o2o_wire_header h;
  reply_header(&h, O2O_MSG_STEP, m);
  size_t n = (size_t)num, o = (size_t)es->obs_dim;
  h.env = first;
  h.num_envs = (int32_t)n;
  h.obs_dim = (int32_t)o;
  o2o_wire_frame a[6] = {{r.obs, 4 * n * o}, {r.reward, 4 * n},        {r.terminated, n},
                         {r.truncated, n},   {r.final_obs, 4 * n * o}, {r.episode_step, 4 * n}};
  send_reply(s, &h, a, 6);
  if (first == 0) after_step(s, &r); /* the viewer shows env 0 */
}

static void on_set_dynamics(o2o_server *s, const o2o_wire_msg *m) {
  o2o_dynamics d;
  o2o_vecenv_get_dynamics(s->env, &d);
  const char *names = m->arrays[0].data;
  for (int i = 0; i < m->h.num_params; i++) {
    const char *name = names + (size_t)i * O2O_WIRE_NAME_SIZE; /* NUL-terminated (decoder) */
    double v;
    memcpy(&v, (const uint8_t *)m->arrays[1].data + 8 * (size_t)i, 8);
    int k = 0;
    while (k < NUM_DYN_PARAMS && strcmp(o2o_server_param_names[k], name) != 0)
      k++;
    for (int j = 0; j < i && k < NUM_DYN_PARAMS; j++) {
      if (strcmp(names + (size_t)j * O2O_WIRE_NAME_SIZE, name) == 0) {
        send_error(s, m->h.request_id, O2O_WIRE_EARG,
                   "SET_DYNAMICS: parameter '%s' given twice (records %d and %d)", name, j, i);
        return;
      }
    }
    if (k == NUM_DYN_PARAMS) {
      send_error(s, m->h.request_id, O2O_WIRE_EARG,
                 "SET_DYNAMICS: unknown parameter '%s' (record %d); known: gravity_scale, "
                 "friction_scale, mass_scale, damping_scale, gear_scale, action_noise_std, "
                 "obs_noise_std, action_delay",
                 name, i);
      return;
    }
    if (o2o_server_param_set(&d, k, v, s->err, sizeof s->err)) {
      send_error(s, m->h.request_id, O2O_WIRE_EARG, "SET_DYNAMICS: %s", s->err);
      return;
    }
  }
  if (o2o_dynamics_validate(&d, s->err, sizeof s->err) != 0 ||
      o2o_vecenv_set_dynamics(s->env, &d, s->err, sizeof s->err) != 0) {
    send_error(s, m->h.request_id, O2O_WIRE_EARG, "SET_DYNAMICS: %s", s->err);
    return;
  }
  fill_params(s);
  o2o_wire_header h;
  reply_header(&h, O2O_MSG_SET_DYNAMICS, m);
  h.num_params = s->spec.num_params;
  o2o_wire_frame a[2] = {{s->spec.param_names, O2O_WIRE_NAME_SIZE * (size_t)h.num_params},
                         {s->spec.params, 8 * (size_t)h.num_params}};
  send_reply(s, &h, a, 2);
}

static int check_env_index(o2o_server *s, const o2o_wire_msg *m) {
  if (m->h.env < 0 || m->h.env >= s->es->num_envs) {
    send_error(s, m->h.request_id, O2O_WIRE_EARG, "%s: env %d out of range [0, %d)",
               o2o_wire_type_name(m->h.type), m->h.env, s->es->num_envs);
    return -1;
  }
  return 0;
}

/* GET_STATE and SET_STATE cover envs [env, env + n), n = num_envs or 1 when num_envs is 0
 * (the one-env form). -1 after an ERROR reply. */
static int state_range(o2o_server *s, const o2o_wire_msg *m, int *n) {
  *n = m->h.num_envs ? m->h.num_envs : 1;
  if (!m->h.num_envs) return check_env_index(s, m);
  if (m->h.env < 0 || m->h.env > s->es->num_envs - *n) {
    send_error(s, m->h.request_id, O2O_WIRE_EARG, "%s of envs [%d, %d): outside [0, %d)",
               o2o_wire_type_name(m->h.type), m->h.env, m->h.env + *n, s->es->num_envs);
    return -1;
  }
  return 0;
}

static void on_get_state(o2o_server *s, const o2o_wire_msg *m) {
  int n;
  if (state_range(s, m, &n)) return;
  const size_t S = (size_t)s->es->state_dim;
  for (int i = 0; i < n; i++)
    o2o_vecenv_get_state(s->env, m->h.env + i, s->state + (size_t)i * S);
  o2o_wire_header h;
  reply_header(&h, O2O_MSG_GET_STATE, m);
  h.env = m->h.env;
  h.num_envs = m->h.num_envs;
  h.state_dim = s->es->state_dim;
  o2o_wire_frame a = {s->state, 8 * (size_t)n * S};
  send_reply(s, &h, &a, 1);
}

/* All or nothing: a batch with one refused state leaves every env of it as it was. */
static void on_set_state(o2o_server *s, const o2o_wire_msg *m) {
  int n;
  if (state_range(s, m, &n)) return;
  if (m->h.state_dim != s->es->state_dim) {
    send_error(s, m->h.request_id, O2O_WIRE_EDIMS,
               "SET_STATE has state_dim = %d; this server's "
               "state has %d doubles",
               m->h.state_dim, s->es->state_dim);
    return;
  }
  const size_t S = (size_t)s->es->state_dim;
  memcpy(s->state, m->arrays[0].data, m->arrays[0].size);
  for (int i = 0; i < n; i++)
    o2o_vecenv_get_state(s->env, m->h.env + i, s->state_undo + (size_t)i * S);
  for (int i = 0; i < n; i++) {
    if (o2o_vecenv_set_state(s->env, m->h.env + i, s->state + (size_t)i * S, s->err,
                             sizeof s->err) != 0) {
      for (int j = 0; j < i; j++) /* exact: set_state(get_state()) restores bit for bit */
        o2o_vecenv_set_state(s->env, m->h.env + j, s->state_undo + (size_t)j * S, NULL, 0);
      send_error(s, m->h.request_id, O2O_WIRE_ESIM, "SET_STATE: %s", s->err);
      return;
    }
  }
  o2o_wire_header h;
  reply_header(&h, O2O_MSG_SET_STATE, m);
  h.env = m->h.env;
  h.num_envs = m->h.num_envs;
  send_reply(s, &h, NULL, 0);
}

static void on_render(o2o_server *s, const o2o_wire_msg *m) {
  if (check_env_index(s, m)) return;
  int w = m->h.width, hgt = m->h.height;
  if (!s->renderer) {
    /* Lazily: a GL context only when someone asks for pixels. */
    s->renderer = o2o_renderer_create(s->env, w, hgt, 0, s->err, sizeof s->err);
    if (!s->renderer) {
      send_error(s, m->h.request_id, O2O_WIRE_ERENDER, "RENDER: %s", s->err);
      return;
    }
  }
  size_t need = 3 * (size_t)w * (size_t)hgt;
  if (need > s->rgb_cap) {
    uint8_t *p = realloc(s->rgb, need);
    if (!p) {
      send_error(s, m->h.request_id, O2O_WIRE_EINTERNAL, "RENDER: out of memory for %dx%d", w, hgt);
      return;
    }
    s->rgb = p;
    s->rgb_cap = need;
  }
  if (o2o_renderer_frame(s->renderer, m->h.env, w, hgt, s->rgb, s->err, sizeof s->err) != 0) {
    send_error(s, m->h.request_id, O2O_WIRE_ERENDER, "RENDER: %s", s->err);
    return;
  }
  o2o_wire_header h;
  reply_header(&h, O2O_MSG_RENDER, m);
  h.env = m->h.env;
  h.width = w;
  h.height = hgt;
  o2o_wire_frame a = {s->rgb, need};
  if (!s->render_tx) s->render_tx = o2o_wire_tx_create();
  if (!s->render_tx) {
    send_error(s, m->h.request_id, O2O_WIRE_EINTERNAL, "RENDER: out of memory for the reply");
    return;
  }
  send_reply_tx(s, s->render_tx, &h, &a, 1);
  if ((size_t)w * (size_t)hgt > O2O_SERVER_RENDER_KEEP_PIXELS) {
    /* A big frame's buffers (GL offscreen buffer, pixels, reply block: ~1 GB at 4096x4096
     * with Mesa's software renderer) are not kept for good: the next RENDER builds them
     * again. Blocks ZeroMQ still holds free themselves once sent. */
    o2o_renderer_destroy(s->renderer);
    s->renderer = NULL;
    free(s->rgb);
    s->rgb = NULL;
    s->rgb_cap = 0;
    o2o_wire_tx_destroy(s->render_tx);
    s->render_tx = NULL;
    malloc_trim(0);
  }
}

/* Test hook for fault-recovery tests: with O2O_SIM_TEST_KILL_AT_STEP=N and
 * O2O_SIM_TEST_KILL_FILE=PATH, the process that serves its N-th STEP while PATH exists removes
 * PATH and kills itself with SIGKILL (as a crash would), so a test kills a simulator at a fixed
 * step, once: the restarted process finds no file. Unset (always, outside tests): nothing. */
static void test_fault_hook(void) {
  static long at = -1, served;
  static const char *file;
  if (at < 0) {
    const char *n = getenv("O2O_SIM_TEST_KILL_AT_STEP");
    file = getenv("O2O_SIM_TEST_KILL_FILE");
    at = n && file ? strtol(n, NULL, 10) : 0;
  }
  if (at > 0 && ++served == at && unlink(file) == 0) raise(SIGKILL);
}

static void handle(o2o_server *s) {
  o2o_wire_rx *rx = &s->rx;
  /* ROUTER prepends the peer's identity; a REQ peer adds an empty delimiter, echoed back. */
  s->route[0] = rx->frames[0];
  s->nroute = 1;
  if (rx->num_frames >= 2 && rx->frames[1].size == 0) s->route[s->nroute++] = rx->frames[1];
  s->requests++;
  int nbody = rx->num_frames - s->nroute;
  o2o_wire_msg m;
  int rc = o2o_wire_decode_request(rx->frames + s->nroute, nbody, &m, s->err, sizeof s->err);
  if (rc) {
    if (rc == -O2O_WIRE_EFRAMES && rx->total_frames > rx->num_frames)
      send_error(s, m.h.request_id, -rc, "%s message has %d frames: too many",
                 o2o_wire_type_name(m.h.type), rx->total_frames - s->nroute);
    else
      send_error(s, m.h.request_id, -rc, "%s", s->err);
    return;
  }
  switch (m.h.type) {
  case O2O_MSG_HELLO:
    on_hello(s, &m);
    break;
  case O2O_MSG_RESET:
    on_reset(s, &m);
    break;
  case O2O_MSG_STEP:
    test_fault_hook();
    on_step(s, &m);
    break;
  case O2O_MSG_SET_DYNAMICS:
    on_set_dynamics(s, &m);
    break;
  case O2O_MSG_GET_STATE:
    on_get_state(s, &m);
    break;
  case O2O_MSG_SET_STATE:
    on_set_state(s, &m);
    break;
  case O2O_MSG_RENDER:
    on_render(s, &m);
    break;
  case O2O_MSG_CLOSE: {
    o2o_wire_header h;
    reply_header(&h, O2O_MSG_CLOSE, &m);
    send_reply(s, &h, NULL, 0);
    s->closing = 1;
    break;
  }
  default:
    send_error(s, m.h.request_id, O2O_WIRE_ETYPE, "%s (type 0x%x) is a reply, not a request",
               o2o_wire_type_name(m.h.type), (unsigned)m.h.type);
  }
}

int o2o_server_run(o2o_server *s, volatile sig_atomic_t *stop, char *err, size_t errlen) {
  /* Blocking receive with a timeout (one call per request, no zmq_poll); the timeout only
   * bounds how late a stop flag or the idle viewer is noticed. Signals interrupt it. */
  int timeout = s->viewer ? 16 : 250;
  zmq_setsockopt(s->sock, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
  while (!s->closing && !(stop && *stop) && !s->viewer_closed) {
    if (o2o_wire_recv(s->sock, &s->rx, 0) != 0) {
      if (errno == EAGAIN) {
        if (s->viewer) after_step(s, NULL); /* keep the window responsive while idle */
        continue;
      }
      if (errno == EINTR) continue;
      o2o_bridge_errf(err, errlen, "receive: %s", zmq_strerror(errno));
      return -1;
    }
    handle(s);
  }
  if (s->closing) {
    /* Give the CLOSE reply time to leave before the socket goes (LINGER is 0 otherwise). */
    int linger = 1000;
    zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof linger);
    return 1;
  }
  return s->viewer_closed ? 2 : 0;
}
