/* cmd_bench_dataset.c: `o2o bench dataset`: write N synthetic hopper transitions (obs 11,
 * act 3, infos qpos/qvel/action_log_probs) in the D4RL layout, then read them back from
 * page cache with o2o_dataset_read into float32 arrays, interleaved with a plain H5Dread of
 * the whole arrays (the baseline) in the same run. MB/s = raw float32 payload bytes
 * (obs, act, rew, next_obs, done) / seconds. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/o2o_commands.h"
#include "o2o_agent.h"
#include "o2o_dataset.h"
#include "o2o_version.h"
#include "cli/cli.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_now(void) { /* CPU time of all threads: robust to a busy machine */
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float rng_uniform(uint64_t *s) {
  return (float)((o2o_splitmix64(s) >> 40) * (1.0 / 16777216.0));
}

typedef struct bench_data {
  int64_t n;
  float *obs, *act, *rew, *next, *qpos, *qvel, *logp;
  uint8_t *term, *tout;
} bench_data;

/* Hopper-like rows: smooth state random walks per episode (like simulated joint angles and
 * velocities), uniform random actions, episodes ending by terminal or at 1000 steps. */
static int synth(bench_data *b, int64_t n, uint64_t seed) {
  const int od = 11, ad = 3;
  b->n = n;
  b->obs = malloc((size_t)n * od * 4);
  b->next = malloc((size_t)n * od * 4);
  b->act = malloc((size_t)n * ad * 4);
  b->rew = malloc((size_t)n * 4);
  b->qpos = malloc((size_t)n * 6 * 4);
  b->qvel = malloc((size_t)n * 6 * 4);
  b->logp = malloc((size_t)n * 4);
  b->term = calloc((size_t)n, 1);
  b->tout = calloc((size_t)n, 1);
  if (!b->obs || !b->next || !b->act || !b->rew || !b->qpos || !b->qvel || !b->logp || !b->term ||
      !b->tout)
    return -1;
  float s[11];
  int64_t step = 0;
  for (int j = 0; j < od; j++)
    s[j] = 0.005f * (rng_uniform(&seed) - 0.5f);
  for (int64_t i = 0; i < n; i++) {
    memcpy(b->obs + i * od, s, sizeof(s));
    for (int j = 0; j < ad; j++)
      b->act[i * ad + j] = 2 * rng_uniform(&seed) - 1;
    for (int j = 0; j < od; j++)
      s[j] += 0.05f * (rng_uniform(&seed) - 0.5f) * (j < 5 ? 1 : 10);
    memcpy(b->next + i * od, s, sizeof(s));
    b->rew[i] = 1.0f + s[5] - 1e-3f * (b->act[i * 3] * b->act[i * 3]);
    for (int j = 0; j < 6; j++) {
      b->qpos[i * 6 + j] = j == 0 ? (float)step * 0.008f : b->obs[i * od + (j - 1)];
      b->qvel[i * 6 + j] = b->obs[i * od + 5 + j];
    }
    b->logp[i] = -3.0f * logf(2.0f);
    step++;
    if (rng_uniform(&seed) < 0.002f) {
      b->term[i] = 1;
    } else if (step == 1000) {
      b->tout[i] = 1;
    }
    if (b->term[i] || b->tout[i]) {
      step = 0;
      for (int j = 0; j < od; j++)
        s[j] = 0.005f * (rng_uniform(&seed) - 0.5f);
    }
  }
  return 0;
}

static void bench_free(bench_data *b) {
  free(b->obs), free(b->next), free(b->act), free(b->rew);
  free(b->qpos), free(b->qvel), free(b->logp), free(b->term), free(b->tout);
}

/* The baseline: whole-array H5Dread of the same keys into float32 (flags as uint8). */
static int plain_read(const char *path, float *obs, float *act, float *rew, float *next,
                      uint8_t *term, uint8_t *tout) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return -1;
  const char *keys[] = {"observations", "actions", "rewards", "next_observations"};
  float *dst[] = {obs, act, rew, next};
  int rc = 0;
  for (int k = 0; k < 4 && !rc; k++) {
    hid_t d = H5Dopen2(f, keys[k], H5P_DEFAULT);
    rc = d < 0 || H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst[k]) < 0;
    if (d >= 0) H5Dclose(d);
  }
  const char *flags[] = {"terminals", "timeouts"};
  uint8_t *fdst[] = {term, tout};
  for (int k = 0; k < 2 && !rc; k++) {
    hid_t d = H5Dopen2(f, flags[k], H5P_DEFAULT);
    hid_t t = d >= 0 ? H5Dget_type(d) : -1;
    hid_t mt = t >= 0 ? H5Tget_native_type(t, H5T_DIR_ASCEND) : -1;
    rc = mt < 0 || H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, fdst[k]) < 0;
    if (mt >= 0) H5Tclose(mt);
    if (t >= 0) H5Tclose(t);
    if (d >= 0) H5Dclose(d);
  }
  H5Fclose(f);
  return rc;
}

