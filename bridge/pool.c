/* pool.c: K o2o-sim processes x N envs as one batch of K*N (o2o_pool_* of o2o_bridge.h):
 * life cycle (spawn or connect, CPU placement, reap) and queries. Control calls are in
 * pool_control.c, stepping and fault recovery in pool_step.c. */
#include "o2o_bridge.h"
#include "o2o_wire.h"
#include "pool_internal.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <zmq.h>

int64_t o2o_pool_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void o2o_pool_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static int pool_counter; /* distinguishes several pools of one process in ipc names */

/* ---- CPU placement (opt-in) -------------------------------------------------------------
 * Child k and all its threads go to CPU k % ncpu. Why the whole child: a request reaches
 * the simulator thread through the child's ZeroMQ I/O thread; left free, the scheduler
 * often queues child 1's I/O thread behind child 0's busy simulator thread on one CPU
 * (wake-up affinity), and two children that should step in parallel step one after the
 * other (measured: 2 x 16 hopper envs, second reply 1050 us after the first instead of
 * ~0). On its own CPU the I/O thread only ever waits for its own simulator thread, which
 * is idle exactly when a request arrives. Threads are found in /proc/PID/task. */
static void pin_child(pid_t pid, int k) {
  cpu_set_t all;
  CPU_ZERO(&all);
  if (sched_getaffinity(0, sizeof all, &all) != 0) return;
  int cpus[CPU_SETSIZE], n = 0;
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &all)) cpus[n++] = c;
  if (n < 2) return;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpus[k % n], &one);
  char dir[64];
  snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    pid_t tid = (pid_t)atoi(e->d_name);
    if (tid > 0) sched_setaffinity(tid, sizeof one, &one);
  }
  closedir(d);
}

/* ---- one process ------------------------------------------------------------------------ */

static int spawn_child(o2o_pool *p, int k, char *err, size_t errlen) {
  pool_proc *pr = &p->procs[k];
  char dir[128];
  o2o_spawn_runtime_dir(dir, sizeof dir);
  /* A new path per generation: nothing of a dead child can answer for the new one. */
  snprintf(pr->ipc_path, sizeof pr->ipc_path, "%s/o2o-pool-%d-%d-%d-%d.ipc", dir, (int)getpid(),
           p->pool_id, k, pr->generation);
  snprintf(pr->endpoint, sizeof pr->endpoint, "ipc://%s", pr->ipc_path);
  unlink(pr->ipc_path);
  char envs[32];
  snprintf(envs, sizeof envs, "%d", pr->count);
  const char *argv[16];
  int a = 0;
  argv[a++] = p->sim_exe;
  argv[a++] = "--scenario";
  argv[a++] = p->scenario;
  argv[a++] = "--variant";
  argv[a++] = p->variant;
  argv[a++] = "--envs";
  argv[a++] = envs;
  argv[a++] = "--endpoint";
  argv[a++] = pr->endpoint;
  argv[a++] = "--quiet";
  if (p->cfg.render) argv[a++] = "--render";
  argv[a] = NULL;
  char serr[O2O_BRIDGE_ERRLEN];
  int rc = o2o_spawn_start(&pr->child, argv, 1, serr, sizeof serr);
  if (rc) {
    o2o_pool_err(err, errlen, "o2o pool: cannot start o2o-sim #%d: %s", k, serr);
    return O2O_BRIDGE_ESPAWN;
  }
  return 0;
}

static int wait_child(o2o_pool *p, int k, char *err, size_t errlen) {
  pool_proc *pr = &p->procs[k];
  char serr[O2O_BRIDGE_ERRLEN];
  if (o2o_spawn_wait_path(&pr->child, pr->ipc_path, p->opt.startup_timeout_ms, serr, sizeof serr)) {
    o2o_pool_err(err, errlen,
                 "o2o pool: o2o-sim #%d (%s --scenario %s --variant %s --envs %d) failed to "
                 "start: %s (its own message, if any, is above on stderr)",
                 k, p->sim_exe, p->scenario, p->variant, pr->count, serr);
    return O2O_BRIDGE_ESPAWN;
  }
  return 0;
}

