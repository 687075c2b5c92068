/* learner.h: the one interface every algorithm implements (SAC, IQL, CQL, Cal-QL, H2O, ...),
 * and every loop drives (online and offline training, evaluation, warm start, the pipeline)
 * without knowing which algorithm it holds.
 *
 * An algorithm is a const o2o_learner_algo: its name, its config struct (size, defaults, the
 * list of fields), and the functions create/destroy/act/update/tensors. The registry
 * (learner.c) lists every algorithm; o2o_learner_find("iql") returns it.
 *
 * An o2o_learner is an instance: the algorithm, its own copy of the config, the dimensions
 * and the optional observation normalisation. The wrapper (learner.c) does what is the same
 * for every algorithm, so no algorithm repeats it:
 *   - observation normalisation (obs - mean) / std on act and on every update batch
 *     (mean and std are checkpoint tensors "obs_norm.mean" / "obs_norm.std");
 *   - refusing a batch that lacks a column the algorithm needs (weight, mc_return);
 *   - checkpoint metadata: "algorithm", "obs_dim", "act_dim" and every config field as
 *     "<algo>.<field>" (o2o_learner_meta), and rebuilding a learner from a checkpoint file
 *     alone (o2o_learner_load: the config comes from the metadata, the tensors are loaded
 *     strictly, so metadata that disagrees with the tensors fails with both named).
 *
 * Config fields (o2o_learner_field) are the single list from which `--help`, command-line
 * flags (--name, '_' -> '-'), config.json and checkpoint metadata are made. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "o2o_agent.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- config fields --------------------------------------------------------------------- */
typedef enum { O2O_FIELD_INT, O2O_FIELD_FLOAT } o2o_field_type;

typedef struct o2o_learner_field {
  const char *name;    /* "hidden", "expectile", ... (flag --hidden, metadata "iql.hidden") */
  o2o_field_type type; /* int or float member of the config struct */
  size_t offset;       /* offsetof(config struct, member) */
  const char *help;    /* one line, shown by --help with the default */
  double min, max;     /* accepted range (inclusive), checked by o2o_learner_config_set */
} o2o_learner_field;

/* ---- update statistics ------------------------------------------------------------------- */
#define O2O_LEARNER_MAX_STATS 24
/* Named scalars of the last update ("critic_loss", "q_mean", "alpha", ...), for the progress
 * line and metrics.csv. Names are static strings owned by the algorithm. */
typedef struct o2o_learner_stats {
  int count;
  const char *names[O2O_LEARNER_MAX_STATS];
  double values[O2O_LEARNER_MAX_STATS];
} o2o_learner_stats;

/* Add or overwrite a named value (at most O2O_LEARNER_MAX_STATS names; more are dropped). */
void o2o_learner_stats_set(o2o_learner_stats *st, const char *name, double value);
/* The value of name, or NAN when absent. */
double o2o_learner_stats_get(const o2o_learner_stats *st, const char *name);

/* ---- batch columns: O2O_COLUMN_* (o2o_agent.h, shared with replay) ------------------------ */

