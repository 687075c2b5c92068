/* discriminator.c: H2O's real-vs-sim classifiers D_sa and D_sas (discriminator.h) on the nn
 * core.
 *
 * One training step:
 *   1. inputs [real rows; sim rows] (2B rows) with N(0, noise^2) added: x_sa = (s, a),
 *      x_sas = (s, a, s')
 *   2. z_sa = D_sa(x_sa), z_sas = D_sas(x_sas); l_sa = 2 tanh(z_sa), l_sas = 2 tanh(z_sas) + l_sa
 *   3. p = softmax(l); labels y = (1, 0) for real rows, (0, 1) for sim rows; per-pair mean
 *      losses L = sum_rows CE / B (H2O sums the real and the sim cross-entropy of pair i)
 *   4. dL/dl_sas = (p_sas - y) / B; dL/dl_sa = (p_sa - y) / B + dL/dl_sas
 *      dL/dz = dL/dl * 2 (1 - tanh^2 z); one backward per network (weights from all rows)
 *   5. finite check, then one Adam step per network. */
#include "learn/discriminator.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"

enum { NET_SA, NET_SAS };

typedef struct disc_net {
  o2o_nn_mlp m;
  float *p, *g;
  o2o_nn_adam opt;
  o2o_nn_acts *acts;
} disc_net;

struct o2o_disc {
  o2o_disc_config cfg;
  int obs_dim, act_dim, rows; /* rows = 2 * batch_size: the largest forward */
  disc_net net[2];
  float *x_sa;         /* [rows][obs + act] */
  float *x_sas;        /* [rows][2 obs + act] */
  float *noise;        /* [rows][2 obs + act] the last step's input noise */
  float *d_sa, *d_sas; /* [rows][2] output gradients */
  float *gap;          /* [rows] log w of perturbed rows (o2o_disc_gap) */
  float *eps;          /* [obs] one perturbation */
  o2o_nn_rng rng;
  double loss; /* L_sa + L_sas of the last step */
  int frozen;
  o2o_tensor_ref *tensors;
  int num_tensors;
  float mirror[2 + 2 + 16]; /* adam steps of both nets, rng */
};

void o2o_disc_config_default(o2o_disc_config *c) {
  c->hidden = 256;
  c->layers = 2;
  c->batch_size = 256;
  c->lr = 3e-4f;
  c->noise = 0.1f;
  c->gap_samples = 10;
}

static int net_init(disc_net *n, int in, const o2o_disc_config *c, int rows, o2o_nn_rng *rng) {
  int dims[O2O_NN_MAX_LAYERS + 1];
  dims[0] = in;
  for (int l = 1; l <= c->layers; l++)
    dims[l] = c->hidden;
  dims[c->layers + 1] = 2;
  if (o2o_nn_mlp_init(&n->m, 1, c->layers + 1, dims, 0)) return -1;
  n->p = calloc(n->m.num_params, sizeof(float));
  n->g = calloc(n->m.num_params, sizeof(float));
  n->acts = o2o_nn_acts_create(&n->m, rows);
  if (!n->p || !n->g || !n->acts || o2o_nn_adam_init(&n->opt, n->m.num_params, c->lr)) return -1;
  o2o_nn_mlp_init_params(&n->m, n->p, rng, 0.0f); /* PyTorch default init (Weight_net.py) */
  return 0;
}

static void net_free(disc_net *n) {
  free(n->p);
  free(n->g);
  o2o_nn_acts_destroy(n->acts);
  o2o_nn_adam_free(&n->opt);
}

