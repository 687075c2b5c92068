/* test_server_limits.c: the server's limits and edge semantics from PROTOCOL.md: dynamics
 * scales have a floor, a big RENDER does not keep its memory, diverged physics is reported
 * (also as a pool's lost row), the start-up reset with --seed, pipelined requests. */
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

Test(server_limits, dynamics_scales_have_a_documented_floor, .timeout = 60) {
  sim_proc p;
  cr_assert_eq(sim_start(&p, "hopper", 1, NULL), 0);
  o2o_client *c = sim_connect(p.endpoint, 5000, err, sizeof err);
  cr_assert(c, "%s", err);
  const char *scales[] = {"gravity_scale", "friction_scale", "mass_scale", "gear_scale"};
  for (int i = 0; i < 4; i++) {
    char name[1][32] = {{0}};
    snprintf(name[0], 32, "%s", scales[i]);
    double tiny = 5e-324, below = 0.0099, floor_v = 0.01;
    cr_assert_eq(o2o_client_set_dynamics(c, 1, name, &tiny, err, sizeof err), O2O_BRIDGE_EREMOTE,
                 "%s = 5e-324 accepted", scales[i]);
    cr_assert(strstr(err, "BAD_ARG") && strstr(err, scales[i]) && strstr(err, "[0.01, 10]"), "%s",
              err);
    cr_assert_eq(o2o_client_set_dynamics(c, 1, name, &below, err, sizeof err), O2O_BRIDGE_EREMOTE);
    cr_assert_eq(o2o_client_set_dynamics(c, 1, name, &floor_v, err, sizeof err), 0, "%s", err);
    double one = 1;
    cr_assert_eq(o2o_client_set_dynamics(c, 1, name, &one, err, sizeof err), 0, "%s", err);
  }
  /* damping may be switched off */
  char damping[1][32] = {"damping_scale"};
  double zero = 0;
  cr_assert_eq(o2o_client_set_dynamics(c, 1, damping, &zero, err, sizeof err), 0, "%s", err);
  o2o_client_destroy(c);
  sim_stop(&p);
}

/* A 4096x4096 RENDER left o2o-sim at ~930 MB RSS for good (Mesa's offscreen buffers). */
Test(server_limits, a_big_render_does_not_keep_its_memory, .timeout = 120) {
  o2o_test_require(getenv("DISPLAY"), "no DISPLAY for RENDER (run under xvfb-run -a)");
  sim_proc p;
  cr_assert_eq(sim_start(&p, "hopper", 1, NULL), 0);
  o2o_client *c = sim_connect(p.endpoint, 60000, err, sizeof err);
  cr_assert(c, "%s", err);
  enum { SMALL = 64, BIG = 4096 };
  uint8_t *rgb = malloc((size_t)BIG * BIG * 3);
  cr_assert_eq(o2o_client_render(c, 0, SMALL, SMALL, rgb, err, sizeof err), 0, "%s", err);
  long base = sim_rss_kib(p.pid);
  cr_assert_eq(o2o_client_render(c, 0, BIG, BIG, rgb, err, sizeof err), 0, "%s", err);
  /* the server releases after sending the frame: one more round trip waits for that */
  double *st = malloc(sizeof(double) * (size_t)o2o_client_spec(c)->state_dim);
  cr_assert_eq(o2o_client_get_state(c, 0, st, err, sizeof err), 0, "%s", err);
  free(st);
  long after = sim_rss_kib(p.pid);
  cr_assert(base > 0 && after > 0);
#ifndef __SANITIZE_ADDRESS__ /* ASan's allocator keeps freed memory (quarantine): no measure */
  /* the frame itself (48 MiB) may stay in ZeroMQ's hands briefly; nothing near 1 GB does */
  cr_assert_lt(after - base, 200 * 1024, "RSS grew by %ld MiB after one %dx%d frame (from %ld MiB)",
               (after - base) / 1024, BIG, BIG, base / 1024);
#endif
  /* and rendering still works afterwards */
  cr_assert_eq(o2o_client_render(c, 0, SMALL, SMALL, rgb, err, sizeof err), 0, "%s", err);
  free(rgb);
  o2o_client_destroy(c);
  sim_stop(&p);
}

/* SET_STATE of a state whose physics blow up at the next step: that STEP's row is marked
 * (episode_step -1, truncated), the env starts a new episode, and a pool reports the row as
 * lost so no transition is stored across MuJoCo's silent reset. */
