/* test_render_cli.c: `o2o render` end to end (spawns o2o-sim, frames over the bridge):
 * video frame count by ffprobe, PNG folders, determinism, side by side, and the failures
 * that must come before the rollout (unwritable output) or say how to fix them (no
 * display). Needs a display or Xvfb. Small frames keep it fast under sanitizers. */
#include <criterion/criterion.h>
#include <sys/wait.h>

#include "render_test_util.h"

#define O2O O2O_TEST_BUILD_DIR "/o2o"

static char out[16384];

static int o2o_render(const char *args) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "{ %s render %s; }", O2O, args); /* args may redirect stdout */
  return rt_run(cmd, out, sizeof out);
}

static int count_pngs(const char *dir) {
  char cmd[512], buf[64];
  snprintf(cmd, sizeof cmd, "ls '%s' | grep -c '^frame_[0-9]\\{6\\}\\.png$'", dir);
  rt_run(cmd, buf, sizeof buf);
  return atoi(buf);
}

static int files_equal(const char *a, const char *b) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
  return rt_run(cmd, NULL, 0) == 0;
}

Test(render_cli, two_second_video_has_the_expected_frame_count) {
  char dir[64], args[512], cmd[512], probe[512];
  rt_tempdir(dir, sizeof dir);
  snprintf(args, sizeof args,
           "--policy random --scenario hopper --out %s/v.mp4 --seconds 2 --fps 15 "
           "--width 96 --height 64 --fast --seed 7",
           dir);
  cr_assert_eq(o2o_render(args), 0, "o2o render failed:\n%s", out);
  cr_assert(strstr(out, "frame 30/30"), "progress should reach frame 30/30:\n%s", out);
  snprintf(cmd, sizeof cmd,
           "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
           "stream=nb_read_frames,width,height -of csv=p=0 %s/v.mp4",
           dir);
  cr_assert_eq(rt_run(cmd, probe, sizeof probe), 0, "%s", probe);
  int w = 0, h = 0, n = 0;
  cr_assert_eq(sscanf(probe, "%d,%d,%d", &w, &h, &n), 3, "ffprobe: %s", probe);
  cr_assert_eq(w, 96);
  cr_assert_eq(h, 64);
  cr_assert_eq(n, 30, "2 s at 15 fps = 30 frames, ffprobe counted %d", n);
  rt_rmtree(dir);
}

Test(render_cli, png_frames_are_deterministic_for_a_seed) {
  char dir[64], args[512], a[160], b[160];
  rt_tempdir(dir, sizeof dir);
  for (int run = 0; run < 2; run++) {
    snprintf(args, sizeof args,
             "--policy random --scenario hopper --out %s/run%d --seconds 0.4 --fps 10 "
             "--width 80 --height 60 --seed 11 --json > %s/run%d.json",
             dir, run, dir, run);
    cr_assert_eq(o2o_render(args), 0, "o2o render failed:\n%s", out);
  }
  snprintf(a, sizeof a, "%s/run0", dir);
  cr_assert_eq(count_pngs(a), 4, "0.4 s at 10 fps = 4 frames");
  for (int f = 0; f < 4; f++) {
    snprintf(a, sizeof a, "%s/run0/frame_%06d.png", dir, f);
    snprintf(b, sizeof b, "%s/run1/frame_%06d.png", dir, f);
    cr_assert(files_equal(a, b), "frame %d differs between two runs with the same seed", f);
  }
  int w, h;
  double var;
  char info[1024];
  snprintf(a, sizeof a, "%s/run0/frame_000003.png", dir);
  cr_assert_eq(rt_png_info(a, NULL, &w, &h, &var, info, sizeof info), 0, "%s", info);
  cr_assert_eq(w, 80);
  cr_assert_eq(h, 60);
  cr_assert_gt(var, 100.0);
  /* Same returns (the JSON files differ only in the output folder's name). */
  char cmd[512], ra[4096], rb[4096];
  snprintf(cmd, sizeof cmd, "grep -o '\"variants\".*' %s/run0.json", dir);
  cr_assert_eq(rt_run(cmd, ra, sizeof ra), 0, "%s", ra);
  snprintf(cmd, sizeof cmd, "grep -o '\"variants\".*' %s/run1.json", dir);
  cr_assert_eq(rt_run(cmd, rb, sizeof rb), 0, "%s", rb);
  cr_assert_str_eq(ra, rb, "same seed, same returns");
  cr_assert(strstr(ra, "\"returns\": [") && strstr(ra, "\"steps\": "), "%s", ra);
  /* Another seed: another rollout (the random policy's actions change). */
  snprintf(args, sizeof args,
           "--policy random --scenario hopper --out %s/run2 --seconds 0.4 --fps 10 "
           "--width 80 --height 60 --seed 12",
           dir);
  cr_assert_eq(o2o_render(args), 0, "%s", out);
  snprintf(a, sizeof a, "%s/run0/frame_000003.png", dir);
  snprintf(b, sizeof b, "%s/run2/frame_000003.png", dir);
  cr_assert(!files_equal(a, b), "seed 12 rendered the same frame as seed 11");
  rt_rmtree(dir);
}

