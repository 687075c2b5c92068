/* test_sac_redq.c: REDQ-SAC as WSRL uses it, an option of SAC (sac.h target_subset,
 * critic_steps): the TD target's min over a random subset of the target critics (hand values),
 * the subset draw, a finite-difference check of the critic gradient with the subset target and
 * LayerNorm critics against a double-precision loss, and the high-UTD update's step counts. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learn/sac_internal.h"
#include "nn/blas_setup.h"

__attribute__((constructor)) static void blas_init(void) {
  o2o_blas_setup(0, NULL);
}

TestSuite(sac_redq);

static o2o_sac *redq_sac(int N, int subset, int ln, int B, int steps) {
  o2o_sac_config c;
  o2o_sac_config_default(&c);
  c.hidden = 8;
  c.num_critics = N;
  c.critic_layernorm = ln;
  c.target_subset = subset;
  c.critic_steps = steps;
  c.batch_size = B;
  c.backup_entropy = 0; /* WSRL's REDQ: no entropy in the target */
  c.log_std_min = -5.0f;
  o2o_sac *s = o2o_sac_create(2, 1, &c, 11);
  cr_assert_not_null(s);
  return s;
}

static const o2o_tensor_ref *find(o2o_sac *s, const char *name) {
  const o2o_tensor_ref *t;
  int n = o2o_sac_tensors(s, &t);
  for (int i = 0; i < n; i++)
    if (!strcmp(t[i].name, name)) return &t[i];
  cr_assert_fail("no tensor %s", name);
  return NULL;
}

typedef struct {
  o2o_batch b;
  float mem[64 * 8];
} batch;

static void make_batch(batch *t, int B, uint64_t seed) {
  o2o_nn_rng rng;
  o2o_nn_rng_seed(&rng, seed);
  for (int i = 0; i < B * 8; i++)
    t->mem[i] = 2.0f * o2o_nn_rng_uniform(&rng) - 1.0f;
  t->b = (o2o_batch){.size = B, .obs_dim = 2, .act_dim = 1};
  t->b.obs = t->mem;
  t->b.act = t->b.obs + 2 * B;
  t->b.rew = t->b.act + B;
  t->b.next_obs = t->b.rew + B;
  t->b.done = t->b.next_obs + 2 * B;
  for (int r = 0; r < B; r++)
    t->b.done[r] = r % 3 == 0 ? 1.0f : 0.0f;
}

/* Critic k (online and target) outputs the constant bias[k]: every weight zero. */
static void constant_critics(o2o_sac *s, const char *prefix, const float *bias, int N) {
  const o2o_tensor_ref *t;
  int n = o2o_sac_tensors(s, &t);
  size_t plen = strlen(prefix);
  for (int i = 0; i < n; i++) {
    const char *nm = t[i].name;
    if (strncmp(nm, prefix, plen) || !(nm[plen] >= '0' && nm[plen] <= '9')) continue;
    if (strstr(nm, ".ln.")) continue; /* LayerNorm gains stay */
    memset(t[i].data, 0, sizeof(float) * (size_t)o2o_tensor_numel(&t[i]));
  }
  for (int k = 0; k < N; k++) {
    char name[96];
    snprintf(name, sizeof name, "%s%d.l%d.bias", prefix, k, s->critic_m.num_layers - 1);
    find(s, name)->data[0] = bias[k];
  }
}

/* y = r + gamma (1 - d) min_{k in subset} Qbar_k: target critics 5, 1, 3, 2 and the subset
 * {0, 2} give min 3, not the min over all (1). */
