/* test_wire.c: the message codec (bridge/o2o_wire.h): round trip of every message type,
 * refusal of every kind of malformed message, corpus replay, zero-copy send blocks. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "fuzz_frames.h"
#include "o2o_wire.h"

static uint8_t hbuf[O2O_WIRE_HEADER_SIZE];
static char err[512];

/* Packs h into hbuf and decodes header + arrays. */
static int decode(const o2o_wire_header *h, const o2o_wire_frame *arrays, int n, o2o_wire_msg *m) {
  o2o_wire_frame f[O2O_WIRE_MAX_ARRAYS + 4];
  o2o_wire_header_pack(h, hbuf);
  f[0] = (o2o_wire_frame){hbuf, sizeof hbuf};
  for (int i = 0; i < n; i++)
    f[i + 1] = arrays[i];
  err[0] = 0;
  return o2o_wire_decode(f, n + 1, m, err, sizeof err);
}

Test(wire, header_round_trip) {
  o2o_wire_header h, g;
  o2o_wire_header_init(&h, O2O_MSG_STEP | O2O_MSG_REPLY, 0xDEADBEEF);
  h.flags = 7;
  h.code = -3;
  h.num_envs = 1;
  h.obs_dim = 2;
  h.act_dim = 3;
  h.env = 4;
  h.width = 5;
  h.height = 6;
  h.state_dim = 7;
  h.num_params = 8;
  h.max_episode_steps = 9;
  h.dt = 0.0125;
  o2o_wire_header_pack(&h, hbuf);
  cr_assert_eq(hbuf[0], 'O');
  cr_assert_eq(hbuf[1], '2');
  cr_assert_eq(hbuf[2], 'O');
  cr_assert_eq(hbuf[3], 'W');
  cr_assert_eq(hbuf[4], 1); /* version, little-endian */
  cr_assert_eq(hbuf[6], 0x83);
  cr_assert_eq(hbuf[8], 0xEF); /* request id LE */
  cr_assert_eq(hbuf[20], 1);   /* num_envs at offset 20 */
  cr_assert_eq(hbuf[52], 9);   /* max_episode_steps at 52 */
  o2o_wire_header_unpack(hbuf, &g);
  cr_assert_eq(memcmp(&h, &g, sizeof h), 0);
}

