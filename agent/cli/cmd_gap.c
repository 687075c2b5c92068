/* cmd_gap.c: `o2o gap DATASET --scenario S`: the measured dynamics gap of a simulator variant
 * against a real dataset (run/gap.h): a table per observation dimension on stdout, --json,
 * and a histogram of the per-transition error as a PNG. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/o2o_commands.h"
#include "io/json_out.h"
#include "o2o_image.h"
#include "o2o_plot.h"
#include "o2o_version.h"
#include "run/gap.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: o2o gap DATASET --scenario S [--variant sim|real] [--transitions M]\n"
          "               [--checkpoint H2O_CKPT] [--procs P] [--envs N] [--seed N]\n"
          "               [--hist FILE.png] [--json] [--sim-exe PATH]\n"
          "  Replays M transitions of DATASET in the scenario's variant: each env is set to the\n"
          "  recorded state (infos/sim_state, or infos/qpos + infos/qvel), steps the recorded\n"
          "  action, and its next observation is compared with the recorded one. Prints per\n"
          "  observation dimension the mean and 95th percentile of |error|, also in units of\n"
          "  the dataset's std. On the variant that recorded the data the error is 0.\n"
          "  --variant V       default sim\n"
          "  --transitions M   default 10000 (0 = all); a seeded sample of the rows\n"
          "  --checkpoint C    an H2O checkpoint: Spearman correlation of its -log w with the\n"
          "                    true error, and its discriminators' accuracy\n"
          "  --procs P --envs N  o2o-sim processes and envs per process (default 2, 64)\n"
          "  --hist FILE.png   histogram of the per-transition error (std units)\n"
          "  --json            one JSON object on stdout instead of the table\n"
          "exit code: 0 ok, 1 failure, 2 usage error\n");
}

static void print_table(const o2o_gap_config *c, const o2o_gap_result *r) {
  printf("o2o gap: %s on %s (%s variant), %lld transitions, states from %s\n", c->dataset,
         c->scenario, c->variant, (long long)r->n, r->state_source);
  printf("%4s %12s %12s %10s %12s %12s\n", "dim", "mean|err|", "p95|err|", "data std", "mean/std",
         "p95/std");
  for (int k = 0; k < r->obs_dim; k++)
    printf("%4d %12.4g %12.4g %10.4g %12.4g %12.4g\n", k, r->mean_abs[k], r->p95_abs[k],
           r->data_std[k], r->mean_std_units[k], r->p95_std_units[k]);
  printf("mean over dims: %.4g dataset stds; largest single error %.4g\n", r->overall_mean_std,
         r->overall_max_abs);
  if (r->overall_max_abs == 0.0) printf("no gap: this variant replays the data exactly\n");
  if (!isnan(r->spearman))
    printf("discriminators: Spearman(-log w, true error) %.3f, accuracy %.3f, mean log w on "
           "data %.3f, on simulated %.3f\n",
           r->spearman, r->disc_accuracy, r->log_w_mean_real, r->log_w_mean_sim);
  printf("replay: %.2f s, %.0f transitions/s\n", r->seconds, r->rate);
}

static void json_array(const char *name, const double *v, int n) {
  printf("\"%s\": [", name);
  for (int k = 0; k < n; k++) {
    if (k) printf(", ");
    o2o_json_num(stdout, v[k]);
  }
  printf("]");
}

static void print_json(const o2o_gap_config *c, const o2o_gap_result *r) {
  printf("{\"dataset\": ");
  o2o_json_str(stdout, c->dataset);
  printf(", \"scenario\": ");
  o2o_json_str(stdout, c->scenario);
  printf(", \"variant\": ");
  o2o_json_str(stdout, c->variant);
  printf(", \"transitions\": %lld, \"state_source\": ", (long long)r->n);
  o2o_json_str(stdout, r->state_source);
  printf(", ");
  json_array("mean_abs", r->mean_abs, r->obs_dim);
  printf(", ");
  json_array("p95_abs", r->p95_abs, r->obs_dim);
  printf(", ");
  json_array("data_std", r->data_std, r->obs_dim);
  printf(", ");
  json_array("mean_std_units", r->mean_std_units, r->obs_dim);
  printf(", ");
  json_array("p95_std_units", r->p95_std_units, r->obs_dim);
  const struct {
    const char *k;
    double v;
  } s[] = {{"overall_mean_std", r->overall_mean_std},
           {"max_abs", r->overall_max_abs},
           {"spearman", r->spearman},
           {"disc_accuracy", r->disc_accuracy},
           {"log_w_mean_data", r->log_w_mean_real},
           {"log_w_mean_sim", r->log_w_mean_sim},
           {"seconds", r->seconds},
           {"transitions_per_s", r->rate}};
  for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
    printf(", \"%s\": ", s[i].k);
    o2o_json_num(stdout, s[i].v);
  }
  printf("}\n");
}

/* Histogram of the per-transition error (40 bins from 0 to its largest value). */
static int write_hist(const char *path, const o2o_gap_config *c, const o2o_gap_result *r, char *err,
                      size_t errlen) {
  enum { BINS = 40 };
  double hi = 0, edges[BINS + 1], counts[BINS] = {0};
  for (int64_t i = 0; i < r->n; i++)
    hi = r->row_error[i] > hi ? r->row_error[i] : hi;
  if (hi <= 0) hi = 1e-9; /* exact replay: every error in the first bin */
  for (int b = 0; b <= BINS; b++)
    edges[b] = hi * b / BINS;
  for (int64_t i = 0; i < r->n; i++) {
    int b = (int)(r->row_error[i] / hi * BINS);
    counts[b >= BINS ? BINS - 1 : b] += 1;
  }
  char title[256];
  const char *base = strrchr(c->dataset, '/'); /* the file name: paths overflow the title */
  snprintf(title, sizeof title, "dynamics gap: %s on %s (%s), %lld transitions",
           base ? base + 1 : c->dataset, c->scenario, c->variant, (long long)r->n);
  o2o_plot *p = o2o_plot_create(900, 480, title,
                                "next-state error per transition (mean |error| / dataset std)",
                                "transitions");
  int rc = !p || o2o_plot_bars(p, "", edges, counts, BINS);
  if (!rc) {
    o2o_plot_ylim(p, 0.0, NAN);
    char lab[64];
    snprintf(lab, sizeof lab, "mean %.3g", r->overall_mean_std);
    o2o_plot_vline(p, r->overall_mean_std, lab);
    rc = o2o_plot_write_png(p, path, err, errlen);
  } else {
    snprintf(err, errlen, "gap: out of memory for the histogram");
  }
  o2o_plot_destroy(p);
  return rc ? -1 : 0;
}

