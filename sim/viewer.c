/* viewer.c: the live window of `o2o-sim --render`.
 *
 * Shows env 0 with a camera tracking the main body and an overlay (step, reward, episode
 * return). The simulation loop stays in the caller: o2o_viewer_update is called after each
 * vecenv step and paces it to real time (or 1/4 of it in slow motion), blocks while paused,
 * and reports when the window was closed. Keys: space pause, S slow motion, right arrow
 * one step while paused, F as fast as possible, Esc close. Mouse: left drag rotates, right drag or
 * wheel zooms (the camera keeps following the body).
 *
 * Demo: until a client steps the envs (or changes env 0 by RESET or SET_STATE), the window
 * plays uniform random actions on a private 1-env copy of the scenario, so `o2o-sim
 * --render` alone shows the robot moving; the served envs are never touched by it. */
#include <GLFW/glfw3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "o2o_sim_mj.h"
#include "render_mj.h"

#define VIEWER_SLOW_FACTOR 4.0 /* slow motion = 1/4 of real time */
#define VIEWER_MAX_FPS 60.0    /* redraws per second while running */
#define DEMO_MAX_STEPS 16      /* demo steps per idle call (fast mode, or catching up) */

struct o2o_viewer {
  o2o_vecenv *env;
  const mjModel *m;
  GLFWwindow *window;
  int have_glfw, have_context;
  mjvScene scn;
  mjvCamera cam;
  mjvOption opt;
  mjrContext con;
  int track_body;
  /* user state */
  int paused, slow, fast, step_once;
  int button_left, button_right;
  double mouse_x, mouse_y;
  /* statistics of env 0 */
  long steps, episodes;
  float last_reward;
  double episode_return, last_episode_return;
  double last_time; /* env 0's simulated time at the last update */
  /* pacing */
  double deadline, last_draw;
  /* demo until a client acts (see the top comment) */
  int demo_off;
  o2o_vecenv *demo;
  double *state0, *state_now; /* served env 0 at creation / now */
  uint64_t demo_rng;
  double demo_t0; /* wall clock of demo step 0 (moved when paused or far behind) */
  long demo_due;  /* demo steps taken since demo_t0 */
};

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_seconds(double s) {
  if (s <= 0) return;
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  nanosleep(&ts, NULL);
}

static void handle_key(o2o_viewer *v, int key) {
  switch (key) {
  case GLFW_KEY_SPACE:
    v->paused = !v->paused;
    break;
  case GLFW_KEY_S:
    v->slow = !v->slow;
    break;
  case GLFW_KEY_F:
    v->fast = !v->fast;
    break;
  case GLFW_KEY_RIGHT:
    if (v->paused) v->step_once = 1;
    break;
  case GLFW_KEY_ESCAPE:
    glfwSetWindowShouldClose(v->window, GLFW_TRUE);
    break;
  default:
    break;
  }
}

static void on_key(GLFWwindow *w, int key, int scancode, int action, int mods) {
  (void)scancode, (void)mods;
  if (action != GLFW_RELEASE) handle_key(glfwGetWindowUserPointer(w), key);
}

void o2o_viewer_press_key(o2o_viewer *v, int glfw_key) {
  if (v) handle_key(v, glfw_key);
}

static void on_button(GLFWwindow *w, int button, int action, int mods) {
  (void)mods;
  o2o_viewer *v = glfwGetWindowUserPointer(w);
  int down = action == GLFW_PRESS;
  if (button == GLFW_MOUSE_BUTTON_LEFT) v->button_left = down;
  if (button == GLFW_MOUSE_BUTTON_RIGHT) v->button_right = down;
  glfwGetCursorPos(w, &v->mouse_x, &v->mouse_y);
}

