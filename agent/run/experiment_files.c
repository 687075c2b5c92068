/* experiment_files.c: the resolved experiment as text, comparing two, finding an experiment
 * file by name (experiment.h). */
#include "run/experiment.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "learn/learner.h"
#include "o2o_agent.h"
#include "o2o_flags.h"
#include "o2o_version.h"

/* ---- writing ---- */
/* shortest text that parses back to v (as a float when is_float: the config members are) */
static void fmt_num(char *buf, size_t cap, double v, int is_float) {
  for (int p = 6; p <= 17; p++) {
    snprintf(buf, cap, "%.*g", p, v);
    double b = strtod(buf, NULL);
    if (is_float ? (float)b == (float)v : b == v) return;
  }
}

static void write_fields(FILE *f, const o2o_learner_algo *a, const void *cfg) {
  for (int i = 0; i < a->num_fields; i++) {
    char b[40];
    fmt_num(b, sizeof b, o2o_learner_field_get(&a->fields[i], cfg),
            a->fields[i].type == O2O_FIELD_FLOAT);
    fprintf(f, "%s = %s\n", a->fields[i].name, b);
  }
}

int o2o_experiment_write(FILE *f, const o2o_experiment *x) {
  fprintf(f, "; resolved experiment (o2o %s): every key, defaults filled in\n[experiment]\n",
          O2O_VERSION);
  fprintf(f, "name = %s\ndescription = %s\nscenario = %s\ndataset = %s\nmethods = ", x->name,
          x->description, x->scenario, x->dataset);
  for (int m = 0, k = 0; m < O2O_NUM_METHODS; m++)
    if (x->methods & (1u << m)) fprintf(f, "%s%s", k++ ? ", " : "", o2o_method_name(m));
  fprintf(f, "\nseeds = ");
  for (int i = 0; i < x->num_seeds;) { /* runs of consecutive seeds as a-b */
    int j = i;
    while (j + 1 < x->num_seeds && x->seeds[j + 1] == x->seeds[j] + 1)
      j++;
    unsigned long long a = x->seeds[i], z = x->seeds[j];
    if (j > i || x->num_seeds == 1) /* a-a: a lone number would be a count */
      fprintf(f, "%s%llu-%llu", i ? "," : "", a, z);
    else
      fprintf(f, "%s%llu", i ? "," : "", a);
    i = j + 1;
  }
  fprintf(f, "\neval_every = %lld\neval_episodes = %d\neval_seed = %llu\n",
          (long long)x->eval_every, x->eval_episodes, (unsigned long long)x->eval_seed);
  char rs[40];
  if (x->reward_scale < 0)
    snprintf(rs, sizeof rs, "auto");
  else
    fmt_num(rs, sizeof rs, x->reward_scale, 0);
  fprintf(f,
          "\n[offline]\nalgo = %s\nsteps = %lld\ncheckpoint_every = %lld\nreward_scale = %s\n"
          "normalize_obs = %d\n",
          x->offline_algo, (long long)x->offline_steps, (long long)x->offline_checkpoint_every, rs,
          x->normalize_obs);
  write_fields(f, o2o_learner_find(x->offline_algo), x->offline_cfg);
  fprintf(f, "\n[warmstart]\nsteps = %lld\ncritic_updates = %lld\n", (long long)x->warmup_steps,
          (long long)x->critic_updates);
  fprintf(f, "\n[online]\nsteps = %lld\ncheckpoint_every = %lld\n", (long long)x->online_steps,
          (long long)x->online_checkpoint_every);
  fprintf(f, "\n[sac]\n");
  write_fields(f, o2o_learner_find("sac"), x->sac_cfg);
  fprintf(f, "\n[wsrl]\n");
  write_fields(f, o2o_learner_find("sac"), x->wsrl_cfg);
  fprintf(f, "\n[h2o]\n");
  write_fields(f, o2o_learner_find("h2o"), x->h2o_cfg);
  return ferror(f) ? -1 : 0;
}

char *o2o_experiment_text(const o2o_experiment *x) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  int rc = o2o_experiment_write(f, x);
  fclose(f);
  if (rc) {
    free(buf);
    return NULL;
  }
  return buf;
}

