/* bench_common.h: what every `o2o bench <algo>` program shares: a monotonic clock, medians,
 * the matmul-only floor (a list of sgemm calls replayed with nothing else), random in-memory
 * replay data, one PyTorch reference round as a subprocess, and the core's FMA peak measured
 * with a small FMA loop chosen by CPU detection at run time. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "o2o_agent.h"

#define O2O_BENCH_MAX_ROUNDS 64

double o2o_bench_now(void);                      /* seconds, CLOCK_MONOTONIC */
double o2o_bench_median(const double *v, int n); /* 0 when n < 1 */

/* ---- the matmul floor ---- */
typedef struct o2o_bench_gemm {
  int M, N, K, ta, tb;
  float *a, *b, *c;
} o2o_bench_gemm;

typedef struct o2o_bench_floor {
  o2o_bench_gemm *calls;
  int n, cap;
  double flop;
} o2o_bench_floor;

int o2o_bench_floor_init(o2o_bench_floor *f, int cap);
int o2o_bench_floor_add(o2o_bench_floor *f, int M, int N, int K, int ta, int tb);
/* An MLP of nl Linear layers d[0..nl], batch B: forward = one NT product per layer; backward =
 * a TN weight gradient per layer and an NN input gradient per layer except the first unless
 * igrad0. */
int o2o_bench_floor_mlp(o2o_bench_floor *f, const int *d, int nl, int B, int fwd, int bwd,
                        int igrad0);
void o2o_bench_floor_run(const o2o_bench_floor *f);
void o2o_bench_floor_free(o2o_bench_floor *f);
/* d[0..layers+1] = in, hidden (layers times), out: an MLP's widths for the functions here. */
void o2o_bench_dims(int in, int hidden, int layers, int out, int *d);
/* Matmul FLOPs of the same MLP pass (2 per multiply-add), without running it. */
double o2o_bench_mlp_flop(const int *d, int nl, int B, int fwd, int bwd, int igrad0);

/* ---- random replay data (normal obs/rewards, uniform actions, 1% done) ---- */
typedef struct o2o_bench_data {
  int64_t rows;
  int obs_dim, act_dim;
  float *obs, *act, *rew, *next_obs, *done;
  uint64_t rng;
} o2o_bench_data;

int o2o_bench_data_init(o2o_bench_data *d, int64_t rows, int obs_dim, int act_dim, uint64_t seed);
void o2o_bench_data_free(o2o_bench_data *d);
/* A batch of `size` rows (columns allocated together; is_real allocated when with_real). */
int o2o_bench_batch_alloc(o2o_batch *b, int size, int obs_dim, int act_dim, int with_real);
void o2o_bench_batch_free(o2o_batch *b);

/* The --json tail every learner bench writes: the torch figures (when torch ran), then
 * "rounds_detail" (per round o2o / floor / torch updates/s; torch NULL = 0) and the closing
 * brace of the object. */
void o2o_bench_json_torch(FILE *f, double updates_per_s, const char *coretype, int blas_threads,
                          int torch_threads, double ratio);
void o2o_bench_json_rounds(FILE *f, const double *o2o, const double *floor, const double *torch,
                           int rounds);
/* Fill rows [0, b->size) by uniform sampling, as a replay buffer would. */
void o2o_bench_sample(o2o_bench_data *d, o2o_batch *b);

/* ---- PyTorch reference ---- */
/* One run of `python script --threads T --updates U --warmup 20 --runs 1 extra` under
 * OPENBLAS_CORETYPE / OPENBLAS_NUM_THREADS; returns its median updates/s from the line
 * "<tag> ... median=X", or -1 with the last output line in line. */
double o2o_bench_torch_round(const char *python, const char *script, const char *tag,
                             const char *coretype, int blas_threads, int torch_threads, int updates,
                             const char *extra, char *line, size_t linelen);

/* 1 if `python -c "import torch"` succeeds (quietly), else 0: PyTorch is optional (Debian
 * python3-torch), so a bench without it says so and reports the rest. */
int o2o_bench_torch_available(const char *python);

/* ---- FMA peak ---- */
/* Single-thread fp32 FMA peak in GFLOP/s of this core, measured for about `seconds` with
 * the widest FMA the CPU reports (AVX-512F, else AVX2+FMA, else a scalar loop); isa names
 * the loop used. */
double o2o_bench_fma_peak(double seconds, const char **isa);

/* ---- a learner's bench: `o2o bench iql`, `o2o bench h2o` (bench_learner.c) ---- */
typedef struct o2o_bench_spec {
  const char *name;      /* "iql": learner name, "o2o bench iql", torch/torch_iql.py */
  const char *reference; /* what the floor and the torch script do, for --help and output */
  /* The reference update's sgemm calls for obs/act dims (the config is the learner's). */
  int (*floor_build)(o2o_bench_floor *f, const void *cfg, int obs_dim, int act_dim);
  /* Matmul FLOPs of one o2o update. */
  double (*o2o_flop)(const void *cfg, int obs_dim, int act_dim);
} o2o_bench_spec;

/* Parses --updates --rounds --threads --obs --act --torch --torch-* --python --json, runs o2o
 * (o2o_learner_update, default config) and the floor interleaved in blocks of 10 updates and
 * the torch reference between rounds; prints medians, ratios, kernel, threads and the
 * fraction of FMA peak. Returns the process exit code. */
int o2o_bench_learner_main(int argc, char **argv, const o2o_bench_spec *spec);
