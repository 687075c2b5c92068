/* Scenario files: every shipped scenario loads and runs; every kind of broken file is
 * rejected with the file, the line and the key in the message. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include "o2o_sim.h"

#define DATA O2O_TEST_DATA_DIR "/sim/data/"

static const char *SHIPPED[] = {"pendulum",
                                "hopper",
                                "halfcheetah",
                                "walker2d",
                                "hopper-gravity",
                                "halfcheetah-gravity",
                                "halfcheetah-friction",
                                "halfcheetah-noise",
                                "walker2d-friction",
                                "pendulum-mass"};

Test(sim_scenario, every_shipped_scenario_loads_and_steps) {
  char err[O2O_SIM_ERRLEN];
  for (size_t s = 0; s < sizeof SHIPPED / sizeof SHIPPED[0]; s++) {
    o2o_scenario sc;
    int rc = o2o_scenario_load(&sc, SHIPPED[s], err, sizeof err);
    cr_assert_eq(rc, 0, "%s: %s", SHIPPED[s], err);
    cr_assert_str_eq(sc.name, SHIPPED[s]);
    cr_assert_eq(sc.max_episode_steps, 1000);
    cr_assert(o2o_dynamics_validate(&sc.sim, err, sizeof err) == 0, "%s", err);
    for (int v = 0; v < 2; v++) {
      o2o_vecenv *env = o2o_vecenv_create(&sc, (o2o_variant)v, 2, err, sizeof err);
      cr_assert_not_null(env, "%s/%d: %s", SHIPPED[s], v, err);
      const o2o_env_spec *sp = o2o_vecenv_spec(env);
      float act[2 * O2O_SIM_MAX_ACT] = {0};
      o2o_step_result res;
      cr_assert_eq(o2o_vecenv_step(env, act, &res, err, sizeof err), 0, "%s", err);
      for (int k = 0; k < 2 * sp->obs_dim; k++)
        cr_assert(isfinite(res.obs[k]));
      o2o_vecenv_destroy(env);
    }
  }
}

Test(sim_scenario, task_facts_match_gymnasium_v4) {
  struct {
    const char *name;
    int obs, act, fs;
    double dt, lo, hi, noise;
  } want[] = {{"pendulum", 4, 1, 2, 0.04, -3, 3, 0.01},
              {"hopper", 11, 3, 4, 0.008, -1, 1, 5e-3},
              {"halfcheetah", 17, 6, 5, 0.05, -1, 1, 0.1},
              {"walker2d", 17, 6, 4, 0.008, -1, 1, 5e-3}};
  char err[O2O_SIM_ERRLEN];
  for (int i = 0; i < 4; i++) {
    o2o_scenario sc;
    cr_assert_eq(o2o_scenario_load(&sc, want[i].name, err, sizeof err), 0, "%s", err);
    cr_assert_float_eq(sc.reset_noise_scale, want[i].noise, 1e-12, "%s", want[i].name);
    o2o_vecenv *env = o2o_vecenv_create(&sc, O2O_VARIANT_REAL, 1, err, sizeof err);
    cr_assert_not_null(env, "%s", err);
    const o2o_env_spec *sp = o2o_vecenv_spec(env);
    cr_assert_eq(sp->obs_dim, want[i].obs, "%s", want[i].name);
    cr_assert_eq(sp->act_dim, want[i].act, "%s", want[i].name);
    cr_assert_eq(sp->frame_skip, want[i].fs, "%s", want[i].name);
    cr_assert_float_eq(sp->dt, want[i].dt, 1e-12, "%s", want[i].name);
    for (int k = 0; k < sp->act_dim; k++) {
      cr_assert_eq(sp->act_low[k], (float)want[i].lo);
      cr_assert_eq(sp->act_high[k], (float)want[i].hi);
    }
    o2o_vecenv_destroy(env);
  }
}

Test(sim_scenario, lookup_by_name_uses_scenario_path_then_source_tree) {
  char err[O2O_SIM_ERRLEN];
  o2o_scenario sc;
  /* test data folder first in the path: "box" is found there */
  setenv("O2O_SCENARIO_PATH", O2O_TEST_DATA_DIR "/nowhere:" O2O_TEST_DATA_DIR "/sim/data", 1);
  cr_assert_eq(o2o_scenario_load(&sc, "box", err, sizeof err), 0, "%s", err);
  cr_assert(strstr(sc.path, "/sim/data/box.ini"), "%s", sc.path);
  /* "hopper" is not in the path: it falls back to the source tree's scenarios/ */
  cr_assert_eq(o2o_scenario_load(&sc, "hopper", err, sizeof err), 0, "%s", err);
  cr_assert(strstr(sc.path, "scenarios/hopper.ini"), "%s", sc.path);
  cr_assert_eq(o2o_scenario_load(&sc, "no-such-scenario", err, sizeof err), O2O_SIM_EIO);
  cr_assert(strstr(err, "no-such-scenario"), "%s", err);
  cr_assert_eq(o2o_scenario_load(&sc, DATA "missing.ini", err, sizeof err), O2O_SIM_EIO);
  cr_assert(strstr(err, "missing.ini"), "%s", err);
}