/* ---- an algorithm --------------------------------------------------------------------------- */
typedef struct o2o_learner_algo {
  const char *name;    /* "sac", "iql", "cql", "calql", "h2o" */
  const char *summary; /* one line for `o2o train-offline --help` and errors */
  int offline;         /* 1: can learn from a fixed dataset alone (IQL, CQL, Cal-QL) */
  size_t config_size;  /* sizeof its config struct */
  void (*config_default)(void *cfg);
  const o2o_learner_field *fields;
  int num_fields;
  /* Cross-field checks the ranges cannot express (e.g. layers * hidden, target_entropy);
   * 0 or -1 with err naming the field and its value. */
  int (*config_check)(const void *cfg, int obs_dim, int act_dim, char *err, size_t errlen);
  int (*batch_size)(const void *cfg); /* rows one update takes */
  int columns;                        /* O2O_COLUMN_* the update needs */

  void *(*create)(int obs_dim, int act_dim, const void *cfg, uint64_t seed, char *err,
                  size_t errlen);
  void (*destroy)(void *self);
  /* obs already normalised by the wrapper; actions in [-1, 1] */
  void (*act)(void *self, const float *obs, int n, int deterministic, float *actions);
  /* One update on a batch of batch_size rows (obs already normalised). Returns 0, or -1 with
   * err naming the tensor or batch entry that is not finite (then nothing changed). */
  int (*update)(void *self, const o2o_batch *batch, o2o_learner_stats *stats, char *err,
                size_t errlen);
  /* Every parameter, target, optimiser moment, counter and rng state as named tensors (the
   * live state: write into them to load); tensors_loaded adopts what was written (counters,
   * rng) or fails with err. Restoring every tensor resumes training bit-exactly. */
  int (*tensors)(void *self, const o2o_tensor_ref **tensors);
  int (*tensors_loaded)(void *self, char *err, size_t errlen);
  /* Optional (NULL = one buffer): the fraction of each batch's rows that must come from the
   * real (offline) buffer, the rest from the sim buffer, real rows marked by is_real (H2O). */
  double (*real_fraction)(const void *cfg);
  /* Optional (NULL = not used): statistics of the real dataset, given once by the loop before
   * the first update (H2O's gap weight perturbs s' by the dataset's state std). */
  int (*set_data_stats)(void *self, const float *obs_mean, const float *obs_std, char *err,
                        size_t errlen);
  /* Optional (NULL = not needed): the config was changed with o2o_learner_config_set after
   * create (e.g. Cal-QL's calibration switched off for the online phase); -1 + err refuses
   * the change (the wrapper then restores the old value). */
  int (*config_changed)(void *self, const void *cfg, char *err, size_t errlen);
} o2o_learner_algo;

/* Every registered algorithm (NULL-terminated), and lookup by name (NULL if unknown). */
const o2o_learner_algo *const *o2o_learner_algos(void);
const o2o_learner_algo *o2o_learner_find(const char *name);
/* "sac, iql, cql, calql" (for errors and --help); offline_only lists only algo->offline. */
const char *o2o_learner_names(int offline_only);

/* Field helpers on a config struct of algo (cfg points to config_size bytes). */
const o2o_learner_field *o2o_learner_field_find(const o2o_learner_algo *algo, const char *name);
double o2o_learner_field_get(const o2o_learner_field *f, const void *cfg);
/* Parse and range-check text for one field ("--gamma 1.5": error names the flag and range). */
int o2o_learner_field_parse(const o2o_learner_field *f, void *cfg, const char *text, char *err,
                            size_t errlen);

/* ---- an instance ------------------------------------------------------------------------------
 */
typedef struct o2o_learner o2o_learner;

/* cfg = NULL: the algorithm's defaults. obs_mean/obs_std = NULL: no normalisation. Returns
 * NULL with err (bad config: the field and its value; out of memory). */
o2o_learner *o2o_learner_create(const o2o_learner_algo *algo, int obs_dim, int act_dim,
                                const void *cfg, const float *obs_mean, const float *obs_std,
                                uint64_t seed, char *err, size_t errlen);
void o2o_learner_destroy(o2o_learner *l); /* NULL is fine */

const o2o_learner_algo *o2o_learner_algo_of(const o2o_learner *l);
const void *o2o_learner_config(const o2o_learner *l);
int o2o_learner_obs_dim(const o2o_learner *l);
int o2o_learner_act_dim(const o2o_learner *l);
int o2o_learner_batch_size(const o2o_learner *l);
/* Mean/std of the normalisation (NULL when none). */
const float *o2o_learner_obs_mean(const o2o_learner *l);
const float *o2o_learner_obs_std(const o2o_learner *l);
/* The algorithm's own object (what algo->create returned), for algorithm-specific calls such
 * as o2o_h2o_log_ratio; check o2o_learner_algo_of first. */
void *o2o_learner_impl(o2o_learner *l);
/* The value a field of a live learner's config stands for: a field whose 0 means a default
 * derived from the dimensions gives that default (target_entropy 0 = -act_dim), any other
 * its value. For config.json, which records what the run used. */
double o2o_learner_field_resolved(const o2o_learner *l, const o2o_learner_field *f);
/* Change one config field of a live learner (range-checked, then config_changed). */
int o2o_learner_config_set(o2o_learner *l, const char *field, double value, char *err,
                           size_t errlen);

