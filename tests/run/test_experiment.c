/* test_experiment.c: experiment files of `o2o run` (run/experiment.h): the shipped default,
 * FILE:LINE: key errors with a suggestion, --set overrides, the resolved text's round trip
 * and the comparison that refuses a run folder of another experiment. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "learn/learner.h"
#include "run/experiment.h"

static o2o_experiment x, y;
static char err[4096];

static const char *default_file(void) {
  static char p[1024];
  snprintf(p, sizeof p, "%s/../scenarios/experiments/pendulum-gear.ini", O2O_TEST_DATA_DIR);
  return p;
}

static double field(const char *algo, const void *cfg, const char *name) {
  const o2o_learner_field *f = o2o_learner_field_find(o2o_learner_find(algo), name);
  cr_assert_not_null(f, "%s has no field %s", algo, name);
  return o2o_learner_field_get(f, cfg);
}

/* write text to a temporary .ini; path out */
static void write_tmp(char *path, size_t cap, const char *text) {
  snprintf(path, cap, "/tmp/o2o_test_experiment_%d_XXXXXX.ini", (int)getpid());
  int fd = mkstemps(path, 4);
  cr_assert_geq(fd, 0);
  FILE *f = fdopen(fd, "w");
  fputs(text, f);
  fclose(f);
}

Test(experiment, default_file_loads) {
  cr_assert_eq(o2o_experiment_load(default_file(), NULL, 0, &x, err, sizeof err), 0, "%s", err);
  cr_assert_str_eq(x.name, "pendulum-gear");
  cr_assert_str_eq(x.scenario, "pendulum-gear");
  cr_assert_str_eq(x.dataset, "pendulum-medium");
  cr_assert_str_eq(x.offline_algo, "iql");
  cr_assert_float_eq(field("iql", x.offline_cfg, "expectile"), 0.9, 1e-6);
  cr_assert_float_eq(field("iql", x.offline_cfg, "beta"), 10, 1e-6);
  /* IQL's cosine decay spans the offline phase */
  cr_assert_eq((int64_t)field("iql", x.offline_cfg, "max_steps"), x.offline_steps);
  cr_assert(x.methods & (1u << O2O_METHOD_FULL));
  cr_assert(x.methods & (1u << O2O_METHOD_SAC_SIM));
  /* wsrl keeps the pretrain's critics (IQL: 2 plain ones) and takes REDQ's target pair */
  cr_assert_eq(field("sac", x.wsrl_cfg, "num_critics"), 2);
  cr_assert_eq(field("sac", x.wsrl_cfg, "critic_layernorm"), 0);
  cr_assert_eq(field("sac", x.wsrl_cfg, "target_subset"), 2);
  cr_assert_eq(field("sac", x.sac_cfg, "target_subset"), 0);
  cr_assert_eq(x.warmup_steps, 2000);
  cr_assert_eq(x.critic_updates, 4000);
}

Test(experiment, wsrl_takes_a_cql_pretrains_ensemble) {
  char p[256];
  write_tmp(p, sizeof p,
            "[experiment]\nscenario = pendulum\ndataset = pendulum-medium\n[offline]\nalgo = cql\n"
            "num_critics = 10\ncritic_layernorm = 1\n");
  int rc = o2o_experiment_load(p, NULL, 0, &x, err, sizeof err);
  unlink(p);
  cr_assert_eq(rc, 0, "%s", err);
  cr_assert_eq(field("sac", x.wsrl_cfg, "num_critics"), 10);
  cr_assert_eq(field("sac", x.wsrl_cfg, "critic_layernorm"), 1);
  cr_assert_eq(field("sac", x.sac_cfg, "num_critics"), 2);
}