static int same_spec(const o2o_bridge_spec *a, const o2o_bridge_spec *b) {
  if (strcmp(a->scenario, b->scenario) || strcmp(a->variant, b->variant) ||
      a->obs_dim != b->obs_dim || a->act_dim != b->act_dim || a->state_dim != b->state_dim ||
      a->max_episode_steps != b->max_episode_steps || a->dt != b->dt)
    return 0;
  for (int i = 0; i < a->act_dim; i++)
    if (a->act_low[i] != b->act_low[i] || a->act_high[i] != b->act_high[i]) return 0;
  return 1;
}

/* Connect every chunk of process k (the process is up). */
static int connect_proc(o2o_pool *p, int k, int hello_timeout_ms, char *err, size_t errlen) {
  pool_proc *pr = &p->procs[k];
  for (int c = pr->first_chunk; c < pr->first_chunk + pr->num_chunks; c++) {
    pool_chunk *ch = &p->chunks[c];
    o2o_client_options co = {0};
    co.timeout_ms = hello_timeout_ms;
    co.zmq_ctx = p->zmq_ctx;
    char cerr[O2O_BRIDGE_ERRLEN];
    ch->client = o2o_client_connect_opts(pr->endpoint, &co, cerr, sizeof cerr);
    if (!ch->client) {
      o2o_pool_err(err, errlen, "o2o pool: process #%d: %s", k, cerr);
      return O2O_BRIDGE_ETIMEOUT;
    }
    ch->state = CHUNK_IDLE;
    if (o2o_pool_wire_open(ch)) {
      o2o_pool_err(err, errlen, "out of memory");
      return O2O_BRIDGE_EINVAL;
    }
    /* Watch the connection: a server that goes away (crash, restart behind the same
     * endpoint) is noticed when it happens, not one timeout later. */
    if (c == pr->first_chunk) {
      char addr[96];
      snprintf(addr, sizeof addr, "inproc://o2o-pool-%d-mon-%d-%d", p->pool_id, k, pr->generation);
      void *mon = NULL;
      if (zmq_socket_monitor(o2o_client_socket(ch->client), addr, ZMQ_EVENT_DISCONNECTED) == 0 &&
          (mon = zmq_socket(p->zmq_ctx, ZMQ_PAIR))) {
        int zero = 0;
        zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof zero);
        if (zmq_connect(mon, addr) != 0) {
          zmq_close(mon);
          mon = NULL;
        }
      }
      ch->mon = mon; /* NULL: fall back to the pidfd and the timeout */
    }
    const o2o_bridge_spec *s = o2o_client_spec(ch->client);
    if (s->num_envs != pr->count) {
      o2o_pool_err(err, errlen, "o2o pool: %s serves %d envs, expected %d", pr->endpoint,
                   s->num_envs, pr->count);
      return O2O_BRIDGE_EPROTO;
    }
  }
  return 0;
}

/* A new child's first calls (dynamics, RESET) may take as long as its start-up (page
 * faults, a loaded machine); after that the fault-detection timeout applies. */
void o2o_pool_proc_timeout(o2o_pool *p, int k, int timeout_ms) {
  pool_proc *pr = &p->procs[k];
  for (int c = pr->first_chunk; c < pr->first_chunk + pr->num_chunks; c++)
    if (p->chunks[c].client) o2o_client_set_timeout(p->chunks[c].client, timeout_ms);
}

static int apply_dynamics(o2o_pool *p, int k, char *err, size_t errlen) {
  if (!p->num_dyn) return 0;
  pool_proc *pr = &p->procs[k];
  char cerr[O2O_BRIDGE_ERRLEN];
  int rc =
      o2o_client_set_dynamics(p->chunks[pr->first_chunk].client, p->num_dyn,
                              (const char(*)[32])p->dyn_names, p->dyn_values, cerr, sizeof cerr);
  if (rc) o2o_pool_err(err, errlen, "o2o pool: process #%d: %s", k, cerr);
  return rc;
}

