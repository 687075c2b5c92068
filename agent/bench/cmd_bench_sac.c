/* cmd_bench_sac.c: `o2o bench sac` - SAC updates/s against, in the same run and interleaved
 * round by round, (1) the matmul-only floor of one CORL-style SAC update (the same sgemm
 * shapes replayed with nothing else) and optionally (2) the PyTorch reference
 * agent/bench/torch/torch_sac.py (CORL's SAC-N update with N = 2) as a subprocess. Ratios
 * are taken round by round (the machine is noisy) and their median reported, with the
 * OpenBLAS kernel and thread counts beside every figure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_common.h"
#include "nn/blas_setup.h"
#include "nn/nn.h"
#include "cli/o2o_commands.h"
#include "o2o_version.h"
#include "learn/sac.h"
#include "cli/cli.h"

#define MAX_ROUNDS O2O_BENCH_MAX_ROUNDS
/* The reference scripts live in the source tree (agent/bench/torch/). */
#define TORCH_SCRIPT_DEFAULT O2O_TORCH_DIR "/torch_sac.py"

typedef struct {
  int batch, hidden, obs, act, critics, layernorm;
  int redq, critic_steps, target_subset; /* --redq: WSRL's REDQ-SAC update */
  int updates, rounds, threads, torch, torch_blas_threads, torch_threads;
  int json; /* results as JSON on stdout (the text goes to stderr) */
  const char *torch_script, *python, *torch_coretype;
} bench_opts;

/* CORL sac_n.py order (torch_sac.py): alpha step (actor forward), actor step (actor and N
 * critics forward, backward through the critics with weight and input gradients, actor
 * backward), critic step (actor forward on s', N target forwards, N critic forwards and
 * backwards). */
static int floor_build_redq(o2o_bench_floor *f, const bench_opts *o, const int *A, const int *C);

static int floor_build(o2o_bench_floor *f, const bench_opts *o) {
  int A[O2O_NN_MAX_LAYERS + 1], C[O2O_NN_MAX_LAYERS + 1], nl = 3, B = o->batch, rc = 0;
  A[0] = o->obs, C[0] = o->obs + o->act;
  A[1] = A[2] = C[1] = C[2] = o->hidden;
  A[3] = 2 * o->act, C[3] = 1;
  if (o->redq) return floor_build_redq(f, o, A, C);
  /* 3 + 3 + 3N + 6N + 5 + 3 + 3N + 3N + 5N calls */
  if (o2o_bench_floor_init(f, 16 + 20 * o->critics)) return -1;
  rc |= o2o_bench_floor_mlp(f, A, nl, B, 1, 0, 0);
  rc |= o2o_bench_floor_mlp(f, A, nl, B, 1, 0, 0);
  for (int k = 0; k < o->critics; k++)
    rc |= o2o_bench_floor_mlp(f, C, nl, B, 1, 0, 0);
  for (int k = 0; k < o->critics; k++)
    rc |= o2o_bench_floor_mlp(f, C, nl, B, 0, 1, 1);
  rc |= o2o_bench_floor_mlp(f, A, nl, B, 0, 1, 0);
  rc |= o2o_bench_floor_mlp(f, A, nl, B, 1, 0, 0);
  for (int k = 0; k < o->critics; k++)
    rc |= o2o_bench_floor_mlp(f, C, nl, B, 1, 0, 0);
  for (int k = 0; k < o->critics; k++)
    rc |= o2o_bench_floor_mlp(f, C, nl, B, 1, 0, 0);
  for (int k = 0; k < o->critics; k++)
    rc |= o2o_bench_floor_mlp(f, C, nl, B, 0, 1, 0);
  return rc;
}

/* REDQ-SAC as WSRL runs it (agents/sac.py update_high_utd), per critic step on B/K rows:
 * actor forward on s', N target forwards, N critic forwards and backwards (weight gradients);
 * then the actor step on B rows: actor forward, N critic forwards and backwards (with input
 * gradients), actor backward. */
