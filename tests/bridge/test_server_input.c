/* test_server_input.c: malformed requests to a live o2o-sim each get an ERROR with a code
 * and a text while another client keeps being served; a few thousand random and mutated
 * messages leave the server answering correct requests correctly. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "o2o_bridge.h"
#include "o2o_sim.h"
#include "o2o_wire.h"
#include "raw_peer.h"
#include "sim_proc.h"

static char err[O2O_BRIDGE_ERRLEN];

static void expect_error(raw_peer *r, const o2o_wire_frame *f, int n, int code, uint32_t rid,
                         const char *what) {
  o2o_wire_msg m;
  int rc = raw_call(r, f, n, &m, 3000);
  cr_assert_eq(rc, 0, "%s: no decodable reply (%d: %s)", what, rc, r->err);
  cr_assert_eq(m.h.type, O2O_MSG_ERROR, "%s: got %s instead of ERROR", what,
               o2o_wire_type_name(m.h.type));
  cr_assert_eq(m.h.code, code, "%s: code %s, expected %s (%.*s)", what,
               o2o_wire_error_name(m.h.code), o2o_wire_error_name(code), (int)m.arrays[0].size,
               (const char *)m.arrays[0].data);
  cr_assert_eq(m.h.request_id, rid, "%s: request id %u", what, m.h.request_id);
  cr_assert_gt(m.arrays[0].size, 5, "%s: no error text", what);
}

Test(server_input, every_bad_request_gets_an_error, .timeout = 60) {
  enum { N = 4 };
  sim_proc p;
  cr_assert_eq(sim_start(&p, "hopper", N, NULL), 0);
  o2o_client *good = sim_connect(p.endpoint, 5000, err, sizeof err);
  cr_assert(good, "%s", err);
  const o2o_bridge_spec *s = o2o_client_spec(good);
  raw_peer r;
  cr_assert_eq(raw_open(&r, p.endpoint), 0);

  uint8_t hb[O2O_WIRE_HEADER_SIZE];
  float act[N * 3] = {0};
  o2o_wire_header h;
  o2o_wire_header_init(&h, O2O_MSG_STEP, 41);
  h.num_envs = N;
  h.act_dim = s->act_dim;
  o2o_wire_header_pack(&h, hb);
  o2o_wire_frame f[24];
  f[0] = (o2o_wire_frame){hb, sizeof hb};
  f[1] = (o2o_wire_frame){act, sizeof act};
  /* the well-formed request works on the raw socket */
  o2o_wire_msg m;
  cr_assert_eq(raw_call(&r, f, 2, &m, 3000), 0, "%s", r.err);
  cr_assert_eq(m.h.type, O2O_MSG_STEP | O2O_MSG_REPLY);

  uint8_t junk[100];
  for (int i = 0; i < 100; i++)
    junk[i] = (uint8_t)(i * 37 + 11);
  o2o_wire_frame jf = {junk, sizeof junk};
  expect_error(&r, &jf, 1, O2O_WIRE_EHEADER, 0, "random bytes");
  expect_error(&r, f, 1, O2O_WIRE_EFRAMES, 41, "STEP without its action frame");
  o2o_wire_frame trunc[2] = {f[0], {act, sizeof act - 3}};
  expect_error(&r, trunc, 2, O2O_WIRE_ESIZE, 41, "truncated action frame");
  for (int i = 2; i < 20; i++)
    f[i] = f[1];
  expect_error(&r, f, 20, O2O_WIRE_EFRAMES, 41, "20 frames");

  o2o_wire_header g = h;
  g.act_dim = s->act_dim + 1;
  o2o_wire_header_pack(&g, hb);
  float act4[N * 4] = {0};
  o2o_wire_frame wrong[2] = {f[0], {act4, sizeof(float) * N * (size_t)g.act_dim}};
  expect_error(&r, wrong, 2, O2O_WIRE_EDIMS, 41, "one action value too many per env");
  g = h;
  g.env = 2; /* envs [2, 6) of a 4-env server */
  o2o_wire_header_pack(&g, hb);
  expect_error(&r, f, 2, O2O_WIRE_EARG, 41, "STEP range past the last env");
  g.env = -1;
  o2o_wire_header_pack(&g, hb);
  expect_error(&r, f, 2, O2O_WIRE_EARG, 41, "STEP from env -1");
  g = h;
  g.type = 0x33;
  g.request_id = 42;
  o2o_wire_header_pack(&g, hb);
  expect_error(&r, f, 2, O2O_WIRE_ETYPE, 42, "unknown type");
  g.type = O2O_MSG_STEP | O2O_MSG_REPLY;
  o2o_wire_header_pack(&g, hb);
  expect_error(&r, f, 1, O2O_WIRE_ETYPE, 42, "STEP reply type (obs_dim 0) as a request");
  g.type = O2O_MSG_SPEC;
  o2o_wire_header_pack(&g, hb);
  expect_error(&r, f, 1, O2O_WIRE_ETYPE, 42, "SPEC (wrong frame count) as a request");
  g = h;
  g.flags = 0x10;
  o2o_wire_header_pack(&g, hb);
  expect_error(&r, f, 2, O2O_WIRE_EHEADER, 41, "STEP with an undefined flag bit");
  g = h;
  g.type = O2O_MSG_CLOSE | O2O_MSG_REPLY;
  o2o_wire_header_pack(&g, hb);
  expect_error(&r, f, 1, O2O_WIRE_ETYPE, 41, "a reply sent as a request");
  g = h;
  g.num_envs = 1 << 24;
  o2o_wire_header_pack(&g, hb);
  expect_error(&r, f, 2, O2O_WIRE_ETOOLARGE, 41, "16M envs");
  g = h;
  g.version = 7;
  o2o_wire_header_pack(&g, hb);
  expect_error(&r, f, 2, O2O_WIRE_EVERSION, 41, "version 7");
  cr_assert_eq(r.rx.frames[0].size, O2O_WIRE_HEADER_SIZE);
  cr_assert_eq(((const uint8_t *)r.rx.frames[0].data)[4], O2O_WIRE_VERSION,
               "the VERSION error speaks the server's version");

  o2o_wire_header_pack(&h, hb);
  act[5] = NAN;
  expect_error(&r, f, 2, O2O_WIRE_ENONFINITE, 41, "NaN action");
  act[5] = 0;

  /* a big (8 MiB) action frame for a small header */
  size_t big = 8u << 20;
  uint8_t *bigbuf = calloc(big, 1);
  o2o_wire_frame bf[2] = {f[0], {bigbuf, big}};
  expect_error(&r, bf, 2, O2O_WIRE_ESIZE, 41, "8 MiB action frame");
  free(bigbuf);

  o2o_wire_header_init(&g, O2O_MSG_GET_STATE, 43);
  g.env = 99;
  o2o_wire_header_pack(&g, hb);
  expect_error(&r, f, 1, O2O_WIRE_EARG, 43, "GET_STATE of env 99");
  o2o_wire_header_init(&g, O2O_MSG_SET_STATE, 44);
  g.env = 0;
  g.state_dim = 3;
  double st[3] = {0};
  o2o_wire_header_pack(&g, hb);
  o2o_wire_frame sf[2] = {f[0], {st, sizeof st}};
  expect_error(&r, sf, 2, O2O_WIRE_EDIMS, 44, "SET_STATE with 3 doubles");
  o2o_wire_frame empty = {hb, 0};
  expect_error(&r, &empty, 1, O2O_WIRE_EHEADER, 0, "one empty frame");
  /* A bad header echoes the request_id of bytes 8..11 when the magic is right and the frame
   * has them, else 0. */
  o2o_wire_header_init(&g, O2O_MSG_HELLO, 45);
  o2o_wire_header_pack(&g, hb);
  o2o_wire_frame shorth = {hb, 40};
  expect_error(&r, &shorth, 1, O2O_WIRE_EHEADER, 45, "40-byte header");
  shorth.size = 10;
  expect_error(&r, &shorth, 1, O2O_WIRE_EHEADER, 0, "10-byte header");

  /* One leading empty frame is taken as a REQ delimiter (documented): the request is served
   * and the reply starts with an empty frame too. */
  o2o_wire_header_init(&g, O2O_MSG_HELLO, 46);
  o2o_wire_header_pack(&g, hb);
  o2o_wire_frame req_style[2] = {{hb, 0}, {hb, sizeof hb}};
  cr_assert_eq(raw_send(&r, req_style, 2), 0);
  cr_assert_eq(raw_recv(&r, &m, 3000), 0, "%s", r.err);
  cr_assert_eq(m.h.type, O2O_MSG_SPEC);
  cr_assert_eq(m.h.request_id, 46);
  cr_assert_eq(r.rx.num_frames, 7, "empty frame + SPEC's 6 frames, got %d", r.rx.num_frames);
  cr_assert_eq(r.rx.frames[0].size, 0, "the reply does not start with the empty frame");
  /* two leading empty frames: the second is the (empty) header */
  o2o_wire_frame two_empty[3] = {{hb, 0}, {hb, 0}, {hb, sizeof hb}};
  expect_error(&r, two_empty, 3, O2O_WIRE_EHEADER, 0, "two leading empty frames");

  /* SET_DYNAMICS: a repeated name is refused (it was accepted, the last value winning) */
  o2o_wire_header_init(&g, O2O_MSG_SET_DYNAMICS, 47);
  g.num_params = 2;
  o2o_wire_header_pack(&g, hb);
  char names[2][32] = {"mass_scale", "mass_scale"};
  double vals[2] = {2.0, 3.0};
  o2o_wire_frame df[3] = {{hb, sizeof hb}, {names, sizeof names}, {vals, sizeof vals}};
  expect_error(&r, df, 3, O2O_WIRE_EARG, 47, "mass_scale twice");
  cr_assert(memmem(r.rx.frames[1].data, r.rx.frames[1].size, "'mass_scale' given twice", 23),
            "the error does not name the repeated parameter");
  cr_assert_eq(o2o_client_set_dynamics(good, 0, NULL, NULL, err, sizeof err), 0, "%s", err);
  cr_assert_eq(s->params[2], 1.0, "a refused SET_DYNAMICS changed mass_scale");

  /* the well-behaved client was never disturbed */
  o2o_bridge_batch b;
  cr_assert_eq(o2o_client_step(good, act, &b, err, sizeof err), 0, "%s", err);
  raw_close(&r);
  o2o_client_destroy(good);
  sim_stop(&p);
}

