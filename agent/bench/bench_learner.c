/* bench_learner.c: the benchmark loop of a learner (bench_common.h, o2o_bench_learner_main):
 * o2o updates/s through the learner interface (o2o_learner_update, default config, random
 * in-memory data) against, in the same run, the matmul-only floor of the reference update
 * (its sgemm shapes replayed, nothing else; alternating with o2o in blocks of 10 updates) and
 * optionally the PyTorch reference agent/bench/torch/torch_<name>.py between rounds. Ratios
 * are medians of per-round ratios (the machine is noisy). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_common.h"
#include "cli/cli.h"
#include "learn/learner.h"
#include "nn/blas_setup.h"
#include "o2o_version.h"

typedef struct {
  int obs, act, updates, rounds, threads, torch, torch_blas_threads, torch_threads;
  int json; /* results as JSON on stdout (the text goes to stderr) */
  const char *torch_script, *python, *torch_coretype;
  char script_buf[1024];
} opts;

static void usage(const o2o_bench_spec *s, FILE *f) {
  fprintf(f,
          "usage: o2o bench %s [options]\n"
          "%s updates/s (learner \"%s\", default config, random in-memory data) vs the\n"
          "matmul-only floor of the reference update (%s: the same sgemm shapes, nothing\n"
          "else) and optionally PyTorch; o2o and the floor alternate every 10 updates, torch\n"
          "runs between rounds; ratios are medians of per-round ratios.\n\n"
          "  --updates N        updates per round and program (default 200)\n"
          "  --rounds R         interleaved rounds (default 3, at most %d)\n"
          "  --threads T        OpenBLAS threads for o2o and the floor (default: o2o's)\n"
          "  --obs D --act D    dimensions (17, 6: halfcheetah)\n"
          "  --torch            also run the PyTorch reference (a python without torch:\n"
          "                     said, skipped, the rest measured, exit code 0)\n"
          "  --torch-script P   (default %s/torch_%s.py)\n"
          "  --python P         (default /usr/bin/python3)\n"
          "  --torch-blas-threads T  OPENBLAS_NUM_THREADS of torch (default 2: its best)\n"
          "  --torch-threads T  torch.set_num_threads (default 1)\n"
          "  --torch-coretype K OPENBLAS_CORETYPE of torch (default: o2o's kernel)\n"
          "  --json             the results as JSON on stdout (the text on stderr)\n"
          "  --version, --help\n",
          s->name, s->name, s->name, s->reference, O2O_BENCH_MAX_ROUNDS, O2O_TORCH_DIR, s->name);
}

static int parse(const o2o_bench_spec *s, int argc, char **argv, opts *o) {
  *o = (opts){.obs = 17,
              .act = 6,
              .updates = 200,
              .rounds = 3,
              .torch_blas_threads = 2,
              .torch_threads = 1,
              .python = "/usr/bin/python3"};
  snprintf(o->script_buf, sizeof o->script_buf, "%s/torch_%s.py", O2O_TORCH_DIR, s->name);
  o->torch_script = o->script_buf;
  char cmd[64];
  snprintf(cmd, sizeof cmd, "o2o bench %s", s->name);
  int help = 0, version = 0;
  o2o_flags *f = o2o_flags_create(cmd);
  o2o_flags_int(f, "updates", &o->updates, 1, 1000000, "N", "updates per round");
  o2o_flags_int(f, "rounds", &o->rounds, 1, O2O_BENCH_MAX_ROUNDS, "R", "rounds");
  o2o_flags_int(f, "threads", &o->threads, 1, 1000000, "T", "OpenBLAS threads");
  o2o_flags_int(f, "obs", &o->obs, 1, 1000000, "D", "obs dim");
  o2o_flags_int(f, "act", &o->act, 1, 1000000, "D", "act dim");
  o2o_flags_bool(f, "torch", &o->torch, "also run PyTorch");
  o2o_flags_str(f, "torch-script", &o->torch_script, "P", "PyTorch reference");
  o2o_flags_str(f, "python", &o->python, "P", "python");
  o2o_flags_int(f, "torch-blas-threads", &o->torch_blas_threads, 1, 1000000, "T", "torch BLAS");
  o2o_flags_int(f, "torch-threads", &o->torch_threads, 1, 1000000, "T", "torch threads");
  o2o_flags_str(f, "torch-coretype", &o->torch_coretype, "K", "torch OPENBLAS_CORETYPE");
  o2o_flags_bool(f, "json", &o->json, "results as JSON on stdout");
  o2o_flags_bool(f, "help", &help, "this text");
  o2o_flags_bool(f, "version", &version, "print the version");
  int bad = o2o_flags_parse(f, argc, argv);
  o2o_flags_destroy(f);
  if (bad) return -1;
  if (help) {
    usage(s, stdout);
    return 1;
  }
  if (version) {
    printf("o2o %s\n", O2O_VERSION);
    return 1;
  }
  return 0;
}

