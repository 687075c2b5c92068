/* replay.h: replay buffers of float32 transitions (ring buffer, uniform sampling).
 *
 * Storage is one array per field (obs, act, rew, next_obs, done), each allocated once at
 * create time, so a buffer costs its raw float32 size plus a few hundred bytes
 * (o2o_replay_bytes). Rows are written FIFO: once full, the oldest row is overwritten.
 *
 * Sampling writes into a caller-owned o2o_batch (no allocation per sample). Two buffers
 * can be sampled into one batch at a fixed real/sim ratio (H2O: 128 real + 128 sim), with
 * batch->is_real marking the rows of the first buffer.
 *
 * Bulk loading (a D4RL file, an offline dataset) goes straight into the buffer storage:
 * o2o_replay_reserve hands out pointers to the next contiguous free rows, the caller fills
 * them (e.g. HDF5 reads into obs/act/...), then o2o_replay_commit makes them visible.
 *
 * Optional per-row columns (O2O_COLUMN_WEIGHT, O2O_COLUMN_MC_RETURN) are allocated only when
 * asked for at create time (o2o_replay_create_with) and sampled into batch->weight and
 * batch->mc_return. Rows added without them get weight 1 and mc_return 0 (CORL's value for
 * online rows, whose return is unknown; Cal-QL switches its bound off online).
 *
 * Random numbers come from a caller-owned uint64_t state (o2o_replay_rng_seed), so
 * sampling is reproducible per seed and a buffer can be shared by several samplers. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "o2o_agent.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct o2o_replay o2o_replay;

/* Pointers to `rows` contiguous writable rows of a buffer (from o2o_replay_reserve). */
typedef struct o2o_replay_view {
  int64_t rows;     /* rows available to fill, <= the number asked for */
  float *obs;       /* [rows][obs_dim] */
  float *act;       /* [rows][act_dim] */
  float *rew;       /* [rows] */
  float *next_obs;  /* [rows][obs_dim] */
  float *done;      /* [rows] 1 = true terminal (never time-limit truncation) */
  float *weight;    /* [rows] or NULL (no such column); reserve pre-fills 1 */
  float *mc_return; /* [rows] or NULL; reserve pre-fills 0 */
} o2o_replay_view;

o2o_replay *o2o_replay_create(int64_t capacity, int obs_dim, int act_dim, char *err, size_t errlen);
/* With optional columns: O2O_COLUMN_WEIGHT | O2O_COLUMN_MC_RETURN (others are refused). */
o2o_replay *o2o_replay_create_with(int64_t capacity, int obs_dim, int act_dim, int columns,
                                   char *err, size_t errlen);
int o2o_replay_columns(const o2o_replay *rb);  /* the O2O_COLUMN_* flags it stores */
void o2o_replay_destroy(o2o_replay *rb);       /* NULL is fine */
int64_t o2o_replay_size(const o2o_replay *rb); /* rows stored, <= capacity */
int64_t o2o_replay_capacity(const o2o_replay *rb);
int64_t o2o_replay_added(const o2o_replay *rb); /* rows ever added (overwritten included) */
int o2o_replay_obs_dim(const o2o_replay *rb);
int o2o_replay_act_dim(const o2o_replay *rb);
/* Bytes this buffer allocated (storage + struct). Raw float32 size of its transitions is
 * capacity * 4 * (2 * obs_dim + act_dim + 2). */
size_t o2o_replay_bytes(const o2o_replay *rb);
void o2o_replay_clear(o2o_replay *rb);

/* Append n transitions given as row-major arrays (done may be NULL = all 0). */
void o2o_replay_add(o2o_replay *rb, int64_t n, const float *obs, const float *act, const float *rew,
                    const float *next_obs, const float *done);

/* Bulk path: the next min(n, capacity - write position) rows, contiguous in storage.
 * Nothing is visible to sampling until o2o_replay_commit(rb, k) with k <= view->rows.
 * To load more than one view holds, loop: reserve, fill, commit. */
void o2o_replay_reserve(o2o_replay *rb, int64_t n, o2o_replay_view *view);
int o2o_replay_commit(o2o_replay *rb, int64_t rows, char *err, size_t errlen);

/* Row i (0 = oldest stored) for inspection and tests; returns 0, or -1 if out of range. */
int o2o_replay_get(const o2o_replay *rb, int64_t i, float *obs, float *act, float *rew,
                   float *next_obs, float *done);
