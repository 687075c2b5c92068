/* test_python_client.c: bridge/python/o2o/client.py (written from PROTOCOL.md) drives a real
 * o2o-sim; every value it received must equal what an in-process vecenv computes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "o2o_sim.h"
#include "sim_proc.h"

#define PYTHON "/usr/bin/python3"

Test(python_client, values_match_the_in_process_vecenv, .timeout = 120) {
  enum { N = 3, STEPS = 300, SEED = 3 };
  char err[512];
  o2o_test_require(access(PYTHON, X_OK) == 0, "%s not installed", PYTHON);
  sim_proc p;
  cr_assert_eq(sim_start(&p, "hopper", N, NULL), 0);
  o2o_client *probe = sim_connect(p.endpoint, 5000, err, sizeof err); /* wait until it serves */
  cr_assert(probe, "%s", err);
  o2o_client_destroy(probe);

  char out[256], steps[16], seed[16];
  snprintf(out, sizeof out, "/tmp/o2o-test-py-%ld.f32", (long)getpid());
  snprintf(steps, sizeof steps, "%d", STEPS);
  snprintf(seed, sizeof seed, "%d", SEED);
  const char *script = O2O_TEST_DATA_DIR "/../bridge/python/rollout_check.py";
  pid_t py = fork();
  if (py == 0) {
    execl(PYTHON, PYTHON, script, "--endpoint", p.endpoint, "--seed", seed, "--steps", steps,
          "--out", out, (char *)NULL);
    _exit(127);
  }
  int status = sim_wait(py, 100000);
  sim_stop(&p);
  cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "python client failed (status %d): see its output above", status);

  o2o_scenario sc;
  cr_assert_eq(o2o_scenario_load(&sc, "hopper", err, sizeof err), 0, "%s", err);
  o2o_vecenv *env = o2o_vecenv_create(&sc, O2O_VARIANT_REAL, N, err, sizeof err);
  cr_assert(env, "%s", err);
  const o2o_env_spec *es = o2o_vecenv_spec(env);
  int o = es->obs_dim, a = es->act_dim;
  size_t per_step = (size_t)N * (2 * o + 4);
  size_t total = (size_t)N * o + STEPS * per_step;
  float *got = malloc(sizeof(float) * total);
  FILE *f = fopen(out, "rb");
  cr_assert(f, "python wrote no %s", out);
  cr_assert_eq(fread(got, sizeof(float), total, f), total, "short output file");
  fclose(f);
  unlink(out);

  uint64_t seeds[N];
  for (int i = 0; i < N; i++)
    seeds[i] = SEED + (uint64_t)i; /* reset(seed=S): env i gets S+i */
  float obs[N * O2O_SIM_MAX_OBS], act[N * O2O_SIM_MAX_ACT];
  o2o_vecenv_reset(env, seeds, obs, err, sizeof err);
  cr_assert_eq(memcmp(got, obs, sizeof(float) * N * (size_t)o), 0, "reset obs differ");
  const float *g = got + (size_t)N * o;
  for (int t = 0; t < STEPS; t++) {
    for (int i = 0; i < N; i++)
      for (int j = 0; j < a; j++)
        act[i * a + j] = (float)(((t * 7 + i * 3 + j) % 11) / 5.0 - 1.0);
    o2o_step_result r;
    cr_assert_eq(o2o_vecenv_step(env, act, &r, err, sizeof err), 0);
    cr_assert_eq(memcmp(g, r.obs, sizeof(float) * N * (size_t)o), 0, "obs at step %d", t);
    g += (size_t)N * o;
    cr_assert_eq(memcmp(g, r.reward, sizeof(float) * N), 0, "reward at step %d", t);
    g += N;
    for (int i = 0; i < N; i++)
      cr_assert_eq(g[i], (float)r.terminated[i], "terminated %d", t);
    g += N;
    for (int i = 0; i < N; i++)
      cr_assert_eq(g[i], (float)r.truncated[i], "truncated %d", t);
    g += N;
    cr_assert_eq(memcmp(g, r.final_obs, sizeof(float) * N * (size_t)o), 0, "final_obs %d", t);
    g += (size_t)N * o;
    for (int i = 0; i < N; i++)
      cr_assert_eq(g[i], (float)r.episode_step[i], "ep step %d", t);
    g += N;
  }
  free(got);
  o2o_vecenv_destroy(env);
}
