/* test_pool_bench.c: o2o-bench-bridge runs end to end (tiny sizes) and writes sane JSON.
 * It checks the program works, not the figures: those need a quiet machine. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double json_number(const char *json, const char *key) {
  char pat[96];
  snprintf(pat, sizeof pat, "\"%s\": ", key);
  const char *at = strstr(json, pat);
  cr_assert(at, "key %s missing in %s", key, json);
  return strtod(at + strlen(pat), NULL);
}

Test(pool_bench, runs_and_writes_json) {
  char cmd[1024], path[256], json[8192];
  snprintf(path, sizeof path, "/tmp/o2o-test-bench-bridge-%d.json", (int)getpid());
  snprintf(cmd, sizeof cmd,
           "%s/o2o-bench-bridge --rounds 1 --env-steps 1000 --json %s > /dev/null 2>&1",
           O2O_TEST_BUILD_DIR, path);
  cr_assert_eq(system(cmd), 0, "%s failed", cmd);
  FILE *f = fopen(path, "r");
  cr_assert(f);
  size_t n = fread(json, 1, sizeof json - 1, f);
  fclose(f);
  json[n] = 0;
  unlink(path);
  const char *keys[] = {"b_lock_over_a16", "c_lock_over_a64", "d_lock_over_b_lock",
                        "b_pipe_over_a16", "c_pipe_over_a64", "d_pipe_over_b_pipe"};
  for (int i = 0; i < 6; i++) {
    double v = json_number(json, keys[i]);
    cr_assert(isfinite(v) && v > 0, "%s = %g", keys[i], v);
  }
  cr_assert(json_number(json, "env_steps_per_s") > 0);
  cr_assert(strstr(json, "\"sim_cpu_us_per_step\""));
}

Test(pool_bench, rejects_bad_flags) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "%s/o2o-bench-bridge --rounds 0 > /dev/null 2>&1", O2O_TEST_BUILD_DIR);
  int rc = system(cmd);
  cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
  snprintf(cmd, sizeof cmd, "%s/o2o-bench-bridge --help | grep -q -- --env-steps",
           O2O_TEST_BUILD_DIR);
  cr_assert_eq(system(cmd), 0);
}
