/* dataset_fastwrite.c: parallel compression of chunked float arrays on write.
 *
 * The dataset is created with the usual shuffle + deflate filters declared (so every HDF5
 * reader decodes it with its own pipeline), but its chunks are shuffled and deflated here by
 * worker threads and handed to HDF5 ready-made with H5Dwrite_chunk, in order, from this
 * thread. Tests read the result back with HDF5's own filter pipeline and with h5py. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "dataset_internal.h"

#define MAX_THREADS 8
#define BATCH_PER_THREAD 4

typedef struct wjob {
  int64_t row_first;
  unsigned char *out; /* compressed chunk */
  size_t out_len, out_cap;
  int status;
} wjob;

typedef struct wctx {
  const float *src;
  int64_t rows, chunk_rows;
  int cols, es, shuffle, level;
  wjob *jobs;
  int njobs;
  atomic_int next;
} wctx;

/* Build the full (zero-padded) chunk in file byte order, shuffled if asked. */
static void make_chunk(const wctx *c, int64_t row_first, unsigned char *plain, unsigned char *tmp) {
  const int64_t n = c->chunk_rows * c->cols;
  int64_t rows = c->rows - row_first < c->chunk_rows ? c->rows - row_first : c->chunk_rows;
  int64_t valid = rows * c->cols;
  const float *s = c->src + row_first * c->cols;
  unsigned char *dst = c->shuffle ? tmp : plain;
  if (c->es == 4) {
    memcpy(dst, s, (size_t)valid * 4);
  } else {
    for (int64_t i = 0; i < valid; i++) {
      double v = s[i];
      memcpy(dst + i * 8, &v, 8);
    }
  }
  memset(dst + valid * c->es, 0, (size_t)(n - valid) * c->es);
  if (c->shuffle) /* byte b of element i goes to b * n + i */
    for (int b = 0; b < c->es; b++) {
      unsigned char *plane = plain + (size_t)b * n;
      for (int64_t i = 0; i < n; i++)
        plane[i] = tmp[i * c->es + b];
    }
}

/* One zlib stream (what HDF5's deflate filter reads). Z_RLE: run-length + Huffman only,
 * several times faster than the default strategy on shuffled floats (long runs in the
 * exponent bytes, near-random mantissa bytes where LZ77 matching finds little anyway). */
static int deflate_chunk(wjob *job, const unsigned char *in, size_t len, int level) {
  const char *s = getenv("O2O_DATASET_ZSTRATEGY");
  int strategy = s && !strcmp(s, "default") ? Z_DEFAULT_STRATEGY : Z_RLE;
  z_stream z;
  memset(&z, 0, sizeof(z));
  if (deflateInit2(&z, level, Z_DEFLATED, 15, 8, strategy) != Z_OK) return Z_STREAM_ERROR;
  z.next_in = (unsigned char *)in;
  z.avail_in = (uInt)len;
  z.next_out = job->out;
  z.avail_out = (uInt)job->out_cap;
  int rc = deflate(&z, Z_FINISH);
  job->out_len = z.total_out;
  deflateEnd(&z);
  return rc == Z_STREAM_END ? Z_OK : rc == Z_OK ? Z_BUF_ERROR : rc;
}

static void *wworker(void *arg) {
  void **a = arg;
  wctx *c = a[0];
  const size_t chunk_bytes = (size_t)c->chunk_rows * c->cols * c->es;
  unsigned char *plain = a[1], *tmp = (unsigned char *)a[1] + chunk_bytes;
  for (;;) {
    int j = atomic_fetch_add(&c->next, 1);
    if (j >= c->njobs) break;
    wjob *job = &c->jobs[j];
    make_chunk(c, job->row_first, plain, tmp);
    job->status = deflate_chunk(job, plain, chunk_bytes, c->level);
  }
  return NULL;
}

static int wthreads(void) {
  return o2o_ds_threads();
}

int o2o_ds_fast_write(hid_t dset, const float *src, int64_t rows, int cols, int64_t chunk_rows,
                      int es, int shuffle, int level, char *msg, size_t msglen) {
  wctx c = {.src = src,
            .rows = rows,
            .chunk_rows = chunk_rows,
            .cols = cols,
            .es = es,
            .shuffle = shuffle,
            .level = level};
  const size_t chunk_bytes = (size_t)chunk_rows * cols * es;
  const int T = wthreads(), batch = T * BATCH_PER_THREAD;
  const size_t bound = compressBound((uLong)chunk_bytes);
  c.jobs = calloc((size_t)batch, sizeof(wjob));
  unsigned char *scratch = malloc((size_t)T * 2 * chunk_bytes);
  int rc = 0;
  if (!c.jobs || !scratch) {
    snprintf(msg, msglen, "out of memory");
    rc = -1;
  }
  for (int j = 0; !rc && j < batch; j++) {
    c.jobs[j].out = malloc(bound);
    c.jobs[j].out_cap = bound;
    if (!c.jobs[j].out) {
      snprintf(msg, msglen, "out of memory");
      rc = -1;
    }
  }
  pthread_t th[MAX_THREADS];
  void *args[MAX_THREADS][2];
  const int64_t nchunks = (rows + chunk_rows - 1) / chunk_rows;
  for (int64_t k0 = 0; !rc && k0 < nchunks; k0 += batch) {
    c.njobs = 0;
    for (int64_t k = k0; k < nchunks && c.njobs < batch; k++)
      c.jobs[c.njobs++].row_first = k * chunk_rows;
    atomic_store(&c.next, 0);
    int started = 0;
    for (int t = 1; t < T && t < c.njobs; t++) {
      args[t][0] = &c;
      args[t][1] = scratch + (size_t)t * 2 * chunk_bytes;
      if (pthread_create(&th[t], NULL, wworker, args[t]) != 0) break;
      started = t;
    }
    args[0][0] = &c;
    args[0][1] = scratch;
    wworker(args[0]);
    for (int t = 1; t <= started; t++)
      pthread_join(th[t], NULL);
    for (int j = 0; !rc && j < c.njobs; j++) {
      wjob *job = &c.jobs[j];
      hsize_t off[2] = {(hsize_t)job->row_first, 0};
      if (job->status != Z_OK) {
        snprintf(msg, msglen, "zlib error %d compressing the chunk at row %lld", job->status,
                 (long long)job->row_first);
        rc = -1;
      } else if (H5Dwrite_chunk(dset, H5P_DEFAULT, 0, off, job->out_len, job->out) < 0) {
        o2o_ds_h5_message(msg, msglen);
        rc = -1;
      }
    }
  }
  if (c.jobs)
    for (int j = 0; j < batch; j++)
      free(c.jobs[j].out);
  free(c.jobs);
  free(scratch);
  return rc;
}
