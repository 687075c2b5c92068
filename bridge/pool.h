/* pool.h: additions to the o2o_pool_* API of o2o_bridge.h (bridge-pool).
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
 * before the process failed keep their real transition and are marked truncated.
 */
#pragma once
#include <sys/types.h>
#include "o2o_bridge.h"

#ifdef __cplusplus
extern "C" {
#endif

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
