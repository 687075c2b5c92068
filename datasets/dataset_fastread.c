/* dataset_fastread.c: parallel read of gzip (+ shuffle) chunked float arrays.
 *
 * HDF5 inflates chunks one after another on the calling thread; on float data zlib is the
 * bottleneck (~200-500 MB/s per core). Here the raw compressed chunks are fetched with
 * H5Dread_chunk (a plain read, HDF5 calls stay on this thread), then inflated, unshuffled
 * and converted to float32 by worker threads straight into the caller's rows.
 * Only the layouts HDF5 writes with deflate and optionally shuffle are handled; anything
 * else (other filters, non-full-width chunks, big-endian types) returns "not handled" and
 * the caller uses H5Dread. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "dataset_internal.h"

#define BATCH_PER_THREAD 4
#define MAX_THREADS 8

typedef struct chunk_job {
  unsigned char *raw; /* compressed (or plain) bytes as stored */
  size_t raw_len, raw_cap;
  uint32_t mask;     /* filters skipped for this chunk (bit i = filter i) */
  int64_t row_first; /* first dataset row of the chunk */
  int status;        /* 0 ok, else zlib error */
} chunk_job;

typedef struct fast_ctx {
  /* layout */
  int es;   /* bytes per element in the file: 4 or 8 */
  int cols; /* elements per row */
  int64_t chunk_rows;
  int shuffle_idx, deflate_idx; /* filter positions (-1 absent) */
  /* request */
  int64_t row0, rows;
  float *out;
  /* batch */
  chunk_job *jobs;
  int njobs;
  atomic_int next;
} fast_ctx;

/* Undo HDF5's byte shuffle for elements [e0, e1) of a chunk of n elements: byte b of element
 * i sits at b * n + i. Gathering whole elements (not bytes) lets the compiler vectorise. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("O3"))) /* vectorise the gather at the project's -O2 too */
#endif
static void
unshuffle4(const unsigned char *in, int64_t n, int64_t e0, int64_t e1, float *out) {
  const unsigned char *p0 = in, *p1 = in + n, *p2 = in + 2 * n, *p3 = in + 3 * n;
  for (int64_t i = e0; i < e1; i++) {
    uint32_t v =
        (uint32_t)p0[i] | (uint32_t)p1[i] << 8 | (uint32_t)p2[i] << 16 | (uint32_t)p3[i] << 24;
    memcpy(out + (i - e0), &v, 4);
  }
}

static void unshuffle8_to_float(const unsigned char *in, int64_t n, int64_t e0, int64_t e1,
                                float *out) {
  for (int64_t i = e0; i < e1; i++) {
    uint64_t v = 0;
    for (int b = 0; b < 8; b++)
      v |= (uint64_t)in[(int64_t)b * n + i] << (8 * b);
    double d;
    memcpy(&d, &v, 8);
    out[i - e0] = (float)d;
  }
}

/* Unshuffle + convert the wanted rows of one decoded chunk into out (little-endian host). */
static void emit_rows(const fast_ctx *c, const unsigned char *bytes, int shuffled,
                      int64_t row_first) {
  const int64_t n = c->chunk_rows * c->cols; /* elements in a (full) chunk */
  int64_t r0 = row_first > c->row0 ? row_first : c->row0;
  int64_t r1 = row_first + c->chunk_rows;
  if (r1 > c->row0 + c->rows) r1 = c->row0 + c->rows;
  if (r1 <= r0) return;
  int64_t e0 = (r0 - row_first) * c->cols, e1 = (r1 - row_first) * c->cols;
  float *dst = c->out + (r0 - c->row0) * c->cols;
  if (shuffled && c->es == 4) {
    unshuffle4(bytes, n, e0, e1, dst);
  } else if (shuffled) {
    unshuffle8_to_float(bytes, n, e0, e1, dst);
  } else if (c->es == 4) {
    memcpy(dst, bytes + e0 * 4, (size_t)(e1 - e0) * 4);
  } else {
    for (int64_t i = e0; i < e1; i++) {
      double v;
      memcpy(&v, bytes + i * 8, 8);
      dst[i - e0] = (float)v;
    }
  }
}

static void *worker(void *arg) {
  void **a = arg;
  fast_ctx *c = a[0];
  unsigned char *scratch = a[1];
  const size_t chunk_bytes = (size_t)c->chunk_rows * c->cols * c->es;
  unsigned char *plain = scratch;
  for (;;) {
    int j = atomic_fetch_add(&c->next, 1);
    if (j >= c->njobs) break;
    chunk_job *job = &c->jobs[j];
    int deflated = c->deflate_idx >= 0 && !(job->mask & (1u << c->deflate_idx));
    int shuffled = c->shuffle_idx >= 0 && !(job->mask & (1u << c->shuffle_idx));
    const unsigned char *bytes = job->raw;
    if (deflated) {
      uLongf len = (uLongf)chunk_bytes;
      int zrc = uncompress(plain, &len, job->raw, (uLong)job->raw_len);
      if (zrc != Z_OK || len != chunk_bytes) {
        job->status = zrc != Z_OK ? zrc : -100;
        continue;
      }
      bytes = plain;
    } else if (job->raw_len != chunk_bytes) {
      job->status = -101;
      continue;
    }
    emit_rows(c, bytes, shuffled, job->row_first);
    job->status = 0;
  }
  return NULL;
}

static int num_threads(void) {
  return o2o_ds_threads();
}

