/* test_run.c: `o2o run` end to end on a tiny pendulum experiment: refusals before anything
 * trains (dataset of another task, a folder of another experiment, an unwritable folder), a
 * finished run that says so, and SIGKILL of the whole process group in the online phase:
 * the second run finishes, the offline phase is not redone, no metrics row is duplicated and
 * at most one checkpoint interval of steps is repeated (the killed job is full: warm-started
 * from the pretrain, K warm-up steps, H2O). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CKPT_EVERY 500
#define ONLINE_STEPS 20000

static const char *build_dir(void) {
  const char *b = getenv("O2O_BUILD_DIR");
  return b ? b : O2O_TEST_BUILD_DIR;
}

static char dir[256], exp_path[300];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/o2o_test_run_XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  snprintf(exp_path, sizeof exp_path, "%s/tiny.ini", dir);
  FILE *f = fopen(exp_path, "w");
  cr_assert_not_null(f);
  fprintf(f,
          "[experiment]\nscenario = pendulum-gear\ndataset = pendulum-medium\n"
          "methods = offline, full\nseeds = 1\neval_every = %d\neval_episodes = 2\n"
          "[offline]\nsteps = 300\ncheckpoint_every = 100\nhidden = 32\nbatch_size = 64\n"
          "[warmstart]\nsteps = 300\n[online]\nsteps = %d\ncheckpoint_every = %d\nhidden = 32\n"
          "start_steps = 200\n[sac]\nbatch_size = 64\n"
          "[h2o]\nbatch_size = 64\nreal_batch = 32\nsim_batch = 32\ndisc_hidden = 32\n",
          CKPT_EVERY, ONLINE_STEPS, CKPT_EVERY);
  fclose(f);
}
static void teardown(void) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}
TestSuite(run, .init = setup, .fini = teardown, .timeout = 600);

/* `o2o run ARGS` with stdout+stderr into out; the exit code */
static int run_o2o(const char *args, char *out, size_t cap) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "%s/o2o run %s 2>&1", build_dir(), args);
  FILE *f = popen(cmd, "r");
  cr_assert_not_null(f);
  size_t n = fread(out, 1, cap - 1, f);
  out[n] = 0;
  int st = pclose(f);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  static char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  fclose(f);
  return strdup(buf);
}

/* steps of metrics.csv (first column) into v; returns the count, -1 if unreadable */
static int metrics_steps(const char *path, long long *v, int cap) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[8192];
  int n = 0;
  if (!fgets(line, sizeof line, f)) n = 0;
  while (fgets(line, sizeof line, f) && n < cap)
    v[n++] = atoll(line);
  fclose(f);
  return n;
}

static void assert_increasing(const char *path) {
  long long v[4096];
  int n = metrics_steps(path, v, 4096);
  cr_assert_gt(n, 0, "%s: no rows", path);
  for (int i = 1; i < n; i++)
    cr_assert_gt(v[i], v[i - 1], "%s: row %d step %lld after %lld (a repeated row)", path, i, v[i],
                 v[i - 1]);
}

