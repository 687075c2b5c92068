/* nn.c: MLP ensembles (forward with saved activations, hand-written backward), init, RNG
 * (Adam, Polyak: nn_optim.c). Every matrix product is a row-major cblas_sgemm. See nn.h for the
 * layouts. */
#include "nn/nn.h"
#include "nn/par.h"

#include "nn/nn_simd.h"

#include <cblas.h>
#undef I /* cblas.h pulls in complex.h; I is a layer width here */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LN_EPS 1e-5f /* PyTorch nn.LayerNorm default */

/* ---------------- RNG ---------------- */
void o2o_nn_rng_seed(o2o_nn_rng *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++)
    r->s[i] = o2o_splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

uint64_t o2o_nn_rng_next(o2o_nn_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

float o2o_nn_rng_uniform(o2o_nn_rng *r) {
  return (float)(o2o_nn_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

void o2o_nn_rng_normal(o2o_nn_rng *r, float *out, int n) {
  for (int i = 0; i < n; i += 2) {
    /* u1 in (0, 1] so log(u1) is finite */
    double u1 = ((double)(o2o_nn_rng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(o2o_nn_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
    out[i] = (float)(rad * cos(th));
    if (i + 1 < n) out[i + 1] = (float)(rad * sin(th));
  }
}

/* ---------------- layout ---------------- */
int o2o_nn_mlp_init(o2o_nn_mlp *m, int ensemble, int num_layers, const int *dims, int layernorm) {
  memset(m, 0, sizeof *m);
  if (ensemble < 1 || num_layers < 1 || num_layers > O2O_NN_MAX_LAYERS) return -1;
  m->ensemble = ensemble;
  m->num_layers = num_layers;
  m->layernorm = layernorm != 0;
  size_t off = 0, E = (size_t)ensemble;
  for (int l = 0; l <= num_layers; l++) {
    if (dims[l] < 1) return -1;
    m->dims[l] = dims[l];
    if (dims[l] > m->max_width) m->max_width = dims[l];
  }
  for (int l = 0; l < num_layers; l++) {
    size_t in = (size_t)dims[l], out = (size_t)dims[l + 1];
    m->w_off[l] = off;
    off += E * out * in;
    m->b_off[l] = off;
    off += E * out;
    if (m->layernorm && l < num_layers - 1) {
      m->g_off[l] = off;
      off += E * out;
      m->be_off[l] = off;
      off += E * out;
    }
  }
  m->num_params = off;
  return 0;
}

static float uniform_pm(o2o_nn_rng *rng, float bound) {
  return (2.0f * o2o_nn_rng_uniform(rng) - 1.0f) * bound;
}

void o2o_nn_mlp_init_params(const o2o_nn_mlp *m, float *params, o2o_nn_rng *rng,
                            float last_layer_gain) {
  size_t E = (size_t)m->ensemble;
  for (int l = 0; l < m->num_layers; l++) {
    size_t in = (size_t)m->dims[l], out = (size_t)m->dims[l + 1];
    float *W = params + m->w_off[l], *b = params + m->b_off[l];
    int last = l == m->num_layers - 1;
    if (last && last_layer_gain > 0) {
      float bound = last_layer_gain * sqrtf(6.0f / (float)(in + out));
      for (size_t i = 0; i < E * out * in; i++)
        W[i] = uniform_pm(rng, bound);
      for (size_t i = 0; i < E * out; i++)
        b[i] = 0.0f;
    } else {
      float bound = 1.0f / sqrtf((float)in);
      /* member by member, weights then bias, like E separate nn.Linear layers */
      for (size_t k = 0; k < E; k++) {
        for (size_t i = 0; i < out * in; i++)
          W[k * out * in + i] = uniform_pm(rng, bound);
        for (size_t i = 0; i < out; i++)
          b[k * out + i] = uniform_pm(rng, bound);
      }
    }
    if (m->layernorm && !last) {
      for (size_t i = 0; i < E * out; i++) {
        params[m->g_off[l] + i] = 1.0f;
        params[m->be_off[l] + i] = 0.0f;
      }
    }
  }
}

o2o_nn_acts *o2o_nn_acts_create(const o2o_nn_mlp *m, int max_batch) {
  o2o_nn_acts *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  a->max_batch = max_batch;
  size_t B = (size_t)max_batch, E = (size_t)m->ensemble;
  int ok = 1;
  for (int l = 0; l < m->num_layers; l++) {
    size_t w = (size_t)m->dims[l + 1];
    ok &= (a->out[l] = calloc(B * E * w, sizeof(float))) != NULL;
    if (m->layernorm && l < m->num_layers - 1) {
      ok &= (a->xhat[l] = calloc(B * E * w, sizeof(float))) != NULL;
      ok &= (a->rstd[l] = calloc(B * E, sizeof(float))) != NULL;
    }
  }
  ok &= (a->d0 = calloc(B * E * (size_t)m->max_width, sizeof(float))) != NULL;
  ok &= (a->d1 = calloc(B * E * (size_t)m->max_width, sizeof(float))) != NULL;
  if (!ok) {
    o2o_nn_acts_destroy(a);
    return NULL;
  }
  return a;
}

void o2o_nn_acts_view(const o2o_nn_mlp *m, const o2o_nn_acts *a, int row0, int rows,
                      o2o_nn_acts *view) {
  const size_t r0 = (size_t)row0, E = (size_t)m->ensemble;
  *view = *a;
  view->max_batch = rows;
  for (int l = 0; l < m->num_layers; l++) {
    const size_t w = (size_t)m->dims[l + 1];
    view->out[l] = a->out[l] + r0 * E * w;
    if (a->xhat[l]) view->xhat[l] = a->xhat[l] + r0 * E * w;
    if (a->rstd[l]) view->rstd[l] = a->rstd[l] + r0 * E;
  }
}

void o2o_nn_acts_destroy(o2o_nn_acts *a) {
  if (!a) return;
  for (int l = 0; l < O2O_NN_MAX_LAYERS; l++) {
    free(a->out[l]);
    free(a->xhat[l]);
    free(a->rstd[l]);
  }
  free(a->d0);
  free(a->d1);
  free(a);
}

/* ---------------- forward ---------------- */
/* z += b, then (hidden) ReLU; NaN propagates (v < 0 is false for NaN), as in PyTorch. */
SIMD_CLONES static void bias_act(float *restrict out, const float *restrict b, int B, int EO,
                                 int ld, int relu) {
  for (int r = 0; r < B; r++) {
    float *restrict row = out + (size_t)r * ld;
    if (relu)
      for (int j = 0; j < EO; j++) {
        float v = row[j] + b[j];
        row[j] = v < 0.0f ? 0.0f : v;
      }
    else
      for (int j = 0; j < EO; j++)
        row[j] += b[j];
  }
}

/* Sums with 16 independent partial sums: GCC vectorises these without -ffast-math (a plain
 * float reduction must stay in order and runs scalar). */
#define LANES 16
static inline float lane_sum(const float *acc) {
  float t = 0.0f;
  for (int l = 0; l < LANES; l++)
    t += acc[l];
  return t;
}

/* z += b, LayerNorm per (row, member), ReLU, for members [k0, k1). Saves xhat and rstd for
 * backward. */
SIMD_CLONES static void bias_ln_relu(float *restrict out, const float *restrict b,
                                     const float *restrict g, const float *restrict be,
                                     float *restrict xhat, float *restrict rstd, int B, int E,
                                     int O, int k0, int k1) {
  const int O16 = O - O % LANES;
  for (int r = 0; r < B; r++)
    for (int k = k0; k < k1; k++) {
      size_t o = (size_t)r * E * O + (size_t)k * O;
      float *restrict z = out + o, *restrict xh = xhat + o;
      const float *bk = b + (size_t)k * O, *gk = g + (size_t)k * O, *bek = be + (size_t)k * O;
      float acc[LANES] = {0};
      for (int j = 0; j < O16; j += LANES)
        for (int l = 0; l < LANES; l++) {
          z[j + l] += bk[j + l];
          acc[l] += z[j + l];
        }
      for (int j = O16; j < O; j++) {
        z[j] += bk[j];
        acc[0] += z[j];
      }
      const float mean = lane_sum(acc) / (float)O;
      float sq[LANES] = {0};
      for (int j = 0; j < O16; j += LANES)
        for (int l = 0; l < LANES; l++) {
          float d = z[j + l] - mean;
          sq[l] += d * d;
        }
      for (int j = O16; j < O; j++)
        sq[0] += (z[j] - mean) * (z[j] - mean);
      const float rs = 1.0f / sqrtf(lane_sum(sq) / (float)O + LN_EPS);
      rstd[(size_t)r * E + k] = rs;
      for (int j = 0; j < O; j++) {
        xh[j] = (z[j] - mean) * rs;
        float v = xh[j] * gk[j] + bek[j];
        z[j] = v < 0.0f ? 0.0f : v;
      }
    }
}

/* Members [k0, k1) through all layers, B rows (acts may be a row view). */
static void forward_members(const o2o_nn_mlp *m, const float *params, const float *x, int ldx,
                            int B, o2o_nn_acts *acts, int k0, int k1) {
  const int E = m->ensemble, L = m->num_layers;
  const float *in = x;
  for (int l = 0; l < L; l++) {
    const int I = m->dims[l], O = m->dims[l + 1], EO = E * O, c0 = k0 * O;
    const float *W = params + m->w_off[l];
    float *out = acts->out[l];
    if (l == 0) /* the members at once: [B][I] x [(k1-k0)*O][I]^T */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, (k1 - k0) * O, I, 1.0f, x, ldx,
                  W + (size_t)c0 * I, I, 0.0f, out + c0, EO);
    else
      for (int k = k0; k < k1; k++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, O, I, 1.0f, in + (size_t)k * I,
                    E * I, W + (size_t)k * O * I, I, 0.0f, out + (size_t)k * O, EO);
    const float *b = params + m->b_off[l];
    if (l == L - 1)
      bias_act(out + c0, b + c0, B, (k1 - k0) * O, EO, 0);
    else if (m->layernorm)
      bias_ln_relu(out, b, params + m->g_off[l], params + m->be_off[l], acts->xhat[l],
                   acts->rstd[l], B, E, O, k0, k1);
    else
      bias_act(out + c0, b + c0, B, (k1 - k0) * O, EO, 1);
    in = out;
  }
}

/* Only ensembles split, by members: each member's products keep their 1-thread shapes, so
 * OpenBLAS picks the same kernels and every value is bit-identical. (Splitting a single
 * network by rows changes the shapes, and OpenBLAS's small-matrix kernels round differently.)
 * Below ~1M multiply-adds a second thread costs more than it gains. */
static int worth_splitting(const o2o_nn_mlp *m, int B) {
  double mac = 0;
  for (int l = 0; l < m->num_layers; l++)
    mac += (double)m->dims[l] * m->dims[l + 1];
  return o2o_par_threads() > 1 && m->ensemble > 1 && mac * B * m->ensemble >= 1e6;
}

typedef struct {
  const o2o_nn_mlp *m;
  const float *params, *x, *dout;
  int ldx, B, w_row0, w_rows;
  o2o_nn_acts *acts;
  float *grads;
} pass_job;

static void forward_part(void *ctx, int part, int parts) {
  const pass_job *j = ctx;
  const int E = j->m->ensemble;
  forward_members(j->m, j->params, j->x, j->ldx, j->B, j->acts, E * part / parts,
                  E * (part + 1) / parts);
}

void o2o_nn_mlp_forward(const o2o_nn_mlp *m, const float *params, const float *x, int ldx, int B,
                        o2o_nn_acts *acts) {
  if (!worth_splitting(m, B)) {
    forward_members(m, params, x, ldx, B, acts, 0, m->ensemble);
    return;
  }
  pass_job j = {.m = m, .params = params, .x = x, .ldx = ldx, .B = B, .acts = acts};
  o2o_par_run(forward_part, &j);
}

/* ---------------- backward ---------------- */
/* In place: d (gradient w.r.t. the ReLU output h) -> gradient w.r.t. the pre-activation,
 * columns [c0, c1) of rows of ld floats. */
SIMD_CLONES static void relu_backward(float *restrict d, const float *restrict h, int B, int ld,
                                      int c0, int c1) {
  for (int r = 0; r < B; r++) {
    float *restrict dr = d + (size_t)r * ld;
    const float *restrict hr = h + (size_t)r * ld;
    for (int i = c0; i < c1; i++)
      dr[i] = hr[i] > 0.0f ? dr[i] : 0.0f;
  }
}

/* In place through ReLU and LayerNorm: d = dL/dh -> dL/dz. LayerNorm parameter gradients
 * from rows [w0, w0 + wn) only (gg, gbe may be NULL). */
SIMD_CLONES static void ln_relu_backward(float *restrict d, const float *restrict h,
                                         const float *restrict xhat, const float *restrict rstd,
                                         const float *restrict g, float *restrict gg,
                                         float *restrict gbe, int B, int E, int O, int w0, int wn,
                                         int k0, int k1) {
  const int O16 = O - O % LANES;
  for (int r = 0; r < B; r++) {
    int wrow = gg && r >= w0 && r < w0 + wn;
    for (int k = k0; k < k1; k++) {
      size_t o = (size_t)r * E * O + (size_t)k * O;
      float *restrict dk = d + o;
      const float *hk = h + o, *xk = xhat + o, *gk = g + (size_t)k * O;
      for (int j = 0; j < O; j++) /* through the ReLU */
        dk[j] = hk[j] > 0.0f ? dk[j] : 0.0f;
      if (wrow) {
        float *ggk = gg + (size_t)k * O, *gbek = gbe + (size_t)k * O;
        for (int j = 0; j < O; j++) {
          ggk[j] += dk[j] * xk[j];
          gbek[j] += dk[j];
        }
      }
      float a1[LANES] = {0}, a2[LANES] = {0};
      for (int j = 0; j < O16; j += LANES)
        for (int l = 0; l < LANES; l++) {
          float dxh = dk[j + l] * gk[j + l];
          dk[j + l] = dxh;
          a1[l] += dxh;
          a2[l] += dxh * xk[j + l];
        }
      for (int j = O16; j < O; j++) {
        float dxh = dk[j] * gk[j];
        dk[j] = dxh;
        a1[0] += dxh;
        a2[0] += dxh * xk[j];
      }
      const float s1 = lane_sum(a1) / (float)O, s2 = lane_sum(a2) / (float)O;
      const float rs = rstd[(size_t)r * E + k];
      for (int j = 0; j < O; j++)
        dk[j] = rs * (dk[j] - s1 - xk[j] * s2);
    }
  }
}

/* Backward of members [k0, k1) down to the first layer's pre-activation gradient (left in
 * the scratch buffer o2o_nn_mlp_backward reads for dx). */
static void backward_members(const pass_job *j, int k0, int k1) {
  const o2o_nn_mlp *m = j->m;
  const int E = m->ensemble, L = m->num_layers, w_row0 = j->w_row0, w_rows = j->w_rows;
  const int B = j->B, ldx = j->ldx;
  const float *params = j->params, *x = j->x;
  float *grads = j->grads;
  o2o_nn_acts *acts = j->acts;
  const float *dz = j->dout; /* gradient w.r.t. the current layer's pre-activation */
  float *bufs[2] = {acts->d0, acts->d1};
  int which = 0;
  for (int l = L - 1; l >= 0; l--) {
    const int I = m->dims[l], O = m->dims[l + 1], EO = E * O, c0 = k0 * O, c1 = k1 * O;
    const float *W = params + m->w_off[l];
    const float *in = l == 0 ? x : acts->out[l - 1];
    const int ldin = l == 0 ? ldx : E * I;
    if (l < L - 1) { /* dz holds dL/dh of this hidden layer in a scratch buffer */
      float *d = (float *)dz;
      if (m->layernorm)
        ln_relu_backward(d, acts->out[l], acts->xhat[l], acts->rstd[l], params + m->g_off[l],
                         grads ? grads + m->g_off[l] : NULL, grads ? grads + m->be_off[l] : NULL, B,
                         E, O, w_row0, w_rows, k0, k1);
      else
        relu_backward(d, acts->out[l], B, EO, c0, c1);
    }
    if (grads) {
      float *gW = grads + m->w_off[l], *gb = grads + m->b_off[l];
      if (w_rows <= 0) {
        /* no rows: nothing to add */
      } else if (l == 0) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c1 - c0, I, w_rows, 1.0f,
                    dz + (size_t)w_row0 * EO + c0, EO, x + (size_t)w_row0 * ldx, ldx, 1.0f,
                    gW + (size_t)c0 * I, I);
      } else {
        for (int k = k0; k < k1; k++)
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, I, w_rows, 1.0f,
                      dz + (size_t)w_row0 * EO + (size_t)k * O, EO,
                      in + (size_t)w_row0 * ldin + (size_t)k * I, ldin, 1.0f,
                      gW + (size_t)k * O * I, I);
      }
      for (int r = w_row0; r < w_row0 + w_rows; r++) {
        const float *row = dz + (size_t)r * EO;
        for (int c = c0; c < c1; c++)
          gb[c] += row[c];
      }
    }
    if (l > 0) {
      float *dn = bufs[which];
      which ^= 1;
      for (int k = k0; k < k1; k++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, I, O, 1.0f, dz + (size_t)k * O,
                    EO, W + (size_t)k * O * I, I, 0.0f, dn + (size_t)k * I, E * I);
      dz = dn;
    }
  }
}

static void backward_part(void *ctx, int part, int parts) {
  const pass_job *j = ctx;
  const int E = j->m->ensemble;
  backward_members(j, E * part / parts, E * (part + 1) / parts);
}

void o2o_nn_mlp_backward(const o2o_nn_mlp *m, const float *params, const float *x, int ldx, int B,
                         o2o_nn_acts *acts, const float *dout, float *grads, int w_row0, int w_rows,
                         float *dx, int dx_rows, int lddx) {
  const int E = m->ensemble, L = m->num_layers;
  pass_job j = {.m = m,
                .params = params,
                .x = x,
                .dout = dout,
                .ldx = ldx,
                .B = B,
                .w_row0 = w_row0,
                .w_rows = w_rows,
                .acts = acts,
                .grads = grads};
  if (worth_splitting(m, B))
    o2o_par_run(backward_part, &j);
  else
    backward_members(&j, 0, E);
  /* the first layer's input gradient sums over members: one product after the members */
  if (dx && dx_rows > 0) {
    const float *dz = L == 1 ? dout : (L % 2 ? acts->d1 : acts->d0);
    const int I = m->dims[0], EO = E * m->dims[1];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, dx_rows, I, EO, 1.0f, dz, EO,
                params + m->w_off[0], I, 0.0f, dx, lddx);
  }
}

void o2o_nn_mlp_gather(const o2o_nn_mlp *m, const float *params, const int *members,
                       const o2o_nn_mlp *sub, float *out) {
  for (int i = 0; i < sub->ensemble; i++) {
    const size_t k = (size_t)members[i];
    for (int l = 0; l < m->num_layers; l++) {
      const size_t I = (size_t)m->dims[l], O = (size_t)m->dims[l + 1];
      memcpy(out + sub->w_off[l] + i * O * I, params + m->w_off[l] + k * O * I,
             sizeof(float) * O * I);
      memcpy(out + sub->b_off[l] + i * O, params + m->b_off[l] + k * O, sizeof(float) * O);
      if (m->layernorm && l < m->num_layers - 1) {
        memcpy(out + sub->g_off[l] + i * O, params + m->g_off[l] + k * O, sizeof(float) * O);
        memcpy(out + sub->be_off[l] + i * O, params + m->be_off[l] + k * O, sizeof(float) * O);
      }
    }
  }
}

/* ---------------- tensor views ---------------- */
static int add_ref(o2o_tensor_ref *out, int n, int max, float *data, int ndim, int64_t d0,
                   int64_t d1, const char *fmt, const char *base, int k, int l) {
  if (n >= max) return n + 1;
  o2o_tensor_ref *t = &out[n];
  memset(t, 0, sizeof *t);
  if (k >= 0)
    snprintf(t->name, sizeof t->name, fmt, base, k, l);
  else
    snprintf(t->name, sizeof t->name, fmt, base, l);
  t->data = data;
  t->ndim = ndim;
  t->shape[0] = d0;
  t->shape[1] = d1;
  return n + 1;
}

int o2o_nn_tensor_ref_1d(o2o_tensor_ref *out, int n, int max, const char *name, float *data,
                         int64_t len) {
  if (!out || n >= max) return n + 1;
  memset(&out[n], 0, sizeof out[n]);
  snprintf(out[n].name, sizeof out[n].name, "%s", name);
  out[n].data = data;
  out[n].ndim = 1;
  out[n].shape[0] = len;
  return n + 1;
}

int o2o_nn_mlp_tensor_refs(const o2o_nn_mlp *m, float *params, const char *base, int always_index,
                           o2o_tensor_ref *out, int max) {
  int n = 0, E = m->ensemble, idx = E > 1 || always_index;
  for (int k = 0; k < E; k++)
    for (int l = 0; l < m->num_layers; l++) {
      size_t I = (size_t)m->dims[l], O = (size_t)m->dims[l + 1];
      int kk = idx ? k : -1;
      n = add_ref(out, n, max, params + m->w_off[l] + k * O * I, 2, (int64_t)O, (int64_t)I,
                  idx ? "%s%d.l%d.weight" : "%s.l%d.weight", base, kk, l);
      n = add_ref(out, n, max, params + m->b_off[l] + k * O, 1, (int64_t)O, 0,
                  idx ? "%s%d.l%d.bias" : "%s.l%d.bias", base, kk, l);
      if (m->layernorm && l < m->num_layers - 1) {
        n = add_ref(out, n, max, params + m->g_off[l] + k * O, 1, (int64_t)O, 0,
                    idx ? "%s%d.l%d.ln.weight" : "%s.l%d.ln.weight", base, kk, l);
        n = add_ref(out, n, max, params + m->be_off[l] + k * O, 1, (int64_t)O, 0,
                    idx ? "%s%d.l%d.ln.bias" : "%s.l%d.ln.bias", base, kk, l);
      }
    }
  return n;
}

void o2o_nn_pack_count(float f[2], int64_t v) {
  f[0] = (float)(v & 0xFFFFFF);
  f[1] = (float)(v >> 24);
}

int o2o_nn_unpack_count(const float f[2], int64_t *v) {
  for (int i = 0; i < 2; i++)
    if (!(f[i] >= 0.0f && f[i] < 16777216.0f && f[i] == floorf(f[i]))) return -1;
  *v = (int64_t)f[0] | ((int64_t)f[1] << 24);
  return 0;
}

void o2o_nn_pack_rng(float f[16], const o2o_nn_rng *r) {
  for (int i = 0; i < 16; i++)
    f[i] = (float)((r->s[i / 4] >> (16 * (i % 4))) & 0xFFFF);
}

int o2o_nn_unpack_rng(const float f[16], o2o_nn_rng *r) {
  uint64_t s[4] = {0, 0, 0, 0};
  for (int i = 0; i < 16; i++) {
    if (!(f[i] >= 0.0f && f[i] <= 65535.0f && f[i] == floorf(f[i]))) return -1;
    s[i / 4] |= (uint64_t)f[i] << (16 * (i % 4));
  }
  if (!(s[0] | s[1] | s[2] | s[3])) return -1;
  memcpy(r->s, s, sizeof s);
  return 0;
}
