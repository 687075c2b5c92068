/* test_cli.c: the one flag parser as users meet it in both programs (flags/o2o_flags.h):
 * did-you-mean for unknown commands, flags and scenario names (exit 2, or the sim's load
 * error), unique prefixes and --flag=value accepted, ambiguous prefixes refused;
 * `o2o scenarios --json` and `o2o-sim --random-episodes --json` parsed by Python's json;
 * config.json of train-online and train-offline (command line, git commit, host, start
 * time, resolved target_entropy and replay_capacity, shortest float text) and the FAILED
 * file a run that stops with an error leaves in its folder. JSON checks:
 * check_run_json.py. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test_require.h"

#define o2o_require_python3()                                                                      \
  o2o_test_require(system("python3 -c 1 > /dev/null 2>&1") == 0, "python3")

static const char *build_dir(void) {
  const char *b = getenv("O2O_BUILD_DIR");
  return b ? b : O2O_TEST_BUILD_DIR;
}

static char out[65536];

/* Run a shell command line with stdout+stderr captured into out; returns the exit code. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
  char cmd[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  char full[8300];
  snprintf(full, sizeof full, "{ %s; } 2>&1", cmd);
  FILE *f = popen(full, "r");
  cr_assert_not_null(f);
  size_t n = fread(out, 1, sizeof out - 1, f);
  out[n] = 0;
  int st = pclose(f);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char dir[256];
static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/o2o_test_cli_XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}
static void teardown(void) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}
TestSuite(cli, .init = setup, .fini = teardown, .timeout = 300);

#define CHECK O2O_TEST_DATA_DIR "/agent/check_run_json.py"

Test(cli, unknown_names_get_did_you_mean_and_exit_2) {
  const char *b = build_dir();
  cr_assert_eq(sh("%s/o2o trian-online", b), 2, "%s", out);
  cr_assert(strstr(out, "unknown command 'trian-online' (did you mean train-online?)"), "%s", out);
  cr_assert_eq(sh("%s/o2o trian", b), 2, "%s", out);
  cr_assert(strstr(out, "unknown command 'trian' (did you mean train-online or train-offline?)"),
            "%s", out);
  cr_assert_eq(sh("%s/o2o xyzzy", b), 2, "%s", out);
  cr_assert(strstr(out, "unknown command 'xyzzy'\n"), "%s", out);
  cr_assert_eq(sh("%s/o2o eval --chekpoint x", b), 2, "%s", out);
  cr_assert(strstr(out, "o2o eval: unknown option '--chekpoint' (did you mean --checkpoint?)"),
            "%s", out);
  cr_assert_eq(sh("%s/o2o train-offline --datset x --scenario pendulum", b), 2, "%s", out);
  cr_assert(strstr(out, "did you mean --dataset?"), "%s", out);
  /* learner fields are flags of the same table */
  cr_assert_eq(sh("%s/o2o train-online --bach-size 8", b), 2, "%s", out);
  cr_assert(strstr(out, "did you mean --batch-size?"), "%s", out);
  cr_assert_eq(sh("%s/o2o train-offline --algo iql --expectle 0.9", b), 2, "%s", out);
  cr_assert(strstr(out, "did you mean --expectile?"), "%s", out);
  cr_assert_eq(sh("%s/o2o-sim --scenaro pendulum", b), 2, "%s", out);
  cr_assert(strstr(out, "o2o-sim: unknown option '--scenaro' (did you mean --scenario?)"), "%s",
            out);
  cr_assert_eq(sh("%s/o2o dataset inf x", b), 2, "%s", out);
  cr_assert(strstr(out, "did you mean info?"), "%s", out);
  cr_assert_eq(sh("%s/o2o bench sca", b), 2, "%s", out);
  cr_assert(strstr(out, "did you mean sac?"), "%s", out);
  cr_assert_eq(sh("%s/o2o scenarios pendulm-gear", b), 2, "%s", out);
  cr_assert(strstr(out, "unknown scenario 'pendulm-gear' (did you mean pendulum-gear?)"), "%s",
            out);
  /* a scenario name the simulator cannot find */
  cr_assert_eq(sh("%s/o2o-sim --scenario pendulm --random-episodes 1", b), 1, "%s", out);
  cr_assert(strstr(out, "scenario 'pendulm' not found") && strstr(out, "did you mean pendulum?"),
            "%s", out);
  cr_assert_eq(sh("%s/o2o train-online --scenario hoper --steps 10 --quiet --out %s/r", b, dir), 1,
               "%s", out);
  cr_assert(strstr(out, "did you mean hopper?"), "the sim's error reaches the agent: %s", out);
}

