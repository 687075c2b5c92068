/* test_dataset_collect.c: `o2o collect` end to end (spawns o2o-sim through the pool).
 * The returns in a collected file must equal those of `o2o eval` (the training helper's
 * evaluation loop: an independent path) for the same policy and seeds. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "o2o_dataset.h"

#define POLICY O2O_TEST_DATA_DIR "/../datasets/policies/pendulum-medium.safetensors"

static char err[O2O_DATASET_ERRLEN];

static const char *build_dir(void) {
  const char *b = getenv("O2O_BUILD_DIR");
  return b ? b : O2O_TEST_BUILD_DIR;
}

/* Run a shell command, capture stdout (up to len bytes); returns the exit status. */
static int run(const char *cmd, char *out, size_t len) {
  FILE *p = popen(cmd, "r");
  cr_assert_not_null(p, "popen %s", cmd);
  size_t n = out ? fread(out, 1, len - 1, p) : 0;
  if (out) out[n] = 0;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Returns of each env's first episode in the file (env j starts from seed + j). */
static void first_episode_returns(const char *path, int envs, double *ret) {
  o2o_dataset *ds = o2o_dataset_open(path, NULL, err, sizeof(err));
  cr_assert_not_null(ds, "%s", err);
  const o2o_dataset_info *in = o2o_dataset_get_info(ds);
  int64_t n = in->transitions;
  float *rew = malloc(n * 4);
  uint8_t *term = malloc(n), *tout = malloc(n);
  o2o_dataset_dest d = {.rew = rew, .terminals = term, .timeouts = tout};
  cr_assert_eq(o2o_dataset_read(ds, 0, n, &d, err, sizeof(err)), 0, "%s", err);
  o2o_dataset_extra *ex;
  int nex;
  cr_assert_eq(o2o_dataset_read_extras(ds, &ex, &nex, err, sizeof(err)), 0, "%s", err);
  const int32_t *env = NULL;
  for (int i = 0; i < nex; i++)
    if (!strcmp(ex[i].key, "infos/env_index")) env = ex[i].data;
  cr_assert_not_null(env, "infos/env_index missing");
  int *done = calloc(envs, sizeof(int));
  for (int j = 0; j < envs; j++)
    ret[j] = NAN;
  double acc = 0;
  int64_t start = 0;
  for (int64_t i = 0; i < n; i++) {
    acc += rew[i];
    if (term[i] || tout[i]) {
      int j = env[start];
      for (int64_t k = start; k <= i; k++)
        cr_assert_eq(env[k], j, "episode rows interleaved");
      if (!done[j]) ret[j] = acc, done[j] = 1;
      acc = 0;
      start = i + 1;
    }
  }
  for (int j = 0; j < envs; j++)
    cr_assert(done[j], "env %d has no complete episode", j);
  free(done);
  o2o_dataset_extras_free(ex, nex);
  free(rew), free(term), free(tout);
  o2o_dataset_close(ds);
}

Test(dataset_collect, returns_match_eval, .timeout = 240) {
  const char *b = build_dir();
  char cmd[4096], out[8192];
  const char *file = O2O_TEST_BUILD_DIR "/test_collect_medium.hdf5";
  snprintf(cmd, sizeof(cmd),
           "%s/o2o collect --scenario pendulum --policy %s --deterministic --steps 6000 "
           "--seed 500 --procs 2 --envs 3 --out %s --overwrite --json 2>/dev/null",
           b, POLICY, file);
  cr_assert_eq(run(cmd, out, sizeof(out)), 0, "collect failed: %s", cmd);
  double got[6];
  first_episode_returns(file, 6, got);

  snprintf(cmd, sizeof(cmd),
           "%s/o2o eval --checkpoint %s --scenario pendulum --episodes 6 --seed 500 --json "
           "2>/dev/null",
           b, POLICY);
  cr_assert_eq(run(cmd, out, sizeof(out)), 0, "eval failed: %s", cmd);
  const char *r = strstr(out, "\"returns\": [");
  cr_assert_not_null(r, "no returns in eval output: %s", out);
  r += strlen("\"returns\": [");
  double want[6], mean_got = 0, mean_want = 0;
  for (int j = 0; j < 6; j++) {
    char *end;
    want[j] = strtod(r, &end);
    cr_assert(end != r, "cannot parse eval returns: %s", out);
    r = end + 1;
    cr_assert(fabs(got[j] - want[j]) < 1e-3, "env %d: dataset return %.4f, eval %.4f", j, got[j],
              want[j]);
    mean_got += got[j] / 6;
    mean_want += want[j] / 6;
  }
  cr_assert(fabs(mean_got - mean_want) < 1e-3);
  cr_assert(mean_want > 100, "the medium policy should balance for a while (mean %.1f)", mean_want);
}

Test(dataset_collect, random_is_reproducible_and_d4rl_shaped, .timeout = 120) {
  const char *b = build_dir();
  char cmd[4096];
  const char *f1 = O2O_TEST_BUILD_DIR "/test_collect_r1.hdf5";
  const char *f2 = O2O_TEST_BUILD_DIR "/test_collect_r2.hdf5";
  for (int i = 0; i < 2; i++) {
    snprintf(cmd, sizeof(cmd),
             "%s/o2o collect --scenario pendulum --recipe random --steps 3000 --seed 11 "
             "--procs 2 --envs 2 --out %s --overwrite 2>/dev/null",
             b, i ? f2 : f1);
    cr_assert_eq(run(cmd, NULL, 0), 0, "%s", cmd);
  }
  snprintf(cmd, sizeof(cmd), "cmp -s %s %s", f1, f2);
  cr_assert_eq(run(cmd, NULL, 0), 0, "same flags and seed gave different files");

  o2o_dataset *ds = o2o_dataset_open(f1, NULL, err, sizeof(err));
  cr_assert_not_null(ds, "%s", err);
  const o2o_dataset_info *in = o2o_dataset_get_info(ds);
  cr_assert_eq(in->rows, 3000);
  cr_assert_eq(in->obs_dim, 4);
  cr_assert_eq(in->act_dim, 1);
  cr_assert_str_eq(in->scenario, "pendulum");
  cr_assert_str_eq(in->variant, "real");
  cr_assert_eq(in->episode_limit, 1000);
  cr_assert(in->episodes > 100, "random pendulum episodes are short (%lld)",
            (long long)in->episodes);
  int64_t n = in->rows;
  float *obs = malloc(n * 16), *next = malloc(n * 16), *act = malloc(n * 4);
  uint8_t *term = malloc(n), *tout = malloc(n);
  o2o_dataset_dest d = {
      .obs = obs, .act = act, .next_obs = next, .terminals = term, .timeouts = tout};
  cr_assert_eq(o2o_dataset_read(ds, 0, n, &d, err, sizeof(err)), 0, "%s", err);
  for (int64_t i = 0; i < n; i++) {
    cr_assert(act[i] >= -1 && act[i] <= 1, "actions are stored in the unit box");
    /* Within an episode, next_observations[i] is observations[i + 1]. */
    if (!term[i] && !tout[i] && i + 1 < n)
      cr_assert(!memcmp(next + i * 4, obs + (i + 1) * 4, 16), "row %lld", (long long)i);
    /* Pendulum ends when the pole angle leaves [-0.2, 0.2]: the final obs shows it. */
    if (term[i]) cr_assert(fabsf(next[i * 4 + 1]) > 0.2f, "row %lld", (long long)i);
  }
  free(obs), free(next), free(act), free(term), free(tout);
  o2o_dataset_close(ds);
}

Test(dataset_collect, bad_flags_are_clear) {
  const char *b = build_dir();
  char cmd[2048];
  snprintf(cmd, sizeof(cmd),
           "%s/o2o collect --scenario pendulum --recipe medium-replay --steps 10 --out "
           "/tmp/x.hdf5 2>&1 | grep -q 'medium-replay needs'",
           b);
  cr_assert_eq(run(cmd, NULL, 0), 0, "medium-replay without checkpoints: unclear error");
  snprintf(cmd, sizeof(cmd),
           "%s/o2o collect --scenario pendulum --policy /nonexistent.safetensors --steps 10 "
           "--out /tmp/x.hdf5 2>&1 | grep -q nonexistent",
           b);
  cr_assert_eq(run(cmd, NULL, 0), 0, "a missing checkpoint must be named");
  snprintf(cmd, sizeof(cmd),
           "%s/o2o collect --scenario pendulum --steps 10 --out /tmp/x.hdf5 --recipe expert "
           ">/dev/null 2>&1",
           b);
  cr_assert_eq(run(cmd, NULL, 0), 2, "expert without a checkpoint is a usage error");
}

Test(dataset_collect, info_checks_scenario_dims, .timeout = 60) {
  const char *b = build_dir();
  char cmd[2048], out[16384];
  snprintf(cmd, sizeof(cmd),
           "%s/o2o dataset info %s/../datasets/pendulum-random.hdf5 --scenario pendulum --json "
           "2>/dev/null",
           b, O2O_TEST_DATA_DIR);
  cr_assert_eq(run(cmd, out, sizeof(out)), 0, "shipped pendulum-random does not check out");
  cr_assert(strstr(out, "\"valid\": true") && strstr(out, "\"obs_dim\": 4"), "%s", out);
  snprintf(cmd, sizeof(cmd),
           "%s/o2o dataset info %s/../datasets/pendulum-random.hdf5 --scenario hopper 2>&1", b,
           O2O_TEST_DATA_DIR);
  cr_assert_eq(run(cmd, out, sizeof(out)), 1);
  cr_assert(strstr(out, "'observations' has 4 columns but the scenario expects 11"), "%s", out);
}

Test(dataset_collect, bench_runs_and_checks_its_read, .timeout = 120) {
  char cmd[2048], out[4096];
  snprintf(cmd, sizeof(cmd),
           "%s/o2o bench dataset --rows 100000 --rounds 1 --out %s/test_bench.hdf5 --json "
           "2>/dev/null",
           build_dir(), O2O_TEST_BUILD_DIR);
  cr_assert_eq(run(cmd, out, sizeof(out)), 0, "%s", cmd);
  cr_assert(strstr(out, "\"rows\": 100000") && strstr(out, "\"read_mb_s\": "), "%s", out);
  cr_assert(strstr(out, "\"payload_mb\": 10.8"), "payload = 108 bytes per row: %s", out);
}

/* A simulator killed mid-collection: the pool restarts it, the rows it lost are dropped with
 * their unfinished episodes, and the file is complete and valid. */
Test(dataset_collect, survives_a_killed_simulator, .timeout = 180) {
  char exe[1024];
  snprintf(exe, sizeof(exe), "%s/o2o", build_dir());
  const char *file = O2O_TEST_BUILD_DIR "/test_collect_fault.hdf5";
  remove(file);
  /* o2o-sim's test hook: the first simulator to serve its 3000th STEP (mid-episode: 40000 rows
   * over 2 x 2 envs is 10000 steps per process) removes the marker and SIGKILLs itself; the
   * restarted one finds no marker and runs on. A fixed step, whatever the machine's speed. */
  const char *marker = O2O_TEST_BUILD_DIR "/test_collect_fault.kill";
  FILE *mk = fopen(marker, "w");
  cr_assert_not_null(mk);
  fclose(mk);
  pid_t pid = fork();
  if (pid == 0) {
    freopen("/dev/null", "w", stderr);
    setenv("O2O_SIM_TEST_KILL_AT_STEP", "3000", 1);
    setenv("O2O_SIM_TEST_KILL_FILE", marker, 1);
    execl(exe, exe, "collect", "--scenario", "hopper", "--steps", "40000", "--procs", "2", "--envs",
          "2", "--seed", "4", "--out", file, (char *)NULL);
    _exit(127);
  }
  cr_assert(pid > 0);
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "collect failed after a simulator fault");
  cr_assert_neq(access(marker, F_OK), 0, "no simulator reached its 3000th step and died");
  o2o_dataset *ds = o2o_dataset_open(file, NULL, err, sizeof(err));
  cr_assert_not_null(ds, "%s", err);
  cr_assert_eq(o2o_dataset_get_info(ds)->rows, 40000);
  o2o_dataset_extra *ex;
  int n;
  int64_t restarts = -1;
  cr_assert_eq(o2o_dataset_read_extras(ds, &ex, &n, err, sizeof(err)), 0, "%s", err);
  for (int i = 0; i < n; i++)
    if (!strcmp(ex[i].key, "metadata/pool_restarts")) restarts = *(int64_t *)ex[i].data;
  cr_assert_eq(restarts, 1, "the fault was not seen (restarts %lld)", (long long)restarts);
  /* No fake rows (obs == next_obs, reward 0: a lost step) and no timeout before the
   * episode limit (a fault-truncated episode kept): lost rows go with their episodes. */
  float *obs = malloc(40000 * 44), *next = malloc(40000 * 44), *rew = malloc(40000 * 4);
  uint8_t *term = malloc(40000), *tout = malloc(40000);
  o2o_dataset_dest d = {
      .obs = obs, .next_obs = next, .rew = rew, .terminals = term, .timeouts = tout};
  cr_assert_eq(o2o_dataset_read(ds, 0, 40000, &d, err, sizeof(err)), 0, "%s", err);
  int64_t start = 0;
  for (int64_t i = 0; i < 40000; i++) {
    cr_assert(!(rew[i] == 0 && !memcmp(obs + i * 11, next + i * 11, 44)),
              "row %lld is a lost step (obs == next_obs, reward 0)", (long long)i);
    if (tout[i])
      cr_assert_eq(i - start + 1, 1000, "row %lld: timeout after %lld steps, before the limit",
                   (long long)i, (long long)(i - start + 1));
    if (tout[i] || term[i]) start = i + 1;
  }
  free(obs), free(next), free(rew), free(term), free(tout);
  o2o_dataset_extras_free(ex, n);
  o2o_dataset_close(ds);
}