static int floor_build_redq(o2o_bench_floor *f, const bench_opts *o, const int *A, const int *C) {
  const int nl = 3, B = o->batch, K = o->critic_steps, m = B / K, N = o->critics;
  int rc = 0;
  if (o2o_bench_floor_init(f, K * (3 + 3 * N + 3 * N + 6 * N) + 3 + 3 * N + 6 * N + 6 + 8))
    return -1;
  for (int k = 0; k < K; k++) {
    rc |= o2o_bench_floor_mlp(f, A, nl, m, 1, 0, 0);
    for (int j = 0; j < N; j++)
      rc |= o2o_bench_floor_mlp(f, C, nl, m, 1, 0, 0);
    for (int j = 0; j < N; j++)
      rc |= o2o_bench_floor_mlp(f, C, nl, m, 1, 0, 0);
    for (int j = 0; j < N; j++)
      rc |= o2o_bench_floor_mlp(f, C, nl, m, 0, 1, 0);
  }
  rc |= o2o_bench_floor_mlp(f, A, nl, B, 1, 0, 0);
  for (int j = 0; j < N; j++)
    rc |= o2o_bench_floor_mlp(f, C, nl, B, 1, 0, 0);
  for (int j = 0; j < N; j++)
    rc |= o2o_bench_floor_mlp(f, C, nl, B, 0, 1, 1);
  rc |= o2o_bench_floor_mlp(f, A, nl, B, 0, 1, 0);
  return rc;
}

/* Matmul FLOPs of one o2o update (sac.c): actor forward on 2B rows, target forward on B,
 * critics forward on 2B; critic backward: weight gradients from B rows, hidden input
 * gradients for 2B rows, first-layer input gradient for B rows; actor backward on B rows. */
static double o2o_flop(const bench_opts *o) {
  double B = o->batch, H = o->hidden, N = o->critics, Ob = o->obs, Ac = o->act;
  double A = Ob * H + H * H + H * 2 * Ac, C = (Ob + Ac) * H + H * H + H, C1 = (Ob + Ac) * H;
  double A1 = Ob * H;
  if (o->redq) { /* sac_redq.c: K critic steps on B/K rows, then the actor step on B */
    double m = B / o->critic_steps, mac = 0, S = o->target_subset ? o->target_subset : N;
    /* actor, target (only the drawn subset), critic forwards */
    mac += o->critic_steps * (m * A + m * S * C + m * N * C);
    mac += o->critic_steps * (m * N * C + m * N * (C - C1));  /* critic weight + hidden grads */
    mac += B * A + B * N * C + B * N * (C - C1) + B * N * C1; /* actor step: forwards, dQ/da */
    mac += B * A + B * (A - A1);                              /* actor backward */
    return 2 * mac;
  }
  double mac = 2 * B * A + B * N * C + 2 * B * N * C;   /* forwards */
  mac += B * N * C + 2 * B * N * (C - C1) + B * N * C1; /* critic backward */
  mac += B * A + B * (A - A1);                          /* actor backward */
  return 2 * mac;
}

/* ---------------- o2o SAC on random in-memory replay data ---------------- */
typedef struct {
  o2o_sac *sac;
  int64_t rows;
  float *obs, *act, *rew, *next_obs, *done;
  o2o_batch batch;
  float *bmem;
  o2o_nn_rng rng;
} sac_run;