Test(run, refusals_before_anything_trains) {
  static char out[65536];
  char args[1024], sub[600];
  /* pendulum data on a halfcheetah scenario: refused, no folder made */
  snprintf(args, sizeof args, "%s --out %s/r1 --set experiment.scenario=halfcheetah", exp_path,
           dir);
  cr_assert_eq(run_o2o(args, out, sizeof out), 1, "%s", out);
  cr_assert(strstr(out, "obs 4 / act 1 but scenario halfcheetah"), "%s", out);
  snprintf(sub, sizeof sub, "%s/r1", dir);
  cr_assert_neq(access(sub, F_OK), 0, "the refused run made %s", sub);
  /* a dataset name that is neither a file nor a recipe of o2o dataset make */
  snprintf(args, sizeof args, "%s --out %s/r1 --set experiment.dataset=pendulum-mediun", exp_path,
           dir);
  cr_assert_eq(run_o2o(args, out, sizeof out), 1, "%s", out);
  cr_assert(strstr(out, "pendulum-mediun: no such dataset file") &&
                strstr(out, "nor a recipe of o2o dataset make"),
            "%s", out);
  cr_assert_neq(access(sub, F_OK), 0, "the refused run made %s", sub);
  /* a folder below a regular file cannot be made */
  snprintf(args, sizeof args, "%s --out %s/tiny.ini/r", exp_path, dir);
  cr_assert_eq(run_o2o(args, out, sizeof out), 1, "%s", out);
  cr_assert(strstr(out, "tiny.ini/r") && strstr(out, "Not a directory"), "%s", out);
  /* a typo in the file: FILE:LINE: key */
  snprintf(args, sizeof args, "%s --set offline.expectle=0.8", exp_path);
  cr_assert_eq(run_o2o(args, out, sizeof out), 2, "%s", out);
  cr_assert(strstr(out, "key 'expectle'") && strstr(out, "did you mean 'expectile'"), "%s", out);
  snprintf(args, sizeof args, "%s --methods full,sacsim", exp_path);
  cr_assert_eq(run_o2o(args, out, sizeof out), 2, "%s", out);
  cr_assert(strstr(out, "--methods: unknown method 'sacsim' (did you mean 'sac-sim'?)"), "%s", out);
  cr_assert_eq(run_o2o("no-such-experiment", out, sizeof out), 2, "%s", out);
  cr_assert(strstr(out, "unknown experiment 'no-such-experiment'") && strstr(out, "pendulum-gear"),
            "%s", out);
  /* a finished run says so; another experiment in its folder is refused, naming the key */
  snprintf(args, sizeof args, "%s --out %s/r2 --methods offline --quiet", exp_path, dir);
  cr_assert_eq(run_o2o(args, out, sizeof out), 0, "%s", out);
  snprintf(sub, sizeof sub, "%s/r2/offline/seed1/DONE", dir);
  cr_assert_eq(access(sub, F_OK), 0, "%s", out);
  /* the shipped pendulum-medium records its states: the gap summary is in the folder */
  snprintf(sub, sizeof sub, "%s/r2/gap.json", dir);
  char *gap = slurp(sub);
  cr_assert(gap && strstr(gap, "\"scenario\": \"pendulum-gear\""), "%s", gap ? gap : sub);
  free(gap);
  snprintf(args, sizeof args, "%s --out %s/r2 --methods offline", exp_path, dir);
  cr_assert_eq(run_o2o(args, out, sizeof out), 0, "%s", out);
  cr_assert(strstr(out, "is finished"), "%s", out);
  snprintf(args, sizeof args, "%s --out %s/r2 --set offline.steps=400", exp_path, dir);
  cr_assert_eq(run_o2o(args, out, sizeof out), 1, "%s", out);
  cr_assert(strstr(out, "holds another experiment") &&
                strstr(out, "[offline] steps: '400' vs '300'"),
            "%s", out);
}

/* A finished H2O job gets its own gap.json: its discriminators ranked against the true gap
 * (a Spearman figure and an accuracy, not null), from its final checkpoint. */
Test(run, h2o_job_measures_its_discriminators) {
  static char out[65536];
  char args[1024], p[400];
  snprintf(args, sizeof args, "%s --out %s/h --methods h2o --set online.steps=600 --quiet",
           exp_path, dir);
  cr_assert_eq(run_o2o(args, out, sizeof out), 0, "%s", out);
  snprintf(p, sizeof p, "%s/h/h2o/seed1/gap.json", dir);
  char *gap = slurp(p);
  cr_assert_not_null(gap, "no %s: %s", p, out);
  const char *sp = strstr(gap, "\"spearman\": ");
  cr_assert(sp && sp[12] != 'n', "spearman missing or null: %s", gap);
  double rho = atof(sp + 12);
  cr_assert(rho >= -1 && rho <= 1, "spearman %g outside [-1, 1]", rho);
  cr_assert(strstr(gap, "\"disc_accuracy\": ") && !strstr(gap, "\"disc_accuracy\": null"), "%s",
            gap);
  free(gap);
  snprintf(p, sizeof p, "%s/h/run.log", dir);
  char *log = slurp(p);
  cr_assert(log && strstr(log, "h2o/seed1/final.safetensors against the truth"), "%s",
            log ? log : p);
  free(log);
}

