/* bench_render.c: o2o-bench-render, offscreen rendering speed.
 *
 * Measures frames/s of o2o's offscreen renderer (physics step + render + read-back, as a
 * video recorder does) in fast mode (shadows and reflections off) and at full quality,
 * and, in the same run, MuJoCo's own `mujoco-record` sample on the same model and size
 * (Debian libmujoco-samples). The phases are interleaved over several rounds so that a
 * busy machine slows all of them alike; the best round of each is reported.
 *
 * mujoco-record's wall time includes its start-up (model load, GL context), so its rate
 * is taken from the times at which its progress dots (one per 10 frames) arrive. It renders at the
 * model's offscreen size, so it gets a compiled copy of the model (.mjb) with offwidth x offheight
 * set to the benchmark size.
 *
 * Needs a display or Xvfb: xvfb-run -a ./o2o-bench-render */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "o2o_sim_mj.h"
#include "o2o_version.h"
#include "render_mj.h"
#include "bench_common.h"

typedef struct {
  const char *scenario;
  const char *model;
  const char *record_exe;
  const char *json;
  const char *snapshot;
  int width, height, frames, rounds, no_record;
} bench_args;

static void usage(FILE *f) {
  fprintf(f,
          "usage: o2o-bench-render [--scenario NAME | --model FILE.xml] [--width W] [--height H]\n"
          "                        [--frames N] [--rounds R] [--record-exe PATH] [--no-record]\n"
          "                        [--json FILE] [--snapshot FILE.ppm]\n"
          "Offscreen frames/s of o2o's renderer (fast mode and full quality) against MuJoCo's\n"
          "mujoco-record sample on the same model and size, measured in the same run.\n"
          "Defaults: --scenario hopper --width 480 --height 480 --frames 300 --rounds 3\n"
          "--record-exe mujoco-record. Needs a display or Xvfb: xvfb-run -a o2o-bench-render\n");
}

static int parse_args(int argc, char **argv, bench_args *a) {
  *a = (bench_args){.scenario = "hopper",
                    .record_exe = "mujoco-record",
                    .width = 480,
                    .height = 480,
                    .frames = 300,
                    .rounds = 3};
  for (int i = 1; i < argc; i++) {
    const char *f = argv[i];
    if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
      usage(stdout);
      exit(0);
    }
    if (!strcmp(f, "--version")) {
      printf("o2o-bench-render %s\n", O2O_VERSION);
      exit(0);
    }
    if (!strcmp(f, "--no-record")) {
      a->no_record = 1;
      continue;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "o2o-bench-render: unknown flag or missing value: %s\n", f);
      return -1;
    }
    const char *v = argv[++i];
    int rc = 0;
    if (!strcmp(f, "--scenario"))
      a->scenario = v;
    else if (!strcmp(f, "--model"))
      a->model = v;
    else if (!strcmp(f, "--record-exe"))
      a->record_exe = v;
    else if (!strcmp(f, "--json"))
      a->json = v;
    else if (!strcmp(f, "--snapshot"))
      a->snapshot = v;
    else if (!strcmp(f, "--width"))
      rc = o2o_bench_parse_int("o2o-bench-render", f, v, 1, O2O_RENDER_MAX_SIDE, &a->width);
    else if (!strcmp(f, "--height"))
      rc = o2o_bench_parse_int("o2o-bench-render", f, v, 1, O2O_RENDER_MAX_SIDE, &a->height);
    else if (!strcmp(f, "--frames"))
      rc = o2o_bench_parse_int("o2o-bench-render", f, v, 10, 1000000, &a->frames);
    else if (!strcmp(f, "--rounds"))
      rc = o2o_bench_parse_int("o2o-bench-render", f, v, 1, 100, &a->rounds);
    else {
      fprintf(stderr, "o2o-bench-render: unknown flag %s (see --help)\n", f);
      return -1;
    }
    if (rc) return -1;
  }
  return 0;
}

/* Frames/s of our renderer: mj_step then a frame, as mujoco-record does per frame.
 * wobble = 1: a wobbling control so the body moves and the camera follows it; 0: zero
 * controls, the very motion mujoco-record renders (same poses, same pixels to shade). */
static double bench_ours(o2o_renderer *r, const mjModel *m, mjData *d, int fast, int tracking,
                         int wobble, int frames, int width, int height, uint8_t *rgb) {
  char err[512];
  o2o_renderer_set_fast(r, fast);
  o2o_renderer_set_tracking(r, tracking);
  for (int f = 0; f < 5; f++) /* warm-up: first frames upload textures, compile shaders */
    if (o2o_renderer_frame_mj(r, d, width, height, rgb, err, sizeof err)) goto fail;
  double t0 = o2o_bench_seconds(CLOCK_MONOTONIC);
  for (int f = 0; f < frames; f++) {
    for (int k = 0; k < m->nu; k++)
      d->ctrl[k] = wobble ? 0.5 * sin(0.05 * f + k) : 0;
    mj_step(m, d);
    if (o2o_renderer_frame_mj(r, d, width, height, rgb, err, sizeof err)) goto fail;
  }
  return frames / (o2o_bench_seconds(CLOCK_MONOTONIC) - t0);
fail:
  fprintf(stderr, "o2o-bench-render: %s\n", err);
  return -1;
}

