/* par.c: one persistent worker thread, woken per o2o_par_run (par.h).
 * Both sides spin a short while before sleeping: the pieces of an update follow each other
 * within microseconds, and a futex wake-up on a busy machine can cost a scheduler slice. */
#include "nn/par.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define SPIN 20000 /* polls (~50-100 us) before sleeping */

static int par_threads = 1;
static _Thread_local int in_part; /* nested runs go inline */

static struct {
  pthread_t tid;
  int started;
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  atomic_ulong gen, finished;
  atomic_int sleeping; /* the worker waits on go (so the caller must signal) */
  o2o_par_fn fn;
  void *ctx;
  int parts;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER,
          .go = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static void *worker(void *arg) {
  (void)arg;
  in_part = 1;
  unsigned long seen = 0;
  for (;;) {
    int i = 0;
    while (atomic_load_explicit(&pool.gen, memory_order_acquire) == seen && i++ < SPIN)
      cpu_relax();
    if (atomic_load_explicit(&pool.gen, memory_order_acquire) == seen) {
      pthread_mutex_lock(&pool.mu);
      atomic_store(&pool.sleeping, 1);
      while (atomic_load(&pool.gen) == seen)
        pthread_cond_wait(&pool.go, &pool.mu);
      atomic_store(&pool.sleeping, 0);
      pthread_mutex_unlock(&pool.mu);
    }
    seen = atomic_load_explicit(&pool.gen, memory_order_acquire);
    pool.fn(pool.ctx, 1, pool.parts);
    pthread_mutex_lock(&pool.mu);
    atomic_store_explicit(&pool.finished, seen, memory_order_release);
    pthread_cond_signal(&pool.done);
    pthread_mutex_unlock(&pool.mu);
  }
  return NULL;
}

int o2o_par_set_threads(int n) {
  n = n >= 2 ? 2 : 1;
  if (n == 2 && !pool.started) {
    if (pthread_create(&pool.tid, NULL, worker, NULL)) return par_threads = 1;
    pthread_detach(pool.tid);
    pool.started = 1;
  }
  return par_threads = n;
}

int o2o_par_threads(void) {
  return in_part ? 1 : par_threads;
}

void o2o_par_run(o2o_par_fn fn, void *ctx) {
  if (o2o_par_threads() < 2) {
    fn(ctx, 0, 1);
    return;
  }
  /* each part's sgemm runs on its own thread; OpenBLAS's threads would oversubscribe */
  int blas = openblas_get_num_threads();
  if (blas != 1) openblas_set_num_threads(1);
  pool.fn = fn;
  pool.ctx = ctx;
  pool.parts = 2;
  pthread_mutex_lock(&pool.mu);
  unsigned long g = atomic_fetch_add(&pool.gen, 1) + 1;
  if (atomic_load(&pool.sleeping)) pthread_cond_signal(&pool.go);
  pthread_mutex_unlock(&pool.mu);
  in_part = 1;
  fn(ctx, 0, 2);
  in_part = 0;
  int i = 0;
  while (atomic_load_explicit(&pool.finished, memory_order_acquire) != g && i++ < SPIN)
    cpu_relax();
  if (atomic_load_explicit(&pool.finished, memory_order_acquire) != g) {
    pthread_mutex_lock(&pool.mu);
    while (atomic_load(&pool.finished) != g)
      pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
  }
  if (blas != 1) openblas_set_num_threads(blas);
}

void o2o_par_range(size_t n, size_t align, int part, int parts, size_t *i0, size_t *i1) {
  size_t per = (n / (size_t)parts + align - 1) / align * align;
  size_t a = per * (size_t)part, b = part == parts - 1 ? n : a + per;
  *i0 = a < n ? a : n;
  *i1 = b < n ? b : n;
}