static int sac_run_init(sac_run *r, const bench_opts *o) {
  memset(r, 0, sizeof *r);
  o2o_sac_config c;
  o2o_sac_config_default(&c);
  c.hidden = o->hidden;
  c.batch_size = o->batch;
  c.num_critics = o->critics;
  c.critic_layernorm = o->layernorm;
  if (o->redq) {
    c.critic_steps = o->critic_steps;
    c.target_subset = o->target_subset;
    c.backup_entropy = 0;
  }
  char err[256];
  if (o2o_sac_config_check(&c, o->obs, o->act, err, sizeof err)) {
    fprintf(stderr, "o2o bench sac: %s\n", err);
    return -1;
  }
  r->sac = o2o_sac_create(o->obs, o->act, &c, 1);
  r->rows = 100000;
  size_t n = (size_t)r->rows, O = (size_t)o->obs, A = (size_t)o->act, B = (size_t)o->batch;
  r->obs = malloc(n * O * sizeof(float));
  r->act = malloc(n * A * sizeof(float));
  r->rew = malloc(n * sizeof(float));
  r->next_obs = malloc(n * O * sizeof(float));
  r->done = malloc(n * sizeof(float));
  r->bmem = malloc(B * (2 * O + A + 2) * sizeof(float));
  if (!r->sac || !r->obs || !r->act || !r->rew || !r->next_obs || !r->done || !r->bmem) return -1;
  o2o_nn_rng_seed(&r->rng, 7);
  o2o_nn_rng_normal(&r->rng, r->obs, (int)(n * O));
  o2o_nn_rng_normal(&r->rng, r->next_obs, (int)(n * O));
  o2o_nn_rng_normal(&r->rng, r->rew, (int)n);
  for (size_t i = 0; i < n * A; i++)
    r->act[i] = 2.0f * o2o_nn_rng_uniform(&r->rng) - 1.0f;
  for (size_t i = 0; i < n; i++)
    r->done[i] = o2o_nn_rng_uniform(&r->rng) < 0.01f;
  o2o_batch *b = &r->batch;
  *b = (o2o_batch){.size = o->batch, .obs_dim = o->obs, .act_dim = o->act};
  b->obs = r->bmem;
  b->act = b->obs + B * O;
  b->rew = b->act + B * A;
  b->next_obs = b->rew + B;
  b->done = b->next_obs + B * O;
  return 0;
}

static int sac_run_updates(sac_run *r, int n, char *err, size_t errlen) {
  o2o_batch *b = &r->batch;
  const size_t O = (size_t)b->obs_dim, A = (size_t)b->act_dim;
  for (int u = 0; u < n; u++) {
    for (int i = 0; i < b->size; i++) { /* sample, as a replay buffer would */
      size_t j = (size_t)(o2o_nn_rng_next(&r->rng) % (uint64_t)r->rows);
      memcpy(b->obs + i * O, r->obs + j * O, O * sizeof(float));
      memcpy(b->act + i * A, r->act + j * A, A * sizeof(float));
      memcpy(b->next_obs + i * O, r->next_obs + j * O, O * sizeof(float));
      b->rew[i] = r->rew[j];
      b->done[i] = r->done[j];
    }
    if (o2o_sac_update(r->sac, b, NULL, err, errlen)) return -1;
  }
  return 0;
}

static void sac_run_free(sac_run *r) {
  o2o_sac_destroy(r->sac);
  free(r->obs);
  free(r->act);
  free(r->rew);
  free(r->next_obs);
  free(r->done);
  free(r->bmem);
}

/* ---------------- the command ---------------- */
static void usage(FILE *f) {
  fprintf(f,
          "usage: o2o bench sac [options]\n"
          "SAC updates/s (random in-memory replay data) vs the matmul-only floor of one\n"
          "CORL-style update (same sgemm shapes, nothing else) and optionally PyTorch,\n"
          "o2o and the floor alternate every 10 updates, torch runs between rounds;\n"
          "ratios are medians of per-round ratios.\n\n"
          "  --updates N        updates per round and program (default 300)\n"
          "  --rounds R         interleaved rounds (default 3)\n"
          "  --threads T        OpenBLAS threads for o2o and the floor (default: o2o's, 1)\n"
          "  --batch B          batch size (256)     --hidden H   units (256, 2 layers)\n"
          "  --obs D --act D    dimensions (11, 3: hopper)\n"
          "  --critics N        ensemble size (2)    --layernorm  LayerNorm in critics\n"
          "  --redq             REDQ-SAC as WSRL fine-tunes with: 10 LayerNorm critics, target\n"
          "                     min over 2 drawn at random, batch 1024 in 4 critic steps of\n"
          "                     256 (+ Polyak each), then one actor and temperature step\n"
          "  --torch            also run the PyTorch reference (CORL SAC-N, N=2; not --redq)\n"
          "  --torch-script P   (default %s)\n"
          "  --python P         (default /usr/bin/python3)\n"
          "  --torch-blas-threads T  OPENBLAS_NUM_THREADS of torch (default 2: its best)\n"
          "  --torch-threads T  torch.set_num_threads (default 1)\n"
          "  --torch-coretype K OPENBLAS_CORETYPE of torch (default: o2o's kernel)\n"
          "  --json             the results as JSON on stdout (the text on stderr)\n"
          "  --version, --help\n",
          TORCH_SCRIPT_DEFAULT);
}

