/* cmd_dataset.c: `o2o dataset info FILE`: structure checks, episodes, returns, D4RL
 * normalised score and per-dimension ranges of a D4RL-layout HDF5 file; --json for scripts.
 * The whole file is validated (open + a full read with NaN/inf checks) before anything is
 * reported as OK. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "o2o_bridge.h"
#include "cli/o2o_commands.h"
#include "o2o_dataset.h"
#include "o2o_version.h"
#include "io/json_out.h"
#include "cli/cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: o2o dataset info FILE|NAME [--json] [--scenario S] [--task T] [--limit N]\n"
          "                        [--obs-dim N] [--act-dim N] [--keys]\n"
          "  NAME: a shipped or cached dataset (pendulum-random, pendulum-medium; see\n"
          "  datasets/README.md; also $O2O_DATASET_PATH).\n"
          "  Checks a D4RL-layout HDF5 file (keys, dtypes, ranks, first dimensions, NaN/inf,\n"
          "  episode lengths) and prints transitions, episodes, return min/mean/max, the D4RL\n"
          "  normalised score (hopper, halfcheetah, walker2d, ant) and per-dimension\n"
          "  observation/action min, max, mean, std.\n"
          "  --scenario S  check obs/action dims against scenario S (asks an o2o-sim for its\n"
          "                spec) and take the episode limit from it\n"
          "  --task T      task for the normalised score (default: metadata/task, the\n"
          "                scenario or the file name)\n"
          "  --limit N     episode limit (default: metadata/max_episode_steps, else 1000)\n"
          "  --obs-dim N, --act-dim N  expected dimensions\n"
          "  --keys        list every dataset in the file with dtype and shape\n"
          "  --json        one JSON object on stdout\n"
          "exit code: 0 valid, 1 invalid or unreadable (the error names file, key, row), 2 usage\n"
          "\n"
          "usage: o2o dataset import-minari SRC --out FILE [--gzip L]\n"
          "  Converts a Minari dataset (HDF5 backend; SRC = its directory or main_data.hdf5)\n"
          "  into the D4RL layout (Box observation/action spaces only).\n"
          "\n"
          "usage: o2o dataset make NAME [--force] | --list\n"
          "  Generates a named dataset (e.g. pendulum-medium-100k) into datasets/cache/ on first\n"
          "  use with a fixed, seeded o2o collect command; prints its path.\n");
}

static void json_arr(FILE *f, const double *v, int n) {
  fputc('[', f);
  for (int i = 0; i < n; i++) {
    if (i) fputs(", ", f);
    o2o_json_num(f, v[i]);
  }
  fputc(']', f);
}

/* "name": {"min": [..], "max": [..], "mean": [..], "std": [..]} of n columns */
static void json_columns(FILE *f, const char *name, const double *min, const double *max,
                         const double *mean, const double *std, int n) {
  fprintf(f, "\"%s\": {\"min\": ", name);
  json_arr(f, min, n);
  fprintf(f, ", \"max\": ");
  json_arr(f, max, n);
  fprintf(f, ", \"mean\": ");
  json_arr(f, mean, n);
  fprintf(f, ", \"std\": ");
  json_arr(f, std, n);
  fputc('}', f);
}

static void shape_str(const o2o_dataset_extra *k, char *buf, size_t len) {
  int off = snprintf(buf, len, "(");
  for (int i = 0; i < k->ndim && off < (int)len; i++)
    off += snprintf(buf + off, len - off, i ? ", %lld" : "%lld", (long long)k->shape[i]);
  if (off < (int)len) snprintf(buf + off, len - off, k->ndim == 1 ? ",)" : ")");
}

/* Dims and episode limit of a scenario from a short-lived o2o-sim (HELLO). */
static int scenario_spec(const char *scenario, o2o_bridge_spec *spec, char *err, size_t errlen) {
  o2o_pool_config cfg = {
      .scenario = scenario, .variant = "real", .num_procs = 1, .envs_per_proc = 1, .quiet = 1};
  o2o_pool *p = o2o_pool_create(&cfg, err, errlen);
  if (!p) return -1;
  *spec = *o2o_pool_spec(p);
  o2o_pool_destroy(p);
  return 0;
}