/* a batch as the loop would give it: real rows first when the learner mixes two buffers */
static void sample(o2o_bench_data *d, o2o_batch *b, double real_fraction) {
  o2o_bench_sample(d, b);
  if (b->is_real) {
    const int nr = (int)(real_fraction * b->size + 0.5);
    for (int i = 0; i < b->size; i++)
      b->is_real[i] = i < nr;
  }
}

int o2o_bench_learner_main(int argc, char **argv, const o2o_bench_spec *s) {
  opts o;
  int prc = parse(s, argc, argv, &o);
  if (prc) return prc > 0 ? 0 : 2;
  if (o.threads) o2o_blas_set_threads(o.threads);
  o.threads = o2o_blas_threads();
  const char *core = o2o_blas_corename();
  if (!o.torch_coretype) o.torch_coretype = core;
  const o2o_learner_algo *algo = o2o_learner_find(s->name);
  char err[512];
  if (!algo) {
    fprintf(stderr, "o2o bench %s: no learner \"%s\" (known: %s)\n", s->name, s->name,
            o2o_learner_names(0));
    return 1;
  }
  o2o_learner *l = o2o_learner_create(algo, o.obs, o.act, NULL, NULL, NULL, 1, err, sizeof err);
  if (!l) {
    fprintf(stderr, "o2o bench %s: %s\n", s->name, err);
    return 1;
  }
  const void *cfg = o2o_learner_config(l);
  float *ones = malloc(sizeof(float) * (size_t)o.obs), *zeros = calloc((size_t)o.obs, 4);
  for (int j = 0; ones && j < o.obs; j++)
    ones[j] = 1.0f;
  const double rf = o2o_learner_real_fraction(l);
  o2o_bench_data data;
  o2o_batch batch;
  o2o_bench_floor fl;
  if (!ones || !zeros || o2o_bench_data_init(&data, 100000, o.obs, o.act, 7) ||
      o2o_bench_batch_alloc(&batch, o2o_learner_batch_size(l), o.obs, o.act, rf >= 0) ||
      s->floor_build(&fl, cfg, o.obs, o.act) ||
      o2o_learner_set_data_stats(l, zeros, ones, err, sizeof err)) {
    fprintf(stderr, "o2o bench %s: could not set up the benchmark (%s)\n", s->name,
            err[0] ? err : "out of memory");
    return 1;
  }
  const char *isa;
  const double peak = o2o_bench_fma_peak(0.3, &isa);
  fprintf(stderr,
          "o2o bench %s: OpenBLAS kernel %s, %d thread(s); obs %d, act %d, batch %d rows; FMA "
          "peak %.1f GFLOP/s per core (%s); %d rounds x %d updates%s\n",
          s->name, core, o.threads, o.obs, o.act, batch.size, peak, isa, o.rounds, o.updates,
          o.torch ? " (+ torch)" : "");
  for (int i = 0; i < 20; i++) { /* warm-up: page in, let OpenBLAS start its threads */
    sample(&data, &batch, rf);
    if (o2o_learner_update(l, &batch, NULL, err, sizeof err)) {
      fprintf(stderr, "o2o bench %s: update failed: %s\n", s->name, err);
      return 1;
    }
    o2o_bench_floor_run(&fl);
  }
  double ups_o2o[O2O_BENCH_MAX_ROUNDS], ups_floor[O2O_BENCH_MAX_ROUNDS];
  double ups_torch[O2O_BENCH_MAX_ROUNDS], r_floor[O2O_BENCH_MAX_ROUNDS];
  double r_torch[O2O_BENCH_MAX_ROUNDS];
  char torch_line[1024] = "", tag[64], extra[128];
  snprintf(tag, sizeof tag, "torch_%s", s->name);
  snprintf(extra, sizeof extra, "--obs-dim %d --act-dim %d", o.obs, o.act);
  /* torch: "off" (not asked), "not installed" (asked, python has no torch: the rest is still
   * measured and the exit code is 0), "failed" (asked and it broke: exit 1), "ok" */
  const char *torch_status = o.torch ? "ok" : "off";
  if (o.torch && !o2o_bench_torch_available(o.python)) {
    fprintf(stderr,
            "o2o bench %s: PyTorch is not installed for %s (Debian: python3-torch); the torch "
            "comparison is skipped, the floor ratio and the fraction of FMA peak are measured\n",
            s->name, o.python);
    torch_status = "not installed";
  }
  int torch_ok = !strcmp(torch_status, "ok");
  double *block = malloc(sizeof(double) * (size_t)(o.updates / 10 + 1));
  if (!block) return 1;
  const double t_start = o2o_bench_now();
  for (int r = 0; r < o.rounds; r++) {
    double t_o2o = 0, t_floor = 0;
    int nb = 0;
    for (int done = 0; done < o.updates; done += 10) {
      const int n = o.updates - done < 10 ? o.updates - done : 10;
      double t = o2o_bench_now();
      for (int u = 0; u < n; u++) {
        sample(&data, &batch, rf);
        if (o2o_learner_update(l, &batch, NULL, err, sizeof err)) {
          fprintf(stderr, "o2o bench %s: update failed: %s\n", s->name, err);
          return 1;
        }
      }
      const double to = o2o_bench_now() - t;
      t = o2o_bench_now();
      for (int u = 0; u < n; u++)
        o2o_bench_floor_run(&fl);
      const double tf = o2o_bench_now() - t;
      t_o2o += to, t_floor += tf;
      block[nb++] = tf / to;
    }
    ups_o2o[r] = o.updates / t_o2o;
    ups_floor[r] = o.updates / t_floor;
    r_floor[r] = o2o_bench_median(block, nb);
    if (torch_ok) {
      ups_torch[r] = o2o_bench_torch_round(o.python, o.torch_script, tag, o.torch_coretype,
                                           o.torch_blas_threads, o.torch_threads, o.updates, extra,
                                           torch_line, sizeof torch_line);
      if (ups_torch[r] <= 0) {
        fprintf(stderr, "o2o bench %s: the torch reference failed (%s %s): %s\n", s->name, o.python,
                o.torch_script, torch_line);
        torch_ok = 0;
        torch_status = "failed";
      } else {
        r_torch[r] = ups_o2o[r] / ups_torch[r];
      }
    }
    const double el = o2o_bench_now() - t_start, eta = el / (r + 1) * (o.rounds - r - 1);
    fprintf(stderr, "round %d/%d: o2o %.1f updates/s, floor %.1f (ratio %.2f)", r + 1, o.rounds,
            ups_o2o[r], ups_floor[r], r_floor[r]);
    if (torch_ok) fprintf(stderr, ", torch %.1f (ratio %.2f)", ups_torch[r], r_torch[r]);
    fprintf(stderr, "  [%.0fs, ETA %.0fs]\n", el, eta);
  }
  const int R = o.rounds;
  const double m_o2o = o2o_bench_median(ups_o2o, R), m_floor = o2o_bench_median(ups_floor, R);
  const double m_rf = o2o_bench_median(r_floor, R);
  const double m_torch = torch_ok ? o2o_bench_median(ups_torch, R) : 0;
  const double m_rt = torch_ok ? o2o_bench_median(r_torch, R) : 0;
  const double f_o2o = s->o2o_flop(cfg, o.obs, o.act), gflops = m_o2o * f_o2o / 1e9;
  const double frac = gflops / (peak * o.threads);
  FILE *txt = o.json ? stderr : stdout;
  fprintf(txt, "o2o bench %s: obs %d, act %d, %d batch rows, kernel %s, %d thread(s)\n", s->name,
          o.obs, o.act, batch.size, core, o.threads);
  fprintf(txt,
          "  o2o %-5s update %8.1f updates/s  (median of %d rounds of %d), %.4f GFLOP/update "
          "matmul = %.1f GFLOP/s = %.0f%% of %d core(s)' FMA peak (%.1f GFLOP/s per core, %s)\n",
          s->name, m_o2o, R, o.updates, f_o2o / 1e9, gflops, 100 * frac, o.threads, peak, isa);
  fprintf(txt, "  matmul floor     %8.1f updates/s  (%d sgemm calls of %s, %.4f GFLOP)\n", m_floor,
          fl.n, s->reference, fl.flop / 1e9);
  if (torch_ok)
    fprintf(txt,
            "  PyTorch %-8s %8.1f updates/s  (OPENBLAS_CORETYPE=%s OPENBLAS_NUM_THREADS=%d, torch "
            "threads %d)\n",
            s->name, m_torch, o.torch_coretype, o.torch_blas_threads, o.torch_threads);
  fprintf(txt, "  o2o / floor  %.2f   (median of per-round ratios; target >= 1.0)\n", m_rf);
  if (torch_ok)
    fprintf(txt, "  o2o / torch  %.2f   (target >= 1.3 at 1 thread, >= 2 at 2 threads)\n", m_rt);
  else if (o.torch)
    fprintf(txt, "  o2o / torch  n/a    (torch %s)\n", torch_status);
  if (o.json) {
    FILE *f = stdout;
    {
      fprintf(f,
              "{\"bench\": \"%s\", \"version\": \"%s\", \"openblas_core\": \"%s\", \"threads\": "
              "%d, \"obs\": %d, \"act\": %d, \"batch_rows\": %d, \"rounds\": %d, \"updates\": "
              "%d,\n \"o2o_updates_per_s\": %.2f, \"floor_updates_per_s\": %.2f, "
              "\"o2o_gflop_per_update\": %.6f, \"floor_gflop_per_update\": %.6f, "
              "\"floor_sgemm_calls\": %d, \"ratio_o2o_floor\": %.4f, \"fma_peak_gflops\": %.2f, "
              "\"fma_isa\": \"%s\", \"fraction_of_peak\": %.4f, \"torch\": \"%s\"",
              s->name, O2O_VERSION, core, o.threads, o.obs, o.act, batch.size, R, o.updates, m_o2o,
              m_floor, f_o2o / 1e9, fl.flop / 1e9, fl.n, m_rf, peak, isa, frac, torch_status);
      if (torch_ok)
        o2o_bench_json_torch(f, m_torch, o.torch_coretype, o.torch_blas_threads, o.torch_threads,
                             m_rt);
      o2o_bench_json_rounds(f, ups_o2o, ups_floor, torch_ok ? ups_torch : NULL, R);
    }
  }
  free(block);
  free(ones);
  free(zeros);
  o2o_bench_floor_free(&fl);
  o2o_bench_batch_free(&batch);
  o2o_bench_data_free(&data);
  o2o_learner_destroy(l);
  return !strcmp(torch_status, "failed") ? 1 : 0;
}
