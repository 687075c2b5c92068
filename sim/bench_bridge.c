/* bench_bridge.c: o2o-bench-bridge, what the process split costs in env throughput.
 *
 * In one run, round by round (interleaved, so a busy machine slows every figure alike),
 * env steps/s of
 *   a16, a64: the in-process vecenv (o2o_vecenv_step) with 16 / 64 envs, one thread;
 *   b: one o2o-sim child x 16 envs over ipc, through the pool;
 *   c: one o2o-sim child x 64 envs;
 *   d: two o2o-sim children x 16 envs (one batch of 32).
 * Every side draws the same kind of uniform random actions in the bench process, so the
 * agent-side cost of producing actions is inside every figure. Wall clock. Each pool
 * figure is measured in two ways (--mode both, the default):
 *   lockstep: o2o_pool_step on the whole batch, one sub-batch per process: the agent
 *          waits for every env, then acts on all of them (the simulator idles for one
 *          round trip per step);
 *   pipelined: --chunks sub-batches per process driven one by one (o2o_pool_chunk_recv
 *          -> actions for those envs -> o2o_pool_chunk_send): each sub-batch goes on as
 *          soon as its own reply is in, so the server always has queued work while the
 *          previous reply travels, as for an agent that acts per sub-batch (EnvPool's
 *          async mode). Every env still takes every step; only the order changes.
 * Ratios (b/a16, c/a64, d/b per mode) are medians over rounds of per-round ratios of
 * figures measured back to back. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "o2o_bridge.h"
#include "o2o_sim.h"
#include "o2o_version.h"
#include "sim_internal.h"
#include "bench_common.h"

#define MAX_ROUNDS 64

typedef struct {
  const char *scenario, *json, *mode, *sim_exe;
  int env_steps, rounds, chunks, pin, timeout_ms;
} bench_args;

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: o2o-bench-bridge [--scenario NAME] [--env-steps S] [--rounds R]\n"
      "                        [--mode lockstep|pipelined|both] [--chunks C] [--pin auto|on|off]\n"
      "                        [--sim-exe PATH] [--json FILE|-]\n"
      "Env steps/s of the in-process vecenv (a16, a64) and of o2o-sim children driven\n"
      "through the pool over ipc: (b) 1 x 16 envs, (c) 1 x 64, (d) 2 x 16; interleaved\n"
      "rounds; prints every figure, CPU time per env step, and the median per-round\n"
      "ratios b/a16, c/a64, d/b for each mode.\n"
      "  --scenario NAME  default hopper\n"
      "  --env-steps S    env steps per figure per round (default 8000)\n"
      "  --rounds R       default 11\n"
      "  --mode M         lockstep: o2o_pool_step on the whole batch (the agent waits\n"
      "                   for every env); pipelined: C sub-batches per process, each\n"
      "                   stepped again as soon as its reply is in (an agent acting per\n"
      "                   sub-batch); both (default)\n"
      "  --chunks C       sub-batches per process when pipelined (default 2)\n"
      "  --pin auto|on|off  pin each o2o-sim child to its own CPU (default auto: pools of\n"
      "                   2+ children, as the pool itself does)\n"
      "  --sim-exe PATH   o2o-sim to spawn (default: next to this program, then PATH)\n"
      "  --json FILE|-    machine-readable results\n"
      "  --help, --version\n");
}

/* CPU time (s) of process pid's main thread (*main) and of its other threads (*rest:
 * ZeroMQ's I/O thread), from /proc/PID/task/TID/schedstat (nanoseconds on the CPU). */
static void proc_cpu_s(int pid, double *main, double *rest) {
  char path[96];
  snprintf(path, sizeof path, "/proc/%d/task", pid);
  DIR *d = opendir(path);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char f[320];
    snprintf(f, sizeof f, "/proc/%d/task/%s/schedstat", pid, e->d_name);
    FILE *fp = fopen(f, "r");
    unsigned long long ns = 0;
    if (fp) {
      if (fscanf(fp, "%llu", &ns) != 1) ns = 0;
      fclose(fp);
    }
    if (atoi(e->d_name) == pid)
      *main += ns * 1e-9;
    else
      *rest += ns * 1e-9;
  }
  closedir(d);
}

