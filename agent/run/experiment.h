/* experiment.h: experiment files of `o2o run` (INI, parsed by libinih) and the resolved
 * experiment written into a run folder.
 *
 *   [experiment]  name, description, scenario, dataset, methods, seeds, eval_every,
 *                 eval_episodes, eval_seed
 *   [offline]     algo, steps, checkpoint_every, reward_scale (number or auto),
 *                 normalize_obs, and any field of that learner (iql, cql, calql)
 *   [warmstart]   steps: K env steps with the pretrained policy and no updates (wsrl, full)
 *   [online]      steps, checkpoint_every, and any field of the online learners: a field goes
 *                 to every one of sac and h2o that has it
 *   [sac] [h2o]   fields of one learner only (sac: sac-sim, naive and wsrl; h2o: h2o, full)
 *   [wsrl]        sac fields for wsrl only, on top of [sac] and wsrl's own defaults: the
 *                 pretrain's critic ensemble (num_critics, critic_layernorm of [offline] when
 *                 its learner has them, else IQL's 2 plain critics: a warm start keeps the
 *                 pretrained architecture) and REDQ's target_subset 2
 * Every key is checked against its section's list; an unknown one fails with FILE:LINE:
 * key and the nearest known name. `--set section.key=value` overrides (the same checks).
 * The resolved experiment (every key of every section, defaults filled in) is what
 * o2o_experiment_write prints; loading that text gives the same experiment back. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
  O2O_METHOD_OFFLINE, /* the offline phase alone; its folder is the pretrain of the others */
  O2O_METHOD_SAC_SIM, /* SAC from scratch in sim */
  O2O_METHOD_NAIVE,   /* pretrained agent, then SAC in sim */
  O2O_METHOD_WSRL,    /* pretrained agent + K warm-up steps + REDQ-style SAC */
  O2O_METHOD_H2O,     /* H2O from scratch in sim, the dataset as its real buffer */
  O2O_METHOD_FULL,    /* pretrained agent + K warm-up steps + H2O */
  O2O_NUM_METHODS
} o2o_method;

const char *o2o_method_name(int method);
int o2o_method_find(const char *name); /* -1 if unknown */
int o2o_method_pretrained(int method); /* 1: starts from the offline phase's final agent */

#define O2O_EXP_MAX_SEEDS 64
#define O2O_EXP_CFG_BYTES 4096

typedef struct o2o_experiment {
  char name[64]; /* run folder name: [experiment] name, default the file's stem */
  char path[1024];
  char description[256];
  char scenario[512];
  char dataset[512];
  unsigned methods; /* bit per o2o_method */
  int num_seeds;
  uint64_t seeds[O2O_EXP_MAX_SEEDS];
  int64_t eval_every; /* online: env steps; offline: gradient steps */
  int eval_episodes;
  uint64_t eval_seed;
  char offline_algo[16];
  int64_t offline_steps, offline_checkpoint_every;
  double reward_scale; /* 0 none, > 0 multiply, < 0 auto */
  int normalize_obs;
  int64_t warmup_steps;   /* K: env steps with the pretrained policy, no updates (WSRL) */
  int64_t critic_updates; /* then this many critic-only updates (the learner's actor_delay) */
  int64_t online_steps, online_checkpoint_every;
  /* learner config structs (o2o_learner_algo config_size bytes each) */
  _Alignas(16) unsigned char offline_cfg[O2O_EXP_CFG_BYTES];
  _Alignas(16) unsigned char sac_cfg[O2O_EXP_CFG_BYTES];
  _Alignas(16) unsigned char wsrl_cfg[O2O_EXP_CFG_BYTES];
  _Alignas(16) unsigned char h2o_cfg[O2O_EXP_CFG_BYTES];
} o2o_experiment;

/* The file of an experiment name: a path as given (it has a '/' or ends in .ini), else
 * NAME.ini in $O2O_SCENARIO_PATH's experiments/ folders, then the source tree's
 * scenarios/experiments/. -1 with err listing the known experiments (and the nearest). */
int o2o_experiment_find(const char *name, char *path, size_t cap, char *err, size_t errlen);

/* Parse path, then apply sets[0..nsets) ("section.key=value", later ones win). Returns 0, or
 * -1 with err "FILE:LINE: key 'k': problem" (or "--set S: ..."). */
int o2o_experiment_load(const char *path, const char *const *sets, int nsets, o2o_experiment *exp,
                        char *err, size_t errlen);

/* The resolved experiment as INI text (every key). */
int o2o_experiment_write(FILE *f, const o2o_experiment *exp);
/* The same into a malloc'd string (NULL when out of memory). */
char *o2o_experiment_text(const o2o_experiment *exp);

/* Compare two resolved texts key by key, ignoring what only selects jobs (methods, seeds) or
 * describes (description): 0 if they run the same jobs the same way, else 1 with what
 * naming the first differing key and both values. */
int o2o_experiment_diff(const char *a, const char *b, char *what, size_t cap);
