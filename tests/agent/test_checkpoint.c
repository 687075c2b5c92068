/* test_checkpoint.c: safetensors round trip (bit-exact), strict validation of corrupt,
 * truncated and mismatched files (nothing loaded), atomic writes, and the numpy twin:
 * tests/agent/ckpt_numpy.py reads a checkpoint with numpy alone and must compute the same
 * deterministic actor output as o2o_policy_act. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include "io/checkpoint.h"
#include "nn/nn.h"
#include "io/policy.h"

static char tmpdir[256];

static void make_tmpdir(void) {
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/o2o_test_ckpt_XXXXXX");
  cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void) {
  DIR *d = opendir(tmpdir);
  if (!d) return;
  struct dirent *e;
  char p[512];
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
      unlink(p);
    }
  closedir(d);
  rmdir(tmpdir);
}

TestSuite(checkpoint, .init = make_tmpdir, .fini = remove_tmpdir);

static char *path_in_tmp(const char *name) {
  static char p[4][512];
  static int k;
  k = (k + 1) % 4;
  snprintf(p[k], sizeof(p[k]), "%s/%s", tmpdir, name);
  return p[k];
}

static unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "open %s", path);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(*len + 1);
  cr_assert_eq(fread(b, 1, *len, f), *len);
  fclose(f);
  return b;
}

static void write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(data, 1, len, f), len);
  fclose(f);
}

/* Three tensors: a [3,4] matrix with special values, a vector, a scalar. */
static float w_data[12], b_data[4], s_data[1];
static o2o_tensor_ref tensors[3];

static void fill_tensors(void) {
  for (int i = 0; i < 12; i++)
    w_data[i] = sinf((float)i * 1.7f) * 3.0f;
  w_data[0] = -0.0f;
  w_data[1] = 1e-42f; /* denormal */
  w_data[2] = 3.4e38f;
  for (int i = 0; i < 4; i++)
    b_data[i] = (float)i - 1.5f;
  s_data[0] = 42.25f;
  tensors[0] =
      (o2o_tensor_ref){.name = "actor.l0.weight", .data = w_data, .ndim = 2, .shape = {3, 4}};
  tensors[1] = (o2o_tensor_ref){.name = "actor.l0.bias", .data = b_data, .ndim = 1, .shape = {4}};
  tensors[2] = (o2o_tensor_ref){.name = "log_alpha", .data = s_data, .ndim = 0};
}

static void save_reference(const char *path) {
  fill_tensors();
  o2o_ckpt_meta meta;
  o2o_ckpt_meta_init(&meta);
  o2o_ckpt_meta_set(&meta, "algorithm", "sac");
  o2o_ckpt_meta_set(&meta, "odd", "quote \" backslash \\ newline \n tab \t end");
  o2o_ckpt_meta_setf(&meta, "step", "%d", 12345);
  char err[512];
  cr_assert_eq(o2o_ckpt_save(path, tensors, 3, &meta, err, sizeof(err)), 0, "%s", err);
}