static void usage(FILE *f) {
  fprintf(f, "usage: o2o bench dataset [--rows N] [--rounds R] [--gzip L] [--out FILE] [--json]\n"
             "  writes N synthetic hopper transitions (default 1000000; obs 11, act 3, infos)\n"
             "  in the D4RL layout, then reads them back R times (default 5) with o2o and\n"
             "  with a plain whole-array H5Dread, interleaved; prints best-of-R MB/s.\n"
             "  --gzip L   compression level of the written file (default 1, 0 = none)\n"
             "  --out FILE where to write (default /tmp/o2o-bench-dataset.hdf5, deleted after)\n"
             "  --json     one JSON object on stdout\n"
             "  must reach: read >= 500 MB/s, write 1M rows < 10 s\n");
}

int o2o_bench_dataset(int argc, char **argv) {
  int64_t rows = 1000000;
  int rounds = 5, json = 0, keep = 0;
  o2o_dataset_write_opts wo = {.gzip_level = 1};
  const char *path = "/tmp/o2o-bench-dataset.hdf5";
  o2o_flags *f = o2o_flags_create("o2o bench dataset");
  o2o_flags_i64(f, "rows", &rows, 1, 1000000000, "N", "transitions");
  o2o_flags_int(f, "rounds", &rounds, 1, 1000, "R", "read rounds");
  o2o_flags_int(f, "gzip", &wo.gzip_level, 0, 9, "L", "compression level");
  o2o_flags_str(f, "out", &path, "FILE", "file to write (kept)");
  o2o_flags_bool(f, "json", &json, "one JSON object on stdout");
  o2o_flags_std(f, usage, "o2o " O2O_VERSION);
  int prc = o2o_flags_parse(f, argc, argv);
  keep = o2o_flags_given(f, "out") > 0;
  o2o_flags_destroy(f);
  if (prc) return prc < 0 ? 2 : 0;
  if (rows < 1 || rounds < 1) {
    fprintf(stderr, "o2o bench dataset: --rows and --rounds must be >= 1\n");
    return 2;
  }
  bench_data b;
  fprintf(stderr, "bench dataset: generating %lld synthetic hopper transitions...\n",
          (long long)rows);
  if (synth(&b, rows, 1)) {
    fprintf(stderr, "o2o bench dataset: out of memory\n");
    return 1;
  }
  char err[O2O_DATASET_ERRLEN];
  o2o_dataset_extra ex[5];
  o2o_dataset_extra_floats(&ex[0], "infos/qpos", b.qpos, rows, 6);
  o2o_dataset_extra_floats(&ex[1], "infos/qvel", b.qvel, rows, 6);
  o2o_dataset_extra_floats(&ex[2], "infos/action_log_probs", b.logp, rows, 0);
  o2o_dataset_extra_string(&ex[3], "metadata/task", "hopper");
  o2o_dataset_extra_string(&ex[4], "metadata/policy", "synthetic (o2o bench dataset)");
  o2o_dataset_data d = {rows, 11, 3, b.obs, b.act, b.rew, b.next, b.term, b.tout, 5, ex};
  double t0 = now(), wc0 = cpu_now();
  int rc = o2o_dataset_write(path, &d, &wo, err, sizeof(err));
  double write_s = now() - t0, write_cpu = cpu_now() - wc0;
  for (int i = 0; i < 5; i++)
    free(ex[i].data);
  if (rc) {
    fprintf(stderr, "o2o bench dataset: %s\n", err);
    bench_free(&b);
    return 1;
  }
  fprintf(stderr, "bench dataset: wrote %s in %.2f s\n", path, write_s);

  const double payload = (double)rows * 4.0 * (11 + 3 + 1 + 11 + 1); /* obs act rew next done */
  float *obs = malloc((size_t)rows * 11 * 4), *next = malloc((size_t)rows * 11 * 4);
  float *act = malloc((size_t)rows * 3 * 4), *rew = malloc((size_t)rows * 4);
  float *done = malloc((size_t)rows * 4);
  uint8_t *term = malloc((size_t)rows), *tout = malloc((size_t)rows);
  double best_o2o = 1e30, best_plain = 1e30, cpu_o2o = 1e30, cpu_plain = 1e30;
  int ok = obs && next && act && rew && done && term && tout;
  /* Warm the page cache once, then alternate o2o and the plain read. */
  if (ok) ok = !plain_read(path, obs, act, rew, next, term, tout);
  for (int r = 0; ok && r < rounds; r++) {
    t0 = now();
    double c0 = cpu_now();
    o2o_dataset *ds = o2o_dataset_open(path, NULL, err, sizeof(err));
    o2o_dataset_dest dst = {obs, act, rew, next, done, NULL, NULL, NULL};
    ok = ds && !o2o_dataset_read(ds, 0, rows, &dst, err, sizeof(err));
    o2o_dataset_close(ds);
    double t_o2o = now() - t0, c_o2o = cpu_now() - c0;
    t0 = now();
    c0 = cpu_now();
    ok = ok && !plain_read(path, obs, act, rew, next, term, tout);
    double t_plain = now() - t0, c_plain = cpu_now() - c0;
    if (c_o2o < cpu_o2o) cpu_o2o = c_o2o;
    if (c_plain < cpu_plain) cpu_plain = c_plain;
    if (t_o2o < best_o2o) best_o2o = t_o2o;
    if (t_plain < best_plain) best_plain = t_plain;
    fprintf(stderr, "  round %d/%d: o2o %.3f s (%.0f MB/s)  plain H5Dread %.3f s (%.0f MB/s)\n",
            r + 1, rounds, t_o2o, payload / t_o2o / 1e6, t_plain, payload / t_plain / 1e6);
  }
  /* The values read must be the values written (a fast wrong read is no result). */
  if (ok && (memcmp(obs, b.obs, (size_t)rows * 44) || memcmp(next, b.next, (size_t)rows * 44)))
    ok = 0, snprintf(err, sizeof(err), "read-back differs from what was written");
  if (!ok) fprintf(stderr, "o2o bench dataset: read failed: %s\n", err);
  FILE *fp = fopen(path, "rb");
  long file_bytes = 0;
  if (fp) fseek(fp, 0, SEEK_END), file_bytes = ftell(fp), fclose(fp);
  if (!keep) remove(path);
  free(obs), free(next), free(act), free(rew), free(done), free(term), free(tout);
  bench_free(&b);
  if (!ok) return 1;
  double mbs = payload / best_o2o / 1e6, mbs_plain = payload / best_plain / 1e6;
  double load = 0;
  if (getloadavg(&load, 1) != 1) load = -1;
  int pass = mbs >= 500 && (rows < 1000000 || write_s * 1e6 / (double)rows < 10.0);
  if (json)
    printf("{\"rows\": %lld, \"payload_mb\": %.1f, \"file_mb\": %.1f, \"gzip\": %d, "
           "\"write_s\": %.3f, \"read_s\": %.4f, \"read_mb_s\": %.1f, \"plain_read_s\": %.4f, "
           "\"plain_read_mb_s\": %.1f, \"ratio_vs_plain\": %.3f, \"read_cpu_s\": %.4f, "
           "\"plain_read_cpu_s\": %.4f, \"write_cpu_s\": %.3f, \"load_avg\": %.2f, \"rounds\": %d, "
           "\"pass\": %s}\n",
           (long long)rows, payload / 1e6, file_bytes / 1e6, wo.gzip_level, write_s, best_o2o, mbs,
           best_plain, mbs_plain, best_plain / best_o2o, cpu_o2o, cpu_plain, write_cpu, load,
           rounds, pass ? "true" : "false");
  else
    printf("rows %lld  payload %.1f MB  file %.1f MB (gzip %d)\n"
           "write   %.2f s  (%.0f MB/s)%s\n"
           "read    o2o %.3f s = %.0f MB/s   plain H5Dread %.3f s = %.0f MB/s   "
           "ratio o2o/plain %.2f  (best of %d)%s\n",
           (long long)rows, payload / 1e6, file_bytes / 1e6, wo.gzip_level, write_s,
           payload / write_s / 1e6,
           rows == 1000000 ? (write_s < 10 ? "  [< 10 s: ok]" : "  [>= 10 s: FAIL]") : "", best_o2o,
           mbs, best_plain, mbs_plain, best_plain / best_o2o, rounds,
           mbs >= 500 ? "  [>= 500 MB/s: ok]" : "  [< 500 MB/s: FAIL]");
  if (!json)
    printf("cpu     write %.2f s   read: o2o %.3f s (%.0f MB per CPU-second)   plain %.3f s (%.0f)"
           "   [CPU time is what a busy machine distorts least; load average now %.1f]\n",
           write_cpu, cpu_o2o, payload / cpu_o2o / 1e6, cpu_plain, payload / cpu_plain / 1e6, load);
  return 0;
}