static int info_main(int argc, char **argv) {
  const char *path = NULL, *scenario = NULL, *task = NULL;
  int json = 0, keys = 0;
  o2o_dataset_open_opts oo = {0};
  o2o_flags *f = o2o_flags_create("o2o dataset info");
  o2o_flags_positionals(f, 0, 1, "FILE");
  o2o_flags_bool(f, "json", &json, "one JSON object on stdout");
  o2o_flags_bool(f, "keys", &keys, "list every dataset in the file");
  o2o_flags_str(f, "scenario", &scenario, "S", "check dims against scenario S");
  o2o_flags_str(f, "task", &task, "T", "task for the normalised score");
  o2o_flags_int(f, "limit", &oo.episode_limit, 1, INT32_MAX, "N", "episode limit");
  o2o_flags_int(f, "obs-dim", &oo.expect_obs_dim, 0, 65536, "N", "expected obs dim");
  o2o_flags_int(f, "act-dim", &oo.expect_act_dim, 0, 65536, "N", "expected act dim");
  o2o_flags_std(f, usage, NULL);
  int prc = o2o_flags_parse(f, argc, argv);
  path = prc ? NULL : o2o_flags_pos(f, 0);
  o2o_flags_destroy(f);
  if (prc) return prc < 0 ? 2 : 0;
  if (!path) {
    usage(stderr);
    return 2;
  }
  char err[O2O_DATASET_ERRLEN];
  static char scenario_task[32];
  if (scenario) {
    o2o_bridge_spec spec;
    if (scenario_spec(scenario, &spec, err, sizeof(err))) {
      fprintf(stderr, "o2o dataset info: scenario %s: %s\n", scenario, err);
      return 1;
    }
    if (!oo.expect_obs_dim) oo.expect_obs_dim = spec.obs_dim;
    if (!oo.expect_act_dim) oo.expect_act_dim = spec.act_dim;
    if (!oo.episode_limit) oo.episode_limit = spec.max_episode_steps;
    snprintf(scenario_task, sizeof(scenario_task), "%s", spec.task);
    if (!task) task = scenario_task;
  }
  o2o_dataset *ds = NULL;
  static char found[900];
  int rc = o2o_dataset_find(path, found, sizeof(found), err, sizeof(err));
  if (!rc) path = found;
  if (!rc) rc = o2o_dataset_open2(path, &oo, &ds, err, sizeof(err));
  if (rc) {
    if (json) {
      printf("{\"file\": ");
      o2o_json_str(stdout, path);
      printf(", \"valid\": false, \"error\": ");
      o2o_json_str(stdout, err);
      printf("}\n");
    }
    fprintf(stderr, "o2o dataset info: %s\n", err);
    return 1;
  }
  const o2o_dataset_info *in = o2o_dataset_get_info(ds);
  int64_t n = in->transitions;
  const int od = in->obs_dim, ad = in->act_dim;
  float *obs = malloc((size_t)n * od * 4), *act = malloc((size_t)n * ad * 4);
  float *rew = malloc((size_t)n * 4);
  uint8_t *term = malloc((size_t)n), *tout = malloc((size_t)n);
  if (!obs || !act || !rew || !term || !tout) {
    snprintf(err, sizeof(err), "%s: out of memory for %lld transitions", path, (long long)n);
    rc = 1;
  } else {
    /* next_observations is read too (into obs's room, then overwritten) so that a NaN in it
     * is found; the stats need only obs, act, rew and the flags. */
    o2o_dataset_dest nd = {.next_obs = obs};
    o2o_dataset_dest d = {.obs = obs, .act = act, .rew = rew, .terminals = term, .timeouts = tout};
    rc = o2o_dataset_read(ds, 0, n, &nd, err, sizeof(err)) ||
         o2o_dataset_read(ds, 0, n, &d, err, sizeof(err));
  }
  o2o_dataset_stats st = {0};
  const char *t = task ? task : in->task;
  if (!rc && o2o_dataset_stats_compute(&st, n, od, ad, obs, act, rew, term, tout, t)) {
    snprintf(err, sizeof(err), "%s: out of memory", path);
    rc = 1;
  }
  free(obs), free(act), free(rew), free(term), free(tout);
  if (rc) {
    if (json) {
      printf("{\"file\": ");
      o2o_json_str(stdout, path);
      printf(", \"valid\": false, \"error\": ");
      o2o_json_str(stdout, err);
      printf("}\n");
    }
    fprintf(stderr, "o2o dataset info: %s\n", err);
    o2o_dataset_close(ds);
    return 1;
  }
  if (json) {
    FILE *f = stdout;
    fprintf(f, "{\"file\": ");
    o2o_json_str(f, path);
    fprintf(f,
            ", \"valid\": true, \"rows\": %lld, \"transitions\": %lld, \"obs_dim\": %d, "
            "\"act_dim\": %d, ",
            (long long)in->rows, (long long)n, od, ad);
    fprintf(f,
            "\"dtypes\": {\"observations\": \"%s\", \"actions\": \"%s\", \"rewards\": \"%s\", "
            "\"next_observations\": \"%s\", \"terminals\": \"%s\", \"timeouts\": \"%s\"}, ",
            o2o_dtype_name(in->obs_dtype), o2o_dtype_name(in->act_dtype),
            o2o_dtype_name(in->rew_dtype), o2o_dtype_name(in->next_obs_dtype),
            o2o_dtype_name(in->terminals_dtype), o2o_dtype_name(in->timeouts_dtype));
    fprintf(f, "\"has_next_observations\": %s, \"has_timeouts\": %s, \"episode_limit\": %d, ",
            in->has_next_obs ? "true" : "false", in->has_timeouts ? "true" : "false",
            in->episode_limit);
    fprintf(f,
            "\"episodes\": %lld, \"terminal_episodes\": %lld, \"trailing_rows\": %lld, "
            "\"dropped_rows\": %lld, \"longest_episode\": %lld, ",
            (long long)in->episodes, (long long)in->terminal_episodes, (long long)in->trailing_rows,
            (long long)in->dropped_rows, (long long)in->longest_episode);
    fprintf(f, "\"task\": ");
    o2o_json_str(f, t);
    fprintf(f, ", \"scenario\": ");
    o2o_json_str(f, in->scenario);
    fprintf(f, ", \"variant\": ");
    o2o_json_str(f, in->variant);
    fprintf(f, ", \"return\": {\"min\": ");
    o2o_json_num(f, st.return_min);
    fprintf(f, ", \"mean\": ");
    o2o_json_num(f, st.return_mean);
    fprintf(f, ", \"max\": ");
    o2o_json_num(f, st.return_max);
    fprintf(f, ", \"std\": ");
    o2o_json_num(f, st.return_std);
    fprintf(f, "}, \"episode_length_mean\": ");
    o2o_json_num(f, st.length_mean);
    fprintf(f, ", \"normalized_score\": {\"min\": ");
    o2o_json_num(f, 100 * st.normalized_min);
    fprintf(f, ", \"mean\": ");
    o2o_json_num(f, 100 * st.normalized_mean);
    fprintf(f, ", \"max\": ");
    o2o_json_num(f, 100 * st.normalized_max);
    fprintf(f, "}, \"reward\": {\"min\": ");
    o2o_json_num(f, st.reward_min);
    fprintf(f, ", \"mean\": ");
    o2o_json_num(f, st.reward_mean);
    fprintf(f, ", \"max\": ");
    o2o_json_num(f, st.reward_max);
    fprintf(f, "}, ");
    json_columns(f, "obs", st.obs_min, st.obs_max, st.obs_mean, st.obs_std, od);
    fprintf(f, ", ");
    json_columns(f, "act", st.act_min, st.act_max, st.act_mean, st.act_std, ad);
    fprintf(f, ", \"keys\": {");
    for (int i = 0; i < in->num_keys; i++) {
      fprintf(f, "%s", i ? ", " : "");
      o2o_json_str(f, in->keys[i].key);
      fprintf(f, ": {\"dtype\": \"%s\", \"shape\": [", o2o_dtype_name(in->keys[i].dtype));
      for (int k = 0; k < in->keys[i].ndim; k++)
        fprintf(f, k ? ", %lld" : "%lld", (long long)in->keys[i].shape[k]);
      fprintf(f, "]}");
    }
    fprintf(f, "}, \"warnings\": ");
    o2o_json_str(f, in->warnings);
    fprintf(f, "}\n");
  } else {
    printf("file          %s\n", path);
    printf("valid         yes (keys, dtypes, shapes, flags, episode lengths, no NaN/inf)\n");
    printf("rows          %lld stored, %lld transitions%s\n", (long long)in->rows, (long long)n,
           in->has_next_obs ? "" : " (next_observations rebuilt)");
    printf("dims          obs %d (%s), act %d (%s), rewards %s, flags %s/%s\n", od,
           o2o_dtype_name(in->obs_dtype), ad, o2o_dtype_name(in->act_dtype),
           o2o_dtype_name(in->rew_dtype), o2o_dtype_name(in->terminals_dtype),
           in->has_timeouts ? o2o_dtype_name(in->timeouts_dtype) : "inferred");
    if (in->scenario[0] || in->variant[0])
      printf("scenario      %s (%s)\n", in->scenario[0] ? in->scenario : "?",
             in->variant[0] ? in->variant : "?");
    printf("episodes      %lld complete (%lld terminal, %lld timeout), limit %d, longest %lld, "
           "%lld trailing rows\n",
           (long long)in->episodes, (long long)in->terminal_episodes,
           (long long)(in->episodes - in->terminal_episodes), in->episode_limit,
           (long long)in->longest_episode, (long long)in->trailing_rows);
    if (st.episodes)
      printf("return        min %.3f  mean %.3f  max %.3f  (std %.3f, mean length %.1f)\n",
             st.return_min, st.return_mean, st.return_max, st.return_std, st.length_mean);
    else
      printf("return        (no complete episode)\n");
    if (isfinite(st.normalized_mean))
      printf("d4rl score    min %.1f  mean %.1f  max %.1f  (task %s, x100)\n",
             100 * st.normalized_min, 100 * st.normalized_mean, 100 * st.normalized_max, t);
    else
      printf("d4rl score    n/a (task '%s' has no D4RL reference returns)\n", t[0] ? t : "?");
    printf("reward        min %.4f  mean %.4f  max %.4f\n", st.reward_min, st.reward_mean,
           st.reward_max);
    printf("%-6s %4s %12s %12s %12s %12s\n", "", "dim", "min", "max", "mean", "std");
    for (int j = 0; j < od; j++)
      printf("%-6s %4d %12.5g %12.5g %12.5g %12.5g\n", "obs", j, st.obs_min[j], st.obs_max[j],
             st.obs_mean[j], st.obs_std[j]);
    for (int j = 0; j < ad; j++)
      printf("%-6s %4d %12.5g %12.5g %12.5g %12.5g\n", "act", j, st.act_min[j], st.act_max[j],
             st.act_mean[j], st.act_std[j]);
    if (keys)
      for (int i = 0; i < in->num_keys; i++) {
        char shape[128];
        shape_str(&in->keys[i], shape, sizeof(shape));
        printf("key           %-40s %-8s %s\n", in->keys[i].key, o2o_dtype_name(in->keys[i].dtype),
               shape);
      }
    if (in->warnings[0]) printf("warnings      %s\n", in->warnings);
  }
  o2o_dataset_stats_free(&st);
  o2o_dataset_close(ds);
  return 0;
}

