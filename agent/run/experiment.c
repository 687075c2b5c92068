/* experiment.c: see experiment.h.
 *
 * The file is read into a list of (section, key, value, origin) entries first (inih reports
 * only the line of a failing handler call, so the reader counts lines itself), --set entries
 * replace file ones, then the entries are applied by precedence, not by file order:
 * run keys, [online] fields, [sac]/[h2o], then [wsrl] on a copy of the sac config. */
#include "run/experiment.h"

#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "learn/learner.h"
#include "o2o_agent.h"
#include "o2o_flags.h"
#include "o2o_version.h"

static const char *const METHOD_NAMES[O2O_NUM_METHODS] = {"offline", "sac-sim", "naive",
                                                          "wsrl",    "h2o",     "full"};

const char *o2o_method_name(int m) {
  return m >= 0 && m < O2O_NUM_METHODS ? METHOD_NAMES[m] : "?";
}
int o2o_method_find(const char *name) {
  for (int m = 0; m < O2O_NUM_METHODS; m++)
    if (!strcmp(name, METHOD_NAMES[m])) return m;
  return -1;
}
int o2o_method_pretrained(int m) {
  return m == O2O_METHOD_NAIVE || m == O2O_METHOD_WSRL || m == O2O_METHOD_FULL;
}

/* ---- entries ---- */
#define MAX_ENTRIES 512
enum { SEC_EXPERIMENT, SEC_OFFLINE, SEC_WARMSTART, SEC_ONLINE, SEC_SAC, SEC_H2O, SEC_WSRL, N_SEC };
static const char *const SECTIONS[N_SEC] = {"experiment", "offline", "warmstart", "online",
                                            "sac",        "h2o",     "wsrl"};
static const char *const EXP_KEYS[] = {"name",       "description",   "scenario",
                                       "dataset",    "methods",       "seeds",
                                       "eval_every", "eval_episodes", "eval_seed"};
static const char *const OFF_KEYS[] = {"algo", "steps", "checkpoint_every", "reward_scale",
                                       "normalize_obs"};
static const char *const WARM_KEYS[] = {"steps", "critic_updates"};
static const char *const ON_KEYS[] = {"steps", "checkpoint_every"};
#define NKEYS(a) (int)(sizeof a / sizeof a[0])

typedef struct entry {
  int section;
  char key[64];
  char value[512];
  char origin[1100]; /* "FILE:LINE" or "--set TEXT" */
} entry;

typedef struct parse_ctx {
  FILE *fp;
  const char *file;
  int line, at_line_start, failed;
  entry *e;
  int n;
  char *err;
  size_t errlen;
} parse_ctx;

static char *counting_reader(char *str, int num, void *stream) {
  parse_ctx *c = stream;
  char *r = fgets(str, num, c->fp);
  if (!r) return r;
  if (c->at_line_start) c->line++;
  size_t len = strlen(r);
  c->at_line_start = len > 0 && r[len - 1] == '\n';
  if (!c->at_line_start && !feof(c->fp) && !c->failed) {
    c->failed = 1;
    o2o_agent_errf(c->err, c->errlen, "%s:%d: line longer than %d characters", c->file, c->line,
                   num - 2);
  }
  return r;
}

static int section_find(const char *s) {
  for (int i = 0; i < N_SEC; i++)
    if (!strcmp(s, SECTIONS[i])) return i;
  return -1;
}

/* Add or (replace = 1) overwrite an entry; 0 or -1 with err. */
static int add_entry(entry *e, int *n, int sec, const char *key, const char *value,
                     const char *origin, int replace, char *err, size_t errlen) {
  for (int i = 0; i < *n; i++)
    if (e[i].section == sec && !strcmp(e[i].key, key)) {
      if (!replace) {
        o2o_agent_errf(err, errlen, "%s: key '%s': given twice in [%s] (first at %s)", origin, key,
                       SECTIONS[sec], e[i].origin);
        return -1;
      }
      snprintf(e[i].value, sizeof e[i].value, "%s", value);
      snprintf(e[i].origin, sizeof e[i].origin, "%s", origin);
      return 0;
    }
  if (*n == MAX_ENTRIES || strlen(key) >= sizeof e->key || strlen(value) >= sizeof e->value) {
    o2o_agent_errf(err, errlen, "%s: key '%s': %s", origin, key,
                   *n == MAX_ENTRIES ? "too many keys" : "key or value too long");
    return -1;
  }
  e[*n].section = sec;
  snprintf(e[*n].key, sizeof e->key, "%s", key);
  snprintf(e[*n].value, sizeof e->value, "%s", value);
  snprintf(e[*n].origin, sizeof e->origin, "%s", origin);
  (*n)++;
  return 0;
}

