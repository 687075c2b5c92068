/* pool_step.c: stepping the pool (whole batch or chunk by chunk) and recovering from a
 * process that died or stopped answering.
 *
 * Every chunk (sub-batch) has its own connection with at most one STEP in flight. The
 * wait loop polls the in-flight sockets together with the pidfds of spawned children, so
 * a crash is seen the moment it happens; a process that hangs (SIGSTOP, deadlock) is
 * caught by the reply deadline (timeout_ms after the request was sent). A restarted
 * process gets a new ipc path and new sockets, and the client drops replies whose request
 * id is not the one it waits for, so nothing from a dead or replaced peer can be taken
 * for a new reply. */
#include "o2o_bridge.h"
#include "o2o_wire.h"
#include "pool_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* Rows of chunk ch whose step was lost: the caller's last obs becomes final_obs, a fresh
 * episode's first obs (fresh_obs) becomes obs, truncated, reward 0, lost. */
static void write_lost_rows(o2o_pool *p, const pool_chunk *ch) {
  const size_t od = (size_t)p->spec.obs_dim, r0 = (size_t)ch->first, n = (size_t)ch->count;
  memcpy(p->final_obs + r0 * od, p->obs + r0 * od, n * od * sizeof(float));
  memcpy(p->obs + r0 * od, p->fresh_obs + r0 * od, n * od * sizeof(float));
  for (size_t i = r0; i < r0 + n; i++) {
    p->reward[i] = 0;
    p->terminated[i] = 0;
    p->truncated[i] = 1;
    p->episode_step[i] = 0;
    p->lost[i] = 1;
  }
}

int o2o_pool_recover(o2o_pool *p, int k, const char *reason, char *err, size_t errlen) {
  pool_proc *pr = &p->procs[k];
  int saved[4096], *states = saved;
  if (pr->num_chunks > 4096) states = malloc(sizeof(int) * pr->num_chunks);
  if (!states) {
    o2o_pool_err(err, errlen, "out of memory");
    return O2O_BRIDGE_EINVAL;
  }
  for (int i = 0; i < pr->num_chunks; i++)
    states[i] = p->chunks[pr->first_chunk + i].state;
  int64_t t0 = o2o_pool_now_ms();
  char old_ep[sizeof pr->endpoint];
  snprintf(old_ep, sizeof old_ep, "%s", pr->endpoint);
  /* A hung or half-dead process gets no grace: SIGKILL works even on a stopped one. */
  o2o_pool_proc_stop(p, k, 0);
  p->restarts++;
  /* A process that fails again and again (a bug on every step, a broken model) is not
   * restarted forever: after FAULT_BURST faults within FAULT_WINDOW_MS, give up. */
  int rc = 0;
  memmove(pr->fault_ms + 1, pr->fault_ms, sizeof(int64_t) * (FAULT_BURST - 1));
  pr->fault_ms[0] = t0;
  if (pr->fault_ms[FAULT_BURST - 1] && t0 - pr->fault_ms[FAULT_BURST - 1] < FAULT_WINDOW_MS) {
    o2o_pool_err(err, errlen, "it failed %d times within %d s; not restarting it again",
                 FAULT_BURST, FAULT_WINDOW_MS / 1000);
    rc = O2O_BRIDGE_ESPAWN;
  }
  if (!rc) rc = o2o_pool_proc_start(p, k, err, errlen);
  /* Fresh seeds: past every seed handed out so far, distinct per restart and env. */
  uint64_t seed = p->seed + (uint64_t)p->restarts * (uint64_t)p->total;
  if (!rc) rc = o2o_pool_reset_proc(p, k, seed, p->fresh_obs, err, errlen);
  o2o_pool_proc_timeout(p, k, p->cfg.timeout_ms);
  if (rc) {
    /* Leave the process down: the next call tries again. Chunks keep their states so
     * nothing the caller holds is invalidated twice. */
    char tmp[O2O_BRIDGE_ERRLEN];
    const char *cause = err;
    if (!strncmp(cause, "o2o pool: ", 10)) cause += 10;
    snprintf(tmp, sizeof tmp, "%s", cause);
    o2o_pool_err(err, errlen, "o2o pool: o2o-sim #%d (%s) %s, and could not be %s: %s", k, old_ep,
                 reason, pr->spawned ? "restarted" : "reconnected", tmp);
    for (int i = 0; i < pr->num_chunks; i++) {
      pool_chunk *ch = &p->chunks[pr->first_chunk + i];
      ch->state = states[i] == CHUNK_INFLIGHT ? CHUNK_IDLE : states[i];
      ch->reset_pending = 0;
    }
    pr->down = 1;
    if (states != saved) free(states);
    return rc;
  }
  pr->down = 0;
  const size_t od = (size_t)p->spec.obs_dim;
  for (int i = 0; i < pr->num_chunks; i++) {
    pool_chunk *ch = &p->chunks[pr->first_chunk + i];
    const size_t r0 = (size_t)ch->first, n = (size_t)ch->count;
    if (states[i] == CHUNK_INFLIGHT) { /* its step never happened */
      write_lost_rows(p, ch);
      ch->state = CHUNK_COLLECTED;
    } else if (states[i] == CHUNK_COLLECTED) { /* real results the caller has not seen yet */
      for (size_t r = r0; r < r0 + n; r++) {
        if (!p->terminated[r] && !p->truncated[r]) p->truncated[r] = 1;
        p->episode_step[r] = 0;
      }
      memcpy(p->obs + r0 * od, p->fresh_obs + r0 * od, n * od * sizeof(float));
      ch->state = CHUNK_COLLECTED;
    } else { /* the caller holds its rows: report at its next step */
      ch->reset_pending = 1;
      ch->state = CHUNK_IDLE;
    }
  }
  if (states != saved) free(states);
  if (!p->cfg.quiet) {
    char now[64] = "";
    if (pr->spawned) snprintf(now, sizeof now, " as pid %d", (int)pr->child.pid);
    fprintf(stderr,
            "o2o pool: fault %d: o2o-sim #%d %s; %s%s in %lld ms; envs %d-%d were reset with "
            "fresh seeds and their episodes marked truncated\n",
            p->restarts, k, reason, pr->spawned ? "restarted it" : "reconnected", now,
            (long long)(o2o_pool_now_ms() - t0), pr->first, pr->first + pr->count - 1);
  }
  return 0;
}