/* The real-buffer fraction of each batch, or -1 when the learner takes one buffer. */
double o2o_learner_real_fraction(const o2o_learner *l);
/* Hand the real dataset's observation mean/std to a learner that uses them (a no-op returning
 * 0 for the others). */
int o2o_learner_set_data_stats(o2o_learner *l, const float *obs_mean, const float *obs_std,
                               char *err, size_t errlen);

/* Raw observations [n][obs_dim] -> actions [n][act_dim] in [-1, 1]. */
void o2o_learner_act(o2o_learner *l, const float *obs, int n, int deterministic, float *actions);
/* One update on raw (unnormalised) batch rows; refuses a batch without a needed column. */
int o2o_learner_update(o2o_learner *l, const o2o_batch *batch, o2o_learner_stats *stats, char *err,
                       size_t errlen);
/* The algorithm's tensors plus obs_norm.mean/std when normalising. */
int o2o_learner_tensors(o2o_learner *l, const o2o_tensor_ref **tensors);
int o2o_learner_tensors_loaded(o2o_learner *l, char *err, size_t errlen);

/* ---- checkpoints ----------------------------------------------------------------------------- */
struct o2o_ckpt_meta;
/* Write "algorithm", "obs_dim", "act_dim", "obs_norm" (0/1) and "<algo>.<field>" for every
 * config field into meta (shortest round-trip text for floats). -1 + err if meta is full. */
int o2o_learner_meta(const o2o_learner *l, struct o2o_ckpt_meta *meta, char *err, size_t errlen);
/* Rebuild the learner a checkpoint holds, from the file alone: algorithm from "algorithm",
 * config from the defaults overwritten by every "<algo>.<field>" present (an unknown
 * "<algo>.x" key is an error: the file comes from another version), then every tensor loaded
 * strictly. expect_algo (NULL = any): refuse a file of another algorithm, naming both.
 * meta_out (may be NULL) receives the file's metadata (run-level keys: step, scenario, ...). */
o2o_learner *o2o_learner_load(const char *path, const char *expect_algo,
                              struct o2o_ckpt_meta *meta_out, char *err, size_t errlen);

/* ---- warm start (warm_start.c) ------------------------------------------------------------ */
/* What a warm start took from the checkpoint, by part ("actor", "critics", "target critics",
 * "temperature", "actor Adam", "critic Adam", "obs_norm", ...), comma-separated, for the
 * caller to print and record (config.json). */
typedef struct o2o_warm_report {
  char source[1024];    /* the checkpoint path */
  char source_algo[32]; /* its algorithm */
  int64_t source_step;  /* its "step" metadata, -1 when absent */
  char copied[512];     /* copied as they are (same name and shape) */
  char converted[512];  /* converted (IQL's actor -> SAC's tanh-Gaussian head) */
  char fresh[512];      /* left as the online learner made them (its config, its seed) */
  char dropped[512];    /* parts of the checkpoint the online learner has no place for */
} o2o_warm_report;

/* The online learner algo (sac or h2o; an offline algorithm is refused) built from a
 * pretrained checkpoint of any learner (WSRL's warm start, Zhou et al. 2024): it takes the
 * checkpoint's dimensions, observation normalisation and architecture (hidden, layers,
 * num_critics, critic_layernorm: a value in cfg that differs from algo's default is an
 * explicit choice, and one that differs from the checkpoint's is refused, naming both), the
 * rest of its config from cfg (NULL = defaults), and every tensor it can: actor, critics,
 * targets, temperature, Adam moments and step counts (by name and shape across the SAC family;
 * IQL's actor converted so tanh(mean) is unchanged, IQL's V dropped). The sampling rng comes
 * from seed. meta_out (may be NULL): the checkpoint's metadata. rep (may be NULL): what was
 * copied / converted / left fresh / dropped. NULL + err on a file that is not a learner
 * checkpoint or does not fit. */
struct o2o_ckpt_meta;
o2o_learner *o2o_learner_warm_start(const o2o_learner_algo *algo, const void *cfg, const char *path,
                                    uint64_t seed, struct o2o_ckpt_meta *meta_out,
                                    o2o_warm_report *rep, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
