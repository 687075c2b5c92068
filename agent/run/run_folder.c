/* run_folder.c: what o2o run checks before any job starts (pipeline.h, o2o_run_prepare). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "o2o_agent.h"
#include "o2o_dataset.h"
#include "run/dataset_load.h"
#include "run/pipeline.h"
#include "run/train.h"

/* The resolved experiment into run_dir/experiment.ini: a folder of another experiment is
 * refused; one of the same gets the union of both runs' methods and seeds. */
static int check_experiment(const o2o_experiment *x, const char *run_dir, char *err,
                            size_t errlen) {
  char path[1200];
  snprintf(path, sizeof path, "%s/experiment.ini", run_dir);
  o2o_experiment *m = malloc(sizeof *m), *old = malloc(sizeof *old);
  char *a = NULL, *b = NULL;
  int rc = -1;
  if (!m || !old) goto out;
  *m = *x;
  if (access(path, F_OK) == 0) {
    char sub[2048];
    if (o2o_experiment_load(path, NULL, 0, old, sub, sizeof sub)) {
      o2o_agent_errf(err, errlen, "run folder %s: its experiment.ini does not load (%s)", run_dir,
                     sub);
      goto out;
    }
    a = o2o_experiment_text(old);
    b = o2o_experiment_text(x);
    char what[1500];
    if (!a || !b) goto out;
    if (o2o_experiment_diff(b, a, what, sizeof what)) {
      o2o_agent_errf(err, errlen,
                     "run folder %s holds another experiment (%s, here vs there: %s); not mixing "
                     "them: pick another --out or remove the folder",
                     run_dir, path, what);
      goto out;
    }
    m->methods |= old->methods;
    for (int i = 0; i < old->num_seeds; i++) {
      int have = 0;
      for (int k = 0; k < m->num_seeds; k++)
        have |= m->seeds[k] == old->seeds[i];
      if (!have && m->num_seeds < O2O_EXP_MAX_SEEDS) m->seeds[m->num_seeds++] = old->seeds[i];
    }
    for (int i = 1; i < m->num_seeds; i++) /* in order (insertion sort: at most 64) */
      for (int k = i; k > 0 && m->seeds[k - 1] > m->seeds[k]; k--) {
        uint64_t t = m->seeds[k];
        m->seeds[k] = m->seeds[k - 1];
        m->seeds[k - 1] = t;
      }
    free(a);
  }
  a = o2o_experiment_text(m);
  rc = a ? o2o_pipeline_write_file(path, a, err, errlen) : -1;
out:
  if (rc && !err[0]) o2o_agent_errf(err, errlen, "out of memory");
  free(a);
  free(b);
  free(m);
  free(old);
  return rc;
}

/* A dataset name that is no file yet but a recipe of `o2o dataset make` is generated (and
 * cached in datasets/cache/) first: the dataset phase, before any job. */
static int ensure_dataset(const o2o_experiment *x, const o2o_run_options *o, char *err,
                          size_t errlen) {
  char path[1024], sub[O2O_DATASET_ERRLEN];
  if (!x->dataset[0] || !o2o_dataset_find(x->dataset, path, sizeof path, sub, sizeof sub)) return 0;
  if (strchr(x->dataset, '/') || strstr(x->dataset, ".hdf5")) {
    o2o_agent_errf(err, errlen, "%s", sub);
    return -1;
  }
  if (!o->quiet)
    fprintf(stderr, "o2o run: dataset %s is not there: o2o dataset make %s\n", x->dataset,
            x->dataset);
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stdout)) _exit(127);
    execl(o->exe, o->exe, "dataset", "make", x->dataset, (char *)NULL);
    _exit(127);
  }
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
    o2o_agent_errf(err, errlen, "%s%s", sub,
                   pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 2
                       ? " (nor a recipe of o2o dataset make --list)"
                       : "; o2o dataset make failed");
    return -1;
  }
  return 0;
}

/* Dataset against the scenario (a real-variant simulator's SPEC), before any job starts. */
static int check_dataset(const o2o_experiment *x, const o2o_run_options *o, char *err,
                         size_t errlen) {
  o2o_pool_config pc = {.scenario = x->scenario,
                        .variant = "real",
                        .num_procs = 1,
                        .envs_per_proc = 1,
                        .sim_exe = o->sim_exe,
                        .quiet = 1};
  o2o_train_env env;
  char sub[O2O_AGENT_ERRLEN], path[1024];
  if (o2o_train_env_pool(&env, &pc, sub, sizeof sub)) {
    o2o_agent_errf(err, errlen, "scenario %s: %s", x->scenario, sub);
    return -1;
  }
  int rc = 0;
  if (x->dataset[0])
    rc = o2o_train_check_dataset(x->dataset, env.spec(env.ctx), path, sizeof path, err, errlen);
  env.destroy(env.ctx);
  return rc;
}

static int take_lock(const char *run_dir, int quiet, char *err, size_t errlen) {
  char p[1200];
  snprintf(p, sizeof p, "%s/.lock", run_dir);
  /* inherited by the workers (not CLOEXEC): a worker that outlives a killed parent keeps the
   * folder locked until it has stopped */
  int fd = open(p, O_RDWR | O_CREAT, 0644);
  if (fd < 0) {
    o2o_agent_errf(err, errlen, "run folder %s is not writable: %s: %s", run_dir, p,
                   strerror(errno));
    return -1;
  }
  for (int t = 0; flock(fd, LOCK_EX | LOCK_NB); t++) {
    if (t == 0 && !quiet)
      fprintf(stderr, "o2o run: %s is in use by another o2o run (or its workers): waiting\n",
              run_dir);
    if (t == 600) {
      o2o_agent_errf(err, errlen, "run folder %s stayed locked by another o2o run for 5 minutes",
                     run_dir);
      close(fd);
      return -1;
    }
    usleep(500000);
  }
  return fd;
}

int o2o_run_prepare(const o2o_experiment *x, const char *run_dir, const o2o_run_options *o,
                    char *err, size_t errlen) {
  /* before anything is made or trains */
  if (ensure_dataset(x, o, err, errlen) || check_dataset(x, o, err, errlen)) return -1;
  if (o2o_train_mkdirs(run_dir, err, errlen)) return -1;
  char probe[1200];
  snprintf(probe, sizeof probe, "%s/.probe", run_dir);
  FILE *pf = fopen(probe, "w");
  if (!pf || fputs("ok\n", pf) < 0 || fclose(pf)) {
    o2o_agent_errf(err, errlen, "run folder %s is not writable: %s", run_dir, strerror(errno));
    return -1;
  }
  unlink(probe);
  int lock = take_lock(run_dir, o->quiet, err, errlen);
  if (lock >= 0 && check_experiment(x, run_dir, err, errlen)) {
    close(lock);
    return -1;
  }
  return lock;
}