Test(run, sigkill_in_the_online_phase_resumes) {
  char out_dir[300], args[1024], p[400];
  snprintf(out_dir, sizeof out_dir, "%s/r", dir);
  snprintf(p, sizeof p, "%s/run1.txt", dir);
  char o2o[600];
  snprintf(o2o, sizeof o2o, "%s/o2o", build_dir());
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    setpgid(0, 0); /* its own group: the kill below takes parent, workers and all */
    FILE *f = freopen(p, "w", stderr);
    (void)f;
    execl(o2o, o2o, "run", exp_path, "--out", out_dir, "--jobs", "1", (char *)NULL);
    _exit(127);
  }
  setpgid(pid, pid);
  /* wait for the online job to be well into its run (past two checkpoints), then kill */
  char metrics[400], off_done[400];
  snprintf(metrics, sizeof metrics, "%s/full/seed1/metrics.csv", out_dir);
  snprintf(off_done, sizeof off_done, "%s/offline/seed1/DONE", out_dir);
  long long v[4096], seen = 0;
  for (int t = 0; t < 6000 && seen < 3 * CKPT_EVERY; t++) {
    int n = metrics_steps(metrics, v, 4096);
    if (n > 0) seen = v[n - 1];
    usleep(20000);
  }
  cr_assert_geq(seen, 3 * CKPT_EVERY, "the online phase did not get going (log %s)", p);
  cr_assert_lt(seen, ONLINE_STEPS, "the online phase finished before the kill: make it longer");
  cr_assert_eq(kill(-pid, SIGKILL), 0);
  int st;
  waitpid(pid, &st, 0);
  int n = metrics_steps(metrics, v, 4096);
  long long at_kill = v[n - 1];
  char *done1 = slurp(off_done);
  cr_assert_not_null(done1, "the offline phase was DONE before the online one started");
  struct stat s1, s2;
  cr_assert_eq(stat(off_done, &s1), 0);
  snprintf(p, sizeof p, "%s/full/seed1/DONE", out_dir);
  cr_assert_neq(access(p, F_OK), 0, "killed, yet DONE");
  usleep(500000); /* the simulators get SIGTERM from their parent's death */

  static char out[65536];
  snprintf(args, sizeof args, "%s --out %s --jobs 1", exp_path, out_dir);
  cr_assert_eq(run_o2o(args, out, sizeof out), 0, "%s", out);
  /* the offline phase is untouched */
  char *done2 = slurp(off_done);
  cr_assert_str_eq(done1, done2);
  cr_assert_eq(stat(off_done, &s2), 0);
  cr_assert_eq(s1.st_mtim.tv_sec, s2.st_mtim.tv_sec);
  cr_assert_eq(s1.st_mtim.tv_nsec, s2.st_mtim.tv_nsec);
  snprintf(p, sizeof p, "%s/offline/seed1/metrics.csv", out_dir);
  assert_increasing(p);
  assert_increasing(metrics);
  n = metrics_steps(metrics, v, 4096);
  cr_assert_eq(v[n - 1], ONLINE_STEPS);
  /* resumed from a checkpoint at most one interval before the last evaluation it had made */
  snprintf(p, sizeof p, "%s/full/seed1/DONE", out_dir);
  char *done = slurp(p);
  cr_assert_not_null(done, "%s", out);
  const char *r = strstr(done, "\"resumed_from_step\": ");
  cr_assert_not_null(r, "%s", done);
  long long from = atoll(r + 21);
  cr_assert_geq(from, at_kill - CKPT_EVERY, "resumed at %lld, the killed run had evaluated %lld",
                from, at_kill);
  cr_assert_gt(from, 0, "%s", done);
  fprintf(stderr, "run: killed after the evaluation at step %lld, resumed from step %lld\n",
          at_kill, from);
  cr_assert(strstr(done, "\"env_steps\": 20000"), "%s", done);
  cr_assert(strstr(done, "/offline/seed1/final.safetensors"), "init_from recorded: %s", done);
  free(done1);
  free(done2);
  free(done);
}

/* An o2o-sim that dies mid-run: the pool restarts it, the job finishes, run.log has it. */
Test(run, simulator_fault_is_logged_and_survived) {
  static char out[65536];
  char args[1024], marker[400], p[400];
  snprintf(marker, sizeof marker, "%s/sim.kill", dir);
  FILE *mk = fopen(marker, "w");
  cr_assert_not_null(mk);
  fclose(mk);
  setenv("O2O_SIM_TEST_KILL_AT_STEP", "700", 1);
  setenv("O2O_SIM_TEST_KILL_FILE", marker, 1);
  snprintf(args, sizeof args, "%s --out %s/f --methods sac-sim --set online.steps=2000 --quiet",
           exp_path, dir);
  int rc = run_o2o(args, out, sizeof out);
  unsetenv("O2O_SIM_TEST_KILL_AT_STEP");
  unsetenv("O2O_SIM_TEST_KILL_FILE");
  cr_assert_eq(rc, 0, "%s", out);
  cr_assert_neq(access(marker, F_OK), 0, "no simulator reached its 700th step and died");
  snprintf(p, sizeof p, "%s/f/run.log", dir);
  char *log = slurp(p);
  cr_assert_not_null(log);
  cr_assert(strstr(log, "sac-sim/seed1: simulator fault, recovered: o2o pool: fault"), "%s", log);
  free(log);
}

/* A worker that dies (SIGKILL, its parent alive): FAILED with the reason, the other jobs go
 * on, exit code 1; the next run retries it from its checkpoint and finishes. */
