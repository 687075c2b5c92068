/* test_cmd_train.c: the `o2o train-online` and `o2o eval` commands end to end (a short run
 * through the bridge pool with spawned o2o-sim children), their usage errors, and a corrupt
 * checkpoint given to `o2o eval`. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *build_dir(void) {
  const char *b = getenv("O2O_BUILD_DIR");
  return b ? b : O2O_TEST_BUILD_DIR;
}

/* Run `o2o ARGS` with stdout+stderr captured into out; returns the exit code. */
static int run_o2o(const char *args, char *out, size_t cap) {
  char cmd[4096];
  snprintf(cmd, sizeof(cmd), "%s/o2o %s 2>&1", build_dir(), args);
  FILE *f = popen(cmd, "r");
  cr_assert_not_null(f);
  size_t n = fread(out, 1, cap - 1, f);
  out[n] = 0;
  int st = pclose(f);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char dir[256];
static void setup(void) {
  snprintf(dir, sizeof(dir), "/tmp/o2o_test_cmd_train_XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}
static void teardown(void) {
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}
TestSuite(cmd_train, .init = setup, .fini = teardown, .timeout = 240);

Test(cmd_train, usage_errors) {
  static char out[8192];
  cr_assert_eq(run_o2o("train-online --help", out, sizeof(out)), 0);
  cr_assert(strstr(out, "--scenario") && strstr(out, "--batch-size") && strstr(out, "--utd"), "%s",
            out);
  cr_assert_eq(run_o2o("train-online --steps -5", out, sizeof(out)), 2);
  cr_assert(strstr(out, "--steps expects an integer"), "%s", out);
  cr_assert_eq(run_o2o("train-online --gamma abc", out, sizeof(out)), 2);
  cr_assert(strstr(out, "--gamma expects a number"), "%s", out);
  cr_assert_eq(run_o2o("train-online --hidden 2.5", out, sizeof(out)), 2);
  cr_assert(strstr(out, "--hidden expects an integer"), "%s", out);
  cr_assert_eq(run_o2o("train-online --bogus 1", out, sizeof(out)), 2);
  cr_assert(strstr(out, "unknown option '--bogus'"), "%s", out);
  cr_assert_eq(run_o2o("train-online --variant fake", out, sizeof(out)), 2);
  cr_assert_eq(run_o2o("eval", out, sizeof(out)), 2);
  cr_assert(strstr(out, "--checkpoint is required"), "%s", out);
  cr_assert_eq(run_o2o("eval --help", out, sizeof(out)), 0);
  /* integers are range-checked before the cast (4294967297 wrapped to 1 as an int) */
  cr_assert_eq(run_o2o("train-online --envs 4294967297", out, sizeof(out)), 2);
  cr_assert(strstr(out, "--envs expects an integer in [1, 4096]"), "%s", out);
  cr_assert_eq(run_o2o("train-online --eval-episodes 4294967297", out, sizeof(out)), 2);
  /* a bad learner value names the flag and its range before any simulator spawns */
  cr_assert_eq(run_o2o("train-online --hidden 0 --scenario no-such", out, sizeof(out)), 2);
  cr_assert(strstr(out, "--hidden expects an integer in [1, 65536], got '0'"), "%s", out);
  cr_assert_eq(run_o2o("train-online --gamma 1.5 --scenario no-such", out, sizeof(out)), 2);
  cr_assert(strstr(out, "--gamma expects a number in [0, 1], got '1.5'"), "%s", out);
  /* --resume takes the learner from the checkpoint: its flags are refused with it */
  cr_assert_eq(run_o2o("train-online --resume x.safetensors --hidden 64", out, sizeof(out)), 2);
  cr_assert(strstr(out, "--hidden cannot be given"), "%s", out);
  cr_assert_eq(run_o2o("train-online --algo nope", out, sizeof(out)), 2);
  cr_assert(strstr(out, "not one of sac"), "%s", out);
  /* --connect trains in the servers' envs: --procs/--envs make no sense with it */
  cr_assert_eq(run_o2o("train-online --connect ipc:///tmp/x.ipc --procs 2", out, sizeof(out)), 2);
  cr_assert(strstr(out, "--connect") && strstr(out, "--procs"), "%s", out);
}

/* --start-steps >= --steps trains nothing: say so (before spawning) */
Test(cmd_train, start_steps_covering_the_run_warns) {
  static char out[8192];
  char args[1024];
  snprintf(args, sizeof(args),
           "train-online --scenario no-such-scenario --steps 100 --start-steps 100 --quiet "
           "--out %s/w",
           dir);
  cr_assert_eq(run_o2o(args, out, sizeof(out)), 1, "%s", out);
  cr_assert(strstr(out, "warning: --start-steps 100 >= --steps 100"), "%s", out);
}

/* --connect: a running server that serves another scenario than --scenario is refused
 * (the training itself through --connect is tests/bridge/two_hosts.sh). */
Test(cmd_train, connect_refuses_a_server_of_another_scenario) {
  static char out[8192];
  char ep[300], cmd[1024];
  snprintf(ep, sizeof(ep), "ipc://%s/sim.ipc", dir);
  snprintf(cmd, sizeof(cmd), "%s/o2o-sim --scenario pendulum --endpoint %s --quiet & echo $!",
           build_dir(), ep);
  FILE *f = popen(cmd, "r");
  cr_assert_not_null(f);
  int pid = 0;
  cr_assert_eq(fscanf(f, "%d", &pid), 1);
  pclose(f);
  snprintf(cmd, sizeof(cmd), "train-online --scenario hopper --connect %s --steps 10 --out %s/run",
           ep, dir);
  int rc = 1;
  for (int i = 0; i < 50; i++) { /* until the server is up */
    rc = run_o2o(cmd, out, sizeof(out));
    if (strstr(out, "serves")) break;
    usleep(100000);
  }
  kill(pid, SIGTERM);
  cr_assert_eq(rc, 1, "%s", out);
  cr_assert(strstr(out, "serves pendulum/real") && strstr(out, "--scenario hopper"), "%s", out);
}

/* Every command's numbers go through cli.c: a typo is a usage error naming the flag, never
 * silently read as 0 (collect, dataset and bench dataset used atoi before). */
Test(cmd_train, number_typos_are_usage_errors_in_every_command) {
  static char out[8192];
  static const struct {
    const char *args, *want;
  } cases[] = {
      {"collect --scenario pendulum --steps 10 --out /tmp/x.hdf5 --procs abc",
       "--procs expects an integer in [1, 256], got 'abc'"},
      {"collect --scenario pendulum --steps 10 --out /tmp/x.hdf5 --noise 0.1x",
       "--noise expects a number"},
      {"dataset info nothing.hdf5 --limit 1x", "--limit expects an integer"},
      {"bench dataset --rounds 0", "--rounds expects an integer in [1, 1000], got '0'"},
      {"eval --checkpoint x --episodes -1", "--episodes expects an integer >= 1"},
      {"bench sac --rounds q", "--rounds expects an integer"},
      {"render --policy random --scenario hopper --out /tmp/r --fps 0", "--fps expects a number"},
      {"train-online --steps 5k", "--steps expects an integer >= 1, got '5k'"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    cr_assert_eq(run_o2o(cases[i].args, out, sizeof(out)), 2, "o2o %s: %s", cases[i].args, out);
    cr_assert(strstr(out, cases[i].want), "o2o %s: %s", cases[i].args, out);
  }
}

Test(cmd_train, unknown_scenario_fails_cleanly) {
  static char out[8192];
  char args[1024];
  snprintf(args, sizeof(args),
           "train-online --scenario no-such-scenario --steps 10 --quiet --out %s/r", dir);
  cr_assert_eq(run_o2o(args, out, sizeof(out)), 1, "%s", out);
  cr_assert(strstr(out, "no-such-scenario"), "%s", out);
}

Test(cmd_train, short_run_then_eval) {
  static char out[16384];
  char args[2048], rd[300];
  snprintf(rd, sizeof rd, "%s/run\"q", dir); /* a quote: --json must escape it */
  snprintf(args, sizeof(args),
           "train-online --scenario pendulum --steps 400 --envs 2 --start-steps 100 --hidden 16 "
           "--batch-size 16 --eval-every 200 --eval-episodes 2 --checkpoint-every 200 --seed 4 "
           "--out '%s' --json",
           rd);
  int rc = run_o2o(args, out, sizeof(out));
  cr_assert_eq(rc, 0, "%s", out);
  cr_assert(strstr(out, "\"env_steps\": 400"), "%s", out);
  /* --json escapes the run folder's quote */
  cr_assert(strstr(out, "\"run_dir\": \"") && strstr(out, "/run\\\"q\""), "%s", out);
  cr_assert(strstr(out, "[eval] step 200"), "progress/eval lines on stderr: %s", out);
  char p[600];
  const char *files[] = {"config.json", "metrics.csv", "checkpoint.safetensors",
                         "final.safetensors"};
  for (int i = 0; i < 4; i++) {
    snprintf(p, sizeof(p), "%s/%s", rd, files[i]);
    cr_assert_eq(access(p, R_OK), 0, "missing %s", p);
  }
  /* The same --out again must not clobber that run. */
  snprintf(args, sizeof(args), "train-online --steps 100 --quiet --out '%s'", rd);
  cr_assert_eq(run_o2o(args, out, sizeof(out)), 1, "%s", out);
  cr_assert(strstr(out, "already holds a run"), "%s", out);
  /* --resume needs nothing but the checkpoint; it goes on in the same folder */
  snprintf(args, sizeof(args), "train-online --resume '%s/checkpoint.safetensors' --quiet", rd);
  cr_assert_eq(run_o2o(args, out, sizeof(out)), 1, "%s", out);
  cr_assert(strstr(out, "already at or past the target --steps 400"), "%s", out);
  snprintf(args, sizeof(args),
           "train-online --resume '%s/checkpoint.safetensors' --steps 600 --quiet --json", rd);
  cr_assert_eq(run_o2o(args, out, sizeof(out)), 0, "%s", out);
  cr_assert(strstr(out, "\"env_steps\": 600") && strstr(out, "/run\\\"q\""), "%s", out);
  snprintf(args, sizeof(args), "eval --checkpoint '%s/final.safetensors' --episodes 3 --json", rd);
  rc = run_o2o(args, out, sizeof(out));
  cr_assert_eq(rc, 0, "%s", out);
  cr_assert(strstr(out, "\"scenario\": \"pendulum\"") && strstr(out, "\"episodes\": 3") &&
                strstr(out, "\"mean\": "),
            "%s", out);
  /* A corrupt checkpoint: clear error naming the file, exit 1. */
  snprintf(p, sizeof(p), "%s/final.safetensors", rd);
  FILE *f = fopen(p, "r+b");
  cr_assert_not_null(f);
  fseek(f, 12, SEEK_SET);
  fputs("}}}}", f); /* break the JSON header */
  fclose(f);
  rc = run_o2o(args, out, sizeof(out));
  cr_assert_eq(rc, 1, "%s", out);
  cr_assert(strstr(out, "final.safetensors") && strstr(out, "header JSON"), "%s", out);
}

/* ---- Ctrl-C / SIGTERM: the loop checkpoints and stops, resumable, not failed ---- */

/* `o2o ARGS` in the background, stdout+stderr into log; returns its pid. */
static pid_t spawn_o2o(const char *args, const char *log) {
  char cmd[4096];
  snprintf(cmd, sizeof(cmd), "exec %s/o2o %s > '%s' 2>&1", build_dir(), args, log);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  return pid;
}

static int lines_in(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int n = 0, ch;
  while ((ch = fgetc(f)) != EOF)
    n += ch == '\n';
  fclose(f);
  return n;
}

/* Waits until path has at least n lines (60 s at most), then SIGTERM; returns the exit code. */
static int stop_when(pid_t pid, const char *path, int n) {
  for (int i = 0; i < 600 && lines_in(path) < n; i++)
    usleep(100000);
  cr_assert_geq(lines_in(path), n, "%s never reached %d lines", path, n);
  cr_assert_eq(kill(pid, SIGTERM), 0);
  int st = 0;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void read_into(const char *path, char *out, size_t cap) {
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "%s", path);
  size_t n = fread(out, 1, cap - 1, f);
  out[n] = 0;
  fclose(f);
}

static int exists(const char *dir_, const char *name) {
  char p[700];
  snprintf(p, sizeof p, "%s/%s", dir_, name);
  return access(p, F_OK) == 0;
}

Test(cmd_train, sigterm_checkpoints_train_offline_and_resume_finishes_it) {
  static char out[8192], log[600], run[400], metrics[500], args[2048];
  snprintf(run, sizeof run, "%s/off", dir);
  snprintf(log, sizeof log, "%s/off.log", dir);
  snprintf(metrics, sizeof metrics, "%s/metrics.csv", run);
  snprintf(args, sizeof args,
           "train-offline --dataset pendulum-medium --scenario pendulum --algo cql --hidden 32 "
           "--batch-size 64 --steps 1000000 --eval-every 200 --eval-episodes 2 "
           "--checkpoint-every 1000000 --out %s",
           run);
  pid_t pid = spawn_o2o(args, log);
  int rc = stop_when(pid, metrics, 2); /* header + the step-200 evaluation */
  read_into(log, out, sizeof out);
  cr_assert_eq(rc, 1, "%s", out);
  const char *at = strstr(out, "interrupted at gradient step ");
  cr_assert_not_null(at, "%s", out);
  long step = atol(at + strlen("interrupted at gradient step "));
  cr_assert_geq(step, 200, "%s", out);
  cr_assert(strstr(out, "checkpoint saved to") && strstr(out, "--resume"), "%s", out);
  cr_assert(exists(run, "checkpoint.safetensors"), "no checkpoint at the stop: %s", out);
  cr_assert(!exists(run, "FAILED"), "an interrupted run is not a failed one: %s", out);
  cr_assert(!exists(run, "final.safetensors"));
  /* The checkpoint is the stopping step's, and it alone resumes the run: no --dataset,
   * --scenario or --algo (cql, not the default iql), its evaluation every 200 steps kept. */
  long next = (step / 200 + 1) * 200;
  snprintf(args, sizeof args,
           "train-offline --resume %s/checkpoint.safetensors --steps %ld --quiet", run, next + 50);
  cr_assert_eq(run_o2o(args, out, sizeof out), 0, "%s", out);
  cr_assert(exists(run, "final.safetensors"), "%s", out);
  cr_assert(strstr(out, "train-offline cql:"), "%s", out);
  read_into(metrics, out, sizeof out);
  char row[64];
  snprintf(row, sizeof row, "\n%ld,", next);
  cr_assert(strstr(out, row), "no evaluation at %ld after the resume:\n%s", next, out);
  snprintf(args, sizeof args,
           "train-offline --resume %s/checkpoint.safetensors --steps %ld --quiet", run, step);
  cr_assert_eq(run_o2o(args, out, sizeof out), 1, "a target already reached: %s", out);
}

Test(cmd_train, sigterm_checkpoints_train_online_and_marks_nothing_failed) {
  static char out[8192], log[600], run[400], args[2048];
  snprintf(run, sizeof run, "%s/on", dir);
  snprintf(log, sizeof log, "%s/on.log", dir);
  snprintf(args, sizeof args,
           "train-online --scenario pendulum --hidden 32 --batch-size 64 --start-steps 200 "
           "--steps 100000000 --eval-every 100000000 --checkpoint-every 100000000 --out %s",
           run);
  pid_t pid = spawn_o2o(args, log);
  char cfg[500];
  snprintf(cfg, sizeof cfg, "%s/config.json", run);
  for (int i = 0; i < 600 && lines_in(cfg) < 1; i++)
    usleep(100000);
  usleep(1500000); /* past the start steps, into the updates */
  int rc = stop_when(pid, cfg, 1);
  read_into(log, out, sizeof out);
  cr_assert_eq(rc, 1, "%s", out);
  cr_assert(strstr(out, "interrupted at env step") && strstr(out, "checkpoint saved to"), "%s",
            out);
  cr_assert(exists(run, "checkpoint.safetensors"), "%s", out);
  cr_assert(!exists(run, "FAILED"), "an interrupted run is not a failed one: %s", out);
}

/* ---- a checkpoint's run settings are checked, not parsed leniently ---- */

/* Copy src to dst with the first character of metadata key's value replaced by c (same
 * length: the safetensors offsets stay valid, the file still opens). */
static void copy_with_bad_meta(const char *src, const char *dst, const char *key, char c) {
  FILE *f = fopen(src, "rb");
  cr_assert_not_null(f, "%s", src);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc(n + 1);
  cr_assert_eq(fread(buf, 1, n, f), (size_t)n);
  fclose(f);
  buf[n] = 0;
  char quoted[64];
  snprintf(quoted, sizeof quoted, "\"%s\"", key);
  char *at = strstr(buf + 8, quoted); /* the header JSON starts after its 8-byte length */
  cr_assert_not_null(at, "no metadata '%s' in %s", key, src);
  at = strchr(at + strlen(quoted), '"');
  cr_assert_not_null(at);
  at[1] = c;
  f = fopen(dst, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(buf, 1, n, f), (size_t)n);
  fclose(f);
  free(buf);
}

Test(cmd_train, resume_refuses_a_malformed_run_setting_naming_it) {
  static char out[8192], args[2048], run[400], bad[500];
  snprintf(run, sizeof run, "%s/on", dir);
  snprintf(args, sizeof args,
           "train-online --scenario pendulum --steps 200 --envs 2 --start-steps 100 --hidden 16 "
           "--batch-size 16 --eval-every 200 --eval-episodes 1 --checkpoint-every 200 --quiet "
           "--out %s",
           run);
  cr_assert_eq(run_o2o(args, out, sizeof out), 0, "%s", out);
  snprintf(bad, sizeof bad, "%s/bad-seed.safetensors", dir);
  char src[500];
  snprintf(src, sizeof src, "%s/checkpoint.safetensors", run);
  copy_with_bad_meta(src, bad, "seed", 'x');
  snprintf(args, sizeof args, "train-online --resume %s --steps 400 --quiet", bad);
  cr_assert_eq(run_o2o(args, out, sizeof out), 1, "%s", out);
  cr_assert(strstr(out, bad) && strstr(out, "metadata 'seed'") && strstr(out, "a whole number"),
            "%s", out);

  snprintf(run, sizeof run, "%s/off", dir);
  snprintf(args, sizeof args,
           "train-offline --dataset pendulum-medium --scenario pendulum --algo iql --hidden 16 "
           "--batch-size 16 --steps 100 --eval-every 100 --eval-episodes 1 --checkpoint-every 100 "
           "--quiet --out %s",
           run);
  cr_assert_eq(run_o2o(args, out, sizeof out), 0, "%s", out);
  snprintf(src, sizeof src, "%s/final.safetensors", run); /* the only file of so short a run */
  const char *keys[] = {"steps", "reward_scale"};
  for (int i = 0; i < 2; i++) {
    snprintf(bad, sizeof bad, "%s/bad-%s.safetensors", dir, keys[i]);
    copy_with_bad_meta(src, bad, keys[i], '-');
    snprintf(args, sizeof args, "train-offline --resume %s --steps 300 --quiet", bad);
    cr_assert_eq(run_o2o(args, out, sizeof out), 1, "%s", out);
    char want[64];
    snprintf(want, sizeof want, "metadata '%s'", keys[i]);
    cr_assert(strstr(out, bad) && strstr(out, want), "%s: %s", keys[i], out);
  }
}
