/* test_iql.c: IQL's three losses (learn/iql.h) against an independent double-precision
 * implementation written here from the paper's equations (golden values on a hand-set batch,
 * with a beta large enough that the weight clip is active on some rows), the analytic
 * gradients against central differences of that reference, and a checkpoint round trip that
 * continues bit-exactly. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "learn/iql.h"
#include "learn/learner.h"
#include "nn/nn.h"
#include "replay/replay.h"

enum { O = 2, A = 2, B = 4, H = 5 };

/* member k of an MLP in nn.h's layout, in double */
static double ref_mlp(const o2o_nn_mlp *m, const float *p, int k, const double *x, double *out) {
  double h[2][64];
  memcpy(h[0], x, sizeof(double) * m->dims[0]);
  int cur = 0;
  for (int l = 0; l < m->num_layers; l++) {
    const int I = m->dims[l], Oo = m->dims[l + 1];
    const float *W = p + m->w_off[l] + (size_t)k * Oo * I, *b = p + m->b_off[l] + (size_t)k * Oo;
    for (int o = 0; o < Oo; o++) {
      double z = b[o];
      for (int i = 0; i < I; i++)
        z += (double)W[o * I + i] * h[cur][i];
      h[1 - cur][o] = l < m->num_layers - 1 ? (z > 0 ? z : 0) : z;
    }
    cur = 1 - cur;
  }
  memcpy(out, h[cur], sizeof(double) * m->dims[m->num_layers]);
  return out[0];
}

typedef struct {
  o2o_nn_mlp actor, critic, value;
  o2o_iql_config c;
  const float *target; /* snapshot of the target critics */
} ref_nets;

static void ref_init(ref_nets *r, const o2o_iql_config *c) {
  int da[] = {O, H, A}, dc[] = {O + A, H, 1}, dv[] = {O, H, 1};
  cr_assert_eq(o2o_nn_mlp_init(&r->actor, 1, 2, da, 0), 0);
  cr_assert_eq(o2o_nn_mlp_init(&r->critic, 2, 2, dc, 0), 0);
  cr_assert_eq(o2o_nn_mlp_init(&r->value, 1, 2, dv, 0), 0);
  r->c = *c;
}

/* which: 0 value, 1 actor, 2 critic; params of each network given */
static double ref_loss(const ref_nets *r, const o2o_batch *b, const float *pv, const float *pa,
                       const float *pc, int which) {
  double L = 0;
  for (int i = 0; i < B; i++) {
    double sa[O + A], s[O], s2[O], o1[2], o2[2], v, v2, mu[A];
    for (int j = 0; j < O; j++)
      s[j] = sa[j] = b->obs[i * O + j], s2[j] = b->next_obs[i * O + j];
    for (int j = 0; j < A; j++)
      sa[O + j] = b->act[i * A + j];
    double qt =
        fmin(ref_mlp(&r->critic, r->target, 0, sa, o1), ref_mlp(&r->critic, r->target, 1, sa, o2));
    v = ref_mlp(&r->value, pv, 0, s, o1);
    v2 = ref_mlp(&r->value, pv, 0, s2, o1);
    double u = qt - v;
    if (which == 0) L += (u < 0 ? 1 - r->c.expectile : r->c.expectile) * u * u;
    if (which == 1) {
      double w = fmin(exp(r->c.beta * u), r->c.exp_adv_max), logp = 0;
      ref_mlp(&r->actor, pa, 0, s, mu);
      const float *ls = pa + r->actor.num_params;
      for (int j = 0; j < A; j++) {
        double l = fmin(fmax(ls[j], r->c.log_std_min), r->c.log_std_max);
        double z = (b->act[i * A + j] - tanh(mu[j])) / exp(l);
        logp += -0.5 * z * z - l - 0.5 * log(2 * M_PI);
      }
      L -= w * logp;
    }
    if (which == 2) {
      double y = b->rew[i] + r->c.gamma * (1 - b->done[i]) * v2;
      for (int k = 0; k < 2; k++) {
        double q = ref_mlp(&r->critic, pc, k, sa, o1);
        L += (q - y) * (q - y);
      }
    }
  }
  return L / B;
}

static o2o_iql_config tiny(void) {
  o2o_iql_config c;
  o2o_iql_config_default(&c);
  c.hidden = H;
  c.layers = 1;
  c.batch_size = B;
  c.beta = 40.0f;     /* exp(40 adv) passes the clip of 100 on some rows */
  c.expectile = 0.8f; /* tau vs 1 - tau must show */
  c.gamma = 0.9f;
  return c;
}