Test(checkpoint, round_trip_bit_exact) {
  const char *path = path_in_tmp("a.safetensors");
  save_reference(path);
  char err[512];
  o2o_ckpt *c = o2o_ckpt_open(path, err, sizeof(err));
  cr_assert_not_null(c, "%s", err);
  cr_assert_eq(o2o_ckpt_num_tensors(c), 3);
  const o2o_ckpt_meta *m = o2o_ckpt_metadata(c);
  cr_assert_str_eq(o2o_ckpt_meta_get(m, "algorithm"), "sac");
  cr_assert_str_eq(o2o_ckpt_meta_get(m, "odd"), "quote \" backslash \\ newline \n tab \t end");
  cr_assert_str_eq(o2o_ckpt_meta_get(m, "step"), "12345");
  float w2[12] = {0}, b2[4] = {0}, s2[1] = {0};
  o2o_tensor_ref dst[3] = {tensors[2], tensors[0], tensors[1]}; /* any order */
  dst[0].data = s2, dst[1].data = w2, dst[2].data = b2;
  cr_assert_eq(o2o_ckpt_load_into(c, dst, 3, 1, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(memcmp(w2, w_data, sizeof(w2)), 0);
  cr_assert_eq(memcmp(b2, b_data, sizeof(b2)), 0);
  cr_assert_eq(memcmp(s2, s_data, sizeof(s2)), 0);
  o2o_ckpt_close(c);
  /* Header is padded so data starts 8-byte aligned, and the length prefix is little-endian. */
  size_t len;
  unsigned char *raw = read_file(path, &len);
  uint64_t hl = 0;
  for (int i = 0; i < 8; i++)
    hl |= (uint64_t)raw[i] << (8 * i);
  cr_assert_eq((8 + hl) % 8, 0);
  cr_assert_eq(len, 8 + hl + sizeof(w_data) + sizeof(b_data) + sizeof(s_data));
  free(raw);
}

/* Expect open (or load_into) to fail with `needle` in the message, and dst untouched. */
static void expect_rejected(const char *path, const char *needle) {
  char err[512] = "";
  float w2[12], b2[4], s2[1];
  for (int i = 0; i < 12; i++)
    w2[i] = 777.0f;
  for (int i = 0; i < 4; i++)
    b2[i] = 777.0f;
  s2[0] = 777.0f;
  fill_tensors();
  o2o_tensor_ref dst[3] = {tensors[0], tensors[1], tensors[2]};
  dst[0].data = w2, dst[1].data = b2, dst[2].data = s2;
  o2o_ckpt *c = o2o_ckpt_open(path, err, sizeof(err));
  if (c) {
    cr_assert_neq(o2o_ckpt_load_into(c, dst, 3, 1, err, sizeof(err)), 0,
                  "expected a failure mentioning '%s'", needle);
    o2o_ckpt_close(c);
  }
  cr_assert(strstr(err, needle), "error '%s' should mention '%s'", err, needle);
  cr_assert(strstr(err, path), "error '%s' should name the file", err);
  for (int i = 0; i < 12; i++)
    cr_assert_eq(w2[i], 777.0f, "partially loaded");
  for (int i = 0; i < 4; i++)
    cr_assert_eq(b2[i], 777.0f, "partially loaded");
  cr_assert_eq(s2[0], 777.0f, "partially loaded");
}

/* Write a file with the given JSON header and `data_bytes` bytes of data. */
static void write_custom(const char *path, const char *json, size_t data_bytes) {
  size_t hl = strlen(json);
  size_t len = 8 + hl + data_bytes;
  unsigned char *b = calloc(1, len);
  for (int i = 0; i < 8; i++)
    b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
  memcpy(b + 8, json, hl);
  write_file(path, b, len);
  free(b);
}

#define GOOD_W "\"actor.l0.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]}"
#define GOOD_B "\"actor.l0.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[48,64]}"
#define GOOD_S "\"log_alpha\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[64,68]}"

Test(checkpoint, custom_writer_sanity) {
  /* The hand-written layout used below is itself valid. */
  const char *p = path_in_tmp("ok.safetensors");
  write_custom(p, "{" GOOD_W "," GOOD_B "," GOOD_S "}", 68);
  char err[512];
  o2o_ckpt *c = o2o_ckpt_open(p, err, sizeof(err));
  cr_assert_not_null(c, "%s", err);
  o2o_ckpt_close(c);
}

Test(checkpoint, rejects_truncated) {
  const char *path = path_in_tmp("t.safetensors");
  save_reference(path);
  size_t len;
  unsigned char *raw = read_file(path, &len);
  write_file(path, raw, len - 5);
  expect_rejected(path, "truncated");
  write_file(path, raw, 6);
  expect_rejected(path, "too short");
  free(raw);
}

Test(checkpoint, rejects_bad_header_length) {
  const char *path = path_in_tmp("h.safetensors");
  save_reference(path);
  size_t len;
  unsigned char *raw = read_file(path, &len);
  raw[6] = 0x7f; /* a header length of petabytes */
  write_file(path, raw, len);
  expect_rejected(path, "header length");
  free(raw);
}

Test(checkpoint, rejects_malformed_json) {
  const char *p = path_in_tmp("j.safetensors");
  write_custom(p, "{" GOOD_W "," GOOD_B "," GOOD_S, 68); /* no closing brace */
  expect_rejected(p, "header JSON");
  write_custom(p, "{" GOOD_W "," GOOD_B "," GOOD_S "}x", 68);
  expect_rejected(p, "after the JSON");
  write_custom(p, "{" GOOD_W "," GOOD_B "," GOOD_S ",}", 68);
  expect_rejected(p, "header JSON");
  write_custom(
      p,
      "{\"actor.l0.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,4.8e1]}," GOOD_B
      "," GOOD_S "}",
      68);
  expect_rejected(p, "integer");
  write_custom(p, "{" GOOD_W "," GOOD_W "," GOOD_B "," GOOD_S "}", 68);
  expect_rejected(p, "duplicate");
  write_custom(p, "{\"__metadata__\":{\"step\":5}," GOOD_W "," GOOD_B "," GOOD_S "}", 68);
  expect_rejected(p, "must be strings");
  write_custom(p,
               "{\"actor.l0.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48],"
               "\"x\":1}," GOOD_B "," GOOD_S "}",
               68);
  expect_rejected(p, "unknown field");
}

Test(checkpoint, rejects_wrong_dtype_and_offsets) {
  const char *p = path_in_tmp("d.safetensors");
  write_custom(
      p,
      "{\"actor.l0.weight\":{\"dtype\":\"F16\",\"shape\":[3,4],\"data_offsets\":[0,48]}," GOOD_B
      "," GOOD_S "}",
      68);
  expect_rejected(p, "dtype F16");
  /* offsets that disagree with the shape */
  write_custom(
      p,
      "{\"actor.l0.weight\":{\"dtype\":\"F32\",\"shape\":[3,5],\"data_offsets\":[0,48]}," GOOD_B
      "," GOOD_S "}",
      68);
  expect_rejected(p, "do not match its shape");
  /* overlapping tensors */
  write_custom(
      p,
      "{" GOOD_W
      ",\"actor.l0.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[40,56]}," GOOD_S "}",
      68);
  expect_rejected(p, "overlaps");
  /* a shape whose byte count wraps to 0 (2^31 * 2^31 * 4 = 2^64) must not pass as empty */
  write_custom(p,
               "{\"big\":{\"dtype\":\"F32\",\"shape\":[2147483648,2147483648],"
               "\"data_offsets\":[0,0]}}",
               0);
  expect_rejected(p, "more than 2^62 floats");
  /* extra bytes after the last tensor */
  write_custom(p, "{" GOOD_W "," GOOD_B "," GOOD_S "}", 72);
  expect_rejected(p, "after the last tensor");
}

Test(checkpoint, rejects_mismatched_model) {
  const char *p = path_in_tmp("m.safetensors");
  /* bias has the wrong shape for this model */
  write_custom(
      p,
      "{" GOOD_W
      ",\"actor.l0.bias\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[48,64]}," GOOD_S "}",
      68);
  expect_rejected(p, "'actor.l0.bias' has shape [2, 2], expected [4]");
  /* a tensor missing */
  write_custom(p, "{" GOOD_W "," GOOD_B "}", 64);
  expect_rejected(p, "'log_alpha' missing");
  /* an unexpected extra tensor (strict) */
  write_custom(p,
               "{" GOOD_W "," GOOD_B "," GOOD_S
               ",\"critic0.l0.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[68,72]}}",
               72);
  expect_rejected(p, "unexpected tensor 'critic0.l0.weight'");
}

Test(checkpoint, failed_write_keeps_old_file) {
  const char *path = path_in_tmp("atomic.safetensors");
  save_reference(path);
  size_t len0;
  unsigned char *before = read_file(path, &len0);
  /* A big tensor and a file-size limit below its size: write() fails with EFBIG. */
  size_t n = 1 << 20;
  float *big = calloc(n, sizeof(float));
  o2o_tensor_ref t = {.name = "big", .data = big, .ndim = 1, .shape = {(int64_t)n}};
  struct rlimit old, lim;
  getrlimit(RLIMIT_FSIZE, &old);
  lim = old;
  lim.rlim_cur = 4096;
  signal(SIGXFSZ, SIG_IGN);
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
  char err[512];
  int rc = o2o_ckpt_save(path, &t, 1, NULL, err, sizeof(err));
  setrlimit(RLIMIT_FSIZE, &old);
  cr_assert_neq(rc, 0, "the write should have failed");
  cr_assert(strstr(err, "write failed") && strstr(err, "unchanged"), "%s", err);
  size_t len1;
  unsigned char *after = read_file(path, &len1);
  cr_assert_eq(len0, len1);
  cr_assert_eq(memcmp(before, after, len0), 0, "the old checkpoint was modified");
  /* No temp file left behind. */
  DIR *d = opendir(tmpdir);
  struct dirent *e;
  while ((e = readdir(d)))
    cr_assert_null(strstr(e->d_name, ".tmp."), "left %s", e->d_name);
  closedir(d);
  free(big);
  free(before);
  free(after);
  /* A save into a missing directory fails cleanly too. */
  cr_assert_neq(o2o_ckpt_save("/nonexistent-dir/x.safetensors", tensors, 3, NULL, err, sizeof(err)),
                0);
  cr_assert(strstr(err, "/nonexistent-dir/x.safetensors"), "%s", err);
}

/* ---- policy + numpy twin ------------------------------------------------------------- */
static void save_actor(const char *path, int obs_dim, int act_dim, int layernorm, int with_norm,
                       uint64_t seed) {
  o2o_nn_mlp m;
  int dims[4] = {obs_dim, 32, 32, 2 * act_dim};
  cr_assert_eq(o2o_nn_mlp_init(&m, 1, 3, dims, layernorm), 0);
  float *params = calloc(m.num_params, sizeof(float));
  o2o_nn_rng rng;
  o2o_nn_rng_seed(&rng, seed);
  o2o_nn_mlp_init_params(&m, params, &rng, 0);
  for (size_t i = 0; layernorm && i < m.num_params; i++)
    params[i] += 0.01f * (float)(i % 7);
  o2o_tensor_ref refs[16];
  int n = o2o_nn_mlp_tensor_refs(&m, params, "actor", 0, refs, 14);
  float mean[16], sd[16];
  if (with_norm) {
    for (int i = 0; i < obs_dim; i++)
      mean[i] = 0.1f * i, sd[i] = 0.5f + 0.2f * i;
    refs[n++] =
        (o2o_tensor_ref){.name = "obs_norm.mean", .data = mean, .ndim = 1, .shape = {obs_dim}};
    refs[n++] = (o2o_tensor_ref){.name = "obs_norm.std", .data = sd, .ndim = 1, .shape = {obs_dim}};
  }
  o2o_ckpt_meta meta;
  o2o_ckpt_meta_init(&meta);
  o2o_ckpt_meta_set(&meta, "algorithm", "sac");
  o2o_ckpt_meta_setf(&meta, "obs_dim", "%d", obs_dim);
  o2o_ckpt_meta_setf(&meta, "act_dim", "%d", act_dim);
  char err[512];
  cr_assert_eq(o2o_ckpt_save(path, refs, n, &meta, err, sizeof(err)), 0, "%s", err);
  free(params);
}

static void compare_with_numpy(int layernorm, int with_norm) {
  const int D = 11, A = 3, N = 5;
  const char *ck = path_in_tmp("actor.safetensors");
  const char *obsf = path_in_tmp("obs.f32");
  save_actor(ck, D, A, layernorm, with_norm, 99);
  char err[512];
  o2o_policy *p = o2o_policy_load(ck, err, sizeof(err));
  cr_assert_not_null(p, "%s", err);
  cr_assert_eq(o2o_policy_obs_dim(p), D);
  cr_assert_eq(o2o_policy_act_dim(p), A);
  float obs[N * D], act[N * A];
  for (int i = 0; i < N * D; i++)
    obs[i] = 2.0f * sinf(0.37f * (float)i + 0.1f);
  o2o_policy_act(p, obs, N, 1, act);
  write_file(obsf, obs, sizeof(obs));
  char cmd[1400];
  snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/agent/ckpt_numpy.py %s %s", O2O_TEST_DATA_DIR, ck,
           obsf);
  FILE *f = popen(cmd, "r");
  cr_assert_not_null(f);
  char line[1024];
  cr_assert_not_null(fgets(line, sizeof(line), f));
  cr_assert(strstr(line, "obs_dim 11 act_dim 3 algorithm sac"), "numpy says: %s", line);
  double maxdiff = 0;
  for (int i = 0; i < N * A; i++) {
    double v;
    cr_assert_eq(fscanf(f, "%lf", &v), 1, "numpy output too short at %d", i);
    double d = fabs(v - act[i]);
    if (d > maxdiff) maxdiff = d;
    cr_assert(d < 1e-5, "action %d: o2o %.9g numpy %.9g", i, act[i], v);
  }
  cr_assert_eq(pclose(f), 0, "python failed");
  cr_log_info("o2o vs numpy actor: max |diff| = %.3g\n", maxdiff);
  /* Actions are not trivially equal (a real network was evaluated). */
  cr_assert(fabsf(act[0] - act[A]) > 1e-4f);
  /* Sampling stays in [-1, 1] and is reproducible per seed. */
  float s1[N * A], s2[N * A];
  o2o_policy_seed(p, 5);
  o2o_policy_act(p, obs, N, 0, s1);
  o2o_policy_seed(p, 5);
  o2o_policy_act(p, obs, N, 0, s2);
  cr_assert_eq(memcmp(s1, s2, sizeof(s1)), 0);
  for (int i = 0; i < N * A; i++)
    cr_assert(s1[i] >= -1 && s1[i] <= 1);
  o2o_policy_destroy(p);
}

Test(checkpoint, numpy_reads_actor_same_output) {
  compare_with_numpy(0, 0);
}
Test(checkpoint, numpy_reads_layernorm_normalised_actor) {
  compare_with_numpy(1, 1);
}

Test(checkpoint, policy_rejects_broken_actor) {
  const char *p = path_in_tmp("noactor.safetensors");
  write_custom(p, "{" GOOD_W "," GOOD_B "," GOOD_S "}", 68);
  char err[512];
  /* actor.l0 is [3, 4] -> output 3 is odd: not [mu | log-std] */
  cr_assert_null(o2o_policy_load(p, err, sizeof(err)));
  cr_assert(strstr(err, "odd"), "%s", err);
  write_custom(p, "{" GOOD_B "," GOOD_S "}", 68);
  /* offsets 48..68 leave a hole at the start */
  cr_assert_null(o2o_policy_load(p, err, sizeof(err)));
  cr_assert(strstr(err, "hole"), "%s", err);
  cr_assert_null(o2o_policy_load(path_in_tmp("missing.safetensors"), err, sizeof(err)));
  cr_assert(strstr(err, "cannot open"), "%s", err);
}

/* Random corruption (byte flips in the header, truncation, garbage) never crashes the
 * reader (run under ASan/UBSan in CI) and never half-loads: a mutated file either fails
 * to open/load, or loads all three tensors. */
Test(checkpoint, random_corruption_is_handled) {
  const char *path = path_in_tmp("fuzz.safetensors");
  const char *mut = path_in_tmp("fuzz_mut.safetensors");
  save_reference(path);
  size_t len;
  unsigned char *raw = read_file(path, &len);
  unsigned char *buf = malloc(len + 64);
  uint64_t s = 12345;
  int opened = 0, rejected = 0;
  for (int it = 0; it < 3000; it++) {
    memcpy(buf, raw, len);
    size_t n = len;
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    int kind = (int)((s >> 33) % 4);
    int flips = 1 + (int)((s >> 40) % 4);
    for (int k = 0; k < flips; k++) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      size_t pos = (size_t)((s >> 20) % (kind == 0 ? 8 : len)); /* kind 0: the length prefix */
      buf[pos] = (unsigned char)(s >> 56);
    }
    if (kind == 3) n = (size_t)((s >> 12) % len); /* and truncate */
    write_file(mut, buf, n);
    char err[512];
    o2o_ckpt *c = o2o_ckpt_open(mut, err, sizeof(err));
    if (!c) {
      rejected++;
      cr_assert(err[0], "rejected without a message");
      continue;
    }
    opened++;
    float w2[12], b2[4], s2[1];
    fill_tensors();
    o2o_tensor_ref dst[3] = {tensors[0], tensors[1], tensors[2]};
    dst[0].data = w2, dst[1].data = b2, dst[2].data = s2;
    for (int i = 0; i < 12; i++)
      w2[i] = 777.0f;
    int rc = o2o_ckpt_load_into(c, dst, 3, 1, err, sizeof(err));
    if (rc) cr_assert_eq(w2[0], 777.0f, "half-loaded after: %s", err);
    o2o_ckpt_close(c);
  }
  cr_log_info("fuzz: %d opened (data-only changes), %d rejected\n", opened, rejected);
  cr_assert(rejected > 1000, "most header mutations must be rejected (%d)", rejected);
  free(buf);
  free(raw);
}