Test(render_cli, side_by_side_puts_real_and_sim_next_to_each_other) {
  char dir[64], args[512], png[160], info[1024];
  rt_tempdir(dir, sizeof dir);
  snprintf(args, sizeof args,
           "--policy random --scenario hopper-gravity --side-by-side --out %s/sbs "
           "--seconds 0.2 --fps 10 --width 64 --height 48 --fast",
           dir);
  cr_assert_eq(o2o_render(args), 0, "o2o render failed:\n%s", out);
  cr_assert(strstr(out, "real | sim"), "%s", out);
  snprintf(png, sizeof png, "%s/sbs", dir);
  cr_assert_eq(count_pngs(png), 2);
  snprintf(png, sizeof png, "%s/sbs/frame_000001.png", dir);
  int w, h;
  double var;
  cr_assert_eq(rt_png_info(png, NULL, &w, &h, &var, info, sizeof info), 0, "%s", info);
  cr_assert_eq(w, 128, "two 64-pixel frames side by side");
  cr_assert_eq(h, 48);
  rt_rmtree(dir);
}

/* The RGB pixels of a PNG, decoded by ffmpeg (independent of our encoder); malloc'd. */
static uint8_t *png_pixels(const char *png, size_t n) {
  char cmd[1024], raw[200];
  snprintf(raw, sizeof raw, "%s.rgb", png);
  snprintf(cmd, sizeof cmd, "ffmpeg -v error -y -i '%s' -f rawvideo -pix_fmt rgb24 '%s'", png, raw);
  if (rt_run(cmd, NULL, 0)) return NULL;
  FILE *f = fopen(raw, "rb");
  uint8_t *p = malloc(n);
  size_t got = f && p ? fread(p, 1, n, f) : 0;
  if (f) fclose(f);
  unlink(raw);
  if (got != n) {
    free(p);
    return NULL;
  }
  return p;
}

