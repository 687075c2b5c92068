/* render_internal.h: what `o2o render`'s two sources share (cmd_render.c: arguments and
 * policy rollouts; cmd_render_dataset.c: replaying a dataset). Not a public API. */
#pragma once
#include <stdint.h>

#include "io/policy.h"
#include "io/progress.h"
#include "o2o_bridge.h"
#include "o2o_image.h"

#define RENDER_ERRLEN 1024

typedef struct {
  const char *checkpoint;
  int random_policy;
  const char *scenario;
  const char *variant;
  const char *out;
  int json; /* summary as one JSON object on stdout */
  const char *sim_exe;
  int episodes; /* 0 = no limit (only with --seconds) */
  double seconds;
  int width, height;
  double fps;
  int fast, side_by_side, overlay;
  uint64_t seed;
  const char *dataset; /* replay this file instead of running a policy */
  int first_episode;   /* of the dataset, 0-based */
} render_args;

/* One variant being recorded: its pool (1 o2o-sim x 1 env), observation and frame. */
typedef struct {
  const char *variant;
  o2o_pool *pool;
  const o2o_bridge_spec *spec;
  float obs[O2O_BRIDGE_MAX_OBS];
  uint8_t *rgb; /* last rendered frame, [height][width][3] */
  int episodes_done;
  int finished; /* reached --episodes: frozen on its last frame */
  double episode_return;
  float last_reward;
  double returns[64]; /* first 64 episode returns, for the summary */
  long steps, episode_steps;
} render_side;

typedef struct {
  render_args a;
  render_side side[2];
  int nsides;
  o2o_policy *policy;
  uint64_t rng;
  o2o_video *video;
  uint8_t *frame; /* composed frame, nsides * width wide */
  int frame_width;
  long frames;
  double t0;             /* when the frames began (monotonic s), for the rate */
  o2o_progress prog;     /* progress lines on stderr (in place on a terminal) */
  char scenario_buf[64]; /* --dataset: the file's metadata/scenario */
  char err[RENDER_ERRLEN];
} render_run;

/* Open variant's pool (1 o2o-sim x 1 env) and reset it with --seed. */
int render_side_open(render_run *r, render_side *s, const char *variant);
int render_side_render(render_run *r, render_side *s); /* into s->rgb */
/* Compose the sides' last frames (labels, overlay, divider) and write the result. */
int render_emit_frame(render_run *r);
/* Starts the clock and the progress line; render_progress shows frames, rate, ETA and the
 * episodes when due (force: now, and keep the line: the final one). */
void render_progress_start(render_run *r);
void render_progress(render_run *r, long target, int force);
/* Count one env step of side s (reward, episode end) as the overlay and summary show it. */
void render_count_step(render_run *r, render_side *s, float reward, int episode_ended);
/* `--dataset FILE`: after the output checks, replay the file's episodes (cmd_render_dataset.c). */
int render_dataset(render_run *r, int video);
