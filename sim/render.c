/* render.c: offscreen RGB frames of vecenv envs with MuJoCo's visualiser.
 *
 * A hidden GLFW window only provides the OpenGL context; MuJoCo draws into its offscreen
 * framebuffer (mjFB_OFFSCREEN), whose size is fixed when the mjrContext is made from the
 * model's visual/global offwidth x offheight. To serve any requested size, the context is
 * made from a copy of the model with those two fields set to the creation size, and remade
 * larger when a bigger frame is requested (smaller frames use a corner of the buffer). */
#include <GLFW/glfw3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "o2o_sim_mj.h"
#include "render_mj.h"

struct o2o_renderer {
  o2o_vecenv *env; /* NULL for a renderer made on a bare model */
  const mjModel *m;
  GLFWwindow *window;
  int have_glfw;
  int have_context;
  mjvScene scn;
  mjvCamera cam;
  mjvOption opt;
  mjrContext con;
  int track_body;            /* -1: fixed overview */
  int buf_width, buf_height; /* offscreen buffer size of con */
};

static int check_size(int width, int height, char *err, size_t errlen) {
  if (width < 1 || height < 1 || width > O2O_RENDER_MAX_SIDE || height > O2O_RENDER_MAX_SIDE) {
    snprintf(err, errlen, "frame size %dx%d out of range (1..%d per side)", width, height,
             O2O_RENDER_MAX_SIDE);
    return -1;
  }
  return 0;
}

/* (Re)make the mjrContext with an offscreen buffer of width x height. */
static int make_context(o2o_renderer *r, int width, int height, char *err, size_t errlen) {
  mjModel *copy = mj_copyModel(NULL, r->m);
  if (!copy) {
    snprintf(err, errlen, "out of memory copying the model for the renderer");
    return -1;
  }
  /* Exactly the size asked for: a larger buffer than the frame costs clears and blits. */
  copy->vis.global.offwidth = width;
  copy->vis.global.offheight = height;
  if (r->have_context) {
    mjr_freeContext(&r->con);
    r->have_context = 0;
  }
  int rc = o2o_render_make_context(copy, &r->con, mjFONTSCALE_150, err, errlen);
  int bw = copy->vis.global.offwidth, bh = copy->vis.global.offheight;
  mj_deleteModel(copy);
  if (rc) {
    /* The old context is gone: the next frame must make one, not draw with a freed one. */
    r->buf_width = r->buf_height = 0;
    return -1;
  }
  r->have_context = 1;
  mjr_setBuffer(mjFB_OFFSCREEN, &r->con);
  if (r->con.currentBuffer != mjFB_OFFSCREEN) {
    snprintf(err, errlen, "this OpenGL driver offers no offscreen framebuffer");
    return -1;
  }
  r->buf_width = r->con.offWidth > 0 ? r->con.offWidth : bw;
  r->buf_height = r->con.offHeight > 0 ? r->con.offHeight : bh;
  return 0;
}

o2o_renderer *o2o_renderer_create_mj(const mjModel *m, int width, int height, int fast, char *err,
                                     size_t errlen) {
  if (!m) {
    snprintf(err, errlen, "o2o_renderer_create: no model");
    return NULL;
  }
  if (check_size(width, height, err, errlen)) return NULL;
  o2o_renderer *r = calloc(1, sizeof *r);
  if (!r) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  r->m = m;
  if (o2o_render_glfw_acquire("o2o renderer", err, errlen)) {
    free(r);
    return NULL;
  }
  r->have_glfw = 1;
  glfwDefaultWindowHints();
  glfwWindowHint(GLFW_VISIBLE, GLFW_FALSE);
  glfwWindowHint(GLFW_DOUBLEBUFFER, GLFW_FALSE);
  r->window = glfwCreateWindow(64, 64, "o2o offscreen", NULL, NULL);
  if (!r->window) {
    snprintf(err, errlen,
             "o2o renderer: cannot create an OpenGL context (%s). Without a screen, run under "
             "Xvfb: xvfb-run -a <your command>",
             o2o_render_glfw_last_error()[0] ? o2o_render_glfw_last_error() : "no GLX");
    o2o_renderer_destroy(r);
    return NULL;
  }
  glfwMakeContextCurrent(r->window);
  mjv_defaultOption(&r->opt);
  mjv_defaultScene(&r->scn);
  mjv_makeScene(m, &r->scn, 2000);
  r->track_body = o2o_render_default_camera(m, &r->cam);
  o2o_renderer_set_fast(r, fast);
  if (make_context(r, width, height, err, errlen)) {
    o2o_renderer_destroy(r);
    return NULL;
  }
  return r;
}