static int parse_args(int argc, char **argv, bench_opts *o) {
  *o = (bench_opts){.batch = 256,
                    .hidden = 256,
                    .obs = 11,
                    .act = 3,
                    .critics = 2,
                    .updates = 300,
                    .rounds = 3,
                    .threads = 0,
                    .torch_blas_threads = 2,
                    .torch_threads = 1,
                    .torch_script = TORCH_SCRIPT_DEFAULT,
                    .python = "/usr/bin/python3"};
  int help = 0, version = 0, redq = 0;
  o2o_flags *f = o2o_flags_create("o2o bench sac");
  o2o_flags_bool(f, "redq", &redq, "WSRL's REDQ-SAC presets");
  o2o_flags_int(f, "updates", &o->updates, 1, 1000000, "N", "updates per round");
  o2o_flags_int(f, "rounds", &o->rounds, 1, MAX_ROUNDS, "R", "rounds");
  o2o_flags_int(f, "threads", &o->threads, 1, 1000000, "T", "OpenBLAS threads");
  o2o_flags_int(f, "batch", &o->batch, 1, 1000000, "B", "batch size");
  o2o_flags_int(f, "hidden", &o->hidden, 1, 1000000, "H", "hidden units");
  o2o_flags_int(f, "obs", &o->obs, 1, 1000000, "D", "obs dim");
  o2o_flags_int(f, "act", &o->act, 1, 1000000, "D", "act dim");
  o2o_flags_int(f, "critics", &o->critics, 1, 1000000, "N", "ensemble size");
  o2o_flags_bool(f, "layernorm", &o->layernorm, "LayerNorm in critics");
  o2o_flags_bool(f, "torch", &o->torch, "also run PyTorch");
  o2o_flags_str(f, "torch-script", &o->torch_script, "P", "PyTorch reference");
  o2o_flags_str(f, "python", &o->python, "P", "python");
  o2o_flags_int(f, "torch-blas-threads", &o->torch_blas_threads, 1, 1000000, "T", "torch BLAS");
  o2o_flags_int(f, "torch-threads", &o->torch_threads, 1, 1000000, "T", "torch threads");
  o2o_flags_str(f, "torch-coretype", &o->torch_coretype, "K", "torch OPENBLAS_CORETYPE");
  o2o_flags_bool(f, "json", &o->json, "results as JSON on stdout");
  o2o_flags_bool(f, "help", &help, "this text");
  o2o_flags_bool(f, "version", &version, "print the version");
  /* --redq sets presets that the other flags then override, wherever it stands */
  if (o2o_flags_parse(f, argc, argv)) {
    o2o_flags_destroy(f);
    return -1;
  }
  if (redq) {
    bench_opts given = *o;
    o->redq = 1;
    o->critics = 10;
    o->layernorm = 1;
    o->batch = 1024;
    o->critic_steps = 4;
    o->target_subset = 2;
    if (o2o_flags_given(f, "critics")) o->critics = given.critics;
    if (o2o_flags_given(f, "batch")) o->batch = given.batch;
  }
  o2o_flags_destroy(f);
  if (help) {
    usage(stdout);
    return 1;
  }
  if (version) {
    printf("o2o %s\n", O2O_VERSION);
    return 1;
  }
  return 0;
}