o2o_disc *o2o_disc_create(int obs_dim, int act_dim, const o2o_disc_config *cfg, uint64_t seed,
                          char *err, size_t errlen) {
  o2o_disc_config c;
  if (cfg)
    c = *cfg;
  else
    o2o_disc_config_default(&c);
  if (obs_dim < 1 || act_dim < 1 || c.hidden < 1 || c.hidden > 65536 || c.layers < 1 ||
      c.layers > O2O_NN_MAX_LAYERS - 1 || c.batch_size < 1 || c.batch_size > 1 << 20 ||
      !(c.lr > 0.0f && c.lr <= 1.0f) || !(c.noise >= 0.0f && c.noise < 1e3f) || c.gap_samples < 1 ||
      c.gap_samples > 2 * c.batch_size) {
    o2o_agent_errf(err, errlen,
                   "discriminator config: obs %d act %d hidden %d layers %d batch %d lr %g "
                   "noise %g gap_samples %d (one is out of range; gap_samples <= 2 batch_size)",
                   obs_dim, act_dim, c.hidden, c.layers, c.batch_size, (double)c.lr,
                   (double)c.noise, c.gap_samples);
    return NULL;
  }
  o2o_disc *d = calloc(1, sizeof *d);
  if (!d) goto oom;
  d->cfg = c;
  d->obs_dim = obs_dim;
  d->act_dim = act_dim;
  d->rows = 2 * c.batch_size;
  const int SA = obs_dim + act_dim, SAS = 2 * obs_dim + act_dim;
  o2o_nn_rng_seed(&d->rng, seed);
  o2o_nn_rng init;
  o2o_nn_rng_seed(&init, seed ^ 0x6469736372696d31ULL); /* "discrim1": init apart from noise */
  if (net_init(&d->net[NET_SA], SA, &c, d->rows, &init) ||
      net_init(&d->net[NET_SAS], SAS, &c, d->rows, &init))
    goto oom;
  d->x_sa = malloc(sizeof(float) * (size_t)d->rows * SA);
  d->x_sas = malloc(sizeof(float) * (size_t)d->rows * SAS);
  d->noise = calloc((size_t)d->rows * SAS, sizeof(float));
  d->d_sa = malloc(sizeof(float) * (size_t)d->rows * 2);
  d->d_sas = malloc(sizeof(float) * (size_t)d->rows * 2);
  d->gap = malloc(sizeof(float) * (size_t)d->rows);
  d->eps = malloc(sizeof(float) * (size_t)obs_dim);
  if (!d->x_sa || !d->x_sas || !d->noise || !d->d_sa || !d->d_sas || !d->gap || !d->eps) goto oom;
  return d;
oom:
  o2o_agent_errf(err, errlen, "discriminator: out of memory");
  o2o_disc_destroy(d);
  return NULL;
}

void o2o_disc_destroy(o2o_disc *d) {
  if (!d) return;
  net_free(&d->net[NET_SA]);
  net_free(&d->net[NET_SAS]);
  free(d->x_sa);
  free(d->x_sas);
  free(d->noise);
  free(d->d_sa);
  free(d->d_sas);
  free(d->gap);
  free(d->eps);
  free(d->tensors);
  free(d);
}

/* rows [r0, r0 + n) of x_sa / x_sas from a batch (no noise) */
static void gather(o2o_disc *d, const float *obs, const float *act, const float *next_obs, int n,
                   int r0) {
  const int O = d->obs_dim, A = d->act_dim, SA = O + A, SAS = 2 * O + A;
  for (int i = 0; i < n; i++) {
    float *sa = d->x_sa + (size_t)(r0 + i) * SA, *sas = d->x_sas + (size_t)(r0 + i) * SAS;
    memcpy(sa, obs + (size_t)i * O, sizeof(float) * O);
    memcpy(sa + O, act + (size_t)i * A, sizeof(float) * A);
    memcpy(sas, sa, sizeof(float) * SA);
    memcpy(sas + SA, next_obs + (size_t)i * O, sizeof(float) * O);
  }
}

/* log softmax of a 2-logit row, in double */
static void log_softmax2(double a, double b, double *la, double *lb) {
  double m = a > b ? a : b, lse = m + log(exp(a - m) + exp(b - m));
  *la = a - lse;
  *lb = b - lse;
}