/* Try to bring a process that could not be restarted earlier back before using it. */
static int ensure_up(o2o_pool *p, int k, char *err, size_t errlen) {
  if (!p->procs[k].down) return 0;
  p->restarts--; /* the same fault, not a new one */
  return o2o_pool_recover(p, k, "was down", err, errlen);
}

static int send_chunk(o2o_pool *p, int c, const float *actions, char *err, size_t errlen) {
  pool_chunk *ch = &p->chunks[c];
  int rc = ensure_up(p, ch->proc, err, errlen);
  if (rc) return rc;
  if (ch->reset_pending) { /* its process restarted while the caller held these rows */
    ch->reset_pending = 0;
    write_lost_rows(p, ch);
    ch->state = CHUNK_COLLECTED;
    return 0;
  }
  char cerr[O2O_BRIDGE_ERRLEN];
  rc = o2o_pool_wire_send(p, ch, actions, cerr, sizeof cerr);
  ch->sent_ms = o2o_pool_now_ms();
  ch->state = CHUNK_INFLIGHT;
  if (rc) { /* could not even send (peer gone, send queue full): a fault */
    if ((rc = o2o_pool_recover(p, ch->proc, cerr, err, errlen))) return rc;
  }
  return 0;
}

static int check_actions(o2o_pool *p, int first, int count, const float *actions, char *err,
                         size_t errlen) {
  if (!actions) {
    o2o_pool_err(err, errlen, "o2o pool: actions is NULL");
    return O2O_BRIDGE_EINVAL;
  }
  const int ad = p->spec.act_dim;
  long bad = o2o_wire_find_nonfinite_f32(actions, (size_t)count * ad);
  if (bad >= 0) {
    o2o_pool_err(err, errlen,
                 "o2o pool: action of env %ld (of the batch), component %ld is NaN or inf; "
                 "nothing was sent",
                 first + bad / ad, bad % ad);
    return O2O_BRIDGE_EINVAL;
  }
  return 0;
}

/* One round of waiting: returns once at least one in-flight chunk was collected (real
 * reply or recovered fault), or with an error. */