Test(sac_redq, target_is_the_min_over_the_drawn_subset) {
  const int N = 4, B = 6;
  o2o_sac *s = redq_sac(N, 2, 0, B, 1);
  const float tb[4] = {5, 1, 3, 2}, qb[4] = {0, 0, 0, 0};
  constant_critics(s, "critic_target", tb, N);
  constant_critics(s, "critic", qb, N);
  batch t;
  make_batch(&t, B, 3);
  char err[256];
  cr_assert_eq(o2o_sac_compute_grads(s, &t.b, NULL, err, sizeof err), 0, "%s", err);
  /* hand-set the subset and recompute with the same noise */
  int order[4] = {0, 2, 1, 3};
  memcpy(s->subset, order, sizeof order);
  s->num_subset = 2;
  s->reuse_noise = 1;
  cr_assert_eq(o2o_sac_compute_grads(s, &t.b, NULL, err, sizeof err), 0, "%s", err);
  double loss = 0;
  for (int r = 0; r < B; r++) {
    double y = t.b.rew[r] + 0.99 * (1.0 - t.b.done[r]) * 3.0;
    cr_assert_float_eq(s->y[r], y, 1e-5, "row %d: y %g, hand %g", r, s->y[r], y);
    loss += N * y * y / B; /* online critics are 0 */
  }
  cr_assert_float_eq(s->loss[0], loss, 1e-4 * loss, "critic loss %g, hand %g", s->loss[0], loss);
  /* target_subset 0: the min over all critics */
  s->num_subset = N;
  cr_assert_eq(o2o_sac_compute_grads(s, &t.b, NULL, err, sizeof err), 0, "%s", err);
  for (int r = 0; r < B; r++)
    cr_assert_float_eq(s->y[r], t.b.rew[r] + 0.99f * (1.0f - t.b.done[r]) * 1.0f, 1e-5);
  o2o_sac_destroy(s);
}

Test(sac_redq, subset_draw_is_distinct_and_covers_the_ensemble) {
  const int N = 10;
  o2o_sac *s = redq_sac(N, 2, 1, 8, 1);
  int seen[10] = {0}, changed = 0, prev[2] = {-1, -1};
  for (int it = 0; it < 200; it++) {
    o2o_sac_draw_subset(s);
    cr_assert_eq(s->num_subset, 2);
    cr_assert(s->subset[0] != s->subset[1]);
    for (int i = 0; i < 2; i++) {
      cr_assert(s->subset[i] >= 0 && s->subset[i] < N);
      seen[s->subset[i]]++;
    }
    changed += s->subset[0] != prev[0] || s->subset[1] != prev[1];
    prev[0] = s->subset[0], prev[1] = s->subset[1];
  }
  for (int k = 0; k < N; k++)
    cr_assert(seen[k] > 10, "critic %d drawn %d times in 200 draws", k, seen[k]);
  cr_assert(changed > 150);
  o2o_sac_destroy(s);
}

/* Central differences of the double-precision critic loss (s->loss[0]) against the analytic
 * critic gradient, with the subset target and LayerNorm critics. */
Test(sac_redq, critic_gradient_with_the_subset_target_matches_finite_differences) {
  const int N = 10, B = 8;
  o2o_sac *s = redq_sac(N, 2, 1, B, 1);
  batch t;
  make_batch(&t, B, 5);
  char err[256];
  cr_assert_eq(o2o_sac_compute_grads(s, &t.b, NULL, err, sizeof err), 0, "%s", err);
  cr_assert_eq(s->num_subset, 2);
  s->reuse_noise = 1; /* same noise and subset from here on */
  cr_assert_eq(o2o_sac_compute_grads(s, &t.b, NULL, err, sizeof err), 0, "%s", err);
  size_t P = s->critic_m.num_params;
  float *g = malloc(P * sizeof(float));
  memcpy(g, s->critic_g, P * sizeof(float));
  int checked = 0, kinks = 0;
  for (size_t i = 0; i < P; i += P / 97 + 1) {
    float keep = s->critic_p[i];
    const float h = 2e-3f;
    s->critic_p[i] = keep + h;
    o2o_sac_compute_grads(s, &t.b, NULL, err, sizeof err);
    double up = s->loss[0];
    s->critic_p[i] = keep - h;
    o2o_sac_compute_grads(s, &t.b, NULL, err, sizeof err);
    double down = s->loss[0];
    s->critic_p[i] = keep;
    o2o_sac_compute_grads(s, &t.b, NULL, err, sizeof err);
    double mid = s->loss[0];
    double fd = (up - down) / (2.0 * h);
    /* a ReLU kink inside [-h, h]: the one-sided slopes disagree; such points are skipped */
    if (fabs((up - mid) / h - (mid - down) / h) > 0.05 * fabs(fd) + 1e-3) {
      kinks++;
      continue;
    }
    cr_assert(fabs(fd - g[i]) <= 2e-3 + 2e-2 * fabs(fd), "param %zu: analytic %g, fd %g", i, g[i],
              fd);
    checked++;
  }
  cr_assert(checked > 85 && kinks < 8, "%d checked, %d at kinks", checked, kinks);
  free(g);
  o2o_sac_destroy(s);
}

