/* test_dataset_io.c: D4RL-layout HDF5 round trip, files written by h5py, and bad inputs. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "o2o_dataset.h"

#define FIXDIR O2O_TEST_BUILD_DIR "/datasets-fixtures"
#define SCRIPT O2O_TEST_DATA_DIR "/datasets/make_fixtures.py"

/* Fixtures are written by h5py (python3-h5py) once per change of the script. */
static void fixtures(void) {
  struct stat s_script, s_stamp;
  cr_assert(stat(SCRIPT, &s_script) == 0);
  if (stat(FIXDIR "/stamp", &s_stamp) == 0 && s_stamp.st_mtime >= s_script.st_mtime) return;
  int rc = system("/usr/bin/python3 " SCRIPT " " FIXDIR " && touch " FIXDIR "/stamp");
  cr_assert(rc == 0, "h5py fixture generation failed (is python3-h5py installed?)");
}

static char err[O2O_DATASET_ERRLEN];

/* ---- round trip ------------------------------------------------------------------------ */

typedef struct synth {
  int64_t n;
  int od, ad;
  float *obs, *act, *rew, *next;
  uint8_t *term, *tout;
} synth;

static synth synth_make(int64_t n, int od, int ad, int limit) {
  synth s = {n,
             od,
             ad,
             malloc(n * od * 4),
             malloc(n * ad * 4),
             malloc(n * 4),
             malloc(n * od * 4),
             calloc(n, 1),
             calloc(n, 1)};
  uint64_t x = 12345;
  int64_t step = 0;
  for (int64_t i = 0; i < n; i++) {
    for (int j = 0; j < od; j++) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      s.obs[i * od + j] = (float)((double)(x >> 11) / 9007199254740992.0 * 20 - 10);
      s.next[i * od + j] = s.obs[i * od + j] * 0.5f + 1e-7f;
    }
    for (int j = 0; j < ad; j++)
      s.act[i * ad + j] = sinf((float)(i * ad + j));
    s.rew[i] = (float)i * 1e-3f - 0.1f;
    step++;
    if (i % 97 == 96)
      s.term[i] = 1, step = 0;
    else if (step == limit)
      s.tout[i] = 1, step = 0;
  }
  return s;
}

static void synth_free(synth *s) {
  free(s->obs), free(s->act), free(s->rew), free(s->next), free(s->term), free(s->tout);
}