static void hand_batch(o2o_batch *b) {
  cr_assert_eq(o2o_replay_batch_alloc(b, B, O, A, 0), 0);
  const float obs[B * O] = {0.5f, -0.2f, -0.7f, 0.1f, 0.3f, 0.9f, -0.1f, -0.4f};
  const float nxt[B * O] = {0.4f, 0.0f, -0.6f, 0.3f, 0.2f, 0.7f, 0.1f, -0.5f};
  const float act[B * A] = {0.3f, -0.8f, -0.5f, 0.2f, 0.9f, 0.1f, -0.2f, -0.6f};
  const float rew[B] = {1.0f, -0.5f, 0.25f, 2.0f}, done[B] = {0, 0, 1, 0};
  memcpy(b->obs, obs, sizeof obs);
  memcpy(b->next_obs, nxt, sizeof nxt);
  memcpy(b->act, act, sizeof act);
  memcpy(b->rew, rew, sizeof rew);
  memcpy(b->done, done, sizeof done);
}

Test(iql, losses_and_gradients_match_an_independent_reference) {
  o2o_iql_config c = tiny();
  char err[256] = "";
  void *q = o2o_algo_iql.create(O, A, &c, 3, err, sizeof err);
  cr_assert_not_null(q, "%s", err);
  ref_nets r;
  ref_init(&r, &c);
  size_t nv, na, nc;
  float *pv = o2o_iql_test_params(q, 0, &nv), *pa = o2o_iql_test_params(q, 1, &na);
  float *pc = o2o_iql_test_params(q, 2, &nc);
  cr_assert_eq(na, r.actor.num_params + A, "the actor array ends with its log std");
  /* move the critics away from their targets and the log std off 0, so each term matters */
  float *target = malloc(sizeof(float) * nc);
  memcpy(target, pc, sizeof(float) * nc);
  r.target = target;
  for (size_t i = 0; i < nc; i++)
    pc[i] += 0.05f * (float)((int)(i % 5) - 2);
  pa[na - 2] = -0.3f, pa[na - 1] = 0.4f;
  /* V lowered so the advantages straddle the clip: exp(40 adv) > 100 on two rows of four */
  pv[r.value.b_off[1]] -= 0.375f;
  o2o_batch b;
  hand_batch(&b);
  int clipped = 0;
  for (int which = 0; which < 3; which++) {
    double got = o2o_iql_test_loss(q, &b, which), want = ref_loss(&r, &b, pv, pa, pc, which);
    cr_assert_float_eq(got, want, 1e-5 * (1 + fabs(want)), "loss %d: %.9g vs reference %.9g", which,
                       got, want);
    float *p = which == 0 ? pv : which == 1 ? pa : pc;
    size_t n = which == 0 ? nv : which == 1 ? na : nc;
    float *g = malloc(sizeof(float) * n);
    memcpy(g, o2o_iql_test_grads(q, which), sizeof(float) * n);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
      float keep = p[i], h = 1e-3f;
      p[i] = keep + h;
      double lp = ref_loss(&r, &b, pv, pa, pc, which);
      p[i] = keep - h;
      double lm = ref_loss(&r, &b, pv, pa, pc, which);
      p[i] = keep;
      double fd = (lp - lm) / (2 * h);
      if (fabs(fd - g[i]) > 2e-3 * (1 + fabs(fd))) {
        if (bad < 3) cr_log_error("loss %d param %zu: analytic %g fd %g", which, i, g[i], fd);
        bad++;
      }
    }
    cr_assert_leq(bad, (int)(n / 50), "loss %d: %d of %zu gradients off", which, bad, n);
    free(g);
  }
  /* the weight clip is exercised by this batch */
  for (int i = 0; i < B; i++) {
    double sa[O + A], o1[2], o2[2], s[O];
    for (int j = 0; j < O; j++)
      s[j] = sa[j] = b.obs[i * O + j];
    for (int j = 0; j < A; j++)
      sa[O + j] = b.act[i * A + j];
    double u = fmin(ref_mlp(&r.critic, target, 0, sa, o1), ref_mlp(&r.critic, target, 1, sa, o2)) -
               ref_mlp(&r.value, pv, 0, s, o1);
    clipped += exp(c.beta * u) > c.exp_adv_max;
  }
  cr_assert(clipped > 0 && clipped < B, "%d of %d rows clipped: pick another batch", clipped, B);
  free(target);
  o2o_replay_batch_free(&b);
  o2o_algo_iql.destroy(q);
}

