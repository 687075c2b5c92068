/* test_render_frames.c: offscreen frames of a hopper vecenv (size, not uniform, moving
 * body changes the picture, any size and env index, errors) and the live viewer. Needs
 * a display or Xvfb (CI: xvfb-run -a ctest). */
#include <GLFW/glfw3.h>
#include <criterion/criterion.h>
#include <time.h>

#include "o2o_image.h"
#include "o2o_sim_mj.h"
#include "render_mj.h"
#include "render_test_util.h"

static char err[1024];

static o2o_vecenv *make_hopper(int n) {
  o2o_scenario sc;
  cr_assert_eq(o2o_scenario_load(&sc, "hopper", err, sizeof err), 0, "%s", err);
  o2o_vecenv *env = o2o_vecenv_create(&sc, O2O_VARIANT_REAL, n, err, sizeof err);
  cr_assert_not_null(env, "%s", err);
  uint64_t seeds[4] = {1, 2, 3, 4};
  float obs[4 * O2O_SIM_MAX_OBS];
  cr_assert_eq(o2o_vecenv_reset(env, seeds, obs, err, sizeof err), 0, "%s", err);
  return env;
}

static double variance(const uint8_t *p, size_t n) {
  double s = 0, s2 = 0;
  for (size_t i = 0; i < n; i++)
    s += p[i], s2 += (double)p[i] * p[i];
  return s2 / n - (s / n) * (s / n);
}

/* Fraction of pixels whose colour differs by more than 24 in any channel. */
static double changed_fraction(const uint8_t *a, const uint8_t *b, int w, int h) {
  long changed = 0;
  for (long i = 0; i < (long)w * h; i++)
    for (int c = 0; c < 3; c++)
      if (abs((int)a[3 * i + c] - (int)b[3 * i + c]) > 24) {
        changed++;
        break;
      }
  return (double)changed / ((double)w * h);
}

Test(render_frames, hopper_frame_is_a_png_of_the_requested_size_and_not_uniform) {
  o2o_vecenv *env = make_hopper(1);
  int w = 200, h = 150; /* not square, not the model's offscreen size */
  o2o_renderer *r = o2o_renderer_create(env, w, h, 0, err, sizeof err);
  cr_assert_not_null(r, "%s", err);
  uint8_t *rgb = malloc((size_t)w * h * 3);
  cr_assert_eq(o2o_renderer_frame(r, 0, w, h, rgb, err, sizeof err), 0, "%s", err);
  char dir[64], png[128], raw[128], out[1024];
  rt_tempdir(dir, sizeof dir);
  snprintf(png, sizeof png, "%s/hopper.png", dir);
  snprintf(raw, sizeof raw, "%s/hopper.raw", dir);
  cr_assert_eq(o2o_png_write(png, rgb, w, h, err, sizeof err), 0, "%s", err);
  cr_assert_eq(rt_write_file(raw, rgb, (size_t)w * h * 3), 0);
  int dw, dh;
  double var;
  cr_assert_eq(rt_png_info(png, raw, &dw, &dh, &var, out, sizeof out), 0, "decoder: %s", out);
  cr_assert_eq(dw, w);
  cr_assert_eq(dh, h);
  /* A uniform image has variance 0; sky, floor and the hopper give far more. */
  cr_assert_gt(var, 100.0, "frame looks uniform (variance %.1f)", var);
  /* The hopper stands in the middle: its colour (brownish, red > blue) is there. */
  long body = 0;
  for (long i = 0; i < (long)w * h; i++)
    if (rgb[3 * i] > rgb[3 * i + 2] + 40) body++;
  cr_assert_gt(body, (long)w * h / 200, "no hopper-coloured pixels in the frame");
  unlink(png);
  unlink(raw);
  rmdir(dir);
  free(rgb);
  o2o_renderer_destroy(r);
  o2o_vecenv_destroy(env);
}