int o2o_disc_train(o2o_disc *d, const o2o_batch *real, const o2o_batch *sim, o2o_disc_stats *st,
                   char *err, size_t errlen) {
  const int B = d->cfg.batch_size, R = 2 * B, O = d->obs_dim, A = d->act_dim;
  const int SA = O + A, SAS = 2 * O + A;
  if (real->size != B || sim->size != B || real->obs_dim != O || sim->obs_dim != O ||
      real->act_dim != A || sim->act_dim != A) {
    o2o_agent_errf(err, errlen,
                   "discriminator: real batch %d x (%d, %d), sim batch %d x (%d, %d); expected "
                   "%d x (%d, %d) each",
                   real->size, real->obs_dim, real->act_dim, sim->size, sim->obs_dim, sim->act_dim,
                   B, O, A);
    return -1;
  }
  gather(d, real->obs, real->act, real->next_obs, B, 0);
  gather(d, sim->obs, sim->act, sim->next_obs, B, B);
  /* 1. training noise on every coordinate: one draw for (s, a, s'); x_sa takes its (s, a) */
  if (!d->frozen) {
    o2o_nn_rng_normal(&d->rng, d->noise, R * SAS);
    for (size_t i = 0; i < (size_t)R * SAS; i++)
      d->noise[i] *= d->cfg.noise;
  }
  for (int r = 0; r < R; r++)
    for (int j = 0; j < SAS; j++) {
      float e = d->noise[(size_t)r * SAS + j];
      d->x_sas[(size_t)r * SAS + j] += e;
      if (j < SA) d->x_sa[(size_t)r * SA + j] += e;
    }
  /* 2. forward */
  disc_net *nsa = &d->net[NET_SA], *nsas = &d->net[NET_SAS];
  o2o_nn_mlp_forward(&nsa->m, nsa->p, d->x_sa, SA, R, nsa->acts);
  o2o_nn_mlp_forward(&nsas->m, nsas->p, d->x_sas, SAS, R, nsas->acts);
  const float *zsa = nsa->acts->out[nsa->m.num_layers - 1];
  const float *zsas = nsas->acts->out[nsas->m.num_layers - 1];
  /* 3-4. losses and output gradients */
  double lsa_sum = 0.0, lsas_sum = 0.0;
  int ok_sa = 0, ok_sas = 0;
  for (int r = 0; r < R; r++) {
    const int cls = r < B ? 0 : 1; /* 0 = real, 1 = sim */
    double tsa[2], tsas[2], lsa[2], lsas[2], psa[2], psas[2];
    for (int k = 0; k < 2; k++) {
      tsa[k] = tanh((double)zsa[2 * r + k]);
      tsas[k] = tanh((double)zsas[2 * r + k]);
    }
    log_softmax2(2 * tsa[0], 2 * tsa[1], &lsa[0], &lsa[1]);
    log_softmax2(2 * tsas[0] + 2 * tsa[0], 2 * tsas[1] + 2 * tsa[1], &lsas[0], &lsas[1]);
    lsa_sum -= lsa[cls];
    lsas_sum -= lsas[cls];
    ok_sa += lsa[cls] > lsa[1 - cls];
    ok_sas += lsas[cls] > lsas[1 - cls];
    for (int k = 0; k < 2; k++) {
      psa[k] = exp(lsa[k]);
      psas[k] = exp(lsas[k]);
      double y = k == cls, g_sas = (psas[k] - y) / B, g_sa = (psa[k] - y) / B + g_sas;
      d->d_sas[2 * r + k] = (float)(g_sas * 2.0 * (1.0 - tsas[k] * tsas[k]));
      d->d_sa[2 * r + k] = (float)(g_sa * 2.0 * (1.0 - tsa[k] * tsa[k]));
    }
  }
  const double loss_sa = lsa_sum / B, loss_sas = lsas_sum / B;
  d->loss = loss_sa + loss_sas;
  if (st) {
    st->loss_sa = loss_sa;
    st->loss_sas = loss_sas;
    st->acc_sa = (double)ok_sa / R;
    st->acc_sas = (double)ok_sas / R;
  }
  /* backward (weights from every row; no input gradient) */
  o2o_nn_zero(nsa->g, nsa->m.num_params);
  o2o_nn_zero(nsas->g, nsas->m.num_params);
  o2o_nn_mlp_backward(&nsa->m, nsa->p, d->x_sa, SA, R, nsa->acts, d->d_sa, nsa->g, 0, R, NULL, 0,
                      0);
  o2o_nn_mlp_backward(&nsas->m, nsas->p, d->x_sas, SAS, R, nsas->acts, d->d_sas, nsas->g, 0, R,
                      NULL, 0, 0);
  /* 5. refuse a non-finite step before anything changes */
  if (!isfinite(d->loss)) {
    o2o_agent_errf(err, errlen,
                   "discriminator: loss is not finite (sa %g, sas %g): check the "
                   "batches for NaN or huge values",
                   loss_sa, loss_sas);
    return -1;
  }
  for (int k = 0; k < 2; k++) {
    long bad = o2o_nn_find_nonfinite(d->net[k].g, d->net[k].m.num_params);
    if (bad >= 0) {
      o2o_agent_errf(err, errlen, "discriminator: gradient of %s is not finite at %ld",
                     k == NET_SA ? "disc_sa" : "disc_sas", bad);
      return -1;
    }
  }
  if (d->frozen) return 0;
  o2o_nn_adam_step(&nsa->opt, nsa->p, nsa->g);
  o2o_nn_adam_step(&nsas->opt, nsas->p, nsas->g);
  return 0;
}

