/* bench_sim.c: o2o-bench-sim, what the vecenv layer costs over plain MuJoCo.
 *
 * In one run, interleaved round by round, it measures env steps/s of
 *   raw:    N mjData of the scenario's nominal model, uniform random controls, frame_skip
 *           mj_step calls per env step, reset (task reset noise + mj_forward) on the task's
 *           termination rule or the episode limit: the physics work every env must do;
 *   vecenv: o2o_vecenv_step on N envs of the same scenario (real variant) with the same kind
 *           of random actions: clipping, delay/noise checks, observations, reward,
 *           termination, autoreset with final observations.
 * The ratio reported is the median over rounds of vecenv/raw measured back to back, so a
 * busy machine slows both alike. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "o2o_sim_mj.h"
#include "o2o_version.h"
#include "sim_internal.h"
#include "bench_common.h"

typedef struct {
  const char *scenario, *json, *csv;
  int envs, steps, repeats;
} bench_args;

static void usage(FILE *f) {
  fprintf(f,
          "usage: o2o-bench-sim [--scenario NAME] [--envs N] [--steps S] [--repeats R]\n"
          "                     [--clock cpu|wall] [--json FILE|-] [--csv FILE|-]\n"
          "Env steps/s of a raw mj_step loop and of the vecenv API (same model, frame_skip,\n"
          "number of envs, random actions and reset rule), interleaved; prints both and the\n"
          "median per-round ratio vecenv/raw. Both sides simulate identical trajectories\n"
          "(checked at the end). --clock cpu (default) times this thread's CPU time, so other\n"
          "processes on the core do not count; --clock wall times elapsed time.\n"
          "Defaults: --scenario hopper --envs 16 --steps 250 (per env per round) --repeats 15\n");
}

/* CPU time of this thread by default: on a shared machine wall time also counts the time
 * other processes held the core, which hits the two sides unevenly; --clock wall for wall. */
static clockid_t bench_clock = CLOCK_THREAD_CPUTIME_ID;

/* The raw loop's state: its own model and data, nothing from the vecenv. */
typedef struct {
  mjModel *m;
  mjData **d;
  o2o_rng *rng;
  int *steps;
  const o2o_task *task;
  const o2o_scenario *sc;
  int n;
} raw_loop;

static double run_raw(raw_loop *r, o2o_rng *policy, int steps) {
  const mjModel *m = r->m;
  const int fs = r->sc->frame_skip;
  double t0 = o2o_bench_seconds(bench_clock);
  for (int t = 0; t < steps; t++) {
    for (int i = 0; i < r->n; i++) {
      mjData *d = r->d[i];
      /* float like the vecenv's actions: both sides then simulate the very same trajectories */
      for (int c = 0; c < m->nu; c++)
        d->ctrl[c] = (float)o2o_rng_range(policy, m->actuator_ctrlrange[2 * c],
                                          m->actuator_ctrlrange[2 * c + 1]);
      for (int s = 0; s < fs; s++)
        mj_step(m, d);
      if (r->task->terminated(m, d) || ++r->steps[i] >= r->sc->max_episode_steps) {
        o2o_task_reset_data(r->task, m, d, r->sc->reset_noise_scale, &r->rng[i]);
        r->steps[i] = 0;
      }
    }
  }
  return (double)steps * r->n / (o2o_bench_seconds(bench_clock) - t0);
}

static double run_vecenv(o2o_vecenv *env, o2o_rng *policy, float *actions, int steps, int *failed) {
  const o2o_env_spec *sp = o2o_vecenv_spec(env);
  char err[O2O_SIM_ERRLEN];
  o2o_step_result res;
  double t0 = o2o_bench_seconds(bench_clock);
  for (int t = 0; t < steps; t++) {
    for (int i = 0; i < sp->num_envs; i++)
      for (int c = 0; c < sp->act_dim; c++)
        actions[i * sp->act_dim + c] =
            (float)o2o_rng_range(policy, sp->act_low[c], sp->act_high[c]);
    if (o2o_vecenv_step(env, actions, &res, err, sizeof err) != 0) {
      fprintf(stderr, "o2o-bench-sim: step failed: %s\n", err);
      *failed = 1;
      return 0;
    }
  }
  return (double)steps * sp->num_envs / (o2o_bench_seconds(bench_clock) - t0);
}

static FILE *open_out(const char *path) {
  if (!strcmp(path, "-")) return stdout;
  FILE *f = fopen(path, "w");
  if (!f) fprintf(stderr, "o2o-bench-sim: cannot write %s: %s\n", path, strerror(errno));
  return f;
}