static int exp_ini_handler(void *user, const char *section, const char *name, const char *value) {
  parse_ctx *c = user;
  if (c->failed) return 0;
  char origin[1100];
  snprintf(origin, sizeof origin, "%s:%d", c->file, c->line);
  int s = section_find(section);
  if (s < 0) {
    const char *near = o2o_flags_suggest(section, SECTIONS, N_SEC);
    o2o_agent_errf(c->err, c->errlen,
                   "%s: key '%s': unknown section [%s]%s%s%s (sections: experiment, offline, "
                   "warmstart, online, sac, h2o, wsrl)",
                   origin, name, section, near ? " (did you mean [" : "", near ? near : "",
                   near ? "]?)" : "");
    c->failed = 1;
    return 0;
  }
  if (add_entry(c->e, &c->n, s, name, value, origin, 0, c->err, c->errlen)) {
    c->failed = 1;
    return 0;
  }
  return 1;
}

/* ---- values ---- */
static int parse_i64(const entry *e, int64_t lo, int64_t hi, int64_t *out, char *err,
                     size_t errlen) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(e->value, &end, 10);
  if (end == e->value || *end || errno || v < lo || v > hi) {
    o2o_agent_errf(err, errlen, "%s: key '%s': expects an integer in [%lld, %lld], got '%s'",
                   e->origin, e->key, (long long)lo, (long long)hi, e->value);
    return -1;
  }
  *out = v;
  return 0;
}

static int parse_seeds(const entry *e, o2o_experiment *x, char *err, size_t errlen) {
  x->num_seeds = 0;
  const char *p = e->value;
  int list = strchr(p, ',') || strchr(p, '-');
  while (*p) {
    char *end;
    errno = 0;
    long long a = strtoll(p, &end, 10), b;
    if (end == p || a < 0 || errno) goto bad;
    b = a;
    if (*end == '-') {
      p = end + 1;
      b = strtoll(p, &end, 10);
      if (end == p || b < a || errno) goto bad;
    }
    if (!list) a = 1; /* a lone number is a count: 1..N */
    for (long long s = a; s <= b; s++) {
      if (x->num_seeds == O2O_EXP_MAX_SEEDS) {
        o2o_agent_errf(err, errlen, "%s: key 'seeds': more than %d seeds", e->origin,
                       O2O_EXP_MAX_SEEDS);
        return -1;
      }
      for (int k = 0; k < x->num_seeds; k++)
        if (x->seeds[k] == (uint64_t)s) { /* two jobs would share one folder */
          o2o_agent_errf(err, errlen, "%s: key 'seeds': seed %lld is listed twice in '%s'",
                         e->origin, s, e->value);
          return -1;
        }
      x->seeds[x->num_seeds++] = (uint64_t)s;
    }
    p = end;
    while (*p == ' ')
      p++;
    if (*p == ',') p++;
    while (*p == ' ')
      p++;
  }
  if (x->num_seeds > 0) return 0;
bad:
  o2o_agent_errf(err, errlen,
                 "%s: key 'seeds': '%s' is not a count N (seeds 1..N) or a list like 1,2,5 or 1-3",
                 e->origin, e->value);
  return -1;
}