/* Error texts that quote header bytes escape what is not UTF-8 text (issue 9 item 6). */
Test(checkpoint, error_texts_escape_non_utf8_header_bytes) {
  const char *p = path_in_tmp("latin1.safetensors");
  /* an unexpected tensor named "caf\xE9" (Latin-1, not UTF-8) next to the expected ones */
  write_custom(p,
               "{" GOOD_W "," GOOD_B "," GOOD_S
               ",\"caf\xE9\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[68,72]}}",
               72);
  expect_rejected(p, "caf\\xE9");
  char err[512];
  o2o_ckpt *c = o2o_ckpt_open(p, err, sizeof err);
  if (c) {
    fill_tensors();
    o2o_ckpt_load_into(c, tensors, 3, 1, err, sizeof err);
    o2o_ckpt_close(c);
  }
  for (const unsigned char *q = (const unsigned char *)err; *q; q++)
    cr_assert(*q < 0x80, "raw byte 0x%02X in '%s'", *q, err);
  /* valid UTF-8 stays as it is */
  char t[64] = "caf\xC3\xA9 \x01";
  o2o_ckpt_escape_text(t, sizeof t);
  cr_assert_str_eq(t, "caf\xC3\xA9 \\x01");
}

/* Checkpoints get the umask's mode like every other file (mkstemp makes 0600). */
Test(checkpoint, written_with_the_umask_mode) {
  const char *p = path_in_tmp("mode.safetensors");
  mode_t old = umask(022);
  save_reference(p);
  umask(old);
  struct stat st;
  cr_assert_eq(stat(p, &st), 0);
  cr_assert_eq(st.st_mode & 0777, 0644, "mode %o", st.st_mode & 0777);
}