/* critic_steps 4: four critic Adam steps (each with Polyak), one actor and one temperature step
 * per update; with tau = 1 the target critics end equal to the online ones. */
Test(sac_redq, high_utd_update_makes_four_critic_steps_and_one_actor_step) {
  const int N = 10, B = 32;
  o2o_sac_config c;
  o2o_sac_config_default(&c);
  c.hidden = 8;
  c.num_critics = N;
  c.critic_layernorm = 1;
  c.target_subset = 2;
  c.critic_steps = 4;
  c.batch_size = B;
  c.tau = 1.0f;
  o2o_sac *s = o2o_sac_create(2, 1, &c, 3);
  cr_assert_not_null(s);
  batch t;
  make_batch(&t, B, 9);
  char err[256];
  o2o_sac_stats st;
  float *actor0 = malloc(s->actor_m.num_params * sizeof(float));
  memcpy(actor0, s->actor_p, s->actor_m.num_params * sizeof(float));
  for (int u = 0; u < 3; u++)
    cr_assert_eq(o2o_sac_update(s, &t.b, &st, err, sizeof err), 0, "%s", err);
  cr_assert_eq(s->critic_opt.t, 12);
  cr_assert_eq(s->actor_opt.t, 3);
  cr_assert_eq(s->alpha_opt.t, 3);
  cr_assert_eq(s->updates, 3);
  cr_assert(isfinite(st.critic_loss) && isfinite(st.actor_loss) && st.alpha < 1.0f);
  cr_assert_eq(memcmp(s->target_p, s->critic_p, s->critic_m.num_params * sizeof(float)), 0);
  cr_assert_neq(memcmp(actor0, s->actor_p, s->actor_m.num_params * sizeof(float)), 0);
  /* a batch that does not split, and a subset larger than the ensemble, are refused */
  c.critic_steps = 3;
  cr_assert_null(o2o_sac_create(2, 1, &c, 3));
  cr_assert_neq(o2o_sac_config_check(&c, 2, 1, err, sizeof err), 0);
  cr_assert(strstr(err, "critic_steps = 3"), "%s", err);
  c.critic_steps = 4;
  c.target_subset = 11;
  cr_assert_neq(o2o_sac_config_check(&c, 2, 1, err, sizeof err), 0);
  cr_assert(strstr(err, "target_subset = 11"), "%s", err);
  free(actor0);
  o2o_sac_destroy(s);
}

/* A checkpoint round trip of a REDQ learner resumes its updates bit-exactly. */
Test(sac_redq, tensors_round_trip_resumes_bit_exactly) {
  o2o_sac *a = redq_sac(10, 2, 1, 32, 4), *b = redq_sac(10, 2, 1, 32, 4);
  batch t;
  make_batch(&t, 32, 4);
  char err[256];
  cr_assert_eq(o2o_sac_update(a, &t.b, NULL, err, sizeof err), 0, "%s", err);
  const o2o_tensor_ref *ta, *tb;
  int n = o2o_sac_tensors(a, &ta);
  cr_assert_eq(o2o_sac_tensors(b, &tb), n);
  for (int i = 0; i < n; i++)
    memcpy(tb[i].data, ta[i].data, sizeof(float) * (size_t)o2o_tensor_numel(&ta[i]));
  cr_assert_eq(o2o_sac_tensors_loaded(b, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_sac_update(a, &t.b, NULL, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_sac_update(b, &t.b, NULL, err, sizeof err), 0, "%s", err);
  cr_assert_eq(memcmp(a->critic_p, b->critic_p, a->critic_m.num_params * sizeof(float)), 0);
  cr_assert_eq(memcmp(a->actor_p, b->actor_p, a->actor_m.num_params * sizeof(float)), 0);
  o2o_sac_destroy(a);
  o2o_sac_destroy(b);
}