static int parse_methods(const entry *e, unsigned *out, char *err, size_t errlen) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s", e->value);
  unsigned m = 0;
  char *save = NULL;
  for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
    if (!strcmp(t, "all")) {
      m |= (1u << O2O_NUM_METHODS) - 1;
      continue;
    }
    int k = o2o_method_find(t);
    if (k < 0) {
      const char *near = o2o_flags_suggest(t, METHOD_NAMES, O2O_NUM_METHODS);
      o2o_agent_errf(err, errlen,
                     "%s: key '%s': unknown method '%s'%s%s%s (methods: offline, sac-sim, naive, "
                     "wsrl, h2o, full, all)",
                     e->origin, e->key, t, near ? " (did you mean '" : "", near ? near : "",
                     near ? "'?)" : "");
      return -1;
    }
    m |= 1u << k;
  }
  if (!m) {
    o2o_agent_errf(err, errlen, "%s: key '%s': no method named", e->origin, e->key);
    return -1;
  }
  *out = m;
  return 0;
}

static int set_str(const entry *e, char *dst, size_t cap, char *err, size_t errlen) {
  if (strlen(e->value) >= cap) {
    o2o_agent_errf(err, errlen, "%s: key '%s': longer than %zu characters", e->origin, e->key,
                   cap - 1);
    return -1;
  }
  snprintf(dst, cap, "%s", e->value);
  return 0;
}

static int key_in(const char *k, const char *const *keys, int n) {
  for (int i = 0; i < n; i++)
    if (!strcmp(k, keys[i])) return 1;
  return 0;
}

/* "unknown key" with the section's names and the nearest one */
static int unknown_key(const entry *e, const char *const *runk, int nrun,
                       const o2o_learner_algo *a1, const o2o_learner_algo *a2, char *err,
                       size_t errlen) {
  const char *names[256] = {0};
  int n = 0;
  for (int i = 0; i < nrun && n < 256; i++)
    names[n++] = runk[i];
  for (int k = 0; k < 2; k++) {
    const o2o_learner_algo *a = k ? a2 : a1;
    for (int i = 0; a && i < a->num_fields && n < 256; i++)
      names[n++] = a->fields[i].name;
  }
  const char *near = o2o_flags_suggest(e->key, names, n);
  char list[1500] = "";
  size_t len = 0;
  for (int i = 0; i < n && len + 40 < sizeof list; i++)
    len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", names[i]);
  o2o_agent_errf(err, errlen, "%s: key '%s': unknown key in [%s]%s%s%s (known: %s)", e->origin,
                 e->key, SECTIONS[e->section], near ? " (did you mean '" : "", near ? near : "",
                 near ? "'?)" : "", list);
  return -1;
}

static int set_field(const entry *e, const o2o_learner_algo *a, void *cfg, char *err,
                     size_t errlen) {
  const o2o_learner_field *f = o2o_learner_field_find(a, e->key);
  if (!f) return 0;
  char sub[O2O_AGENT_ERRLEN];
  if (o2o_learner_field_parse(f, cfg, e->value, sub, sizeof sub)) {
    o2o_agent_errf(err, errlen, "%s: key '%s': %s", e->origin, e->key, sub);
    return -1;
  }
  return 1;
}

static int check_cfg(const o2o_learner_algo *a, const void *cfg, const char *section, char *err,
                     size_t errlen) {
  char sub[O2O_AGENT_ERRLEN];
  if (a->config_check && a->config_check(cfg, 1, 1, sub, sizeof sub)) {
    o2o_agent_errf(err, errlen, "experiment [%s]: %s", section, sub);
    return -1;
  }
  return 0;
}

static void defaults(o2o_experiment *x, const char *path) {
  memset(x, 0, sizeof *x);
  snprintf(x->path, sizeof x->path, "%s", path);
  const char *base = strrchr(path, '/');
  snprintf(x->name, sizeof x->name, "%s", base ? base + 1 : path);
  char *dot = strstr(x->name, ".ini");
  if (dot) *dot = 0;
  x->methods = (1u << O2O_NUM_METHODS) - 1;
  x->num_seeds = 1;
  x->seeds[0] = 1;
  x->eval_every = 2000;
  x->eval_episodes = 5;
  x->eval_seed = 1000000;
  snprintf(x->offline_algo, sizeof x->offline_algo, "iql");
  x->offline_steps = 5000;
  x->offline_checkpoint_every = 1000;
  x->warmup_steps = 5000;
  x->critic_updates = 5000;
  x->online_steps = 20000;
  x->online_checkpoint_every = 1000;
}

