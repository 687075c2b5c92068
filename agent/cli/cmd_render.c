/* cmd_render.c: `o2o render`, deterministic rollouts of a policy recorded as a video
 * (.mp4 and other ffmpeg containers) or as a folder of PNG frames.
 *
 * The agent never renders itself: it spawns o2o-sim (through the bridge pool), steps it
 * with the policy and asks for frames with RENDER. --side-by-side runs the same policy on
 * the real and the sim variant (two pools) and puts their frames next to each other,
 * real on the left, so the dynamics gap can be seen.
 *
 * Timing: the video shows simulated time at --fps frames per second: frame k is the state
 * at the first env step whose time reaches k / fps (frame 0 = after reset). With
 * --seconds T the video has exactly round(T * fps) frames; episodes restart as needed. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "o2o_image.h"
#include "o2o_bridge.h"
#include "cli/o2o_commands.h"
#include "o2o_version.h"
#include "io/policy.h"
#include "cli/cli.h"
#include "cli/render_internal.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: o2o render (--checkpoint FILE | --policy random) --scenario NAME --out FILE\n"
          "       o2o render --dataset FILE [--first-episode K] [--scenario NAME] --out FILE\n"
          "                  [--variant real|sim] [--episodes N] [--seconds T] [--width W]\n"
          "                  [--height H] [--fps F] [--fast] [--side-by-side] [--overlay]\n"
          "                  [--seed S] [--sim-exe PATH] [--json FILE]\n"
          "\n"
          "Records deterministic rollouts of a policy (tanh(mean) actions) in o2o-sim.\n"
          "  --out FILE.mp4     video through ffmpeg (also .mkv .webm .avi .mov, and .gif);\n"
          "                     any other name is a folder that receives frame_000000.png, ...\n"
          "                     (a single-image name such as x.png is refused)\n"
          "  --policy random    uniform random actions (no checkpoint needed)\n"
          "  --dataset FILE     replay a dataset's episodes (from --first-episode K, default 0):\n"
          "                     its recorded states (infos/qpos + infos/qvel) set per frame, or\n"
          "                     else its actions from each env's start seed, checked against\n"
          "                     the recorded observations (scenario from metadata/scenario)\n"
          "  --variant          dynamics to run on (default real)\n"
          "  --side-by-side     the real (left) and the sim (right) variant next to each other,\n"
          "                     labelled REAL / SIM, a divider between (--variant is ignored)\n"
          "  --overlay          burn step, reward, episode return and variant into each pane\n"
          "  --episodes N       stop after N episodes (default 1, or no limit with --seconds)\n"
          "  --seconds T        video length in simulated seconds (exactly round(T*fps) frames)\n"
          "  --width/--height   frame size per variant (default 480x480; even for video)\n"
          "  --fps F            frames per second of simulated time (default 30)\n"
          "  --fast             shadows and reflections off (faster rendering)\n"
          "  --seed S           reset seed (default 0); the same seed gives the same video\n"
          "  --json FILE        summary: frames, episodes and returns per variant\n"
          "Rendering needs a display or Xvfb: xvfb-run -a o2o render ...\n");
}

static int parse_long(const char *flag, const char *s, long lo, long hi, long *out) {
  int64_t v;
  if (o2o_cli_int("render", flag, s, lo, hi, &v)) return -1;
  *out = (long)v;
  return 0;
}

static int parse_double(const char *flag, const char *s, double lo, double hi, double *out) {
  return o2o_cli_num("render", flag, s, lo, hi, out);
}

/* 0 ok, 1 = --help/--version printed, -1 usage error (message printed). */
static int parse_args(int argc, char **argv, render_args *a) {
  *a = (render_args){.variant = "real", .episodes = -1, .width = 480, .height = 480, .fps = 30};
  for (int i = 1; i < argc; i++) {
    const char *f = argv[i];
    long l = 0;
    if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
      usage(stdout);
      return 1;
    }
    if (!strcmp(f, "--version")) {
      printf("o2o render %s\n", O2O_VERSION);
      return 1;
    }
    if (!strcmp(f, "--fast")) {
      a->fast = 1;
      continue;
    }
    if (!strcmp(f, "--side-by-side")) {
      a->side_by_side = 1;
      continue;
    }
    if (!strcmp(f, "--overlay")) {
      a->overlay = 1;
      continue;
    }
    if (i + 1 >= argc || strncmp(f, "--", 2)) {
      fprintf(stderr, "o2o render: unknown argument or missing value: %s (see --help)\n", f);
      return -1;
    }
    const char *v = argv[++i];
    if (!strcmp(f, "--checkpoint"))
      a->checkpoint = v;
    else if (!strcmp(f, "--dataset"))
      a->dataset = v;
    else if (!strcmp(f, "--first-episode")) {
      if (parse_long(f, v, 0, 100000000, &l)) return -1;
      a->first_episode = (int)l;
    } else if (!strcmp(f, "--policy")) {
      if (strcmp(v, "random")) {
        fprintf(stderr,
                "o2o render: --policy takes 'random' (a trained policy is given "
                "with --checkpoint FILE), got '%s'\n",
                v);
        return -1;
      }
      a->random_policy = 1;
    } else if (!strcmp(f, "--scenario"))
      a->scenario = v;
    else if (!strcmp(f, "--variant")) {
      if (strcmp(v, "real") && strcmp(v, "sim")) {
        fprintf(stderr, "o2o render: --variant is real or sim, got '%s'\n", v);
        return -1;
      }
      a->variant = v;
    } else if (!strcmp(f, "--out"))
      a->out = v;
    else if (!strcmp(f, "--json"))
      a->json = v;
    else if (!strcmp(f, "--sim-exe"))
      a->sim_exe = v;
    else if (!strcmp(f, "--episodes")) {
      if (parse_long(f, v, 1, 1000000, &l)) return -1;
      a->episodes = (int)l;
    } else if (!strcmp(f, "--seconds")) {
      if (parse_double(f, v, 1e-3, 86400, &a->seconds)) return -1;
    } else if (!strcmp(f, "--width")) {
      if (parse_long(f, v, 16, 4096, &l)) return -1;
      a->width = (int)l;
    } else if (!strcmp(f, "--height")) {
      if (parse_long(f, v, 16, 4096, &l)) return -1;
      a->height = (int)l;
    } else if (!strcmp(f, "--fps")) {
      if (parse_double(f, v, 1, 240, &a->fps)) return -1;
    } else if (!strcmp(f, "--seed")) {
      if (parse_long(f, v, 0, 0x7FFFFFFFL, &l)) return -1;
      a->seed = (uint64_t)l;
    } else {
      fprintf(stderr, "o2o render: unknown flag %s (see --help)\n", f);
      return -1;
    }
  }
  if ((a->checkpoint != NULL) + a->random_policy + (a->dataset != NULL) != 1) {
    fprintf(stderr, "o2o render: give exactly one of --checkpoint FILE, --policy random and "
                    "--dataset FILE\n");
    return -1;
  }
  if (a->dataset && a->side_by_side) {
    fprintf(stderr, "o2o render: --dataset replays one variant (the file's); no --side-by-side\n");
    return -1;
  }
  if (!a->out) {
    fprintf(stderr, "o2o render: --out is required (see --help)\n");
    return -1;
  }
  if (!a->scenario && !a->dataset) {
    fprintf(stderr, "o2o render: --scenario and --out are required (see --help)\n");
    return -1;
  }
  if (a->episodes < 0) a->episodes = a->seconds > 0 ? 0 : 1;
  return 0;
}