Test(render_cli, overlay_writes_into_the_bottom_left_and_a_divider_splits_the_panes) {
  char dir[64], args[512], png[2][160];
  rt_tempdir(dir, sizeof dir);
  int w = 160, h = 120; /* per pane */
  for (int k = 0; k < 2; k++) {
    snprintf(args, sizeof args,
             "--policy random --scenario hopper-gravity --side-by-side --out %s/run%d "
             "--seconds 0.2 --fps 10 --width %d --height %d --fast --seed 3%s",
             dir, k, w, h, k ? " --overlay" : "");
    cr_assert_eq(o2o_render(args), 0, "o2o render failed:\n%s", out);
    snprintf(png[k], sizeof png[k], "%s/run%d/frame_000001.png", dir, k);
  }
  size_t n = (size_t)2 * w * h * 3;
  uint8_t *plain = png_pixels(png[0], n), *over = png_pixels(png[1], n);
  cr_assert(plain && over, "ffmpeg could not decode %s / %s", png[0], png[1]);
  long bottom_changed = 0, top_changed = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < 2 * w; x++) {
      if (abs(x - w) <= 2) continue; /* the divider, the same in both */
      size_t i = 3 * ((size_t)y * 2 * w + x);
      int diff = memcmp(plain + i, over + i, 3) != 0;
      if (y >= h / 2) bottom_changed += diff;
      if (y >= 24 && y < h / 2) top_changed += diff; /* below the REAL/SIM labels */
    }
  cr_assert_gt(bottom_changed, 500, "overlay text missing (%ld pixels differ)", bottom_changed);
  cr_assert_eq(top_changed, 0, "the overlay must stay in the bottom rows");
  /* the seam between the panes is a light line from top to bottom */
  for (int y = 0; y < h; y++)
    for (int x = w - 1; x <= w; x++)
      cr_assert_eq(plain[3 * ((size_t)y * 2 * w + x)], 235, "divider pixel (%d, %d)", x, y);
  free(plain);
  free(over);
  rt_rmtree(dir);
}

Test(render_cli, gif_is_written_by_ffmpeg_and_single_image_names_are_refused) {
  char dir[64], args[512], cmd[512], probe[512];
  rt_tempdir(dir, sizeof dir);
  snprintf(args, sizeof args,
           "--policy random --scenario pendulum --out %s/x.gif --seconds 1 --fps 10 "
           "--width 81 --height 60 --fast",
           dir);
  cr_assert_eq(o2o_render(args), 0, "o2o render failed:\n%s", out);
  snprintf(cmd, sizeof cmd,
           "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
           "stream=codec_name,width,height,nb_read_frames -of csv=p=0 %s/x.gif",
           dir);
  cr_assert_eq(rt_run(cmd, probe, sizeof probe), 0, "%s", probe);
  char codec[32] = "";
  int pw = 0, ph = 0, pn = 0;
  cr_assert_eq(sscanf(probe, "%31[^,],%d,%d,%d", codec, &pw, &ph, &pn), 4, "ffprobe: %s", probe);
  cr_assert_str_eq(codec, "gif");
  cr_assert_eq(pw, 81, "GIFs need no even width");
  cr_assert_eq(ph, 60);
  cr_assert_eq(pn, 10);
  struct stat st;
  snprintf(args, sizeof args, "--policy random --scenario pendulum --out %s/y.png --seconds 1",
           dir);
  cr_assert_eq(o2o_render(args), 1, "a single-image name must be refused:\n%s", out);
  cr_assert(strstr(out, "single image"), "%s", out);
  snprintf(cmd, sizeof cmd, "%s/y.png", dir);
  cr_assert_neq(stat(cmd, &st), 0, "no folder named y.png may be made");
  rt_rmtree(dir);
}

Test(render_cli, unwritable_output_fails_before_the_rollout) {
  char dir[64], file[128], args[512];
  rt_tempdir(dir, sizeof dir);
  snprintf(file, sizeof file, "%s/not-a-folder", dir);
  cr_assert_eq(rt_write_file(file, "x", 1), 0);
  const char *outs[2] = {"x.mp4", "frames"};
  for (int k = 0; k < 2; k++) {
    snprintf(args, sizeof args, "--policy random --scenario hopper --out %s/%s --seconds 1", file,
             outs[k]);
    cr_assert_eq(o2o_render(args), 1, "expected failure, got:\n%s", out);
    cr_assert(strstr(out, file), "error should name the path:\n%s", out);
    cr_assert_null(strstr(out, "spawned"), "o2o-sim was started before the check:\n%s", out);
    cr_assert_null(strstr(out, "frame "), "frames were rendered:\n%s", out);
  }
  rt_rmtree(dir);
}

