/* o2o_bridge.h: the client side of the wire (public API of bridge/ used by the agent).
 *
 * bridge/PROTOCOL.md is the contract; bridge/o2o_wire.h has the message codec that both
 * the client and the o2o-sim server use. bridge/ knows nothing of MuJoCo or neural
 * networks: it moves typed arrays.
 *
 * Errors: functions return 0 on success or a negative O2O_BRIDGE_E* code and write a
 * message to err. A server's ERROR reply becomes O2O_BRIDGE_EREMOTE with its text.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define O2O_BRIDGE_MAX_OBS 64
#define O2O_BRIDGE_MAX_ACT 16
#define O2O_BRIDGE_MAX_PARAMS 16
#define O2O_BRIDGE_ERRLEN 512

enum {
  O2O_BRIDGE_OK = 0,
  O2O_BRIDGE_ETIMEOUT = -1, /* no reply within the timeout */
  O2O_BRIDGE_EPROTO = -2,   /* malformed or unexpected message */
  O2O_BRIDGE_EREMOTE = -3,  /* the server answered ERROR */
  O2O_BRIDGE_EZMQ = -4,     /* transport failure */
  O2O_BRIDGE_EINVAL = -5,   /* bad argument */
  O2O_BRIDGE_ESPAWN = -6,   /* could not start an o2o-sim child */
};

/* What HELLO returns (SPEC). Dynamics parameters travel as named doubles so bridge/
 * needs no knowledge of what they mean. */
typedef struct o2o_bridge_spec {
  char scenario[64];
  char variant[8]; /* "real" or "sim" */
  char task[32];
  int num_envs;
  int obs_dim;
  int act_dim;
  float act_low[O2O_BRIDGE_MAX_ACT];
  float act_high[O2O_BRIDGE_MAX_ACT];
  double dt;
  int max_episode_steps;
  int state_dim;
  int num_params;
  char param_names[O2O_BRIDGE_MAX_PARAMS][32]; /* e.g. "gravity_scale", "action_delay" */
  double params[O2O_BRIDGE_MAX_PARAMS];
} o2o_bridge_spec;

/* One batch of step results (arrays owned by the client/pool, valid until its next call);
 * the same meaning and SAME_STEP autoreset as o2o_step_result in sim/o2o_sim.h. */
typedef struct o2o_bridge_batch {
  int num_envs;
  float *obs;            /* [num_envs][obs_dim] */
  float *reward;         /* [num_envs] */
  uint8_t *terminated;   /* [num_envs] */
  uint8_t *truncated;    /* [num_envs] */
  float *final_obs;      /* [num_envs][obs_dim] */
  int32_t *episode_step; /* [num_envs] */
} o2o_bridge_batch;

/* ---- one connection to one o2o-sim ---------------------------------------------------- */
typedef struct o2o_client o2o_client;

o2o_client *o2o_client_connect(const char *endpoint, int timeout_ms, char *err, size_t errlen);
void o2o_client_destroy(o2o_client *c);
const o2o_bridge_spec *o2o_client_spec(const o2o_client *c);
int o2o_client_reset(o2o_client *c, const uint64_t *seeds, float *obs, char *err, size_t errlen);
int o2o_client_step(o2o_client *c, const float *actions, o2o_bridge_batch *out, char *err,
                    size_t errlen);
int o2o_client_set_dynamics(o2o_client *c, int num_params, const char (*names)[32],
                            const double *values, char *err, size_t errlen);
int o2o_client_get_state(o2o_client *c, int env, double *state, char *err, size_t errlen);
int o2o_client_set_state(o2o_client *c, int env, const double *state, char *err, size_t errlen);
/* Batched: envs [env, env + n) in one message, states [n][state_dim]. SET_STATE is all or
 * nothing: one refused state leaves every env of the batch as it was. */
int o2o_client_get_states(o2o_client *c, int env, int n, double *states, char *err, size_t errlen);
int o2o_client_set_states(o2o_client *c, int env, int n, const double *states, char *err,
                          size_t errlen);
/* RGB frame of env, [height][width][3], top row first. */
int o2o_client_render(o2o_client *c, int env, int width, int height, uint8_t *rgb, char *err,
                      size_t errlen);
int o2o_client_close(o2o_client *c, char *err, size_t errlen); /* asks the server to exit */

/* Connection options (added by the bridge): CURVE keys for a server bound to a
 * non-loopback tcp address, and an optional shared ZeroMQ context (a pool can share one
 * among its clients; NULL = the client creates and owns its own). */
