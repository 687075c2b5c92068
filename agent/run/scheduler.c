/* scheduler.c: the parent of `o2o run` (pipeline.h): run folder checks, then the jobs as
 * child processes, N at a time, with progress read from their logs. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "o2o_agent.h"
#include "run/pipeline.h"
#include "run/report.h"
#include "run/train.h"

extern char **environ;

enum { J_PENDING, J_RUNNING, J_DONE, J_FAILED };

typedef struct job {
  int method;
  uint64_t seed;
  int dep; /* index of the pretrain job, -1 = none */
  char dir[1100];
  int state;
  pid_t pid;
  double t_start;
  int64_t total;    /* steps of its phase */
  int64_t step;     /* from its log */
  double rate;      /* steps/s (offline: gradient steps/s) */
  double eval;      /* last evaluation's mean return, NAN = none yet */
  double phase_eta; /* s, -1 unknown */
  long scanned;     /* bytes of log.txt searched for simulator faults */
  int cpu;          /* the CPU the worker and its o2o-sim children are pinned to, -1 none */
} job;

typedef struct sched {
  const o2o_experiment *x;
  const char *run_dir;
  const o2o_run_options *o;
  job *jobs;
  int n;
  FILE *log; /* run.log */
  char **envp;
  double t0;
} sched;

static volatile sig_atomic_t stop_sig;
static void on_stop(int sig) {
  stop_sig = sig;
}

/* An event: run.log with the time, and stderr unless quiet (errors always). */
static void event(sched *s, int error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void event(sched *s, int error, const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (s->log) {
    time_t t = time(NULL);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    fprintf(s->log, "%s %s\n", ts, msg);
    fflush(s->log);
  }
  if (error || !s->o->quiet) fprintf(stderr, "o2o run: %s\n", msg);
}

static const char *job_name(const job *j, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/seed%llu", o2o_method_name(j->method), (unsigned long long)j->seed);
  return buf;
}

static int file_exists(const char *dir, const char *name) {
  char p[1200];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return access(p, F_OK) == 0;
}

/* The last len bytes of a file, NUL-terminated, into buf; 0 when none. */
static size_t tail(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "r");
  if (!f) return buf[0] = 0;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  long from = size > (long)cap - 1 ? size - (long)cap + 1 : 0;
  fseek(f, from, SEEK_SET);
  size_t n = fread(buf, 1, cap - 1, f);
  buf[n] = 0;
  fclose(f);
  return n;
}

/* Last non-empty line of the job's log (why it failed). */
static void last_line(const job *j, char *out, size_t cap) {
  char p[1200], buf[4096];
  snprintf(p, sizeof p, "%s/log.txt", j->dir);
  size_t n = tail(p, buf, sizeof buf);
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    buf[--n] = 0;
  char *l = strrchr(buf, '\n');
  const char *src = l ? l + 1 : buf;
  size_t len = strlen(src) < cap ? strlen(src) : cap - 1; /* the end of a long line is cut */
  memcpy(out, src, len);
  out[len] = 0;
}

/* Progress from the job's log: the loops' progress lines "[offline A] step S/T ... | R upd/s"
 * and "[train S/V] step S/T ... | R steps/s", the eval returns "| eval E" / "[eval] step S:
 * return E". */
static void read_progress(job *j) {
  char p[1200], buf[16384];
  snprintf(p, sizeof p, "%s/log.txt", j->dir);
  tail(p, buf, sizeof buf);
  const int off = j->method == O2O_METHOD_OFFLINE;
  const char *tag = off ? "[offline " : "[train ", *last = NULL;
  for (const char *q = buf; (q = strstr(q, tag)); q++)
    last = q;
  if (last) {
    const char *st = strstr(last, "] step ");
    long long a, b;
    if (st && sscanf(st, "] step %lld/%lld", &a, &b) == 2) j->step = a;
    const char *bar = st ? strstr(st, " | ") : NULL;
    double r;
    if (bar && sscanf(bar, " | %lf", &r) == 1) j->rate = r;
    const char *ev = strstr(last, "| eval ");
    const char *nl = strchr(last, '\n');
    if (ev && (!nl || ev < nl) && sscanf(ev, "| eval %lf", &r) == 1) j->eval = r;
  }
  const char *le = NULL;
  for (const char *q = buf; (q = strstr(q, "[eval] step ")); q++)
    le = q;
  double r;
  long long s;
  if (le && (!last || le > last) && sscanf(le, "[eval] step %lld: return %lf", &s, &r) == 2)
    j->eval = r;
  j->phase_eta = j->rate > 0 ? (double)(j->total - j->step) / j->rate : -1;
}