static int apply_run_key(const entry *e, o2o_experiment *x, char *err, size_t errlen) {
  int64_t v;
  const char *k = e->key;
  int rc = 0;
  switch (e->section) {
  case SEC_EXPERIMENT:
    if (!strcmp(k, "name")) {
      rc = set_str(e, x->name, sizeof x->name, err, errlen);
      if (!rc && (!x->name[0] || strchr(x->name, '/') || x->name[0] == '.')) {
        o2o_agent_errf(err, errlen, "%s: key 'name': '%s' is not a folder name", e->origin,
                       e->value);
        rc = -1;
      }
    } else if (!strcmp(k, "description"))
      rc = set_str(e, x->description, sizeof x->description, err, errlen);
    else if (!strcmp(k, "scenario"))
      rc = set_str(e, x->scenario, sizeof x->scenario, err, errlen);
    else if (!strcmp(k, "dataset"))
      rc = set_str(e, x->dataset, sizeof x->dataset, err, errlen);
    else if (!strcmp(k, "methods"))
      rc = parse_methods(e, &x->methods, err, errlen);
    else if (!strcmp(k, "seeds"))
      rc = parse_seeds(e, x, err, errlen);
    else if (!strcmp(k, "eval_every"))
      rc = parse_i64(e, 0, INT64_MAX / 4, &x->eval_every, err, errlen);
    else if (!strcmp(k, "eval_episodes"))
      rc = parse_i64(e, 1, 1000, &v, err, errlen), x->eval_episodes = (int)v;
    else if (!strcmp(k, "eval_seed"))
      rc = parse_i64(e, 0, INT64_MAX, &v, err, errlen), x->eval_seed = (uint64_t)v;
    return rc;
  case SEC_OFFLINE:
    if (!strcmp(k, "algo")) return 0; /* taken first */
    if (!strcmp(k, "steps")) return parse_i64(e, 1, INT64_MAX / 4, &x->offline_steps, err, errlen);
    if (!strcmp(k, "checkpoint_every"))
      return parse_i64(e, 0, INT64_MAX / 4, &x->offline_checkpoint_every, err, errlen);
    if (!strcmp(k, "normalize_obs"))
      return parse_i64(e, 0, 1, &v, err, errlen) ? -1 : (x->normalize_obs = (int)v, 0);
    if (!strcmp(k, "reward_scale")) {
      char *end;
      double d = strtod(e->value, &end);
      if (!strcmp(e->value, "auto"))
        x->reward_scale = -1;
      else if (end == e->value || *end || !isfinite(d) || d < 0) {
        o2o_agent_errf(err, errlen,
                       "%s: key 'reward_scale': '%s' is not auto or a number >= 0 (0 = none)",
                       e->origin, e->value);
        return -1;
      } else
        x->reward_scale = d;
    }
    return 0;
  case SEC_WARMSTART:
    if (!strcmp(k, "critic_updates"))
      return parse_i64(e, 0, 1 << 30, &x->critic_updates, err, errlen);
    return parse_i64(e, 0, INT64_MAX / 4, &x->warmup_steps, err, errlen);
  case SEC_ONLINE:
    if (!strcmp(k, "steps")) return parse_i64(e, 1, INT64_MAX / 4, &x->online_steps, err, errlen);
    return parse_i64(e, 0, INT64_MAX / 4, &x->online_checkpoint_every, err, errlen);
  }
  return 0;
}