/* Load a broken file: expect the code and every fragment in the message. */
static void expect_bad(const char *file, int code, const char *f1, const char *f2, const char *f3) {
  char err[O2O_SIM_ERRLEN] = "";
  o2o_scenario sc;
  char path[1024];
  snprintf(path, sizeof path, DATA "%s", file);
  int rc = o2o_scenario_load(&sc, path, err, sizeof err);
  cr_assert_eq(rc, code, "%s: rc %d, want %d (%s)", file, rc, code, err);
  const char *frags[] = {file, f1, f2, f3};
  for (int i = 0; i < 4; i++)
    if (frags[i])
      cr_assert(strstr(err, frags[i]), "%s: '%s' missing from: %s", file, frags[i], err);
}

Test(sim_scenario, unknown_key_names_file_line_key) {
  expect_bad("bad_typo_key.ini", O2O_SIM_EPARSE, ":8:", "key 'gravity_scal'", "unknown key");
}
Test(sim_scenario, wrong_type_is_rejected) {
  expect_bad("bad_wrong_type.ini", O2O_SIM_EPARSE, ":7:", "key 'friction_scale'",
             "'abc' is not a number");
}
Test(sim_scenario, float_for_int_is_rejected) {
  expect_bad("bad_float_for_int.ini", O2O_SIM_EPARSE, ":4:", "key 'frame_skip'", "not an integer");
}
Test(sim_scenario, missing_model_file_is_rejected) {
  expect_bad("bad_missing_model.ini", O2O_SIM_EIO, ":3:", "key 'model'", "no_such_model.xml");
}
Test(sim_scenario, negative_scale_is_rejected) {
  expect_bad("bad_negative_scale.ini", O2O_SIM_ERANGE, ":11:", "key 'mass_scale'", "outside");
}
Test(sim_scenario, negative_delay_is_rejected) {
  expect_bad("bad_negative_delay.ini", O2O_SIM_ERANGE, ":7:", "key 'action_delay'", "-1");
}
Test(sim_scenario, too_long_delay_is_rejected) {
  expect_bad("bad_big_delay.ini", O2O_SIM_ERANGE, ":7:", "key 'action_delay'", "[0, 32]");
}
Test(sim_scenario, unknown_section_is_rejected) {
  expect_bad("bad_unknown_section.ini", O2O_SIM_EPARSE, ":7:", "[simulation]",
             "key 'gravity_scale'");
}
Test(sim_scenario, duplicate_key_is_rejected) {
  expect_bad("bad_duplicate_key.ini", O2O_SIM_EPARSE, ":5:", "key 'frame_skip'", "twice");
}
Test(sim_scenario, syntax_error_names_line) {
  expect_bad("bad_syntax.ini", O2O_SIM_EPARSE, ":3:", "syntax error", NULL);
}
Test(sim_scenario, overlong_line_is_rejected_not_split) {
  expect_bad("bad_long_line.ini", O2O_SIM_EPARSE, ":4:", "line longer than", NULL);
}
Test(sim_scenario, missing_required_key_is_named) {
  expect_bad("bad_missing_task.ini", O2O_SIM_EPARSE, "key 'task'", "missing", NULL);
}
Test(sim_scenario, unknown_task_lists_known_ones) {
  expect_bad("bad_unknown_task.ini", O2O_SIM_EPARSE, ":3:", "'hoper'", "hopper");
}

Test(sim_scenario, mjcf_rejected_by_mujoco_shows_its_error_and_file) {
  char err[O2O_SIM_ERRLEN] = "";
  o2o_scenario sc;
  cr_assert_eq(o2o_scenario_load(&sc, DATA "bad_mjcf_rejected.ini", err, sizeof err), 0, "%s", err);
  o2o_vecenv *env = o2o_vecenv_create(&sc, O2O_VARIANT_REAL, 1, err, sizeof err);
  cr_assert_null(env);
  cr_assert(strstr(err, "bad_mjcf.xml"), "%s", err);
  /* MuJoCo's own text names the joint it could not find */
  cr_assert(strstr(err, "no_such_joint"), "%s", err);
}

