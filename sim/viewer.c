/* viewer.c: the live window of `o2o-sim --render` (placeholder; the real one follows). */
#include <stdio.h>
#include "o2o_render.h"

o2o_viewer *o2o_viewer_create(o2o_vecenv *env, char *err, size_t errlen) {
  (void)env;
  if (err && errlen) snprintf(err, errlen, "o2o_viewer: not implemented yet");
  return NULL;
}
void o2o_viewer_destroy(o2o_viewer *v) { (void)v; }
int o2o_viewer_update(o2o_viewer *v, const o2o_step_result *res) {
  (void)v, (void)res;
  return 1;
}