/* xorshift64*: the test's own deterministic randomness */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return (uint32_t)((rng * 2685821657736338717ull) >> 32);
}

Test(server_input, live_fuzz_leaves_the_server_correct, .timeout = 240) {
  enum { N = 2, MESSAGES = 3000 };
  sim_proc p;
  cr_assert_eq(sim_start(&p, "hopper", N, NULL), 0);
  o2o_client *good = sim_connect(p.endpoint, 5000, err, sizeof err);
  cr_assert(good, "%s", err);
  const o2o_bridge_spec *s = o2o_client_spec(good);
  raw_peer r;
  cr_assert_eq(raw_open(&r, p.endpoint), 0);

  static uint8_t frames[8][4096];
  size_t sizes[8];
  int errors = 0, replies = 0, dyn_changes = 0;
  /* The parameters in effect: nominal, then whatever the last accepted SET_DYNAMICS says. */
  double expect_params[O2O_BRIDGE_MAX_PARAMS] = {1, 1, 1, 1, 1, 0, 0, 0};
  cr_assert_eq(s->num_params, 8);
  cr_assert_eq(memcmp(s->params, expect_params, 8 * sizeof(double)), 0);
  for (int k = 0; k < MESSAGES; k++) {
    /* a valid request template... */
    o2o_wire_header h;
    int types[] = {O2O_MSG_HELLO,        O2O_MSG_RESET,     O2O_MSG_STEP,
                   O2O_MSG_SET_DYNAMICS, O2O_MSG_GET_STATE, O2O_MSG_SET_STATE};
    o2o_wire_header_init(&h, types[rnd() % 6], (uint32_t)k + 1);
    h.num_envs = N;
    h.act_dim = s->act_dim;
    h.env = (int32_t)(rnd() % N);
    h.state_dim = s->state_dim;
    h.num_params = 1;
    int n = 1;
    o2o_wire_header_pack(&h, frames[0]);
    sizes[0] = O2O_WIRE_HEADER_SIZE;
    switch (h.type) {
    case O2O_MSG_RESET:
      sizes[n++] = 8 * N;
      break;
    case O2O_MSG_STEP:
      sizes[n++] = 4 * N * (size_t)s->act_dim;
      break;
    case O2O_MSG_SET_DYNAMICS:
      memset(frames[1], 0, 32);
      strcpy((char *)frames[1], "mass_scale");
      sizes[n++] = 32;
      sizes[n++] = 8;
      break;
    case O2O_MSG_SET_STATE:
      sizes[n++] = 8 * (size_t)s->state_dim;
      break;
    }
    for (int i = 1; i < n; i++)
      if (h.type != O2O_MSG_SET_DYNAMICS || i == 2)
        for (size_t b = 0; b < sizes[i]; b++)
          frames[i][b] = (uint8_t)rnd();
    if (h.type == O2O_MSG_SET_DYNAMICS && rnd() % 2) { /* half of them a valid mass_scale */
      double v = 0.5 + (double)(rnd() % 100) / 100.0;
      memcpy(frames[2], &v, 8);
    }
    if (h.type == O2O_MSG_STEP) /* mostly sane actions so many STEPs are accepted */
      for (size_t b = 0; b < sizes[1] / 4; b++) {
        float v = (float)(rnd() % 200) / 100.0f - 1.0f;
        memcpy(frames[1] + 4 * b, &v, 4);
      }
    /* ...then mutated */
    int kind = (int)(rnd() % 6);
    if (kind == 0) { /* random bytes */
      n = 1 + (int)(rnd() % 3);
      for (int i = 0; i < n; i++) {
        sizes[i] = rnd() % 200;
        for (size_t b = 0; b < sizes[i]; b++)
          frames[i][b] = (uint8_t)rnd();
      }
    } else if (kind == 1) { /* flip bytes */
      for (int j = 0; j < 4; j++) {
        int i = (int)(rnd() % (unsigned)n);
        if (sizes[i]) frames[i][rnd() % sizes[i]] ^= (uint8_t)(1u << (rnd() % 8));
      }
    } else if (kind == 2) { /* truncate a frame */
      int i = (int)(rnd() % (unsigned)n);
      if (sizes[i]) sizes[i] = rnd() % sizes[i];
    } else if (kind == 3 && n > 1) { /* drop the last frame */
      n--;
    } else if (kind == 4 && n < 8) { /* duplicate a frame */
      memcpy(frames[n], frames[n - 1], sizes[n - 1]);
      sizes[n] = sizes[n - 1];
      n++;
    } /* kind 5: unchanged (valid, with random contents) */
    /* CLOSE would end the test's server and RENDER needs a display: keep them out */
    if (sizes[0] >= 8 && (frames[0][6] == O2O_MSG_CLOSE || frames[0][6] == O2O_MSG_RENDER) &&
        frames[0][7] == 0)
      frames[0][6] = 0x55;
    o2o_wire_frame f[8];
    for (int i = 0; i < n; i++)
      f[i] = (o2o_wire_frame){frames[i], sizes[i]};
    o2o_wire_msg m;
    int rc = raw_call(&r, f, n, &m, 3000);
    cr_assert_neq(rc, 1, "message %d (kind %d) got no reply", k, kind);
    cr_assert_eq(rc, 0, "message %d: undecodable reply: %s", k, r.err);
    replies++;
    if (m.h.type == O2O_MSG_ERROR) {
      errors++;
      cr_assert(m.h.code > 0 && m.h.code < O2O_WIRE_NUM_CODES, "code %d", m.h.code);
      cr_assert_gt(m.arrays[0].size, 0, "ERROR without text");
    } else {
      cr_assert(m.h.type & O2O_MSG_REPLY, "message %d: reply type %x", k, m.h.type);
      if (m.h.type == (O2O_MSG_SET_DYNAMICS | O2O_MSG_REPLY)) {
        cr_assert_eq(m.h.num_params, 8, "message %d", k);
        memcpy(expect_params, m.arrays[1].data, 8 * sizeof(double));
        dyn_changes++;
      }
    }
  }
  cr_assert_eq(replies, MESSAGES);
  cr_assert_gt(errors, MESSAGES / 4, "only %d errors: the mutations are too timid", errors);
  cr_assert_lt(errors, MESSAGES, "nothing was accepted: the templates are broken");
  raw_close(&r);
  cr_assert_eq(waitpid(p.pid, NULL, WNOHANG), 0, "o2o-sim died");

  /* Before anything is reset: a new client sees the same spec, and exactly the parameters
   * the accepted SET_DYNAMICS requests left (a refused one changed nothing). */
  o2o_client *fresh = o2o_client_connect(p.endpoint, 5000, err, sizeof err);
  cr_assert(fresh, "%s", err);
  const o2o_bridge_spec *f2 = o2o_client_spec(fresh);
  cr_assert(f2->num_envs == s->num_envs && f2->obs_dim == s->obs_dim && f2->act_dim == s->act_dim &&
                f2->state_dim == s->state_dim && f2->num_params == s->num_params &&
                f2->max_episode_steps == s->max_episode_steps && f2->dt == s->dt,
            "the fuzz changed the spec");
  cr_assert_str_eq(f2->scenario, s->scenario);
  cr_assert_str_eq(f2->variant, s->variant);
  cr_assert_str_eq(f2->task, s->task);
  cr_assert_eq(memcmp(f2->act_low, s->act_low, sizeof(float) * (size_t)s->act_dim), 0);
  cr_assert_eq(memcmp(f2->act_high, s->act_high, sizeof(float) * (size_t)s->act_dim), 0);
  cr_assert_eq(memcmp(f2->param_names, s->param_names, 32 * (size_t)s->num_params), 0);
  for (int i = 0; i < 8; i++)
    cr_assert_eq(f2->params[i], expect_params[i], "parameter %s is %g, the last accepted value %g",
                 f2->param_names[i], f2->params[i], expect_params[i]);
  cr_assert_gt(dyn_changes, 0, "no SET_DYNAMICS was accepted: the check above means nothing");
  o2o_client_destroy(fresh);

  /* A correct request is still answered correctly: same values as an in-process vecenv. */
  char names[8][32];
  for (int i = 0; i < 8; i++)
    memcpy(names[i], s->param_names[i], 32);
  double nominal[8] = {1, 1, 1, 1, 1, 0, 0, 0};
  cr_assert_eq(o2o_client_set_dynamics(good, 8, names, nominal, err, sizeof err), 0, "%s", err);
  o2o_scenario sc;
  cr_assert_eq(o2o_scenario_load(&sc, "hopper", err, sizeof err), 0, "%s", err);
  o2o_vecenv *env = o2o_vecenv_create(&sc, O2O_VARIANT_REAL, N, err, sizeof err);
  cr_assert(env, "%s", err);
  uint64_t seeds[N] = {100, 200};
  float o_r[N * O2O_BRIDGE_MAX_OBS], o_l[N * O2O_BRIDGE_MAX_OBS], act[N * O2O_BRIDGE_MAX_ACT];
  cr_assert_eq(o2o_client_reset(good, seeds, o_r, err, sizeof err), 0, "%s", err);
  o2o_vecenv_reset(env, seeds, o_l, err, sizeof err);
  cr_assert_eq(memcmp(o_r, o_l, sizeof(float) * N * (size_t)s->obs_dim), 0);
  for (int t = 0; t < 20; t++) {
    for (int i = 0; i < N * s->act_dim; i++)
      act[i] = 0.1f * (float)((t + i) % 5) - 0.2f;
    o2o_bridge_batch b;
    o2o_step_result res;
    cr_assert_eq(o2o_client_step(good, act, &b, err, sizeof err), 0, "%s", err);
    o2o_vecenv_step(env, act, &res, err, sizeof err);
    cr_assert_eq(memcmp(b.obs, res.obs, sizeof(float) * N * (size_t)s->obs_dim), 0);
    cr_assert_eq(memcmp(b.reward, res.reward, sizeof(float) * N), 0);
  }
  o2o_vecenv_destroy(env);
  o2o_client_destroy(good);
  sim_stop(&p);
}