/* A name that says "one image file" would otherwise become a folder of that name. */
static int is_still_image_name(const char *path) {
  static const char *const exts[] = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"};
  size_t n = strlen(path);
  for (size_t k = 0; k < sizeof exts / sizeof exts[0]; k++) {
    size_t e = strlen(exts[k]);
    if (n > e && !strcasecmp(path + n - e, exts[k])) return 1;
  }
  return 0;
}

double render_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int render_side_open(render_run *r, render_side *s, const char *variant) {
  s->variant = variant;
  o2o_pool_config cfg = {.scenario = r->a.scenario,
                         .variant = variant,
                         .num_procs = 1,
                         .envs_per_proc = 1,
                         .sim_exe = r->a.sim_exe,
                         /* the first RENDER makes a GL context: seconds under sanitizers */
                         .timeout_ms = 60000};
  s->pool = o2o_pool_create(&cfg, r->err, sizeof r->err);
  if (!s->pool) return -1;
  s->spec = o2o_pool_spec(s->pool);
  if (r->policy && (o2o_policy_obs_dim(r->policy) != s->spec->obs_dim ||
                    o2o_policy_act_dim(r->policy) != s->spec->act_dim)) {
    snprintf(r->err, sizeof r->err,
             "checkpoint %s has obs_dim %d / act_dim %d but scenario %s has %d / %d",
             r->a.checkpoint, o2o_policy_obs_dim(r->policy), o2o_policy_act_dim(r->policy),
             r->a.scenario, s->spec->obs_dim, s->spec->act_dim);
    return -1;
  }
  s->rgb = malloc((size_t)r->a.width * r->a.height * 3);
  if (!s->rgb) {
    snprintf(r->err, sizeof r->err, "out of memory");
    return -1;
  }
  return o2o_pool_reset(s->pool, r->a.seed, s->obs, r->err, sizeof r->err);
}

