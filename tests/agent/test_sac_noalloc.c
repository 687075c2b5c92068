/* test_sac_noalloc.c: o2o_sac_update and o2o_sac_act allocate nothing. Linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc, so every allocation made by the agent
 * library's own code (a static library) goes through the counters below. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "nn/blas_setup.h"
#include "learn/sac.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t s);
void *__real_realloc(void *p, size_t n);
static long allocations;
void *__wrap_malloc(size_t n) {
  allocations++;
  return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t s) {
  allocations++;
  return __real_calloc(n, s);
}
void *__wrap_realloc(void *p, size_t n) {
  allocations++;
  return __real_realloc(p, n);
}

__attribute__((constructor)) static void blas_init(void) {
  o2o_blas_setup(0, NULL);
}

Test(sac_noalloc, update_and_act_allocate_nothing) {
  o2o_sac_config c;
  o2o_sac_config_default(&c);
  c.hidden = 32;
  c.batch_size = 64;
  c.critic_layernorm = 1;
  o2o_sac *s = o2o_sac_create(5, 2, &c, 1);
  cr_assert_not_null(s);
  cr_assert_gt(allocations, 0, "the wrapper must see the create's allocations");
  float *mem = calloc(64 * (5 + 2 + 1 + 5 + 1), sizeof(float));
  for (int i = 0; i < 64 * 14; i++)
    mem[i] = (float)((i * 37) % 11) / 11.0f - 0.5f;
  o2o_batch b = {.size = 64, .obs_dim = 5, .act_dim = 2};
  b.obs = mem;
  b.act = mem + 64 * 5;
  b.rew = b.act + 64 * 2;
  b.next_obs = b.rew + 64;
  b.done = b.next_obs + 64 * 5;
  char err[256];
  float act[200 * 2], obs[200 * 5] = {0};
  const o2o_tensor_ref *t;
  cr_assert_eq(o2o_sac_update(s, &b, NULL, err, sizeof err), 0, "%s", err); /* warm */
  long before = allocations;
  for (int i = 0; i < 20; i++) {
    o2o_sac_stats st;
    cr_assert_eq(o2o_sac_update(s, &b, &st, err, sizeof err), 0, "%s", err);
    o2o_sac_act(s, obs, 200, i % 2, act);
    o2o_sac_tensors(s, &t);
  }
  b.rew[0] = 1.0f / 0.0f; /* the refusal path too */
  cr_assert_eq(o2o_sac_update(s, &b, NULL, err, sizeof err), -1);
  cr_expect_eq(allocations, before, "%ld allocations in 20 updates/acts", allocations - before);
  free(mem);
  o2o_sac_destroy(s);
}
