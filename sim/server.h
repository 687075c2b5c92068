/* server.h: the o2o-sim server: serves one vecenv over the bridge protocol
 * (bridge/PROTOCOL.md) on a ZeroMQ ROUTER socket.
 *
 * Several clients may connect; requests are handled one at a time in arrival order and
 * all clients share the same N envs (a STEP from any client steps all of them). */
#pragma once
#include <signal.h>
#include <stddef.h>
#include "o2o_sim.h"

typedef struct o2o_server_config {
  const char *endpoint;          /* NULL = ipc:///tmp/o2o-sim-PID.ipc */
  int allow_remote;              /* permit binding a non-loopback tcp address */
  int insecure;                  /* ...without CURVE (plain text, anyone may connect) */
  const char *curve_server_key;  /* key file with the server's public+secret key */
  const char *curve_client_keys; /* allowed clients: a .pub file or a directory of .pub files */
  int render;                    /* open the live viewer window (o2o_viewer) */
  int quiet;                     /* no messages on stderr */
} o2o_server_config;

/* A RENDER frame above this many pixels is not cached: after its reply the renderer and
 * its buffers are released (PROTOCOL.md, RENDER). */
#define O2O_SERVER_RENDER_KEEP_PIXELS (1024 * 1024)

typedef struct o2o_server o2o_server;

/* Binds the endpoint. env stays owned by the caller and must outlive the server. */
o2o_server *o2o_server_create(o2o_vecenv *env, const o2o_server_config *cfg, char *err,
                              size_t errlen);
void o2o_server_destroy(o2o_server *s);
const char *o2o_server_endpoint(const o2o_server *s);

/* Serves until a client sends CLOSE (returns 1), *stop becomes nonzero (returns 0), or the
 * viewer window is closed (returns 2). <0 on a transport failure with err set. */
int o2o_server_run(o2o_server *s, volatile sig_atomic_t *stop, char *err, size_t errlen);

/* Requests served and ERROR replies sent so far. */
void o2o_server_stats(const o2o_server *s, long *requests, long *errors);

/* 1 if a tcp endpoint's host is a numeric loopback address (127.x.x.x or [::1]) and the
 * endpoint has no ZeroMQ "SOURCE;ADDRESS" part. Names (localhost, interface names) are
 * not loopback here: o2o_server_create binds tcp://localhost:P as tcp://127.0.0.1:P and
 * checks the address ZeroMQ actually bound. */
int o2o_server_endpoint_is_loopback(const char *endpoint);
