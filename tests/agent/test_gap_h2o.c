/* test_gap_h2o.c: `o2o gap --checkpoint` ranks a trained H2O's dynamics ratio
 * against the true gap. H2O trains briefly in pendulum-gear's sim variant (gear x0.3) with the
 * shipped pendulum-medium (recorded with states) as its real buffer; then the dataset's
 * transitions are replayed in that sim variant. Trained discriminators must rank the true
 * next-state error (Spearman of -log w) and tell data from simulated rows; the same network
 * untrained (a checkpoint written before any update) must not, or the figure means nothing.
 * A SAC checkpoint is refused, naming the algorithm. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "learn/h2o.h"
#include "run/gap.h"
#include "run/train.h"

static char dir[256], sim_exe[600];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/o2o_test_gap_h2o_XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  const char *b = getenv("O2O_BUILD_DIR");
  snprintf(sim_exe, sizeof sim_exe, "%s/o2o-sim", b ? b : O2O_TEST_BUILD_DIR);
}

static void train(const char *algo, int64_t steps, const char *out) {
  o2o_h2o_config hc;
  o2o_h2o_config_default(&hc);
  hc.sac.hidden = 64;
  hc.disc_hidden = 64;
  o2o_train_config c;
  o2o_train_config_default(&c);
  c.scenario = "pendulum-gear";
  c.variant = "sim";
  c.algorithm = algo;
  c.learner_config = strcmp(algo, "h2o") ? NULL : &hc;
  c.real_dataset = strcmp(algo, "h2o") ? NULL : "pendulum-medium";
  c.steps = steps;
  c.eval_every = 0;
  c.eval_episodes = 1;
  c.checkpoint_every = 0;
  c.sim_exe = sim_exe;
  c.out_dir = out;
  c.overwrite = 1;
  c.progress = 0;
  o2o_train_result r;
  char err[1024] = "";
  cr_assert_eq(o2o_train_online(&c, &r, err, sizeof err), 0, "%s", err);
}

static int rank(const char *ckpt, o2o_gap_result *r, char *err, size_t errlen) {
  o2o_gap_config g;
  o2o_gap_config_default(&g);
  g.dataset = "pendulum-medium";
  g.scenario = "pendulum-gear";
  g.transitions = 4000;
  g.procs = 2;
  g.envs_per_proc = 32;
  g.sim_exe = sim_exe;
  g.checkpoint = ckpt;
  return o2o_gap_measure(&g, r, err, errlen);
}

Test(gap_h2o, trained_discriminators_rank_the_true_gap, .init = setup, .timeout = 900) {
  char untrained[300], trained[300], sac[300], path[400], err[1024] = "";
  snprintf(untrained, sizeof untrained, "%s/untrained", dir);
  snprintf(trained, sizeof trained, "%s/trained", dir);
  snprintf(sac, sizeof sac, "%s/sac", dir);
  train("h2o", 100, untrained); /* fewer env steps than a sim batch: no update yet */
  train("h2o", 4000, trained);
  o2o_gap_result r0, r1;
  snprintf(path, sizeof path, "%s/final.safetensors", untrained);
  cr_assert_eq(rank(path, &r0, err, sizeof err), 0, "%s", err);
  snprintf(path, sizeof path, "%s/final.safetensors", trained);
  cr_assert_eq(rank(path, &r1, err, sizeof err), 0, "%s", err);
  fprintf(stderr,
          "gap_h2o: untrained Spearman %.3f accuracy %.3f; trained Spearman %.3f accuracy %.3f "
          "(log w data %.2f, sim %.2f)\n",
          r0.spearman, r0.disc_accuracy, r1.spearman, r1.disc_accuracy, r1.log_w_mean_real,
          r1.log_w_mean_sim);
  cr_assert(isfinite(r1.spearman) && r1.spearman > 0.5, "trained Spearman %g", r1.spearman);
  cr_assert_gt(r1.disc_accuracy, 0.75, "trained accuracy %g", r1.disc_accuracy);
  cr_assert_gt(r1.log_w_mean_real, r1.log_w_mean_sim, "data rows must look more real");
  cr_assert(!(r0.spearman > 0.5 && r0.disc_accuracy > 0.75),
            "an untrained network already ranks the gap (Spearman %g, accuracy %g): the figure "
            "would not measure training",
            r0.spearman, r0.disc_accuracy);
  o2o_gap_result_free(&r0);
  o2o_gap_result_free(&r1);

  train("sac", 100, sac);
  snprintf(path, sizeof path, "%s/final.safetensors", sac);
  o2o_gap_result r2;
  cr_assert_neq(rank(path, &r2, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "sac"), "%s", err);
  cr_assert_not_null(strstr(err, "h2o"), "%s", err);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  cr_assert_eq(system(cmd), 0);
}