typedef struct o2o_client_options {
  int timeout_ms; /* every call fails with O2O_BRIDGE_ETIMEOUT after this; <= 0: 5000 */
  const char *curve_server_key; /* file with the server's public key (server.pub), or NULL */
  const char *curve_client_key; /* file with this client's key pair (client.key); NULL with a
                                   server key = a fresh ephemeral pair */
  void *zmq_ctx;                /* shared context, or NULL */
} o2o_client_options;
/* Without curve_server_key (and in o2o_client_connect), tcp:// endpoints use the key files
 * named by the environment variables O2O_CURVE_SERVER_KEY and O2O_CURVE_CLIENT_KEY if set. */
o2o_client *o2o_client_connect_opts(const char *endpoint, const o2o_client_options *opt, char *err,
                                    size_t errlen);
const char *o2o_client_endpoint(const o2o_client *c);
void o2o_client_set_timeout(o2o_client *c, int timeout_ms);

/* Split-phase step (for a pool stepping K servers in parallel): send the actions, then
 * collect the reply. step_recv waits at most the client's timeout. Between the two the
 * caller may zmq_poll(ZMQ_POLLIN) o2o_client_socket(c): readable means a reply (possibly a
 * stale one from a request that timed out earlier, which step_recv skips) has arrived.
 * Only one request may be outstanding per client. */
int o2o_client_step_send(o2o_client *c, const float *actions, char *err, size_t errlen);
/* Sub-batch: step only envs [first, first + count) with actions [count][act_dim]; the
 * reply (step_recv) then has count rows, row 0 = env first. */
int o2o_client_step_send_range(o2o_client *c, int first, int count, const float *actions, char *err,
                               size_t errlen);
int o2o_client_step_recv(o2o_client *c, o2o_bridge_batch *out, char *err, size_t errlen);
/* Split-phase SET_STATE (same rule: one request outstanding per client). */
int o2o_client_set_state_send(o2o_client *c, int env, const double *state, char *err,
                              size_t errlen);
int o2o_client_set_states_send(o2o_client *c, int env, int n, const double *states, char *err,
                               size_t errlen);
int o2o_client_set_state_recv(o2o_client *c, char *err, size_t errlen);
/* step_recv abandons the request when it times out (its late reply is skipped later).
 * step_recv_timeout waits timeout_ms (0 = only what has already arrived) and on
 * O2O_BRIDGE_ETIMEOUT keeps the request outstanding: call it again, or o2o_client_abandon. */
int o2o_client_step_recv_timeout(o2o_client *c, o2o_bridge_batch *out, int timeout_ms, char *err,
                                 size_t errlen);
void o2o_client_abandon(o2o_client *c);
int o2o_client_pending(const o2o_client *c); /* 1 while a request awaits its reply */
void *o2o_client_socket(o2o_client *c);      /* the ZeroMQ DEALER socket */

/* ---- a pool of K o2o-sim processes x N envs, presented as one batch of K*N ----------- */
typedef struct o2o_pool_config {
  /* Either spawn local children... */
  const char *scenario; /* name or path; NULL when endpoints are given */
  const char *variant;  /* "real" (default) or "sim" */
  int num_procs;        /* K, default 1 */
  int envs_per_proc;    /* N, default 1 */
  const char *sim_exe;  /* o2o-sim to spawn; NULL = next to the running program, then PATH */
  int render;           /* children open their live window (--render) */
  /* ...or connect to running servers. */
  const char *const *endpoints;
  int num_endpoints;
  int timeout_ms; /* fault detection, default 5000 */
  int quiet;      /* no progress/fault messages on stderr */
} o2o_pool_config;

typedef struct o2o_pool o2o_pool;

o2o_pool *o2o_pool_create(const o2o_pool_config *cfg, char *err, size_t errlen);
void o2o_pool_destroy(o2o_pool *p); /* closes connections, reaps children it spawned */
const o2o_bridge_spec *o2o_pool_spec(const o2o_pool *p); /* num_envs = K*N */
/* Env j of the batch is seeded with seed + j. obs: [K*N][obs_dim] out. */
int o2o_pool_reset(o2o_pool *p, uint64_t seed, float *obs, char *err, size_t errlen);
/* Steps all K processes in parallel. A process that died or timed out is restarted (if
 * spawned) or reconnected; its envs come back with truncated = 1 and a fresh reset obs. */
int o2o_pool_step(o2o_pool *p, const float *actions, o2o_bridge_batch *out, char *err,
                  size_t errlen);
/* Split-phase step, to overlap the agent's work with the simulators':
 * send now, do other work, then receive. */