Test(wire, every_type_round_trips) {
  enum { N = 3, O = 5, A = 2, S = 9, P = 2, W = 4, H = 3 };
  float obs[N * O], fobs[N * O], rew[N], act[N * A];
  uint8_t term[N] = {0, 1, 0}, trunc[N] = {1, 0, 0}, rgb[W * H * 3];
  int32_t eps[N] = {4, 0, 7};
  uint64_t seeds[N] = {1, 2, 3};
  double state[N * S], vals[P] = {1.5, 2}; /* GET/SET_STATE of num_envs = N envs */
  char names[P][32] = {"gravity_scale", "action_delay"};
  for (int i = 0; i < N * O; i++)
    obs[i] = (float)i, fobs[i] = (float)-i;
  for (int i = 0; i < N * A; i++)
    act[i] = 0.25f * (float)i;
  for (int i = 0; i < N; i++)
    rew[i] = (float)i / 3;
  for (int i = 0; i < N * S; i++)
    state[i] = i * 1.5;
  for (int i = 0; i < W * H * 3; i++)
    rgb[i] = (uint8_t)i;
  struct {
    int type;
    int n;
    o2o_wire_frame a[6];
  } cases[] = {
      {O2O_MSG_HELLO, 0, {{0}}},
      {O2O_MSG_RESET, 1, {{seeds, sizeof seeds}}},
      {O2O_MSG_RESET | O2O_MSG_REPLY, 1, {{obs, sizeof obs}}},
      {O2O_MSG_STEP, 1, {{act, sizeof act}}},
      {O2O_MSG_STEP | O2O_MSG_REPLY,
       6,
       {{obs, sizeof obs},
        {rew, sizeof rew},
        {term, sizeof term},
        {trunc, sizeof trunc},
        {fobs, sizeof fobs},
        {eps, sizeof eps}}},
      {O2O_MSG_SET_DYNAMICS, 2, {{names, sizeof names}, {vals, sizeof vals}}},
      {O2O_MSG_SET_DYNAMICS | O2O_MSG_REPLY, 2, {{names, sizeof names}, {vals, sizeof vals}}},
      {O2O_MSG_GET_STATE, 0, {{0}}},
      {O2O_MSG_GET_STATE | O2O_MSG_REPLY, 1, {{state, sizeof state}}},
      {O2O_MSG_SET_STATE, 1, {{state, sizeof state}}},
      {O2O_MSG_SET_STATE | O2O_MSG_REPLY, 0, {{0}}},
      {O2O_MSG_RENDER, 0, {{0}}},
      {O2O_MSG_RENDER | O2O_MSG_REPLY, 1, {{rgb, sizeof rgb}}},
      {O2O_MSG_CLOSE, 0, {{0}}},
      {O2O_MSG_CLOSE | O2O_MSG_REPLY, 0, {{0}}},
      {O2O_MSG_ERROR, 1, {{"STEP: something", 15}}},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    o2o_wire_header h;
    o2o_wire_header_init(&h, cases[k].type, 100 + (uint32_t)k);
    h.num_envs = N;
    h.obs_dim = O;
    h.act_dim = A;
    h.env = 2;
    h.state_dim = S;
    h.num_params = P;
    h.width = W;
    h.height = H;
    h.code = cases[k].type == O2O_MSG_ERROR ? O2O_WIRE_ESIM : 0;
    o2o_wire_msg m;
    int rc = decode(&h, cases[k].a, cases[k].n, &m);
    cr_assert_eq(rc, 0, "%s: %s", o2o_wire_type_name(cases[k].type), err);
    cr_assert_eq(m.h.type, cases[k].type);
    cr_assert_eq(m.h.request_id, 100 + k);
    cr_assert_eq(m.num_arrays, cases[k].n);
    for (int i = 0; i < cases[k].n; i++) {
      cr_assert_eq(m.arrays[i].size, cases[k].a[i].size, "%s array %d",
                   o2o_wire_type_name(cases[k].type), i);
      cr_assert_eq(memcmp(m.arrays[i].data, cases[k].a[i].data, m.arrays[i].size), 0);
    }
  }
}

Test(wire, spec_round_trip) {
  o2o_bridge_spec s = {0}, t;
  snprintf(s.scenario, sizeof s.scenario, "hopper-gravity");
  snprintf(s.variant, sizeof s.variant, "sim");
  snprintf(s.task, sizeof s.task, "hopper");
  s.num_envs = 16;
  s.obs_dim = 11;
  s.act_dim = 3;
  for (int i = 0; i < 3; i++)
    s.act_low[i] = -1, s.act_high[i] = 1;
  s.dt = 0.008;
  s.max_episode_steps = 1000;
  s.state_dim = 126;
  s.num_params = 2;
  snprintf(s.param_names[0], 32, "gravity_scale");
  snprintf(s.param_names[1], 32, "action_delay");
  s.params[0] = 2.0;
  s.params[1] = 3;
  o2o_wire_header h;
  o2o_wire_frame a[5];
  char text[O2O_WIRE_MAX_TEXT];
  cr_assert_eq(o2o_wire_spec_encode(&s, 9, &h, text, a), 0);
  o2o_wire_msg m;
  cr_assert_eq(decode(&h, a, 5, &m), 0, "%s", err);
  cr_assert_eq(o2o_wire_spec_decode(&m, &t, err, sizeof err), 0, "%s", err);
  cr_assert_eq(memcmp(&s, &t, sizeof s), 0);
}

/* ---- refusals --------------------------------------------------------------------- */

static int expect_code(int rc, int code, const char *what) {
  cr_assert_eq(rc, -code, "%s: got %d (%s), expected %s", what, rc, err, o2o_wire_error_name(code));
  cr_assert(strlen(err) > 0, "%s: no error text", what);
  return 0;
}

