/* report.h: the report of an `o2o run` folder (`o2o report RUN_DIR`, and the end of `o2o run`),
 * built from the folder layout alone, so it works on partial runs and any run folder:
 *
 *   RUN_DIR/experiment.ini        shown as the resolved config; experiment.methods and .seeds
 *                                 say which jobs are expected, warmstart.steps is K
 *   RUN_DIR/offline/seed<k>/      metrics.csv (step = gradient step), DONE / FAILED
 *   RUN_DIR/<method>/seed<k>/     metrics.csv (step = online env step), DONE / FAILED,
 *                                 config.json
 *   RUN_DIR/gap.json              `o2o gap --json` of the scenario on the dataset, if present
 *   RUN_DIR/run.log               lines naming restarts, failures, errors, kills and
 *                                 timeouts are listed; a line "command: ..." is the command
 *                                 that reproduces the run
 *   RUN_DIR/<method>/seed<k>/log.txt  the pool's "o2o pool: fault" lines (o2o-sim restarted)
 *   RUN_DIR/<method>/seed<k>/gap.json "spearman", "disc_accuracy" (an h2o job's discriminators)
 *
 * A job is done iff DONE exists, failed iff FAILED exists (its "error" text shown), running
 * (or interrupted) when only its folder exists, missing when the folder does not.
 * From DONE the report reads "wall_s", "init_from", "warmup_steps" and (offline)
 * "dataset_return_mean"; config.json's "task" gives the D4RL reference scores.
 *
 * Writes into the output folder (the run folder by default):
 *   report.png   real-variant eval return vs online env step of every method: mean over seeds
 *                and a min-max band, the warm-up 0..K shaded (then the critic-only phase), the
 *                offline-only (pretrained) score and the dataset's mean return as reference
 *                lines; beside it the offline phase's eval return vs gradient step (same y)
 *   summary.csv  per method one row per seed and one row "all" (see below)
 *   report.html  self-contained: the plot (base64 PNG), the tables, the warm-start dip, the
 *                gap summary, the resolved config, failed/missing jobs, log events, command
 *
 * summary.csv columns: method, seed (k or "all"), status (done | failed | running | missing;
 * "all": done | partial | failed | missing), seeds_done, seeds_failed, seeds_running,
 * seeds_missing ("all" only), evals, last_step, final_return (last evaluation's mean return),
 * final_return_std, best_return (best evaluation), best_return_std, final_d4rl, best_d4rl
 * (D4RL-normalised where the task has reference scores), pretrained_return (the offline job of
 * the same seed, its last evaluation; without one, the job's own evaluation at step 0),
 * first_eval_after_warmup (first evaluation at a step > K with updates > actor_delay: once
 * the actor began to learn, after the critic-only updates; K = 0 for naive), warm_start_ratio
 * (first_eval_after_warmup / pretrained_return), eval_restarts (evaluations whose simulator was
 * restarted), sim_faults (o2o-sim faults in log.txt), wall_s, last3_return (the mean of the
 * last 3 evaluations, or fewer: one evaluation is noisy), last3_return_std, gap_spearman and
 * disc_accuracy (the job's own gap.json, which o2o run writes for every finished h2o job: its
 * discriminators against the true gap), gap_spearman_std. "all" rows aggregate the seeds that
 * have evaluations and did not fail: final/best/last3 are the mean over those seeds with the
 * population std (ddof 0), pretrained/first their means and the ratio of those means, restarts,
 * faults and wall_s the sums, gap_spearman/disc_accuracy the mean over the seeds that have a
 * gap.json. Empty cell = not applicable / unknown.
 *
 * The second layout: a folder of `o2o train-offline` runs (the offline benchmark,
 * agent/bench/results/offline.sh), recognised when RUN_DIR has no experiment.ini and either
 * holds offline/seed<k>/ (one group, with no online method folder beside it) or folders
 * <dataset>-<algo>/offline/seed<k>/ (the benchmark; the name splits at its last '-'):
 *
 *   <group>/offline/seed<k>/      metrics.csv (step = gradient step), config.json ("task" for
 *                                 the D4RL reference scores, "dataset_return_mean"), and
 *                                 final.safetensors or DONE (done), FAILED (failed), else running
 *
 *   report.png   one panel per dataset: every algorithm's D4RL score (the eval return where the
 *                task has no reference scores) vs gradient step, mean over seeds with a min-max
 *                band, its seeds' state in the legend, the dataset's own mean score dotted
 *   summary.csv  columns dataset, algo, seed (k or "all"), status, seeds_done, seeds_failed,
 *                seeds_running ("all" only), evals, last_step ("all": the furthest seed),
 *                final_return, final_return_std, best_return, best_return_std, final_d4rl,
 *                final_d4rl_std, best_d4rl, best_d4rl_std, dataset_return_mean, dataset_d4rl,
 *                wall_s; "all" aggregates as above (a running seed counts as it stands)
 *   report.html  the plot, per dataset the table of final and best scores mean +- std and
 *                the seeds, unfinished and failed runs with their errors */
#pragma once
#include <stddef.h>
#include <stdio.h>

typedef struct o2o_report_options {
  const char *out_dir; /* NULL: the run folder */
  FILE *json;          /* non-NULL: the summary also as one JSON object there */
  int width, height;   /* report.png, default 1200 x 700 */
  int progress;        /* one line on stderr naming the files written */
} o2o_report_options;

void o2o_report_options_default(o2o_report_options *opt);

/* Reads run_dir and writes report.png, summary.csv and report.html. Returns 0, or -1 with err
 * (not a run folder, a malformed metrics.csv as FILE:LINE, a malformed gap.json, an
 * unwritable output). */
int o2o_report_write(const char *run_dir, const o2o_report_options *opt, char *err, size_t errlen);
