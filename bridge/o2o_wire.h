/* o2o_wire.h: the message codec and ZeroMQ transport of the bridge (bridge/PROTOCOL.md).
 *
 * Codec: pure functions over byte buffers (no ZeroMQ, no allocation), so they can be
 * fuzzed. A message is a list of frames: one 64-byte header, then the array frames of its
 * type. o2o_wire_decode validates everything a peer controls (header, magic, version,
 * type, frame count, every dimension against hard limits, every frame size against the
 * dimensions, NaN/inf in actions and dynamics values, text lengths) and never reads
 * outside the frames it is given.
 *
 * Transport: multipart send/receive on a ZeroMQ socket (DEALER on the client, ROUTER on
 * the server). Outgoing arrays are copied once into a reusable, reference-counted send
 * block owned by the sender and handed to ZeroMQ without further copies
 * (zmq_msg_init_data); a block is reused only after ZeroMQ released it, so a reply still
 * queued for a slow peer is never overwritten.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "o2o_bridge.h"

/* snprintf into an error buffer (NULL or 0-length buffers are ignored): the one error
 * writer of bridge/ and of the o2o-sim server. */
void o2o_bridge_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
extern "C" {
#endif

#define O2O_WIRE_MAGIC 0x574F324Fu /* bytes "O2OW" */
#define O2O_WIRE_VERSION 1
#define O2O_WIRE_HEADER_SIZE 64
#define O2O_WIRE_MAX_ARRAYS 6 /* array frames after the header (STEP reply) */
#define O2O_WIRE_NAME_SIZE 32 /* one parameter name record, NUL-padded */
#define O2O_WIRE_MAX_TEXT 4096

/* Hard limits on dimensions: a header asking for more is refused with O2O_WIRE_ETOOLARGE. */
#define O2O_WIRE_MAX_ENVS 65536
#define O2O_WIRE_MAX_STATE 1048576   /* doubles */
#define O2O_WIRE_MAX_PIXELS 4096     /* width and height of a RENDER frame */
#define O2O_WIRE_MAX_MSG (64u << 20) /* bytes of one message (all frames) */

/* Message types. A reply has the request's type | O2O_MSG_REPLY. */
enum {
  O2O_MSG_HELLO = 1,
  O2O_MSG_RESET = 2,
  O2O_MSG_STEP = 3,
  O2O_MSG_SET_DYNAMICS = 4,
  O2O_MSG_GET_STATE = 5,
  O2O_MSG_SET_STATE = 6,
  O2O_MSG_RENDER = 7,
  O2O_MSG_CLOSE = 8,
  O2O_MSG_REPLY = 0x80,
  O2O_MSG_SPEC = O2O_MSG_HELLO | O2O_MSG_REPLY,
  O2O_MSG_ERROR = 0xFF,
};

/* Header flags. */
#define O2O_WIRE_FLAG_NO_SEEDS 1u /* RESET: empty seeds frame, keep each env's RNG stream */
/* Any other bit, or NO_SEEDS on another type, is refused with O2O_WIRE_EHEADER. */

/* ERROR codes (header field "code" of an ERROR message). */
enum {
  O2O_WIRE_OK = 0,
  O2O_WIRE_EHEADER = 1,    /* header frame missing, wrong size or wrong magic */
  O2O_WIRE_EVERSION = 2,   /* protocol version not spoken by the receiver */
  O2O_WIRE_ETYPE = 3,      /* unknown message type, or a reply type sent as request */
  O2O_WIRE_EFRAMES = 4,    /* wrong number of frames for the message type */
  O2O_WIRE_ESIZE = 5,      /* a frame's byte size does not match the header */
  O2O_WIRE_EDIMS = 6,      /* counts/dims negative or not matching the server's envs */
  O2O_WIRE_ENONFINITE = 7, /* NaN or inf in actions, dynamics values or state */
  O2O_WIRE_ETOOLARGE = 8,  /* a dimension or the whole message exceeds the limits */
  O2O_WIRE_EARG = 9,  /* bad argument: env index/range, unknown or repeated parameter, bad text */
  O2O_WIRE_ESIM = 10, /* the simulator rejected the request (message says why) */
  O2O_WIRE_ERENDER = 11,   /* rendering unavailable (no display) or failed */
  O2O_WIRE_EINTERNAL = 12, /* server-side failure (out of memory, ...) */
  O2O_WIRE_NUM_CODES
};

/* The fixed 64-byte header, little-endian on the wire (offsets in PROTOCOL.md). */
typedef struct o2o_wire_header {
  uint32_t magic;
  uint16_t version;
  uint16_t type;
  uint32_t request_id;
  uint32_t flags;
  int32_t code; /* ERROR code, 0 otherwise */
  int32_t num_envs;
  int32_t obs_dim;
  int32_t act_dim;
  int32_t env; /* env index (GET_STATE, SET_STATE, RENDER) */
  int32_t width;
  int32_t height;
  int32_t state_dim;
  int32_t num_params;
  int32_t max_episode_steps;
  double dt;
} o2o_wire_header;

typedef struct o2o_wire_frame {
  const void *data;
  size_t size;
} o2o_wire_frame;

/* A decoded message: the header and views of its array frames (pointing into the frames
 * given to o2o_wire_decode; not necessarily aligned: read them with memcpy). */
typedef struct o2o_wire_msg {
  o2o_wire_header h;
  int num_arrays;
  o2o_wire_frame arrays[O2O_WIRE_MAX_ARRAYS];
} o2o_wire_msg;

void o2o_wire_header_init(o2o_wire_header *h, int type, uint32_t request_id);
void o2o_wire_header_pack(const o2o_wire_header *h, uint8_t out[O2O_WIRE_HEADER_SIZE]);
void o2o_wire_header_unpack(const uint8_t in[O2O_WIRE_HEADER_SIZE], o2o_wire_header *h);

/* Number of array frames of a message type and their exact byte sizes given the header
 * (SIZE_MAX = variable length, at most O2O_WIRE_MAX_TEXT). Returns the count, or -code
 * (O2O_WIRE_ETYPE, O2O_WIRE_EDIMS, O2O_WIRE_ETOOLARGE) with err set. */
int o2o_wire_layout(const o2o_wire_header *h, size_t sizes[O2O_WIRE_MAX_ARRAYS], char *err,
                    size_t errlen);

/* Decode and validate frames[0..nframes) (header first). Returns 0, or -code with err
 * naming the problem (frame index, field, value). On error msg->h holds whatever of the
 * header could be read (request_id is 0 if the header itself is unusable). */
int o2o_wire_decode(const o2o_wire_frame *frames, int nframes, o2o_wire_msg *msg, char *err,
                    size_t errlen);

/* o2o_wire_decode as the server needs it: a type that is not a request (a reply type, an
 * unknown type) is refused with O2O_WIRE_ETYPE before its dimensions or frames are looked
 * at. */
int o2o_wire_decode_request(const o2o_wire_frame *frames, int nframes, o2o_wire_msg *msg, char *err,
                            size_t errlen);

/* Index of the first non-finite float32/float64 in an unaligned buffer of n values, or -1. */
long o2o_wire_find_nonfinite_f32(const void *data, size_t n);
long o2o_wire_find_nonfinite_f64(const void *data, size_t n);

const char *o2o_wire_type_name(int type);
const char *o2o_wire_error_name(int code);

/* SPEC (HELLO reply) <-> o2o_bridge_spec. encode fills h and the 5 array frames: they
 * point into text (caller's buffer of O2O_WIRE_MAX_TEXT bytes) and into spec. */
int o2o_wire_spec_encode(const o2o_bridge_spec *spec, uint32_t request_id, o2o_wire_header *h,
                         char *text, o2o_wire_frame arrays[5]);
int o2o_wire_spec_decode(const o2o_wire_msg *msg, o2o_bridge_spec *spec, char *err, size_t errlen);

/* ---- transport (ZeroMQ) ------------------------------------------------------------- */

/* Send blocks owned by one socket's user; see the note at the top. */
typedef struct o2o_wire_tx o2o_wire_tx;
o2o_wire_tx *o2o_wire_tx_create(void);
/* Call after the socket was closed (ZeroMQ may release blocks later: they then free
 * themselves). NULL is fine. */
void o2o_wire_tx_destroy(o2o_wire_tx *tx);
/* Blocks currently allocated (to check that steady state does not grow). */
int o2o_wire_tx_blocks(const o2o_wire_tx *tx);

/* Send one message: nroute envelope frames (ROUTER identity, optional empty delimiter),
 * the packed header, then the arrays. Returns 0 or -1 with errno from ZeroMQ. */
int o2o_wire_send(void *sock, o2o_wire_tx *tx, const o2o_wire_frame *route, int nroute,
                  const o2o_wire_header *h, const o2o_wire_frame *arrays, int narrays);

/* Received multipart message. Frames past O2O_WIRE_RX_FRAMES are received and dropped but
 * counted in total_frames, so a decoder sees that there were too many. */
#define O2O_WIRE_RX_FRAMES 12
typedef struct o2o_wire_rx {
  void *msgs;       /* zmq_msg_t[O2O_WIRE_RX_FRAMES], opaque here to keep zmq.h out */
  int num_frames;   /* frames kept */
  int total_frames; /* frames received */
  size_t total_bytes;
  o2o_wire_frame frames[O2O_WIRE_RX_FRAMES];
} o2o_wire_rx;

int o2o_wire_rx_init(o2o_wire_rx *rx);
void o2o_wire_rx_free(o2o_wire_rx *rx);
/* Receive all parts of one message (zmq_flags: 0 or ZMQ_DONTWAIT). 0 or -1 with errno. */
int o2o_wire_recv(void *sock, o2o_wire_rx *rx, int zmq_flags);

/* CURVE keys: ZeroMQ Z85 text (40 characters). A key file holds lines "public=KEY" and
 * (for a secret key file) "secret=KEY"; '#' starts a comment. */
int o2o_wire_read_key_file(const char *path, char public_key[41], char secret_key[41], char *err,
                           size_t errlen);
/* Writes DIR/NAME.key (public + secret, mode 0600) and DIR/NAME.pub (public only). */
int o2o_wire_write_key_pair(const char *dir, const char *name, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