int o2o_pool_proc_start(o2o_pool *p, int k, char *err, size_t errlen) {
  pool_proc *pr = &p->procs[k];
  int rc;
  pr->generation++;
  if (pr->spawned) {
    if ((rc = spawn_child(p, k, err, errlen))) return rc;
    if ((rc = wait_child(p, k, err, errlen))) return rc;
  }
  int hello = pr->spawned ? p->opt.startup_timeout_ms : p->cfg.timeout_ms;
  if ((rc = connect_proc(p, k, hello, err, errlen))) return rc;
  if (pr->spawned && p->pin) pin_child(pr->child.pid, k);
  const o2o_bridge_spec *s = o2o_client_spec(p->chunks[pr->first_chunk].client);
  if (!same_spec(s, &p->spec)) {
    o2o_pool_err(err, errlen,
                 "o2o pool: %s serves %s/%s (obs %d, act %d), unlike the pool's %s/%s (obs %d, "
                 "act %d)",
                 pr->endpoint, s->scenario, s->variant, s->obs_dim, s->act_dim, p->spec.scenario,
                 p->spec.variant, p->spec.obs_dim, p->spec.act_dim);
    return O2O_BRIDGE_EPROTO;
  }
  return apply_dynamics(p, k, err, errlen);
}

void o2o_pool_proc_stop(o2o_pool *p, int k, int grace_ms) {
  pool_proc *pr = &p->procs[k];
  for (int c = pr->first_chunk; c < pr->first_chunk + pr->num_chunks; c++) {
    if (p->chunks[c].mon) {
      zmq_socket_monitor(o2o_client_socket(p->chunks[c].client), NULL, 0);
      zmq_close(p->chunks[c].mon);
      p->chunks[c].mon = NULL;
    }
    o2o_client_destroy(p->chunks[c].client);
    o2o_pool_wire_close(&p->chunks[c]);
    p->chunks[c].client = NULL;
    p->chunks[c].state = CHUNK_IDLE;
  }
  if (pr->spawned) {
    o2o_spawn_stop(&pr->child, grace_ms);
    if (pr->ipc_path[0]) unlink(pr->ipc_path); /* a killed server cannot remove it */
  }
}

static int child_exited(pool_proc *pr, char *why, size_t len) {
  if (!pr->spawned || pr->child.pid <= 0 || o2o_spawn_alive(&pr->child)) return 0;
  char desc[128];
  o2o_spawn_describe(&pr->child, desc, sizeof desc);
  snprintf(why, len, "(pid %d) %s", (int)pr->child.pid, desc);
  return 1;
}

int o2o_pool_proc_failed(o2o_pool *p, int k, char *why, size_t len) {
  pool_proc *pr = &p->procs[k];
  if (child_exited(pr, why, len)) return 1;
  void *mon = p->chunks ? p->chunks[pr->first_chunk].mon : NULL;
  int failed = 0;
  while (mon) { /* each event: [uint16 event, uint32 value] then the endpoint */
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, mon, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(&m);
      break;
    }
    int more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    while (more) {
      zmq_msg_init(&m);
      if (zmq_msg_recv(&m, mon, ZMQ_DONTWAIT) < 0)
        more = 0;
      else
        more = zmq_msg_more(&m);
      zmq_msg_close(&m);
    }
    failed = 1;
  }
  if (!failed) return 0;
  /* A dying process closes its sockets before it is reaped: give its pidfd a moment so
   * the message says what happened to it. */
  if (pr->spawned && pr->child.pidfd >= 0) {
    struct pollfd pf = {.fd = pr->child.pidfd, .events = POLLIN};
    poll(&pf, 1, 200);
    if (child_exited(pr, why, len)) return 1;
  }
  snprintf(why, len, "dropped the connection to %s", pr->endpoint);
  return 1;
}

/* ---- create / destroy ------------------------------------------------------------------- */

