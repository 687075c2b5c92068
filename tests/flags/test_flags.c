/* test_flags.c: the shared command-line parser: both value forms, unique prefixes, the exact
 * name winning over a longer one, ambiguous prefixes, did-you-mean, ranges, choices, bool
 * flags refusing a value, positionals, -h, --, peek, and the suggestion helper. Errors are
 * read back from stderr (redirected to a temporary file). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "o2o_flags.h"

typedef struct {
  const char *scenario, *variant;
  int64_t steps;
  int envs, json, help;
  uint64_t seed;
  double ret;
  int fn_calls;
  const char *fn_value;
} opts;

static int fn_flag(const o2o_flag *fl, const char *v, char *err, size_t errlen) {
  opts *o = fl->dest;
  if (!strcmp(v, "bad")) {
    snprintf(err, errlen, "--%s: 'bad' refused by the handler", fl->name);
    return -1;
  }
  o->fn_calls++;
  o->fn_value = v;
  return 0;
}

static o2o_flags *table(opts *o) {
  memset(o, 0, sizeof *o);
  o->variant = "real";
  o2o_flags *f = o2o_flags_create("o2o test");
  cr_assert_not_null(f);
  o2o_flags_str(f, "scenario", &o->scenario, "S", "scenario");
  o2o_flags_str(f, "variant", &o->variant, "V", "variant")->choices = "real|sim";
  o2o_flags_i64(f, "steps", &o->steps, 1, INT64_MAX, "N", "steps");
  o2o_flags_int(f, "envs", &o->envs, 1, 4096, "N", "envs");
  o2o_flags_u64(f, "seed", &o->seed, 0, INT64_MAX, "N", "seed");
  o2o_flags_num(f, "stop-at-return", &o->ret, -1e9, 1e9, "R", "stop");
  o2o_flags_i64(f, "eval-every", NULL, 0, 100, "N", "x");
  o2o_flags_i64(f, "eval-episodes", NULL, 0, 100, "N", "x");
  o2o_flags_bool(f, "json", &o->json, "json");
  o2o_flags_bool(f, "help", &o->help, "help");
  o2o_flags_fn(f, "hidden", fn_flag, o, NULL, "N", "learner field");
  o2o_flags_fn(f, "hidden-layers", fn_flag, o, NULL, "N", "learner field");
  return f;
}

static char errbuf[8192];
/* Parse the space-separated args with stderr captured into errbuf; returns parse's result. */
static int parse(o2o_flags *f, const char *args) {
  char buf[1024], *argv[64];
  int argc = 0;
  snprintf(buf, sizeof buf, "%s", args);
  argv[argc++] = "cmd";
  for (char *t = strtok(buf, " "); t && argc < 63; t = strtok(NULL, " "))
    argv[argc++] = t;
  argv[argc] = NULL;
  fflush(stderr);
  FILE *tmp = tmpfile();
  cr_assert_not_null(tmp);
  int saved = dup(2);
  dup2(fileno(tmp), 2);
  static char keep[1024]; /* argv values must outlive the call: keep the tokens */
  memcpy(keep, buf, sizeof buf);
  for (int i = 1; i < argc; i++)
    argv[i] = keep + (argv[i] - buf);
  int rc = o2o_flags_parse(f, argc, argv);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  rewind(tmp);
  size_t n = fread(errbuf, 1, sizeof errbuf - 1, tmp);
  errbuf[n] = 0;
  fclose(tmp);
  return rc;
}

Test(flags, both_value_forms_and_types) {
  opts o;
  o2o_flags *f = table(&o);
  cr_assert_eq(parse(f, "--scenario hopper --steps=500 --envs 4 --seed=7 --stop-at-return -150.5 "
                        "--variant=sim --json"),
               0, "%s", errbuf);
  cr_assert_str_eq(o.scenario, "hopper");
  cr_assert_str_eq(o.variant, "sim");
  cr_assert_eq(o.steps, 500);
  cr_assert_eq(o.envs, 4);
  cr_assert_eq(o.seed, 7);
  cr_assert_float_eq(o.ret, -150.5, 1e-12, "a value may start with '-'");
  cr_assert_eq(o.json, 1);
  cr_assert_eq(o2o_flags_given(f, "steps"), 1);
  cr_assert_eq(o2o_flags_given(f, "envs"), 1);
  cr_assert_eq(o2o_flags_given(f, "help"), 0);
  cr_assert_str_eq(o2o_flags_get(f, "steps")->value, "500");
  o2o_flags_destroy(f);
}