o2o_renderer *o2o_renderer_create(o2o_vecenv *env, int width, int height, int fast, char *err,
                                  size_t errlen) {
  if (!env) {
    snprintf(err, errlen, "o2o_renderer_create: no vecenv");
    return NULL;
  }
  /* How `o2o render --fast` reaches the o2o-sim processes it spawns (they inherit it). */
  const char *quality = getenv("O2O_RENDER_QUALITY");
  if (quality && !strcmp(quality, "fast"))
    fast = 1;
  else if (quality && !strcmp(quality, "full"))
    fast = 0;
  o2o_renderer *r = o2o_renderer_create_mj(o2o_vecenv_model(env), width, height, fast, err, errlen);
  if (r) r->env = env;
  return r;
}

void o2o_renderer_set_fast(o2o_renderer *r, int fast) {
  r->scn.flags[mjRND_SHADOW] = fast ? 0 : 1;
  r->scn.flags[mjRND_REFLECTION] = fast ? 0 : 1;
}

void o2o_renderer_set_tracking(o2o_renderer *r, int tracking) {
  if (tracking) {
    r->track_body = o2o_render_default_camera(r->m, &r->cam);
  } else {
    mjv_defaultFreeCamera(r->m, &r->cam);
    r->track_body = -1;
  }
}

void o2o_renderer_destroy(o2o_renderer *r) {
  if (!r) return;
  if (r->window) {
    glfwMakeContextCurrent(r->window);
    if (r->have_context) mjr_freeContext(&r->con);
    mjv_freeScene(&r->scn);
    glfwMakeContextCurrent(NULL);
    glfwDestroyWindow(r->window);
  }
  if (r->have_glfw) o2o_render_glfw_release();
  free(r);
}

int o2o_renderer_frame_mj(o2o_renderer *r, mjData *d, int width, int height, uint8_t *rgb,
                          char *err, size_t errlen) {
  if (!r || !d || !rgb) {
    snprintf(err, errlen, "o2o_renderer_frame: NULL argument");
    return -1;
  }
  if (check_size(width, height, err, errlen)) return -1;
  /* glXMakeCurrent is not free even for the current context: switch only when needed
   * (the live window's context may be current in o2o-sim --render). */
  if (glfwGetCurrentContext() != r->window) glfwMakeContextCurrent(r->window);
  if ((width > r->buf_width || height > r->buf_height) &&
      make_context(r, width > r->buf_width ? width : r->buf_width,
                   height > r->buf_height ? height : r->buf_height, err, errlen))
    return -1;
  mjr_setBuffer(mjFB_OFFSCREEN, &r->con);
  mjrRect viewport = {0, 0, width, height};
  o2o_render_positions(r->m, d);
  o2o_render_track(&r->cam, d, r->track_body);
  mjv_updateScene(r->m, d, &r->opt, NULL, &r->cam, mjCAT_ALL, &r->scn);
  mjr_render(viewport, &r->scn, &r->con);
  mjr_readPixels(rgb, NULL, viewport, &r->con);
  int gl_error = mjr_getError();
  if (gl_error) {
    snprintf(err, errlen, "OpenGL error 0x%x while rendering a %dx%d frame", gl_error, width,
             height);
    return -1;
  }
  /* OpenGL's first row is the bottom one; images start at the top. */
  size_t row = (size_t)width * 3;
  uint8_t tmp[3 * 1024];
  for (int y = 0; y < height / 2; y++) {
    uint8_t *a = rgb + (size_t)y * row, *b = rgb + (size_t)(height - 1 - y) * row;
    for (size_t off = 0; off < row; off += sizeof tmp) {
      size_t n = row - off < sizeof tmp ? row - off : sizeof tmp;
      memcpy(tmp, a + off, n);
      memcpy(a + off, b + off, n);
      memcpy(b + off, tmp, n);
    }
  }
  return 0;
}

int o2o_renderer_frame(o2o_renderer *r, int i, int width, int height, uint8_t *rgb, char *err,
                       size_t errlen) {
  if (!r || !r->env) {
    snprintf(err, errlen, "o2o_renderer_frame: renderer has no vecenv");
    return -1;
  }
  int n = o2o_vecenv_spec(r->env)->num_envs;
  if (i < 0 || i >= n) {
    snprintf(err, errlen, "o2o_renderer_frame: env index %d out of range (0..%d)", i, n - 1);
    return -1;
  }
  return o2o_renderer_frame_mj(r, o2o_vecenv_data(r->env, i), width, height, rgb, err, errlen);
}