/* Next "key = value" line of a resolved text: section in sec, the line in out; 0 at the end. */
static int next_kv(const char **p, char *sec, size_t scap, char *out, size_t cap) {
  while (**p) {
    const char *nl = strchr(*p, '\n');
    size_t n = nl ? (size_t)(nl - *p) : strlen(*p);
    char line[1200];
    snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), *p);
    *p += n + (nl ? 1 : 0);
    if (line[0] == '[') {
      snprintf(sec, scap, "%.*s", (int)strcspn(line + 1, "]"), line + 1);
      continue;
    }
    if (!line[0] || line[0] == ';') continue;
    if (!strncmp(line, "methods =", 9) || !strncmp(line, "seeds =", 7) ||
        !strncmp(line, "description =", 13))
      continue;
    snprintf(out, cap, "%s", line);
    return 1;
  }
  return 0;
}

int o2o_experiment_diff(const char *a, const char *b, char *what, size_t cap) {
  char sa[64] = "", sb[64] = "", la[1200], lb[1200];
  for (;;) {
    int ha = next_kv(&a, sa, sizeof sa, la, sizeof la);
    int hb = next_kv(&b, sb, sizeof sb, lb, sizeof lb);
    if (!ha && !hb) return 0;
    if (ha && hb && !strcmp(sa, sb) && !strcmp(la, lb)) continue;
    const char *l = ha ? la : lb;
    snprintf(what, cap, "[%s] %.*s: '%s' vs '%s'", ha ? sa : sb, (int)strcspn(l, " ="), l,
             ha ? la + strcspn(la, "=") + (la[strcspn(la, "=")] ? 2 : 0) : "(missing)",
             hb ? lb + strcspn(lb, "=") + (lb[strcspn(lb, "=")] ? 2 : 0) : "(missing)");
    return 1;
  }
}

/* ---- lookup ---- */
static int list_dir(const char *dir, char *names, size_t cap, size_t *len, const char **v, int *nv,
                    char *store, size_t scap, size_t *slen) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  for (struct dirent *de; (de = readdir(d));) {
    size_t l = strlen(de->d_name);
    if (l < 5 || strcmp(de->d_name + l - 4, ".ini")) continue;
    *len += (size_t)snprintf(names + *len, *len < cap ? cap - *len : 0, "%s%.*s", *len ? ", " : "",
                             (int)(l - 4), de->d_name);
    if (*len >= cap) *len = cap - 1;
    if (*nv < 64 && *slen + l < scap) {
      snprintf(store + *slen, scap - *slen, "%.*s", (int)(l - 4), de->d_name);
      v[(*nv)++] = store + *slen;
      *slen += l - 3;
    }
  }
  closedir(d);
  return 1;
}

int o2o_experiment_find(const char *name, char *path, size_t cap, char *err, size_t errlen) {
  if (strchr(name, '/') || strstr(name, ".ini")) {
    if (strlen(name) >= cap || access(name, R_OK)) {
      o2o_agent_errf(err, errlen, "%s: experiment file not found or unreadable: %s", name,
                     strlen(name) >= cap ? "path too long" : strerror(errno));
      return -1;
    }
    snprintf(path, cap, "%s", name);
    return 0;
  }
  char dirs[4096] = "";
  const char *env = getenv("O2O_SCENARIO_PATH");
  if (env && *env) snprintf(dirs, sizeof dirs, "%s:", env);
  size_t dl = strlen(dirs);
  snprintf(dirs + dl, sizeof dirs - dl, "%s", O2O_SCENARIO_DIR);
  char names[1024] = "", store[4096], searched[4096] = "";
  const char *v[64];
  size_t len = 0, slen = 0, sl = 0;
  int nv = 0;
  char *save = NULL;
  for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    int n = snprintf(path, cap, "%s/experiments/%s.ini", d, name);
    if (n > 0 && (size_t)n < cap && access(path, R_OK) == 0) return 0;
    char sub[1100];
    snprintf(sub, sizeof sub, "%s/experiments", d);
    sl += (size_t)snprintf(searched + sl, sl < sizeof searched ? sizeof searched - sl : 0, "%s%s",
                           sl ? ", " : "", sub);
    if (sl >= sizeof searched) sl = sizeof searched - 1;
    list_dir(sub, names, sizeof names, &len, v, &nv, store, sizeof store, &slen);
  }
  const char *near = o2o_flags_suggest(name, v, nv);
  o2o_agent_errf(err, errlen, "unknown experiment '%s'%s%s%s; experiments in %s: %s", name,
                 near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "", searched,
                 names[0] ? names : "(none)");
  return -1;
}