Test(dataset_collect, make_lists_and_rejects_unknown_names) {
  char cmd[2048], out[8192];
  snprintf(cmd, sizeof(cmd), "%s/o2o dataset make --list", build_dir());
  cr_assert_eq(run(cmd, out, sizeof(out)), 0);
  cr_assert(strstr(out, "pendulum-medium-100k") && strstr(out, "--recipe medium"), "%s", out);
  snprintf(cmd, sizeof(cmd), "%s/o2o dataset make pendulum-nothing 2>&1", build_dir());
  cr_assert_eq(run(cmd, out, sizeof(out)), 2);
  cr_assert(strstr(out, "unknown dataset 'pendulum-nothing'"), "%s", out);
}

/* `o2o collect` never replaces an existing file without --overwrite (issue 9 item 5). */
Test(dataset_collect, refuses_to_overwrite_without_flag, .timeout = 60) {
  const char *file = O2O_TEST_BUILD_DIR "/test_collect_keep.hdf5";
  FILE *f = fopen(file, "wb");
  cr_assert_not_null(f);
  fputs("precious", f);
  fclose(f);
  char cmd[2048], out[4096];
  snprintf(cmd, sizeof(cmd), "%s/o2o collect --scenario pendulum --steps 50 --out %s 2>&1",
           build_dir(), file);
  cr_assert_eq(run(cmd, out, sizeof(out)), 1, "%s", out);
  cr_assert_not_null(strstr(out, "already exists (pass --overwrite"), "%s", out);
  f = fopen(file, "rb");
  char buf[16] = "";
  cr_assert(fgets(buf, sizeof buf, f) != NULL);
  fclose(f);
  cr_assert_str_eq(buf, "precious", "the file was touched");
  snprintf(cmd, sizeof(cmd),
           "%s/o2o collect --scenario pendulum --steps 50 --out %s --overwrite 2>&1", build_dir(),
           file);
  cr_assert_eq(run(cmd, out, sizeof(out)), 0, "%s", out);
  o2o_dataset *ds = o2o_dataset_open(file, NULL, err, sizeof(err));
  cr_assert_not_null(ds, "%s", err);
  cr_assert_eq(o2o_dataset_get_info(ds)->rows, 50);
  o2o_dataset_close(ds);
}

