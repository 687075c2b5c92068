/* spawn.c: local child processes for the pool (see spawn.h). */
#include "spawn.h"
#include "o2o_bridge.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int is_executable(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int o2o_spawn_find_exe(const char *name, char *out, size_t outlen, char *err, size_t errlen) {
  char buf[PATH_MAX];
  /* 1. Next to the running program: the build dir holds every program. */
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) {
    buf[n] = 0;
    char *slash = strrchr(buf, '/');
    if (slash) {
      slash[1] = 0;
      if (strlen(buf) + strlen(name) < sizeof buf) {
        strcat(buf, name);
        if (is_executable(buf) && strlen(buf) < outlen) {
          strcpy(out, buf);
          return 0;
        }
      }
    }
  }
  /* 2. $O2O_BUILD_DIR: tests run from their own folder but set it. */
  const char *bd = getenv("O2O_BUILD_DIR");
  if (bd && *bd) {
    snprintf(buf, sizeof buf, "%s/%s", bd, name);
    if (is_executable(buf) && strlen(buf) < outlen) {
      strcpy(out, buf);
      return 0;
    }
  }
  /* 3. $PATH. */
  const char *path = getenv("PATH");
  if (path) {
    const char *p = path;
    while (*p) {
      const char *colon = strchr(p, ':');
      size_t len = colon ? (size_t)(colon - p) : strlen(p);
      if (len > 0 && len + strlen(name) + 2 < sizeof buf) {
        memcpy(buf, p, len);
        buf[len] = '/';
        strcpy(buf + len + 1, name);
        if (is_executable(buf) && strlen(buf) < outlen) {
          strcpy(out, buf);
          return 0;
        }
      }
      if (!colon) break;
      p = colon + 1;
    }
  }
  snprintf(err, errlen,
           "cannot find the program '%s': looked next to the running program "
           "(/proc/self/exe), in $O2O_BUILD_DIR (%s) and on $PATH; build it or set "
           "O2O_BUILD_DIR",
           name, bd && *bd ? bd : "unset");
  return O2O_BRIDGE_ESPAWN;
}

void o2o_spawn_runtime_dir(char *out, size_t outlen) {
  const char *x = getenv("XDG_RUNTIME_DIR");
  struct stat st;
  /* ipc paths must fit in sun_path (108 bytes): skip a runtime dir that is too long. */
  if (x && *x && strlen(x) < 48 && stat(x, &st) == 0 && S_ISDIR(st.st_mode) && access(x, W_OK) == 0)
    snprintf(out, outlen, "%s", x);
  else
    snprintf(out, outlen, "/tmp");
}

int o2o_spawn_start(o2o_spawn *s, const char *const *argv, int quiet_stdout, char *err,
                    size_t errlen) {
  memset(s, 0, sizeof *s);
  s->pidfd = -1;
  if (!argv || !argv[0]) {
    snprintf(err, errlen, "spawn: empty argv");
    return O2O_BRIDGE_EINVAL;
  }
  /* Report exec failure through a close-on-exec pipe: EOF = exec succeeded. */
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) != 0) {
    snprintf(err, errlen, "spawn %s: pipe: %s", argv[0], strerror(errno));
    return O2O_BRIDGE_ESPAWN;
  }
  pid_t parent = getpid();
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "spawn %s: fork: %s", argv[0], strerror(errno));
    close(pfd[0]);
    close(pfd[1]);
    return O2O_BRIDGE_ESPAWN;
  }
  if (pid == 0) {
    /* Child: only async-signal-safe calls until exec. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127); /* parent already gone */
    setpgid(0, 0);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      if (quiet_stdout) dup2(devnull, 1);
      if (devnull > 2) close(devnull);
    }
    /* Nothing of the parent's but stdin/out/err reaches the program: an inherited pipe
     * (a test runner's, a logger's) would otherwise stay open as long as the child. */
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    /* Reset what the parent may have changed that exec keeps. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
      sigaction(sig, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(argv[0], (char *const *)argv);
    int e = errno;
    ssize_t w = write(pfd[1], &e, sizeof e);
    (void)w;
    _exit(127);
  }
  close(pfd[1]);
  int child_errno = 0;
  ssize_t r;
  do {
    r = read(pfd[0], &child_errno, sizeof child_errno);
  } while (r < 0 && errno == EINTR);
  close(pfd[0]);
  s->pid = pid;
  if (r == (ssize_t)sizeof child_errno) {
    waitpid(pid, &s->status, 0);
    s->pid = 0;
    snprintf(err, errlen, "spawn %s: exec failed: %s", argv[0], strerror(child_errno));
    return O2O_BRIDGE_ESPAWN;
  }
  s->pidfd = pidfd_open(pid, 0); /* -1 on old kernels: fall back to polling waitpid */
  return 0;
}