static int import_minari_main(int argc, char **argv) {
  const char *src = NULL, *out = NULL;
  o2o_dataset_write_opts wo = {.gzip_level = 1};
  o2o_flags *f = o2o_flags_create("o2o dataset import-minari");
  o2o_flags_positionals(f, 0, 1, "SRC");
  o2o_flags_str(f, "out", &out, "FILE", "D4RL-layout file to write");
  o2o_flags_int(f, "gzip", &wo.gzip_level, 0, 9, "L", "compression level");
  o2o_flags_std(f, usage, NULL);
  int prc = o2o_flags_parse(f, argc, argv);
  src = prc ? NULL : o2o_flags_pos(f, 0);
  o2o_flags_destroy(f);
  if (prc) return prc < 0 ? 2 : 0;
  if (!src || !out) {
    fprintf(stderr, "usage: o2o dataset import-minari SRC --out FILE [--gzip L]\n");
    return 2;
  }
  char err[O2O_DATASET_ERRLEN];
  if (o2o_dataset_import_minari(src, out, &wo, err, sizeof(err))) {
    fprintf(stderr, "o2o dataset import-minari: %s\n", err);
    return 1;
  }
  fprintf(stderr, "wrote %s (check it with: o2o dataset info %s)\n", out, out);
  return 0;
}