static int wait_some(o2o_pool *p, char *err, size_t errlen) {
  zmq_pollitem_t *items = p->items;
  int *who = p->who;
  int n = 0;
  int64_t now = o2o_pool_now_ms(), first_deadline = INT64_MAX;
  for (int c = 0; c < p->num_chunks; c++) {
    pool_chunk *ch = &p->chunks[c];
    if (ch->state != CHUNK_INFLIGHT) continue;
    items[n] = (zmq_pollitem_t){o2o_client_socket(ch->client), 0, ZMQ_POLLIN, 0};
    who[n++] = c;
    int64_t d = ch->sent_ms + p->cfg.timeout_ms;
    if (d < first_deadline) first_deadline = d;
  }
  if (n == 0) {
    o2o_pool_err(err, errlen, "o2o pool: nothing in flight to receive");
    return O2O_BRIDGE_EINVAL;
  }
  for (int k = 0; k < p->num_procs; k++) {
    pool_proc *pr = &p->procs[k];
    if (pr->down) continue;
    if (pr->spawned && pr->child.pidfd >= 0) {
      items[n] = (zmq_pollitem_t){NULL, pr->child.pidfd, ZMQ_POLLIN, 0};
      who[n++] = -(k + 1);
    }
    void *mon = p->chunks[pr->first_chunk].mon;
    if (mon) {
      items[n] = (zmq_pollitem_t){mon, 0, ZMQ_POLLIN, 0};
      who[n++] = -(k + 1);
    }
  }
  long timeout = first_deadline > now ? (long)(first_deadline - now) : 0;
  int rc = zmq_poll(items, n, timeout);
  if (rc < 0 && zmq_errno() != EINTR) {
    o2o_pool_err(err, errlen, "o2o pool: zmq_poll: %s", zmq_strerror(zmq_errno()));
    return O2O_BRIDGE_EZMQ;
  }
  /* Replies first: a reply that made it is a result, even if the process died after. */
  for (int i = 0; rc > 0 && i < n; i++) {
    if (who[i] < 0 || !(items[i].revents & ZMQ_POLLIN)) continue;
    pool_chunk *ch = &p->chunks[who[i]];
    if (ch->state != CHUNK_INFLIGHT) continue;
    char cerr[O2O_BRIDGE_ERRLEN];
    int r = o2o_pool_wire_recv(p, ch, cerr, sizeof cerr);
    if (r == 1) {
      ch->state = CHUNK_COLLECTED;
    } else if (r == 0) {                  /* a stale message only */
    } else if (r == O2O_BRIDGE_EREMOTE) { /* the server refused our request: not a fault */
      ch->state = CHUNK_IDLE;
      o2o_pool_err(err, errlen, "o2o pool: %s", cerr);
      return r;
    } else {
      char why[O2O_BRIDGE_ERRLEN + 32];
      snprintf(why, sizeof why, "sent a bad reply (%s)", cerr);
      if ((r = o2o_pool_recover(p, ch->proc, why, err, errlen))) return r;
    }
  }
  /* Children that died, connections that dropped. */
  for (int i = 0; rc > 0 && i < n; i++) {
    if (who[i] >= 0 || !(items[i].revents & ZMQ_POLLIN)) continue;
    int k = -who[i] - 1;
    char why[256];
    if (!o2o_pool_proc_failed(p, k, why, sizeof why)) continue; /* already recovered */
    int r = o2o_pool_recover(p, k, why, err, errlen);
    if (r) return r;
  }
  /* Deadlines. */
  now = o2o_pool_now_ms();
  for (int c = 0; c < p->num_chunks; c++) {
    pool_chunk *ch = &p->chunks[c];
    if (ch->state != CHUNK_INFLIGHT || now < ch->sent_ms + p->cfg.timeout_ms) continue;
    /* A reply may have landed after the poll returned: take it rather than kill. */
    char cerr[O2O_BRIDGE_ERRLEN];
    int got = o2o_pool_wire_recv(p, ch, cerr, sizeof cerr);
    if (got == 1) {
      ch->state = CHUNK_COLLECTED;
      continue;
    }
    if (got == O2O_BRIDGE_EREMOTE) { /* a refusal landed late: the server is fine */
      ch->state = CHUNK_IDLE;
      o2o_pool_err(err, errlen, "o2o pool: %s", cerr);
      return got;
    }
    char why[O2O_BRIDGE_ERRLEN + 32];
    if (got < 0)
      snprintf(why, sizeof why, "sent a bad reply (%s)", cerr);
    else if (p->procs[ch->proc].spawned)
      snprintf(why, sizeof why, "(pid %d) did not answer STEP within %d ms",
               (int)p->procs[ch->proc].child.pid, p->cfg.timeout_ms);
    else
      snprintf(why, sizeof why, "did not answer STEP within %d ms", p->cfg.timeout_ms);
    int r = o2o_pool_recover(p, ch->proc, why, err, errlen);
    if (r) return r;
  }
  return 0;
}

/* ---- whole batch ------------------------------------------------------------------------- */