/* Simulator faults the pool recovered from (its "o2o pool: fault" lines in the job's log)
 * go to run.log as events. */
static void scan_faults(sched *s, job *j) {
  char p[1200], line[2048], name[128];
  snprintf(p, sizeof p, "%s/log.txt", j->dir);
  FILE *f = fopen(p, "r");
  if (!f) return;
  if (fseek(f, j->scanned, SEEK_SET) == 0)
    while (fgets(line, sizeof line, f)) {
      size_t n = strlen(line);
      if (n && line[n - 1] != '\n') break; /* a line still being written: next time */
      j->scanned += (long)n;
      line[n - 1] = 0;
      if (strstr(line, "o2o pool: fault"))
        event(s, 0, "%s: simulator fault, recovered: %s", job_name(j, name, sizeof name), line);
    }
  fclose(f);
}

static void fmt_dur(double s, char *buf, size_t cap) {
  if (s < 0 || !isfinite(s))
    snprintf(buf, cap, "?");
  else
    snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

/* Seconds left in the whole run: every job's remaining steps at its kind's known rate,
 * spread over the job slots, and at least the longest running job's. */
static double run_eta(const sched *s) {
  double rate[2] = {0, 0}, left = 0, longest = 0;
  for (int i = 0; i < s->n; i++) {
    const job *j = &s->jobs[i];
    int k = j->method != O2O_METHOD_OFFLINE;
    if (j->state == J_RUNNING && j->rate > 0) rate[k] = j->rate;
  }
  for (int i = 0; i < s->n; i++) {
    const job *j = &s->jobs[i];
    int k = j->method != O2O_METHOD_OFFLINE;
    if (j->state == J_DONE || j->state == J_FAILED) continue;
    if (rate[k] <= 0) return -1;
    double t = (double)(j->total - (j->state == J_RUNNING ? j->step : 0)) /
               (j->state == J_RUNNING && j->rate > 0 ? j->rate : rate[k]);
    left += t;
    if (j->state == J_RUNNING && t > longest) longest = t;
  }
  double spread = left / (s->o->jobs < s->n ? s->o->jobs : s->n);
  return spread > longest ? spread : longest;
}

static void print_progress(sched *s) {
  char eta[32], reta[32], name[128];
  for (int i = 0; i < s->n; i++)
    if (s->jobs[i].state == J_RUNNING) read_progress(&s->jobs[i]);
  fmt_dur(run_eta(s), reta, sizeof reta);
  int done = 0;
  for (int i = 0; i < s->n; i++)
    done += s->jobs[i].state == J_DONE;
  for (int i = 0; i < s->n; i++) {
    job *j = &s->jobs[i];
    if (j->state != J_RUNNING) continue;
    fmt_dur(j->phase_eta, eta, sizeof eta);
    char ev[32] = "-";
    if (isfinite(j->eval)) snprintf(ev, sizeof ev, "%.1f", j->eval);
    fprintf(stderr,
            "[run %s] %-14s %s step %lld/%lld (%.0f%%) | %.0f %s/s | eval %s | ETA %s | run %d/%d "
            "done, ETA %s\n",
            s->x->name, job_name(j, name, sizeof name),
            j->method == O2O_METHOD_OFFLINE ? "offline" : "online", (long long)j->step,
            (long long)j->total, j->total ? 100.0 * (double)j->step / (double)j->total : 0.0,
            j->rate, j->method == O2O_METHOD_OFFLINE ? "upd" : "steps", ev, eta, done, s->n, reta);
  }
}

/* Environment of the workers: one OpenBLAS thread each (built before fork: the child only
 * calls async-signal-safe functions). */
static char **worker_env(void) {
  int n = 0;
  while (environ[n])
    n++;
  char **e = calloc((size_t)n + 3, sizeof *e);
  if (!e) return NULL;
  int k = 0;
  for (int i = 0; i < n; i++)
    if (strncmp(environ[i], "OPENBLAS_NUM_THREADS=", 21) &&
        strncmp(environ[i], "O2O_BLAS_THREADS=", 17))
      e[k++] = environ[i];
  e[k++] = "OPENBLAS_NUM_THREADS=1";
  e[k++] = "O2O_BLAS_THREADS=1";
  return e;
}

static int start_job(sched *s, job *j, char *err, size_t errlen) {
  if (o2o_train_mkdirs(j->dir, err, errlen)) return -1;
  char logp[1200], seed[32];
  snprintf(logp, sizeof logp, "%s/log.txt", j->dir);
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)j->seed);
  int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    o2o_agent_errf(err, errlen, "cannot write %s: %s", logp, strerror(errno));
    return -1;
  }
  j->scanned = (long)lseek(fd, 0, SEEK_END); /* a former attempt's lines are not news */
  const char *argv[10] = {s->o->exe, "run", "--worker", s->run_dir, o2o_method_name(j->method),
                          seed};
  int a = 6;
  if (s->o->sim_exe) argv[a++] = "--sim-exe", argv[a++] = s->o->sim_exe;
  argv[a] = NULL;
  /* With several jobs at a time, each runs on a CPU of its own, its o2o-sim children too
   * (they inherit the mask): jobs do not migrate onto each other's core. The CPU is the
   * first allowed one no running job holds. */
  cpu_set_t mine, one;
  CPU_ZERO(&one);
  j->cpu = -1;
  if (s->o->jobs >= 2 && sched_getaffinity(0, sizeof mine, &mine) == 0 && CPU_COUNT(&mine) >= 2) {
    for (int c = 0; c < CPU_SETSIZE && j->cpu < 0; c++) {
      if (!CPU_ISSET(c, &mine)) continue;
      int taken = 0;
      for (int i = 0; i < s->n; i++)
        taken |= s->jobs[i].state == J_RUNNING && s->jobs[i].cpu == c;
      if (!taken) j->cpu = c;
    }
    if (j->cpu >= 0) CPU_SET(j->cpu, &one);
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    o2o_agent_errf(err, errlen, "fork: %s", strerror(errno));
    close(fd);
    return -1;
  }
  if (pid == 0) {
    /* the worker goes when the parent goes (SIGTERM: it checkpoints and stops) */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    if (j->cpu >= 0) sched_setaffinity(0, sizeof one, &one);
    dup2(fd, 1);
    dup2(fd, 2);
    execve(argv[0], (char *const *)argv, s->envp);
    static const char msg[] = "o2o run: cannot execute the worker\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(127);
  }
  close(fd);
  j->pid = pid;
  j->state = J_RUNNING;
  j->t_start = o2o_agent_now_s();
  j->step = 0;
  j->rate = 0;
  j->eval = NAN;
  char name[128];
  char on[32] = "";
  if (j->cpu >= 0) snprintf(on, sizeof on, ", CPU %d", j->cpu);
  event(s, 0, "start %s (pid %d%s, log %s)", job_name(j, name, sizeof name), (int)pid, on, logp);
  return 0;
}

