/* render.c: offscreen frames of vecenv envs (placeholder; the real one follows). */
#include <stdio.h>
#include "o2o_render.h"

o2o_renderer *o2o_renderer_create(o2o_vecenv *env, int width, int height, int fast, char *err,
                                  size_t errlen) {
  (void)env, (void)width, (void)height, (void)fast;
  if (err && errlen) snprintf(err, errlen, "o2o_renderer: not implemented yet");
  return NULL;
}
void o2o_renderer_destroy(o2o_renderer *r) { (void)r; }
int o2o_renderer_frame(o2o_renderer *r, int i, int width, int height, uint8_t *rgb, char *err,
                       size_t errlen) {
  (void)r, (void)i, (void)width, (void)height, (void)rgb;
  if (err && errlen) snprintf(err, errlen, "o2o_renderer: not implemented yet");
  return -1;
}
