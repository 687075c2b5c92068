/* cmd_collect.c: `o2o collect`: record a D4RL-layout dataset on a scenario variant through
 * the bridge pool (K o2o-sim processes x N envs), with D4RL's collection semantics:
 *   - actions stored in the policy's unit box [-1, 1] (the env gets them scaled to its
 *     bounds, as D4RL's NormalizedBoxEnv does), random data = uniform in that box;
 *   - timeouts = the step hit the episode limit (terminal stays 0 then), terminals = the
 *     env ended the episode otherwise; next_observations = the final observation of the
 *     episode on autoreset;
 *   - each env's episodes are written contiguously (rows of parallel envs are never
 *     interleaved, so a reader may rebuild next_observations from the next row), in the
 *     order they finish; the file is cut at exactly --steps rows (the last episode may be
 *     unfinished, as in D4RL's 1M-row files).
 * Rows lost to a simulator fault (o2o_pool_lost) are dropped with the rest of that env's
 * unfinished episode. Reproducible: same flags and seed -> same file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "o2o_bridge.h"
#include "cli/o2o_commands.h"
#include "o2o_dataset.h"
#include "o2o_version.h"
#include "io/policy.h"
#include "io/progress.h"
#include "cli/cli.h"

#define MAX_SEGMENTS 16

/* Rows of transitions (growable). */
typedef struct rows {
  int64_t n, cap;
  int od, ad, sd; /* sd: doubles of simulator state per row (0 = not recorded) */
  float *obs, *act, *rew, *next, *logp;
  uint8_t *term, *tout;
  int32_t *env;
  double *state; /* [n][sd]: the full GET_STATE of the env before the row's step */
} rows;

static int rows_reserve(rows *r, int64_t need) {
  if (need <= r->cap) return 0;
  int64_t cap = r->cap ? r->cap : 256;
  while (cap < need)
    cap *= 2;
  void *p[9] = {realloc(r->obs, cap * r->od * 4),
                realloc(r->act, cap * r->ad * 4),
                realloc(r->rew, cap * 4),
                realloc(r->next, cap * r->od * 4),
                realloc(r->logp, cap * 4),
                realloc(r->term, cap),
                realloc(r->tout, cap),
                realloc(r->env, cap * 4),
                realloc(r->state, (size_t)(cap * (r->sd ? r->sd : 1)) * 8)};
  /* realloc keeps the old block on failure: store whichever succeeded, then report. */
  if (p[0]) r->obs = p[0];
  if (p[1]) r->act = p[1];
  if (p[2]) r->rew = p[2];
  if (p[3]) r->next = p[3];
  if (p[4]) r->logp = p[4];
  if (p[5]) r->term = p[5];
  if (p[6]) r->tout = p[6];
  if (p[7]) r->env = p[7];
  if (p[8]) r->state = p[8];
  for (int i = 0; i < 9; i++)
    if (!p[i]) return -1;
  r->cap = cap;
  return 0;
}

static void rows_free(rows *r) {
  free(r->obs), free(r->act), free(r->rew), free(r->next), free(r->logp);
  free(r->term), free(r->tout), free(r->env), free(r->state);
  memset(r, 0, sizeof(*r));
}

/* Append rows [from, from + k) of src to dst. */
static int rows_append(rows *dst, const rows *src, int64_t from, int64_t k) {
  if (rows_reserve(dst, dst->n + k)) return -1;
  int od = dst->od, ad = dst->ad;
  int64_t n = dst->n;
  memcpy(dst->obs + n * od, src->obs + from * od, k * od * 4);
  memcpy(dst->act + n * ad, src->act + from * ad, k * ad * 4);
  memcpy(dst->rew + n, src->rew + from, k * 4);
  memcpy(dst->next + n * od, src->next + from * od, k * od * 4);
  memcpy(dst->logp + n, src->logp + from, k * 4);
  memcpy(dst->term + n, src->term + from, k);
  memcpy(dst->tout + n, src->tout + from, k);
  memcpy(dst->env + n, src->env + from, k * 4);
  if (dst->sd) memcpy(dst->state + n * dst->sd, src->state + from * src->sd, k * src->sd * 8);
  dst->n += k;
  return 0;
}