int o2o_bench_sac(int argc, char **argv) {
  bench_opts o;
  int prc = parse_args(argc, argv, &o);
  if (prc) return prc > 0 ? 0 : 2;
  if (o.redq && (o.torch || o.batch % o.critic_steps)) {
    fprintf(stderr, "o2o bench sac: --redq %s\n",
            o.torch ? "has no PyTorch reference yet (drop --torch)"
                    : "needs a batch that splits into 4 critic steps");
    return 2;
  }
  if (o.threads) o2o_blas_set_threads(o.threads);
  o.threads = o2o_blas_threads();
  const char *core = o2o_blas_corename();
  if (!o.torch_coretype) o.torch_coretype = core;

  sac_run run;
  o2o_bench_floor fl;
  char err[512];
  if (sac_run_init(&run, &o) || floor_build(&fl, &o)) {
    fprintf(stderr,
            "o2o bench sac: could not set up the benchmark (see above, or out of memory)\n");
    return 1;
  }
  fprintf(stderr,
          "o2o bench sac: OpenBLAS kernel %s, %d thread(s); batch %d, hidden 2x%d, obs %d, "
          "act %d, %d critics; %d rounds x %d updates%s\n",
          core, o.threads, o.batch, o.hidden, o.obs, o.act, o.critics, o.rounds, o.updates,
          o.torch ? " (+ torch)" : "");
  /* warm-up: page in, let OpenBLAS start its threads */
  if (sac_run_updates(&run, 20, err, sizeof err)) {
    fprintf(stderr, "o2o bench sac: update failed: %s\n", err);
    return 1;
  }
  for (int i = 0; i < 20; i++)
    o2o_bench_floor_run(&fl);

  double ups_o2o[MAX_ROUNDS], ups_floor[MAX_ROUNDS], ups_torch[MAX_ROUNDS];
  double r_floor[MAX_ROUNDS], r_torch[MAX_ROUNDS];
  char torch_line[1024] = "";
  int torch_ok = o.torch;
  double *block_ratio = malloc(sizeof(double) * (size_t)(o.updates / 10 + 1));
  if (!block_ratio) return 1;
  double t_start = o2o_bench_now();
  for (int r = 0; r < o.rounds; r++) {
    /* o2o and the floor alternate in blocks of 10 updates, so both see the same load; the
     * round's ratio is the median of the block ratios (robust to bursts of other work) */
    double t_o2o = 0, t_floor = 0;
    int nb = 0;
    for (int done = 0; done < o.updates; done += 10) {
      int n = o.updates - done < 10 ? o.updates - done : 10;
      double t = o2o_bench_now();
      if (sac_run_updates(&run, n, err, sizeof err)) {
        fprintf(stderr, "o2o bench sac: update failed: %s\n", err);
        return 1;
      }
      double to = o2o_bench_now() - t;
      t = o2o_bench_now();
      for (int u = 0; u < n; u++)
        o2o_bench_floor_run(&fl);
      double tf = o2o_bench_now() - t;
      t_o2o += to;
      t_floor += tf;
      block_ratio[nb++] = tf / to;
    }
    ups_o2o[r] = o.updates / t_o2o;
    ups_floor[r] = o.updates / t_floor;
    r_floor[r] = o2o_bench_median(block_ratio, nb);
    if (torch_ok) {
      ups_torch[r] = o2o_bench_torch_round(o.python, o.torch_script, "torch_sac", o.torch_coretype,
                                           o.torch_blas_threads, o.torch_threads, o.updates, "",
                                           torch_line, sizeof torch_line);
      if (ups_torch[r] <= 0) {
        fprintf(stderr, "o2o bench sac: the torch reference failed (%s %s): %s\n", o.python,
                o.torch_script, torch_line);
        torch_ok = 0;
      } else {
        r_torch[r] = ups_o2o[r] / ups_torch[r];
      }
    }
    double el = o2o_bench_now() - t_start, eta = el / (r + 1) * (o.rounds - r - 1);
    fprintf(stderr, "round %d/%d: o2o %.1f updates/s, floor %.1f (ratio %.2f)", r + 1, o.rounds,
            ups_o2o[r], ups_floor[r], r_floor[r]);
    if (torch_ok) fprintf(stderr, ", torch %.1f (ratio %.2f)", ups_torch[r], r_torch[r]);
    fprintf(stderr, "  [%.0fs, ETA %.0fs]\n", el, eta);
  }
  int R = o.rounds;
  double m_o2o = o2o_bench_median(ups_o2o, R), m_floor = o2o_bench_median(ups_floor, R),
         m_rf = o2o_bench_median(r_floor, R);
  double m_torch = torch_ok ? o2o_bench_median(ups_torch, R) : 0,
         m_rt = torch_ok ? o2o_bench_median(r_torch, R) : 0;
  double f_o2o = o2o_flop(&o), f_floor = fl.flop;

  FILE *txt = o.json ? stderr : stdout;
  fprintf(txt, "o2o bench sac%s: batch %d, hidden 2x%d, obs %d, act %d, %d critics%s\n",
          o.redq ? " --redq" : "", o.batch, o.hidden, o.obs, o.act, o.critics,
          o.layernorm ? " (LayerNorm)" : "");
  if (o.redq)
    fprintf(txt,
            "  REDQ: %d critic steps of %d rows (target min over %d of %d critics), then one actor "
            "and temperature step on %d\n",
            o.critic_steps, o.batch / o.critic_steps, o.target_subset, o.critics, o.batch);
  fprintf(
      txt,
      "  o2o SAC update   %8.1f updates/s  (median of %d rounds of %d)  kernel %s, %d thread(s), "
      "%.4f GFLOP/update matmul\n",
      m_o2o, R, o.updates, core, o.threads, f_o2o / 1e9);
  fprintf(txt,
          "  matmul floor     %8.1f updates/s  (%d sgemm calls of a %s update, %.4f GFLOP)  "
          "kernel %s, "
          "%d thread(s)\n",
          m_floor, fl.n, o.redq ? "WSRL REDQ" : "CORL-style", f_floor / 1e9, core, o.threads);
  if (torch_ok)
    fprintf(
        txt,
        "  PyTorch CORL SAC %8.1f updates/s  (OPENBLAS_CORETYPE=%s OPENBLAS_NUM_THREADS=%d, torch "
        "threads %d)\n",
        m_torch, o.torch_coretype, o.torch_blas_threads, o.torch_threads);
  /* REDQ's target is the offline-learners issue's (>= 1.0x, as IQL/CQL/H2O); plain SAC keeps
   * the base's 0.80 */
  fprintf(txt, "  o2o / floor  %.2f   (median of per-round ratios; target >= %.2f)\n", m_rf,
          o.redq ? 1.0 : 0.80);
  if (torch_ok) fprintf(txt, "  o2o / torch  %.2f   (target >= 1.5)\n", m_rt);

  if (o.json) {
    FILE *f = stdout;
    {
      fprintf(f,
              "{\"bench\": \"%s\", \"version\": \"%s\", \"openblas_core\": \"%s\", "
              "\"threads\": %d, \"batch\": %d, \"hidden\": %d, \"obs\": %d, \"act\": %d, "
              "\"critics\": %d, \"layernorm\": %d, \"rounds\": %d, \"updates\": %d,\n"
              " \"o2o_updates_per_s\": %.2f, \"floor_updates_per_s\": %.2f, "
              "\"o2o_gflop_per_update\": %.6f, \"floor_gflop_per_update\": %.6f, "
              "\"floor_sgemm_calls\": %d, \"ratio_o2o_floor\": %.4f",
              o.redq ? "sac_redq" : "sac", O2O_VERSION, core, o.threads, o.batch, o.hidden, o.obs,
              o.act, o.critics, o.layernorm, R, o.updates, m_o2o, m_floor, f_o2o / 1e9,
              f_floor / 1e9, fl.n, m_rf);
      if (torch_ok)
        o2o_bench_json_torch(f, m_torch, o.torch_coretype, o.torch_blas_threads, o.torch_threads,
                             m_rt);
      o2o_bench_json_rounds(f, ups_o2o, ups_floor, torch_ok ? ups_torch : NULL, R);
    }
  }
  free(block_ratio);
  sac_run_free(&run);
  o2o_bench_floor_free(&fl);
  return o.torch && !torch_ok ? 1 : 0; /* asked for torch and did not get it */
}