Test(wire, refuses_malformed_messages) {
  o2o_wire_msg m;
  o2o_wire_header h;
  float act[8] = {0};
  o2o_wire_frame a = {act, sizeof act};

  expect_code(o2o_wire_decode(NULL, 0, &m, err, sizeof err), O2O_WIRE_EHEADER, "no frames");
  uint8_t junk[64] = "random bytes that are not an o2o header at all..";
  o2o_wire_frame f = {junk, sizeof junk};
  expect_code(o2o_wire_decode(&f, 1, &m, err, sizeof err), O2O_WIRE_EHEADER, "bad magic");
  f.size = 3;
  expect_code(o2o_wire_decode(&f, 1, &m, err, sizeof err), O2O_WIRE_EHEADER, "3-byte header");

  o2o_wire_header_init(&h, O2O_MSG_STEP, 5);
  h.num_envs = 4;
  h.act_dim = 2;
  cr_assert_eq(decode(&h, &a, 1, &m), 0, "%s", err);

  o2o_wire_header g = h;
  g.version = 2;
  expect_code(decode(&g, &a, 1, &m), O2O_WIRE_EVERSION, "version 2");
  cr_assert_eq(m.h.request_id, 5, "the request id survives a version error");
  cr_assert_eq(m.h.version, 2);

  o2o_wire_header_pack(&h, hbuf);
  o2o_wire_frame two[2] = {{hbuf, 63}, a};
  expect_code(o2o_wire_decode(two, 2, &m, err, sizeof err), O2O_WIRE_EHEADER, "63-byte header");

  g = h;
  g.type = 0x42;
  expect_code(decode(&g, &a, 1, &m), O2O_WIRE_ETYPE, "unknown type");
  g.type = 0;
  expect_code(decode(&g, &a, 1, &m), O2O_WIRE_ETYPE, "type 0");

  expect_code(decode(&h, &a, 0, &m), O2O_WIRE_EFRAMES, "missing action frame");
  o2o_wire_frame extra[2] = {a, a};
  expect_code(decode(&h, extra, 2, &m), O2O_WIRE_EFRAMES, "extra frame");

  o2o_wire_frame shortf = {act, sizeof act - 4};
  expect_code(decode(&h, &shortf, 1, &m), O2O_WIRE_ESIZE, "truncated actions");

  g = h;
  g.num_envs = -1;
  expect_code(decode(&g, &a, 1, &m), O2O_WIRE_EDIMS, "negative num_envs");
  g.num_envs = 0;
  expect_code(decode(&g, &a, 1, &m), O2O_WIRE_EDIMS, "zero num_envs");
  g = h;
  g.num_envs = O2O_WIRE_MAX_ENVS + 1;
  expect_code(decode(&g, &a, 1, &m), O2O_WIRE_ETOOLARGE, "too many envs");
  g = h;
  g.act_dim = 1 << 30;
  expect_code(decode(&g, &a, 1, &m), O2O_WIRE_ETOOLARGE, "huge act_dim");

  act[5] = NAN;
  expect_code(decode(&h, &a, 1, &m), O2O_WIRE_ENONFINITE, "NaN action");
  cr_assert(strstr(err, "env 2, component 1"), "names the env: %s", err);
  act[5] = INFINITY;
  expect_code(decode(&h, &a, 1, &m), O2O_WIRE_ENONFINITE, "inf action");
  act[5] = 0;

  o2o_wire_header_init(&g, O2O_MSG_RENDER, 1);
  g.width = 5000;
  g.height = 10;
  expect_code(decode(&g, NULL, 0, &m), O2O_WIRE_ETOOLARGE, "5000-pixel render");
  g.width = 10;
  /* an env index outside [0, 65535] is BAD_ARG, as an env outside the server's envs is */
  g.env = -2;
  expect_code(decode(&g, NULL, 0, &m), O2O_WIRE_EARG, "negative env");
  g.env = O2O_WIRE_MAX_ENVS;
  expect_code(decode(&g, NULL, 0, &m), O2O_WIRE_EARG, "env 65536");
  g.env = O2O_WIRE_MAX_ENVS - 1;
  cr_assert_eq(decode(&g, NULL, 0, &m), 0, "env 65535: %s", err);
  g.env = 0;

  /* undefined flag bits are refused, not ignored; NO_SEEDS belongs to RESET only */
  g.flags = 0x4;
  expect_code(decode(&g, NULL, 0, &m), O2O_WIRE_EHEADER, "flag bit 2 on RENDER");
  cr_assert(strstr(err, "flags") && strstr(err, "0x4"), "%s", err);
  g.flags = O2O_WIRE_FLAG_NO_SEEDS;
  expect_code(decode(&g, NULL, 0, &m), O2O_WIRE_EHEADER, "NO_SEEDS on RENDER");
  g.flags = 0;

  o2o_wire_header_init(&g, O2O_MSG_SET_STATE, 1);
  g.state_dim = O2O_WIRE_MAX_STATE + 1;
  o2o_wire_frame empty = {act, 0};
  expect_code(decode(&g, &empty, 1, &m), O2O_WIRE_ETOOLARGE, "huge state");
  /* num_envs 0 is the one-env form: f64[s]; n > 0 carries f64[n][s]; negative is refused */
  double st[6] = {0};
  o2o_wire_frame one = {st, 2 * sizeof(double)}, three = {st, sizeof st};
  g.state_dim = 2;
  cr_assert_eq(decode(&g, &one, 1, &m), 0, "one-env SET_STATE: %s", err);
  g.num_envs = 3;
  expect_code(decode(&g, &one, 1, &m), O2O_WIRE_ESIZE, "3 envs, 1 state");
  cr_assert_eq(decode(&g, &three, 1, &m), 0, "3-env SET_STATE: %s", err);
  g.num_envs = -1;
  expect_code(decode(&g, &three, 1, &m), O2O_WIRE_EDIMS, "num_envs -1");
  o2o_wire_header_init(&g, O2O_MSG_GET_STATE, 1);
  g.num_envs = O2O_WIRE_MAX_ENVS + 1;
  expect_code(decode(&g, NULL, 0, &m), O2O_WIRE_ETOOLARGE, "GET_STATE of too many envs");

  /* dynamics: names must be NUL-terminated printable, values finite */
  o2o_wire_header_init(&g, O2O_MSG_SET_DYNAMICS, 1);
  g.num_params = 1;
  char name[32];
  memset(name, 'x', 32);
  double v = 1;
  o2o_wire_frame dyn[2] = {{name, 32}, {&v, 8}};
  expect_code(decode(&g, dyn, 2, &m), O2O_WIRE_EARG, "unterminated name");
  memset(name, 0, 32);
  expect_code(decode(&g, dyn, 2, &m), O2O_WIRE_EARG, "empty name");
  snprintf(name, 32, "gravity_scale");
  v = NAN;
  expect_code(decode(&g, dyn, 2, &m), O2O_WIRE_ENONFINITE, "NaN dynamics value");
  v = 2;
  cr_assert_eq(decode(&g, dyn, 2, &m), 0, "%s", err);
  g.num_params = O2O_BRIDGE_MAX_PARAMS + 1;
  expect_code(decode(&g, dyn, 2, &m), O2O_WIRE_ETOOLARGE, "17 params");

  /* ERROR text: no NUL, at most 4096 bytes */
  o2o_wire_header_init(&g, O2O_MSG_ERROR, 1);
  static char big[O2O_WIRE_MAX_TEXT + 1];
  memset(big, 'a', sizeof big);
  o2o_wire_frame t = {big, sizeof big};
  expect_code(decode(&g, &t, 1, &m), O2O_WIRE_ETOOLARGE, "4097-byte text");
  t.size = 10;
  big[3] = 0;
  expect_code(decode(&g, &t, 1, &m), O2O_WIRE_EARG, "NUL in text");

  /* RESET with NO_SEEDS must have an empty seeds frame */
  o2o_wire_header_init(&g, O2O_MSG_RESET, 1);
  g.num_envs = 2;
  g.flags = O2O_WIRE_FLAG_NO_SEEDS;
  uint64_t seeds[2] = {0};
  o2o_wire_frame sf = {seeds, sizeof seeds};
  expect_code(decode(&g, &sf, 1, &m), O2O_WIRE_ESIZE, "seeds with NO_SEEDS");
  sf.size = 0;
  cr_assert_eq(decode(&g, &sf, 1, &m), 0, "%s", err);
  g.flags = O2O_WIRE_FLAG_NO_SEEDS | 0x80000000u;
  expect_code(decode(&g, &sf, 1, &m), O2O_WIRE_EHEADER, "RESET with bit 31");
}