/* Named datasets generated on first use into datasets/cache/ (git-ignored), each by one
 * fixed `o2o collect` command, so they are the same bytes on every machine that has the
 * same simulator build. */
typedef struct cached_recipe {
  const char *name, *args;
} cached_recipe;

static const cached_recipe cached[] = {
    {"pendulum-random-100k", "--scenario pendulum --recipe random --steps 100000"},
    {"pendulum-medium-100k", "--scenario pendulum --recipe medium --steps 100000 --policy "
                             "@/policies/pendulum-medium.safetensors"},
    {"pendulum-expert-100k", "--scenario pendulum --recipe expert --steps 100000 --policy "
                             "@/policies/pendulum-expert.safetensors"},
    {"pendulum-medium-expert-200k",
     "--scenario pendulum --recipe medium-expert --steps 200000 --policy "
     "@/policies/pendulum-medium.safetensors,@/policies/pendulum-expert.safetensors"},
    /* o2o's halfcheetah-medium (D4RL's recipe: a SAC policy stopped at about a third of the
     * expert score, sampled; datasets/README.md has its figures). 200k rows, not D4RL's 1M. */
    {"halfcheetah-medium", "--scenario halfcheetah --recipe medium --steps 200000 --policy "
                           "@/policies/halfcheetah-medium.safetensors"},
    /* o2o's hopper-medium: the same recipe with a SAC hopper policy at 114k env steps
     * (deterministic eval 1388, D4RL 43.3; the sampled data scores 40.2). */
    {"hopper-medium", "--scenario hopper --recipe medium --steps 200000 --policy "
                      "@/policies/hopper-medium.safetensors"},
    {"pendulum-sim-random-100k",
     "--scenario pendulum --variant sim --recipe random --steps 100000"},
};
static const int num_cached = (int)(sizeof(cached) / sizeof(cached[0]));