static void children_cpu_s(o2o_pool *p, double *main, double *rest) {
  *main = *rest = 0;
  for (int k = 0; k < o2o_pool_num_procs(p); k++)
    proc_cpu_s((int)o2o_pool_child_pid(p, k), main, rest);
}

static void random_actions(o2o_rng *r, float *a, int n, int act_dim, const float *lo,
                           const float *hi) {
  for (int i = 0; i < n; i++)
    for (int c = 0; c < act_dim; c++)
      a[i * act_dim + c] = (float)o2o_rng_range(r, lo[c], hi[c]);
}

typedef struct {
  const char *name;
  int procs, envs; /* procs = 0: in-process vecenv */
  int pipelined;
  o2o_vecenv *vec;
  o2o_pool *pool;
  float *actions;
  double rate[MAX_ROUNDS], cpu_us[MAX_ROUNDS], sim_cpu_us[MAX_ROUNDS], io_cpu_us[MAX_ROUNDS];
} config;

/* Returns env steps/s; *cpu_us = this process's CPU time per env step (microseconds). */
static double run_vec(config *c, o2o_rng *r, int env_steps, double *cpu_us) {
  const o2o_env_spec *s = o2o_vecenv_spec(c->vec);
  int iters = env_steps / c->envs;
  char err[O2O_SIM_ERRLEN];
  o2o_step_result res;
  double c0 = o2o_bench_seconds(CLOCK_PROCESS_CPUTIME_ID), t0 = o2o_bench_seconds(CLOCK_MONOTONIC);
  for (int t = 0; t < iters; t++) {
    random_actions(r, c->actions, c->envs, s->act_dim, s->act_low, s->act_high);
    if (o2o_vecenv_step(c->vec, c->actions, &res, err, sizeof err)) {
      fprintf(stderr, "o2o-bench-bridge: %s: %s\n", c->name, err);
      exit(1);
    }
  }
  double dt = o2o_bench_seconds(CLOCK_MONOTONIC) - t0;
  *cpu_us = (o2o_bench_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0) / ((double)iters * c->envs) * 1e6;
  return iters * c->envs / dt;
}

static double run_pool(config *c, o2o_rng *r, int env_steps, int async, double *cpu_us,
                       double *sim_cpu_us, double *io_cpu_us) {
  const o2o_bridge_spec *s = o2o_pool_spec(c->pool);
  const int n = s->num_envs, ad = s->act_dim;
  char err[O2O_BRIDGE_ERRLEN];
  o2o_bridge_batch b;
  double m0, r0;
  children_cpu_s(c->pool, &m0, &r0);
  double c0 = o2o_bench_seconds(CLOCK_PROCESS_CPUTIME_ID), t0 = o2o_bench_seconds(CLOCK_MONOTONIC);
  long done = 0;
  if (!async) {
    int iters = env_steps / n;
    for (int t = 0; t < iters; t++) {
      random_actions(r, c->actions, n, ad, s->act_low, s->act_high);
      if (o2o_pool_step(c->pool, c->actions, &b, err, sizeof err)) {
        fprintf(stderr, "o2o-bench-bridge: %s: %s\n", c->name, err);
        exit(1);
      }
    }
    done = (long)iters * n;
  } else {
    int nc = o2o_pool_num_chunks(c->pool), inflight = 0;
    for (int k = 0; k < nc; k++) {
      int first, count;
      o2o_pool_chunk_range(c->pool, k, &first, &count);
      random_actions(r, c->actions + first * ad, count, ad, s->act_low, s->act_high);
      if (o2o_pool_chunk_send(c->pool, k, c->actions + first * ad, err, sizeof err)) goto fail;
      inflight++;
    }
    while (inflight) {
      int k, first, count;
      if (o2o_pool_chunk_recv(c->pool, &k, &b, err, sizeof err)) goto fail;
      inflight--;
      o2o_pool_chunk_range(c->pool, k, &first, &count);
      done += count;
      if (done + inflight * (long)count < env_steps) {
        random_actions(r, c->actions + first * ad, count, ad, s->act_low, s->act_high);
        if (o2o_pool_chunk_send(c->pool, k, c->actions + first * ad, err, sizeof err)) goto fail;
        inflight++;
      }
    }
  }
  double dt = o2o_bench_seconds(CLOCK_MONOTONIC) - t0;
  *cpu_us = (o2o_bench_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0) / (double)done * 1e6;
  if (sim_cpu_us) {
    double m1, r1;
    children_cpu_s(c->pool, &m1, &r1);
    *sim_cpu_us = (m1 - m0) / (double)done * 1e6;
    *io_cpu_us = (r1 - r0) / (double)done * 1e6;
  }
  return done / dt;
fail:
  fprintf(stderr, "o2o-bench-bridge: %s: %s\n", c->name, err);
  exit(1);
}