typedef struct collect_args {
  const char *scenario, *variant, *out, *recipe;
  char policy_list[4096];
  const char *policies[MAX_SEGMENTS];
  int num_policies;
  double noise;
  int deterministic, procs, envs, json, gzip, overwrite, no_states;
  int64_t steps;
  uint64_t seed;
} collect_args;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double uniform01(uint64_t *s) {
  return (double)(o2o_splitmix64(s) >> 11) * 0x1.0p-53;
}
static double gauss(uint64_t *s) {
  double u1 = uniform01(s), u2 = uniform01(s);
  return sqrt(-2.0 * log(u1 > 1e-300 ? u1 : 1e-300)) * cos(6.283185307179586 * u2);
}

typedef struct progress {
  double t0;
  int64_t goal, done_before;
  o2o_progress line; /* in place on a terminal (every 1 s), whole lines in a log (10 s) */
} progress;

/* The progress line; final: the segment's last, always shown and kept. */
static void progress_show(progress *pg, int64_t rows_now, int64_t steps, int seg, int nseg,
                          int final) {
  if (!o2o_progress_due(&pg->line, final)) return;
  double el = now() - pg->t0, rate = el > 0 ? (double)steps / el : 0;
  int64_t total = pg->done_before + rows_now;
  double frac = pg->goal ? (double)total / (double)pg->goal : 1;
  double eta = frac > 0 && frac < 1 ? el / frac * (1 - frac) : 0;
  o2o_progress_show(&pg->line, final,
                    "collect: segment %d/%d  %lld/%lld rows (%.0f%%)  %.0f env steps/s  ETA %.0f s",
                    seg + 1, nseg, (long long)total, (long long)pg->goal,
                    100 * (frac < 1 ? frac : 1), rate, eta);
}

/* One segment: `want` rows from one policy (NULL = uniform random) on the pool. Completed
 * episodes go to out in the order they finish. */