static void roundtrip(const o2o_dataset_write_opts *wo) {
  const char *path = O2O_TEST_BUILD_DIR "/test_roundtrip.hdf5";
  synth s = synth_make(5000, 7, 3, 50);
  o2o_dataset_extra ex[7];
  char *long_text = malloc(10001);
  for (int i = 0; i < 10000; i++)
    long_text[i] = (char)('a' + i % 26);
  long_text[10000] = 0;
  o2o_dataset_extra_string(&ex[6], "metadata/long_text", long_text); /* no length limit */
  free(long_text);
  o2o_dataset_extra_floats(&ex[0], "infos/action_log_probs", s.rew, s.n, 0);
  o2o_dataset_extra_floats(&ex[1], "infos/qpos", s.obs, s.n, s.od);
  o2o_dataset_extra_string(&ex[2], "metadata/scenario", "hopper-gravity");
  o2o_dataset_extra_int(&ex[3], "metadata/seed", -42);
  o2o_dataset_extra_double(&ex[4], "metadata/dynamics/gravity_scale", 1.5);
  o2o_dataset_extra_int(&ex[5], "metadata/max_episode_steps", 50);
  o2o_dataset_data d = {s.n, s.od, s.ad, s.obs, s.act, s.rew, s.next, s.term, s.tout, 7, ex};
  cr_assert_eq(o2o_dataset_write(path, &d, wo, err, sizeof(err)), 0, "%s", err);

  o2o_dataset *ds = o2o_dataset_open(path, NULL, err, sizeof(err));
  cr_assert_not_null(ds, "%s", err);
  const o2o_dataset_info *info = o2o_dataset_get_info(ds);
  cr_assert_eq(info->rows, s.n);
  cr_assert_eq(info->transitions, s.n);
  cr_assert_eq(info->obs_dim, 7);
  cr_assert_eq(info->act_dim, 3);
  cr_assert_eq(info->episode_limit, 50);
  cr_assert_eq(info->obs_dtype, wo && wo->store_f64 ? O2O_DTYPE_F64 : O2O_DTYPE_F32);
  cr_assert_eq(info->terminals_dtype, O2O_DTYPE_BOOL);
  cr_assert_str_eq(info->task, "hopper");

  synth r = synth_make(s.n, s.od, s.ad, 50);
  memset(r.obs, 0, s.n * s.od * 4);
  memset(r.next, 0, s.n * s.od * 4);
  memset(r.term, 7, s.n);
  float *done = malloc(s.n * 4);
  o2o_dataset_dest dst = {r.obs, r.act, r.rew, r.next, done, r.term, r.tout, NULL};
  cr_assert_eq(o2o_dataset_read(ds, 0, s.n, &dst, err, sizeof(err)), 0, "%s", err);
  cr_assert(!memcmp(r.obs, s.obs, s.n * s.od * 4), "observations not bit-exact");
  cr_assert(!memcmp(r.act, s.act, s.n * s.ad * 4), "actions not bit-exact");
  cr_assert(!memcmp(r.rew, s.rew, s.n * 4), "rewards not bit-exact");
  cr_assert(!memcmp(r.next, s.next, s.n * s.od * 4), "next_observations not bit-exact");
  cr_assert(!memcmp(r.term, s.term, s.n), "terminals differ");
  cr_assert(!memcmp(r.tout, s.tout, s.n), "timeouts differ");
  for (int64_t i = 0; i < s.n; i++)
    cr_assert_eq(done[i], s.term[i] ? 1.0f : 0.0f);

  o2o_dataset_extra *got;
  int ng;
  cr_assert_eq(o2o_dataset_read_extras(ds, &got, &ng, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(ng, 7);
  for (int i = 0; i < 7; i++) {
    const o2o_dataset_extra *g = NULL;
    for (int j = 0; j < ng; j++)
      if (!strcmp(got[j].key, ex[i].key)) g = &got[j];
    cr_assert_not_null(g, "key %s lost in the round trip", ex[i].key);
    cr_assert_eq(g->dtype, ex[i].dtype, "%s", ex[i].key);
    cr_assert_eq(g->ndim, ex[i].ndim, "%s", ex[i].key);
    int64_t bytes = o2o_dataset_extra_numel(g) * (int64_t)o2o_dtype_size(g->dtype);
    cr_assert_eq(o2o_dataset_extra_numel(g), o2o_dataset_extra_numel(&ex[i]));
    cr_assert(!memcmp(g->data, ex[i].data, bytes), "%s differs", ex[i].key);
  }
  o2o_dataset_extras_free(got, ng);

  /* A read of a sub-range equals that slice of the full read. */
  float part[20 * 7];
  o2o_dataset_dest pd = {.obs = part};
  cr_assert_eq(o2o_dataset_read(ds, 100, 20, &pd, err, sizeof(err)), 0, "%s", err);
  cr_assert(!memcmp(part, s.obs + 100 * 7, sizeof(part)));
  cr_assert_eq(o2o_dataset_read(ds, s.n - 5, 10, &pd, err, sizeof(err)), O2O_DATASET_EINVAL);

  o2o_dataset_close(ds);
  for (int i = 0; i < 7; i++)
    free(ex[i].data);
  free(done);
  synth_free(&s);
  synth_free(&r);
}

Test(dataset_io, roundtrip_default) {
  roundtrip(NULL);
}
Test(dataset_io, roundtrip_uncompressed) {
  o2o_dataset_write_opts o = {.gzip_level = 0, .no_shuffle = 1};
  roundtrip(&o);
}
Test(dataset_io, roundtrip_float64) {
  o2o_dataset_write_opts o = {.gzip_level = 4, .store_f64 = 1};
  roundtrip(&o);
}

Test(dataset_io, h5py_reads_our_file) {
  const char *path = O2O_TEST_BUILD_DIR "/test_for_h5py.hdf5";
  synth s = synth_make(300, 4, 2, 1000);
  o2o_dataset_extra ex;
  o2o_dataset_extra_string(&ex, "metadata/algorithm", "SAC");
  o2o_dataset_data d = {s.n, s.od, s.ad, s.obs, s.act, s.rew, s.next, s.term, s.tout, 1, &ex};
  cr_assert_eq(o2o_dataset_write(path, &d, NULL, err, sizeof(err)), 0, "%s", err);
  /* h5py sees numpy bool flags, float32 arrays and a bytes scalar, with our values. */
  char cmd[2048];
  snprintf(cmd, sizeof(cmd),
           "/usr/bin/python3 -c \"import h5py, numpy as np; f = h5py.File('%s', 'r'); "
           "assert f['terminals'].dtype == np.bool_, f['terminals'].dtype; "
           "assert f['observations'].dtype == np.float32; "
           "assert f['observations'].shape == (300, 4); assert f['rewards'].shape == (300,); "
           "assert int(f['terminals'][()].sum()) == %d; "
           "assert abs(float(f['observations'][5, 3]) - (%.9g)) < 1e-6; "
           "assert f['metadata/algorithm'][()] == b'SAC'\"",
           path, (int)(s.term[96] + s.term[193] + s.term[290]), s.obs[5 * 4 + 3]);
  cr_assert_eq(system(cmd), 0, "h5py could not read our file as D4RL");
  free(ex.data);
  synth_free(&s);
}

Test(dataset_io, write_refuses_nan) {
  synth s = synth_make(100, 3, 1, 1000);
  s.act[42] = NAN;
  o2o_dataset_data d = {s.n, s.od, s.ad, s.obs, s.act, s.rew, s.next, s.term, s.tout, 0, NULL};
  int rc = o2o_dataset_write(O2O_TEST_BUILD_DIR "/test_nan.hdf5", &d, NULL, err, sizeof(err));
  cr_assert_eq(rc, O2O_DATASET_EVALUE);
  cr_assert(strstr(err, "'actions'") && strstr(err, "NaN at row 42, column 0"), "%s", err);
  char tmp[1024];
  struct stat st;
  snprintf(tmp, sizeof(tmp), "%s/test_nan.hdf5.tmp.%ld", O2O_TEST_BUILD_DIR, (long)getpid());
  cr_assert(stat(tmp, &st) != 0, "temp file left behind");
  synth_free(&s);
}

/* ---- files written by h5py ------------------------------------------------------------- */

static float f_obs(int64_t i, int j) {
  return (float)(i * 0.25 + j);
}
static float f_act(int64_t i, int j) {
  return (float)((i % 8) * 0.125 - j);
}

static void check_h5py(const char *name, o2o_dtype want) {
  fixtures();
  o2o_dataset *ds = o2o_dataset_open(name, NULL, err, sizeof(err));
  cr_assert_not_null(ds, "%s", err);
  const o2o_dataset_info *info = o2o_dataset_get_info(ds);
  cr_assert_eq(info->rows, 50);
  cr_assert_eq(info->transitions, 50);
  cr_assert_eq(info->obs_dim, 3);
  cr_assert_eq(info->act_dim, 2);
  cr_assert_eq(info->obs_dtype, want);
  cr_assert_eq(info->terminals_dtype, O2O_DTYPE_BOOL);
  cr_assert_eq(info->episode_limit, 20);
  cr_assert_eq(info->episodes, 3);
  cr_assert_eq(info->terminal_episodes, 2);
  cr_assert_eq(info->trailing_rows, 5);
  cr_assert(strstr(info->warnings, "unfinished"), "%s", info->warnings);
  float obs[150], act[100], rew[50], next[150], done[50];
  uint8_t to[50];
  o2o_dataset_dest d = {obs, act, rew, next, done, NULL, to, NULL};
  cr_assert_eq(o2o_dataset_read(ds, 0, 50, &d, err, sizeof(err)), 0, "%s", err);
  for (int i = 0; i < 50; i++) {
    for (int j = 0; j < 3; j++) {
      cr_assert_eq(obs[i * 3 + j], f_obs(i, j), "obs[%d][%d]", i, j);
      cr_assert_eq(next[i * 3 + j], f_obs(i + 1, j), "next_obs[%d][%d]", i, j);
    }
    for (int j = 0; j < 2; j++)
      cr_assert_eq(act[i * 2 + j], f_act(i, j));
    cr_assert_eq(rew[i], i * 0.5f);
    cr_assert_eq(done[i], (i == 9 || i == 44) ? 1.0f : 0.0f, "done[%d]", i);
    cr_assert_eq(to[i], i == 29, "timeouts[%d]", i);
  }
  o2o_dataset_extra *ex;
  int n;
  cr_assert_eq(o2o_dataset_read_extras(ds, &ex, &n, err, sizeof(err)), 0, "%s", err);
  int seen = 0;
  for (int i = 0; i < n; i++) {
    if (!strcmp(ex[i].key, "metadata/algorithm")) {
      seen++;
      cr_assert_str_eq((char *)ex[i].data, "SAC");
    }
    if (!strcmp(ex[i].key, "metadata/iteration")) {
      seen++;
      cr_assert_eq(*(int32_t *)ex[i].data, 1234);
    }
    if (!strcmp(ex[i].key, "metadata/policy/fc0/weight")) {
      seen++;
      cr_assert_eq(((float *)ex[i].data)[11], 11.0f);
    }
    if (!strcmp(ex[i].key, "infos/qpos")) {
      seen++;
      cr_assert_eq(((float *)ex[i].data)[4 * 49 + 3], 199.0f);
    }
  }
  cr_assert_eq(seen, 4);
  o2o_dataset_extras_free(ex, n);
  o2o_dataset_close(ds);
}

Test(dataset_io, h5py_float32_rewards_n1) {
  check_h5py(FIXDIR "/d4rl_f32.hdf5", O2O_DTYPE_F32);
}
Test(dataset_io, h5py_float64) {
  check_h5py(FIXDIR "/d4rl_f64.hdf5", O2O_DTYPE_F64);
}

/* No next_observations: D4RL's qlearning_dataset rule, never pairing across episodes. */
static void check_rebuilt(const char *name, int inferred) {
  fixtures();
  o2o_dataset_open_opts o = {.episode_limit = 20};
  o2o_dataset *ds = o2o_dataset_open(name, &o, err, sizeof(err));
  cr_assert_not_null(ds, "%s", err);
  const o2o_dataset_info *info = o2o_dataset_get_info(ds);
  cr_assert_eq(info->has_next_obs, 0);
  cr_assert_eq(info->has_timeouts, !inferred);
  cr_assert_eq(info->episodes, 3);
  cr_assert_eq(info->transitions, 48, "row 29 (timeout) and row 49 (last) have no successor");
  cr_assert_eq(info->dropped_rows, 2);
  float obs[48 * 3], next[48 * 3], rew[48], done[48];
  uint8_t to[48];
  o2o_dataset_dest d = {.obs = obs, .next_obs = next, .rew = rew, .done = done, .timeouts = to};
  cr_assert_eq(o2o_dataset_read(ds, 0, 48, &d, err, sizeof(err)), 0, "%s", err);
  for (int t = 0; t < 48; t++) {
    int row = t < 29 ? t : t + 1; /* row 29 dropped */
    cr_assert_eq(rew[t], row * 0.5f, "transition %d", t);
    cr_assert_eq(obs[t * 3 + 1], f_obs(row, 1));
    int terminal = row == 9 || row == 44;
    cr_assert_eq(done[t], terminal ? 1.0f : 0.0f);
    /* A terminal row's next obs is masked; o2o puts its own obs there, not row + 1. */
    cr_assert_eq(next[t * 3 + 1], f_obs(terminal ? row : row + 1, 1), "transition %d", t);
    /* Row 29 (a timeout) is dropped: row 28 ends its episode as truncated, so returns,
     * lengths and returns-to-go never run into the next episode (issue 9 item 4). */
    cr_assert_eq(to[t], row == 28, "transition %d (row %d): timeout %d", t, row, to[t]);
  }
  uint8_t ends[48], ends2[48];
  d = (o2o_dataset_dest){.episode_ends = ends};
  cr_assert_eq(o2o_dataset_read(ds, 0, 48, &d, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(o2o_dataset_episode_ends(ds, 0, 48, ends2, err, sizeof(err)), 0, "%s", err);
  for (int t = 0; t < 48; t++) {
    int row = t < 29 ? t : t + 1;
    cr_assert_eq(ends[t], row == 9 || row == 28 || row == 44, "transition %d", t);
    cr_assert_eq(ends2[t], ends[t], "o2o_dataset_episode_ends vs dest, transition %d", t);
  }
  cr_assert_eq(o2o_dataset_episode_ends(ds, 40, 8, ends2, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(ends2[3], 1, "transition 43 = row 44 (terminal)");
  cr_assert_neq(o2o_dataset_episode_ends(ds, 40, 9, ends2, err, sizeof(err)), 0);
  /* Episode returns from the delivered flags: 3 episodes (rows 0-9, 10-28, 30-44). */
  float act[48 * 8];
  uint8_t term[48];
  memset(act, 0, sizeof(act));
  cr_assert_leq(info->act_dim, 8);
  for (int t = 0; t < 48; t++)
    term[t] = done[t] != 0;
  o2o_dataset_stats st;
  cr_assert_eq(o2o_dataset_stats_compute(&st, 48, 3, info->act_dim, obs, act, rew, term, to, NULL),
               0);
  cr_assert_eq(st.episodes, 3, "episodes %lld", (long long)st.episodes);
  cr_assert_float_eq(st.length_mean, 44.0 / 3.0, 1e-9, "length mean %f", st.length_mean);
  o2o_dataset_stats_free(&st);
  if (inferred) cr_assert(strstr(info->warnings, "inferred"), "%s", info->warnings);
  o2o_dataset_close(ds);
}

Test(dataset_io, h5py_missing_next_and_timeouts) {
  check_rebuilt(FIXDIR "/d4rl_nonext.hdf5", 1);
}
Test(dataset_io, h5py_missing_next) {
  check_rebuilt(FIXDIR "/d4rl_nonext_timeouts.hdf5", 0);
}

/* ---- bad inputs: each one a clear error naming file, key and row ----------------------- */

static void expect_open_fail(const char *name, const o2o_dataset_open_opts *o, int code,
                             const char *s1, const char *s2) {
  fixtures();
  o2o_dataset *ds = (o2o_dataset *)1;
  int rc = o2o_dataset_open2(name, o, &ds, err, sizeof(err));
  cr_assert_null(ds, "%s opened but should fail", name);
  cr_assert_eq(rc, code, "code %d, expected %d: %s", rc, code, err);
  cr_assert(strstr(err, name), "error does not name the file: %s", err);
  cr_assert(strstr(err, s1), "error lacks '%s': %s", s1, err);
  if (s2) cr_assert(strstr(err, s2), "error lacks '%s': %s", s2, err);
}

Test(dataset_bad, missing_key) {
  expect_open_fail(FIXDIR "/bad_missing_actions.hdf5", NULL, O2O_DATASET_EFORMAT,
                   "missing key 'actions'", NULL);
}
Test(dataset_bad, mismatched_rows) {
  expect_open_fail(FIXDIR "/bad_rows.hdf5", NULL, O2O_DATASET_EFORMAT, "'rewards' has 49 rows",
                   "50");
}
Test(dataset_bad, wrong_dtype) {
  expect_open_fail(FIXDIR "/bad_dtype.hdf5", NULL, O2O_DATASET_EFORMAT,
                   "'observations' has dtype int32", NULL);
}
Test(dataset_bad, wrong_rank) {
  expect_open_fail(FIXDIR "/bad_rank.hdf5", NULL, O2O_DATASET_EFORMAT, "'rewards' has rank 2",
                   NULL);
}
Test(dataset_bad, endless_episode) {
  expect_open_fail(FIXDIR "/bad_endless.hdf5", NULL, O2O_DATASET_EVALUE, "starting at row 0",
                   "within 20 steps");
}
Test(dataset_bad, flag_not_bool) {
  expect_open_fail(FIXDIR "/bad_flag.hdf5", NULL, O2O_DATASET_EVALUE, "'terminals': row 9 holds 2",
                   NULL);
}
Test(dataset_bad, not_hdf5) {
  expect_open_fail(FIXDIR "/not_hdf5.hdf5", NULL, O2O_DATASET_EIO, "not an HDF5 file", NULL);
}
Test(dataset_bad, truncated) {
  expect_open_fail(FIXDIR "/cut_short.hdf5", NULL, O2O_DATASET_EIO, "the file is truncated", NULL);
}
Test(dataset_bad, missing_file) {
  expect_open_fail(FIXDIR "/no_such_file.hdf5", NULL, O2O_DATASET_EIO, "No such file", NULL);
}
Test(dataset_bad, obs_dim_mismatch) {
  o2o_dataset_open_opts o = {.expect_obs_dim = 11};
  expect_open_fail(FIXDIR "/d4rl_f32.hdf5", &o, O2O_DATASET_EDIM, "'observations' has 3 columns",
                   "expects 11");
  o2o_dataset_open_opts a = {.expect_act_dim = 3};
  expect_open_fail(FIXDIR "/d4rl_f32.hdf5", &a, O2O_DATASET_EDIM, "'actions' has 2 columns",
                   "expects 3");
}

Test(dataset_bad, columns_beyond_int) {
  /* 2^32 + 3 columns must not pass as 3 */
  expect_open_fail(FIXDIR "/bad_wide.hdf5", NULL, O2O_DATASET_EFORMAT,
                   "'observations' has 4294967299 columns", NULL);
}
Test(dataset_bad, extra_too_big_to_address) {
  fixtures();
  o2o_dataset *ds = o2o_dataset_open(FIXDIR "/huge_extra.hdf5", NULL, err, sizeof(err));
  cr_assert_not_null(ds, "%s", err);
  o2o_dataset_extra *ex = (o2o_dataset_extra *)1;
  int n = -1;
  cr_assert_eq(o2o_dataset_read_extras(ds, &ex, &n, err, sizeof(err)), O2O_DATASET_EFORMAT, "%s",
               err);
  cr_assert(strstr(err, "'metadata/huge'") && strstr(err, "huge_extra.hdf5"), "%s", err);
  o2o_dataset_close(ds);
}

static void expect_read_fail(const char *name, const char *s1) {
  fixtures();
  o2o_dataset *ds = o2o_dataset_open(name, NULL, err, sizeof(err));
  cr_assert_not_null(ds, "%s", err);
  float obs[150], act[100], rew[50], next[150];
  o2o_dataset_dest d = {obs, act, rew, next, NULL, NULL, NULL, NULL};
  cr_assert_eq(o2o_dataset_read(ds, 0, 50, &d, err, sizeof(err)), O2O_DATASET_EVALUE);
  cr_assert(strstr(err, name) && strstr(err, s1), "%s", err);
  o2o_dataset_close(ds);
}

Test(dataset_bad, nan_value) {
  expect_read_fail(FIXDIR "/bad_nan.hdf5", "'observations': NaN at row 7, column 1");
}
Test(dataset_bad, inf_value) {
  expect_read_fail(FIXDIR "/bad_inf.hdf5", "'actions': inf at row 33, column 0");
}

/* ---- the parallel chunk reader gives exactly what HDF5's own read gives ------------------ */

static void fast_vs_hdf5(const o2o_dataset_write_opts *wo) {
  const char *path = O2O_TEST_BUILD_DIR "/test_fastread.hdf5";
  const char *path_h5 = O2O_TEST_BUILD_DIR "/test_fastread_h5.hdf5";
  synth s = synth_make(300000, 7, 3, 1000); /* obs: ~8 chunks of 1 MiB */
  o2o_dataset_data d = {s.n, s.od, s.ad, s.obs, s.act, s.rew, s.next, s.term, s.tout, 0, NULL};
  setenv("O2O_DATASET_THREADS", "3", 1); /* threads even on a busy machine */
  cr_assert_eq(o2o_dataset_write(path, &d, wo, err, sizeof(err)), 0, "%s", err);
  /* The same file through HDF5's own filter pipeline holds the same values. */
  setenv("O2O_DATASET_FAST_WRITE", "0", 1);
  cr_assert_eq(o2o_dataset_write(path_h5, &d, wo, err, sizeof(err)), 0, "%s", err);
  unsetenv("O2O_DATASET_FAST_WRITE");
  const int64_t ranges[][2] = {{0, s.n}, {12345, 150000}, {1, s.n - 1}, {37449, 37449 * 2}};
  for (int r = 0; r < 4; r++) {
    int64_t first = ranges[r][0], count = ranges[r][1];
    float *got[2][3];
    for (int mode = 0; mode < 2; mode++) {
      setenv("O2O_DATASET_FAST_READ", mode ? "0" : "1", 1);
      o2o_dataset *ds = o2o_dataset_open(path, NULL, err, sizeof(err));
      cr_assert_not_null(ds, "%s", err);
      got[mode][0] = malloc(count * 7 * 4);
      got[mode][1] = malloc(count * 3 * 4);
      got[mode][2] = malloc(count * 4);
      o2o_dataset_dest dst = {.obs = got[mode][0], .act = got[mode][1], .rew = got[mode][2]};
      cr_assert_eq(o2o_dataset_read(ds, first, count, &dst, err, sizeof(err)), 0, "%s", err);
      o2o_dataset_close(ds);
    }
    unsetenv("O2O_DATASET_FAST_READ");
    {
      float *h5obs = malloc(count * 28);
      o2o_dataset *dh = o2o_dataset_open(path_h5, NULL, err, sizeof(err));
      cr_assert_not_null(dh, "%s", err);
      o2o_dataset_dest hd = {.obs = h5obs};
      cr_assert_eq(o2o_dataset_read(dh, first, count, &hd, err, sizeof(err)), 0, "%s", err);
      cr_assert(!memcmp(h5obs, s.obs + first * 7, count * 28), "obs range %d (HDF5-written)", r);
      o2o_dataset_close(dh);
      free(h5obs);
    }
    cr_assert(!memcmp(got[0][0], s.obs + first * 7, count * 28), "obs range %d", r);
    cr_assert(!memcmp(got[1][0], s.obs + first * 7, count * 28), "obs range %d (hdf5)", r);
    cr_assert(!memcmp(got[0][1], s.act + first * 3, count * 12), "act range %d", r);
    cr_assert(!memcmp(got[0][2], s.rew + first, count * 4), "rew range %d", r);
    for (int m = 0; m < 2; m++)
      for (int k = 0; k < 3; k++)
        free(got[m][k]);
  }
  unsetenv("O2O_DATASET_THREADS");
  /* h5py decodes the thread-compressed chunks too. */
  char cmd[1024];
  snprintf(cmd, sizeof(cmd),
           "/usr/bin/python3 -c \"import h5py, numpy as np; f = h5py.File('%s', 'r'); "
           "o = f['observations'][()]; assert o.shape == (300000, 7); "
           "assert abs(float(o[299999, 6]) - (%.9g)) < 1e-6\"",
           path, s.obs[299999 * 7 + 6]);
  cr_assert_eq(system(cmd), 0, "h5py could not read the thread-compressed file");
  synth_free(&s);
}

Test(dataset_io, fast_read_shuffle_gzip) {
  fast_vs_hdf5(NULL);
}
Test(dataset_io, fast_read_gzip_only) {
  o2o_dataset_write_opts o = {.gzip_level = 6, .no_shuffle = 1};
  fast_vs_hdf5(&o);
}
Test(dataset_io, fast_read_float64) {
  o2o_dataset_write_opts o = {.gzip_level = 1, .store_f64 = 1};
  fast_vs_hdf5(&o);
}

/* A D4RL-sized h5py file (gzip level 4, h5py's own chunking, no shuffle) reads right. */
Test(dataset_io, h5py_large_gzip) {
  const char *path = O2O_TEST_BUILD_DIR "/test_h5py_large.hdf5";
  char cmd[1024];
  snprintf(cmd, sizeof(cmd),
           "/usr/bin/python3 -c \"import h5py, numpy as np; n = 200000; "
           "o = (np.arange(n * 11, dtype=np.float64).reshape(n, 11) * 0.5).astype(np.float32); "
           "f = h5py.File('%s', 'w'); "
           "f.create_dataset('observations', data=o, compression='gzip', chunks=(20000, 11)); "
           "f.create_dataset('actions', data=o[:, :3], compression='gzip'); "
           "f.create_dataset('rewards', data=o[:, 0], compression='gzip'); "
           "t = np.zeros(n, bool); t[999::1000] = True; t[-1] = False; "
           "f.create_dataset('terminals', data=t, compression='gzip')\"",
           path);
  cr_assert_eq(system(cmd), 0);
  o2o_dataset *ds = o2o_dataset_open(path, NULL, err, sizeof(err));
  cr_assert_not_null(ds, "%s", err);
  const o2o_dataset_info *in = o2o_dataset_get_info(ds);
  cr_assert_eq(in->transitions, 200000 - 1, "the last row (inferred timeout) has no successor");
  int64_t n = in->transitions;
  float *obs = malloc(n * 44), *next = malloc(n * 44);
  o2o_dataset_dest d = {.obs = obs, .next_obs = next};
  cr_assert_eq(o2o_dataset_read(ds, 0, n, &d, err, sizeof(err)), 0, "%s", err);
  for (int64_t i = 0; i < n; i += 997) {
    cr_assert_eq(obs[i * 11 + 5], (float)((i * 11 + 5) * 0.5));
    int64_t nx = (i % 1000 == 999) ? i : i + 1; /* terminal rows keep their own obs */
    cr_assert_eq(next[i * 11 + 5], (float)((nx * 11 + 5) * 0.5), "row %lld", (long long)i);
  }
  free(obs), free(next);
  o2o_dataset_close(ds);
}

/* ---- Minari import ---------------------------------------------------------------------- */

Test(dataset_io, minari_import) {
  fixtures();
  const char *out = O2O_TEST_BUILD_DIR "/test_minari.hdf5";
  cr_assert_eq(
      o2o_dataset_import_minari(FIXDIR "/minari/pendulum/test-v0", out, NULL, err, sizeof(err)), 0,
      "%s", err);
  o2o_dataset *ds = o2o_dataset_open(out, NULL, err, sizeof(err));
  cr_assert_not_null(ds, "%s", err);
  const o2o_dataset_info *in = o2o_dataset_get_info(ds);
  cr_assert_eq(in->rows, 15);
  cr_assert_eq(in->obs_dim, 3);
  cr_assert_eq(in->act_dim, 2);
  cr_assert_eq(in->episodes, 3);
  cr_assert_eq(in->terminal_episodes, 2);
  cr_assert_eq(in->trailing_rows, 0);
  float obs[45], next[45], act[30], rew[15];
  uint8_t term[15], tout[15];
  o2o_dataset_dest d = {obs, act, rew, next, NULL, term, tout, NULL};
  cr_assert_eq(o2o_dataset_read(ds, 0, 15, &d, err, sizeof(err)), 0, "%s", err);
  const int T[3] = {4, 6, 5};
  int row = 0;
  for (int ep = 0; ep < 3; ep++)
    for (int t = 0; t < T[ep]; t++, row++) {
      for (int j = 0; j < 3; j++) {
        cr_assert_eq(obs[row * 3 + j], (float)(100 * ep + t + 0.5 * j), "row %d", row);
        cr_assert_eq(next[row * 3 + j], (float)(100 * ep + t + 1 + 0.5 * j), "row %d", row);
      }
      cr_assert_eq(act[row * 2 + 1], -(float)(100 * ep + t + 0.5));
      cr_assert_eq(rew[row], (float)(ep + 0.25 * t));
      int last = t == T[ep] - 1;
      cr_assert_eq(term[row], last && ep != 1, "row %d", row);
      cr_assert_eq(tout[row], last && ep == 1, "row %d", row);
    }
  o2o_dataset_extra *ex;
  int n, found = 0;
  cr_assert_eq(o2o_dataset_read_extras(ds, &ex, &n, err, sizeof(err)), 0, "%s", err);
  for (int i = 0; i < n; i++)
    if (!strcmp(ex[i].key, "metadata/minari_metadata_json"))
      found = strstr(ex[i].data, "pendulum/test-v0") != NULL;
  cr_assert(found, "metadata.json not kept");
  o2o_dataset_extras_free(ex, n);
  o2o_dataset_close(ds);
}

Test(dataset_bad, minari_wrong_rows) {
  fixtures();
  int rc =
      o2o_dataset_import_minari(FIXDIR "/minari_bad.hdf5",
                                O2O_TEST_BUILD_DIR "/test_minari_bad.hdf5", NULL, err, sizeof(err));
  cr_assert_eq(rc, O2O_DATASET_EFORMAT);
  cr_assert(strstr(err, "minari_bad.hdf5") && strstr(err, "episode_0/observations has 4 rows") &&
                strstr(err, "expected 5"),
            "%s", err);
}

Test(dataset_bad, minari_columns_beyond_int) {
  fixtures();
  int rc = o2o_dataset_import_minari(FIXDIR "/minari_wide.hdf5",
                                     O2O_TEST_BUILD_DIR "/test_minari_wide.hdf5", NULL, err,
                                     sizeof(err));
  cr_assert_eq(rc, O2O_DATASET_EFORMAT, "%s", err);
  cr_assert(strstr(err, "episode_0/actions has 4294967298 columns"), "%s", err);
}

Test(dataset_io, find_by_name) {
  fixtures();
  char path[1024];
  setenv("O2O_DATASET_PATH", "/nonexistent:" FIXDIR, 1);
  cr_assert_eq(o2o_dataset_find("d4rl_f32", path, sizeof(path), err, sizeof(err)), 0, "%s", err);
  cr_assert_str_eq(path, FIXDIR "/d4rl_f32.hdf5");
  /* The shipped data is found without any environment. */
  unsetenv("O2O_DATASET_PATH");
  cr_assert_eq(o2o_dataset_find("pendulum-random", path, sizeof(path), err, sizeof(err)), 0, "%s",
               err);
  cr_assert(strstr(path, "datasets/pendulum-random.hdf5"), "%s", path);
  cr_assert_eq(o2o_dataset_find("no-such-set", path, sizeof(path), err, sizeof(err)),
               O2O_DATASET_EIO);
  cr_assert(strstr(err, "no-such-set") && strstr(err, "tried"), "%s", err);
}

/* A file named after a task whose dims it does not have (issue 9 item 5): warned, not silent. */
Test(dataset_io, task_from_name_disagreeing_with_dims_warns) {
  synth s = synth_make(100, 11, 6, 1000); /* hopper has 11 obs but 3 actions, not 6 */
  o2o_dataset_data d = {s.n, s.od, s.ad, s.obs, s.act, s.rew, s.next, s.term, s.tout, 0, NULL};
  const char *bad = O2O_TEST_BUILD_DIR "/hopper-wrongdims.hdf5";
  const char *good = O2O_TEST_BUILD_DIR "/halfcheetah-okdims.hdf5";
  cr_assert_eq(o2o_dataset_write(bad, &d, NULL, err, sizeof(err)), 0, "%s", err);
  o2o_dataset *ds = o2o_dataset_open(bad, NULL, err, sizeof(err));
  cr_assert_not_null(ds, "%s", err);
  const o2o_dataset_info *in = o2o_dataset_get_info(ds);
  cr_assert_str_eq(in->task, "hopper");
  cr_assert_not_null(strstr(in->warnings, "task 'hopper' (inferred from the file name) has obs 11 "
                                          "/ act 3, but the file has obs 11 / act 6"),
                     "%s", in->warnings);
  o2o_dataset_close(ds);
  synth s2 = synth_make(100, 17, 6, 1000);
  o2o_dataset_data d2 = {s2.n,    s2.od,   s2.ad,   s2.obs, s2.act, s2.rew,
                         s2.next, s2.term, s2.tout, 0,      NULL};
  cr_assert_eq(o2o_dataset_write(good, &d2, NULL, err, sizeof(err)), 0, "%s", err);
  ds = o2o_dataset_open(good, NULL, err, sizeof(err));
  cr_assert_not_null(ds, "%s", err);
  cr_assert_null(strstr(o2o_dataset_get_info(ds)->warnings, "inferred from"), "%s",
                 o2o_dataset_get_info(ds)->warnings);
  o2o_dataset_close(ds);
  synth_free(&s);
  synth_free(&s2);
}
