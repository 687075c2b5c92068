/* test_learn_iql.c (label "slow"): IQL (learn/iql.h) learns the pendulum scenario offline from
 * the shipped datasets/pendulum-medium.hdf5 (the data's episodes average ~320), driven through
 * the learner interface alone: the dataset is read straight into a replay buffer (reserve +
 * commit), uniform batches, and every EVAL_EVERY updates 10 deterministic episodes on the real
 * variant through a spawned o2o-sim (o2o_train_evaluate, fixed episode seeds). Fixed seeds.
 * Pass: the LAST evaluation's mean return >= the dataset's mean episode return (the issue's
 * bar; the aim is 1.5x, printed). O2O_IQL_STEPS overrides the update budget for experiments. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learn/iql.h"
#include "learn/learner.h"
#include "nn/blas_setup.h"
#include "o2o_dataset.h"
#include "replay/replay.h"
#include "run/train.h"

static const char *build_dir(void) {
  const char *b = getenv("O2O_BUILD_DIR");
  return b ? b : O2O_TEST_BUILD_DIR;
}

static void act_det(void *ctx, const float *obs, int n, float *actions) {
  o2o_learner_act(ctx, obs, n, 1, actions);
}

/* The dataset into a new replay buffer; *ret_mean = mean return of its complete episodes. */
static o2o_replay *load(const char *name, double *ret_mean, int *obs_dim, int *act_dim) {
  char path[1024], err[1024];
  cr_assert_eq(o2o_dataset_find(name, path, sizeof(path), err, sizeof(err)), 0, "%s", err);
  o2o_dataset *d = o2o_dataset_open(path, NULL, err, sizeof(err));
  cr_assert_not_null(d, "%s", err);
  const o2o_dataset_info *info = o2o_dataset_get_info(d);
  const int64_t n = info->transitions;
  *obs_dim = info->obs_dim;
  *act_dim = info->act_dim;
  o2o_replay *rb = o2o_replay_create(n, info->obs_dim, info->act_dim, err, sizeof(err));
  cr_assert_not_null(rb, "%s", err);
  o2o_replay_view v;
  o2o_replay_reserve(rb, n, &v);
  cr_assert_eq(v.rows, n);
  uint8_t *term = malloc((size_t)n), *tout = malloc((size_t)n);
  o2o_dataset_dest dst = {v.obs, v.act, v.rew, v.next_obs, v.done, term, tout};
  cr_assert_eq(o2o_dataset_read(d, 0, n, &dst, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(o2o_replay_commit(rb, n, err, sizeof(err)), 0, "%s", err);
  double sum = 0, ep = 0;
  int episodes = 0;
  for (int64_t i = 0; i < n; i++) {
    ep += v.rew[i];
    if (term[i] || tout[i]) {
      sum += ep, ep = 0;
      episodes++;
    }
  }
  cr_assert(episodes > 0, "%s has no complete episode", path);
  *ret_mean = sum / episodes;
  printf("%s: %lld transitions, %d episodes, mean return %.1f\n", path, (long long)n, episodes,
         *ret_mean);
  free(term);
  free(tout);
  o2o_dataset_close(d);
  return rb;
}

static void learn(uint64_t seed) {
  enum { EVAL_EPISODES = 10, EVAL_EVERY = 2000 };
  const char *s = getenv("O2O_IQL_STEPS");
  const int64_t steps = s ? atoll(s) : 4000;
  char err[2048], sim[1024];
  snprintf(sim, sizeof(sim), "%s/o2o-sim", build_dir());
  o2o_blas_set_threads(1);
  double data_mean;
  int O, A;
  o2o_replay *rb = load("pendulum-medium", &data_mean, &O, &A);

  o2o_iql_config c;
  o2o_iql_config_default(&c);
  c.max_steps = (int)steps; /* the cosine decay over the planned run, as CORL */
  o2o_learner *l = o2o_learner_create(&o2o_algo_iql, O, A, &c, NULL, NULL, seed, err, sizeof(err));
  cr_assert_not_null(l, "%s", err);

  o2o_pool_config pc;
  memset(&pc, 0, sizeof(pc));
  pc.scenario = "pendulum";
  pc.variant = "real";
  pc.num_procs = 1;
  pc.envs_per_proc = EVAL_EPISODES;
  pc.sim_exe = sim;
  pc.quiet = 1;
  o2o_train_env env;
  cr_assert_eq(o2o_train_env_pool(&env, &pc, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(env.spec(env.ctx)->obs_dim, O);
  cr_assert_eq(env.spec(env.ctx)->act_dim, A);

  o2o_batch b;
  cr_assert_eq(o2o_replay_batch_alloc(&b, o2o_learner_batch_size(l), O, A, 0), 0);
  uint64_t rng;
  o2o_replay_rng_seed(&rng, seed * 7919 + 1);
  o2o_learner_stats st;
  double ret[EVAL_EPISODES], last = NAN, best = -INFINITY;
  for (int64_t t = 1; t <= steps; t++) {
    cr_assert_eq(o2o_replay_sample(rb, &rng, &b, 0, err, sizeof(err)), 0, "%s", err);
    memset(&st, 0, sizeof(st));
    cr_assert_eq(o2o_learner_update(l, &b, &st, err, sizeof(err)), 0, "%s", err);
    if (t % EVAL_EVERY == 0 || t == steps) {
      cr_assert_eq(o2o_train_evaluate(&env, act_det, l, EVAL_EPISODES, 1000, ret, err, sizeof(err)),
                   0, "%s", err);
      last = 0;
      for (int i = 0; i < EVAL_EPISODES; i++)
        last += ret[i] / EVAL_EPISODES;
      best = fmax(best, last);
      printf("iql pendulum seed %llu step %lld: eval %.1f (%.2fx data)\n", (unsigned long long)seed,
             (long long)t, last, last / data_mean);
      fflush(stdout);
    }
  }
  printf("iql pendulum seed %llu: last eval %.1f = %.2fx the dataset mean %.1f (best %.1f), %lld "
         "updates\n",
         (unsigned long long)seed, last, last / data_mean, data_mean, best, (long long)steps);
  cr_assert(last >= data_mean, "seed %llu: IQL's last evaluation %.1f < dataset mean %.1f",
            (unsigned long long)seed, last, data_mean);
  o2o_replay_batch_free(&b);
  env.destroy(env.ctx);
  o2o_learner_destroy(l);
  o2o_replay_destroy(rb);
}

Test(learn, iql_pendulum_medium_seed1, .timeout = 900) {
  learn(1);
}