static int collect_segment(o2o_pool *pool, o2o_policy *pol, const collect_args *a, uint64_t seed,
                           int64_t want, int seg, int nseg, progress *pg, rows *out, char *err,
                           size_t errlen) {
  const o2o_bridge_spec *sp = o2o_pool_spec(pool);
  const int E = sp->num_envs, O = sp->obs_dim, A = sp->act_dim;
  float *obs = malloc((size_t)E * O * 4), *unit = malloc((size_t)E * A * 4);
  float *scaled = malloc((size_t)E * A * 4);
  rows *ep = calloc((size_t)E, sizeof(rows));
  const int S = out->sd;
  double *st = malloc((size_t)E * (S ? S : 1) * 8);
  int rc = -1;
  if (!obs || !unit || !scaled || !ep || !st) {
    snprintf(err, errlen, "out of memory");
    goto done;
  }
  for (int j = 0; j < E; j++)
    ep[j].od = O, ep[j].ad = A, ep[j].sd = S;
  char sub[O2O_BRIDGE_ERRLEN];
  if (o2o_pool_reset(pool, seed, obs, sub, sizeof(sub))) {
    snprintf(err, errlen, "reset: %s", sub);
    goto done;
  }
  uint64_t rng = seed ^ 0x6F326F2D636F6C6CULL; /* action noise / random actions */
  if (pol) o2o_policy_seed(pol, seed);
  const float logp_uniform = (float)(-A * log(2.0));
  int64_t steps = 0, start_rows = out->n;
  while (out->n - start_rows < want) {
    if (pol) {
      o2o_policy_act(pol, obs, E, a->deterministic || a->noise > 0, unit);
      if (a->noise > 0)
        for (int i = 0; i < E * A; i++) {
          double u = unit[i] + a->noise * gauss(&rng);
          unit[i] = (float)(u < -1 ? -1 : u > 1 ? 1 : u);
        }
    } else {
      for (int i = 0; i < E * A; i++)
        unit[i] = (float)(2.0 * uniform01(&rng) - 1.0);
    }
    for (int j = 0; j < E; j++)
      for (int k = 0; k < A; k++) {
        float lo = sp->act_low[k], hi = sp->act_high[k];
        scaled[j * A + k] = lo + 0.5f * (unit[j * A + k] + 1.0f) * (hi - lo);
      }
    /* The state each row starts from (D4RL's infos/qpos, infos/qvel: before the step). */
    if (S && o2o_pool_get_states(pool, st, sub, sizeof(sub))) {
      snprintf(err, errlen, "get_state at step %lld: %s", (long long)steps, sub);
      goto done;
    }
    o2o_bridge_batch b;
    if (o2o_pool_step(pool, scaled, &b, sub, sizeof(sub))) {
      snprintf(err, errlen, "step %lld: %s", (long long)steps, sub);
      goto done;
    }
    const uint8_t *lost = o2o_pool_lost(pool);
    steps += E;
    for (int j = 0; j < E; j++) {
      rows *r = &ep[j];
      if (lost && lost[j]) { /* nothing happened: drop the unfinished episode */
        r->n = 0;
        continue;
      }
      for (int k = 0; k < O; k++)
        if (!isfinite(b.obs[j * O + k]) || !isfinite(b.final_obs[j * O + k])) {
          snprintf(err, errlen, "env %d returned a non-finite observation (column %d) at step %lld",
                   j, k, (long long)steps);
          goto done;
        }
      if (!isfinite(b.reward[j])) {
        snprintf(err, errlen, "env %d returned a non-finite reward at step %lld", j,
                 (long long)steps);
        goto done;
      }
      if (rows_reserve(r, r->n + 1)) {
        snprintf(err, errlen, "out of memory");
        goto done;
      }
      int64_t i = r->n++;
      memcpy(r->obs + i * O, obs + j * O, O * 4);
      memcpy(r->act + i * A, unit + j * A, A * 4);
      r->rew[i] = b.reward[j];
      memcpy(r->next + i * O, b.final_obs + j * O, O * 4);
      r->logp[i] = pol ? NAN : logp_uniform;
      /* D4RL: the step that hits the limit is a timeout, even if the env also ended. */
      r->tout[i] = b.truncated[j] != 0;
      r->term[i] = b.terminated[j] && !b.truncated[j];
      r->env[i] = j;
      if (S) memcpy(r->state + i * S, st + (size_t)j * S, (size_t)S * 8);
      if (r->term[i] || r->tout[i]) {
        if (rows_append(out, r, 0, r->n)) {
          snprintf(err, errlen, "out of memory");
          goto done;
        }
        r->n = 0;
      }
    }
    memcpy(obs, b.obs, (size_t)E * O * 4);
    progress_show(pg, out->n - start_rows, steps, seg, nseg, 0);
  }
  /* Cut to `want` rows; a segment that is followed by another ends after its last complete
   * episode (D4RL's medium-expert stitching), so only the final segment may end mid-episode. */
  int64_t keep = start_rows + want;
  if (seg + 1 < nseg) {
    while (keep > start_rows && !out->term[keep - 1] && !out->tout[keep - 1])
      keep--;
  }
  out->n = keep;
  pg->done_before += out->n - start_rows;
  progress_show(pg, 0, steps, seg, nseg, 1);
  rc = 0;
done:
  if (ep)
    for (int j = 0; j < E; j++)
      rows_free(&ep[j]);
  free(ep);
  free(obs), free(unit), free(scaled), free(st);
  return rc;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: o2o collect --scenario S --steps N --out FILE [--variant real|sim]\n"
          "                   [--policy random|CKPT[,CKPT...]] [--recipe R] [--noise STD]\n"
          "                   [--deterministic] [--seed S] [--procs P] [--envs K] [--gzip L]\n"
          "                   [--json] [--overwrite] [--no-states]\n"
          "  Records N transitions in the D4RL HDF5 layout through P o2o-sim processes x K envs\n"
          "  (see datasets/README.md). Actions are stored in [-1, 1] (scaled to the env's\n"
          "  bounds when stepping).\n"
          "  --policy random      uniform actions (default)\n"
          "  --policy CKPT        a checkpoint (safetensors from o2o train-online), sampled from\n"
          "                       its tanh-Gaussian unless --deterministic or --noise\n"
          "  --policy A,B,...     one segment per policy, N split evenly, in order\n"
          "  --noise STD          deterministic action + Gaussian noise of STD, clipped to [-1,1]\n"
          "  --recipe R           D4RL-style: random (policy random), medium or expert (one\n"
          "                       checkpoint), medium-expert (two: medium,expert; medium cut\n"
          "                       after its last complete episode), medium-replay (a sequence\n"
          "                       of checkpoints of one training run, oldest first)\n"
          "  --seed S             env j of segment k starts from seed S + 1000003 k + j\n"
          "                       (default 0); same flags + seed = same file\n"
          "  --variant real|sim   dynamics variant (default real)\n"
          "  --procs P --envs K   o2o-sim processes and envs per process (default 1 x 1)\n"
          "  --gzip L             compression level 0..9 (default 1)\n"
          "  --json               summary as one JSON object on stdout\n"
          "  --overwrite          replace FILE if it exists (refused otherwise)\n"
          "  --no-states          do not record infos/sim_state, infos/qpos, infos/qvel\n"
          "                       (recorded by default: the state before each row's step)\n");
}

