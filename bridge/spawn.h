/* spawn.h: start, watch and reap local child processes (the pool's o2o-sim children).
 *
 * Internal to bridge/. Linux only: a child is watched through a pidfd, which poll()
 * (and zmq_poll) report readable the moment the child exits, so a crash is noticed
 * at once instead of after a reply timeout, and no SIGCHLD handler is installed
 * behind the caller's back. Children get their own process group (a Ctrl-C in the
 * terminal reaches only the parent, which then stops them in order) and SIGTERM when
 * the parent dies (PR_SET_PDEATHSIG), so they never outlive it.
 */
#pragma once
#include <stddef.h>
#include <sys/types.h>

typedef struct o2o_spawn {
  pid_t pid;  /* > 0 while the child exists (running, stopped or not yet reaped) */
  int pidfd;  /* readable once the child has exited; -1 when none */
  int reaped; /* 1 once waitpid collected it; status is then valid */
  int status; /* waitpid status */
} o2o_spawn;

/* Find executable `name`: next to the running program (/proc/self/exe), then in
 * $O2O_BUILD_DIR, then on $PATH. out gets an absolute or PATH-resolved path. */
int o2o_spawn_find_exe(const char *name, char *out, size_t outlen, char *err, size_t errlen);

/* Directory for ipc endpoints: $XDG_RUNTIME_DIR when it is a writable directory,
 * else /tmp. */
void o2o_spawn_runtime_dir(char *out, size_t outlen);

/* fork + exec argv[0] with argv (NULL-terminated). stdin is /dev/null; stdout goes to
 * /dev/null when quiet_stdout, stderr is inherited. Returns 0 or O2O_BRIDGE_ESPAWN. */
int o2o_spawn_start(o2o_spawn *s, const char *const *argv, int quiet_stdout, char *err,
                    size_t errlen);

/* 1 while the child runs (or is stopped), 0 once it has exited (it is reaped then). */
int o2o_spawn_alive(o2o_spawn *s);

/* Wait until `path` exists (the child bound its ipc socket), the child exits, or
 * timeout_ms passes. Returns 0 when the path exists, O2O_BRIDGE_ESPAWN otherwise with
 * the reason (exit status or timeout) in err. */
int o2o_spawn_wait_path(o2o_spawn *s, const char *path, int timeout_ms, char *err, size_t errlen);

/* "exited with status 3", "killed by signal 9 (Killed)", "running". */
void o2o_spawn_describe(const o2o_spawn *s, char *buf, size_t len);

/* Stop and reap: SIGTERM (and SIGCONT, so a stopped child can act on it), wait up to
 * grace_ms, then SIGKILL. grace_ms = 0 kills at once. Leaves no zombie; safe to call
 * on a child that already exited or was never started. */
void o2o_spawn_stop(o2o_spawn *s, int grace_ms);