static void make_job_gap(sched *s, const job *j);

/* The worker ended: DONE, or FAILED (its own, or written here with the exit status). */
static void end_job(sched *s, job *j, int status) {
  char name[128], line[600], why[700];
  job_name(j, name, sizeof name);
  j->pid = 0;
  scan_faults(s, j);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && file_exists(j->dir, "DONE")) {
    j->state = J_DONE;
    read_progress(j);
    event(s, 0, "done %s in %.0f s (last eval %.1f)", name, o2o_agent_now_s() - j->t_start,
          j->eval);
    make_job_gap(s, j);
    return;
  }
  j->state = J_FAILED;
  last_line(j, line, sizeof line);
  if (WIFSIGNALED(status))
    snprintf(why, sizeof why, "killed by signal %d (%s); last log line: %s", WTERMSIG(status),
             strsignal(WTERMSIG(status)), line);
  else
    snprintf(why, sizeof why, "exit code %d: %s", WEXITSTATUS(status), line);
  if (!file_exists(j->dir, "FAILED")) {
    char p[1200], text[1600], err[O2O_AGENT_ERRLEN];
    snprintf(p, sizeof p, "%s/FAILED", j->dir);
    char *q = why;
    size_t k =
        (size_t)snprintf(text, sizeof text, "{\"method\": \"%s\", \"seed\": %llu, \"error\": \"",
                         o2o_method_name(j->method), (unsigned long long)j->seed);
    for (; *q && k + 8 < sizeof text; q++) {
      if (*q == '"' || *q == '\\') text[k++] = '\\';
      text[k++] = (*q == '\n' || *q == '\t') ? ' ' : *q;
    }
    snprintf(text + k, sizeof text - k, "\"}\n");
    if (o2o_pipeline_write_file(p, text, err, sizeof err)) event(s, 1, "%s", err);
  }
  event(s, 1, "FAILED %s: %s (log %s/log.txt)", name, why, j->dir);
}

