/* server_internal.h: pieces of the o2o-sim server shared between its files. */
#pragma once
#include <stddef.h>

/* ZAP handler (ZeroMQ's authentication protocol) that admits CURVE clients whose public key
 * is listed in keys (a .pub file or a directory of .pub files) and refuses all others. */
typedef struct o2o_server_auth o2o_server_auth;
o2o_server_auth *o2o_server_auth_start(void *zmq_ctx, const char *keys, int quiet, char *err,
                                       size_t errlen);
void o2o_server_auth_stop(o2o_server_auth *a);