static int parse(int argc, char **argv, collect_args *a) {
  memset(a, 0, sizeof(*a));
  a->variant = "real";
  a->procs = a->envs = 1;
  a->gzip = 1;
  const char *policy = "random";
  o2o_flags *f = o2o_flags_create("o2o collect");
  o2o_flags_str(f, "scenario", &a->scenario, "S", "scenario");
  o2o_flags_str(f, "variant", &a->variant, "V", "real|sim");
  o2o_flags_str(f, "out", &a->out, "FILE", "dataset file");
  o2o_flags_str(f, "recipe", &a->recipe, "R", "D4RL-style recipe");
  o2o_flags_str(f, "policy", &policy, "P", "random|CKPT[,CKPT...]");
  o2o_flags_num(f, "noise", &a->noise, 0, 100, "STD", "Gaussian action noise");
  o2o_flags_bool(f, "deterministic", &a->deterministic, "deterministic actions");
  o2o_flags_i64(f, "steps", &a->steps, 1, INT64_MAX, "N", "transitions");
  o2o_flags_u64(f, "seed", &a->seed, 0, INT64_MAX, "S", "seed");
  o2o_flags_int(f, "procs", &a->procs, 1, 256, "P", "o2o-sim processes");
  o2o_flags_int(f, "envs", &a->envs, 1, 65536, "K", "envs per process");
  o2o_flags_int(f, "gzip", &a->gzip, 0, 9, "L", "compression level");
  o2o_flags_bool(f, "json", &a->json, "summary as JSON");
  o2o_flags_bool(f, "overwrite", &a->overwrite, "replace FILE");
  o2o_flags_bool(f, "no-states", &a->no_states, "no simulator states");
  o2o_flags_std(f, usage, "o2o " O2O_VERSION);
  int rc = o2o_flags_parse(f, argc, argv);
  o2o_flags_destroy(f);
  if (rc) return rc < 0 ? 2 : 1;
  if (strlen(policy) >= sizeof a->policy_list) {
    fprintf(stderr, "o2o collect: --policy list too long (%zu characters)\n", strlen(policy));
    return 2;
  }
  snprintf(a->policy_list, sizeof(a->policy_list), "%s", policy);
  for (char *tok = strtok(a->policy_list, ","); tok; tok = strtok(NULL, ",")) {
    if (a->num_policies == MAX_SEGMENTS) {
      fprintf(stderr, "o2o collect: at most %d policies\n", MAX_SEGMENTS);
      return 2;
    }
    a->policies[a->num_policies++] = tok;
  }
  const char *why = NULL;
  int random = a->num_policies == 1 && !strcmp(a->policies[0], "random");
  if (!a->scenario || !a->out || a->steps < 1)
    why = "--scenario, --out and --steps N >= 1 are required";
  else if (a->num_policies < 1)
    why = "--policy is empty";
  else if (a->noise < 0 || a->noise > 10)
    why = "--noise must be in [0, 10]";
  else if (a->procs < 1 || a->envs < 1)
    why = "--procs and --envs must be >= 1";
  else if (a->gzip < 0 || a->gzip > 9)
    why = "--gzip must be in 0..9";
  else if (strcmp(a->variant, "real") && strcmp(a->variant, "sim"))
    why = "--variant must be real or sim";
  else if (a->recipe && !strcmp(a->recipe, "random") && !random)
    why = "--recipe random takes --policy random";
  else if (a->recipe && (!strcmp(a->recipe, "medium") || !strcmp(a->recipe, "expert")) &&
           (random || a->num_policies != 1))
    why = "--recipe medium/expert needs --policy CKPT (one checkpoint: the partially trained "
          "policy for medium, the final one for expert)";
  else if (a->recipe && !strcmp(a->recipe, "medium-expert") && a->num_policies != 2)
    why = "--recipe medium-expert needs --policy MEDIUM_CKPT,EXPERT_CKPT";
  else if (a->recipe && !strcmp(a->recipe, "medium-replay") && random)
    why = "--recipe medium-replay needs the checkpoints of one training run up to the medium "
          "one, oldest first: --policy CKPT1,CKPT2,... (o2o cannot yet dump a training run's "
          "replay buffer itself)";
  else if (a->recipe && strcmp(a->recipe, "random") && strcmp(a->recipe, "medium") &&
           strcmp(a->recipe, "expert") && strcmp(a->recipe, "medium-expert") &&
           strcmp(a->recipe, "medium-replay"))
    why = "--recipe must be random, medium, expert, medium-expert or medium-replay";
  for (int k = 0; !why && k < a->num_policies; k++)
    if (!strcmp(a->policies[k], "random") && a->num_policies > 1)
      why = "'random' cannot be mixed with checkpoints in --policy";
  if (why) {
    fprintf(stderr, "o2o collect: %s\n", why);
    return 2;
  }
  if (!a->recipe) a->recipe = random ? "random" : "custom";
  return 0;
}