Test(experiment, typo_names_file_line_key_and_the_nearest) {
  char p[256];
  write_tmp(p, sizeof p,
            "[experiment]\nscenario = pendulum\ndataset = pendulum-medium\n\n[offline]\n"
            "algo = iql\nexpectle = 0.9\n");
  cr_assert_eq(o2o_experiment_load(p, NULL, 0, &x, err, sizeof err), -1);
  char want[300];
  snprintf(want, sizeof want, "%s:7: key 'expectle': unknown key in [offline]", p);
  cr_assert(strstr(err, want), "%s", err);
  cr_assert(strstr(err, "did you mean 'expectile'?"), "%s", err);
  unlink(p);
  /* a bad value, an unknown section, a duplicate, a key of another learner */
  static const struct {
    const char *text, *want;
  } bad[] = {
      {"[experiment]\nscenario = pendulum\neval_every = x\n",
       ":3: key 'eval_every': expects an integer"},
      {"[experiment]\nscenario = pendulum\n[onlne]\nsteps = 5\n",
       ":4: key 'steps': unknown section [onlne] (did you mean [online]?)"},
      {"[experiment]\nscenario = pendulum\nscenario = hopper\n", ":3: key 'scenario': given twice"},
      {"[experiment]\nscenario = pendulum\n[sac]\nreal_batch = 5\n",
       ":4: key 'real_batch': unknown key in [sac]"},
      {"[experiment]\nscenario = pendulum\n[online]\ngamma = 2\n",
       ":4: key 'gamma': --gamma 2: must be in [0, 1]"},
      {"[experiment]\nscenario = pendulum\nmethods = full, sacsim\n",
       ":3: key 'methods': unknown method 'sacsim' (did you mean 'sac-sim'?)"},
      {"[experiment]\nscenario = pendulum\n[offline]\nalgo = sac\n",
       ":4: key 'algo': 'sac' is not an offline learner"},
      {"[experiment]\nscenario = pendulum\nseeds = two\n", ":3: key 'seeds'"},
      {"[experiment]\nscenario = pendulum\nseeds = 1-3,2\n",
       ":3: key 'seeds': seed 2 is listed twice"},
      {"[experiment]\nmethods = sac-sim\n", "key 'scenario': missing"},
      {"[experiment]\nscenario = pendulum\nmethods = full\n", "key 'dataset': missing"},
      {"[experiment]\nscenario = pendulum\nthis line has no equals sign\n", ":3: syntax error"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    write_tmp(p, sizeof p, bad[i].text);
    cr_assert_eq(o2o_experiment_load(p, NULL, 0, &x, err, sizeof err), -1, "case %zu", i);
    cr_assert(strstr(err, bad[i].want), "case %zu: want '%s' in: %s", i, bad[i].want, err);
    cr_assert(strstr(err, p), "case %zu: the file is named: %s", i, err);
    unlink(p);
  }
}

Test(experiment, set_overrides_and_is_checked) {
  const char *sets[] = {"online.steps=1234", "offline.beta=3",   "experiment.seeds=3",
                        "h2o.beta=0.5",      "online.hidden=64", "sac.hidden=128"};
  cr_assert_eq(o2o_experiment_load(default_file(), sets, 6, &x, err, sizeof err), 0, "%s", err);
  cr_assert_eq(x.online_steps, 1234);
  cr_assert_float_eq(field("iql", x.offline_cfg, "beta"), 3, 1e-6);
  cr_assert_eq(x.num_seeds, 3);
  cr_assert_eq(x.seeds[0], 1);
  cr_assert_eq(x.seeds[2], 3);
  cr_assert_float_eq(field("h2o", x.h2o_cfg, "beta"), 0.5, 1e-6);
  /* [online] goes to every online learner, [sac] only to sac (and wsrl on top of it) */
  cr_assert_eq(field("h2o", x.h2o_cfg, "hidden"), 64);
  cr_assert_eq(field("sac", x.sac_cfg, "hidden"), 128);
  cr_assert_eq(field("sac", x.wsrl_cfg, "hidden"), 128);
  const char *lists[] = {"experiment.seeds=2,5", "experiment.seeds=4-6"};
  cr_assert_eq(o2o_experiment_load(default_file(), lists, 1, &x, err, sizeof err), 0, "%s", err);
  cr_assert(x.num_seeds == 2 && x.seeds[0] == 2 && x.seeds[1] == 5);
  cr_assert_eq(o2o_experiment_load(default_file(), lists + 1, 1, &x, err, sizeof err), 0);
  cr_assert(x.num_seeds == 3 && x.seeds[0] == 4 && x.seeds[2] == 6);
  const char *warm[] = {"warmstart.critic_updates=77"};
  cr_assert_eq(o2o_experiment_load(default_file(), warm, 1, &x, err, sizeof err), 0, "%s", err);
  cr_assert_eq(x.critic_updates, 77);
  const char *bad[] = {"online.bogus=1", "offline.expectile=2", "nosection.steps=1", "online.steps",
                       "warmstart.critic_updates=-1"};
  const char *want[] = {"--set online.bogus=1: key 'bogus': unknown key in [online]",
                        "key 'expectile'", "unknown section [nosection]",
                        "expected section.key=value", "key 'critic_updates'"};
  for (int i = 0; i < 5; i++) {
    cr_assert_eq(o2o_experiment_load(default_file(), bad + i, 1, &x, err, sizeof err), -1);
    cr_assert(strstr(err, want[i]), "%s", err);
  }
}

/* The resolved file writes consecutive seeds as ranges, a lone seed k as k-k (a bare number
 * would be a count), and reads back the same list. */
Test(experiment, resolved_seeds_are_ranges_and_read_back_the_same) {
  const char *given[] = {"experiment.seeds=3", "experiment.seeds=1,2,5", "experiment.seeds=4",
                         "experiment.seeds=7,9", "experiment.seeds=2-3,4,8-9"};
  const char *want[] = {"\nseeds = 1-3\n", "\nseeds = 1-2,5\n", "\nseeds = 1-4\n",
                        "\nseeds = 7,9\n", "\nseeds = 2-4,8-9\n"};
  for (int i = 0; i < 5; i++) {
    const char *set = given[i];
    cr_assert_eq(o2o_experiment_load(default_file(), &set, 1, &x, err, sizeof err), 0, "%s", err);
    char *a = o2o_experiment_text(&x);
    cr_assert_not_null(a);
    cr_assert(strstr(a, want[i]), "%s gave:\n%s", set, a);
    char p[256];
    write_tmp(p, sizeof p, a);
    cr_assert_eq(o2o_experiment_load(p, NULL, 0, &y, err, sizeof err), 0, "%s\n%s", err, a);
    unlink(p);
    cr_assert_eq(y.num_seeds, x.num_seeds, "%s", set);
    for (int k = 0; k < x.num_seeds; k++)
      cr_assert_eq(y.seeds[k], x.seeds[k], "%s: seed %d", set, k);
    free(a);
  }
}

Test(experiment, resolved_text_round_trips) {
  const char *sets[] = {"offline.reward_scale=auto", "experiment.seeds=2,7", "wsrl.utd=4"};
  cr_assert_eq(o2o_experiment_load(default_file(), sets, 3, &x, err, sizeof err), 0, "%s", err);
  char *a = o2o_experiment_text(&x);
  cr_assert_not_null(a);
  char p[256];
  write_tmp(p, sizeof p, a);
  cr_assert_eq(o2o_experiment_load(p, NULL, 0, &y, err, sizeof err), 0, "%s\n%s", err, a);
  unlink(p);
  char *b = o2o_experiment_text(&y);
  cr_assert_str_eq(a, b);
  cr_assert_str_eq(y.name, "pendulum-gear", "the name survives another file name");
  cr_assert_eq(y.num_seeds, 2);
  cr_assert_eq(y.seeds[1], 7);
  cr_assert_lt(y.reward_scale, 0);
  cr_assert_eq(memcmp(x.offline_cfg, y.offline_cfg, sizeof x.offline_cfg), 0);
  cr_assert_eq(memcmp(x.sac_cfg, y.sac_cfg, sizeof x.sac_cfg), 0);
  cr_assert_eq(memcmp(x.wsrl_cfg, y.wsrl_cfg, sizeof x.wsrl_cfg), 0);
  cr_assert_eq(memcmp(x.h2o_cfg, y.h2o_cfg, sizeof x.h2o_cfg), 0);
  cr_assert_eq(field("sac", y.wsrl_cfg, "utd"), 4);
  free(a);
  free(b);
}

Test(experiment, diff_names_the_first_differing_key) {
  cr_assert_eq(o2o_experiment_load(default_file(), NULL, 0, &x, err, sizeof err), 0, "%s", err);
  const char *sets[] = {"experiment.seeds=5", "experiment.methods=all"};
  cr_assert_eq(o2o_experiment_load(default_file(), sets, 2, &y, err, sizeof err), 0, "%s", err);
  char *a = o2o_experiment_text(&x), *b = o2o_experiment_text(&y), what[512];
  /* seeds and methods only choose jobs: the same experiment */
  cr_assert_eq(o2o_experiment_diff(a, b, what, sizeof what), 0, "%s", what);
  free(b);
  const char *other[] = {"h2o.beta=0.25"};
  cr_assert_eq(o2o_experiment_load(default_file(), other, 1, &y, err, sizeof err), 0, "%s", err);
  b = o2o_experiment_text(&y);
  cr_assert_eq(o2o_experiment_diff(a, b, what, sizeof what), 1);
  cr_assert(strstr(what, "[h2o] beta") && strstr(what, "0.25"), "%s", what);
  free(a);
  free(b);
}

Test(experiment, unknown_name_lists_the_files) {
  char p[1024];
  setenv("O2O_SCENARIO_PATH", O2O_TEST_DATA_DIR "/../scenarios", 1);
  cr_assert_eq(o2o_experiment_find("pendulum-gear", p, sizeof p, err, sizeof err), 0, "%s", err);
  cr_assert_eq(o2o_experiment_find("pendulum-gaer", p, sizeof p, err, sizeof err), -1);
  cr_assert(strstr(err, "did you mean 'pendulum-gear'?"), "%s", err);
  cr_assert(strstr(err, "pendulum-gear"), "%s", err);
}

/* every shipped experiment file loads (a typo in one is caught here, not in a long run) */
Test(experiment, every_shipped_file_loads) {
  static const char *const names[] = {"pendulum-gear", "hopper-gravity", "halfcheetah-friction"};
  setenv("O2O_SCENARIO_PATH", O2O_TEST_DATA_DIR "/../scenarios", 1);
  for (int i = 0; i < 3; i++) {
    char p[1024];
    cr_assert_eq(o2o_experiment_find(names[i], p, sizeof p, err, sizeof err), 0, "%s", err);
    cr_assert_eq(o2o_experiment_load(p, NULL, 0, &x, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(x.name, names[i]);
  }
  cr_assert_eq(x.num_seeds, 3);
  cr_assert_eq(x.methods, (1u << O2O_NUM_METHODS) - 1);
  cr_assert_lt(x.reward_scale, 0);
}