Test(iql, checkpoint_round_trip_continues_bit_exactly) {
  o2o_iql_config c = tiny();
  char err[256] = "", path[] = "/tmp/o2o_test_iql_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  o2o_learner *l = o2o_learner_create(&o2o_algo_iql, O, A, &c, NULL, NULL, 5, err, sizeof err);
  cr_assert_not_null(l, "%s", err);
  o2o_batch b;
  hand_batch(&b);
  o2o_learner_stats s1 = {0}, s2 = {0};
  for (int i = 0; i < 3; i++)
    cr_assert_eq(o2o_learner_update(l, &b, &s1, err, sizeof err), 0, "%s", err);
  o2o_ckpt_meta meta;
  o2o_ckpt_meta_init(&meta);
  cr_assert_eq(o2o_learner_meta(l, &meta, err, sizeof err), 0, "%s", err);
  const o2o_tensor_ref *t;
  int n = o2o_learner_tensors(l, &t);
  cr_assert_eq(o2o_ckpt_save(path, t, n, &meta, err, sizeof err), 0, "%s", err);
  o2o_learner *r = o2o_learner_load(path, "iql", NULL, err, sizeof err);
  cr_assert_not_null(r, "%s", err);
  cr_assert_eq(((const o2o_iql_config *)o2o_learner_config(r))->beta, 40.0f);
  cr_assert_eq(o2o_learner_update(l, &b, &s1, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_learner_update(r, &b, &s2, err, sizeof err), 0, "%s", err);
  for (int i = 0; i < s1.count; i++)
    cr_assert_eq(s1.values[i], o2o_learner_stats_get(&s2, s1.names[i]), "%s", s1.names[i]);
  float obs[O] = {0.1f, 0.2f}, a1[A], a2[A];
  o2o_learner_act(l, obs, 1, 0, a1);
  o2o_learner_act(r, obs, 1, 0, a2);
  cr_assert_eq(memcmp(a1, a2, sizeof a1), 0, "sampled actions continue the same stream");
  cr_assert(a1[0] >= -1 && a1[0] <= 1 && a1[1] >= -1 && a1[1] <= 1);
  o2o_learner_destroy(l);
  o2o_learner_destroy(r);
  o2o_replay_batch_free(&b);
  unlink(path);
}

Test(iql, actor_learning_rate_decays_on_a_cosine) {
  o2o_iql_config c = tiny();
  c.max_steps = 4;
  char err[256] = "";
  o2o_learner *l = o2o_learner_create(&o2o_algo_iql, O, A, &c, NULL, NULL, 5, err, sizeof err);
  o2o_batch b;
  hand_batch(&b);
  o2o_learner_stats st = {0};
  const double want[5] = {3e-4, 3e-4 * 0.5 * (1 + cos(M_PI / 4)), 1.5e-4,
                          3e-4 * 0.5 * (1 + cos(3 * M_PI / 4)), 0.0};
  for (int i = 0; i < 5; i++) {
    cr_assert_eq(o2o_learner_update(l, &b, &st, err, sizeof err), 0, "%s", err);
    cr_assert_float_eq(o2o_learner_stats_get(&st, "actor_lr"), want[i], 1e-9, "update %d", i);
  }
  b.obs[3] = NAN;
  cr_assert_neq(o2o_learner_update(l, &b, &st, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "batch.obs row 1"), "%s", err);
  o2o_learner_destroy(l);
  o2o_replay_batch_free(&b);
}

/* A non-finite reward, action or done flag is refused before the V step: every tensor stays. */
Test(iql, non_finite_batch_columns_are_refused_before_any_step) {
  o2o_iql_config c = tiny();
  char err[256] = "";
  void *q = o2o_algo_iql.create(O, A, &c, 7, err, sizeof err);
  cr_assert_not_null(q, "%s", err);
  size_t nv;
  float *pv = o2o_iql_test_params(q, 0, &nv);
  float *keep = malloc(sizeof(float) * nv);
  memcpy(keep, pv, sizeof(float) * nv);
  o2o_batch b;
  const char *want[3] = {"batch.rew row 2", "batch.act row 1 col 1", "batch.done row 3"};
  for (int k = 0; k < 3; k++) {
    hand_batch(&b);
    float *x = k == 0 ? &b.rew[2] : k == 1 ? &b.act[1 * A + 1] : &b.done[3];
    *x = k == 1 ? INFINITY : NAN;
    err[0] = 0;
    cr_assert_neq(o2o_algo_iql.update(q, &b, NULL, err, sizeof err), 0);
    cr_assert_not_null(strstr(err, want[k]), "%s", err);
    cr_assert_eq(memcmp(pv, keep, sizeof(float) * nv), 0, "V stepped on a refused batch (%s)", err);
    o2o_replay_batch_free(&b);
  }
  free(keep);
  o2o_algo_iql.destroy(q);
}