/* `o2o gap --json` of the scenario's sim variant on the dataset into path (replaced only by a
 * complete run), with an H2O checkpoint when given (its discriminators' Spearman figure).
 * 0 when written. */
static int run_gap(sched *s, const char *path, const char *checkpoint) {
  char tmp[1300], nul[] = "/dev/null";
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  char *argv[] = {(char *)s->o->exe,
                  "gap",
                  (char *)s->x->dataset,
                  "--scenario",
                  (char *)s->x->scenario,
                  "--transitions",
                  "5000",
                  "--procs",
                  "1",
                  "--envs",
                  "16",
                  "--json",
                  checkpoint ? "--checkpoint" : NULL,
                  (char *)checkpoint,
                  NULL};
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen(tmp, "w", stdout) || !freopen(nul, "w", stderr)) _exit(127);
    execve(s->o->exe, argv, s->envp);
    _exit(127);
  }
  int st = 0;
  if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
      rename(tmp, path) == 0)
    return 0;
  unlink(tmp);
  return -1;
}

/* RUN/gap.json: the true gap (for the report), once per folder; a dataset without recorded
 * states cannot be replayed: skipped. */
static void make_gap(sched *s) {
  char path[1200];
  snprintf(path, sizeof path, "%s/gap.json", s->run_dir);
  if (!s->x->dataset[0] || access(path, F_OK) == 0) return;
  if (run_gap(s, path, NULL) == 0) {
    event(s, 0, "gap: %s", path);
    return;
  }
  event(s, 0,
        "gap: no gap.json (o2o gap %s --scenario %s failed: a dataset without recorded "
        "states cannot be replayed)",
        s->x->dataset, s->x->scenario);
}

/* JOB/gap.json of a finished H2O job: how well its discriminators rank the true gap
 * (Spearman of -log w with the replay error, their accuracy), from its final checkpoint. */
static void make_job_gap(sched *s, const job *j) {
  char path[1200], ckpt[1200];
  snprintf(path, sizeof path, "%s/gap.json", j->dir);
  snprintf(ckpt, sizeof ckpt, "%s/final.safetensors", j->dir);
  if (j->method != O2O_METHOD_H2O || !s->x->dataset[0] || access(path, F_OK) == 0 ||
      access(ckpt, R_OK) != 0)
    return;
  if (run_gap(s, path, ckpt) == 0)
    event(s, 0, "gap of %s/final.safetensors against the truth: %s", j->dir, path);
  else
    event(s, 0, "gap: no %s (o2o gap --checkpoint %s failed)", path, ckpt);
}

/* The report (report.h) of the run folder, at the end of every run: a failure to write it is
 * an event, not a failed run (`o2o report RUN_DIR` can redo it). */
static void rebuild_report(sched *s) {
  o2o_report_options ro;
  o2o_report_options_default(&ro);
  ro.progress = !s->o->quiet;
  char err[2048];
  if (o2o_report_write(s->run_dir, &ro, err, sizeof err))
    event(s, 1, "report: %s", err);
  else
    event(s, 0, "report: %s/report.html", s->run_dir);
}