Test(render_frames, frames_of_a_moving_body_differ_and_a_still_one_repeats) {
  o2o_vecenv *env = make_hopper(1);
  const o2o_env_spec *sp = o2o_vecenv_spec(env);
  int w = 160, h = 120;
  o2o_renderer *r = o2o_renderer_create(env, w, h, 1, err, sizeof err);
  cr_assert_not_null(r, "%s", err);
  uint8_t *a = malloc((size_t)w * h * 3), *b = malloc((size_t)w * h * 3);
  cr_assert_eq(o2o_renderer_frame(r, 0, w, h, a, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_renderer_frame(r, 0, w, h, b, err, sizeof err), 0, "%s", err);
  cr_assert_eq(memcmp(a, b, (size_t)w * h * 3), 0, "same state, same picture");
  /* Bend the joints hard: the legs move in the picture. The largest change over the
   * episode counts (after a fall the env resets to a pose like the first one). */
  float act[O2O_SIM_MAX_ACT];
  o2o_step_result res;
  double changed = 0;
  for (int t = 0; t < 40; t++) {
    for (int k = 0; k < sp->act_dim; k++)
      act[k] = (k % 2) ? -1.0f : 1.0f;
    cr_assert_eq(o2o_vecenv_step(env, act, &res, err, sizeof err), 0, "%s", err);
    if (res.terminated[0] || res.truncated[0]) break;
    cr_assert_eq(o2o_renderer_frame(r, 0, w, h, b, err, sizeof err), 0, "%s", err);
    double c = changed_fraction(a, b, w, h);
    if (c > changed) changed = c;
  }
  cr_log_info("moving hopper: %.4f of the pixels changed\n", changed);
  cr_assert_gt(changed, 0.005, "only %.4f of the pixels changed", changed);
  free(a);
  free(b);
  o2o_renderer_destroy(r);
  o2o_vecenv_destroy(env);
}

/* The camera tracks the torso, so only the ground can show that the hopper moves: shift
 * the whole hopper by a third of a checker tile (rootx += 1/6 m); the picture of the floor
 * changes (with a flat floor it would not). */
Test(render_frames, the_floor_moves_under_a_tracked_hopper) {
  o2o_vecenv *env = make_hopper(1);
  const o2o_env_spec *sp = o2o_vecenv_spec(env);
  int w = 160, h = 120;
  o2o_renderer *r = o2o_renderer_create(env, w, h, 1, err, sizeof err);
  cr_assert_not_null(r, "%s", err);
  uint8_t *a = malloc((size_t)w * h * 3), *b = malloc((size_t)w * h * 3);
  double *state = malloc(sizeof(double) * (size_t)sp->state_dim);
  cr_assert_eq(o2o_renderer_frame(r, 0, w, h, a, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_vecenv_get_state(env, 0, state), 0);
  state[1] += 1.0 / 6.0; /* state = time, qpos (rootx first), ... */
  cr_assert_eq(o2o_vecenv_set_state(env, 0, state, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_renderer_frame(r, 0, w, h, b, err, sizeof err), 0, "%s", err);
  /* Lower third of the frame: floor only (the hopper's foot is above it). */
  int y0 = 2 * h / 3;
  double changed = changed_fraction(a + (size_t)y0 * w * 3, b + (size_t)y0 * w * 3, w, h - y0);
  cr_log_info("floor under a shifted hopper: %.3f of the pixels changed\n", changed);
  cr_assert_gt(changed, 0.05, "the floor looks the same after the hopper moved (%.3f changed)",
               changed);
  free(state);
  free(a);
  free(b);
  o2o_renderer_destroy(r);
  o2o_vecenv_destroy(env);
}

Test(render_frames, any_size_env_index_and_errors) {
  o2o_vecenv *env = make_hopper(3);
  o2o_renderer *r = o2o_renderer_create(env, 64, 48, 1, err, sizeof err);
  cr_assert_not_null(r, "%s", err);
  /* Bigger than the creation size: the offscreen buffer grows. */
  int w = 320, h = 200;
  uint8_t *rgb = malloc((size_t)w * h * 3);
  cr_assert_eq(o2o_renderer_frame(r, 2, w, h, rgb, err, sizeof err), 0, "%s", err);
  cr_assert_gt(variance(rgb, (size_t)w * h * 3), 100.0);
  /* Smaller again, and env 1. */
  cr_assert_eq(o2o_renderer_frame(r, 1, 32, 32, rgb, err, sizeof err), 0, "%s", err);
  cr_assert_neq(o2o_renderer_frame(r, 3, 32, 32, rgb, err, sizeof err), 0);
  cr_assert(strstr(err, "env index 3"), "%s", err);
  cr_assert_neq(o2o_renderer_frame(r, -1, 32, 32, rgb, err, sizeof err), 0);
  cr_assert_neq(o2o_renderer_frame(r, 0, 0, 32, rgb, err, sizeof err), 0);
  cr_assert(strstr(err, "0x32"), "%s", err);
  cr_assert_neq(o2o_renderer_frame(r, 0, 5000, 32, rgb, err, sizeof err), 0);
  cr_assert_neq(o2o_renderer_frame(r, 0, 32, 32, NULL, err, sizeof err), 0);
  free(rgb);
  o2o_renderer_destroy(r);
  o2o_vecenv_destroy(env);
}

Test(render_frames, no_display_says_how_to_run_headless) {
  o2o_vecenv *env = make_hopper(1);
  /* Criterion runs each test in its own process: GLFW is not initialised here yet. */
  unsetenv("DISPLAY");
  unsetenv("WAYLAND_DISPLAY");
  o2o_renderer *r = o2o_renderer_create(env, 64, 64, 0, err, sizeof err);
  cr_assert_null(r, "rendering without a display must fail");
  cr_assert(strstr(err, "xvfb-run -a"), "message should say how to run headless: %s", err);
  o2o_viewer *v = o2o_viewer_create(env, err, sizeof err);
  cr_assert_null(v);
  cr_assert(strstr(err, "xvfb-run -a"), "%s", err);
  o2o_vecenv_destroy(env);
}

/* o2o-sim --render with no client: idle updates play a demo on a private env (served env
 * 0 untouched); the first client step ends it. */
Test(render_frames, viewer_plays_a_demo_until_a_client_steps) {
  o2o_vecenv *env = make_hopper(1);
  const o2o_env_spec *sp = o2o_vecenv_spec(env);
  o2o_viewer *v = o2o_viewer_create(env, err, sizeof err);
  cr_assert_not_null(v, "%s", err);
  double *before = malloc(sizeof(double) * (size_t)sp->state_dim);
  double *after = malloc(sizeof(double) * (size_t)sp->state_dim);
  cr_assert_eq(o2o_vecenv_get_state(env, 0, before), 0);
  struct timespec pause = {0, 16 * 1000000L}; /* the server's idle receive timeout */
  for (int k = 0; k < 25; k++) {
    cr_assert_eq(o2o_viewer_update(v, NULL), 0);
    nanosleep(&pause, NULL);
  }
  long demo = o2o_viewer_demo_steps(v);
  cr_log_info("demo steps in 25 idle calls: %ld\n", demo);
  /* ~0.4 s at dt 0.008 s is ~50 steps; pacing may lag on a loaded machine */
  cr_assert_gt(demo, 10, "the demo did not play (%ld steps)", demo);
  cr_assert_eq(o2o_vecenv_get_state(env, 0, after), 0);
  cr_assert_eq(memcmp(before, after, sizeof(double) * (size_t)sp->state_dim), 0,
               "the demo must not touch the served env");
  float act[O2O_SIM_MAX_ACT] = {0};
  o2o_step_result res;
  cr_assert_eq(o2o_vecenv_step(env, act, &res, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_viewer_update(v, &res), 0);
  cr_assert_eq(o2o_viewer_demo_steps(v), 0, "a client step ends the demo");
  cr_assert_eq(o2o_viewer_update(v, NULL), 0);
  cr_assert_eq(o2o_viewer_demo_steps(v), 0, "and it does not come back");
  free(before);
  free(after);
  o2o_viewer_destroy(v);
  o2o_vecenv_destroy(env);
}

Test(render_frames, viewer_runs_paces_and_closes) {
  o2o_vecenv *env = make_hopper(1);
  const o2o_env_spec *sp = o2o_vecenv_spec(env);
  o2o_viewer *v = o2o_viewer_create(env, err, sizeof err);
  cr_assert_not_null(v, "%s", err);
  /* The offscreen renderer and the window coexist in one process (o2o-sim --render
   * answering RENDER requests). */
  o2o_renderer *r = o2o_renderer_create(env, 32, 32, 1, err, sizeof err);
  cr_assert_not_null(r, "%s", err);
  uint8_t rgb[32 * 32 * 3];
  cr_assert_eq(o2o_viewer_update(v, NULL), 0);
  float act[O2O_SIM_MAX_ACT] = {0};
  o2o_step_result res;
  int steps = 25;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int t = 0; t < steps; t++) {
    cr_assert_eq(o2o_vecenv_step(env, act, &res, err, sizeof err), 0, "%s", err);
    cr_assert_eq(o2o_viewer_update(v, &res), 0);
    cr_assert_eq(o2o_renderer_frame(r, 0, 32, 32, rgb, err, sizeof err), 0, "%s", err);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double el = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  /* Real time: 25 steps cannot take less than 25 dt (minus the first step's slack). */
  cr_assert_geq(el, (steps - 1) * sp->dt, "viewer ran faster than real time: %.3f s", el);
  /* F: as fast as possible; Esc closes the window -> 1. */
  o2o_viewer_press_key(v, GLFW_KEY_F);
  cr_assert_eq(o2o_vecenv_step(env, act, &res, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_viewer_update(v, &res), 0);
  o2o_viewer_press_key(v, GLFW_KEY_ESCAPE);
  cr_assert_eq(o2o_viewer_update(v, &res), 1);
  o2o_renderer_destroy(r);
  o2o_viewer_destroy(v);
  o2o_vecenv_destroy(env);
}