int main(int argc, char **argv) {
  bench_args a = {.scenario = "hopper", .envs = 16, .steps = 250, .repeats = 15};
  for (int i = 1; i < argc; i++) {
    const char *f = argv[i];
    if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(f, "--version")) {
      printf("o2o-bench-sim %s (MuJoCo %d)\n", O2O_VERSION, mj_version());
      return 0;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "o2o-bench-sim: unknown flag or missing value: %s\n", f);
      usage(stderr);
      return 2;
    }
    const char *v = argv[++i];
    if (!strcmp(f, "--scenario"))
      a.scenario = v;
    else if (!strcmp(f, "--json"))
      a.json = v;
    else if (!strcmp(f, "--csv"))
      a.csv = v;
    else if (!strcmp(f, "--clock")) {
      if (!strcmp(v, "cpu"))
        bench_clock = CLOCK_THREAD_CPUTIME_ID;
      else if (!strcmp(v, "wall"))
        bench_clock = CLOCK_MONOTONIC;
      else {
        fprintf(stderr, "o2o-bench-sim: --clock wants cpu or wall, got '%s'\n", v);
        return 2;
      }
    } else if (!strcmp(f, "--envs")) {
      if (o2o_bench_parse_int("o2o-bench-sim", f, v, 1, 4096, &a.envs)) return 2;
    } else if (!strcmp(f, "--steps")) {
      if (o2o_bench_parse_int("o2o-bench-sim", f, v, 1, 100000000, &a.steps)) return 2;
    } else if (!strcmp(f, "--repeats")) {
      if (o2o_bench_parse_int("o2o-bench-sim", f, v, 1, 1000, &a.repeats)) return 2;
    } else {
      fprintf(stderr, "o2o-bench-sim: unknown flag: %s\n", f);
      usage(stderr);
      return 2;
    }
  }

  char err[O2O_SIM_ERRLEN];
  o2o_scenario sc;
  if (o2o_scenario_load(&sc, a.scenario, err, sizeof err)) {
    fprintf(stderr, "o2o-bench-sim: %s\n", err);
    return 1;
  }
  o2o_vecenv *env = o2o_vecenv_create(&sc, O2O_VARIANT_REAL, a.envs, err, sizeof err);
  if (!env) {
    fprintf(stderr, "o2o-bench-sim: %s\n", err);
    return 1;
  }
  raw_loop raw = {.task = o2o_task_find(sc.task), .sc = &sc, .n = a.envs};
  raw.m = mj_loadXML(sc.model_path, NULL, err, sizeof err);
  if (!raw.m) {
    fprintf(stderr, "o2o-bench-sim: %s: %s\n", sc.model_path, err);
    return 1;
  }
  raw.d = calloc(a.envs, sizeof *raw.d);
  raw.rng = calloc(a.envs, sizeof *raw.rng);
  raw.steps = calloc(a.envs, sizeof *raw.steps);
  uint64_t *seeds = calloc(a.envs, sizeof *seeds);
  float *actions = calloc((size_t)a.envs * O2O_SIM_MAX_ACT, sizeof *actions);
  double *raw_sps = calloc(a.repeats, sizeof(double)), *vec_sps = calloc(a.repeats, sizeof(double));
  double *ratio = calloc(a.repeats, sizeof(double));
  for (int i = 0; i < a.envs; i++) {
    raw.d[i] = mj_makeData(raw.m);
    seeds[i] = (uint64_t)i;
    o2o_rng_seed(&raw.rng[i], seeds[i]);
    o2o_task_reset_data(raw.task, raw.m, raw.d[i], sc.reset_noise_scale, &raw.rng[i]);
  }
  o2o_vecenv_reset(env, seeds, NULL, err, sizeof err);
  o2o_rng pol_raw, pol_vec;
  o2o_rng_seed(&pol_raw, 12345);
  o2o_rng_seed(&pol_vec, 12345);

  /* warm-up: caches, page faults, CPU frequency */
  int failed = 0;
  run_raw(&raw, &pol_raw, a.steps / 10 + 1);
  run_vecenv(env, &pol_vec, actions, a.steps / 10 + 1, &failed);
  double t_start = o2o_bench_seconds(CLOCK_MONOTONIC);
  for (int r = 0; r < a.repeats && !failed; r++) {
    if (r % 2 == 0) { /* alternate the order so neither side always runs first */
      raw_sps[r] = run_raw(&raw, &pol_raw, a.steps);
      vec_sps[r] = run_vecenv(env, &pol_vec, actions, a.steps, &failed);
    } else {
      vec_sps[r] = run_vecenv(env, &pol_vec, actions, a.steps, &failed);
      raw_sps[r] = run_raw(&raw, &pol_raw, a.steps);
    }
    ratio[r] = vec_sps[r] / raw_sps[r];
    double el = o2o_bench_seconds(CLOCK_MONOTONIC) - t_start;
    fprintf(stderr,
            "round %d/%d: raw %.0f steps/s, vecenv %.0f steps/s, ratio %.3f  [%.1fs, ETA %.1fs]\n",
            r + 1, a.repeats, raw_sps[r], vec_sps[r], ratio[r], el,
            el / (r + 1) * (a.repeats - r - 1));
  }
  int rc = failed;
  /* same work on both sides: every env must be in the same state */
  int identical = 1;
  for (int i = 0; i < a.envs && !failed; i++) {
    const mjData *dv = o2o_vecenv_data(env, i);
    if (memcmp(dv->qpos, raw.d[i]->qpos, sizeof(double) * raw.m->nq) ||
        memcmp(dv->qvel, raw.d[i]->qvel, sizeof(double) * raw.m->nv))
      identical = 0;
  }
  if (!failed) {
    double mr = o2o_bench_median(raw_sps, a.repeats), mv = o2o_bench_median(vec_sps, a.repeats),
           mq = o2o_bench_median(ratio, a.repeats);
    /* the summary goes to stderr when stdout carries JSON or CSV */
    FILE *hum =
        (a.json && !strcmp(a.json, "-")) || (a.csv && !strcmp(a.csv, "-")) ? stderr : stdout;
    fprintf(hum,
            "o2o-bench-sim: scenario %s, %d envs, frame_skip %d, %d steps/env/round, %d rounds "
            "(MuJoCo %d)\n",
            sc.name, a.envs, sc.frame_skip, a.steps, a.repeats, mj_version());
    fprintf(hum, "raw mj_step loop: %.0f env steps/s (%.0f mj_step/s)  median\n", mr,
            mr * sc.frame_skip);
    fprintf(hum, "vecenv API:       %.0f env steps/s (%.0f mj_step/s)  median\n", mv,
            mv * sc.frame_skip);
    fprintf(hum, "vecenv / raw:     %.3f (median of per-round ratios; target >= 0.90), %s clock\n",
            mq, bench_clock == CLOCK_MONOTONIC ? "wall" : "thread CPU");
    fprintf(hum, "same trajectories on both sides: %s\n",
            identical ? "yes (bit-identical end states)" : "NO");
    if (a.json) {
      FILE *f = open_out(a.json);
      if (f) {
        fprintf(f,
                "{\"benchmark\":\"sim\",\"version\":\"%s\",\"mujoco\":%d,\"scenario\":\"%s\","
                "\"envs\":%d,"
                "\"frame_skip\":%d,\"steps_per_round\":%d,\"rounds\":%d,\"clock\":\"%s\","
                "\"identical\":%s,"
                "\"raw_steps_per_s\":%.1f,"
                "\"vecenv_steps_per_s\":%.1f,\"ratio\":%.4f,\"per_round\":[",
                O2O_VERSION, mj_version(), sc.name, a.envs, sc.frame_skip, a.steps, a.repeats,
                bench_clock == CLOCK_MONOTONIC ? "wall" : "cpu", identical ? "true" : "false", mr,
                mv, mq);
        for (int r = 0; r < a.repeats; r++)
          fprintf(f, "%s{\"raw\":%.1f,\"vecenv\":%.1f,\"ratio\":%.4f}", r ? "," : "", raw_sps[r],
                  vec_sps[r], ratio[r]);
        fprintf(f, "]}\n");
        if (f != stdout) fclose(f);
      } else
        rc = 1;
    }
    if (a.csv) {
      FILE *f = open_out(a.csv);
      if (f) {
        fprintf(f, "scenario,envs,frame_skip,round,raw_steps_per_s,vecenv_steps_per_s,ratio\n");
        for (int r = 0; r < a.repeats; r++)
          fprintf(f, "%s,%d,%d,%d,%.1f,%.1f,%.4f\n", sc.name, a.envs, sc.frame_skip, r + 1,
                  raw_sps[r], vec_sps[r], ratio[r]);
        fprintf(f, "%s,%d,%d,median,%.1f,%.1f,%.4f\n", sc.name, a.envs, sc.frame_skip, mr, mv, mq);
        if (f != stdout) fclose(f);
      } else
        rc = 1;
    }
  }
  for (int i = 0; i < a.envs; i++)
    mj_deleteData(raw.d[i]);
  mj_deleteModel(raw.m);
  free(raw.d), free(raw.rng), free(raw.steps), free(seeds), free(actions);
  free(raw_sps), free(vec_sps), free(ratio);
  o2o_vecenv_destroy(env);
  return rc;
}
