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

#include "o2o_image.h"
#include "o2o_bridge.h"
#include "cli/o2o_commands.h"
#include "o2o_version.h"
#include "io/policy.h"
#include "cli/cli.h"
#include "io/json_out.h"
#include "cli/render_internal.h"
#include "o2o_agent.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: o2o render (--checkpoint FILE | --policy random) --scenario NAME --out FILE\n"
          "       o2o render --dataset FILE [--first-episode K] [--scenario NAME] --out FILE\n"
          "                  [--variant real|sim] [--episodes N] [--seconds T] [--width W]\n"
          "                  [--height H] [--fps F] [--fast] [--side-by-side] [--overlay]\n"
          "                  [--seed S] [--sim-exe PATH] [--json]\n"
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
          "  --json             summary on stdout: frames, episodes and returns per variant\n"
          "Rendering needs a display or Xvfb: xvfb-run -a o2o render ...\n");
}

static int policy_flag(const o2o_flag *fl, const char *v, char *err, size_t errlen) {
  if (strcmp(v, "random")) {
    snprintf(err, errlen,
             "--policy takes 'random' (a trained policy is given with --checkpoint FILE), got "
             "'%s'",
             v);
    return -1;
  }
  *(int *)fl->dest = 1;
  return 0;
}

/* 0 ok, 1 = --help/--version printed, -1 usage error (message printed). */
static int parse_args(int argc, char **argv, render_args *a) {
  *a = (render_args){.variant = "real", .episodes = -1, .width = 480, .height = 480, .fps = 30};
  o2o_flags *f = o2o_flags_create("o2o render");
  o2o_flags_str(f, "checkpoint", &a->checkpoint, "FILE", "policy checkpoint");
  o2o_flags_fn(f, "policy", policy_flag, &a->random_policy, NULL, "random", "random actions");
  o2o_flags_str(f, "dataset", &a->dataset, "FILE", "replay a dataset");
  o2o_flags_int(f, "first-episode", &a->first_episode, 0, 100000000, "K", "first episode");
  o2o_flags_str(f, "scenario", &a->scenario, "NAME", "scenario");
  o2o_flag *vf = o2o_flags_str(f, "variant", &a->variant, "V", "real|sim");
  if (vf) vf->choices = "real|sim";
  o2o_flags_str(f, "out", &a->out, "FILE", "video or frame folder");
  o2o_flags_bool(f, "json", &a->json, "summary as JSON on stdout");
  o2o_flags_str(f, "sim-exe", &a->sim_exe, "PATH", "o2o-sim to spawn");
  o2o_flags_int(f, "episodes", &a->episodes, 1, 1000000, "N", "episodes");
  o2o_flags_num(f, "seconds", &a->seconds, 1e-3, 86400, "T", "video length");
  o2o_flags_int(f, "width", &a->width, 16, 4096, "W", "frame width");
  o2o_flags_int(f, "height", &a->height, 16, 4096, "H", "frame height");
  o2o_flags_num(f, "fps", &a->fps, 1, 240, "F", "frames per second");
  o2o_flags_u64(f, "seed", &a->seed, 0, 0x7FFFFFFF, "S", "reset seed");
  o2o_flags_bool(f, "fast", &a->fast, "no shadows/reflections");
  o2o_flags_bool(f, "side-by-side", &a->side_by_side, "real and sim panes");
  o2o_flags_bool(f, "overlay", &a->overlay, "step/reward/return labels");
  o2o_flags_std(f, usage, "o2o render " O2O_VERSION);
  int rc = o2o_flags_parse(f, argc, argv);
  o2o_flags_destroy(f);
  if (rc) return rc;
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

void render_progress_start(render_run *r) {
  r->t0 = o2o_agent_now_s();
  o2o_progress_init(&r->prog, 0.5, 10.0);
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
    o2o_progress_note(&r->prog, "o2o render: %s episode %d: return %.2f, %ld steps", s->variant,
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

void render_progress(render_run *r, long target, int force) {
  if (!o2o_progress_due(&r->prog, force)) return;
  double el = o2o_agent_now_s() - r->t0, rate = el > 0 ? r->frames / el : 0;
  char eps[128] = "";
  for (int k = 0; k < r->nsides; k++) {
    size_t n = strlen(eps);
    snprintf(eps + n, sizeof eps - n, "%s%s %d", k ? ", " : "", r->side[k].variant,
             r->side[k].episodes_done);
  }
  if (target > 0)
    o2o_progress_show(&r->prog, force,
                      "o2o render: frame %ld/%ld (%.0f%%), %.1f frames/s, ETA %.0f s, episodes %s",
                      r->frames, target, 100.0 * r->frames / target, rate,
                      rate > 0 ? (target - r->frames) / rate : 0.0, eps);
  else
    o2o_progress_show(&r->prog, force, "o2o render: frame %ld, %.1f frames/s, episodes %s (of %d)",
                      r->frames, rate, eps, r->a.episodes);
}

static void write_json(const render_run *r) {
  FILE *f = stdout;
  fprintf(f, "{\"out\": ");
  o2o_json_str(f, r->a.out);
  fprintf(f, ", \"frames\": %ld, \"width\": %d, \"height\": %d, \"fps\": ", r->frames,
          r->frame_width, r->a.height);
  o2o_json_num(f, r->a.fps);
  fprintf(f, ", \"seed\": %llu, \"policy\": ", (unsigned long long)r->a.seed);
  o2o_json_str(f, r->a.checkpoint ? r->a.checkpoint : r->a.dataset ? r->a.dataset : "random");
  fprintf(f, ", \"variants\": [");
  for (int k = 0; k < r->nsides; k++) {
    const render_side *s = &r->side[k];
    fprintf(f, "%s{\"variant\": ", k ? ", " : "");
    o2o_json_str(f, s->variant);
    fprintf(f, ", \"steps\": %ld, \"episodes\": %d, \"returns\": [", s->steps, s->episodes_done);
    for (int e = 0; e < s->episodes_done && e < 64; e++) {
      if (e) fprintf(f, ", ");
      o2o_json_num(f, s->returns[e]);
    }
    fprintf(f, "]}");
  }
  fprintf(f, "]}\n");
  fflush(f);
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
  if (r->a.json) write_json(r);
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
  render_progress_start(r);
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
    render_progress(r, target, 0);
  }
  render_progress(r, target, 1);
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
  o2o_progress_end(&r->prog); /* an error starts on a line of its own */
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
