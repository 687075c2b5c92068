/* nn.h: the neural-network core of the agent, llm.c style, on OpenBLAS.
 *
 * An MLP here is an ENSEMBLE of E members with identical shapes (E = 1 for an actor,
 * E = N for a critic ensemble) that all read the same input. Its parameters and gradients
 * are each ONE contiguous float array (Adam, Polyak, zeroing and checkpointing are single
 * loops); the o2o_nn_mlp struct only describes the layout (offsets), so a network and its
 * target share one o2o_nn_mlp and differ only in the float array.
 *
 * Layout of the parameter array, layer by layer (l = 0 .. num_layers-1):
 *   W_l   [E][out_l][in_l]   (PyTorch nn.Linear layout: y = x W^T + b)
 *   b_l   [E][out_l]
 *   g_l   [E][out_l]         LayerNorm weight (hidden layers only, when layernorm)
 *   be_l  [E][out_l]         LayerNorm bias
 * so member k's tensors are contiguous slices. Hidden layers are Linear -> [LayerNorm] ->
 * ReLU; the last layer is Linear only.
 *
 * Activations are stored [B][E*width] (member k at column offset k*width), so the first
 * layer of all members is ONE sgemm over the stacked weights (M=B, N=E*out, K=in), the other
 * layers are one sgemm per member with leading dimensions, and the first layer's input
 * gradient sums over members in one sgemm.
 *
 * Tensor names (o2o_nn_mlp_tensor_refs, used by checkpoints; prefix = "actor", "critic0", ...):
 *   <prefix>.l<i>.weight [out][in], <prefix>.l<i>.bias [out],
 *   <prefix>.l<i>.ln.weight [out], <prefix>.l<i>.ln.bias [out]   (LayerNorm layers only)
 * For an ensemble, member k gets prefix "<base><k>" (critic0, critic1, ...). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "o2o_agent.h"

#define O2O_NN_MAX_LAYERS 8

/* ---- random numbers: xoshiro256**, seeded with splitmix64 ---- */
typedef struct o2o_nn_rng {
  uint64_t s[4];
} o2o_nn_rng;

void o2o_nn_rng_seed(o2o_nn_rng *r, uint64_t seed);
uint64_t o2o_nn_rng_next(o2o_nn_rng *r);
float o2o_nn_rng_uniform(o2o_nn_rng *r); /* [0, 1) */
/* n standard normal samples (Box-Muller on pairs; no cached state, so the stream depends
 * only on the rng state and n). */
void o2o_nn_rng_normal(o2o_nn_rng *r, float *out, int n);

/* Counters and generator states as float32 checkpoint tensors (exact small integers):
 * a count as {low 24 bits, high bits}, an rng as 16 16-bit words. unpack returns -1 when
 * the floats are not such integers (or the rng state is all zero). */
void o2o_nn_pack_count(float f[2], int64_t v);
int o2o_nn_unpack_count(const float f[2], int64_t *v);
void o2o_nn_pack_rng(float f[16], const o2o_nn_rng *r);
int o2o_nn_unpack_rng(const float f[16], o2o_nn_rng *r);

/* ---- MLP ensemble (layout only) ---- */
typedef struct o2o_nn_mlp {
  int ensemble;   /* E members */
  int num_layers; /* Linear layers */
  int dims[O2O_NN_MAX_LAYERS + 1];
  int layernorm; /* LayerNorm before ReLU in hidden layers */
  size_t num_params;
  size_t w_off[O2O_NN_MAX_LAYERS], b_off[O2O_NN_MAX_LAYERS];
  size_t g_off[O2O_NN_MAX_LAYERS], be_off[O2O_NN_MAX_LAYERS]; /* LayerNorm (if any) */
  int max_width;                                              /* max over dims */
} o2o_nn_mlp;

/* dims[0] = input, dims[num_layers] = output per member. Returns 0 or -1 on bad sizes. */
int o2o_nn_mlp_init(o2o_nn_mlp *m, int ensemble, int num_layers, const int *dims, int layernorm);

/* PyTorch-default init: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)); LayerNorm g=1, b=0.
 * last_layer_gain > 0: the last layer is instead xavier_uniform(gain) with bias 0 (the CQL
 * family uses 1e-2). */
void o2o_nn_mlp_init_params(const o2o_nn_mlp *m, float *params, o2o_nn_rng *rng,
                            float last_layer_gain);