int o2o_run_experiment(const o2o_experiment *x, const char *run_dir, const o2o_run_options *o,
                       char *err, size_t errlen) {
  err[0] = 0;
  int lock = o2o_run_prepare(x, run_dir, o, err, errlen);
  if (lock < 0) return -1;
  char probe[1200];
  sched s = {.x = x, .run_dir = run_dir, .o = o, .t0 = o2o_agent_now_s()};
  int rc = -1;
  snprintf(probe, sizeof probe, "%s/run.log", run_dir);
  if (!(s.log = fopen(probe, "a"))) {
    o2o_agent_errf(err, errlen, "cannot write %s: %s", probe, strerror(errno));
    goto out;
  }
  /* the jobs: per seed the pretrain (when a method needs it) first, then the online methods */
  s.jobs = calloc((size_t)x->num_seeds * O2O_NUM_METHODS, sizeof *s.jobs);
  s.envp = worker_env();
  if (!s.jobs || !s.envp) {
    o2o_agent_errf(err, errlen, "out of memory");
    goto out;
  }
  unsigned need = x->methods;
  for (int m = 0; m < O2O_NUM_METHODS; m++)
    if ((x->methods >> m & 1) && o2o_method_pretrained(m)) need |= 1u << O2O_METHOD_OFFLINE;
  for (int i = 0; i < x->num_seeds; i++) {
    int pre = -1;
    for (int m = 0; m < O2O_NUM_METHODS; m++) {
      if (!(need >> m & 1)) continue;
      job *j = &s.jobs[s.n];
      j->method = m;
      j->seed = x->seeds[i];
      j->dep = o2o_method_pretrained(m) ? pre : -1;
      j->eval = NAN;
      j->total = m == O2O_METHOD_OFFLINE ? x->offline_steps : x->online_steps;
      o2o_pipeline_job_dir(run_dir, m, j->seed, j->dir, sizeof j->dir);
      j->state = file_exists(j->dir, "DONE") ? J_DONE : J_PENDING;
      if (m == O2O_METHOD_OFFLINE) pre = s.n;
      s.n++;
    }
  }
  if (o->command) event(&s, 0, "command: %s", o->command);
  make_gap(&s);
  for (int i = 0; i < s.n; i++) /* H2O jobs finished before a restart */
    if (s.jobs[i].state == J_DONE) make_job_gap(&s, &s.jobs[i]);
  int done0 = 0;
  for (int i = 0; i < s.n; i++)
    done0 += s.jobs[i].state == J_DONE;
  if (done0 == s.n) {
    event(&s, 0, "%s is finished: all %d jobs are DONE in %s; rebuilding the report", x->name, s.n,
          run_dir);
    rebuild_report(&s);
    rc = 0;
    goto out;
  }
  event(&s, 0, "%s: %d jobs (%d DONE already), %d at a time, in %s", x->name, s.n, done0, o->jobs,
        run_dir);
  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  stop_sig = 0;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  double last_print = o2o_agent_now_s(), last_scan = o2o_agent_now_s();
  for (;;) {
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
      for (int i = 0; i < s.n; i++)
        if (s.jobs[i].state == J_RUNNING && s.jobs[i].pid == pid) end_job(&s, &s.jobs[i], st);
    int running = 0, pending = 0;
    for (int i = 0; i < s.n; i++)
      running += s.jobs[i].state == J_RUNNING;
    for (int i = 0; i < s.n && !stop_sig; i++) {
      job *j = &s.jobs[i];
      if (j->state != J_PENDING) continue;
      if (j->dep >= 0 && s.jobs[j->dep].state == J_FAILED) {
        char name[128];
        j->state = J_FAILED;
        event(&s, 1, "FAILED %s: its pretrain %s failed", job_name(j, name, sizeof name),
              s.jobs[j->dep].dir);
        continue;
      }
      pending++;
      if (running >= o->jobs || (j->dep >= 0 && s.jobs[j->dep].state != J_DONE)) continue;
      char sub[O2O_AGENT_ERRLEN];
      if (start_job(&s, j, sub, sizeof sub)) {
        j->state = J_FAILED;
        event(&s, 1, "FAILED %s: %s", j->dir, sub);
      } else {
        running++;
      }
    }
    if (stop_sig) {
      event(&s, 1, "interrupted (signal %d): stopping %d jobs (they checkpoint)", (int)stop_sig,
            running);
      for (int i = 0; i < s.n; i++)
        if (s.jobs[i].state == J_RUNNING) kill(s.jobs[i].pid, SIGTERM);
      while (wait(NULL) > 0 || errno == EINTR)
        ;
      o2o_agent_errf(err, errlen, "interrupted; run the same command again to resume");
      break;
    }
    if (!running && !pending) {
      int failed = 0;
      for (int i = 0; i < s.n; i++)
        failed += s.jobs[i].state == J_FAILED;
      event(&s, failed > 0, "%s: %d of %d jobs DONE, %d FAILED, in %.0f s", x->name, s.n - failed,
            s.n, failed, o2o_agent_now_s() - s.t0);
      rebuild_report(&s);
      rc = failed ? 1 : 0;
      break;
    }
    if (o2o_agent_now_s() - last_scan >= 2.0) {
      for (int i = 0; i < s.n; i++)
        if (s.jobs[i].state == J_RUNNING) scan_faults(&s, &s.jobs[i]);
      last_scan = o2o_agent_now_s();
    }
    if (!o->quiet && o2o_agent_now_s() - last_print >= 10.0) {
      print_progress(&s);
      last_print = o2o_agent_now_s();
    }
    usleep(200000);
  }
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
out:
  if (s.log) fclose(s.log);
  free(s.jobs);
  free(s.envp);
  close(lock);
  return rc;
}
