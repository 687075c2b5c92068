/* transport.c: multipart send/receive of o2o messages over ZeroMQ, and CURVE key files.
 *
 * Zero-copy sends: a message's header and arrays are laid out in one send block and given
 * to ZeroMQ with zmq_msg_init_data. All frames but the last are "constant" messages (no
 * allocation, no free callback); the last carries the free callback that hands the block
 * back. ZeroMQ encodes a multipart message's frames in order, so once the last frame is
 * released no earlier frame of that message is read any more. */
#include "o2o_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

/* A send block: refs = 1 for the owner (the tx) + 1 while ZeroMQ holds it. Whoever drops
 * the last reference frees it, so closing a socket with messages still queued is safe. */
typedef struct block {
  atomic_int refs;
  size_t cap;
  uint8_t *data;
} block;

struct o2o_wire_tx {
  block **blocks;
  int num_blocks;
};

static void block_unref(block *b) {
  if (atomic_fetch_sub(&b->refs, 1) == 1) {
    free(b->data);
    free(b);
  }
}

static void block_release(void *data, void *hint) {
  (void)data;
  block_unref(hint);
}

o2o_wire_tx *o2o_wire_tx_create(void) {
  return calloc(1, sizeof(o2o_wire_tx));
}

void o2o_wire_tx_destroy(o2o_wire_tx *tx) {
  if (!tx) return;
  for (int i = 0; i < tx->num_blocks; i++)
    block_unref(tx->blocks[i]);
  free(tx->blocks);
  free(tx);
}

int o2o_wire_tx_blocks(const o2o_wire_tx *tx) {
  return tx->num_blocks;
}

/* A block ZeroMQ no longer holds, with at least cap bytes (grown if needed). */
static block *acquire(o2o_wire_tx *tx, size_t cap) {
  for (int i = 0; i < tx->num_blocks; i++) {
    block *b = tx->blocks[i];
    if (atomic_load(&b->refs) != 1) continue;
    if (b->cap < cap) {
      uint8_t *d = realloc(b->data, cap);
      if (!d) return NULL;
      b->data = d;
      b->cap = cap;
    }
    return b;
  }
  block **nb = realloc(tx->blocks, sizeof(block *) * (size_t)(tx->num_blocks + 1));
  if (!nb) return NULL;
  tx->blocks = nb;
  block *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->data = malloc(cap < 4096 ? 4096 : cap);
  if (!b->data) {
    free(b);
    return NULL;
  }
  b->cap = cap < 4096 ? 4096 : cap;
  atomic_init(&b->refs, 1);
  tx->blocks[tx->num_blocks++] = b;
  return b;
}

static size_t align8(size_t n) {
  return (n + 7) & ~(size_t)7;
}

int o2o_wire_send(void *sock, o2o_wire_tx *tx, const o2o_wire_frame *route, int nroute,
                  const o2o_wire_header *h, const o2o_wire_frame *arrays, int narrays) {
  size_t total = O2O_WIRE_HEADER_SIZE;
  for (int i = 0; i < narrays; i++)
    total += align8(arrays[i].size);
  block *b = acquire(tx, total);
  if (!b) {
    errno = ENOMEM;
    return -1;
  }
  size_t offs[O2O_WIRE_MAX_ARRAYS + 1];
  o2o_wire_header_pack(h, b->data);
  size_t off = O2O_WIRE_HEADER_SIZE;
  for (int i = 0; i < narrays; i++) {
    offs[i] = off;
    if (arrays[i].size) memcpy(b->data + off, arrays[i].data, arrays[i].size);
    off += align8(arrays[i].size);
  }
  for (int i = 0; i < nroute; i++) {
    if (zmq_send(sock, route[i].data, route[i].size, ZMQ_SNDMORE) < 0) return -1;
  }
  /* From here on every frame is handed over; a failure still closes the message. */
  int nframes = 1 + narrays;
  for (int i = 0; i < nframes; i++) {
    uint8_t *data = i == 0 ? b->data : b->data + offs[i - 1];
    size_t size = i == 0 ? O2O_WIRE_HEADER_SIZE : arrays[i - 1].size;
    int last = i == nframes - 1;
    zmq_msg_t m;
    if (last) {
      atomic_fetch_add(&b->refs, 1);
      zmq_msg_init_data(&m, data, size, block_release, b);
    } else {
      zmq_msg_init_data(&m, data, size, NULL, NULL);
    }
    if (zmq_msg_send(&m, sock, last ? 0 : ZMQ_SNDMORE) < 0) {
      int e = errno;
      zmq_msg_close(&m); /* releases the block if this was the last frame */
      errno = e;
      return -1;
    }
  }
  return 0;
}

int o2o_wire_rx_init(o2o_wire_rx *rx) {
  memset(rx, 0, sizeof *rx);
  rx->msgs = calloc(O2O_WIRE_RX_FRAMES, sizeof(zmq_msg_t));
  if (!rx->msgs) return -1;
  zmq_msg_t *m = rx->msgs;
  for (int i = 0; i < O2O_WIRE_RX_FRAMES; i++)
    zmq_msg_init(&m[i]);
  return 0;
}

