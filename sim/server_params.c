/* server_params.c: the dynamics parameters of o2o_dynamics as named doubles on the wire. */
#include "server_internal.h"
#include "o2o_wire.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

/* Dynamics parameters as they travel on the wire: name -> field of o2o_dynamics. */
const char *const o2o_server_param_names[NUM_DYN_PARAMS] = {
    "gravity_scale", "friction_scale",   "mass_scale",    "damping_scale",
    "gear_scale",    "action_noise_std", "obs_noise_std", "action_delay"};

double o2o_server_param_get(const o2o_dynamics *d, int i) {
  switch (i) {
  case 0:
    return d->gravity_scale;
  case 1:
    return d->friction_scale;
  case 2:
    return d->mass_scale;
  case 3:
    return d->damping_scale;
  case 4:
    return d->gear_scale;
  case 5:
    return d->action_noise_std;
  case 6:
    return d->obs_noise_std;
  default:
    return d->action_delay;
  }
}

/* 0, or -1 with err set (action_delay must be a whole number). */
int o2o_server_param_set(o2o_dynamics *d, int i, double v, char *err, size_t errlen) {
  switch (i) {
  case 0:
    d->gravity_scale = v;
    break;
  case 1:
    d->friction_scale = v;
    break;
  case 2:
    d->mass_scale = v;
    break;
  case 3:
    d->damping_scale = v;
    break;
  case 4:
    d->gear_scale = v;
    break;
  case 5:
    d->action_noise_std = v;
    break;
  case 6:
    d->obs_noise_std = v;
    break;
  default:
    if (v != floor(v) || v < 0 || v > O2O_SIM_MAX_DELAY) {
      o2o_bridge_errf(err, errlen, "action_delay = %g: must be a whole number of steps in [0, %d]",
                      v, O2O_SIM_MAX_DELAY);
      return -1;
    }
    d->action_delay = (int)v;
  }
  return 0;
}
