/* render_mj.h: MuJoCo-level rendering helpers shared by render.c, viewer.c, the render
 * benchmark and tests (sim/ code only). The public API is o2o_render.h; this adds
 * renderers on a bare mjModel/mjData (for --model in the benchmark, and so the renderer
 * does not depend on a vecenv) and the GLFW bookkeeping both windows share. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <mujoco/mujoco.h>

#include "o2o_render.h"

/* o2o_renderer_create (not _create_mj) honours the environment variable
 * O2O_RENDER_QUALITY=fast|full over its fast argument: `o2o render --fast` sets it for the
 * o2o-sim processes it spawns, whose RENDER handler creates the renderer. */

/* Largest frame side accepted (the offscreen buffer grows on demand up to this). */
#define O2O_RENDER_MAX_SIDE 4096

/* Offscreen renderer on a model (the model must outlive the renderer). */
o2o_renderer *o2o_renderer_create_mj(const mjModel *m, int width, int height, int fast, char *err,
                                     size_t errlen);
/* Render d (of the creation model) into rgb [height][width][3], top row first. */
int o2o_renderer_frame_mj(o2o_renderer *r, mjData *d, int width, int height, uint8_t *rgb,
                          char *err, size_t errlen);
/* Shadows and reflections off (1) or on (0), changeable between frames. */
void o2o_renderer_set_fast(o2o_renderer *r, int fast);
/* Camera: 1 = tracking the main body (the default), 0 = MuJoCo's default free camera
 * (the overview that mujoco-record uses; the benchmark compares like with like). */
void o2o_renderer_set_tracking(o2o_renderer *r, int tracking);

/* Act as if the user pressed a key in the live window (GLFW_KEY_SPACE, _S, _F, _RIGHT,
 * _ESCAPE): for tests and scripted demos. */
void o2o_viewer_press_key(o2o_viewer *v, int glfw_key);

/* ---- internal: shared by render.c and viewer.c --------------------------------------- */

/* glfwInit once per process (the offscreen renderer and the live window may both live in
 * one o2o-sim); release does not terminate GLFW (see render_gl.c). On failure err says
 * how to run headless. 0 ok, -1 error. */
int o2o_render_glfw_acquire(const char *who, char *err, size_t errlen);
void o2o_render_glfw_release(void);
/* The last GLFW error text (from the error callback), "" if none. */
const char *o2o_render_glfw_last_error(void);

/* Positions of d's current qpos for drawing (mj_kinematics, mj_comPos, mj_camlight): after
 * mj_step, d->xpos and friends still describe the state before the last integration, so a
 * frame would lag one substep behind qpos (and differ from the same state set with
 * SET_STATE). Only derived quantities change; the next mj_step recomputes them anyway, so
 * trajectories stay bit-identical. */
void o2o_render_positions(const mjModel *m, mjData *d);
/* Camera tracking the main body: the root body of the first free or slide joint (the
 * torso of a hopper or cheetah); the overview camera when the model has none. Returns
 * the tracked body (-1: none). MuJoCo's own tracking camera filters its motion, so a
 * picture would depend on how many frames were drawn before; instead the camera is a
 * free camera whose lookat o2o_render_track moves onto the body before every frame. */
int o2o_render_default_camera(const mjModel *m, mjvCamera *cam);
void o2o_render_track(mjvCamera *cam, const mjData *d, int body);

/* mjr_makeContext reports failures through mju_error, which exits the process by default.
 * This runs it with a handler that turns the error into a message: 0 ok, -1 error. */
int o2o_render_make_context(const mjModel *m, mjrContext *con, int fontscale, char *err,
                            size_t errlen);