static int alloc_batch(o2o_pool *p) {
  size_t n = (size_t)p->total, o = (size_t)p->spec.obs_dim;
  p->obs = calloc(n * o, sizeof(float));
  p->final_obs = calloc(n * o, sizeof(float));
  p->fresh_obs = calloc(n * o, sizeof(float));
  p->reward = calloc(n, sizeof(float));
  p->episode_step = calloc(n, sizeof(int32_t));
  p->terminated = calloc(n, 1);
  p->truncated = calloc(n, 1);
  p->lost = calloc(n, 1);
  return p->obs && p->final_obs && p->fresh_obs && p->reward && p->episode_step && p->terminated &&
         p->truncated && p->lost;
}

/* Split process k's envs into chunks of (nearly) equal size. */
static void layout_chunks(o2o_pool *p) {
  int c = 0;
  for (int k = 0; k < p->num_procs; k++) {
    pool_proc *pr = &p->procs[k];
    int nc = p->opt.chunks_per_proc < pr->count ? p->opt.chunks_per_proc : pr->count;
    if (nc < 1) nc = 1;
    pr->first_chunk = c;
    pr->num_chunks = nc;
    for (int i = 0; i < nc; i++, c++) {
      pool_chunk *ch = &p->chunks[c];
      int lo = pr->count * i / nc, hi = pr->count * (i + 1) / nc;
      ch->proc = k;
      ch->local = lo;
      ch->first = pr->first + lo;
      ch->count = hi - lo;
    }
  }
  p->num_chunks = c;
}

o2o_pool *o2o_pool_create(const o2o_pool_config *cfg, char *err, size_t errlen) {
  return o2o_pool_create_opts(cfg, NULL, err, errlen);
}

