/* par.h: o2o's own worker thread for task parallelism on small products.
 *
 * OpenBLAS's threads split each sgemm; at batch 256 and 256-wide layers the pieces are too
 * small to gain much. With 2 threads o2o instead runs independent pieces of an update
 * concurrently (ensemble members, row blocks, halves of an Adam pass), each piece calling
 * single-threaded sgemm. The split never cuts a sum (members, rows, or output columns), so
 * each value is computed by the same sgemm arithmetic as with 1 thread.
 *
 * Opt-in: O2O_PAR_THREADS=2 (read by o2o_blas_setup) or o2o_par_set_threads(2); 1 (the
 * default) runs everything inline on the caller. On the shared 2-core VM, where another job
 * held one core, it measured no faster than OpenBLAS's own 2 threads (REDQ 0.83x vs 0.87x
 * floor). One persistent worker is created when the count first goes above 1 (never per
 * call). */
#pragma once
#include <stddef.h>

/* part p of parts: do the p-th share of the work. */
typedef void (*o2o_par_fn)(void *ctx, int part, int parts);

/* 1 or 2 (larger counts use 2). Returns the count in force. Not thread-safe: call it from
 * the main thread, outside o2o_par_run. */
int o2o_par_set_threads(int n);
/* The count in force; 1 inside a part (nested calls run inline). */
int o2o_par_threads(void);
/* fn(ctx, 0, parts) on the caller and fn(ctx, 1, parts) on the worker, concurrently, with
 * OpenBLAS on 1 thread; returns when both are done. parts = o2o_par_threads(). */
void o2o_par_run(o2o_par_fn fn, void *ctx);
/* [*i0, *i1) of part p of n items, split at multiples of align (for vector loops). */
void o2o_par_range(size_t n, size_t align, int part, int parts, size_t *i0, size_t *i1);