static int resolve(o2o_experiment *x, const entry *es, int n, char *err, size_t errlen) {
  const o2o_learner_algo *sac = o2o_learner_find("sac"), *h2o = o2o_learner_find("h2o");
  for (int i = 0; i < n; i++)
    if (es[i].section == SEC_OFFLINE && !strcmp(es[i].key, "algo")) {
      const o2o_learner_algo *a = o2o_learner_find(es[i].value);
      if (!a || !a->offline) {
        o2o_agent_errf(err, errlen, "%s: key 'algo': '%s' is not an offline learner (one of %s)",
                       es[i].origin, es[i].value, o2o_learner_names(1));
        return -1;
      }
      snprintf(x->offline_algo, sizeof x->offline_algo, "%s", a->name);
    }
  const o2o_learner_algo *off = o2o_learner_find(x->offline_algo);
  if (!sac || !h2o || !off || off->config_size > O2O_EXP_CFG_BYTES ||
      sac->config_size > O2O_EXP_CFG_BYTES || h2o->config_size > O2O_EXP_CFG_BYTES) {
    o2o_agent_errf(err, errlen, "experiment: learner registry without sac/h2o/%s", x->offline_algo);
    return -1;
  }
  off->config_default(x->offline_cfg);
  sac->config_default(x->sac_cfg);
  h2o->config_default(x->h2o_cfg);
  int max_steps_given = 0;
  /* pass 0: every key known, run keys and offline fields applied */
  for (int i = 0; i < n; i++) {
    const entry *e = &es[i];
    int ok = 1, rc = 0;
    switch (e->section) {
    case SEC_EXPERIMENT:
      if (!(ok = key_in(e->key, EXP_KEYS, NKEYS(EXP_KEYS))))
        return unknown_key(e, EXP_KEYS, NKEYS(EXP_KEYS), NULL, NULL, err, errlen);
      break;
    case SEC_OFFLINE:
      if (key_in(e->key, OFF_KEYS, NKEYS(OFF_KEYS))) break;
      if ((rc = set_field(e, off, x->offline_cfg, err, errlen)) < 0) return -1;
      if (!rc) return unknown_key(e, OFF_KEYS, NKEYS(OFF_KEYS), off, NULL, err, errlen);
      max_steps_given |= !strcmp(e->key, "max_steps");
      continue;
    case SEC_WARMSTART:
      if (!key_in(e->key, WARM_KEYS, NKEYS(WARM_KEYS)))
        return unknown_key(e, WARM_KEYS, NKEYS(WARM_KEYS), NULL, NULL, err, errlen);
      break;
    case SEC_ONLINE:
      if (key_in(e->key, ON_KEYS, NKEYS(ON_KEYS))) break;
      if (!o2o_learner_field_find(sac, e->key) && !o2o_learner_field_find(h2o, e->key))
        return unknown_key(e, ON_KEYS, NKEYS(ON_KEYS), h2o, NULL, err, errlen);
      continue;
    default: {
      const o2o_learner_algo *a = e->section == SEC_H2O ? h2o : sac;
      if (!o2o_learner_field_find(a, e->key)) return unknown_key(e, NULL, 0, a, NULL, err, errlen);
      continue;
    }
    }
    if (apply_run_key(e, x, err, errlen)) return -1;
  }
  /* IQL's cosine decay spans the offline phase unless the file says otherwise */
  const o2o_learner_field *ms = o2o_learner_field_find(off, "max_steps");
  if (ms && !max_steps_given) {
    char t[32];
    snprintf(t, sizeof t, "%lld", (long long)x->offline_steps);
    if (o2o_learner_field_parse(ms, x->offline_cfg, t, err, errlen)) return -1;
  }
  /* pass 1: [online] fields into both learners; pass 2: [sac] / [h2o] */
  for (int pass = 1; pass <= 2; pass++)
    for (int i = 0; i < n; i++) {
      const entry *e = &es[i];
      int to_sac = pass == 1 ? e->section == SEC_ONLINE : e->section == SEC_SAC;
      int to_h2o = pass == 1 ? e->section == SEC_ONLINE : e->section == SEC_H2O;
      if (pass == 1 && key_in(e->key, ON_KEYS, NKEYS(ON_KEYS))) continue;
      if ((to_sac && set_field(e, sac, x->sac_cfg, err, errlen) < 0) ||
          (to_h2o && set_field(e, h2o, x->h2o_cfg, err, errlen) < 0))
        return -1;
    }
  /* wsrl: the sac config, the pretrain's critic ensemble (a warm start keeps the pretrained
   * architecture: WSRL's REDQ ensemble of 10 LayerNorm critics needs a pretrain that has
   * them, e.g. cql/calql with num_critics 10, critic_layernorm 1; IQL has 2 plain twin
   * critics), REDQ's min over a random pair of target critics, then [wsrl] */
  memcpy(x->wsrl_cfg, x->sac_cfg, sac->config_size);
  static const char *const arch[] = {"num_critics", "critic_layernorm"};
  static const double iql_arch[] = {2, 0};
  for (int k = 0; k < 3; k++) {
    char t[32];
    const o2o_learner_field *of = k < 2 ? o2o_learner_field_find(off, arch[k]) : NULL;
    snprintf(t, sizeof t, "%g",
             k == 2 ? 2.0
             : of   ? o2o_learner_field_get(of, x->offline_cfg)
                    : iql_arch[k]);
    if (o2o_learner_field_parse(o2o_learner_field_find(sac, k < 2 ? arch[k] : "target_subset"),
                                x->wsrl_cfg, t, err, errlen))
      return -1;
  }
  for (int i = 0; i < n; i++)
    if (es[i].section == SEC_WSRL && set_field(&es[i], sac, x->wsrl_cfg, err, errlen) < 0)
      return -1;
  if (check_cfg(off, x->offline_cfg, "offline", err, errlen) ||
      check_cfg(sac, x->sac_cfg, "sac", err, errlen) ||
      check_cfg(sac, x->wsrl_cfg, "wsrl", err, errlen) ||
      check_cfg(h2o, x->h2o_cfg, "h2o", err, errlen))
    return -1;
  if (!x->scenario[0]) {
    o2o_agent_errf(err, errlen, "%s: key 'scenario': missing from [experiment]", x->path);
    return -1;
  }
  unsigned need_data = x->methods & ~(1u << O2O_METHOD_SAC_SIM);
  if (need_data && !x->dataset[0]) {
    o2o_agent_errf(err, errlen,
                   "%s: key 'dataset': missing from [experiment] (every method but sac-sim needs "
                   "it)",
                   x->path);
    return -1;
  }
  return 0;
}