Test(sim_scenario, model_of_wrong_size_for_task_is_rejected) {
  char err[O2O_SIM_ERRLEN] = "";
  o2o_scenario sc;
  cr_assert_eq(o2o_scenario_load(&sc, "hopper", err, sizeof err), 0, "%s", err);
  snprintf(sc.model_path, sizeof sc.model_path, "%s", O2O_TEST_DATA_DIR "/sim/data/box.xml");
  cr_assert_null(o2o_vecenv_create(&sc, O2O_VARIANT_REAL, 1, err, sizeof err));
  cr_assert(strstr(err, "task 'hopper' needs nq=6"), "%s", err);
}

Test(sim_scenario, dynamics_validate_and_variant_names) {
  o2o_dynamics d;
  char err[O2O_SIM_ERRLEN];
  o2o_dynamics_default(&d);
  cr_assert_eq(o2o_dynamics_validate(&d, err, sizeof err), 0);
  d.gravity_scale = 0;
  cr_assert_eq(o2o_dynamics_validate(&d, err, sizeof err), O2O_SIM_ERANGE);
  cr_assert(strstr(err, "gravity_scale"), "%s", err);
  o2o_dynamics_default(&d);
  d.obs_noise_std = NAN;
  cr_assert_eq(o2o_dynamics_validate(&d, err, sizeof err), O2O_SIM_ERANGE);
  o2o_dynamics_default(&d);
  d.damping_scale = 0; /* no damping is allowed */
  cr_assert_eq(o2o_dynamics_validate(&d, err, sizeof err), 0);
  o2o_variant v;
  cr_assert_eq(o2o_variant_parse("sim", &v), 0);
  cr_assert_eq(v, O2O_VARIANT_SIM);
  cr_assert_str_eq(o2o_variant_name(O2O_VARIANT_REAL), "real");
  cr_assert_eq(o2o_variant_parse("fake", &v), O2O_SIM_EINVAL);
}

Test(sim_scenario, random_rollout_prints_episodes_and_mean) {
  char err[O2O_SIM_ERRLEN];
  o2o_scenario sc;
  cr_assert_eq(o2o_scenario_load(&sc, "hopper", err, sizeof err), 0, "%s", err);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert_eq(o2o_sim_random_rollout(&sc, O2O_VARIANT_REAL, 3, 7, 0, f, err, sizeof err), 0, "%s",
               err);
  fclose(f);
  cr_assert(strstr(buf, "episode 3: return"), "%s", buf);
  cr_assert(strstr(buf, "mean return"), "%s", buf);
  free(buf);
}

/* A path longer than o2o_scenario.path must be refused, not cut: the cut path may name a
 * different file (here: the path without its last 4 characters, which holds a scenario). */
Test(sim_scenario, overlong_path_is_refused_not_truncated) {
  char err[O2O_SIM_ERRLEN];
  o2o_scenario sc;
  char dir[] = "/tmp/o2o-longpath-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char path[sizeof sc.path + 64];
  snprintf(path, sizeof path, "%s", dir);
  while (strlen(path) < sizeof sc.path - 300) { /* nested folders of 200-character names */
    size_t len = strlen(path);
    path[len] = '/';
    memset(path + len + 1, 'd', 200);
    path[len + 201] = 0;
    cr_assert_eq(mkdir(path, 0700), 0, "%s", strerror(errno));
  }
  size_t len = strlen(path); /* a file whose path has exactly sizeof sc.path - 1 characters */
  path[len] = '/';
  memset(path + len + 1, 'f', sizeof sc.path - 1 - (len + 1));
  path[sizeof sc.path - 1] = 0;
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f, "%s", strerror(errno));
  fprintf(f, "[scenario]\nmodel = %s\ntask = generic\nframe_skip = 1\nmax_episode_steps = 10\n",
          DATA "sled.xml");
  fclose(f);
  cr_assert_eq(o2o_scenario_load(&sc, path, err, sizeof err), 0, "%s", err); /* it is valid */
  char longer[sizeof path + 8];
  snprintf(longer, sizeof longer, "%s.ini", path); /* names no file */
  int rc = o2o_scenario_load(&sc, longer, err, sizeof err);
  cr_assert_neq(rc, 0, "loaded %s instead of refusing the path", sc.path);
  cr_assert(strstr(err, "too long"), "%s", err);
  unlink(path);
  while (strlen(path) > strlen(dir)) {
    *strrchr(path, '/') = 0;
    rmdir(path);
  }
}