/* D_sas[0] - D_sas[1] for the rows [0, n) of x_sas, n <= rows */
static void sas_logit_gap(o2o_disc *d, int n, float *out) {
  disc_net *nsas = &d->net[NET_SAS];
  o2o_nn_mlp_forward(&nsas->m, nsas->p, d->x_sas, 2 * d->obs_dim + d->act_dim, n, nsas->acts);
  const float *z = nsas->acts->out[nsas->m.num_layers - 1];
  for (int i = 0; i < n; i++)
    out[i] = 2.0f * (tanhf(z[2 * i]) - tanhf(z[2 * i + 1]));
}

void o2o_disc_log_ratio(o2o_disc *d, const float *obs, const float *act, const float *next_obs,
                        int n, float *log_w) {
  const int O = d->obs_dim, A = d->act_dim;
  for (int r0 = 0; r0 < n; r0 += d->rows) {
    int m = n - r0 < d->rows ? n - r0 : d->rows;
    gather(d, obs + (size_t)r0 * O, act + (size_t)r0 * A, next_obs + (size_t)r0 * O, m, 0);
    sas_logit_gap(d, m, log_w + r0);
  }
}

void o2o_disc_gap(o2o_disc *d, const float *obs, const float *act, const float *next_obs, int n,
                  const float *state_std, double *u) {
  const int O = d->obs_dim, A = d->act_dim, SAS = 2 * O + A, K = d->cfg.gap_samples;
  const int per = d->rows / K; /* source rows per forward (create keeps K <= rows) */
  o2o_nn_rng rng = d->rng;     /* frozen (tests): the same perturbations on every call */
  for (int r0 = 0; r0 < n; r0 += per) {
    const int m = n - r0 < per ? n - r0 : per;
    for (int i = 0; i < m; i++) /* K copies of row r0 + i, s' perturbed by std (.) eps */
      for (int k = 0; k < K; k++) {
        const int row = i * K + k;
        gather(d, obs + (size_t)(r0 + i) * O, act + (size_t)(r0 + i) * A,
               next_obs + (size_t)(r0 + i) * O, 1, row);
        float *s2 = d->x_sas + (size_t)row * SAS + O + A;
        o2o_nn_rng_normal(&rng, d->eps, O);
        for (int j = 0; j < O; j++)
          s2[j] += state_std[j] * d->eps[j];
      }
    sas_logit_gap(d, m * K, d->gap);
    for (int i = 0; i < m; i++) {
      double s = 0.0;
      for (int k = 0; k < K; k++)
        s -= d->gap[i * K + k]; /* -log w = log P_sim / P_real */
      const double v = s / K;
      u[r0 + i] = v < 1e-45 ? 1e-45 : v > 10.0 ? 10.0 : v;
    }
  }
  if (!d->frozen) d->rng = rng;
}

