/* server_internal.h: pieces of the o2o-sim server shared between its files. */
#pragma once
#include <stddef.h>

#include "o2o_sim.h"

/* The dynamics parameters on the wire (SPEC, SET_DYNAMICS), in this order. */
#define NUM_DYN_PARAMS 8
extern const char *const o2o_server_param_names[NUM_DYN_PARAMS];
double o2o_server_param_get(const o2o_dynamics *d, int i);
/* 0, or -1 with err set (action_delay must be a whole number in range). */
int o2o_server_param_set(o2o_dynamics *d, int i, double v, char *err, size_t errlen);

/* ZAP handler (ZeroMQ's authentication protocol) that admits CURVE clients whose public key
 * is listed in keys (a .pub file or a directory of .pub files) and refuses all others. */
typedef struct o2o_server_auth o2o_server_auth;
o2o_server_auth *o2o_server_auth_start(void *zmq_ctx, const char *keys, int quiet, char *err,
                                       size_t errlen);
void o2o_server_auth_stop(o2o_server_auth *a);