/* Returns 1 and fills *c when dset's layout is one we decode ourselves. */
static int layout_ok(hid_t dset, int cols, fast_ctx *c) {
  int ok = 0;
  hid_t dcpl = H5Dget_create_plist(dset), type = H5Dget_type(dset), space = H5Dget_space(dset);
  hsize_t chunk[2] = {0, 0}, dims[2] = {0, 1};
  int rank = H5Sget_simple_extent_ndims(space);
  c->shuffle_idx = c->deflate_idx = -1;
  if (H5Pget_layout(dcpl) != H5D_CHUNKED || rank < 1 || rank > 2) goto done;
  H5Sget_simple_extent_dims(space, dims, NULL);
  if (H5Pget_chunk(dcpl, 2, chunk) != rank) goto done;
  if (rank == 2 && (chunk[1] != dims[1] || (int)dims[1] != cols)) goto done;
  if (rank == 1 && cols != 1) goto done;
  if (H5Tequal(type, H5T_IEEE_F32LE) > 0)
    c->es = 4;
  else if (H5Tequal(type, H5T_IEEE_F64LE) > 0)
    c->es = 8;
  else
    goto done;
  int nf = H5Pget_nfilters(dcpl);
  for (int i = 0; i < nf; i++) {
    unsigned flags, cd[8];
    size_t ncd = 8;
    H5Z_filter_t f = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, 0, NULL, NULL);
    if (f == H5Z_FILTER_SHUFFLE && c->deflate_idx < 0)
      c->shuffle_idx = i;
    else if (f == H5Z_FILTER_DEFLATE)
      c->deflate_idx = i;
    else
      goto done; /* other filters, or shuffle after deflate: leave it to HDF5 */
  }
  if (c->deflate_idx < 0) goto done; /* uncompressed: H5Dread is already memcpy speed */
  c->cols = cols;
  c->chunk_rows = (int64_t)chunk[0];
  ok = c->chunk_rows > 0;
done:
  H5Pclose(dcpl);
  H5Tclose(type);
  H5Sclose(space);
  return ok;
}

int o2o_ds_fast_read(hid_t dset, int64_t row0, int64_t rows, int cols, float *out, int *handled,
                     char *msg, size_t msglen) {
  *handled = 0;
  fast_ctx c = {0};
  if (rows <= 0 || !layout_ok(dset, cols, &c)) return 0;
  /* Small reads are not worth threads. */
  const size_t chunk_bytes = (size_t)c.chunk_rows * cols * c.es;
  if ((size_t)rows * cols * c.es < 4 * chunk_bytes) return 0;
  c.row0 = row0;
  c.rows = rows;
  c.out = out;
  const int T = num_threads();
  const int batch = T * BATCH_PER_THREAD;
  c.jobs = calloc((size_t)batch, sizeof(chunk_job));
  unsigned char *scratch = malloc((size_t)T * chunk_bytes);
  pthread_t th[MAX_THREADS];
  void *args[MAX_THREADS][2];
  int rc = 0;
  if (!c.jobs || !scratch) {
    snprintf(msg, msglen, "out of memory");
    rc = -1;
    goto done;
  }
  int64_t first_chunk = row0 / c.chunk_rows, last_chunk = (row0 + rows - 1) / c.chunk_rows;
  for (int64_t k0 = first_chunk; k0 <= last_chunk && !rc; k0 += batch) {
    c.njobs = 0;
    for (int64_t k = k0; k <= last_chunk && c.njobs < batch; k++) {
      chunk_job *job = &c.jobs[c.njobs];
      hsize_t off[2] = {(hsize_t)(k * c.chunk_rows), 0}, size = 0;
      if (H5Dget_chunk_storage_size(dset, off, &size) < 0 || size == 0) {
        rc = 1; /* unallocated chunk (fill value): let HDF5 handle the whole read */
        break;
      }
      if (size > job->raw_cap) {
        unsigned char *p = realloc(job->raw, size);
        if (!p) {
          snprintf(msg, msglen, "out of memory");
          rc = -1;
          break;
        }
        job->raw = p;
        job->raw_cap = size;
      }
      if (H5Dread_chunk(dset, H5P_DEFAULT, off, &job->mask, job->raw) < 0) {
        o2o_ds_h5_message(msg, msglen);
        rc = -1;
        break;
      }
      job->raw_len = size;
      job->row_first = k * c.chunk_rows;
      job->status = 0;
      c.njobs++;
    }
    if (rc) break;
    atomic_store(&c.next, 0);
    int started = 0;
    for (int t = 1; t < T && t < c.njobs; t++) {
      args[t][0] = &c;
      args[t][1] = scratch + (size_t)t * chunk_bytes;
      if (pthread_create(&th[t], NULL, worker, args[t]) == 0)
        started = t;
      else
        break;
    }
    args[0][0] = &c;
    args[0][1] = scratch;
    worker(args[0]);
    for (int t = 1; t <= started; t++)
      pthread_join(th[t], NULL);
    for (int j = 0; j < c.njobs; j++)
      if (c.jobs[j].status) {
        snprintf(msg, msglen, "chunk at row %lld does not inflate (zlib %d): corrupt data",
                 (long long)c.jobs[j].row_first, c.jobs[j].status);
        rc = -1;
        break;
      }
  }
done:
  if (c.jobs)
    for (int j = 0; j < batch; j++)
      free(c.jobs[j].raw);
  free(c.jobs);
  free(scratch);
  if (rc == 1) return 0; /* fall back */
  *handled = 1;
  return rc;
}
