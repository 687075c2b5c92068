/* render_gl.c: GLFW start-up shared by the offscreen renderer and the live window, the
 * tracking camera, and a guarded mjr_makeContext. */
#include <GLFW/glfw3.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render_mj.h"

static int glfw_ready; /* glfwInit succeeded (never undone, see release) */
static char glfw_error[512];

static void on_glfw_error(int code, const char *text) {
  snprintf(glfw_error, sizeof glfw_error, "GLFW error 0x%x: %s", code, text ? text : "?");
}

const char *o2o_render_glfw_last_error(void) {
  return glfw_error;
}

int o2o_render_glfw_acquire(const char *who, char *err, size_t errlen) {
  if (glfw_ready) return 0;
  glfw_error[0] = 0;
  glfwSetErrorCallback(on_glfw_error);
  if (!glfwInit()) {
    const char *display = getenv("DISPLAY");
    snprintf(err, errlen,
             "%s: cannot open a display for OpenGL (%s; DISPLAY=%s). To render without a "
             "screen, run under Xvfb: xvfb-run -a <your command> (Debian package xvfb)",
             who, glfw_error[0] ? glfw_error : "glfwInit failed",
             display && *display ? display : "unset");
    return -1;
  }
  glfw_ready = 1;
  return 0;
}

/* GLFW stays initialised until the process exits: glfwTerminate closes the X display,
 * which unloads Mesa's driver, and LeakSanitizer then reports Mesa's never-freed
 * allocations as "<unknown module>" leaks that no suppression can name. Re-initialising
 * for every renderer would also cost a display connection each time. */
void o2o_render_glfw_release(void) {}

/* Radius of the tracked body's subtree around its centre of mass at qpos0 (the model's
 * stat.extent would include the floor plane and put the camera far away). */
static double subtree_radius(const mjModel *m, int body) {
  mjData *d = mj_makeData(m);
  if (!d) return m->stat.extent;
  mj_forward(m, d);
  const mjtNum *com = d->subtree_com + 3 * body;
  double radius = 0;
  for (int g = 0; g < m->ngeom; g++) {
    int b = m->geom_bodyid[g];
    if (b == 0 || m->body_rootid[b] != body) continue;
    double dx = d->geom_xpos[3 * g] - com[0], dy = d->geom_xpos[3 * g + 1] - com[1],
           dz = d->geom_xpos[3 * g + 2] - com[2];
    double r = sqrt(dx * dx + dy * dy + dz * dz) + m->geom_rbound[g];
    if (r > radius) radius = r;
  }
  mj_deleteData(d);
  return radius > 0 ? radius : m->stat.extent;
}

int o2o_render_default_camera(const mjModel *m, mjvCamera *cam) {
  mjv_defaultFreeCamera(m, cam);
  int body = -1;
  for (int j = 0; j < m->njnt; j++) {
    if (m->jnt_type[j] == mjJNT_FREE || m->jnt_type[j] == mjJNT_SLIDE) {
      body = m->body_rootid[m->jnt_bodyid[j]];
      break;
    }
  }
  if (body <= 0) return -1; /* nothing moves through space: the overview camera is right */
  cam->type = mjCAMERA_FREE;
  /* Side view of the x-z plane (locomotion tasks move along +x), a little from above. */
  cam->azimuth = 90;
  cam->elevation = -15;
  cam->distance = 3.5 * subtree_radius(m, body);
  return body;
}

void o2o_render_positions(const mjModel *m, mjData *d) {
  mj_kinematics(m, d);
  mj_comPos(m, d);
  mj_camlight(m, d);
}

void o2o_render_track(mjvCamera *cam, const mjData *d, int body) {
  if (body <= 0) return;
  for (int k = 0; k < 3; k++)
    cam->lookat[k] = d->subtree_com[3 * body + k];
}

/* mju_error handler that returns to o2o_render_make_context instead of exiting. */
static jmp_buf make_context_jump;
static char make_context_msg[256];

static void on_mju_error(const char *msg) {
  snprintf(make_context_msg, sizeof make_context_msg, "%s", msg ? msg : "?");
  longjmp(make_context_jump, 1);
}

int o2o_render_make_context(const mjModel *m, mjrContext *con, int fontscale, char *err,
                            size_t errlen) {
  void (*saved)(const char *) = mju_user_error;
  mjr_defaultContext(con);
  mju_user_error = on_mju_error;
  if (setjmp(make_context_jump)) {
    mju_user_error = saved;
    snprintf(err, errlen, "MuJoCo could not create its OpenGL context: %s", make_context_msg);
    return -1;
  }
  mjr_makeContext(m, con, fontscale);
  mju_user_error = saved;
  return 0;
}
