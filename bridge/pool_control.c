/* pool_control.c: the pool's control calls (reset, dynamics, state, render), refused
 * while a step is in flight. A process found dead or disconnected first is recovered
 * (pool_step.c); a call that fails on a fault is retried once after recovery. */
#include "o2o_bridge.h"
#include "pool_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- control calls (not while a step is in flight) --------------------------------------- */

static int check_idle(o2o_pool *p, const char *what, char *err, size_t errlen) {
  for (int c = 0; c < p->num_chunks; c++)
    if (p->chunks[c].state == CHUNK_INFLIGHT) {
      o2o_pool_err(err, errlen, "o2o_pool_%s: a step is in flight (receive it first)", what);
      return O2O_BRIDGE_EINVAL;
    }
  return 0;
}

/* A control call failed on process k: if it is a fault (timeout, transport, garbage, the
 * child died), recover the process and let the caller retry once. */
static int is_fault(int rc) {
  return rc == O2O_BRIDGE_ETIMEOUT || rc == O2O_BRIDGE_EZMQ || rc == O2O_BRIDGE_EPROTO;
}

int o2o_pool_reset_proc(o2o_pool *p, int k, uint64_t seed, float *obs, char *err, size_t errlen) {
  pool_proc *pr = &p->procs[k];
  uint64_t *seeds = malloc(sizeof(uint64_t) * pr->count);
  if (!seeds) {
    o2o_pool_err(err, errlen, "out of memory");
    return O2O_BRIDGE_EINVAL;
  }
  for (int i = 0; i < pr->count; i++)
    seeds[i] = seed + (uint64_t)(pr->first + i);
  int rc = o2o_client_reset(p->chunks[pr->first_chunk].client, seeds,
                            obs + (size_t)pr->first * p->spec.obs_dim, err, errlen);
  free(seeds);
  return rc;
}

/* Before a control call: recover a process known to be down, dead or disconnected. */
static int heal(o2o_pool *p, int k, char *err, size_t errlen) {
  char why[256];
  if (p->procs[k].down) {
    p->restarts--; /* the same fault as before, not a new one */
    return o2o_pool_recover(p, k, "was down", err, errlen);
  }
  if (o2o_pool_proc_failed(p, k, why, sizeof why)) return o2o_pool_recover(p, k, why, err, errlen);
  return 0;
}

int o2o_pool_reset(o2o_pool *p, uint64_t seed, float *obs, char *err, size_t errlen) {
  int rc = check_idle(p, "reset", err, errlen);
  if (rc) return rc;
  p->seed = seed;
  for (int k = 0; k < p->num_procs; k++) {
    if ((rc = heal(p, k, err, errlen))) return rc;
    rc = o2o_pool_reset_proc(p, k, seed, p->obs, err, errlen);
    if (rc && is_fault(rc)) {
      char why[O2O_BRIDGE_ERRLEN];
      snprintf(why, sizeof why, "%s", err);
      if ((rc = o2o_pool_recover(p, k, why, err, errlen))) return rc;
      rc = o2o_pool_reset_proc(p, k, seed, p->obs, err, errlen);
    }
    if (rc) return rc;
  }
  /* Every env starts afresh: nothing collected earlier is still owed to the caller. */
  for (int c = 0; c < p->num_chunks; c++) {
    p->chunks[c].reset_pending = 0;
    p->chunks[c].state = CHUNK_IDLE;
  }
  p->batch_open = 0;
  size_t n = (size_t)p->total;
  memset(p->lost, 0, n);
  memset(p->terminated, 0, n);
  memset(p->truncated, 0, n);
  memset(p->reward, 0, n * sizeof(float));
  memset(p->episode_step, 0, n * sizeof(int32_t));
  memcpy(p->final_obs, p->obs, n * p->spec.obs_dim * sizeof(float));
  if (obs) memcpy(obs, p->obs, n * p->spec.obs_dim * sizeof(float));
  return 0;
}

int o2o_pool_set_dynamics(o2o_pool *p, int num_params, const char (*names)[32],
                          const double *values, char *err, size_t errlen) {
  int rc = check_idle(p, "set_dynamics", err, errlen);
  if (rc) return rc;
  for (int k = 0; k < p->num_procs; k++) {
    if ((rc = heal(p, k, err, errlen))) return rc;
    o2o_client *c = p->chunks[p->procs[k].first_chunk].client;
    rc = o2o_client_set_dynamics(c, num_params, names, values, err, errlen);
    if (rc && is_fault(rc)) {
      char why[O2O_BRIDGE_ERRLEN];
      snprintf(why, sizeof why, "%s", err);
      if ((rc = o2o_pool_recover(p, k, why, err, errlen))) return rc;
      c = p->chunks[p->procs[k].first_chunk].client;
      rc = o2o_client_set_dynamics(c, num_params, names, values, err, errlen);
    }
    if (rc) return rc;
  }
  /* Remember the merged parameters so a restarted process gets them too. */
  for (int i = 0; i < num_params; i++) {
    int j = 0;
    while (j < p->num_dyn && strncmp(p->dyn_names[j], names[i], 32))
      j++;
    if (j == p->num_dyn) {
      if (p->num_dyn == O2O_BRIDGE_MAX_PARAMS) continue;
      p->num_dyn++;
      memset(p->dyn_names[j], 0, 32);
      strncpy(p->dyn_names[j], names[i], 31);
    }
    p->dyn_values[j] = values[i];
  }
  const o2o_bridge_spec *s = o2o_client_spec(p->chunks[0].client);
  p->spec.num_params = s->num_params;
  memcpy(p->spec.param_names, s->param_names, sizeof s->param_names);
  memcpy(p->spec.params, s->params, sizeof s->params);
  return 0;
}

