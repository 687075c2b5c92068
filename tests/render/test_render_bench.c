/* test_render_bench.c: o2o-bench-render runs end to end (a few frames, one round, with
 * mujoco-record) and writes its JSON; the speed targets themselves are checked by running
 * the benchmark on a quiet machine (sim/render.md), not here. */
#include <criterion/criterion.h>

#include "render_test_util.h"

#define BENCH O2O_TEST_BUILD_DIR "/o2o-bench-render"

static double json_number(const char *json, const char *key) {
  char pat[96];
  snprintf(pat, sizeof pat, "\"%s\": ", key);
  const char *p = strstr(json, pat);
  return p ? atof(p + strlen(pat)) : -1e9;
}

Test(render_bench, runs_and_reports_all_phases_as_json) {
  char dir[64], cmd[1024], out[8192], json[4096];
  rt_tempdir(dir, sizeof dir);
  snprintf(cmd, sizeof cmd,
           "%s --scenario hopper --width 96 --height 64 --frames 20 --rounds 1 --json %s/b.json",
           BENCH, dir);
  cr_assert_eq(rt_run(cmd, out, sizeof out), 0, "benchmark failed:\n%s", out);
  cr_assert(strstr(out, "ratio o2o full / mujoco-record"), "%s", out);
  char path[128];
  snprintf(path, sizeof path, "%s/b.json", dir);
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f);
  size_t n = fread(json, 1, sizeof json - 1, f);
  json[n] = 0;
  fclose(f);
  cr_assert_gt(json_number(json, "o2o_fast_fps"), 0, "%s", json);
  cr_assert_gt(json_number(json, "o2o_full_fps"), 0, "%s", json);
  cr_assert_gt(json_number(json, "o2o_full_record_camera_fps"), 0, "%s", json);
  cr_assert_gt(json_number(json, "record_full_fps"), 0, "mujoco-record did not run: %s", json);
  cr_assert_gt(json_number(json, "ratio_full_vs_record"), 0, "%s", json);
  cr_assert_eq(json_number(json, "width"), 96);
  rt_rmtree(dir);
}

Test(render_bench, bad_flags_are_usage_errors) {
  char out[4096];
  cr_assert_eq(rt_run(BENCH " --frames 3", out, sizeof out), 2, "%s", out);
  cr_assert(strstr(out, "--frames"), "%s", out);
  cr_assert_eq(rt_run(BENCH " --bogus 1", out, sizeof out), 2, "%s", out);
  cr_assert_eq(rt_run(BENCH " --model /nonexistent.xml --no-record", out, sizeof out), 1);
  cr_assert(strstr(out, "/nonexistent.xml"), "%s", out);
  cr_assert_eq(rt_run(BENCH " --help", out, sizeof out), 0);
  cr_assert(strstr(out, "xvfb-run"), "%s", out);
}