Test(cli, ambiguous_prefix_is_refused_with_the_candidates) {
  const char *b = build_dir();
  cr_assert_eq(sh("%s/o2o train-online --eval 5", b), 2, "%s", out);
  cr_assert(
      strstr(out, "option '--eval' is ambiguous (--eval-every, --eval-episodes, --eval-seed)"),
      "%s", out);
  cr_assert_eq(sh("%s/o2o-sim --s pendulum", b), 2, "%s", out);
  cr_assert(strstr(out, "ambiguous") && strstr(out, "--scenario") && strstr(out, "--seed"), "%s",
            out);
  cr_assert_eq(sh("%s/o2o render --json=1", b), 2, "%s", out);
  cr_assert(strstr(out, "--json takes no value"), "%s", out);
}

Test(cli, unique_prefixes_and_equals_values_are_accepted) {
  const char *b = build_dir();
  /* o2o-sim as before (getopt_long accepted prefixes), plus --flag=value */
  cr_assert_eq(sh("%s/o2o-sim --scen pendulum --random-ep=3 --se 5 --js > %s/r.json", b, dir), 0,
               "%s", out);
  cr_assert_eq(sh("python3 %s rollout %s/r.json 3 5", CHECK, dir), 0, "%s", out);
  /* o2o: the prefixes are taken (the checkpoint is what fails, exit 1, not a usage error) */
  cr_assert_eq(sh("%s/o2o eval --check=%s/none.safetensors --epi 2 --js", b, dir), 1, "%s", out);
  cr_assert(strstr(out, "none.safetensors"), "%s", out);
  cr_assert_eq(sh("%s/o2o train-online --scen no-such --ste=10 --hid 8 --qui --out %s/p", b, dir),
               1, "%s", out);
  cr_assert(strstr(out, "no-such"), "%s", out);
}

Test(cli, scenarios_json_lists_every_scenario_with_its_gap) {
  cr_assert_eq(sh("%s/o2o scenarios --json > %s/s.json", build_dir(), dir), 0, "%s", out);
  cr_assert_eq(sh("python3 %s scenarios %s/s.json %s", CHECK, dir, getenv("O2O_SCENARIO_PATH")), 0,
               "%s", out);
  cr_assert_eq(sh("%s/o2o scenarios pendulum-gear", build_dir()), 0, "%s", out);
  cr_assert(strstr(out, "pendulum-gear") && strstr(out, "sim: gear_scale=0.3"), "%s", out);
}

/* --json is a flag that prints on stdout in every command (bench and render took a file) */
Test(cli, json_outputs_parse) {
  o2o_require_python3();
  const char *b = build_dir();
  cr_assert_eq(sh("%s/o2o dataset info pendulum-random --json > %s/d.json", b, dir), 0, "%s", out);
  cr_assert_eq(sh("python3 %s dataset %s/d.json", CHECK, dir), 0, "%s", out);
  cr_assert_eq(sh("%s/o2o bench iql --updates 5 --rounds 1 --json > %s/b.json 2>/dev/null", b, dir),
               0, "%s", out);
  cr_assert_eq(sh("python3 %s bench %s/b.json iql", CHECK, dir), 0, "%s", out);
}