static void on_cursor(GLFWwindow *w, double x, double y) {
  o2o_viewer *v = glfwGetWindowUserPointer(w);
  double dx = x - v->mouse_x, dy = y - v->mouse_y;
  v->mouse_x = x, v->mouse_y = y;
  if (!v->button_left && !v->button_right) return;
  int height = 1;
  glfwGetWindowSize(w, NULL, &height);
  if (height < 1) height = 1;
  int action = v->button_right ? mjMOUSE_ZOOM : mjMOUSE_ROTATE_V;
  mjv_moveCamera(v->m, action, dx / height, dy / height, &v->scn, &v->cam);
}

static void on_scroll(GLFWwindow *w, double xoff, double yoff) {
  (void)xoff;
  o2o_viewer *v = glfwGetWindowUserPointer(w);
  mjv_moveCamera(v->m, mjMOUSE_ZOOM, 0, -0.05 * yoff, &v->scn, &v->cam);
}

o2o_viewer *o2o_viewer_create(o2o_vecenv *env, char *err, size_t errlen) {
  if (!env) {
    snprintf(err, errlen, "o2o_viewer_create: no vecenv");
    return NULL;
  }
  o2o_viewer *v = calloc(1, sizeof *v);
  if (!v) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  v->env = env;
  v->m = o2o_vecenv_model(env);
  if (o2o_render_glfw_acquire("o2o-sim --render", err, errlen)) {
    free(v);
    return NULL;
  }
  v->have_glfw = 1;
  glfwDefaultWindowHints();
  char title[160];
  const o2o_scenario *sc = o2o_vecenv_scenario(env);
  snprintf(title, sizeof title, "o2o-sim: %s (%s), env 0", sc ? sc->name : "?",
           o2o_variant_name(o2o_vecenv_variant(env)));
  v->window = glfwCreateWindow(960, 720, title, NULL, NULL);
  if (!v->window) {
    snprintf(err, errlen,
             "o2o-sim --render: cannot open a window (%s). Without a screen, run under Xvfb: "
             "xvfb-run -a <your command>",
             o2o_render_glfw_last_error()[0] ? o2o_render_glfw_last_error() : "no GLX");
    o2o_viewer_destroy(v);
    return NULL;
  }
  glfwMakeContextCurrent(v->window);
  glfwSwapInterval(0); /* pacing is ours; vsync would cap steps at the refresh rate */
  glfwSetWindowUserPointer(v->window, v);
  glfwSetKeyCallback(v->window, on_key);
  glfwSetMouseButtonCallback(v->window, on_button);
  glfwSetCursorPosCallback(v->window, on_cursor);
  glfwSetScrollCallback(v->window, on_scroll);
  mjv_defaultOption(&v->opt);
  mjv_defaultScene(&v->scn);
  mjv_makeScene(v->m, &v->scn, 2000);
  v->track_body = o2o_render_default_camera(v->m, &v->cam);
  if (o2o_render_make_context(v->m, &v->con, mjFONTSCALE_150, err, errlen)) {
    o2o_viewer_destroy(v);
    return NULL;
  }
  v->have_context = 1;
  v->deadline = now_seconds();
  v->last_draw = -1;
  int sd = o2o_vecenv_spec(env)->state_dim;
  v->state0 = malloc(sizeof(double) * (size_t)sd);
  v->state_now = malloc(sizeof(double) * (size_t)sd);
  if (!v->state0 || !v->state_now || o2o_vecenv_get_state(env, 0, v->state0)) v->demo_off = 1;
  v->demo_rng = 0x6F326F2D64656D6Full; /* "o2o-demo" */
  return v;
}

void o2o_viewer_destroy(o2o_viewer *v) {
  if (!v) return;
  if (v->window) {
    glfwMakeContextCurrent(v->window);
    if (v->have_context) mjr_freeContext(&v->con);
    mjv_freeScene(&v->scn);
    glfwMakeContextCurrent(NULL);
    glfwDestroyWindow(v->window);
  }
  if (v->have_glfw) o2o_render_glfw_release();
  o2o_vecenv_destroy(v->demo);
  free(v->state0);
  free(v->state_now);
  free(v);
}