/* A run folder given as the checkpoint says so and names the file inside. */
Test(checkpoint, a_folder_is_named_as_a_folder) {
  char dir[600], err[1024];
  snprintf(dir, sizeof dir, "%s/runfolder", tmpdir);
  cr_assert_eq(mkdir(dir, 0755), 0);
  cr_assert_null(o2o_ckpt_open(dir, err, sizeof err));
  cr_assert(strstr(err, "is a folder") && !strstr(err, "too short"), "%s", err);
  char f[700];
  snprintf(f, sizeof f, "%s/final.safetensors", dir);
  save_reference(f);
  cr_assert_null(o2o_ckpt_open(dir, err, sizeof err));
  cr_assert(strstr(err, "is a folder") && strstr(err, f), "%s", err);
}

/* Step, rows and dims are read as whole integers >= 0: anything else is -1, not a prefix. */
Test(checkpoint, integer_metadata_is_whole_or_absent) {
  o2o_ckpt_meta m;
  o2o_ckpt_meta_init(&m);
  const char *keys[] = {"zero", "step", "big", "junk", "neg", "plus", "space", "empty", "huge"};
  const char *vals[] = {"0",  "25000", "9000000000",          "12x", "-3", "+4",
                        " 5", "",      "99999999999999999999"};
  const int64_t want[] = {0, 25000, 9000000000LL, -1, -1, -1, -1, -1, -1};
  for (int i = 0; i < 9; i++)
    cr_assert_eq(o2o_ckpt_meta_set(&m, keys[i], vals[i]), 0);
  for (int i = 0; i < 9; i++)
    cr_assert_eq(o2o_ckpt_meta_int(&m, keys[i]), want[i], "%s='%s': %lld", keys[i], vals[i],
                 (long long)o2o_ckpt_meta_int(&m, keys[i]));
  cr_assert_eq(o2o_ckpt_meta_int(&m, "absent"), -1);
}