int o2o_pool_step_send(o2o_pool *p, const float *actions, char *err, size_t errlen) {
  if (p->batch_open) {
    o2o_pool_err(err, errlen, "o2o_pool_step_send: the previous step was not received");
    return O2O_BRIDGE_EINVAL;
  }
  for (int c = 0; c < p->num_chunks; c++)
    if (p->chunks[c].state != CHUNK_IDLE) {
      o2o_pool_err(err, errlen,
                   "o2o_pool_step_send: sub-batch %d is still in flight (chunk "
                   "calls and batch calls do not mix)",
                   c);
      return O2O_BRIDGE_EINVAL;
    }
  int rc = check_actions(p, 0, p->total, actions, err, errlen);
  if (rc) return rc;
  const size_t ad = (size_t)p->spec.act_dim;
  for (int c = 0; c < p->num_chunks; c++) {
    if ((rc = send_chunk(p, c, actions + (size_t)p->chunks[c].first * ad, err, errlen))) {
      /* Take back what was sent so the pool stays usable. */
      p->batch_open = 1;
      char tmp[O2O_BRIDGE_ERRLEN];
      o2o_pool_step_recv(p, NULL, tmp, sizeof tmp);
      return rc;
    }
  }
  p->batch_open = 1;
  return 0;
}

int o2o_pool_step_recv(o2o_pool *p, o2o_bridge_batch *out, char *err, size_t errlen) {
  if (!p->batch_open) {
    o2o_pool_err(err, errlen, "o2o_pool_step_recv: no step was sent");
    return O2O_BRIDGE_EINVAL;
  }
  int first_rc = 0;
  for (;;) {
    int inflight = 0;
    for (int c = 0; c < p->num_chunks; c++)
      inflight += p->chunks[c].state == CHUNK_INFLIGHT;
    if (!inflight) break;
    int rc = wait_some(p, err, errlen);
    if (rc && !first_rc) first_rc = rc;
    if (rc == O2O_BRIDGE_EZMQ) break;
  }
  p->batch_open = 0;
  for (int c = 0; c < p->num_chunks; c++)
    if (p->chunks[c].state == CHUNK_COLLECTED) p->chunks[c].state = CHUNK_IDLE;
  if (first_rc) return first_rc;
  if (out) {
    out->num_envs = p->total;
    out->obs = p->obs;
    out->reward = p->reward;
    out->terminated = p->terminated;
    out->truncated = p->truncated;
    out->final_obs = p->final_obs;
    out->episode_step = p->episode_step;
  }
  return 0;
}

int o2o_pool_step(o2o_pool *p, const float *actions, o2o_bridge_batch *out, char *err,
                  size_t errlen) {
  int rc = o2o_pool_step_send(p, actions, err, errlen);
  return rc ? rc : o2o_pool_step_recv(p, out, err, errlen);
}

/* ---- chunk by chunk ---------------------------------------------------------------------- */

int o2o_pool_chunk_send(o2o_pool *p, int chunk, const float *actions, char *err, size_t errlen) {
  if (chunk < 0 || chunk >= p->num_chunks) {
    o2o_pool_err(err, errlen, "o2o_pool_chunk_send: sub-batch %d out of range (0..%d)", chunk,
                 p->num_chunks - 1);
    return O2O_BRIDGE_EINVAL;
  }
  pool_chunk *ch = &p->chunks[chunk];
  if (p->batch_open || ch->state != CHUNK_IDLE) {
    o2o_pool_err(err, errlen, "o2o_pool_chunk_send: sub-batch %d was not received yet", chunk);
    return O2O_BRIDGE_EINVAL;
  }
  int rc = check_actions(p, ch->first, ch->count, actions, err, errlen);
  return rc ? rc : send_chunk(p, chunk, actions, err, errlen);
}

int o2o_pool_chunk_recv(o2o_pool *p, int *chunk, o2o_bridge_batch *out, char *err, size_t errlen) {
  if (p->batch_open) {
    o2o_pool_err(err, errlen, "o2o_pool_chunk_recv: a whole-batch step is open");
    return O2O_BRIDGE_EINVAL;
  }
  for (;;) {
    /* Oldest request first among those ready, so no chunk starves. */
    int best = -1;
    for (int c = 0; c < p->num_chunks; c++)
      if (p->chunks[c].state == CHUNK_COLLECTED &&
          (best < 0 || p->chunks[c].sent_ms < p->chunks[best].sent_ms))
        best = c;
    if (best >= 0) {
      pool_chunk *ch = &p->chunks[best];
      ch->state = CHUNK_IDLE;
      if (chunk) *chunk = best;
      if (out) {
        const size_t od = (size_t)p->spec.obs_dim, r0 = (size_t)ch->first;
        out->num_envs = ch->count;
        out->obs = p->obs + r0 * od;
        out->reward = p->reward + r0;
        out->terminated = p->terminated + r0;
        out->truncated = p->truncated + r0;
        out->final_obs = p->final_obs + r0 * od;
        out->episode_step = p->episode_step + r0;
      }
      return 0;
    }
    int rc = wait_some(p, err, errlen);
    if (rc) return rc;
  }
}
