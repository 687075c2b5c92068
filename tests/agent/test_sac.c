/* test_sac.c: SAC (sac.h) - critic, actor and temperature gradients against finite
 * differences of the losses, NaN/inf refusal that names the tensor and changes nothing,
 * bit-exact resume through the named tensors, acting, and a small learning problem. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/blas_setup.h"
#include "learn/sac_internal.h"

/* In a constructor, before Criterion starts its workers: a re-exec (OpenBLAS trap) then
 * restarts the whole test program, and the workers inherit the chosen kernel. */
__attribute__((constructor)) static void blas_init(void) {
  o2o_blas_setup(0, NULL);
}
TestSuite(sac);

typedef struct {
  o2o_batch b;
  float *mem;
} test_batch;

static void make_batch(test_batch *t, int B, int O, int A, uint64_t seed) {
  size_t n = (size_t)B * (2 * O + A + 2);
  t->mem = calloc(n, sizeof(float));
  o2o_nn_rng rng;
  o2o_nn_rng_seed(&rng, seed);
  for (size_t i = 0; i < n; i++)
    t->mem[i] = 2.0f * o2o_nn_rng_uniform(&rng) - 1.0f;
  t->b = (o2o_batch){.size = B, .obs_dim = O, .act_dim = A};
  t->b.obs = t->mem;
  t->b.act = t->b.obs + (size_t)B * O;
  t->b.rew = t->b.act + (size_t)B * A;
  t->b.next_obs = t->b.rew + B;
  t->b.done = t->b.next_obs + (size_t)B * O;
  for (int r = 0; r < B; r++)
    t->b.done[r] = r % 3 == 0 ? 1.0f : 0.0f;
}