static void draw(o2o_viewer *v) {
  if (glfwGetCurrentContext() != v->window) glfwMakeContextCurrent(v->window);
  mjrRect viewport = {0, 0, 0, 0};
  glfwGetFramebufferSize(v->window, &viewport.width, &viewport.height);
  mjr_setBuffer(mjFB_WINDOW, &v->con);
  /* the demo env has the same model structure (same scenario and variant) */
  o2o_vecenv *shown = v->demo && !v->demo_off ? v->demo : v->env;
  mjData *d = o2o_vecenv_data(shown, 0);
  o2o_render_positions(o2o_vecenv_model(shown), d);
  o2o_render_track(&v->cam, d, v->track_body);
  mjv_updateScene(o2o_vecenv_model(shown), d, &v->opt, NULL, &v->cam, mjCAT_ALL, &v->scn);
  mjr_render(viewport, &v->scn, &v->con);

  char labels[256], values[256];
  const char *speed = v->paused ? "paused" : v->fast ? "fast" : v->slow ? "1/4 (slow)" : "1x";
  snprintf(labels, sizeof labels,
           "step\nreward\nepisode return\nlast episode return\nepisodes\nspeed");
  snprintf(values, sizeof values, "%ld\n%.3f\n%.2f\n%.2f\n%ld\n%s", v->steps,
           (double)v->last_reward, v->episode_return, v->last_episode_return, v->episodes, speed);
  mjr_overlay(mjFONT_NORMAL, mjGRID_TOPLEFT, viewport, labels, values, &v->con);
  mjr_overlay(mjFONT_NORMAL, mjGRID_BOTTOMLEFT, viewport,
              "space pause   S slow motion   right arrow step (paused)   F fast   Esc close", NULL,
              &v->con);
  if (shown == v->demo)
    mjr_overlay(mjFONT_NORMAL, mjGRID_TOPRIGHT, viewport,
                "demo: random actions until a client steps the envs", NULL, &v->con);
  glfwSwapBuffers(v->window);
  v->last_draw = now_seconds();
}

static void count_step(o2o_viewer *v, const o2o_step_result *res) {
  v->steps++;
  v->last_reward = res->reward[0];
  v->episode_return += res->reward[0];
  if (res->terminated[0] || res->truncated[0]) {
    v->last_episode_return = v->episode_return;
    v->episode_return = 0;
    v->episodes++;
  }
}

static void demo_stop(o2o_viewer *v) {
  v->demo_off = 1;
  v->steps = v->episodes = 0;
  v->last_reward = 0;
  v->episode_return = v->last_episode_return = 0;
  v->last_draw = -1; /* show the served env at once */
}