Test(render_cli, no_display_says_how_to_run_headless) {
  char dir[64], cmd[1024], path[128];
  rt_tempdir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/v.mp4", dir);
  snprintf(cmd, sizeof cmd,
           "env -u DISPLAY -u WAYLAND_DISPLAY %s render --policy random --scenario hopper "
           "--out %s --seconds 1 --width 64 --height 48",
           O2O, path);
  cr_assert_eq(rt_run(cmd, out, sizeof out), 1, "expected failure:\n%s", out);
  cr_assert(strstr(out, "xvfb-run -a"), "should say how to run headless:\n%s", out);
  cr_assert_neq(access(path, F_OK), 0, "no video file should be left behind");
  rt_rmtree(dir);
}

Test(render_cli, bad_arguments_are_usage_errors) {
  cr_assert_eq(o2o_render("--policy greedy --scenario hopper --out /tmp/x.mp4"), 2, "%s", out);
  cr_assert(strstr(out, "greedy"), "%s", out);
  cr_assert_eq(o2o_render("--policy random --scenario hopper"), 2, "%s", out);
  cr_assert_eq(o2o_render("--policy random --checkpoint a.st --scenario hopper --out x"), 2);
  cr_assert_eq(o2o_render("--policy random --scenario hopper --out x --fps 0"), 2, "%s", out);
  cr_assert(strstr(out, "--fps"), "%s", out);
  cr_assert_eq(o2o_render("--policy random --scenario hopper --out x --width 7"), 2);
  cr_assert_eq(o2o_render("--help"), 0);
  cr_assert(strstr(out, "xvfb-run"), "--help should mention headless use:\n%s", out);
  /* A checkpoint that does not exist: named in the error, before any rollout. */
  cr_assert_eq(o2o_render("--checkpoint /nonexistent/actor.safetensors --scenario hopper "
                          "--out /tmp/o2o-render-test-ckpt.mp4"),
               1, "%s", out);
  cr_assert(strstr(out, "/nonexistent/actor.safetensors"), "%s", out);
}

Test(render_cli, checkpoint_policy_renders_deterministically_and_must_fit_the_scenario) {
  /* A real checkpoint from a short training run (pendulum, a few hundred steps). */
  char dir[64], cmd[1024], args[1024], a[160], b[160];
  rt_tempdir(dir, sizeof dir);
  snprintf(cmd, sizeof cmd,
           "%s train-online --scenario pendulum --steps 400 --eval-every 400 --eval-episodes 1 "
           "--checkpoint-every 400 --out %s/train --quiet",
           O2O, dir);
  cr_assert_eq(rt_run(cmd, out, sizeof out), 0, "training failed:\n%s", out);
  for (int run = 0; run < 2; run++) {
    snprintf(args, sizeof args,
             "--checkpoint %s/train/final.safetensors --scenario pendulum --out %s/ck%d "
             "--seconds 0.3 --fps 10 --width 64 --height 48 --fast --seed 5",
             dir, dir, run);
    cr_assert_eq(o2o_render(args), 0, "o2o render failed:\n%s", out);
    cr_assert(strstr(out, "final.safetensors"), "%s", out);
  }
  for (int f = 0; f < 3; f++) {
    snprintf(a, sizeof a, "%s/ck0/frame_%06d.png", dir, f);
    snprintf(b, sizeof b, "%s/ck1/frame_%06d.png", dir, f);
    cr_assert(files_equal(a, b), "checkpoint rollout frame %d not deterministic", f);
  }
  /* The pendulum policy on the hopper: observation sizes differ -> clear error. */
  snprintf(args, sizeof args,
           "--checkpoint %s/train/final.safetensors --scenario hopper --out %s/bad "
           "--seconds 0.3 --width 64 --height 48",
           dir, dir);
  cr_assert_eq(o2o_render(args), 1, "%s", out);
  cr_assert(strstr(out, "obs_dim"), "%s", out);
  rt_rmtree(dir);
}