/* The server's decoder looks at the type before anything the type shapes: a reply type
 * sent as a request is UNKNOWN_TYPE whatever its dims and frames (it was BAD_DIMS/BAD_FRAMES). */
Test(wire, request_decoder_checks_the_type_first) {
  o2o_wire_msg m;
  o2o_wire_header g;
  const int replies[] = {O2O_MSG_SPEC,
                         O2O_MSG_RESET | O2O_MSG_REPLY,
                         O2O_MSG_STEP | O2O_MSG_REPLY,
                         O2O_MSG_SET_DYNAMICS | O2O_MSG_REPLY,
                         O2O_MSG_GET_STATE | O2O_MSG_REPLY,
                         O2O_MSG_SET_STATE | O2O_MSG_REPLY,
                         O2O_MSG_RENDER | O2O_MSG_REPLY,
                         O2O_MSG_CLOSE | O2O_MSG_REPLY,
                         O2O_MSG_ERROR,
                         0x42};
  for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
    o2o_wire_header_init(&g, replies[i], 77);
    o2o_wire_header_pack(&g, hbuf);
    o2o_wire_frame f = {hbuf, sizeof hbuf};
    int rc = o2o_wire_decode_request(&f, 1, &m, err, sizeof err);
    cr_assert_eq(rc, -O2O_WIRE_ETYPE, "type 0x%x: got %d (%s)", replies[i], rc, err);
    cr_assert_eq(m.h.request_id, 77);
  }
  /* a request still decodes */
  o2o_wire_header_init(&g, O2O_MSG_HELLO, 78);
  o2o_wire_header_pack(&g, hbuf);
  o2o_wire_frame f = {hbuf, sizeof hbuf};
  cr_assert_eq(o2o_wire_decode_request(&f, 1, &m, err, sizeof err), 0, "%s", err);
}