Test(run, dead_worker_is_failed_then_retried) {
  char out_dir[300], p[400], o2o[600];
  snprintf(out_dir, sizeof out_dir, "%s/w", dir);
  snprintf(o2o, sizeof o2o, "%s/o2o", build_dir());
  snprintf(p, sizeof p, "%s/w.txt", dir);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    FILE *f = freopen(p, "w", stderr);
    (void)f;
    execl(o2o, o2o, "run", exp_path, "--out", out_dir, "--jobs", "1", "--methods",
          "sac-sim,offline", (char *)NULL);
    _exit(127);
  }
  /* the jobs run in method order (offline, then sac-sim): once the sac-sim worker has
   * evaluated twice, kill it (its pid is in run.log) */
  char log[400], metrics[400];
  snprintf(log, sizeof log, "%s/run.log", out_dir);
  snprintf(metrics, sizeof metrics, "%s/sac-sim/seed1/metrics.csv", out_dir);
  long long worker = 0, v[4096];
  for (int t = 0; t < 6000 && !worker; t++) {
    char *text = slurp(log);
    const char *s = text ? strstr(text, "start sac-sim/seed1 (pid ") : NULL;
    if (s && metrics_steps(metrics, v, 4096) > 1) worker = atoll(s + 25);
    free(text);
    usleep(20000);
  }
  cr_assert_gt(worker, 0, "the sac-sim worker did not start (%s)", p);
  cr_assert_eq(kill((pid_t)worker, SIGKILL), 0);
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "exit status %d", st);
  snprintf(p, sizeof p, "%s/sac-sim/seed1/FAILED", out_dir);
  char *failed = slurp(p);
  cr_assert(failed && strstr(failed, "killed by signal 9"), "%s", failed ? failed : p);
  free(failed);
  snprintf(p, sizeof p, "%s/offline/seed1/DONE", out_dir);
  cr_assert_eq(access(p, F_OK), 0, "the other job went on");
  static char out[65536];
  char args[1024];
  snprintf(args, sizeof args, "%s --out %s --jobs 1 --methods sac-sim,offline --quiet", exp_path,
           out_dir);
  cr_assert_eq(run_o2o(args, out, sizeof out), 0, "%s", out);
  snprintf(p, sizeof p, "%s/sac-sim/seed1/DONE", out_dir);
  cr_assert_eq(access(p, F_OK), 0, "%s", out);
  snprintf(p, sizeof p, "%s/sac-sim/seed1/FAILED", out_dir);
  cr_assert_neq(access(p, F_OK), 0, "FAILED left after the retry");
  assert_increasing(metrics);
}

/* Two jobs at a time on a machine with >= 2 CPUs: each worker (and its o2o-sim children) is
 * pinned to a CPU of its own; run.log names it and the worker's log says where it runs. */
Test(run, parallel_jobs_are_pinned_to_cpus_of_their_own) {
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  if (ncpu < 2) cr_skip_test("one CPU: nothing to pin");
  char out_dir[400], args[1024], p[600];
  static char out[65536];
  snprintf(out_dir, sizeof out_dir, "%s/par", dir);
  snprintf(args, sizeof args,
           "%s --out %s --jobs 2 --methods sac-sim,offline --set online.steps=1000 --quiet",
           exp_path, out_dir);
  cr_assert_eq(run_o2o(args, out, sizeof out), 0, "%s", out);
  snprintf(p, sizeof p, "%s/run.log", out_dir);
  FILE *f = fopen(p, "r");
  cr_assert_not_null(f);
  static char log[65536];
  log[fread(log, 1, sizeof log - 1, f)] = 0;
  fclose(f);
  const char *a = strstr(log, "start offline/seed1 (pid "),
             *b = strstr(log, "start sac-sim/seed1 (pid ");
  cr_assert(a && b, "%s", log);
  int ca = -1, cb = -1;
  const char *x = strstr(a, ", CPU "), *y = strstr(b, ", CPU ");
  cr_assert(x && y, "no CPU named: %s", log);
  ca = atoi(x + 6), cb = atoi(y + 6);
  cr_assert_neq(ca, cb, "both jobs on CPU %d: %s", ca, log);
  snprintf(p, sizeof p, "%s/sac-sim/seed1/log.txt", out_dir);
  f = fopen(p, "r");
  cr_assert_not_null(f);
  log[fread(log, 1, sizeof log - 1, f)] = 0;
  fclose(f);
  char want[64];
  snprintf(want, sizeof want, "this job runs on CPU %d", cb);
  cr_assert(strstr(log, want), "%s", log);
}
