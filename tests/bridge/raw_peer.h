/* raw_peer.h: a bare DEALER that sends arbitrary frames to o2o-sim (bad-input tests). */
#pragma once
#include <string.h>
#include <zmq.h>

#include "o2o_wire.h"

typedef struct raw_peer {
  void *ctx, *sock;
  o2o_wire_rx rx;
  char err[512];
} raw_peer;

static inline int raw_open(raw_peer *p, const char *endpoint) {
  memset(p, 0, sizeof *p);
  p->ctx = zmq_ctx_new();
  p->sock = zmq_socket(p->ctx, ZMQ_DEALER);
  int zero = 0;
  zmq_setsockopt(p->sock, ZMQ_LINGER, &zero, sizeof zero);
  o2o_wire_rx_init(&p->rx);
  return zmq_connect(p->sock, endpoint);
}

static inline void raw_close(raw_peer *p) {
  zmq_close(p->sock);
  zmq_ctx_term(p->ctx);
  o2o_wire_rx_free(&p->rx);
}

static inline int raw_send(raw_peer *p, const o2o_wire_frame *frames, int n) {
  for (int i = 0; i < n; i++)
    if (zmq_send(p->sock, frames[i].data, frames[i].size, i + 1 < n ? ZMQ_SNDMORE : 0) < 0)
      return -1;
  return 0;
}

/* Receives one reply and decodes it: returns the decoder's result, or 1 on timeout. */
static inline int raw_recv(raw_peer *p, o2o_wire_msg *m, int timeout_ms) {
  zmq_pollitem_t it = {p->sock, 0, ZMQ_POLLIN, 0};
  if (zmq_poll(&it, 1, timeout_ms) <= 0) return 1;
  if (o2o_wire_recv(p->sock, &p->rx, 0) != 0) return 1;
  int skip = 0; /* an empty first frame we sent came back as a REQ-style delimiter */
  while (skip < p->rx.num_frames && p->rx.frames[skip].size == 0)
    skip++;
  return o2o_wire_decode(p->rx.frames + skip, p->rx.num_frames - skip, m, p->err, sizeof p->err);
}

static inline int raw_call(raw_peer *p, const o2o_wire_frame *frames, int n, o2o_wire_msg *m,
                           int timeout_ms) {
  if (raw_send(p, frames, n)) return 2;
  return raw_recv(p, m, timeout_ms);
}
