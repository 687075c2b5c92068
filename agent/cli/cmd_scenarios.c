/* cmd_scenarios.c: `o2o scenarios [NAME] [--json]`: every scenario the simulator can load by
 * name (the .ini files of $O2O_SCENARIO_PATH's folders, then of the build's scenarios/
 * folder; the first of a name wins, as in o2o-sim's lookup) with its task, description and
 * the keys its [real] and [sim] sections set (the sim variant's keys are its gap). */
#include <dirent.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/o2o_commands.h"
#include "io/json_out.h"
#include "o2o_flags.h"
#include "o2o_version.h"

#define MAX_SCENARIOS 512
#define MAX_KEYS 32

typedef struct {
  char key[64], value[128];
} kv;

typedef struct {
  char name[128], path[1024], task[64], description[512];
  kv real[MAX_KEYS], sim[MAX_KEYS];
  int nreal, nsim;
  int bad; /* the file does not parse: listed with its line */
} scenario_info;

static int on_key(void *user, const char *section, const char *name, const char *value) {
  scenario_info *s = user;
  if (!strcmp(section, "scenario")) {
    if (!strcmp(name, "task")) snprintf(s->task, sizeof s->task, "%s", value);
    if (!strcmp(name, "description")) snprintf(s->description, sizeof s->description, "%s", value);
  } else if (!strcmp(section, "real") || !strcmp(section, "sim")) {
    int real = !strcmp(section, "real");
    kv *k = real ? s->real : s->sim;
    int *n = real ? &s->nreal : &s->nsim;
    if (*n < MAX_KEYS) {
      snprintf(k[*n].key, sizeof k[*n].key, "%s", name);
      snprintf(k[*n].value, sizeof k[*n].value, "%s", value);
      (*n)++;
    }
  }
  return 1;
}

static int by_name(const void *a, const void *b) {
  return strcmp(((const scenario_info *)a)->name, ((const scenario_info *)b)->name);
}

/* Add the scenarios of one folder (names already listed are kept: the first folder wins). */
static void scan_dir(const char *dir, scenario_info *list, int *n) {
  DIR *d = opendir(dir);
  if (!d) return;
  for (struct dirent *e; (e = readdir(d)) && *n < MAX_SCENARIOS;) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".ini") || len - 4 >= sizeof list->name) continue;
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)(len - 4), e->d_name);
    int seen = 0;
    for (int i = 0; i < *n; i++)
      seen |= !strcmp(list[i].name, name);
    if (seen) continue;
    scenario_info *s = &list[*n];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->path, sizeof s->path, "%s/%s", dir, e->d_name);
    s->bad = ini_parse(s->path, on_key, s);
    (*n)++;
  }
  closedir(d);
}

static void json_keys(const kv *k, int n) {
  printf("{");
  for (int i = 0; i < n; i++) {
    printf(i ? ", " : "");
    o2o_json_str(stdout, k[i].key);
    printf(": ");
    char *end;
    double v = strtod(k[i].value, &end);
    if (end != k[i].value && !*end)
      o2o_json_num(stdout, v);
    else
      o2o_json_str(stdout, k[i].value);
  }
  printf("}");
}

static void text_keys(const kv *k, int n) {
  if (!n) printf("nominal");
  for (int i = 0; i < n; i++)
    printf("%s%s=%s", i ? " " : "", k[i].key, k[i].value);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: o2o scenarios [NAME] [--json]\n"
          "  Lists every scenario o2o-sim loads by name ($O2O_SCENARIO_PATH's folders, then\n"
          "  %s): name, task, description and what its [real] and [sim]\n"
          "  sections change (the sim variant's keys are the gap the agent trains across).\n"
          "  NAME          show that scenario only\n"
          "  --json        a JSON array on stdout\n"
          "exit code: 0 ok, 2 usage error (an unknown NAME)\n",
          O2O_SCENARIO_DIR);
}

int o2o_cmd_scenarios(int argc, char **argv) {
  int json = 0;
  o2o_flags *f = o2o_flags_create("o2o scenarios");
  o2o_flags_positionals(f, 0, 1, "NAME");
  o2o_flags_bool(f, "json", &json, "a JSON array on stdout");
  o2o_flags_std(f, usage, "o2o " O2O_VERSION);
  int prc = o2o_flags_parse(f, argc, argv);
  const char *only = prc ? NULL : o2o_flags_pos(f, 0);
  o2o_flags_destroy(f);
  if (prc) return prc < 0 ? 2 : 0;
  scenario_info *list = calloc(MAX_SCENARIOS, sizeof *list);
  if (!list) {
    fprintf(stderr, "o2o scenarios: out of memory\n");
    return 1;
  }
  int n = 0;
  const char *env = getenv("O2O_SCENARIO_PATH");
  if (env && *env) {
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s", env);
    char *save = NULL;
    for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save))
      scan_dir(dir, list, &n);
  }
  scan_dir(O2O_SCENARIO_DIR, list, &n);
  qsort(list, (size_t)n, sizeof *list, by_name);
  int rc = 0, first = -1;
  if (only) {
    const char *names[MAX_SCENARIOS];
    for (int i = 0; i < n; i++) {
      names[i] = list[i].name;
      if (!strcmp(list[i].name, only)) first = i;
    }
    if (first < 0) {
      const char *near = o2o_flags_suggest(only, names, n);
      fprintf(stderr, "o2o scenarios: unknown scenario '%s'%s%s%s (o2o scenarios lists them)\n",
              only, near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
      free(list);
      return 2;
    }
  }
  if (json) printf("[");
  for (int i = 0, k = 0; i < n; i++) {
    const scenario_info *s = &list[i];
    if (first >= 0 && i != first) continue;
    if (json) {
      printf("%s{\"name\": ", k++ ? ",\n " : "");
      o2o_json_str(stdout, s->name);
      printf(", \"path\": ");
      o2o_json_str(stdout, s->path);
      printf(", \"task\": ");
      o2o_json_str(stdout, s->task);
      printf(", \"description\": ");
      o2o_json_str(stdout, s->description);
      printf(", \"real\": ");
      json_keys(s->real, s->nreal);
      printf(", \"sim\": ");
      json_keys(s->sim, s->nsim);
      if (s->bad) printf(", \"parse_error_line\": %d", s->bad);
      printf("}");
    } else {
      printf("%-22s %-12s %s\n", s->name, s->task[0] ? s->task : "?", s->description);
      printf("%-22s %-12s real: ", "", "");
      text_keys(s->real, s->nreal);
      printf("; sim: ");
      text_keys(s->sim, s->nsim);
      printf("\n");
      if (s->bad) printf("%-22s %-12s (%s:%d does not parse)\n", "", "", s->path, s->bad);
    }
  }
  if (json) printf("]\n");
  free(list);
  return rc;
}