int render_side_render(render_run *r, render_side *s) {
  char e[RENDER_ERRLEN - 64];
  if (o2o_pool_render(s->pool, 0, r->a.width, r->a.height, s->rgb, e, sizeof e)) {
    snprintf(r->err, sizeof r->err, "%s variant: %s", s->variant, e);
    return -1;
  }
  return 0;
}

static int side_step(render_run *r, render_side *s) {
  const o2o_bridge_spec *sp = s->spec;
  float unit[O2O_BRIDGE_MAX_ACT], act[O2O_BRIDGE_MAX_ACT];
  if (r->policy)
    o2o_policy_act(r->policy, s->obs, 1, 1, unit);
  else
    for (int k = 0; k < sp->act_dim; k++)
      unit[k] =
          (float)((double)(o2o_splitmix64(&r->rng) /* the random policy's own stream */ >> 11) *
                      0x1.0p-53 * 2.0 -
                  1.0);
  /* policy actions live in [-1, 1]; the scenario's bounds may differ */
  for (int k = 0; k < sp->act_dim; k++)
    act[k] = sp->act_low[k] + 0.5f * (unit[k] + 1.0f) * (sp->act_high[k] - sp->act_low[k]);
  o2o_bridge_batch b;
  char e[RENDER_ERRLEN - 64];
  if (o2o_pool_step(s->pool, act, &b, e, sizeof e)) {
    snprintf(r->err, sizeof r->err, "%s variant: %s", s->variant, e);
    return -1;
  }
  memcpy(s->obs, b.obs, sizeof(float) * (size_t)sp->obs_dim);
  render_count_step(r, s, b.reward[0], b.terminated[0] || b.truncated[0]);
  return 0;
}

void render_count_step(render_run *r, render_side *s, float reward, int episode_ended) {
  s->steps++;
  s->episode_steps++;
  s->episode_return += reward;
  s->last_reward = reward;
  if (episode_ended) {
    if (s->episodes_done < 64) s->returns[s->episodes_done] = s->episode_return;
    fprintf(stderr, "o2o render: %s episode %d: return %.2f, %ld steps\n", s->variant,
            s->episodes_done + 1, s->episode_return, s->episode_steps);
    s->episodes_done++;
    s->episode_return = 0;
    s->episode_steps = 0;
    s->last_reward = 0; /* the frame after this step shows the next episode's start */
    if (r->a.episodes > 0 && s->episodes_done >= r->a.episodes) s->finished = 1;
  }
}

/* Compose the sides' last frames and write the result (video frame or PNG file). */
int render_emit_frame(render_run *r) {
  int w = r->a.width, h = r->a.height;
  for (int y = 0; y < h; y++)
    for (int k = 0; k < r->nsides; k++)
      memcpy(r->frame + ((size_t)y * r->frame_width + (size_t)k * w) * 3,
             r->side[k].rgb + (size_t)y * w * 3, (size_t)w * 3);
  if (r->nsides > 1)
    for (int k = 0; k < r->nsides; k++)
      o2o_image_label(r->frame, r->frame_width, h, k * w + 4, 4, r->side[k].variant);
  if (r->a.overlay) /* bottom-left of each pane, like the live viewer's top-left panel */
    for (int k = 0; k < r->nsides; k++) {
      const render_side *s = &r->side[k];
      char lines[3][64];
      snprintf(lines[0], sizeof lines[0], "%s EP %d STEP %ld", s->variant, s->episodes_done + 1,
               s->episode_steps);
      snprintf(lines[1], sizeof lines[1], "REWARD %.3f", (double)s->last_reward);
      snprintf(lines[2], sizeof lines[2], "RETURN %.2f", s->episode_return);
      int lh = o2o_image_label_height(h) + 1;
      for (int l = 0; l < 3; l++)
        o2o_image_label(r->frame, r->frame_width, h, k * w + 4, h - (3 - l) * lh - 3, lines[l]);
    }
  for (int k = 1; k < r->nsides; k++)
    o2o_image_divider(r->frame, r->frame_width, h, k * w);
  int rc;
  if (r->video) {
    rc = o2o_video_frame(r->video, r->frame, r->err, sizeof r->err);
  } else {
    char path[1200];
    snprintf(path, sizeof path, "%s/frame_%06ld.png", r->a.out, r->frames);
    rc = o2o_png_write(path, r->frame, r->frame_width, h, r->err, sizeof r->err);
  }
  if (rc == 0) r->frames++;
  return rc;
}