int o2o_cmd_gap(int argc, char **argv) {
  o2o_gap_config c;
  o2o_gap_config_default(&c);
  const char *hist = NULL;
  int json = 0;
  o2o_flags *f = o2o_flags_create("o2o gap");
  o2o_flags_positionals(f, 0, 1, "DATASET");
  o2o_flags_str(f, "scenario", &c.scenario, "S", "scenario");
  o2o_flag *vf = o2o_flags_str(f, "variant", &c.variant, "V", "sim|real");
  if (vf) vf->choices = "sim|real";
  o2o_flags_i64(f, "transitions", &c.transitions, 0, INT32_MAX, "M", "transitions");
  o2o_flags_str(f, "checkpoint", &c.checkpoint, "C", "H2O checkpoint");
  o2o_flags_int(f, "procs", &c.procs, 1, 64, "P", "o2o-sim processes");
  o2o_flags_int(f, "envs", &c.envs_per_proc, 1, 4096, "N", "envs per process");
  o2o_flags_u64(f, "seed", &c.seed, 0, INT64_MAX, "N", "row sample seed");
  o2o_flags_str(f, "hist", &hist, "FILE.png", "histogram");
  o2o_flags_str(f, "sim-exe", &c.sim_exe, "PATH", "o2o-sim to spawn");
  o2o_flags_bool(f, "json", &json, "one JSON object on stdout");
  o2o_flags_std(f, usage, "o2o " O2O_VERSION);
  int prc = o2o_flags_parse(f, argc, argv);
  c.dataset = prc ? NULL : o2o_flags_pos(f, 0);
  o2o_flags_destroy(f);
  if (prc) return prc < 0 ? 2 : 0;
  if (!c.dataset || !c.scenario) {
    fprintf(stderr, "o2o gap: %s\n",
            !c.dataset ? "give exactly one DATASET" : "--scenario is needed");
    usage(stderr);
    return 2;
  }
  c.progress = 1;
  char err[1024] = "";
  if (hist && o2o_path_writable(hist, err, sizeof err)) {
    fprintf(stderr, "o2o gap: %s\n", err);
    return 1;
  }
  o2o_gap_result r;
  if (o2o_gap_measure(&c, &r, err, sizeof err)) {
    fprintf(stderr, "o2o gap: %s\n", err);
    return 1;
  }
  if (json)
    print_json(&c, &r);
  else
    print_table(&c, &r);
  int rc = 0;
  if (hist && write_hist(hist, &c, &r, err, sizeof err)) {
    fprintf(stderr, "o2o gap: %s\n", err);
    rc = 1;
  }
  o2o_gap_result_free(&r);
  return rc;
}