Test(wire, nonfinite_scan_is_unaligned_safe) {
  uint8_t buf[4 * 10 + 1];
  float f = 1.0f;
  for (int i = 0; i < 10; i++)
    memcpy(buf + 1 + 4 * i, &f, 4);
  cr_assert_eq(o2o_wire_find_nonfinite_f32(buf + 1, 10), -1);
  f = NAN;
  memcpy(buf + 1 + 4 * 7, &f, 4);
  cr_assert_eq(o2o_wire_find_nonfinite_f32(buf + 1, 10), 7);
  double d[3] = {1, -INFINITY, 0};
  cr_assert_eq(o2o_wire_find_nonfinite_f64(d, 3), 1);
}

/* Every file of the fuzz corpus (and every crash input ever found) decodes without
 * crashing; under ASan this is the regression test for the fuzzer's findings. */
Test(wire, corpus_replay) {
  const char *dir = O2O_TEST_DATA_DIR "/bridge/corpus";
  DIR *d = opendir(dir);
  cr_assert(d, "cannot open %s", dir);
  struct dirent *e;
  int files = 0, valid = 0;
  static uint8_t data[1 << 20];
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    FILE *f = fopen(path, "rb");
    if (!f) continue;
    size_t size = fread(data, 1, sizeof data, f);
    fclose(f);
    o2o_wire_frame frames[FUZZ_MAX_FRAMES];
    int n = fuzz_split(data, size, frames);
    o2o_wire_msg m;
    int rc = o2o_wire_decode(frames, n, &m, err, sizeof err);
    cr_assert(rc <= 0 && rc > -O2O_WIRE_NUM_CODES, "%s: rc %d", path, rc);
    if (rc == 0) {
      valid++;
      unsigned sum = 0; /* touch every byte the decoder vouched for */
      for (int i = 0; i < m.num_arrays; i++)
        for (size_t k = 0; k < m.arrays[i].size; k++)
          sum += ((const uint8_t *)m.arrays[i].data)[k];
      (void)sum;
      o2o_bridge_spec spec;
      if (m.h.type == O2O_MSG_SPEC) o2o_wire_spec_decode(&m, &spec, err, sizeof err);
    } else {
      cr_assert(strlen(err) > 0, "%s: refused without a message", path);
    }
    files++;
  }
  closedir(d);
  cr_assert_geq(files, 16, "corpus has only %d files", files);
  cr_assert_geq(valid, 8, "corpus should hold valid messages of most types, has %d", valid);
}