void render_progress(const render_run *r, long target, double t0) {
  double el = render_now() - t0, rate = el > 0 ? r->frames / el : 0;
  char eps[128] = "";
  for (int k = 0; k < r->nsides; k++) {
    size_t n = strlen(eps);
    snprintf(eps + n, sizeof eps - n, "%s%s %d", k ? ", " : "", r->side[k].variant,
             r->side[k].episodes_done);
  }
  if (target > 0)
    fprintf(stderr, "o2o render: frame %ld/%ld (%.0f%%), %.1f frames/s, ETA %.0f s, episodes %s\n",
            r->frames, target, 100.0 * r->frames / target, rate,
            rate > 0 ? (target - r->frames) / rate : 0.0, eps);
  else
    fprintf(stderr, "o2o render: frame %ld, %.1f frames/s, episodes %s (of %d)\n", r->frames, rate,
            eps, r->a.episodes);
}

static int write_json(const render_run *r) {
  FILE *f = fopen(r->a.json, "w");
  if (!f) {
    fprintf(stderr, "o2o render: cannot write %s: %s\n", r->a.json, strerror(errno));
    return -1;
  }
  fprintf(f, "{\"out\": \"%s\", \"frames\": %ld, \"width\": %d, \"height\": %d, \"fps\": %g, ",
          r->a.out, r->frames, r->frame_width, r->a.height, r->a.fps);
  fprintf(f, "\"seed\": %llu, \"policy\": \"%s\", \"variants\": [", (unsigned long long)r->a.seed,
          r->a.checkpoint ? r->a.checkpoint
          : r->a.dataset  ? r->a.dataset
                          : "random");
  for (int k = 0; k < r->nsides; k++) {
    const render_side *s = &r->side[k];
    fprintf(f, "%s{\"variant\": \"%s\", \"steps\": %ld, \"episodes\": %d, \"returns\": [",
            k ? ", " : "", s->variant, s->steps, s->episodes_done);
    for (int e = 0; e < s->episodes_done && e < 64; e++)
      fprintf(f, "%s%.4f", e ? ", " : "", s->returns[e]);
    fprintf(f, "]}");
  }
  fprintf(f, "]}\n");
  return fclose(f) ? -1 : 0;
}

/* After the last frame: close the video, say what was written, write the summary. */
static int finish(render_run *r) {
  if (r->video) {
    o2o_video *v = r->video;
    r->video = NULL;
    if (o2o_video_close(v, r->err, sizeof r->err)) return -1;
  }
  fprintf(stderr, "o2o render: wrote %s: %ld frames of %dx%d at %g fps\n", r->a.out, r->frames,
          r->frame_width, r->a.height, r->a.fps);
  if (r->a.json && write_json(r)) return -1;
  return 0;
}