/* ---- tensors ---- */
static void pack(o2o_disc *d) {
  o2o_nn_pack_count(d->mirror + 0, d->net[NET_SA].opt.t);
  o2o_nn_pack_count(d->mirror + 2, d->net[NET_SAS].opt.t);
  o2o_nn_pack_rng(d->mirror + 4, &d->rng);
}

int o2o_disc_tensors(o2o_disc *d, const o2o_tensor_ref **tensors) {
  if (!d->tensors) {
    int max = 2 * 2 * (O2O_NN_MAX_LAYERS + 1) + 8;
    d->tensors = calloc((size_t)max, sizeof(o2o_tensor_ref));
    if (!d->tensors) {
      *tensors = NULL;
      return 0;
    }
    int n = 0;
    const char *base[2] = {"disc_sa", "disc_sas"};
    for (int k = 0; k < 2; k++) {
      disc_net *net = &d->net[k];
      n += o2o_nn_mlp_tensor_refs(&net->m, net->p, base[k], 0, d->tensors + n, max - n);
      const char *mom[2] = {"adam_m", "adam_v"};
      float *arr[2] = {net->opt.m, net->opt.v};
      for (int j = 0; j < 2; j++) {
        o2o_tensor_ref *t = &d->tensors[n++];
        snprintf(t->name, sizeof t->name, "%s.%s", base[k], mom[j]);
        t->data = arr[j];
        t->ndim = 1;
        t->shape[0] = (int64_t)net->m.num_params;
      }
    }
    o2o_tensor_ref *t = &d->tensors[n++];
    snprintf(t->name, sizeof t->name, "disc.adam_steps");
    t->data = d->mirror;
    t->ndim = 1;
    t->shape[0] = 4;
    t = &d->tensors[n++];
    snprintf(t->name, sizeof t->name, "disc.rng");
    t->data = d->mirror + 4;
    t->ndim = 1;
    t->shape[0] = 16;
    d->num_tensors = n;
  }
  pack(d);
  *tensors = d->tensors;
  return d->num_tensors;
}

int o2o_disc_tensors_loaded(o2o_disc *d, char *err, size_t errlen) {
  int64_t t0, t1;
  o2o_nn_rng r;
  if (o2o_nn_unpack_count(d->mirror, &t0) || o2o_nn_unpack_count(d->mirror + 2, &t1)) {
    o2o_agent_errf(err, errlen, "tensor disc.adam_steps does not hold step counters");
    return -1;
  }
  if (o2o_nn_unpack_rng(d->mirror + 4, &r)) {
    o2o_agent_errf(err, errlen, "tensor disc.rng is not a generator state");
    return -1;
  }
  d->net[NET_SA].opt.t = t0;
  d->net[NET_SAS].opt.t = t1;
  d->rng = r;
  return 0;
}

double o2o_disc_last_loss(const o2o_disc *d) {
  return d->loss;
}
void o2o_disc_test_freeze(o2o_disc *d, int freeze) {
  d->frozen = freeze;
}
float *o2o_disc_params(o2o_disc *d, int which, size_t *n) {
  if (n) *n = d->net[which].m.num_params;
  return d->net[which].p;
}
float *o2o_disc_grads(o2o_disc *d, int which) {
  return d->net[which].g;
}
