/* pool_internal.h: the pool's state, shared by pool.c (life cycle, control calls) and
 * pool_step.c (stepping, fault recovery). */
#pragma once
#include <stdint.h>
#include "o2o_bridge.h"
#include "o2o_wire.h"
#include "spawn.h"
#include <zmq.h>

enum {
  CHUNK_IDLE = 0,  /* nothing in flight; the caller holds its rows */
  CHUNK_INFLIGHT,  /* STEP sent, reply awaited */
  CHUNK_COLLECTED, /* results in the pool's arrays, not yet handed to the caller */
};

#define FAULT_BURST 5
#define FAULT_WINDOW_MS 30000

typedef struct pool_chunk {
  int proc;  /* process it belongs to */
  int local; /* first env inside that process */
  int first; /* first env of the batch */
  int count;
  o2o_client *client;
  int state;
  int64_t sent_ms;   /* for the reply deadline */
  int reset_pending; /* its process restarted while the caller held the rows */
  void *mon;         /* PAIR receiving the connection's DISCONNECTED events (first chunk) */
  /* own STEP path on the client's socket (pool_wire.c) */
  o2o_wire_tx *tx;
  o2o_wire_rx rx;
  int rx_ready;
  uint32_t next_id, pending_id;
} pool_chunk;

typedef struct pool_proc {
  int first, count; /* its envs in the batch */
  int first_chunk, num_chunks;
  char endpoint[256];
  char ipc_path[240]; /* spawned: the socket file, removed after the child is gone */
  int spawned;
  o2o_spawn child;
  int generation;
  int down;                      /* a restart failed: try again before its next use */
  int64_t fault_ms[FAULT_BURST]; /* times of its last faults, newest first */
} pool_proc;

struct o2o_pool {
  o2o_pool_config cfg;
  o2o_pool_options opt;
  char scenario[1024], variant[16], sim_exe[1024];
  char **endpoints;
  void *zmq_ctx; /* shared by all connections: one I/O thread for the whole pool */
  int num_procs, num_chunks, total;
  pool_proc *procs;
  pool_chunk *chunks;
  o2o_bridge_spec spec;
  /* batch arrays [total] (handed out by step/chunk_recv) */
  float *obs, *reward, *final_obs;
  uint8_t *terminated, *truncated, *lost;
  int32_t *episode_step;
  float *fresh_obs; /* [total][obs_dim] reset obs waiting for a reset_pending chunk */
  uint64_t seed;
  int restarts;
  int batch_open; /* step_send sent every chunk; step_recv collects them */
  /* dynamics set by the caller, re-applied to a restarted process */
  int num_dyn;
  char dyn_names[O2O_BRIDGE_MAX_PARAMS][32];
  double dyn_values[O2O_BRIDGE_MAX_PARAMS];
  int pool_id;
  int pin; /* pin spawned children to CPUs (resolved from opt.pin_cpus) */
  /* wait loop: one poll item per chunk, plus a pidfd and a monitor per process */
  zmq_pollitem_t *items;
  int *who; /* >= 0: chunk index; < 0: -(process + 1) */
};

int64_t o2o_pool_now_ms(void);
void o2o_pool_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Bring process k (back) up: spawn or connect, HELLO every chunk, check the spec against
 * the pool's, re-apply stored dynamics. Used at create and after a fault. */
int o2o_pool_proc_start(o2o_pool *p, int k, char *err, size_t errlen);
/* Close process k's connections and, if spawned, kill and reap its child. */
void o2o_pool_proc_stop(o2o_pool *p, int k, int grace_ms);
/* Handle a fault of process k (reason for the stderr line): restart/reconnect, reset its
 * envs with fresh seeds and rewrite its rows as described in pool.h. */
int o2o_pool_recover(o2o_pool *p, int k, const char *reason, char *err, size_t errlen);
/* RESET process k's envs, env j of the batch with seed + j; its obs rows go to
 * obs + first * obs_dim. */
int o2o_pool_reset_proc(o2o_pool *p, int k, uint64_t seed, float *obs, char *err, size_t errlen);
/* 1 if process k's child has exited or its connection reported a disconnect (events
 * are consumed); why gets a description for the fault line. */
int o2o_pool_proc_failed(o2o_pool *p, int k, char *why, size_t len);

/* pool_wire.c: STEP of a chunk's range on its socket, reply decoded into the batch rows. */
int o2o_pool_wire_open(pool_chunk *ch);
void o2o_pool_wire_close(pool_chunk *ch); /* after the socket is closed */
int o2o_pool_wire_send(o2o_pool *p, pool_chunk *ch, const float *actions, char *err, size_t errlen);
/* 1: the reply was copied into the rows; 0: nothing (more) for us yet; < 0: error
 * (O2O_BRIDGE_EREMOTE = the server refused, others = a fault of the peer). */
int o2o_pool_wire_recv(o2o_pool *p, pool_chunk *ch, char *err, size_t errlen);
/* Set the reply timeout of process k's connections. */
void o2o_pool_proc_timeout(o2o_pool *p, int k, int timeout_ms);