static int make_main(int argc, char **argv) {
  int list = 0, help = 0, force = 0;
  o2o_flags *f = o2o_flags_create("o2o dataset make");
  o2o_flags_positionals(f, 0, 1, "NAME");
  o2o_flags_bool(f, "list", &list, "list the named datasets");
  o2o_flags_bool(f, "force", &force, "generate again even when cached");
  o2o_flags_bool(f, "help", &help, "this text");
  int bad = o2o_flags_parse(f, argc, argv);
  const char *name = bad ? NULL : o2o_flags_pos(f, 0);
  o2o_flags_destroy(f);
  if (bad) return 2;
  if (list || help || !name) {
    printf("usage: o2o dataset make NAME [--force]\n"
           "  generates a named dataset into %s/cache/ unless it is already there\n"
           "  (each is one fixed `o2o collect` command, seed 0, 2 procs x 4 envs):\n",
           O2O_DATASET_DIR);
    for (int i = 0; i < num_cached; i++)
      printf("  %-28s %s\n", cached[i].name, cached[i].args);
    return list || help ? 0 : 2;
  }
  const cached_recipe *r = NULL;
  const char *names[sizeof cached / sizeof cached[0]];
  for (int i = 0; i < num_cached; i++) {
    names[i] = cached[i].name;
    if (!strcmp(name, cached[i].name)) r = &cached[i];
  }
  if (!r) {
    const char *near = o2o_flags_suggest(name, names, num_cached);
    fprintf(stderr, "o2o dataset make: unknown dataset '%s'%s%s%s (o2o dataset make --list)\n",
            name, near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
    return 2;
  }
  char out[1100], dir[1024];
  snprintf(dir, sizeof(dir), "%s/cache", O2O_DATASET_DIR);
  snprintf(out, sizeof(out), "%s/%s.hdf5", dir, r->name);
  FILE *fp = fopen(out, "rb");
  if (fp && !force) {
    fclose(fp);
    printf("%s\n", out);
    return 0;
  }
  if (fp) fclose(fp);
  mkdir(dir, 0755);
  /* Expand '@' to the datasets/ folder and split the fixed argument string. */
  char args[2048], expanded[4096];
  snprintf(args, sizeof(args), "%s --seed 0 --procs 2 --envs 4 --out %s%s", r->args, out,
           force ? " --overwrite" : "");
  size_t k = 0;
  for (const char *s = args; *s && k + 1 < sizeof(expanded); s++) {
    if (*s == '@')
      k += (size_t)snprintf(expanded + k, sizeof(expanded) - k, "%s", O2O_DATASET_DIR);
    else
      expanded[k++] = *s;
  }
  expanded[k < sizeof(expanded) ? k : sizeof(expanded) - 1] = 0;
  char *cargv[64];
  int cargc = 0;
  cargv[cargc++] = "collect";
  for (char *save = NULL, *tok = strtok_r(expanded, " ", &save); tok && cargc < 63;
       tok = strtok_r(NULL, " ", &save))
    cargv[cargc++] = tok;
  cargv[cargc] = NULL;
  fprintf(stderr, "o2o dataset make: o2o collect %s\n", args);
  int rc = o2o_cmd_collect(cargc, cargv);
  if (rc == 0) printf("%s\n", out);
  return rc;
}

int o2o_cmd_dataset(int argc, char **argv) {
  static const char *const subs[] = {"info", "make", "import-minari"};
  if (argc >= 2 && !strcmp(argv[1], "make")) return make_main(argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "info")) return info_main(argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "import-minari")) return import_minari_main(argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "--version")) {
    printf("o2o %s\n", O2O_VERSION);
    return 0;
  }
  int help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
  if (argc >= 2 && !help) {
    const char *near = o2o_flags_suggest(argv[1], subs, 3);
    fprintf(stderr, "o2o dataset: unknown subcommand '%s'%s%s%s\n\n", argv[1],
            near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
  }
  usage(help ? stdout : stderr);
  return help ? 0 : 2;
}