/* Saved activations and backward scratch for up to max_batch rows. */
typedef struct o2o_nn_acts {
  int max_batch;
  float *out[O2O_NN_MAX_LAYERS];  /* [B][E*dims[l+1]]: post-ReLU (hidden) or output (last) */
  float *xhat[O2O_NN_MAX_LAYERS]; /* LayerNorm normalised input (layernorm only) */
  float *rstd[O2O_NN_MAX_LAYERS]; /* [B][E] 1/std (layernorm only) */
  float *d0, *d1;                 /* [B][E*max_width] ping-pong gradients */
} o2o_nn_acts;

o2o_nn_acts *o2o_nn_acts_create(const o2o_nn_mlp *m, int max_batch);
void o2o_nn_acts_destroy(o2o_nn_acts *a);
/* A view of rows [row0, row0 + rows) of a's saved activations (same buffers; the backward
 * scratch d0/d1 is shared), for passes over a tall batch in cache-sized blocks: forward and
 * backward of each block through its view give the whole batch's result (backward adds the
 * weight gradients). Never destroy a view. */
void o2o_nn_acts_view(const o2o_nn_mlp *m, const o2o_nn_acts *a, int row0, int rows,
                      o2o_nn_acts *view);

/* Forward B rows of x ([B][dims[0]], row stride ldx) through all members. The output is
 * acts->out[num_layers-1], [B][E*dims[L]]. B <= acts->max_batch. */
void o2o_nn_mlp_forward(const o2o_nn_mlp *m, const float *params, const float *x, int ldx, int B,
                        o2o_nn_acts *acts);

/* Backward after o2o_nn_mlp_forward on the same x and B.
 *   dout [B][E*dims[L]]: gradient of the loss w.r.t. the output.
 *   grads (or NULL): parameter gradients are ADDED to grads (zero it first with
 *     o2o_nn_zero), computed from rows [w_row0, w_row0 + w_rows) only (so one stacked forward
 *     can serve two losses, and a loss can add a term with a second backward: CQL's penalty,
 *     H2O's weighted TD error).
 *   dx (or NULL): gradient w.r.t. the input for rows [0, dx_rows), summed over members,
 *     [dx_rows][dims[0]] with row stride lddx (WRITTEN, not added).
 * Hidden-layer input gradients are computed for all B rows. */
void o2o_nn_mlp_backward(const o2o_nn_mlp *m, const float *params, const float *x, int ldx, int B,
                         o2o_nn_acts *acts, const float *dout, float *grads, int w_row0, int w_rows,
                         float *dx, int dx_rows, int lddx);

/* Copy members[0..sub->ensemble) of params (layout m) into out (layout sub: the same shapes
 * with sub->ensemble members), in that order: a forward of the subset alone. */
void o2o_nn_mlp_gather(const o2o_nn_mlp *m, const float *params, const int *members,
                       const o2o_nn_mlp *sub, float *out);

/* Named views of member tensors: writes up to max refs into out and returns the count
 * (members named "<base><k>" when ensemble > 1 or always_index, else "<base>"). */
int o2o_nn_mlp_tensor_refs(const o2o_nn_mlp *m, float *params, const char *base, int always_index,
                           o2o_tensor_ref *out, int max);
/* One 1-D tensor ref "name" of len floats at data into out[n] (when out and n < max: else
 * only counted); returns n + 1. For a learner's own vectors (Adam moments, counters). */
int o2o_nn_tensor_ref_1d(o2o_tensor_ref *out, int n, int max, const char *name, float *data,
                         int64_t len);

/* ---- optimiser and helpers (single loops over contiguous arrays) ---- */
typedef struct o2o_nn_adam {
  float lr, beta1, beta2, eps; /* PyTorch defaults: 0.9, 0.999, 1e-8 */
  int64_t t;                   /* steps taken */
  size_t n;
  float *m, *v; /* owned, zero-initialised */
} o2o_nn_adam;

int o2o_nn_adam_init(o2o_nn_adam *a, size_t n, float lr);
void o2o_nn_adam_free(o2o_nn_adam *a);
/* PyTorch Adam (bias-corrected): params -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps). */
void o2o_nn_adam_step(o2o_nn_adam *a, float *params, const float *grads);

/* x[0..n) = 0 (gradients before the first backward of an update) */
void o2o_nn_zero(float *x, size_t n);

/* target = (1 - tau) * target + tau * src */
void o2o_nn_polyak(float *target, const float *src, size_t n, float tau);

/* Index of the first non-finite value, or -1. */
long o2o_nn_find_nonfinite(const float *x, size_t n);