/* "section.key=value" -> entry */
static int add_set(entry *e, int *n, const char *set, char *err, size_t errlen) {
  char origin[1100];
  snprintf(origin, sizeof origin, "--set %s", set);
  const char *dot = strchr(set, '.'), *eq = strchr(set, '=');
  if (!dot || !eq || dot > eq || dot == set || eq == dot + 1) {
    o2o_agent_errf(err, errlen, "%s: expected section.key=value (e.g. online.steps=20000)", origin);
    return -1;
  }
  char sec[64], key[64];
  snprintf(sec, sizeof sec, "%.*s", (int)(dot - set), set);
  snprintf(key, sizeof key, "%.*s", (int)(eq - dot - 1), dot + 1);
  int s = section_find(sec);
  if (s < 0) {
    const char *near = o2o_flags_suggest(sec, SECTIONS, N_SEC);
    o2o_agent_errf(err, errlen, "%s: key '%s': unknown section [%s]%s%s%s", origin, key, sec,
                   near ? " (did you mean [" : "", near ? near : "", near ? "]?)" : "");
    return -1;
  }
  return add_entry(e, n, s, key, eq + 1, origin, 1, err, errlen);
}

int o2o_experiment_load(const char *path, const char *const *sets, int nsets, o2o_experiment *x,
                        char *err, size_t errlen) {
  entry *es = calloc(MAX_ENTRIES, sizeof *es);
  if (!es) {
    o2o_agent_errf(err, errlen, "out of memory");
    return -1;
  }
  defaults(x, path);
  parse_ctx c = {.file = path, .at_line_start = 1, .e = es, .err = err, .errlen = errlen};
  int rc = -1;
  if (!(c.fp = fopen(path, "r"))) {
    o2o_agent_errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    goto done;
  }
  int line = ini_parse_stream(counting_reader, &c, exp_ini_handler, &c);
  fclose(c.fp);
  if (c.failed) goto done;
  if (line != 0) {
    o2o_agent_errf(err, errlen,
                   "%s:%d: syntax error (expected 'key = value', '[section]' or a ; comment)", path,
                   line);
    goto done;
  }
  for (int i = 0; i < nsets; i++)
    if (add_set(es, &c.n, sets[i], err, errlen)) goto done;
  rc = resolve(x, es, c.n, err, errlen);
done:
  free(es);
  return rc;
}