static int write_file(const collect_args *a, const o2o_bridge_spec *sp, const rows *r, int restarts,
                      char *err, size_t errlen) {
  o2o_dataset_extra ex[32 + O2O_BRIDGE_MAX_PARAMS];
  int n = 0, rc = 0;
  int random = !strcmp(a->policies[0], "random");
  if (random) rc |= o2o_dataset_extra_floats(&ex[n++], "infos/action_log_probs", r->logp, r->n, 0);
  /* Which env of the batch produced the row: episodes of env j start from seed + j. */
  ex[n] = (o2o_dataset_extra){.dtype = O2O_DTYPE_I32, .ndim = 1, .shape = {r->n}};
  snprintf(ex[n].key, sizeof(ex[n].key), "infos/env_index");
  ex[n].data = malloc((size_t)r->n * 4);
  if (ex[n].data) memcpy(ex[n].data, r->env, (size_t)r->n * 4);
  n++;
  if (r->sd) {
    /* Full GET_STATE (bridge/PROTOCOL.md layout) and D4RL's qpos/qvel, sliced from it: the
     * shipped tasks have nq = nv and no actuator activations, so state_dim = 1 + 3 nq + 3 +
     * 32 act_dim + 8. */
    const int S = r->sd, rest = S - 12 - 32 * r->ad;
    const int nq = rest > 0 && rest % 3 == 0 ? rest / 3 : 0;
    ex[n] = (o2o_dataset_extra){.dtype = O2O_DTYPE_F64, .ndim = 2, .shape = {r->n, S}};
    snprintf(ex[n].key, sizeof(ex[n].key), "infos/sim_state");
    if ((ex[n].data = malloc((size_t)r->n * S * 8)))
      memcpy(ex[n].data, r->state, (size_t)r->n * S * 8);
    n++;
    for (int q = 0; nq && q < 2; q++) {
      ex[n] = (o2o_dataset_extra){.dtype = O2O_DTYPE_F64, .ndim = 2, .shape = {r->n, nq}};
      snprintf(ex[n].key, sizeof(ex[n].key), q ? "infos/qvel" : "infos/qpos");
      double *v = ex[n].data = malloc((size_t)r->n * nq * 8);
      for (int64_t i = 0; v && i < r->n; i++)
        memcpy(v + i * nq, r->state + i * S + 1 + q * nq, (size_t)nq * 8);
      n++;
    }
  }
  char pol[4096];
  snprintf(pol, sizeof(pol), "%s", a->policies[0]);
  for (int k = 1; k < a->num_policies; k++)
    snprintf(pol + strlen(pol), sizeof(pol) - strlen(pol), ",%s", a->policies[k]);
  o2o_dataset_extra_string(&ex[n++], "metadata/scenario", sp->scenario);
  o2o_dataset_extra_string(&ex[n++], "metadata/variant", sp->variant);
  o2o_dataset_extra_string(&ex[n++], "metadata/task", sp->task);
  o2o_dataset_extra_string(&ex[n++], "metadata/recipe", a->recipe);
  o2o_dataset_extra_string(&ex[n++], "metadata/policy", pol);
  o2o_dataset_extra_string(&ex[n++], "metadata/policy_mode",
                           random             ? "uniform"
                           : a->noise > 0     ? "deterministic+gaussian"
                           : a->deterministic ? "deterministic"
                                              : "stochastic");
  o2o_dataset_extra_double(&ex[n++], "metadata/noise_std", a->noise);
  o2o_dataset_extra_int(&ex[n++], "metadata/seed", (int64_t)a->seed);
  o2o_dataset_extra_int(&ex[n++], "metadata/max_episode_steps", sp->max_episode_steps);
  o2o_dataset_extra_int(&ex[n++], "metadata/num_procs", a->procs);
  o2o_dataset_extra_int(&ex[n++], "metadata/envs_per_proc", a->envs);
  o2o_dataset_extra_int(&ex[n++], "metadata/pool_restarts", restarts);
  o2o_dataset_extra_double(&ex[n++], "metadata/dt", sp->dt);
  o2o_dataset_extra_string(&ex[n++], "metadata/o2o_version", O2O_VERSION);
  o2o_dataset_extra_string(&ex[n++], "metadata/actions",
                           "unit box [-1,1]; env action = low + (a + 1) / 2 * (high - low)");
  rc |= o2o_dataset_extra_floats(&ex[n++], "metadata/act_low", sp->act_low, sp->act_dim, 0);
  rc |= o2o_dataset_extra_floats(&ex[n++], "metadata/act_high", sp->act_high, sp->act_dim, 0);
  for (int k = 0; k < sp->num_params; k++) {
    char key[128];
    snprintf(key, sizeof(key), "metadata/dynamics/%s", sp->param_names[k]);
    o2o_dataset_extra_double(&ex[n++], key, sp->params[k]);
  }
  for (int k = 0; k < n; k++)
    rc |= ex[k].data == NULL;
  if (rc) {
    snprintf(err, errlen, "out of memory");
  } else {
    o2o_dataset_data d = {r->n,    r->od,   r->ad,   r->obs, r->act, r->rew,
                          r->next, r->term, r->tout, n,      ex};
    o2o_dataset_write_opts wo = {.gzip_level = a->gzip};
    rc = o2o_dataset_write(a->out, &d, &wo, err, errlen);
  }
  for (int k = 0; k < n; k++)
    free(ex[k].data);
  return rc;
}