/* The optional columns of row i (NULL pointers skipped); -1 if out of range or a column asked
 * for is not stored. */
int o2o_replay_get_columns(const o2o_replay *rb, int64_t i, float *weight, float *mc_return);

/* The storage itself, read-only (for saving a buffer whole): view->rows = the rows stored, the
 * pointers at storage row 0; *oldest = the storage index of the oldest row (rows oldest..rows-1
 * then 0..oldest-1 are the rows oldest first; 0 until the buffer wraps). */
void o2o_replay_storage(const o2o_replay *rb, o2o_replay_view *view, int64_t *oldest);

/* ---- Monte-Carlo returns-to-go (Cal-QL) --------------------------------------------------- */
typedef struct o2o_mc_opts {
  double gamma;         /* discount, [0, 1] (< 1 with sparse_reward or infinite_horizon) */
  int sparse_reward;    /* an episode whose every reward == reward_neg gets reward_neg/(1-gamma) */
  double reward_neg;    /* the failure reward of a sparse task */
  int infinite_horizon; /* a truncated episode goes on with its last reward: r_T/(1-gamma) */
} o2o_mc_opts;

/* G_t = r_t + gamma (1 - terminal_t) G_{t+1} over n consecutive dataset rows, episodes ending
 * after every row whose terminal or timeout is set (the official Cal-QL code's
 * calc_return_to_go, github.com/nakamotoo/Cal-QL JaxCQL/replay_buffer.py): a timed-out
 * (truncated) episode's return stops at its last row (tail 0, no bootstrap) unless
 * infinite_horizon; rows after the last end (an unfinished episode) are treated as truncated.
 * The rewards are the ones the learner sees (after any scaling). out [n] (float32; computed in
 * double). -1 + err: no terminal or timeout in the rows (no episode boundaries), bad options. */
int o2o_mc_returns(int64_t n, const float *rew, const uint8_t *terminals, const uint8_t *timeouts,
                   const o2o_mc_opts *opts, float *out, char *err, size_t errlen);
/* The same from the rewards of rows [first, first + n) of a buffer (0 = oldest), written into
 * its mc_return column; -1 + err if the buffer has none or the range is outside it. */
int o2o_replay_fill_mc_returns(o2o_replay *rb, int64_t first, int64_t n, const uint8_t *terminals,
                               const uint8_t *timeouts, const o2o_mc_opts *opts, char *err,
                               size_t errlen);

/* ---- sampling ---------------------------------------------------------------------- */
void o2o_replay_rng_seed(uint64_t *rng, uint64_t seed);
uint64_t o2o_replay_rng_next(uint64_t *rng);              /* splitmix64 */
uint64_t o2o_replay_rng_below(uint64_t *rng, uint64_t n); /* uniform in [0, n), unbiased */

/* Fill batch rows [row0, row0 + n) with uniform samples (with replacement), with the optional
 * columns the batch has (batch->weight, batch->mc_return). Returns 0, or -1 with err if the
 * buffer is empty, the batch is too small / has other dims, or it asks for a column the buffer
 * does not store. */
int o2o_replay_sample_into(const o2o_replay *rb, uint64_t *rng, o2o_batch *batch, int row0, int n,
                           char *err, size_t errlen);
/* Fill all batch->size rows from one buffer; is_real (if present) set to `is_real`. */
int o2o_replay_sample(const o2o_replay *rb, uint64_t *rng, o2o_batch *batch, int is_real, char *err,
                      size_t errlen);
/* One batch from two buffers: exactly o2o_replay_mix_count(size, real_ratio) rows from
 * `real` first (is_real = 1), the rest from `sim` (is_real = 0). real_ratio in [0, 1]. */
int o2o_replay_sample_mixed(const o2o_replay *real, const o2o_replay *sim, double real_ratio,
                            uint64_t *rng, o2o_batch *batch, char *err, size_t errlen);
int o2o_replay_mix_count(int batch_size, double real_ratio); /* rows taken from real */

/* A batch with its own storage (one allocation); with_is_real adds the is_real array. */
int o2o_replay_batch_alloc(o2o_batch *batch, int size, int obs_dim, int act_dim, int with_is_real);
/* The same with any O2O_COLUMN_* flags (is_real, weight, mc_return). */
int o2o_replay_batch_alloc_with(o2o_batch *batch, int size, int obs_dim, int act_dim, int columns);
void o2o_replay_batch_free(o2o_batch *batch);

#ifdef __cplusplus
}
#endif