o2o_pool *o2o_pool_create_opts(const o2o_pool_config *cfg, const o2o_pool_options *opt, char *err,
                               size_t errlen) {
  if (!cfg || (!cfg->scenario && (!cfg->endpoints || cfg->num_endpoints < 1)) ||
      (cfg->scenario && cfg->endpoints && cfg->num_endpoints > 0)) {
    o2o_pool_err(err, errlen,
                 "o2o_pool_create: give either a scenario (spawn o2o-sim "
                 "children) or endpoints (connect to running servers)");
    return NULL;
  }
  if (cfg->scenario && (cfg->num_procs < 0 || cfg->num_procs > 256 || cfg->envs_per_proc < 0 ||
                        cfg->envs_per_proc > O2O_WIRE_MAX_ENVS)) {
    o2o_pool_err(err, errlen,
                 "o2o_pool_create: num_procs %d (1..256) or envs_per_proc %d (1..%d) "
                 "out of range",
                 cfg->num_procs, cfg->envs_per_proc, O2O_WIRE_MAX_ENVS);
    return NULL;
  }
  if (cfg->variant && strcmp(cfg->variant, "real") && strcmp(cfg->variant, "sim")) {
    o2o_pool_err(err, errlen, "o2o_pool_create: variant '%s' (expected real or sim)", cfg->variant);
    return NULL;
  }
  o2o_pool *p = calloc(1, sizeof *p);
  if (!p) {
    o2o_pool_err(err, errlen, "out of memory");
    return NULL;
  }
  p->cfg = *cfg;
  p->cfg.endpoints = NULL;
  if (p->cfg.timeout_ms <= 0) p->cfg.timeout_ms = 5000;
  if (opt) p->opt = *opt;
  if (p->opt.chunks_per_proc < 1) p->opt.chunks_per_proc = 1;
  if (p->opt.startup_timeout_ms <= 0) p->opt.startup_timeout_ms = 30000;
  if (p->opt.term_grace_ms <= 0) p->opt.term_grace_ms = 2000;
  p->pool_id = __atomic_fetch_add(&pool_counter, 1, __ATOMIC_RELAXED);
  int spawn = cfg->scenario != NULL;
  p->num_procs = spawn ? (cfg->num_procs > 0 ? cfg->num_procs : 1) : cfg->num_endpoints;
  if (p->opt.pin_cpus == 0) {
    cpu_set_t mine;
    int ncpu = sched_getaffinity(0, sizeof mine, &mine) == 0 ? CPU_COUNT(&mine) : 1;
    p->pin = spawn && p->num_procs >= 2 && p->num_procs <= ncpu;
  } else {
    p->pin = p->opt.pin_cpus > 0;
  }
  int n = spawn ? (cfg->envs_per_proc > 0 ? cfg->envs_per_proc : 1) : 0;
  snprintf(p->variant, sizeof p->variant, "%s", cfg->variant ? cfg->variant : "real");
  p->procs = calloc(p->num_procs, sizeof *p->procs);
  p->zmq_ctx = zmq_ctx_new();
  if (!p->procs || !p->zmq_ctx) {
    o2o_pool_err(err, errlen, "out of memory");
    goto fail;
  }
  int rc;
  if (spawn) {
    snprintf(p->scenario, sizeof p->scenario, "%s", cfg->scenario);
    if (cfg->sim_exe)
      snprintf(p->sim_exe, sizeof p->sim_exe, "%s", cfg->sim_exe);
    else if (o2o_spawn_find_exe("o2o-sim", p->sim_exe, sizeof p->sim_exe, err, errlen))
      goto fail;
    /* Start every child first, then wait for them: they load their models in parallel. */
    for (int k = 0; k < p->num_procs; k++) {
      pool_proc *pr = &p->procs[k];
      pr->spawned = 1;
      pr->first = k * n;
      pr->count = n;
      pr->generation = 1;
      if (spawn_child(p, k, err, errlen)) goto fail;
    }
    for (int k = 0; k < p->num_procs; k++)
      if (wait_child(p, k, err, errlen)) goto fail;
  } else {
    for (int k = 0; k < p->num_procs; k++) {
      if (!cfg->endpoints[k] || !*cfg->endpoints[k] ||
          strlen(cfg->endpoints[k]) >= sizeof p->procs[k].endpoint) {
        o2o_pool_err(err, errlen, "o2o_pool_create: endpoint %d is empty or too long", k);
        goto fail;
      }
      snprintf(p->procs[k].endpoint, sizeof p->procs[k].endpoint, "%s", cfg->endpoints[k]);
      /* How many envs each server has is known only after HELLO: ask with one client. */
      char cerr[O2O_BRIDGE_ERRLEN];
      o2o_client_options co = {.timeout_ms = p->cfg.timeout_ms, .zmq_ctx = p->zmq_ctx};
      o2o_client *probe = o2o_client_connect_opts(cfg->endpoints[k], &co, cerr, sizeof cerr);
      if (!probe) {
        o2o_pool_err(err, errlen, "o2o pool: %s", cerr);
        goto fail;
      }
      p->procs[k].count = o2o_client_spec(probe)->num_envs;
      o2o_client_destroy(probe);
    }
    for (int k = 0; k < p->num_procs; k++)
      p->procs[k].first = k ? p->procs[k - 1].first + p->procs[k - 1].count : 0;
  }
  p->total = p->procs[p->num_procs - 1].first + p->procs[p->num_procs - 1].count;
  int max_chunks = 0;
  for (int k = 0; k < p->num_procs; k++)
    max_chunks +=
        p->opt.chunks_per_proc < p->procs[k].count ? p->opt.chunks_per_proc : p->procs[k].count;
  p->chunks = calloc(max_chunks, sizeof *p->chunks);
  if (!p->chunks) {
    o2o_pool_err(err, errlen, "out of memory");
    goto fail;
  }
  layout_chunks(p);
  size_t nitems = (size_t)p->num_chunks + 2 * (size_t)p->num_procs;
  p->items = calloc(nitems, sizeof *p->items);
  p->who = calloc(nitems, sizeof *p->who);
  if (!p->items || !p->who) {
    o2o_pool_err(err, errlen, "out of memory");
    goto fail;
  }
  /* Process 0 defines the spec; every other must match it. */
  for (int k = 0; k < p->num_procs; k++) {
    pool_proc *pr = &p->procs[k];
    int hello = pr->spawned ? p->opt.startup_timeout_ms : p->cfg.timeout_ms;
    if ((rc = connect_proc(p, k, hello, err, errlen))) goto fail;
    o2o_pool_proc_timeout(p, k, p->cfg.timeout_ms);
    if (k == 0) p->spec = *o2o_client_spec(p->chunks[pr->first_chunk].client);
    const o2o_bridge_spec *s = o2o_client_spec(p->chunks[pr->first_chunk].client);
    if (!same_spec(s, &p->spec)) {
      o2o_pool_err(err, errlen,
                   "o2o pool: %s serves %s/%s (obs %d, act %d), unlike %s's %s/%s (obs %d, act "
                   "%d)",
                   pr->endpoint, s->scenario, s->variant, s->obs_dim, s->act_dim,
                   p->procs[0].endpoint, p->spec.scenario, p->spec.variant, p->spec.obs_dim,
                   p->spec.act_dim);
      goto fail;
    }
    if (pr->spawned && p->pin) pin_child(pr->child.pid, k);
  }
  p->spec.num_envs = p->total;
  if (!alloc_batch(p)) {
    o2o_pool_err(err, errlen, "out of memory for %d envs", p->total);
    goto fail;
  }
  if (!cfg->quiet) {
    fprintf(stderr, "o2o pool: %s %d o2o-sim, %d envs of %s/%s in all (%d sub-batches)\n",
            spawn ? "spawned" : "connected to", p->num_procs, p->total, p->spec.scenario,
            p->spec.variant, p->num_chunks);
  }
  return p;
fail:
  o2o_pool_destroy(p);
  return NULL;
}