Test(flags, unique_prefix_accepted_exact_name_wins) {
  opts o;
  o2o_flags *f = table(&o);
  cr_assert_eq(parse(f, "--scen pendulum --ste 9 --eval-ep 3 --js"), 0, "%s", errbuf);
  cr_assert_str_eq(o.scenario, "pendulum");
  cr_assert_eq(o.steps, 9);
  cr_assert_eq(o2o_flags_given(f, "eval-episodes"), 1);
  cr_assert_eq(o.json, 1);
  /* --hidden is also a prefix of --hidden-layers: the exact name wins */
  cr_assert_eq(parse(f, "--hidden 64"), 0, "%s", errbuf);
  cr_assert_eq(o2o_flags_given(f, "hidden"), 1);
  cr_assert_eq(o2o_flags_given(f, "hidden-layers"), 0);
  cr_assert_eq(parse(f, "--hidden-l=2"), 0, "%s", errbuf);
  cr_assert_eq(o2o_flags_given(f, "hidden-layers"), 1);
  cr_assert_str_eq(o.fn_value, "2");
  o2o_flags_destroy(f);
}

Test(flags, ambiguous_prefix_lists_the_candidates) {
  opts o;
  o2o_flags *f = table(&o);
  cr_assert_eq(parse(f, "--eval 3"), -1);
  cr_assert(
      strstr(errbuf, "o2o test: option '--eval' is ambiguous (--eval-every, --eval-episodes)"),
      "%s", errbuf);
  cr_assert_eq(parse(f, "--s 3"), -1); /* scenario, steps, seed, stop-at-return */
  cr_assert(strstr(errbuf, "ambiguous") && strstr(errbuf, "--seed"), "%s", errbuf);
  o2o_flags_destroy(f);
}

Test(flags, unknown_flag_did_you_mean) {
  opts o;
  o2o_flags *f = table(&o);
  cr_assert_eq(parse(f, "--stpes 5"), -1);
  cr_assert(strstr(errbuf, "unknown option '--stpes' (did you mean --steps?)"), "%s", errbuf);
  cr_assert_eq(parse(f, "--senario=x"), -1);
  cr_assert(strstr(errbuf, "unknown option '--senario=x' (did you mean --scenario?)"), "%s",
            errbuf);
  cr_assert_eq(parse(f, "--bogus 1"), -1);
  cr_assert(strstr(errbuf, "unknown option '--bogus' (see --help)"), "nothing close: %s", errbuf);
  cr_assert_eq(parse(f, "-x"), -1);
  cr_assert(strstr(errbuf, "unknown option '-x'"), "%s", errbuf);
  o2o_flags_destroy(f);
}

Test(flags, value_errors_name_the_flag) {
  opts o;
  o2o_flags *f = table(&o);
  cr_assert_eq(parse(f, "--steps 5k"), -1);
  cr_assert(strstr(errbuf, "o2o test: --steps expects an integer >= 1, got '5k'"), "%s", errbuf);
  cr_assert_eq(parse(f, "--envs 4294967297"), -1);
  cr_assert(strstr(errbuf, "--envs expects an integer in [1, 4096], got '4294967297'"), "%s",
            errbuf);
  cr_assert_eq(parse(f, "--stop-at-return nan"), -1);
  cr_assert(strstr(errbuf, "--stop-at-return expects a number"), "%s", errbuf);
  cr_assert_eq(parse(f, "--seed -1"), -1);
  cr_assert(strstr(errbuf, "--seed expects an integer >= 0"), "%s", errbuf);
  cr_assert_eq(parse(f, "--variant fake"), -1);
  cr_assert(strstr(errbuf, "--variant must be real or sim, got 'fake'"), "%s", errbuf);
  cr_assert_eq(parse(f, "--json=1"), -1);
  cr_assert(strstr(errbuf, "--json takes no value"), "%s", errbuf);
  cr_assert_eq(parse(f, "--steps"), -1);
  cr_assert(strstr(errbuf, "--steps needs a value"), "%s", errbuf);
  cr_assert_eq(parse(f, "--hidden bad"), -1);
  cr_assert(strstr(errbuf, "o2o test: --hidden: 'bad' refused by the handler"), "%s", errbuf);
  o2o_flags_destroy(f);
}