int main(int argc, char **argv) {
  bench_args a = {"hopper", NULL, "both", NULL, 8000, 11, 2, 0, 10000};
  for (int i = 1; i < argc; i++) {
    const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(f, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(f, "--version")) {
      printf("o2o-bench-bridge %s\n", O2O_VERSION);
      return 0;
    } else if (!strcmp(f, "--pin") && v) {
      if (!strcmp(v, "auto"))
        a.pin = 0;
      else if (!strcmp(v, "on"))
        a.pin = 1;
      else if (!strcmp(v, "off"))
        a.pin = -1;
      else {
        fprintf(stderr, "o2o-bench-bridge: --pin wants auto, on or off, got '%s'\n", v);
        return 2;
      }
    } else if (!strcmp(f, "--scenario") && v) {
      a.scenario = v;
    } else if (!strcmp(f, "--sim-exe") && v) {
      a.sim_exe = v;
    } else if (!strcmp(f, "--json") && v) {
      a.json = v;
    } else if (!strcmp(f, "--mode") && v) {
      if (strcmp(v, "lockstep") && strcmp(v, "pipelined") && strcmp(v, "both")) {
        fprintf(stderr, "o2o-bench-bridge: --mode wants lockstep, pipelined or both, got '%s'\n",
                v);
        return 2;
      }
      a.mode = v;
    } else if (!strcmp(f, "--env-steps")) {
      if (o2o_bench_parse_int("o2o-bench-bridge", f, v, 1000, 100000000, &a.env_steps)) return 2;
    } else if (!strcmp(f, "--rounds")) {
      if (o2o_bench_parse_int("o2o-bench-bridge", f, v, 1, MAX_ROUNDS, &a.rounds)) return 2;
    } else if (!strcmp(f, "--chunks")) {
      if (o2o_bench_parse_int("o2o-bench-bridge", f, v, 1, 16, &a.chunks)) return 2;
    } else {
      fprintf(stderr, "o2o-bench-bridge: unknown flag or missing value: %s (see --help)\n", f);
      return 2;
    }
    i++;
  }
  const int want_lock = strcmp(a.mode, "pipelined") != 0,
            want_pipe = strcmp(a.mode, "lockstep") != 0;
  char err[O2O_BRIDGE_ERRLEN];
  o2o_scenario sc;
  if (o2o_scenario_load(&sc, a.scenario, err, sizeof err)) {
    fprintf(stderr, "o2o-bench-bridge: %s\n", err);
    return 1;
  }
  /* Measured in this order (reversed every other round): ratio partners are neighbours. */
  config all[8] = {{.name = "a16", .envs = 16},
                   {.name = "b_lock", .procs = 1, .envs = 16},
                   {.name = "b_pipe", .procs = 1, .envs = 16, .pipelined = 1},
                   {.name = "d_pipe", .procs = 2, .envs = 16, .pipelined = 1},
                   {.name = "d_lock", .procs = 2, .envs = 16},
                   {.name = "c_lock", .procs = 1, .envs = 64},
                   {.name = "c_pipe", .procs = 1, .envs = 64, .pipelined = 1},
                   {.name = "a64", .envs = 64}};
  config cf[8];
  int nc = 0;
  for (int i = 0; i < 8; i++)
    if (!all[i].procs || (all[i].pipelined ? want_pipe : want_lock)) cf[nc++] = all[i];
  for (int i = 0; i < nc; i++) {
    config *c = &cf[i];
    int total = c->procs ? c->procs * c->envs : c->envs;
    if (!c->procs) {
      c->vec = o2o_vecenv_create(&sc, O2O_VARIANT_REAL, c->envs, err, sizeof err);
      if (c->vec) {
        uint64_t seeds[64];
        for (int j = 0; j < c->envs; j++)
          seeds[j] = (uint64_t)j;
        o2o_vecenv_reset(c->vec, seeds, NULL, err, sizeof err);
      }
    } else {
      o2o_pool_config pc = {.scenario = a.scenario,
                            .num_procs = c->procs,
                            .envs_per_proc = c->envs,
                            .timeout_ms = a.timeout_ms,
                            .quiet = 1,
                            .sim_exe = a.sim_exe};
      o2o_pool_options po = {.chunks_per_proc = c->pipelined ? a.chunks : 1, .pin_cpus = a.pin};
      c->pool = o2o_pool_create_opts(&pc, &po, err, sizeof err);
      if (c->pool && o2o_pool_reset(c->pool, 0, NULL, err, sizeof err)) {
        o2o_pool_destroy(c->pool);
        c->pool = NULL;
      }
    }
    c->actions = malloc(sizeof(float) * total * O2O_SIM_MAX_ACT);
    if ((!c->vec && !c->pool) || !c->actions) {
      fprintf(stderr, "o2o-bench-bridge: %s: %s\n", c->name, err);
      return 1;
    }
  }
  fprintf(stderr,
          "o2o-bench-bridge: %s (frame_skip %d), random actions, %d env steps per figure, "
          "%d rounds, modes: %s (pipelined = %d sub-batches per process)%s\n",
          sc.name, sc.frame_skip, a.env_steps, a.rounds, a.mode, a.chunks,
          a.pin > 0   ? ", children pinned"
          : a.pin < 0 ? ", children not pinned"
                      : ", pools of 2+ children pinned");
  o2o_rng rng;
  o2o_rng_seed(&rng, 1);
  double dummy;
  for (int i = 0; i < nc; i++) { /* warm-up: page in models, connect, settle clocks */
    if (cf[i].vec)
      run_vec(&cf[i], &rng, 2000, &dummy);
    else
      run_pool(&cf[i], &rng, 2000, cf[i].pipelined, &dummy, NULL, NULL);
  }
  double t_start = o2o_bench_seconds(CLOCK_MONOTONIC);
  for (int r = 0; r < a.rounds; r++) {
    for (int j = 0; j < nc; j++) {
      config *c = &cf[r % 2 ? nc - 1 - j : j];
      c->rate[r] = c->vec ? run_vec(c, &rng, a.env_steps, &c->cpu_us[r])
                          : run_pool(c, &rng, a.env_steps, c->pipelined, &c->cpu_us[r],
                                     &c->sim_cpu_us[r], &c->io_cpu_us[r]);
    }
    double el = o2o_bench_seconds(CLOCK_MONOTONIC) - t_start;
    fprintf(stderr, "round %d/%d:", r + 1, a.rounds);
    for (int i = 0; i < nc; i++)
      fprintf(stderr, " %s %.0f", cf[i].name, cf[i].rate[r]);
    fprintf(stderr, " env steps/s, ETA %.0f s\n", el / (r + 1) * (a.rounds - r - 1));
  }
  /* Ratios: (numerator, denominator, target). */
  static const struct {
    const char *label, *num, *den;
    double target;
  } rdef[6] = {
      {"b/a16 lockstep ", "b_lock", "a16", 0.85},   {"c/a64 lockstep ", "c_lock", "a64", 0.95},
      {"d/b   lockstep ", "d_lock", "b_lock", 1.6}, {"b/a16 pipelined", "b_pipe", "a16", 0.85},
      {"c/a64 pipelined", "c_pipe", "a64", 0.95},   {"d/b   pipelined", "d_pipe", "b_pipe", 1.6}};
  double ratio[6];
  int have[6];
  for (int q = 0; q < 6; q++) {
    int n = -1, d = -1;
    for (int i = 0; i < nc; i++) {
      if (!strcmp(cf[i].name, rdef[q].num)) n = i;
      if (!strcmp(cf[i].name, rdef[q].den)) d = i;
    }
    have[q] = n >= 0 && d >= 0;
    if (!have[q]) continue;
    double v[MAX_ROUNDS];
    for (int r = 0; r < a.rounds; r++)
      v[r] = cf[n].rate[r] / cf[d].rate[r];
    ratio[q] = o2o_bench_median(v, a.rounds);
  }
  FILE *out = a.json && !strcmp(a.json, "-") ? stderr : stdout;
  fprintf(out, "%-8s %11s %17s %10s %10s %10s %10s   (CPU us per env step)\n", "figure",
          "env steps/s", "(min-max)", "bench", "sim thr", "sim other", "total");
  for (int i = 0; i < nc; i++) {
    double lo = cf[i].rate[0], hi = lo;
    for (int r = 1; r < a.rounds; r++) {
      lo = cf[i].rate[r] < lo ? cf[i].rate[r] : lo;
      hi = cf[i].rate[r] > hi ? cf[i].rate[r] : hi;
    }
    double bc = o2o_bench_median(cf[i].cpu_us, a.rounds),
           scpu = o2o_bench_median(cf[i].sim_cpu_us, a.rounds),
           io = o2o_bench_median(cf[i].io_cpu_us, a.rounds);
    fprintf(out, "%-8s %11.0f %8.0f-%-8.0f %10.2f %10.2f %10.2f %10.2f\n", cf[i].name,
            o2o_bench_median(cf[i].rate, a.rounds), lo, hi, bc, scpu, io, bc + scpu + io);
  }
  for (int q = 0; q < 6; q++)
    if (have[q])
      fprintf(out, "%s = %.3f (target >= %.2f)\n", rdef[q].label, ratio[q], rdef[q].target);
  fprintf(out,
          "(medians of %d interleaved rounds, wall clock; lockstep = o2o_pool_step on the whole "
          "batch; pipelined = %d sub-batches per process, each stepped again as soon as its "
          "reply is in%s. CPU columns: CPU time per env step of this process (all threads) "
          "and of the o2o-sim children (simulator thread; other threads = ZeroMQ I/O). On a busy "
          "machine several processes get "
          "a larger share of the CPUs than one, which flatters the pool figures: compare the "
          "CPU columns too.)\n",
          a.rounds, a.chunks,
          a.pin > 0   ? "; children pinned"
          : a.pin < 0 ? "; children not pinned"
                      : "; pools of 2+ children pinned to CPUs (pool default)");
  if (a.json) {
    FILE *f = strcmp(a.json, "-") ? fopen(a.json, "w") : stdout;
    if (!f) {
      fprintf(stderr, "o2o-bench-bridge: cannot write %s: %s\n", a.json, strerror(errno));
      return 1;
    }
    fprintf(f,
            "{\"bench\": \"bridge\", \"version\": \"%s\", \"scenario\": \"%s\", "
            "\"frame_skip\": %d, \"env_steps_per_figure\": %d, \"rounds\": %d, "
            "\"modes\": \"%s\", \"pipelined_chunks_per_proc\": %d, \"pinned\": %s, "
            "\"figures\": {",
            O2O_VERSION, sc.name, sc.frame_skip, a.env_steps, a.rounds, a.mode, a.chunks,
            a.pin > 0   ? "\"on\""
            : a.pin < 0 ? "\"off\""
                        : "\"auto\"");
    for (int i = 0; i < nc; i++)
      fprintf(f,
              "%s\"%s\": {\"env_steps_per_s\": %.1f, \"bench_cpu_us_per_step\": %.3f, "
              "\"sim_cpu_us_per_step\": %.3f, \"sim_io_cpu_us_per_step\": %.3f}",
              i ? ", " : "", cf[i].name, o2o_bench_median(cf[i].rate, a.rounds),
              o2o_bench_median(cf[i].cpu_us, a.rounds),
              o2o_bench_median(cf[i].sim_cpu_us, a.rounds),
              o2o_bench_median(cf[i].io_cpu_us, a.rounds));
    fprintf(f, "}, \"ratios\": {");
    int first = 1;
    for (int q = 0; q < 6; q++) {
      if (!have[q]) continue;
      char key[32];
      snprintf(key, sizeof key, "%s_over_%s", rdef[q].num, rdef[q].den);
      fprintf(f, "%s\"%s\": %.4f", first ? "" : ", ", key, ratio[q]);
      first = 0;
    }
    fprintf(f, "}, \"targets\": {\"b_over_a16\": 0.85, \"c_over_a64\": 0.95, "
               "\"d_over_b\": 1.6}}\n");
    if (f != stdout) fclose(f);
  }
  for (int i = 0; i < nc; i++) {
    o2o_vecenv_destroy(cf[i].vec);
    o2o_pool_destroy(cf[i].pool);
    free(cf[i].actions);
  }
  return 0;
}