void o2o_pool_destroy(o2o_pool *p) {
  if (!p) return;
  if (p->procs) {
    /* SIGTERM every child at once, then reap each (they shut down in parallel). */
    for (int k = 0; k < p->num_procs; k++) {
      pool_proc *pr = &p->procs[k];
      if (pr->spawned && o2o_spawn_alive(&pr->child)) {
        kill(pr->child.pid, SIGTERM);
        kill(pr->child.pid, SIGCONT);
      }
    }
    for (int k = 0; k < p->num_procs; k++) {
      if (p->chunks)
        o2o_pool_proc_stop(p, k, p->opt.term_grace_ms);
      else if (p->procs[k].spawned) {
        o2o_spawn_stop(&p->procs[k].child, p->opt.term_grace_ms);
        if (p->procs[k].ipc_path[0]) unlink(p->procs[k].ipc_path);
      }
    }
  }
  if (p->zmq_ctx) zmq_ctx_term(p->zmq_ctx);
  free(p->procs);
  free(p->chunks);
  free(p->items);
  free(p->who);
  free(p->obs);
  free(p->final_obs);
  free(p->fresh_obs);
  free(p->reward);
  free(p->episode_step);
  free(p->terminated);
  free(p->truncated);
  free(p->lost);
  free(p);
}

/* ---- queries ------------------------------------------------------------------------------ */

const o2o_bridge_spec *o2o_pool_spec(const o2o_pool *p) {
  return &p->spec;
}
int o2o_pool_restarts(const o2o_pool *p) {
  return p->restarts;
}
int o2o_pool_num_procs(const o2o_pool *p) {
  return p->num_procs;
}
int o2o_pool_num_chunks(const o2o_pool *p) {
  return p->num_chunks;
}
const uint8_t *o2o_pool_lost(const o2o_pool *p) {
  return p->lost;
}
const char *o2o_pool_endpoint(const o2o_pool *p, int proc) {
  return proc >= 0 && proc < p->num_procs ? p->procs[proc].endpoint : NULL;
}
pid_t o2o_pool_child_pid(const o2o_pool *p, int proc) {
  if (proc < 0 || proc >= p->num_procs || !p->procs[proc].spawned) return 0;
  const o2o_spawn *s = &p->procs[proc].child;
  return s->reaped ? 0 : s->pid;
}
void o2o_pool_chunk_range(const o2o_pool *p, int chunk, int *first, int *count) {
  int ok = chunk >= 0 && chunk < p->num_chunks;
  if (first) *first = ok ? p->chunks[chunk].first : 0;
  if (count) *count = ok ? p->chunks[chunk].count : 0;
}
