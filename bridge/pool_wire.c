/* pool_wire.c: the pool's own STEP path on each chunk's DEALER socket, written with the
 * bridge codec (o2o_wire.h). Why not o2o_client_step_*: a chunk steps a *range* of its
 * server's envs (header env = first, num_envs = count; the whole server when the process
 * has one chunk), and the reply is decoded straight into the pool's batch rows, one copy.
 * The o2o_client of the same socket still does HELLO and every control call; its request
 * ids are small counters, ours start at 2^30, so neither side can take the other's reply
 * (or a late one) for its own. */
#include "o2o_wire.h"
#include "pool_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

int o2o_pool_wire_open(pool_chunk *ch) {
  ch->next_id = 1u << 30;
  ch->pending_id = 0;
  if (!ch->tx) ch->tx = o2o_wire_tx_create();
  if (!ch->rx_ready) {
    if (o2o_wire_rx_init(&ch->rx) != 0) return -1;
    ch->rx_ready = 1;
  }
  return ch->tx ? 0 : -1;
}

void o2o_pool_wire_close(pool_chunk *ch) {
  /* Call after the socket was closed: ZeroMQ may still hold send blocks until then. */
  o2o_wire_tx_destroy(ch->tx);
  ch->tx = NULL;
  if (ch->rx_ready) o2o_wire_rx_free(&ch->rx);
  ch->rx_ready = 0;
}

int o2o_pool_wire_send(o2o_pool *p, pool_chunk *ch, const float *actions, char *err,
                       size_t errlen) {
  o2o_wire_header h;
  ch->pending_id = ++ch->next_id;
  if (ch->next_id == 0) ch->next_id = 1u << 30;
  o2o_wire_header_init(&h, O2O_MSG_STEP, ch->pending_id);
  h.env = ch->local;
  h.num_envs = ch->count;
  h.act_dim = p->spec.act_dim;
  o2o_wire_frame a = {actions, sizeof(float) * (size_t)ch->count * (size_t)p->spec.act_dim};
  if (o2o_wire_send(o2o_client_socket(ch->client), ch->tx, NULL, 0, &h, &a, 1) != 0) {
    o2o_pool_err(err, errlen, "could not send STEP to %s: %s", p->procs[ch->proc].endpoint,
                 zmq_strerror(errno));
    return errno == EAGAIN ? O2O_BRIDGE_ETIMEOUT : O2O_BRIDGE_EZMQ;
  }
  return 0;
}

int o2o_pool_wire_recv(o2o_pool *p, pool_chunk *ch, char *err, size_t errlen) {
  void *sock = o2o_client_socket(ch->client);
  const char *ep = p->procs[ch->proc].endpoint;
  for (;;) {
    if (o2o_wire_recv(sock, &ch->rx, ZMQ_DONTWAIT) != 0) {
      if (errno == EAGAIN) return 0;
      if (errno == EINTR) continue;
      o2o_pool_err(err, errlen, "receive from %s failed: %s", ep, zmq_strerror(errno));
      return O2O_BRIDGE_EZMQ;
    }
    o2o_wire_msg m;
    char derr[O2O_BRIDGE_ERRLEN];
    int drc = o2o_wire_decode(ch->rx.frames, ch->rx.num_frames, &m, derr, sizeof derr);
    if (m.h.request_id != ch->pending_id) continue; /* late or not ours: drop it */
    if (drc) {
      o2o_pool_err(err, errlen, "malformed STEP reply from %s: %s", ep, derr);
      return O2O_BRIDGE_EPROTO;
    }
    if (m.h.type == O2O_MSG_ERROR) {
      int ranged = ch->count != p->procs[ch->proc].count;
      o2o_pool_err(err, errlen, "%s refused STEP of envs %d..%d: %s: %.*s%s", ep, ch->local,
                   ch->local + ch->count - 1, o2o_wire_error_name(m.h.code), (int)m.arrays[0].size,
                   (const char *)m.arrays[0].data,
                   ranged && m.h.code == O2O_WIRE_EDIMS
                       ? " (this o2o-sim cannot step a range of its envs: use one sub-batch "
                         "per process)"
                       : "");
      return O2O_BRIDGE_EREMOTE;
    }
    if (m.h.type != (O2O_MSG_STEP | O2O_MSG_REPLY) || m.h.num_envs != ch->count ||
        m.h.obs_dim != p->spec.obs_dim) {
      o2o_pool_err(err, errlen, "%s answered STEP with %s of %d envs x %d obs, expected %d x %d",
                   ep, o2o_wire_type_name(m.h.type), m.h.num_envs, m.h.obs_dim, ch->count,
                   p->spec.obs_dim);
      return O2O_BRIDGE_EPROTO;
    }
    /* Decoded sizes match the header, so the rows fit exactly. */
    const size_t od = (size_t)p->spec.obs_dim, r0 = (size_t)ch->first, n = (size_t)ch->count;
    memcpy(p->obs + r0 * od, m.arrays[0].data, n * od * sizeof(float));
    memcpy(p->reward + r0, m.arrays[1].data, n * sizeof(float));
    memcpy(p->terminated + r0, m.arrays[2].data, n);
    memcpy(p->truncated + r0, m.arrays[3].data, n);
    memcpy(p->final_obs + r0 * od, m.arrays[4].data, n * od * sizeof(float));
    memcpy(p->episode_step + r0, m.arrays[5].data, n * sizeof(int32_t));
    memset(p->lost + r0, 0, n);
    /* episode_step -1: the server found the env's physics diverged and started a new
     * episode; no transition happened, exactly like a lost step (PROTOCOL.md, STEP). */
    for (size_t i = r0; i < r0 + n; i++) {
      if (p->episode_step[i] == -1) {
        p->episode_step[i] = 0;
        p->lost[i] = 1;
      }
    }
    ch->pending_id = 0;
    return 1;
  }
}