static void mark_reaped(o2o_spawn *s, int status) {
  s->reaped = 1;
  s->status = status;
  if (s->pidfd >= 0) close(s->pidfd);
  s->pidfd = -1;
}

int o2o_spawn_alive(o2o_spawn *s) {
  if (s->pid <= 0 || s->reaped) return 0;
  int status = 0;
  pid_t r = waitpid(s->pid, &status, WNOHANG);
  if (r == s->pid) {
    mark_reaped(s, status);
    return 0;
  }
  if (r < 0 && errno == ECHILD) { /* reaped elsewhere (SIGCHLD = SIG_IGN) */
    mark_reaped(s, 0);
    return 0;
  }
  return 1;
}

/* Wait up to ms for the child to exit; 1 if it did (and is reaped). */
static int wait_exit(o2o_spawn *s, int ms) {
  double end = now_ms() + ms;
  for (;;) {
    if (!o2o_spawn_alive(s)) return 1;
    double left = end - now_ms();
    if (left <= 0) return 0;
    if (s->pidfd >= 0) {
      struct pollfd pf = {.fd = s->pidfd, .events = POLLIN};
      poll(&pf, 1, (int)(left + 1));
    } else {
      struct timespec ts = {0, 2000000};
      nanosleep(&ts, NULL);
    }
  }
}

int o2o_spawn_wait_path(o2o_spawn *s, const char *path, int timeout_ms, char *err, size_t errlen) {
  double end = now_ms() + timeout_ms;
  for (;;) {
    struct stat st;
    if (stat(path, &st) == 0) return 0;
    if (!o2o_spawn_alive(s)) {
      char why[128];
      o2o_spawn_describe(s, why, sizeof why);
      snprintf(err, errlen, "child %d %s before it bound %s", (int)s->pid, why, path);
      return O2O_BRIDGE_ESPAWN;
    }
    if (now_ms() >= end) {
      snprintf(err, errlen, "child %d did not bind %s within %d ms", (int)s->pid, path, timeout_ms);
      return O2O_BRIDGE_ESPAWN;
    }
    /* The pidfd wakes us at once if the child dies; else re-check the path every 2 ms. */
    if (s->pidfd >= 0) {
      struct pollfd pf = {.fd = s->pidfd, .events = POLLIN};
      poll(&pf, 1, 2);
    } else {
      struct timespec ts = {0, 2000000};
      nanosleep(&ts, NULL);
    }
  }
}

void o2o_spawn_describe(const o2o_spawn *s, char *buf, size_t len) {
  if (s->pid <= 0 && !s->reaped)
    snprintf(buf, len, "not started");
  else if (!s->reaped)
    snprintf(buf, len, "running");
  else if (WIFEXITED(s->status))
    snprintf(buf, len, "exited with status %d", WEXITSTATUS(s->status));
  else if (WIFSIGNALED(s->status))
    snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(s->status),
             strsignal(WTERMSIG(s->status)));
  else
    snprintf(buf, len, "ended (status 0x%x)", s->status);
}

void o2o_spawn_stop(o2o_spawn *s, int grace_ms) {
  if (s->pid > 0 && !s->reaped) {
    if (grace_ms > 0) {
      kill(s->pid, SIGTERM);
      kill(s->pid, SIGCONT); /* a SIGSTOPped child acts on SIGTERM only once continued */
    }
    if (grace_ms <= 0 || !wait_exit(s, grace_ms)) {
      kill(s->pid, SIGKILL);
      int status = 0;
      while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR) {
      }
      mark_reaped(s, status);
    }
  }
  if (s->pidfd >= 0) close(s->pidfd);
  s->pidfd = -1;
}
