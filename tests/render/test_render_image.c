/* test_render_image.c: the agent-side PNG encoder (decoded by an independent Python
 * zlib/struct decoder) and the ffmpeg pipe's checks. */
#include <criterion/criterion.h>
#include <sys/wait.h>

#include "o2o_image.h"
#include "render_test_util.h"

/* Encode, decode with Python, compare pixel for pixel. */
static void roundtrip(const uint8_t *rgb, int w, int h) {
  char dir[64], png[128], raw[128], err[256], out[1024];
  rt_tempdir(dir, sizeof dir);
  cr_assert(dir[0]);
  snprintf(png, sizeof png, "%s/a.png", dir);
  snprintf(raw, sizeof raw, "%s/a.raw", dir);
  cr_assert_eq(o2o_png_write(png, rgb, w, h, err, sizeof err), 0, "%s", err);
  cr_assert_eq(rt_write_file(raw, rgb, (size_t)w * h * 3), 0);
  int dw = 0, dh = 0;
  double var = 0;
  cr_assert_eq(rt_png_info(png, raw, &dw, &dh, &var, out, sizeof out), 0, "decoder: %s", out);
  cr_assert_eq(dw, w);
  cr_assert_eq(dh, h);
  unlink(png);
  unlink(raw);
  rmdir(dir);
}

Test(render_image, png_roundtrip_gradient_and_flat_regions) {
  int w = 120, h = 90;
  uint8_t *rgb = malloc((size_t)w * h * 3);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      uint8_t *p = rgb + 3 * (y * w + x);
      p[0] = (uint8_t)(x * 2);
      p[1] = y < h / 2 ? 40 : 200; /* flat halves: long LZ77 matches */
      p[2] = (uint8_t)((x / 8 + y / 8) % 2 ? 255 : 0);
    }
  roundtrip(rgb, w, h);
  free(rgb);
}

Test(render_image, png_roundtrip_noise_odd_sizes_and_tiny) {
  uint64_t s = 12345;
  int sizes[][2] = {{1, 1}, {3, 2}, {97, 31}, {301, 5}};
  for (int k = 0; k < 4; k++) {
    int w = sizes[k][0], h = sizes[k][1];
    uint8_t *rgb = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h * 3; i++) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      rgb[i] = (uint8_t)(s >> 56);
    }
    roundtrip(rgb, w, h);
    free(rgb);
  }
}

Test(render_image, png_compresses_flat_images) {
  int w = 256, h = 256;
  uint8_t *rgb = calloc((size_t)w * h * 3, 1);
  uint8_t *png = NULL;
  size_t len = 0;
  char err[256];
  cr_assert_eq(o2o_png_encode(rgb, w, h, &png, &len, err, sizeof err), 0, "%s", err);
  cr_assert_lt(len, (size_t)w * h * 3 / 50, "a black image should shrink 50x, got %zu bytes", len);
  free(png);
  free(rgb);
}

Test(render_image, png_rejects_bad_sizes) {
  uint8_t px[3] = {0};
  uint8_t *png = NULL;
  size_t len = 0;
  char err[256] = "";
  cr_assert_neq(o2o_png_encode(px, 0, 1, &png, &len, err, sizeof err), 0);
  cr_assert(strstr(err, "0x1"), "%s", err);
  cr_assert_null(png);
  cr_assert_neq(o2o_png_write("/nonexistent-dir/x.png", px, 1, 1, err, sizeof err), 0);
  cr_assert(strstr(err, "/nonexistent-dir/x.png"), "%s", err);
}

Test(render_image, video_checks_before_starting) {
  char err[512] = "";
  cr_assert_neq(o2o_video_check("/tmp/x.mp4", 101, 100, 30, err, sizeof err), 0);
  cr_assert(strstr(err, "even"), "%s", err);
  cr_assert_neq(o2o_video_check("/nonexistent-dir/x.mp4", 100, 100, 30, err, sizeof err), 0);
  cr_assert(strstr(err, "/nonexistent-dir/x.mp4"), "%s", err);
  setenv("O2O_FFMPEG", "/nonexistent/ffmpeg", 1);
  cr_assert_neq(o2o_video_check("/tmp/x.mp4", 100, 100, 30, err, sizeof err), 0);
  cr_assert(strstr(err, "not found"), "%s", err);
  unsetenv("O2O_FFMPEG");
}