static int env_client(o2o_pool *p, int env, const char *what, o2o_client **c, int *local, int *proc,
                      char *err, size_t errlen) {
  int rc = check_idle(p, what, err, errlen);
  if (rc) return rc;
  if (env < 0 || env >= p->total) {
    o2o_pool_err(err, errlen, "o2o_pool_%s: env %d out of range (pool has %d envs)", what, env,
                 p->total);
    return O2O_BRIDGE_EINVAL;
  }
  int k = 0;
  while (env >= p->procs[k].first + p->procs[k].count)
    k++;
  *proc = k;
  *local = env - p->procs[k].first;
  if ((rc = heal(p, k, err, errlen))) return rc;
  *c = p->chunks[p->procs[k].first_chunk].client;
  return 0;
}

int o2o_pool_render(o2o_pool *p, int env, int width, int height, uint8_t *rgb, char *err,
                    size_t errlen) {
  o2o_client *c;
  int local, k, rc = env_client(p, env, "render", &c, &local, &k, err, errlen);
  return rc ? rc : o2o_client_render(c, local, width, height, rgb, err, errlen);
}

int o2o_pool_get_state(o2o_pool *p, int env, double *state, char *err, size_t errlen) {
  o2o_client *c;
  int local, k, rc = env_client(p, env, "get_state", &c, &local, &k, err, errlen);
  return rc ? rc : o2o_client_get_state(c, local, state, err, errlen);
}

int o2o_pool_set_state(o2o_pool *p, int env, const double *state, char *err, size_t errlen) {
  o2o_client *c;
  int local, k, rc = env_client(p, env, "set_state", &c, &local, &k, err, errlen);
  return rc ? rc : o2o_client_set_state(c, local, state, err, errlen);
}

int o2o_pool_set_states(o2o_pool *p, const double *states, char *err, size_t errlen) {
  int rc = check_idle(p, "set_states", err, errlen);
  if (rc) return rc;
  for (int k = 0; k < p->num_procs; k++)
    if ((rc = heal(p, k, err, errlen))) return rc;
  const size_t S = (size_t)p->spec.state_dim;
  int first_rc = 0, bad = -1, last_sent = -1;
  char first_err[O2O_BRIDGE_ERRLEN] = "", e[O2O_BRIDGE_ERRLEN];
  for (int c = 0; c < p->num_chunks && !first_rc; c++) { /* one batch per chunk, all in flight */
    pool_chunk *ch = &p->chunks[c];
    rc = o2o_client_set_states_send(ch->client, ch->local, ch->count,
                                    states + (size_t)ch->first * S, e, sizeof e);
    if (rc) {
      first_rc = rc, bad = c;
      snprintf(first_err, sizeof first_err, "%s", e);
    } else {
      last_sent = c;
    }
  }
  for (int c = 0; c <= last_sent; c++) { /* every reply is collected, even after a refusal */
    rc = o2o_client_set_state_recv(p->chunks[c].client, e, sizeof e);
    if (rc && !first_rc) {
      first_rc = rc, bad = c;
      snprintf(first_err, sizeof first_err, "%s", e);
    }
  }
  if (first_rc) {
    const pool_chunk *ch = &p->chunks[bad];
    o2o_pool_err(err, errlen,
                 "set_states of envs [%d, %d) (process %d's envs [%d, %d), left as they were): %s",
                 ch->first, ch->first + ch->count, ch->proc, ch->local, ch->local + ch->count,
                 first_err);
  }
  return first_rc;
}

int o2o_pool_get_states(o2o_pool *p, double *states, char *err, size_t errlen) {
  int rc = check_idle(p, "get_states", err, errlen);
  if (rc) return rc;
  const size_t S = (size_t)p->spec.state_dim;
  for (int k = 0; k < p->num_procs; k++) { /* one message per process */
    const pool_proc *pr = &p->procs[k];
    if ((rc = heal(p, k, err, errlen))) return rc;
    double *out = states + (size_t)pr->first * S;
    rc = o2o_client_get_states(p->chunks[pr->first_chunk].client, 0, pr->count, out, err, errlen);
    if (rc && is_fault(rc)) { /* recover like the other control calls, then retry once */
      char why[O2O_BRIDGE_ERRLEN];
      snprintf(why, sizeof why, "%s", err);
      if ((rc = o2o_pool_recover(p, k, why, err, errlen))) return rc;
      rc = o2o_client_get_states(p->chunks[pr->first_chunk].client, 0, pr->count, out, err, errlen);
    }
    if (rc) return rc;
  }
  return 0;
}
