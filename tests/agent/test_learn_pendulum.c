/* test_learn_pendulum.c (label "slow"): SAC learns the pendulum scenario through the bridge
 * pool (spawned o2o-sim children), for 2 fixed seeds, using o2o_train_online -- the function
 * behind `o2o train-online`. Pass: an evaluation (10 deterministic episodes on the real
 * variant, fixed seeds) reaches a mean return >= 900 of 1000 within 60k env steps. Then
 * `o2o eval` on the saved checkpoint must reproduce that evaluation's mean exactly (same
 * episodes seeds, deterministic policy, deterministic simulator). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/blas_setup.h"
#include "learn/sac.h"
#include "run/train.h"

static const char *build_dir(void) {
  const char *b = getenv("O2O_BUILD_DIR");
  return b ? b : O2O_TEST_BUILD_DIR;
}

static void rm_rf(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char p[1024];
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
      unlink(p);
    }
  closedir(d);
  rmdir(dir);
}

static void learn(uint64_t seed) {
  char out[256], sim[1024], err[2048];
  snprintf(out, sizeof(out), "/tmp/o2o_test_learn_pendulum_s%llu_%d", (unsigned long long)seed,
           (int)getpid());
  snprintf(sim, sizeof(sim), "%s/o2o-sim", build_dir());
  o2o_blas_set_threads(1); /* as `o2o` does: small products, and the simulators need a core */
  o2o_train_config cfg;
  o2o_train_config_default(&cfg);
  cfg.scenario = "pendulum";
  cfg.variant = "real";
  cfg.seed = seed;
  cfg.steps = 60000;
  cfg.eval_every = 5000;
  cfg.eval_episodes = 10;
  cfg.checkpoint_every = 5000;
  cfg.stop_at_return = 900;
  cfg.sim_exe = sim;
  cfg.out_dir = out;
  cfg.progress = 0;
  o2o_sac_config sac;
  o2o_sac_config_default(&sac);
  sac.hidden = 64;
  sac.batch_size = 128;
  sac.start_steps = 1000;
  cfg.learner_config = &sac;
  o2o_train_result res;
  int rc = o2o_train_online(&cfg, &res, err, sizeof(err));
  cr_assert_eq(rc, 0, "%s", err);
  printf("pendulum seed %llu: best eval %.1f at env step %lld (last %.1f +- %.1f), %lld "
         "updates, %.1f s wall\n",
         (unsigned long long)seed, res.best_eval_mean, (long long)res.best_eval_step,
         res.last_eval_mean, res.last_eval_std, (long long)res.updates, res.wall_s);
  fflush(stdout);
  cr_assert(res.best_eval_mean >= 900.0, "seed %llu: best eval return %.1f < 900 after %lld steps",
            (unsigned long long)seed, res.best_eval_mean, (long long)res.env_steps);

  /* The command-line evaluator on the saved checkpoint sees the same episodes. */
  char cmd[2048], line[4096] = "";
  snprintf(cmd, sizeof(cmd),
           "%s/o2o eval --checkpoint %s/final.safetensors --scenario pendulum --episodes 10 "
           "--seed %llu --sim-exe %s --json",
           build_dir(), out, (unsigned long long)cfg.eval_seed, sim);
  FILE *f = popen(cmd, "r");
  cr_assert_not_null(f);
  char *got = fgets(line, sizeof(line), f);
  int status = pclose(f);
  cr_assert(got && status == 0, "o2o eval failed (%d): %s", status, line);
  const char *m = strstr(line, "\"mean\": ");
  cr_assert_not_null(m, "%s", line);
  double mean = atof(m + 8);
  cr_assert(mean > res.last_eval_mean - 1e-3 && mean < res.last_eval_mean + 1e-3,
            "o2o eval mean %.4f differs from the training's last evaluation %.4f", mean,
            res.last_eval_mean);
  rm_rf(out);
}

Test(learn, sac_pendulum_seed1, .timeout = 600) {
  learn(1);
}
Test(learn, sac_pendulum_seed2, .timeout = 600) {
  learn(2);
}