/* Send blocks: a block still held by ZeroMQ is never reused; once released it is. */
Test(wire, send_blocks_are_reused_only_when_released) {
  void *ctx = zmq_ctx_new();
  void *a = zmq_socket(ctx, ZMQ_PAIR), *b = zmq_socket(ctx, ZMQ_PAIR);
  cr_assert_eq(zmq_bind(a, "inproc://wire-test"), 0);
  cr_assert_eq(zmq_connect(b, "inproc://wire-test"), 0);
  o2o_wire_tx *tx = o2o_wire_tx_create();
  o2o_wire_rx rx;
  o2o_wire_rx_init(&rx);
  float act[6];
  o2o_wire_header h;
  o2o_wire_header_init(&h, O2O_MSG_STEP, 0);
  h.num_envs = 3;
  h.act_dim = 2;
  /* three messages in flight at once: three blocks, each keeping its own contents */
  for (int k = 0; k < 3; k++) {
    for (int i = 0; i < 6; i++)
      act[i] = (float)(k * 10 + i);
    h.request_id = (uint32_t)k;
    o2o_wire_frame f = {act, sizeof act};
    cr_assert_eq(o2o_wire_send(a, tx, NULL, 0, &h, &f, 1), 0);
  }
  cr_assert_eq(o2o_wire_tx_blocks(tx), 3);
  for (int k = 0; k < 3; k++) {
    cr_assert_eq(o2o_wire_recv(b, &rx, 0), 0);
    o2o_wire_msg m;
    cr_assert_eq(o2o_wire_decode(rx.frames, rx.num_frames, &m, err, sizeof err), 0, "%s", err);
    cr_assert_eq(m.h.request_id, (uint32_t)k);
    float got[6];
    memcpy(got, m.arrays[0].data, sizeof got);
    cr_assert_eq(got[5], (float)(k * 10 + 5), "message %d was overwritten", k);
  }
  /* inproc releases a message when the receiver drops it: steady state needs no new blocks */
  o2o_wire_rx_free(&rx);
  o2o_wire_rx_init(&rx);
  for (int k = 0; k < 1000; k++) {
    o2o_wire_frame f = {act, sizeof act};
    cr_assert_eq(o2o_wire_send(a, tx, NULL, 0, &h, &f, 1), 0);
    cr_assert_eq(o2o_wire_recv(b, &rx, 0), 0);
  }
  cr_assert_leq(o2o_wire_tx_blocks(tx), 4, "blocks grew to %d", o2o_wire_tx_blocks(tx));
  o2o_wire_rx_free(&rx);
  zmq_close(a);
  zmq_close(b);
  zmq_ctx_term(ctx);
  o2o_wire_tx_destroy(tx);
}