/* One `mujoco-record MODEL DURATION FPS /dev/null` run. It prints '.' (or 'x' on a GL
 * error) after frames 0, 10, 20, ...; run through `stdbuf -o0` so each dot arrives when
 * printed, the time between the second and the last dot gives its frame rate without
 * start-up, like our own timed loop after warm-up (*rate, or -1 if the dots came in one
 * burst, e.g. without stdbuf). Returns the wall time of the whole run, -1 on failure. */
static double run_record(const char *exe, const char *mjb, double duration, double fps,
                         double *rate) {
  char dur[64], rfps[64];
  snprintf(dur, sizeof dur, "%.9g", duration);
  snprintf(rfps, sizeof rfps, "%.9g", fps);
  int fds[2];
  if (pipe(fds)) return -1;
  double t0 = o2o_bench_seconds(CLOCK_MONOTONIC);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execlp("stdbuf", "stdbuf", "-o0", exe, mjb, dur, rfps, "/dev/null", (char *)NULL);
    execlp(exe, exe, mjb, dur, rfps, "/dev/null", (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  double first = -1, last = -1;
  long dots = 0;
  char buf[256];
  for (;;) {
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    double t = o2o_bench_seconds(CLOCK_MONOTONIC);
    for (ssize_t i = 0; i < n; i++) {
      if (buf[i] != '.' && buf[i] != 'x') continue;
      dots++;
      if (dots == 2) first = t;
      last = t;
    }
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  double wall = o2o_bench_seconds(CLOCK_MONOTONIC) - t0;
  /* record returns 1 after a successful run (its main ends with `return 1`). */
  if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 1)) {
    fprintf(stderr, "o2o-bench-render: %s failed (status %d)\n", exe,
            WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return -1;
  }
  *rate = (dots >= 4 && last - first > 1e-3) ? 10.0 * (double)(dots - 2) / (last - first) : -1;
  return wall;
}

/* mujoco-record renders once per physics step when fps exceeds 1/timestep. Its rate comes
 * from the timed progress dots; if they cannot be timed, from two runs of different
 * length (the difference cancels start-up, but is noisier on a busy machine). */
static double bench_record(const bench_args *a, const char *mjb, double timestep) {
  double fps = 10.0 / timestep, rate = -1, unused;
  /* durations sit half a step past a multiple so rounding cannot add or drop a step */
  int n_long = a->frames + 10, n_short = a->frames / 5;
  double t_long = run_record(a->record_exe, mjb, (n_long - 0.5) * timestep, fps, &rate);
  if (t_long < 0) return -1;
  if (rate > 0) return rate;
  double t_short = run_record(a->record_exe, mjb, (n_short - 0.5) * timestep, fps, &unused);
  if (t_short < 0 || t_long <= t_short) return -1;
  return (n_long - n_short) / (t_long - t_short);
}

static int write_ppm(const char *path, const uint8_t *rgb, int w, int h) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  fprintf(f, "P6\n%d %d\n255\n", w, h);
  size_t n = fwrite(rgb, 3, (size_t)w * h, f);
  return (fclose(f) || n != (size_t)w * h) ? -1 : 0;
}

static double best(const double *v, int n) {
  double b = -1;
  for (int i = 0; i < n; i++)
    if (v[i] > b) b = v[i];
  return b;
}

/* Median of the per-round ratios num[k] / den[k]: each pair ran minutes apart at most,
 * so it cancels most of the load drift that best-of-rounds figures still carry. */
static double median_ratio(const double *num, const double *den, int n) {
  double r[100];
  int m = 0;
  for (int k = 0; k < n; k++)
    if (num[k] > 0 && den[k] > 0) r[m++] = num[k] / den[k];
  if (m == 0) return -1;
  qsort(r, (size_t)m, sizeof r[0], o2o_bench_cmp_double);
  return m % 2 ? r[m / 2] : 0.5 * (r[m / 2 - 1] + r[m / 2]);
}

int main(int argc, char **argv) {
  bench_args a;
  if (parse_args(argc, argv, &a)) return 2;
  char err[1024];
  o2o_scenario sc;
  o2o_vecenv *env = NULL;
  mjModel *own_model = NULL;
  const mjModel *m;
  const char *what;
  if (a.model) {
    own_model = mj_loadXML(a.model, NULL, err, sizeof err);
    if (!own_model) {
      fprintf(stderr, "o2o-bench-render: cannot load %s: %s\n", a.model, err);
      return 1;
    }
    m = own_model;
    what = a.model;
  } else {
    if (o2o_scenario_load(&sc, a.scenario, err, sizeof err)) {
      fprintf(stderr, "o2o-bench-render: %s\n", err);
      return 1;
    }
    env = o2o_vecenv_create(&sc, O2O_VARIANT_REAL, 1, err, sizeof err);
    if (!env) {
      fprintf(stderr, "o2o-bench-render: %s\n", err);
      return 1;
    }
    m = o2o_vecenv_model(env);
    what = sc.model_path;
  }
  /* Own mjData, so the benchmark drives physics exactly like mujoco-record does. */
  mjData *d = mj_makeData(m);
  uint8_t *rgb = malloc((size_t)a.width * a.height * 3);
  o2o_renderer *r =
      d && rgb ? o2o_renderer_create_mj(m, a.width, a.height, 1, err, sizeof err) : NULL;
  if (!r) {
    fprintf(stderr, "o2o-bench-render: %s\n", d && rgb ? err : "out of memory");
    return 1;
  }
  mj_forward(m, d);

  /* The model for mujoco-record: compiled, offscreen buffer = benchmark size. */
  char mjb[64] = "";
  if (!a.no_record) {
    snprintf(mjb, sizeof mjb, "/tmp/o2o-bench-render-%d.mjb", (int)getpid());
    mjModel *copy = mj_copyModel(NULL, m);
    copy->vis.global.offwidth = a.width;
    copy->vis.global.offheight = a.height;
    mj_saveModel(copy, mjb, NULL, 0);
    mj_deleteModel(copy);
  }

  fprintf(stderr, "o2o-bench-render: %s, %dx%d, %d frames x %d rounds\n", what, a.width, a.height,
          a.frames, a.rounds);
  double fast[100], full[100], same[100], rec[100];
  for (int k = 0; k < a.rounds; k++) {
    mj_resetData(m, d); /* every phase renders the same motion */
    fast[k] = bench_ours(r, m, d, 1, 1, 1, a.frames, a.width, a.height, rgb);
    mj_resetData(m, d);
    full[k] = bench_ours(r, m, d, 0, 1, 1, a.frames, a.width, a.height, rgb);
    mj_resetData(m, d);
    same[k] = bench_ours(r, m, d, 0, 0, 0, a.frames, a.width, a.height, rgb);
    rec[k] = a.no_record ? -1 : bench_record(&a, mjb, m->opt.timestep);
    fprintf(stderr,
            "  round %d/%d: o2o fast %.1f  o2o full %.1f  o2o full, record's camera %.1f  "
            "mujoco-record %.1f frames/s\n",
            k + 1, a.rounds, fast[k], full[k], same[k], rec[k]);
    if (fast[k] < 0 || full[k] < 0 || same[k] < 0) return 1;
  }
  if (a.snapshot) {
    o2o_renderer_set_fast(r, 0);
    o2o_renderer_set_tracking(r, 1);
    if (o2o_renderer_frame_mj(r, d, a.width, a.height, rgb, err, sizeof err) ||
        write_ppm(a.snapshot, rgb, a.width, a.height))
      fprintf(stderr, "o2o-bench-render: could not write snapshot %s\n", a.snapshot);
  }
  double bf = best(fast, a.rounds), bq = best(full, a.rounds), bs = best(same, a.rounds),
         br = best(rec, a.rounds);
  printf("model %s, %dx%d (best of %d rounds, frames/s, physics step + render + read-back)\n", what,
         a.width, a.height, a.rounds);
  printf("  o2o fast (no shadows/reflections), tracking camera  %8.1f   target >= 30\n", bf);
  printf("  o2o full quality, tracking camera                   %8.1f\n", bq);
  printf("  o2o full quality, mujoco-record's camera            %8.1f\n", bs);
  if (br > 0) {
    printf("  mujoco-record (full quality, its free camera)       %8.1f\n", br);
    printf("  ratio o2o full / mujoco-record, same camera         %8.2f   target >= 1\n", bs / br);
    printf("  (median of the per-round ratios                     %8.2f)\n",
           median_ratio(same, rec, a.rounds));
  } else if (!a.no_record) {
    printf("  mujoco-record                     failed (is libmujoco-samples installed?)\n");
  }
  if (a.json) {
    FILE *f = fopen(a.json, "w");
    if (!f) {
      fprintf(stderr, "o2o-bench-render: cannot write %s: %s\n", a.json, strerror(errno));
    } else {
      fprintf(f,
              "{\"bench\": \"render\", \"model\": \"%s\", \"width\": %d, \"height\": %d, "
              "\"frames\": %d, \"rounds\": %d, \"o2o_fast_fps\": %.2f, \"o2o_full_fps\": %.2f, "
              "\"o2o_full_record_camera_fps\": %.2f, \"record_full_fps\": %.2f, "
              "\"ratio_full_vs_record\": %.3f, \"median_round_ratio_full_vs_record\": %.3f}\n",
              what, a.width, a.height, a.frames, a.rounds, bf, bq, bs, br, br > 0 ? bs / br : -1.0,
              median_ratio(same, rec, a.rounds));
      fclose(f);
    }
  }
  if (mjb[0]) unlink(mjb);
  o2o_renderer_destroy(r);
  free(rgb);
  mj_deleteData(d);
  mj_deleteModel(own_model);
  o2o_vecenv_destroy(env);
  return 0;
}