static o2o_sac *small_sac(int O, int A, int N, int ln, int B, uint64_t seed) {
  o2o_sac_config c;
  o2o_sac_config_default(&c);
  c.hidden = 16;
  c.num_critics = N;
  c.critic_layernorm = ln;
  c.batch_size = B;
  c.log_std_min = -5.0f;
  o2o_sac *s = o2o_sac_create(O, A, &c, seed);
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

/* ReLU pattern of every hidden unit and the argmin critic of every row: finite differences
 * that change it crossed a kink and are skipped. */
static uint64_t kinks(o2o_sac *s, int B) {
  uint64_t h = 1469598103934665603ULL;
  o2o_nn_acts *acts[3] = {s->actor_acts, s->critic_acts, s->target_acts};
  const o2o_nn_mlp *m[3] = {&s->actor_m, &s->critic_m, &s->critic_m};
  int rows[3] = {2 * B, 2 * B, B};
  for (int a = 0; a < 3; a++) {
    for (int l = 0; l < m[a]->num_layers - 1; l++)
      for (int i = 0; i < rows[a] * m[a]->ensemble * m[a]->dims[l + 1]; i++)
        h = (h ^ (uint64_t)(acts[a]->out[l][i] > 0.0f)) * 1099511628211ULL;
    int L = m[a]->num_layers, E = m[a]->ensemble;
    for (int r = 0; r < rows[a]; r++) {
      int kmin = 0;
      for (int k = 1; k < E; k++)
        if (acts[a]->out[L - 1][r * E + k] < acts[a]->out[L - 1][r * E + kmin]) kmin = k;
      h = (h ^ (uint64_t)kmin) * 1099511628211ULL;
    }
  }
  return h;
}

/* Finite differences of loss[which] over (up to `per` evenly spaced) elements of every tensor
 * whose name starts with prefix (and not with exclude), against `grads` (aligned with the
 * tensors' parameter array `params`). corrupt: scale the analytic value of the first checked
 * element with a sizeable gradient (to show the check fails). Returns mismatches. */
static int fd_sac(o2o_sac *s, const o2o_batch *b, int which, const char *prefix,
                  const char *exclude, float *params, const float *grads, int per, int corrupt) {
  char err[256];
  s->reuse_noise = 0;
  cr_assert_eq(o2o_sac_compute_grads(s, b, NULL, err, sizeof err), 0, "%s", err);
  uint64_t base = kinks(s, b->size);
  size_t np = which == 2 ? 1 : which == 1 ? s->actor_m.num_params : s->critic_m.num_params;
  float *an = malloc(np * sizeof(float));
  memcpy(an, grads, np * sizeof(float));
  s->reuse_noise = 1;
  const o2o_tensor_ref *t;
  int n = o2o_sac_tensors(s, &t), bad = 0, checked = 0, skipped = 0, corrupted = 0;
  const float h = 1e-3f;
  for (int ti = 0; ti < n; ti++) {
    const char *nm = t[ti].name;
    if (strncmp(nm, prefix, strlen(prefix)) ||
        (exclude && !strncmp(nm, exclude, strlen(exclude))) || strstr(nm, "adam"))
      continue;
    int64_t numel = o2o_tensor_numel(&t[ti]);
    int64_t stride = numel > per ? numel / per : 1;
    for (int64_t e = 0; e < numel; e += stride) {
      float *v = t[ti].data + e;
      size_t gi = (size_t)(v - params);
      float keep = *v;
      *v = keep + h;
      o2o_sac_compute_grads(s, b, NULL, err, sizeof err);
      double lp = s->loss[which];
      int kink = kinks(s, b->size) != base;
      *v = keep - h;
      o2o_sac_compute_grads(s, b, NULL, err, sizeof err);
      double lm = s->loss[which];
      kink |= kinks(s, b->size) != base;
      *v = keep;
      if (kink) {
        skipped++;
        continue;
      }
      checked++;
      double fd = (lp - lm) / (2.0 * h), a = an[gi];
      if (corrupt && !corrupted && fabs(a) > 1e-2) {
        a *= 1.2;
        corrupted = 1;
      }
      if (fabs(fd - a) > 1e-3 + 2e-2 * fmax(fabs(fd), fabs(a))) {
        if (bad < 5)
          fprintf(stderr, "gradcheck: %s[%lld]: finite difference %.6f analytic %.6f\n", t[ti].name,
                  (long long)e, fd, a);
        bad++;
      }
    }
  }
  s->reuse_noise = 0;
  free(an);
  cr_expect_gt(checked, 0);
  cr_expect_leq(skipped * 4, checked, "%d of %d differences crossed a kink", skipped, checked);
  return bad;
}

static void check_all_losses(int N, int ln) {
  o2o_sac *s = small_sac(5, 2, N, ln, 8, 3);
  s->log_alpha[0] = logf(0.3f); /* exercise alpha scaling (and the entropy backup) */
  test_batch tb;
  make_batch(&tb, 8, 5, 2, 11);
  cr_expect_eq(fd_sac(s, &tb.b, 0, "critic", "critic_target", s->critic_p, s->critic_g, 12, 0), 0,
               "critic loss gradients (N=%d ln=%d)", N, ln);
  cr_expect_eq(fd_sac(s, &tb.b, 1, "actor.l", NULL, s->actor_p, s->actor_g, 12, 0), 0,
               "actor loss gradients (N=%d ln=%d)", N, ln);
  cr_expect_eq(fd_sac(s, &tb.b, 2, "log_alpha", "log_alpha.", s->log_alpha, s->log_alpha_g, 1, 0),
               0, "temperature loss gradient");
  free(tb.mem);
  o2o_sac_destroy(s);
}

Test(sac, loss_gradients_match_finite_differences) {
  check_all_losses(2, 0);
}
Test(sac, loss_gradients_match_with_layernorm_and_three_critics) {
  check_all_losses(3, 1);
}

Test(sac, gradient_check_fails_on_a_wrong_gradient) {
  o2o_sac *s = small_sac(5, 2, 2, 0, 8, 3);
  test_batch tb;
  make_batch(&tb, 8, 5, 2, 11);
  cr_expect_geq(fd_sac(s, &tb.b, 1, "actor.l", NULL, s->actor_p, s->actor_g, 12, 1), 1);
  cr_expect_geq(fd_sac(s, &tb.b, 0, "critic", "critic_target", s->critic_p, s->critic_g, 12, 1), 1);
  free(tb.mem);
  o2o_sac_destroy(s);
}

/* ---- non-finite input and state ---- */
static float *snapshot(o2o_sac *s, size_t *len) {
  const o2o_tensor_ref *t;
  int n = o2o_sac_tensors(s, &t);
  size_t total = 0;
  for (int i = 0; i < n; i++)
    total += (size_t)o2o_tensor_numel(&t[i]);
  float *m = malloc(total * sizeof(float)), *p = m;
  for (int i = 0; i < n; i++) {
    memcpy(p, t[i].data, (size_t)o2o_tensor_numel(&t[i]) * sizeof(float));
    p += o2o_tensor_numel(&t[i]);
  }
  *len = total;
  return m;
}

static void expect_refused(o2o_sac *s, const o2o_batch *b, const char *want) {
  size_t n0, n1;
  float *before = snapshot(s, &n0);
  char err[512] = "";
  o2o_sac_stats st;
  cr_expect_eq(o2o_sac_update(s, b, &st, err, sizeof err), -1);
  cr_expect(strstr(err, want) != NULL, "error '%s' should mention '%s'", err, want);
  cr_expect(strstr(err, "update step 3") != NULL, "error '%s' should name the step", err);
  float *after = snapshot(s, &n1);
  cr_assert_eq(n0, n1);
  cr_expect(memcmp(before, after, n0 * sizeof(float)) == 0, "state changed by a refused update");
  free(before);
  free(after);
}

Test(sac, non_finite_batch_or_parameter_is_refused_and_named) {
  o2o_sac *s = small_sac(4, 2, 2, 0, 16, 5);
  test_batch tb;
  make_batch(&tb, 16, 4, 2, 6);
  char err[512];
  for (int i = 0; i < 2; i++)
    cr_assert_eq(o2o_sac_update(s, &tb.b, NULL, err, sizeof err), 0, "%s", err);
  tb.b.rew[3] = NAN;
  expect_refused(s, &tb.b, "batch.rew row 3");
  tb.b.rew[3] = 0.5f;
  tb.b.next_obs[2 * 4 + 1] = INFINITY;
  expect_refused(s, &tb.b, "batch.next_obs row 2 col 1");
  tb.b.next_obs[2 * 4 + 1] = 0.0f;
  float *w = find(s, "critic1.l1.weight")->data;
  w[5] = NAN;
  expect_refused(s, &tb.b, "critic1.l1.weight[5]");
  w[5] = 0.01f;
  float *tw = find(s, "critic_target0.l2.bias")->data;
  float keep = tw[0];
  tw[0] = INFINITY;
  expect_refused(s, &tb.b, "critic_target0.l2.bias[0]");
  tw[0] = keep;
  /* huge but finite inputs: the loss overflows -> refused, named */
  tb.b.rew[0] = 3e38f;
  expect_refused(s, &tb.b, "not finite");
  tb.b.rew[0] = 0.0f;
  cr_expect_eq(o2o_sac_update(s, &tb.b, NULL, err, sizeof err), 0, "recovers: %s", err);
  tb.b.size = 17;
  cr_expect_eq(o2o_sac_update(s, &tb.b, NULL, err, sizeof err), -1, "batch larger than configured");
  free(tb.mem);
  o2o_sac_destroy(s);
}

/* ---- resume ---- */
Test(sac, copying_every_tensor_resumes_bit_exactly) {
  o2o_sac *a = small_sac(4, 2, 2, 1, 16, 1), *b = small_sac(4, 2, 2, 1, 16, 99);
  test_batch tb[8];
  for (int i = 0; i < 8; i++)
    make_batch(&tb[i], 16, 4, 2, 100 + i);
  char err[512];
  float obs[3 * 4] = {0.1f, 0.2f, -0.3f, 0.4f, 0.5f, 0.6f, 0.7f, -0.8f, 0.9f, 1.0f, 0.0f, -1.0f};
  float act_a[6], act_b[6];
  for (int i = 0; i < 3; i++)
    cr_assert_eq(o2o_sac_update(a, &tb[i].b, NULL, err, sizeof err), 0);
  o2o_sac_act(a, obs, 3, 0, act_a);
  const o2o_tensor_ref *ta, *tb_;
  int na = o2o_sac_tensors(a, &ta), nb = o2o_sac_tensors(b, &tb_);
  cr_assert_eq(na, nb);
  for (int i = 0; i < na; i++) {
    cr_assert_str_eq(ta[i].name, tb_[i].name);
    memcpy(tb_[i].data, ta[i].data, (size_t)o2o_tensor_numel(&ta[i]) * sizeof(float));
  }
  cr_assert_eq(o2o_sac_tensors_loaded(b, err, sizeof err), 0, "%s", err);
  for (int i = 3; i < 8; i++) {
    cr_assert_eq(o2o_sac_update(a, &tb[i].b, NULL, err, sizeof err), 0);
    cr_assert_eq(o2o_sac_update(b, &tb[i].b, NULL, err, sizeof err), 0);
  }
  o2o_sac_act(a, obs, 3, 0, act_a);
  o2o_sac_act(b, obs, 3, 0, act_b);
  cr_expect_arr_eq(act_a, act_b, sizeof act_a, "sampled actions after resume");
  size_t n0, n1;
  float *sa = snapshot(a, &n0), *sb = snapshot(b, &n1);
  cr_assert_eq(n0, n1);
  cr_expect(memcmp(sa, sb, n0 * sizeof(float)) == 0, "state after 5 more updates differs");
  cr_expect_eq(find(b, "sac.updates")->data[0], 8.0f);
  free(sa);
  free(sb);
  /* a broken rng tensor is refused and the old state stays */
  float *rng = find(b, "sac.rng")->data;
  memset(rng, 0, 16 * sizeof(float));
  cr_expect_eq(o2o_sac_tensors_loaded(b, err, sizeof err), -1);
  cr_expect(strstr(err, "sac.rng") != NULL, "%s", err);
  cr_expect_neq(find(b, "sac.rng")->data[0] + find(b, "sac.rng")->data[1], 0.0f);
  for (int i = 0; i < 8; i++)
    free(tb[i].mem);
  o2o_sac_destroy(a);
  o2o_sac_destroy(b);
}

/* ---- acting ---- */
Test(sac, act_deterministic_sampled_and_chunked) {
  o2o_sac *s = small_sac(3, 2, 2, 0, 4, 7), *t = small_sac(3, 2, 2, 0, 4, 7);
  enum { N = 21 }; /* more rows than one chunk (2 * batch) */
  float obs[N * 3], a1[N * 2], a2[N * 2], one[2];
  for (int i = 0; i < N * 3; i++)
    obs[i] = sinf((float)i);
  o2o_sac_act(s, obs, N, 1, a1);
  o2o_sac_act(s, obs, N, 1, a2);
  cr_expect_arr_eq(a1, a2, sizeof a1, "deterministic actions repeat");
  o2o_sac_act(s, obs + 3 * 17, 1, 1, one);
  cr_expect_eq(one[0], a1[34]);
  cr_expect_eq(one[1], a1[35]);
  o2o_sac_act(s, obs, N, 0, a1);
  o2o_sac_act(s, obs, N, 0, a2);
  cr_expect(memcmp(a1, a2, sizeof a1) != 0, "samples differ call to call");
  for (int i = 0; i < N * 2; i++)
    cr_expect(a1[i] >= -1.0f && a1[i] <= 1.0f);
  o2o_sac_act(t, obs, N, 0, a2);
  cr_expect_arr_eq(a1, a2, sizeof a1, "same seed, same samples");
  o2o_sac_destroy(s);
  o2o_sac_destroy(t);
}

/* ---- learning: a one-step problem, reward -|a - a*(s)|^2, a*(s) = (0.6 s0, -0.4) ---- */
Test(sac, learns_a_contextual_bandit, .timeout = 120) {
  o2o_sac_config c;
  o2o_sac_config_default(&c);
  c.hidden = 64;
  c.batch_size = 128;
  c.actor_lr = c.critic_lr = c.alpha_lr = 1e-3f;
  o2o_sac *s = o2o_sac_create(2, 2, &c, 2024);
  test_batch tb;
  make_batch(&tb, 128, 2, 2, 1);
  o2o_nn_rng rng;
  o2o_nn_rng_seed(&rng, 5);
  char err[512];
  o2o_sac_stats st;
  for (int it = 0; it < 1500; it++) {
    for (int r = 0; r < 128; r++) {
      float *o = tb.b.obs + 2 * r, *a = tb.b.act + 2 * r;
      o[0] = 2.0f * o2o_nn_rng_uniform(&rng) - 1.0f;
      o[1] = 2.0f * o2o_nn_rng_uniform(&rng) - 1.0f;
      a[0] = 2.0f * o2o_nn_rng_uniform(&rng) - 1.0f;
      a[1] = 2.0f * o2o_nn_rng_uniform(&rng) - 1.0f;
      float d0 = a[0] - 0.6f * o[0], d1 = a[1] + 0.4f;
      tb.b.rew[r] = -(d0 * d0 + d1 * d1);
      tb.b.done[r] = 1.0f;
    }
    cr_assert_eq(o2o_sac_update(s, &tb.b, &st, err, sizeof err), 0, "%s", err);
  }
  float obs[4] = {0.8f, 0.0f, -0.5f, 0.3f}, act[4];
  o2o_sac_act(s, obs, 2, 1, act);
  cr_log_info("bandit: actions (%.3f %.3f) (%.3f %.3f), want (0.48 -0.4) (-0.3 -0.4); alpha %.4f",
              act[0], act[1], act[2], act[3], st.alpha);
  cr_expect(fabsf(act[0] - 0.48f) < 0.1f && fabsf(act[1] + 0.4f) < 0.1f, "row 0: %g %g", act[0],
            act[1]);
  cr_expect(fabsf(act[2] + 0.3f) < 0.1f && fabsf(act[3] + 0.4f) < 0.1f, "row 1: %g %g", act[2],
            act[3]);
  free(tb.mem);
  o2o_sac_destroy(s);
}

Test(sac, config_check_names_the_bad_field) {
  o2o_sac_config c;
  o2o_sac_config_default(&c);
  char err[256];
  cr_expect_eq(o2o_sac_config_check(&c, 11, 3, err, sizeof err), 0, "%s", err);
  c.tau = 0.0f;
  cr_expect_eq(o2o_sac_config_check(&c, 11, 3, err, sizeof err), -1);
  cr_expect(strstr(err, "tau") != NULL, "%s", err);
  cr_expect_null(o2o_sac_create(11, 3, &c, 1));
  o2o_sac_config_default(&c);
  c.layers = 40;
  cr_expect_eq(o2o_sac_config_check(&c, 11, 3, err, sizeof err), -1);
  cr_expect(strstr(err, "layers = 40") != NULL, "%s", err);
  o2o_sac_config_default(&c);
  c.log_std_min = 3.0f;
  cr_expect_eq(o2o_sac_config_check(&c, 11, 3, err, sizeof err), -1);
  cr_expect(strstr(err, "log_std_min") != NULL, "%s", err);
}

Test(sac, single_critic_and_a_batch_smaller_than_configured) {
  o2o_sac *s = small_sac(5, 2, 1, 0, 8, 4);
  test_batch tb;
  make_batch(&tb, 5, 5, 2, 12);
  cr_expect_eq(fd_sac(s, &tb.b, 0, "critic", "critic_target", s->critic_p, s->critic_g, 12, 0), 0);
  cr_expect_eq(fd_sac(s, &tb.b, 1, "actor.l", NULL, s->actor_p, s->actor_g, 12, 0), 0);
  char err[256];
  cr_expect_eq(o2o_sac_update(s, &tb.b, NULL, err, sizeof err), 0, "%s", err);
  free(tb.mem);
  o2o_sac_destroy(s);
}

/* actor_delay: the first updates step the critics and the temperature only (a warm-started
 * policy is evaluated under SAC's target before it moves), then the actor learns too; the same
 * in the REDQ path (critic_steps > 1). */
Test(sac, actor_delay_freezes_the_actor_for_its_updates) {
  for (int redq = 0; redq < 2; redq++) {
    const int O = 3, A = 2, B = 8, D = 3;
    o2o_sac_config c;
    o2o_sac_config_default(&c);
    c.hidden = 16;
    c.batch_size = B;
    c.actor_delay = D;
    if (redq) c.critic_steps = 2;
    o2o_sac *s = o2o_sac_create(O, A, &c, 11);
    cr_assert_not_null(s);
    test_batch t;
    make_batch(&t, B, O, A, 5);
    const size_t na = (size_t)s->actor_m.num_params, nc = (size_t)s->critic_m.num_params;
    float *actor0 = malloc(na * sizeof(float)), *critic0 = malloc(nc * sizeof(float));
    memcpy(actor0, s->actor_p, na * sizeof(float));
    memcpy(critic0, s->critic_p, nc * sizeof(float));
    const float alpha0 = s->log_alpha[0];
    char err[256];
    for (int u = 0; u < D; u++)
      cr_assert_eq(o2o_sac_update(s, &t.b, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(memcmp(actor0, s->actor_p, na * sizeof(float)), 0, "actor moved (redq %d)", redq);
    cr_assert_neq(s->log_alpha[0], alpha0, "temperature did not learn (redq %d)", redq);
    cr_assert_neq(memcmp(critic0, s->critic_p, nc * sizeof(float)), 0, "critics did not learn");
    cr_assert_eq(s->updates, D);
    cr_assert_eq(o2o_sac_update(s, &t.b, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_neq(memcmp(actor0, s->actor_p, na * sizeof(float)), 0,
                  "actor still frozen after %d updates (redq %d)", D, redq);
    free(actor0);
    free(critic0);
    free(t.mem);
    o2o_sac_destroy(s);
  }
}
