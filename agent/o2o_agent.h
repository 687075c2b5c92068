/* o2o_agent.h: the shared types of agent/ that cross file boundaries: named tensors (for
 * checkpoints), transition batches, replay buffers, the SAC learner and a loaded policy.
 * Each piece has its own header with the full API (nn.h, sac.h, replay.h, checkpoint.h,
 * policy.h); this one holds only what several of them agree on. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define O2O_AGENT_ERRLEN 512

/* splitmix64 (Steele, Lea, Flood 2014): advances *state and returns the next 64-bit value.
 * The one copy of agent/: generator seeding, replay sampling, random policies. */
static inline uint64_t o2o_splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Random streams of a run, each seeded by o2o_seed_stream(run seed, stream id), so no two
 * streams share seeds whatever the run seed (seed*1000 + j for train envs and 1000000 + j for
 * evaluation episodes overlapped at --seed 1000). Evaluation episodes keep their plain,
 * user-given seeds (eval_seed + j, as in `o2o eval --seed`); hashed streams cannot meet them. */
enum {
  O2O_STREAM_LEARNER = 1, /* network init and the learner's sampling */
  O2O_STREAM_TRAIN_ENV,   /* training env resets (env j: seed + j) */
  O2O_STREAM_REPLAY,      /* replay sampling */
  O2O_STREAM_WARMUP,      /* uniform random warm-up actions */
};
/* A seed for stream `stream` of base seed `seed`: two splitmix64 rounds over both. */
static inline uint64_t o2o_seed_stream(uint64_t seed, uint64_t stream) {
  uint64_t s = seed;
  uint64_t h = o2o_splitmix64(&s);
  s = h ^ (stream * 0xd1b54a32d192ed03ULL);
  return o2o_splitmix64(&s);
}

/* Monotonic seconds (CLOCK_MONOTONIC), for rates, ETAs and wall times (agent_errf.c). */
double o2o_agent_now_s(void);

/* snprintf into an error buffer (NULL or 0-length buffers are ignored): the one error
 * writer of agent/ (agent_errf.c). */
void o2o_agent_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The shortest text that reads back as v (agent_errf.c): integers as integers, a value that is
 * exactly a float32 as the shortest text of that float (0.99f -> "0.99", not 0.99000001),
 * other doubles with up to 17 digits. For config.json, --json output and checkpoint metadata.
 * Non-finite values give "nan"/"inf" (JSON writers print null instead). */
void o2o_agent_num_text(double v, char *buf, size_t n);

/* A named float32 tensor owned elsewhere: how a learner exposes its parameters and
 * optimizer state to checkpoints ("actor.l0.weight", "critic.adam_m", ...). */
typedef struct o2o_tensor_ref {
  char name[96];
  float *data;
  int ndim;
  int64_t shape[4];
} o2o_tensor_ref;

static inline int64_t o2o_tensor_numel(const o2o_tensor_ref *t) {
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++)
    n *= t->shape[i];
  return n;
}

/* A batch of transitions, row-major float32, B rows. done = 1 only for true terminals
 * (never for time-limit truncation). is_real marks rows from the real (offline) buffer
 * when a batch mixes real and sim data (H2O); NULL when the batch has one source. */
typedef struct o2o_batch {
  int size; /* B */
  int obs_dim, act_dim;
  float *obs;       /* [B][obs_dim] */
  float *act;       /* [B][act_dim] */
  float *rew;       /* [B] */
  float *next_obs;  /* [B][obs_dim] */
  float *done;      /* [B] 0 or 1 */
  uint8_t *is_real; /* [B] or NULL */
  /* Optional per-row columns (NULL when the source has none; a learner that needs one says so
   * in its o2o_learner_algo.columns and refuses a batch without it): */
  float *weight;    /* [B] sample weight (H2O's dynamics ratio on sim rows) */
  float *mc_return; /* [B] Monte-Carlo discounted return-to-go from this row (Cal-QL) */
} o2o_batch;

/* Optional batch columns, as flags: what a learner needs (o2o_learner_algo.columns), what a
 * replay buffer stores (o2o_replay_create_with) and what a batch holds (o2o_replay_batch_alloc). */
enum {
  O2O_COLUMN_IS_REAL = 1 << 0,   /* batch->is_real (mixed real/sim batches: H2O) */
  O2O_COLUMN_WEIGHT = 1 << 1,    /* batch->weight */
  O2O_COLUMN_MC_RETURN = 1 << 2, /* batch->mc_return (Cal-QL) */
};

#ifdef __cplusplus
}
#endif
