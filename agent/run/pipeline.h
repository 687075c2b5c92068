/* pipeline.h: what `o2o run` does with a resolved experiment (experiment.h).
 *
 * A job is one (method, seed). Its phase runs in its own folder RUN/<method>/seed<k>/:
 *   offline  o2o_offline_run on the dataset (evaluated on real); its final.safetensors is the
 *            pretrained agent of naive, wsrl and full for the same seed
 *   online   o2o_train_online in the scenario's sim variant (evaluated on real): SAC for
 *            sac-sim/naive/wsrl, H2O with the dataset as its real buffer for h2o/full; naive,
 *            wsrl and full start from the pretrain (init_from), wsrl and full with K warm-up
 *            steps (warmup_steps)
 * A phase is finished iff its folder holds DONE (JSON); a failed one writes FAILED (JSON,
 * the error). Started again, a phase resumes from its checkpoint.safetensors (the loops' own
 * resume: metrics.csv rows past the checkpoint are cut), else starts afresh in its folder.
 *
 * o2o_run_experiment (scheduler.c) is the parent: it checks the run folder (writable, not
 * another experiment's, one o2o run at a time: RUN/.lock), the dataset against the scenario,
 * then runs the jobs opts->jobs at a time, each as a child `o2o run --worker RUN METHOD SEED`
 * (stderr to the job's log.txt, one OpenBLAS thread), the pretrain before the jobs that need
 * it, printing one progress line per running job read from its log. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "run/experiment.h"

/* RUN/<method>/seed<k> into out. */
void o2o_pipeline_job_dir(const char *run_dir, int method, uint64_t seed, char *out, size_t cap);

/* The worker: run (or resume, or skip when DONE) the phase of one job. Writes DONE, or
 * FAILED with the error and returns -1 with err. */
int o2o_pipeline_run_job(const o2o_experiment *x, const char *run_dir, int method, uint64_t seed,
                         const char *sim_exe, int progress, char *err, size_t errlen);

/* Write text to path atomically (path.tmp + rename). */
int o2o_pipeline_write_file(const char *path, const char *text, char *err, size_t errlen);

typedef struct o2o_run_options {
  const char *exe;     /* this program, re-executed for the workers */
  const char *sim_exe; /* NULL: next to the program */
  int jobs;            /* jobs at once (>= 1) */
  int quiet;           /* no progress lines (events and errors still) */
  const char *command; /* the command line, for run.log ("command: ...") */
} o2o_run_options;

/* Before any job (run_folder.c): the dataset (made first when it is a recipe name of
 * `o2o dataset make`) against the scenario, the folder made and writable, RUN/.lock taken
 * (waiting for another o2o run), RUN/experiment.ini written or compared (another experiment
 * is refused naming the first differing key). The lock's fd, or -1 with err. */
int o2o_run_prepare(const o2o_experiment *x, const char *run_dir, const o2o_run_options *o,
                    char *err, size_t errlen);

/* Run every job of x not yet DONE into run_dir. 0 when all are DONE, 1 when some FAILED,
 * -1 with err when nothing could start (bad folder, dataset, lock). */
int o2o_run_experiment(const o2o_experiment *x, const char *run_dir, const o2o_run_options *o,
                       char *err, size_t errlen);