int o2o_pool_step_send(o2o_pool *p, const float *actions, char *err, size_t errlen);
int o2o_pool_step_recv(o2o_pool *p, o2o_bridge_batch *out, char *err, size_t errlen);
int o2o_pool_set_dynamics(o2o_pool *p, int num_params, const char (*names)[32],
                          const double *values, char *err, size_t errlen);
/* Env j of the batch (process j / N, env j % N). */
int o2o_pool_render(o2o_pool *p, int env, int width, int height, uint8_t *rgb, char *err,
                    size_t errlen);
int o2o_pool_get_state(o2o_pool *p, int env, double *state, char *err, size_t errlen);
int o2o_pool_set_state(o2o_pool *p, int env, const double *state, char *err, size_t errlen);
/* SET_STATE of every env: states [num_envs][state_dim]; one batched message per chunk
 * connection, all in flight together, so the processes (and the chunks of one process) work
 * in parallel. A refused state fails the call naming the env; its chunk keeps its previous
 * states (the server applies a batch all or nothing), the other chunks are set. */
int o2o_pool_set_states(o2o_pool *p, const double *states, char *err, size_t errlen);
/* GET_STATE of every env into states [num_envs][state_dim] (one message per process). A process
 * found dead is recovered first (its envs then report the fresh episode's state; the next step
 * marks their rows lost). */
int o2o_pool_get_states(o2o_pool *p, double *states, char *err, size_t errlen);
int o2o_pool_restarts(const o2o_pool *p); /* faults recovered so far */

/* ---- pool options, sub-batches and fault reporting ---------------------------------------
 *
 * Sub-batches ("chunks"): the pool splits each process's envs into chunks, each with its
 * own connection, so several STEP requests can be in flight per process. Driven through
 * o2o_pool_step_send/_recv the batch stays one batch of K*N; driven chunk by chunk
 * (o2o_pool_chunk_recv -> act on those rows -> o2o_pool_chunk_send) the simulator always
 * has queued work while the agent acts on the previous chunk, which hides the ZeroMQ
 * round trip (EnvPool's "async" mode with batch = one chunk).
 *
 * Faults (see bridge/POOL.md): rows of envs whose step was lost when their process died
 * or hung come back with truncated = 1, reward 0, final_obs = the last obs the caller
 * had, obs = the first obs of a fresh episode, and o2o_pool_lost()[j] = 1: the agent
 * must not store a transition for them (nothing happened). Envs whose step did happen
 * before the process failed keep their real transition and are marked truncated. A row
 * the server marked as diverged physics (episode_step -1 on the wire) is a lost row too.
 */
typedef struct o2o_pool_options {
  int chunks_per_proc; /* sub-batches per process, 1..N (default 1); >1 needs STEP ranges */
  /* Spawned child k (all its threads) on CPU k % ncpu: 1 = always, -1 = never, 0 = auto:
   * when 2 <= K <= the CPUs this process may use, so K children really step in parallel
   * (unpinned, the scheduler often runs them one after the other; bridge/POOL.md). */
  int pin_cpus;
  int startup_timeout_ms; /* how long a spawned child may take to bind (default 30000) */
  int term_grace_ms;      /* SIGTERM -> SIGKILL grace on destroy (default 2000) */
} o2o_pool_options;

o2o_pool *o2o_pool_create_opts(const o2o_pool_config *cfg, const o2o_pool_options *opt, char *err,
                               size_t errlen);

int o2o_pool_num_procs(const o2o_pool *p);
/* pid of spawned child k (0 when connected to an endpoint or not running). */
pid_t o2o_pool_child_pid(const o2o_pool *p, int proc);
const char *o2o_pool_endpoint(const o2o_pool *p, int proc);

/* Rows of the last batch (or chunk) whose step was lost to a fault: [K*N]. */
const uint8_t *o2o_pool_lost(const o2o_pool *p);

int o2o_pool_num_chunks(const o2o_pool *p);
void o2o_pool_chunk_range(const o2o_pool *p, int chunk, int *first, int *count);
/* Send actions [count][act_dim] for chunk's envs (the chunk must not be in flight). */
int o2o_pool_chunk_send(o2o_pool *p, int chunk, const float *actions, char *err, size_t errlen);
/* Wait for any chunk in flight; *chunk = which; out views its rows (num_envs = count,
 * arrays valid until that chunk's next receive). O2O_BRIDGE_EINVAL if none in flight. */
int o2o_pool_chunk_recv(o2o_pool *p, int *chunk, o2o_bridge_batch *out, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