void o2o_wire_rx_free(o2o_wire_rx *rx) {
  if (!rx->msgs) return;
  zmq_msg_t *m = rx->msgs;
  for (int i = 0; i < O2O_WIRE_RX_FRAMES; i++)
    zmq_msg_close(&m[i]);
  free(rx->msgs);
  rx->msgs = NULL;
}

int o2o_wire_recv(void *sock, o2o_wire_rx *rx, int zmq_flags) {
  zmq_msg_t *m = rx->msgs;
  rx->num_frames = rx->total_frames = 0;
  rx->total_bytes = 0;
  zmq_msg_t extra;
  zmq_msg_init(&extra);
  for (;;) {
    int keep = rx->total_frames < O2O_WIRE_RX_FRAMES;
    zmq_msg_t *dst = keep ? &m[rx->total_frames] : &extra;
    /* After the first part the rest of a multipart message is already here. */
    int rc = zmq_msg_recv(dst, sock, rx->total_frames ? 0 : zmq_flags);
    if (rc < 0) {
      zmq_msg_close(&extra);
      return -1;
    }
    rx->total_bytes += zmq_msg_size(dst);
    if (keep) {
      rx->frames[rx->num_frames].data = zmq_msg_data(dst);
      rx->frames[rx->num_frames].size = zmq_msg_size(dst);
      rx->num_frames++;
    }
    rx->total_frames++;
    if (!zmq_msg_more(dst)) break;
  }
  zmq_msg_close(&extra);
  return 0;
}

/* ---- CURVE key files --------------------------------------------------------------- */

int o2o_wire_read_key_file(const char *path, char public_key[41], char secret_key[41], char *err,
                           size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) {
    o2o_bridge_errf(err, errlen, "%s: cannot open key file: %s", path, strerror(errno));
    return -1;
  }
  if (public_key) public_key[0] = 0;
  if (secret_key) secret_key[0] = 0;
  char line[256];
  int lineno = 0, rc = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    size_t len = strcspn(line, "\r\n");
    line[len] = 0;
    if (len == 0 || line[0] == '#') continue;
    char *eq = strchr(line, '=');
    /* Z85 uses '=' too, so split at the first one only. */
    char *key = eq ? eq + 1 : NULL;
    if (!eq || strlen(key) != 40) {
      o2o_bridge_errf(err, errlen,
                      "%s:%d: expected public=KEY or secret=KEY with a 40-character Z85 key", path,
                      lineno);
      rc = -1;
      break;
    }
    *eq = 0;
    uint8_t bin[32];
    if (!zmq_z85_decode(bin, key)) {
      o2o_bridge_errf(err, errlen, "%s:%d: not a valid Z85 key", path, lineno);
      rc = -1;
      break;
    }
    if (strcmp(line, "public") == 0) {
      if (public_key) memcpy(public_key, key, 41);
    } else if (strcmp(line, "secret") == 0) {
      if (secret_key) memcpy(secret_key, key, 41);
    } else {
      o2o_bridge_errf(err, errlen, "%s:%d: unknown key '%s' (expected public or secret)", path,
                      lineno, line);
      rc = -1;
      break;
    }
  }
  fclose(f);
  if (rc) return rc;
  if (public_key && !public_key[0]) {
    o2o_bridge_errf(err, errlen, "%s: no public= line", path);
    return -1;
  }
  if (secret_key && !secret_key[0]) {
    o2o_bridge_errf(err, errlen, "%s: no secret= line (this must be a .key file, not a .pub file)",
                    path);
    return -1;
  }
  return 0;
}

static int write_text(const char *path, const char *text, int mode, char *err, size_t errlen) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0) {
    o2o_bridge_errf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
    return -1;
  }
  size_t len = strlen(text);
  ssize_t w = write(fd, text, len);
  int rc = close(fd);
  if (w != (ssize_t)len || rc) {
    o2o_bridge_errf(err, errlen, "%s: write failed: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

int o2o_wire_write_key_pair(const char *dir, const char *name, char *err, size_t errlen) {
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0) {
    o2o_bridge_errf(err, errlen, "zmq_curve_keypair failed: %s (libzmq without CURVE?)",
                    zmq_strerror(errno));
    return -1;
  }
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    o2o_bridge_errf(err, errlen, "%s: cannot create directory: %s", dir, strerror(errno));
    return -1;
  }
  char path[1024], text[256];
  snprintf(text, sizeof text, "# o2o CURVE key pair (keep secret)\npublic=%s\nsecret=%s\n", pub,
           sec);
  snprintf(path, sizeof path, "%s/%s.key", dir, name);
  if (write_text(path, text, 0600, err, errlen)) return -1;
  snprintf(text, sizeof text, "# o2o CURVE public key\npublic=%s\n", pub);
  snprintf(path, sizeof path, "%s/%s.pub", dir, name);
  return write_text(path, text, 0644, err, errlen);
}