/* A resume's settings: absent keys keep their field, a value too big for an int is refused. */
Test(checkpoint, integer_keys_fill_fields_of_their_size) {
  o2o_ckpt_meta m;
  o2o_ckpt_meta_init(&m);
  cr_assert_eq(o2o_ckpt_meta_set(&m, "episodes", "7"), 0);
  cr_assert_eq(o2o_ckpt_meta_set(&m, "seed", "9223372036854775807"), 0);
  int episodes = -1, untouched = 42;
  uint64_t seed = 0;
  o2o_ckpt_int_key keys[] = {O2O_CKPT_INT_KEY("episodes", episodes), O2O_CKPT_INT_KEY("seed", seed),
                             O2O_CKPT_INT_KEY("absent", untouched)};
  char err[256] = "";
  cr_assert_eq(o2o_ckpt_meta_read_ints(&m, keys, 3, err, sizeof err), 0, "%s", err);
  cr_assert_eq(episodes, 7);
  cr_assert_eq(seed, 9223372036854775807ULL);
  cr_assert_eq(untouched, 42);
  cr_assert_eq(o2o_ckpt_meta_set(&m, "episodes", "3000000000"), 0);
  cr_assert_eq(o2o_ckpt_meta_read_ints(&m, keys, 3, err, sizeof err), -1);
  cr_assert(strstr(err, "'episodes'") && strstr(err, "3000000000"), "%s", err);
  cr_assert_eq(episodes, 7, "a refused value leaves the field");
}