Test(render_image, video_writes_frames_ffprobe_counts_them) {
  char dir[64], path[128], out[512], err[512];
  rt_tempdir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/v.mp4", dir);
  int w = 64, h = 48, n = 12;
  o2o_video *v = o2o_video_open(path, w, h, 24, err, sizeof err);
  cr_assert_not_null(v, "%s", err);
  uint8_t *rgb = malloc((size_t)w * h * 3);
  for (int f = 0; f < n; f++) {
    memset(rgb, f * 20, (size_t)w * h * 3);
    cr_assert_eq(o2o_video_frame(v, rgb, err, sizeof err), 0, "%s", err);
  }
  cr_assert_eq(o2o_video_close(v, err, sizeof err), 0, "%s", err);
  char cmd[512];
  snprintf(cmd, sizeof cmd,
           "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
           "stream=nb_read_frames,width,height -of csv=p=0 '%s'",
           path);
  cr_assert_eq(rt_run(cmd, out, sizeof out), 0, "%s", out);
  int pw = 0, ph = 0, pn = 0;
  cr_assert_eq(sscanf(out, "%d,%d,%d", &pw, &ph, &pn), 3, "ffprobe said: %s", out);
  cr_assert_eq(pw, w);
  cr_assert_eq(ph, h);
  cr_assert_eq(pn, n);
  free(rgb);
  unlink(path);
  rmdir(dir);
  rt_rmtree(dir);
}

Test(render_image, video_reports_ffmpeg_failure) {
  /* A "ffmpeg" that exits at once: frames fail with EPIPE (not SIGPIPE), close reports it. */
  char err[512] = "";
  setenv("O2O_FFMPEG", "/bin/false", 1);
  o2o_video *v = o2o_video_open("/tmp/o2o-render-test-false.mp4", 64, 48, 24, err, sizeof err);
  cr_assert_not_null(v, "%s", err);
  static uint8_t rgb[64 * 48 * 3];
  int failed = 0;
  for (int f = 0; f < 200 && !failed; f++)
    failed = o2o_video_frame(v, rgb, err, sizeof err) != 0;
  cr_assert(failed, "writing into a dead ffmpeg must fail");
  cr_assert(strstr(err, "ffmpeg stopped reading"), "%s", err);
  cr_assert_neq(o2o_video_close(v, err, sizeof err), 0);
  cr_assert(strstr(err, "ffmpeg failed"), "%s", err);
  unsetenv("O2O_FFMPEG");
}

Test(render_image, dir_prepare_creates_and_refuses_files_in_the_way) {
  char dir[64], sub[160], err[512];
  rt_tempdir(dir, sizeof dir);
  snprintf(sub, sizeof sub, "%s/a/b/c", dir);
  cr_assert_eq(o2o_dir_prepare(sub, err, sizeof err), 0, "%s", err);
  struct stat st;
  cr_assert_eq(stat(sub, &st), 0);
  cr_assert(S_ISDIR(st.st_mode));
  char file[160], under[200];
  snprintf(file, sizeof file, "%s/file", dir);
  cr_assert_eq(rt_write_file(file, "x", 1), 0);
  snprintf(under, sizeof under, "%s/frames", file);
  cr_assert_neq(o2o_dir_prepare(under, err, sizeof err), 0);
  cr_assert(strstr(err, file), "%s", err);
  rt_rmtree(dir);
}

Test(render_image, label_draws_white_letters_on_a_dark_box_and_clips) {
  int w = 100, h = 60;
  uint8_t *rgb = malloc((size_t)w * h * 3);
  memset(rgb, 128, (size_t)w * h * 3);
  o2o_image_label(rgb, w, h, 2, 2, "Real");
  long white = 0, dark = 0;
  for (long i = 0; i < (long)w * h; i++) {
    white += rgb[3 * i] == 255;
    dark += rgb[3 * i] == 32;
  }
  /* R, E, A, L have 18 + 18 + 18 + 11 lit cells, no scaling below 160 rows. */
  cr_assert_eq(white, 18 + 18 + 18 + 11, "lit pixels: %ld", white);
  cr_assert_gt(dark, 100);
  cr_assert_eq(rgb[3 * ((size_t)(h - 1) * w + (w - 1))], 128, "far corner untouched");
  /* Partly or wholly outside the image: clipped, no write out of bounds (ASan). */
  o2o_image_label(rgb, w, h, w - 10, h - 5, "SIM");
  o2o_image_label(rgb, w, h, -20, -20, "SIM");
  o2o_image_label(rgb, w, h, 5 * w, 5 * h, "SIM");
  free(rgb);
}