Test(server_limits, diverged_physics_is_reported_not_silently_reset, .timeout = 60) {
  enum { N = 2 };
  sim_proc p;
  cr_assert_eq(sim_start(&p, "hopper", N, NULL), 0);
  o2o_client *c = sim_connect(p.endpoint, 5000, err, sizeof err);
  cr_assert(c, "%s", err);
  const o2o_bridge_spec *s = o2o_client_spec(c);
  double *st = malloc(sizeof(double) * (size_t)s->state_dim);
  cr_assert_eq(o2o_client_get_state(c, 0, st, err, sizeof err), 0, "%s", err);
  double keep = st[1];
  st[1] = 1e300; /* qpos[0]: refused outright */
  cr_assert_eq(o2o_client_set_state(c, 0, st, err, sizeof err), O2O_BRIDGE_EREMOTE);
  cr_assert(strstr(err, "SIM") && strstr(err, "state[1]"), "%s", err);
  st[1] = keep;
  for (int j = 0; j < 6; j++)
    st[7 + j] = 1e6; /* qvel: accepted, diverges in the next step */
  cr_assert_eq(o2o_client_set_state(c, 0, st, err, sizeof err), 0, "%s", err);
  float act[N * 3] = {0};
  o2o_bridge_batch b;
  cr_assert_eq(o2o_client_step(c, act, &b, err, sizeof err), 0, "%s", err);
  cr_assert_eq(b.episode_step[0], -1, "episode_step %d: the reset was silent", b.episode_step[0]);
  cr_assert(b.truncated[0] && !b.terminated[0] && b.reward[0] == 0.0f);
  cr_assert_eq(b.episode_step[1], 1);

  /* the same through a pool connected to this server: a lost row, episode_step 0 */
  const char *eps[1] = {p.endpoint};
  o2o_pool_config cfg = {0};
  cfg.endpoints = eps;
  cfg.num_endpoints = 1;
  cfg.timeout_ms = 5000;
  cfg.quiet = 1;
  o2o_pool *pool = o2o_pool_create(&cfg, err, sizeof err);
  cr_assert(pool, "%s", err);
  float obs[N * 11];
  cr_assert_eq(o2o_pool_reset(pool, 3, obs, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_client_get_state(c, 1, st, err, sizeof err), 0, "%s", err);
  for (int j = 0; j < 6; j++)
    st[7 + j] = 1e6;
  cr_assert_eq(o2o_client_set_state(c, 1, st, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_pool_step(pool, act, &b, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_pool_lost(pool)[1], 1, "the pool did not mark the diverged row lost");
  cr_assert_eq(o2o_pool_lost(pool)[0], 0);
  cr_assert_eq(b.episode_step[1], 0);
  cr_assert(b.truncated[1]);
  cr_assert_eq(o2o_pool_step(pool, act, &b, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_pool_lost(pool)[1], 0);
  cr_assert_eq(b.episode_step[1], 1);
  o2o_pool_destroy(pool);
  free(st);
  o2o_client_destroy(c);
  sim_stop(&p);
}

/* The server resets every env with --seed at start (env i gets S + i), so STEP works before
 * any RESET; requests pipelined on one DEALER are answered in the order sent. */
Test(server_limits, start_reset_with_seed_and_pipelined_requests, .timeout = 60) {
  enum { N = 2, SEED = 7 };
  sim_proc p;
  cr_assert_eq(sim_start(&p, "hopper", N, "--seed=7"), 0);
  o2o_client *c = sim_connect(p.endpoint, 5000, err, sizeof err);
  cr_assert(c, "%s", err);
  o2o_scenario sc;
  cr_assert_eq(o2o_scenario_load(&sc, "hopper", err, sizeof err), 0, "%s", err);
  o2o_vecenv *env = o2o_vecenv_create(&sc, O2O_VARIANT_REAL, N, err, sizeof err);
  cr_assert(env, "%s", err);
  uint64_t seeds[N] = {SEED, SEED + 1};
  o2o_vecenv_reset(env, seeds, NULL, err, sizeof err);
  float act[N * 3];
  for (int i = 0; i < N * 3; i++)
    act[i] = 0.3f * (float)(i % 3) - 0.2f;
  o2o_bridge_batch b;
  o2o_step_result r;
  cr_assert_eq(o2o_client_step(c, act, &b, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_vecenv_step(env, act, &r, err, sizeof err), 0, "%s", err);
  cr_assert_eq(memcmp(b.obs, r.obs, sizeof(float) * N * 11), 0, "STEP before RESET: not seed %d",
               SEED);
  o2o_vecenv_destroy(env);
  o2o_client_destroy(c);

  raw_peer rp;
  cr_assert_eq(raw_open(&rp, p.endpoint), 0);
  enum { K = 12 };
  uint8_t hb[K][O2O_WIRE_HEADER_SIZE];
  for (int k = 0; k < K; k++) { /* HELLO, GET_STATE, STEP, ... sent without waiting */
    o2o_wire_header h;
    int type = k % 3 == 0 ? O2O_MSG_HELLO : k % 3 == 1 ? O2O_MSG_GET_STATE : O2O_MSG_STEP;
    o2o_wire_header_init(&h, type, 1000u + (uint32_t)k);
    if (type == O2O_MSG_STEP) h.num_envs = N, h.act_dim = 3;
    o2o_wire_header_pack(&h, hb[k]);
    o2o_wire_frame f[2] = {{hb[k], O2O_WIRE_HEADER_SIZE}, {act, sizeof act}};
    cr_assert_eq(raw_send(&rp, f, type == O2O_MSG_STEP ? 2 : 1), 0);
  }
  for (int k = 0; k < K; k++) {
    o2o_wire_msg m;
    cr_assert_eq(raw_recv(&rp, &m, 5000), 0, "reply %d: %s", k, rp.err);
    cr_assert_eq(m.h.request_id, 1000u + (uint32_t)k, "reply %d answers request %u", k,
                 m.h.request_id);
    cr_assert(m.h.type & O2O_MSG_REPLY && m.h.type != O2O_MSG_ERROR, "reply %d: %s", k,
              o2o_wire_type_name(m.h.type));
  }
  raw_close(&rp);
  sim_stop(&p);
}