static uint64_t demo_next(uint64_t *s) { /* splitmix64 */
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static int demo_step(o2o_viewer *v) {
  const o2o_env_spec *sp = o2o_vecenv_spec(v->demo);
  float act[O2O_SIM_MAX_ACT];
  for (int k = 0; k < sp->act_dim; k++) {
    double u = (double)(demo_next(&v->demo_rng) >> 11) * 0x1.0p-53;
    act[k] = (float)(sp->act_low[k] + u * (sp->act_high[k] - sp->act_low[k]));
  }
  o2o_step_result r;
  char err[256];
  if (o2o_vecenv_step(v->demo, act, &r, err, sizeof err)) {
    fprintf(stderr, "o2o-sim --render: demo stopped: %s\n", err);
    demo_stop(v);
    return -1;
  }
  count_step(v, &r);
  return 0;
}

/* An idle call while no client has acted: advance the demo to wall-clock time and draw.
 * Never blocks (the server must keep answering), even while paused. */
static int demo_update(o2o_viewer *v) {
  double t = now_seconds();
  if (!v->demo) {
    char err[512];
    v->demo = o2o_vecenv_create(o2o_vecenv_scenario(v->env), o2o_vecenv_variant(v->env), 1, err,
                                sizeof err);
    uint64_t seed = 0;
    float obs[O2O_SIM_MAX_OBS];
    if (!v->demo || o2o_vecenv_reset(v->demo, &seed, obs, err, sizeof err)) {
      fprintf(stderr, "o2o-sim --render: no demo (%s); waiting for a client\n", err);
      demo_stop(v);
      return glfwWindowShouldClose(v->window) ? 1 : 0;
    }
    v->demo_t0 = t;
    v->demo_due = 0;
  }
  double dt = o2o_vecenv_spec(v->demo)->dt * (v->slow ? VIEWER_SLOW_FACTOR : 1.0);
  int todo = 0;
  if (v->paused) {
    todo = v->step_once;
    v->step_once = 0;
    v->demo_t0 = t, v->demo_due = 0;
  } else if (v->fast) {
    todo = DEMO_MAX_STEPS;
  } else {
    long due = (long)((t - v->demo_t0) / dt);
    todo = (int)(due - v->demo_due);
    if (todo > DEMO_MAX_STEPS) { /* far behind (a slow redraw): resynchronise */
      todo = DEMO_MAX_STEPS;
      v->demo_t0 = t, due = 0;
    }
    v->demo_due = due;
  }
  for (int k = 0; k < todo && !v->demo_off; k++)
    if (demo_step(v)) break;
  if (v->paused || v->last_draw < 0 || t - v->last_draw >= 1.0 / VIEWER_MAX_FPS) draw(v);
  if (v->paused)
    glfwWaitEventsTimeout(0.01);
  else
    glfwPollEvents();
  return glfwWindowShouldClose(v->window) ? 1 : 0;
}

long o2o_viewer_demo_steps(const o2o_viewer *v) {
  return v && !v->demo_off ? v->steps : 0;
}

/* Has anything but the demo changed served env 0 (RESET, SET_STATE)? */
static int served_env_changed(o2o_viewer *v) {
  if (o2o_vecenv_get_state(v->env, 0, v->state_now)) return 1;
  size_t n = (size_t)o2o_vecenv_spec(v->env)->state_dim;
  return memcmp(v->state0, v->state_now, sizeof(double) * n) != 0;
}

int o2o_viewer_update(o2o_viewer *v, const o2o_step_result *res) {
  if (!v) return 1;
  if (glfwWindowShouldClose(v->window)) return 1;
  if (!v->demo_off && (res || served_env_changed(v))) demo_stop(v);
  if (!v->demo_off) return demo_update(v);
  if (res) {
    count_step(v, res);
  } else {
    /* NULL: after a reset, or an idle redraw. A reset shows as simulated time going back. */
    if (o2o_vecenv_data(v->env, 0)->time < v->last_time) v->episode_return = 0;
  }
  v->last_time = o2o_vecenv_data(v->env, 0)->time;

  double t = now_seconds();
  if (v->paused || v->last_draw < 0 || t - v->last_draw >= 1.0 / VIEWER_MAX_FPS) draw(v);
  glfwPollEvents();

  /* Paused: keep drawing and handling input until unpaused, a single step, or close. */
  while (v->paused && !v->step_once && !glfwWindowShouldClose(v->window)) {
    draw(v);
    glfwWaitEventsTimeout(0.05);
    v->deadline = now_seconds();
  }
  v->step_once = 0;
  if (glfwWindowShouldClose(v->window)) return 1;

  /* Pace to real time (or slow motion): sleep until this step's wall-clock deadline;
   * re-synchronise when far behind (a slow redraw must not cause a burst of steps). */
  if (!v->fast && res) {
    double dt = o2o_vecenv_spec(v->env)->dt * (v->slow ? VIEWER_SLOW_FACTOR : 1.0);
    v->deadline += dt;
    t = now_seconds();
    if (v->deadline > t)
      sleep_seconds(v->deadline - t);
    else if (t - v->deadline > 0.25)
      v->deadline = t;
  }
  return glfwWindowShouldClose(v->window) ? 1 : 0;
}