/* The shipped halfcheetah-medium policy regenerates the same bytes (what `o2o dataset make
 * halfcheetah-medium` relies on), here on 2000 rows with its recipe's fixed flags. */
Test(dataset_collect, halfcheetah_medium_recipe_is_deterministic, .timeout = 120) {
  const char *f[2] = {O2O_TEST_BUILD_DIR "/test_hc_medium_1.hdf5",
                      O2O_TEST_BUILD_DIR "/test_hc_medium_2.hdf5"};
  char cmd[4096];
  for (int i = 0; i < 2; i++) {
    snprintf(cmd, sizeof(cmd),
             "%s/o2o collect --scenario halfcheetah --recipe medium --steps 2000 --policy "
             "%s/../datasets/policies/halfcheetah-medium.safetensors --seed 0 --procs 2 --envs 4 "
             "--out %s --overwrite 2>/dev/null",
             build_dir(), O2O_TEST_DATA_DIR, f[i]);
    cr_assert_eq(run(cmd, NULL, 0), 0, "%s", cmd);
  }
  snprintf(cmd, sizeof(cmd), "cmp -s %s %s", f[0], f[1]);
  cr_assert_eq(run(cmd, NULL, 0), 0, "same recipe and seed gave different files");
  o2o_dataset *ds = o2o_dataset_open(f[0], NULL, err, sizeof(err));
  cr_assert_not_null(ds, "%s", err);
  cr_assert_eq(o2o_dataset_get_info(ds)->rows, 2000);
  cr_assert_eq(o2o_dataset_get_info(ds)->act_dim, 6);
  o2o_dataset_close(ds);
}
