/* o2o_render.h: rendering of vecenv envs with MuJoCo's visualiser.
 *
 * o2o_renderer: offscreen RGB frames of a chosen env (RENDER over the bridge, videos).
 * o2o_viewer:   the live GLFW window of `o2o-sim --render` (env 0, tracking camera, pause,
 *               slow motion, overlay with step, reward and episode return).
 * Both need an OpenGL context from GLFW: a display, or Xvfb (`xvfb-run -a o2o-sim ...`).
 * Without one, _create fails with a message that says how to run headless. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "o2o_sim.h"

typedef struct o2o_renderer o2o_renderer;

/* fast = 1 turns shadows and reflections off (the fast mode). */
o2o_renderer *o2o_renderer_create(o2o_vecenv *env, int width, int height, int fast, char *err,
                                  size_t errlen);
void o2o_renderer_destroy(o2o_renderer *r);
/* Render env i into rgb [height][width][3], top row first. width/height may differ from
 * the creation size (up to the model's offscreen buffer); 0 ok, <0 with err set. */
int o2o_renderer_frame(o2o_renderer *r, int i, int width, int height, uint8_t *rgb, char *err,
                       size_t errlen);

typedef struct o2o_viewer o2o_viewer;
o2o_viewer *o2o_viewer_create(o2o_vecenv *env, char *err, size_t errlen);
void o2o_viewer_destroy(o2o_viewer *v);
/* Call after every vecenv step (res may be NULL after a reset): draws env 0 and handles
 * input. Blocks while paused and sleeps in slow motion. Returns 0 while the window is
 * open, 1 once the user closed it. */
int o2o_viewer_update(o2o_viewer *v, const o2o_step_result *res);
/* Until a client steps the envs or changes env 0, idle calls (res NULL, env 0 unchanged)
 * play random actions on a private copy of the scenario: steps taken by that demo so far,
 * 0 once a client acted (then the window shows env 0). */
long o2o_viewer_demo_steps(const o2o_viewer *v);