int o2o_cmd_collect(int argc, char **argv) {
  collect_args a;
  int prc = parse(argc, argv, &a);
  if (prc == 1) return 0; /* --help or --version printed */
  if (prc) {
    usage(stderr);
    return 2;
  }
  char err[1024];
  int random = !strcmp(a.policies[0], "random");
  o2o_policy *pols[MAX_SEGMENTS] = {0};
  for (int k = 0; !random && k < a.num_policies; k++) {
    pols[k] = o2o_policy_load(a.policies[k], err, sizeof(err));
    if (!pols[k]) {
      fprintf(stderr, "o2o collect: %s\n", err);
      for (int i = 0; i < k; i++)
        o2o_policy_destroy(pols[i]);
      return 1;
    }
  }
  /* Checked before any simulator runs: a finished dataset is never replaced by accident. */
  if (!a.overwrite && access(a.out, F_OK) == 0) {
    fprintf(stderr, "o2o collect: %s already exists (pass --overwrite to replace it)\n", a.out);
    for (int k = 0; k < a.num_policies; k++)
      o2o_policy_destroy(pols[k]);
    return 1;
  }
  o2o_pool_config cfg = {
      .scenario = a.scenario, .variant = a.variant, .num_procs = a.procs, .envs_per_proc = a.envs};
  o2o_pool *pool = o2o_pool_create(&cfg, err, sizeof(err));
  int rc = 1;
  rows out = {0};
  if (!pool) {
    fprintf(stderr, "o2o collect: %s\n", err);
    goto done;
  }
  const o2o_bridge_spec *sp = o2o_pool_spec(pool);
  for (int k = 0; !random && k < a.num_policies; k++)
    if (o2o_policy_obs_dim(pols[k]) != sp->obs_dim || o2o_policy_act_dim(pols[k]) != sp->act_dim) {
      fprintf(stderr,
              "o2o collect: policy %s has obs %d / act %d but scenario %s has obs %d / act %d\n",
              a.policies[k], o2o_policy_obs_dim(pols[k]), o2o_policy_act_dim(pols[k]), sp->scenario,
              sp->obs_dim, sp->act_dim);
      goto done;
    }
  out.od = sp->obs_dim;
  out.ad = sp->act_dim;
  out.sd = a.no_states ? 0 : sp->state_dim;
  progress pg = {.t0 = now(), .goal = a.steps};
  o2o_progress_init(&pg.line, 1.0, 10.0);
  double t0 = now();
  for (int k = 0; k < a.num_policies; k++) {
    int64_t want = k + 1 < a.num_policies ? a.steps / a.num_policies : a.steps - out.n;
    if (collect_segment(pool, random ? NULL : pols[k], &a, a.seed + 1000003ULL * k, want, k,
                        a.num_policies, &pg, &out, err, sizeof(err))) {
      o2o_progress_end(&pg.line);
      fprintf(stderr, "o2o collect: %s\n", err);
      goto done;
    }
  }
  double secs = now() - t0;
  if (write_file(&a, sp, &out, o2o_pool_restarts(pool), err, sizeof(err))) {
    fprintf(stderr, "o2o collect: %s\n", err);
    goto done;
  }
  o2o_dataset_stats st;
  if (o2o_dataset_stats_compute(&st, out.n, out.od, out.ad, out.obs, out.act, out.rew, out.term,
                                out.tout, sp->task) == 0) {
    if (a.json)
      printf("{\"out\": \"%s\", \"rows\": %lld, \"episodes\": %lld, \"return_mean\": %.6f, "
             "\"return_min\": %.6f, \"return_max\": %.6f, \"seconds\": %.3f, "
             "\"steps_per_s\": %.1f}\n",
             a.out, (long long)out.n, (long long)st.episodes, st.return_mean, st.return_min,
             st.return_max, secs, (double)out.n / secs);
    else
      fprintf(stderr,
              "collect: wrote %s: %lld rows, %lld episodes, return mean %.3f (min %.3f, max "
              "%.3f), %.1f s\n",
              a.out, (long long)out.n, (long long)st.episodes, st.return_mean, st.return_min,
              st.return_max, secs);
    o2o_dataset_stats_free(&st);
  }
  rc = 0;
done:
  o2o_pool_destroy(pool);
  for (int k = 0; k < a.num_policies; k++)
    o2o_policy_destroy(pols[k]);
  rows_free(&out);
  return rc;
}