Test(cli, train_online_config_json_and_failed_marker) {
  o2o_require_python3();
  const char *b = build_dir();
  /* final.safetensors cannot be written (a folder of that name): the run fails at its end */
  cr_assert_eq(sh("mkdir -p %s/run/final.safetensors", dir), 0);
  cr_assert_eq(sh("%s/o2o train-online --scenario pendulum --steps 300 --start-steps 100 "
                  "--hidden 16 --batch-size 16 --eval-every 0 --eval-episodes 1 --seed 2 --quiet "
                  "--out %s/run --overwrite",
                  b, dir),
               1, "%s", out);
  cr_assert_eq(sh("python3 %s failed %s/run/FAILED 300", CHECK, dir), 0, "%s", out);
  cr_assert_eq(sh("python3 %s config %s/run/config.json sac sac.target_entropy=-1 "
                  "replay_capacity=300 sac.gamma=0.99 steps=300 seed=2",
                  CHECK, dir),
               0, "%s", out);
  /* the command line is recorded as given */
  cr_assert_eq(sh("grep -F '\"--start-steps\", \"100\"' %s/run/config.json", dir), 0, "%s", out);
  /* the same folder run again to the end: FAILED goes */
  cr_assert_eq(sh("rmdir %s/run/final.safetensors && %s/o2o train-online --scenario pendulum "
                  "--steps 200 --start-steps 100 --hidden 16 --batch-size 16 --eval-every 0 "
                  "--eval-episodes 1 --quiet --out %s/run --overwrite",
                  dir, b, dir),
               0, "%s", out);
  char p[512];
  snprintf(p, sizeof p, "%s/run/FAILED", dir);
  cr_assert_neq(access(p, F_OK), 0, "a finished run has no FAILED file");
}

Test(cli, train_offline_config_json_and_failed_marker) {
  o2o_require_python3();
  const char *b = build_dir();
  cr_assert_eq(sh("mkdir -p %s/off/final.safetensors", dir), 0);
  cr_assert_eq(sh("%s/o2o train-offline --dataset pendulum-random --scenario pendulum --algo cql "
                  "--steps 20 --eval-every 0 --eval-episodes 1 --hidden 16 --batch-size 16 "
                  "--quiet --out %s/off --overwrite",
                  b, dir),
               1, "%s", out);
  cr_assert_eq(sh("python3 %s failed %s/off/FAILED 20", CHECK, dir), 0, "%s", out);
  cr_assert_eq(sh("python3 %s config %s/off/config.json cql cql.target_entropy=-1 cql.gamma=0.99 "
                  "steps=20",
                  CHECK, dir),
               0, "%s", out);
}

/* stderr that is not a terminal (a log file, here a pipe) gets whole progress lines, never
 * "\r" updates of one line (which leave a log a single line of carriage returns). */
Test(cli, progress_in_a_log_is_whole_lines) {
  const char *b = build_dir();
  cr_assert_eq(sh("%s/o2o collect --scenario pendulum --steps 300 --out %s/c.hdf5", b, dir), 0,
               "%s", out);
  cr_assert_null(strchr(out, '\r'), "%s", out);
  cr_assert(strstr(out, "\ncollect: segment 1/1  300/300 rows (100%)"), "%s", out);
  cr_assert_eq(sh("%s/o2o gap %s/c.hdf5 --scenario pendulum --transitions 200", b, dir), 0, "%s",
               out);
  cr_assert_null(strchr(out, '\r'), "%s", out);
  cr_assert(strstr(out, "\ngap: 200/200 transitions"), "%s", out);
  cr_assert_eq(sh("%s/o2o train-online --scenario pendulum --steps 200 --eval-every 100 "
                  "--eval-episodes 2 --out %s/t",
                  b, dir),
               0, "%s", out);
  cr_assert_null(strchr(out, '\r'), "%s", out);
  cr_assert(strstr(out, "\n[eval] step 200: ") && strstr(out, "\n[train] done: "), "%s", out);
}