Test(flags, positionals_help_and_double_dash) {
  opts o;
  o2o_flags *f = table(&o);
  cr_assert_eq(parse(f, "data.hdf5"), -1);
  cr_assert(strstr(errbuf, "unexpected argument 'data.hdf5'"), "%s", errbuf);
  o2o_flags_positionals(f, 1, 1, "DATASET");
  cr_assert_eq(parse(f, "--json"), -1);
  cr_assert(strstr(errbuf, "DATASET is needed"), "%s", errbuf);
  cr_assert_eq(parse(f, "data.hdf5 --json"), 0, "%s", errbuf);
  cr_assert_eq(o2o_flags_npos(f), 1);
  cr_assert_str_eq(o2o_flags_pos(f, 0), "data.hdf5");
  cr_assert_eq(parse(f, "-- --json"), 0, "%s", errbuf);
  cr_assert_str_eq(o2o_flags_pos(f, 0), "--json", "after --, a positional");
  cr_assert_eq(parse(f, "a b"), -1);
  cr_assert(strstr(errbuf, "unexpected argument 'b'"), "%s", errbuf);
  cr_assert_eq(parse(f, "x -h"), 0, "%s", errbuf);
  cr_assert_eq(o.help, 1, "-h is --help");
  o2o_flags_destroy(f);
}

Test(flags, peek_reads_one_flag_without_applying) {
  opts o;
  o2o_flags *f = table(&o);
  char *argv[] = {"cmd", "--expectile", "0.9", "--scen", "hopper", "--steps=x", NULL};
  cr_assert_str_eq(o2o_flags_peek(f, 6, argv, "scenario"), "hopper");
  cr_assert_null(o2o_flags_peek(f, 6, argv, "seed"));
  cr_assert_null(o.scenario, "peek applies nothing");
  o2o_flags_destroy(f);
}

Test(flags, suggest_and_distance) {
  cr_assert_eq(o2o_flags_edit_distance("kitten", "sitting"), 3);
  cr_assert_eq(o2o_flags_edit_distance("", "abc"), 3);
  cr_assert_eq(o2o_flags_edit_distance("same", "same"), 0);
  const char *cmds[] = {"train-online", "train-offline", "eval", "collect", "scenarios"};
  cr_assert_str_eq(o2o_flags_suggest("trian-online", cmds, 5), "train-online");
  cr_assert_str_eq(o2o_flags_suggest("evl", cmds, 5), "eval");
  cr_assert_str_eq(o2o_flags_suggest("scenario", cmds, 5), "scenarios");
  cr_assert_null(o2o_flags_suggest("zzzzzz", cmds, 5));
  /* a typo of a prefix: "trian" is far from both whole names, near both their starts */
  cr_assert_str_eq(o2o_flags_suggest("trian", cmds, 5), "train-online");
  const char *near[5];
  cr_assert_eq(o2o_flags_suggest_all("trian", cmds, 5, near, 5), 2);
  cr_assert_str_eq(near[0], "train-online");
  cr_assert_str_eq(near[1], "train-offline");
  cr_assert_eq(o2o_flags_suggest_all("trian-online", cmds, 5, near, 5), 1);
  cr_assert_str_eq(o2o_flags_suggest("scen", cmds, 5), "scenarios");
  cr_assert_null(o2o_flags_suggest("xyz", cmds, 5));
  const char *scen[] = {"pendulum", "pendulum-gear", "hopper", "hopper-gravity"};
  cr_assert_str_eq(o2o_flags_suggest("pendulm", scen, 4), "pendulum");
  cr_assert_str_eq(o2o_flags_suggest("hoper-gravity", scen, 4), "hopper-gravity");
}