static int run(render_run *r) {
  render_args *a = &r->a;
  r->nsides = a->side_by_side ? 2 : 1;
  r->frame_width = a->width * r->nsides;
  int video = o2o_video_name(a->out);
  if (is_still_image_name(a->out)) {
    snprintf(r->err, sizeof r->err,
             "--out %s names a single image; give a folder for PNG frames (e.g. --out frames/) "
             "or a video or GIF (.mp4 .mkv .webm .avi .mov .gif)",
             a->out);
    return -1;
  }

  /* Everything that can be checked before the rollout is checked now. */
  if (video ? o2o_video_check(a->out, r->frame_width, a->height, a->fps, r->err, sizeof r->err)
            : o2o_dir_prepare(a->out, r->err, sizeof r->err))
    return -1;
  if (a->json && o2o_path_writable(a->json, r->err, sizeof r->err)) return -1;
  r->frame = malloc((size_t)r->frame_width * a->height * 3);
  if (!r->frame) {
    snprintf(r->err, sizeof r->err, "out of memory");
    return -1;
  }
  /* The spawned o2o-sim processes inherit the quality choice (see sim/render_mj.h). */
  setenv("O2O_RENDER_QUALITY", a->fast ? "fast" : "full", 1);
  if (a->dataset) return render_dataset(r, video) ? -1 : finish(r);
  if (a->checkpoint) {
    r->policy = o2o_policy_load(a->checkpoint, r->err, sizeof r->err);
    if (!r->policy) return -1;
    o2o_policy_seed(r->policy, a->seed);
  }
  r->rng = a->seed ^ 0x6F326F2D72656E64ull; /* "o2o-rend" */
  const char *variants[2] = {a->side_by_side ? "real" : a->variant, "sim"};
  for (int k = 0; k < r->nsides; k++)
    if (render_side_open(r, &r->side[k], variants[k])) return -1;

  /* First frame before starting ffmpeg: a missing display fails here, cleanly. */
  for (int k = 0; k < r->nsides; k++)
    if (render_side_render(r, &r->side[k])) return -1;
  if (video && !(r->video = o2o_video_open(a->out, r->frame_width, a->height, a->fps, r->err,
                                           sizeof r->err)))
    return -1;
  double dt = r->side[0].spec->dt;
  long target = a->seconds > 0 ? lround(a->seconds * a->fps) : 0;
  if (target == 0 && a->seconds > 0) target = 1;
  fprintf(stderr, "o2o render: %s (%s), %s policy, %dx%d at %g fps, dt %g s -> %s\n", a->scenario,
          a->side_by_side ? "real | sim" : a->variant, a->checkpoint ? a->checkpoint : "random",
          r->frame_width, a->height, a->fps, dt, a->out);
  double t0 = render_now(), last_report = t0;
  if (render_emit_frame(r)) return -1;
  long step = 0;
  for (;;) {
    if (target > 0 && r->frames >= target) break;
    int all_finished = 1;
    for (int k = 0; k < r->nsides; k++)
      all_finished &= r->side[k].finished;
    if (all_finished) break;
    step++;
    int rendered[2] = {0, 0};
    for (int k = 0; k < r->nsides; k++) {
      render_side *s = &r->side[k];
      if (s->finished) continue;
      if (side_step(r, s)) return -1;
    }
    /* Emit every frame whose time this step reached (several when dt > 1/fps). */
    while ((target == 0 || r->frames < target) && step * dt >= r->frames / a->fps - 1e-9) {
      for (int k = 0; k < r->nsides; k++) {
        render_side *s = &r->side[k];
        /* a side that just finished keeps the frame before its last step (after that
         * step the env already shows its next episode) */
        if (s->finished || rendered[k]) continue;
        if (render_side_render(r, s)) return -1;
        rendered[k] = 1;
      }
      if (render_emit_frame(r)) return -1;
    }
    double t = render_now();
    if (t - last_report > 2.0) {
      render_progress(r, target, t0);
      last_report = t;
    }
  }
  render_progress(r, target, t0);
  return finish(r);
}

int o2o_cmd_render(int argc, char **argv) {
  render_run *r = calloc(1, sizeof *r);
  if (!r) {
    fprintf(stderr, "o2o render: out of memory\n");
    return 1;
  }
  int rc = parse_args(argc, argv, &r->a);
  if (rc) {
    free(r);
    return rc > 0 ? 0 : 2;
  }
  rc = run(r) ? 1 : 0;
  if (rc) fprintf(stderr, "o2o render: %s\n", r->err);
  if (r->video) {
    char e[256];
    o2o_video_close(r->video, e, sizeof e); /* keep what was written so far */
  }
  for (int k = 0; k < 2; k++) {
    o2o_pool_destroy(r->side[k].pool);
    free(r->side[k].rgb);
  }
  o2o_policy_destroy(r->policy);
  free(r->frame);
  free(r);
  return rc;
}
