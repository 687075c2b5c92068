/* scenario.c: dynamics parameters, variants, and scenario files (INI, parsed by libinih).
 *
 * Every error names the file, the line and the key: inih only reports the line of the first
 * failing handler call, so the reader below counts lines itself and the handler records the
 * first problem with that line. */
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>

#include "o2o_flags.h"
#include "o2o_version.h"
#include "sim_internal.h"

/* ---- dynamics ---- */

void o2o_dynamics_default(o2o_dynamics *dyn) {
  dyn->gravity_scale = 1.0;
  dyn->friction_scale = 1.0;
  dyn->mass_scale = 1.0;
  dyn->damping_scale = 1.0;
  dyn->gear_scale = 1.0;
  dyn->action_noise_std = 0.0;
  dyn->obs_noise_std = 0.0;
  dyn->action_delay = 0;
}

/* One row per field: name, offset, whether the lower bound is open, bounds. */
typedef struct dyn_field {
  const char *name;
  size_t offset;
  int is_int;
  int low_open; /* 1: (lo, hi]; 0: [lo, hi] */
  double lo, hi;
} dyn_field;

/* The multiplicative scales stay within a factor 100 below nominal: a smaller gravity, friction,
 * mass or gear (5e-324 was accepted once) is no sim-to-real gap but a degenerate model (MuJoCo
 * warns of a singular inertia matrix). Damping may be switched off (0). */
static const dyn_field DYN_FIELDS[] = {
    {"gravity_scale", offsetof(o2o_dynamics, gravity_scale), 0, 0, O2O_SIM_MIN_SCALE, 10.0},
    {"friction_scale", offsetof(o2o_dynamics, friction_scale), 0, 0, O2O_SIM_MIN_SCALE, 10.0},
    {"mass_scale", offsetof(o2o_dynamics, mass_scale), 0, 0, O2O_SIM_MIN_SCALE, 10.0},
    {"damping_scale", offsetof(o2o_dynamics, damping_scale), 0, 0, 0.0, 10.0},
    {"gear_scale", offsetof(o2o_dynamics, gear_scale), 0, 0, O2O_SIM_MIN_SCALE, 10.0},
    {"action_noise_std", offsetof(o2o_dynamics, action_noise_std), 0, 0, 0.0, 10.0},
    {"obs_noise_std", offsetof(o2o_dynamics, obs_noise_std), 0, 0, 0.0, 10.0},
    {"action_delay", offsetof(o2o_dynamics, action_delay), 1, 0, 0.0, O2O_SIM_MAX_DELAY},
};
#define N_DYN_FIELDS (int)(sizeof DYN_FIELDS / sizeof DYN_FIELDS[0])

static double dyn_get(const o2o_dynamics *dyn, const dyn_field *f) {
  const char *p = (const char *)dyn + f->offset;
  if (f->is_int) return (double)*(const int *)p;
  return *(const double *)p;
}

/* Range message for field f holding v, or NULL if fine. */
static const char *dyn_range_problem(const dyn_field *f, double v, char *buf, size_t len) {
  int ok = isfinite(v) && v <= f->hi && (f->low_open ? v > f->lo : v >= f->lo);
  if (ok) return NULL;
  snprintf(buf, len, "%g is outside the valid range %s%g, %g]", v, f->low_open ? "(" : "[", f->lo,
           f->hi);
  return buf;
}

int o2o_dynamics_validate(const o2o_dynamics *dyn, char *err, size_t errlen) {
  char buf[128];
  for (int i = 0; i < N_DYN_FIELDS; i++) {
    const char *p =
        dyn_range_problem(&DYN_FIELDS[i], dyn_get(dyn, &DYN_FIELDS[i]), buf, sizeof buf);
    if (p) {
      if (err) snprintf(err, errlen, "dynamics %s: %s", DYN_FIELDS[i].name, p);
      return O2O_SIM_ERANGE;
    }
  }
  return O2O_SIM_OK;
}

const char *o2o_variant_name(o2o_variant v) {
  return v == O2O_VARIANT_SIM ? "sim" : "real";
}

int o2o_variant_parse(const char *name, o2o_variant *out) {
  if (name && strcmp(name, "real") == 0) {
    *out = O2O_VARIANT_REAL;
    return O2O_SIM_OK;
  }
  if (name && strcmp(name, "sim") == 0) {
    *out = O2O_VARIANT_SIM;
    return O2O_SIM_OK;
  }
  return O2O_SIM_EINVAL;
}

/* ---- number parsing: the whole value must be a number ---- */

static int parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v)) return -1;
  *out = v;
  return 0;
}

static int parse_int(const char *s, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (end == s || *end != '\0' || errno == ERANGE || v < INT_MIN || v > INT_MAX) return -1;
  *out = (int)v;
  return 0;
}

/* ---- the INI handler ---- */

enum { SEC_SCENARIO, SEC_REAL, SEC_SIM, N_SECTIONS };
static const char *SECTION_NAMES[N_SECTIONS] = {"scenario", "real", "sim"};
static const char *SCENARIO_KEYS[] = {
    "model", "task", "frame_skip", "max_episode_steps", "reset_noise_scale", "description"};
#define N_SCENARIO_KEYS (int)(sizeof SCENARIO_KEYS / sizeof SCENARIO_KEYS[0])

typedef struct parse_ctx {
  o2o_scenario *sc;
  const char *file;
  FILE *fp;
  int line; /* line the reader handed out last */
  int at_line_start;
  int err_code; /* first problem */
  char *err;
  size_t errlen;
  unsigned seen[N_SECTIONS]; /* bit per key, to reject duplicates and find missing keys */
  char dir[1024];            /* folder of the scenario file */
} parse_ctx;

static char *counting_reader(char *str, int num, void *stream) {
  parse_ctx *ctx = stream;
  char *r = fgets(str, num, ctx->fp);
  if (!r) return r;
  if (ctx->at_line_start) ctx->line++;
  size_t len = strlen(r);
  ctx->at_line_start = len > 0 && r[len - 1] == '\n';
  /* inih reads at most num - 1 characters a line; the rest would come back as a bogus line */
  if (!ctx->at_line_start && !feof(ctx->fp) && !ctx->err_code) {
    ctx->err_code = O2O_SIM_EPARSE;
    if (ctx->err)
      snprintf(ctx->err, ctx->errlen, "%s:%d: line longer than %d characters", ctx->file, ctx->line,
               num - 2);
  }
  return r;
}

static int fail(parse_ctx *ctx, int code, const char *key, const char *fmt, ...) {
  if (ctx->err_code) return 0; /* keep the first problem */
  ctx->err_code = code;
  char what[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  if (ctx->err)
    snprintf(ctx->err, ctx->errlen, "%s:%d: key '%s': %s", ctx->file, ctx->line, key, what);
  return 0;
}

static int handle_scenario_key(parse_ctx *ctx, int k, const char *name, const char *value) {
  o2o_scenario *sc = ctx->sc;
  switch (k) {
  case 0: { /* model: relative to the scenario file */
    int n = value[0] == '/'
                ? snprintf(sc->model_path, sizeof sc->model_path, "%s", value)
                : snprintf(sc->model_path, sizeof sc->model_path, "%s/%s", ctx->dir, value);
    if (n < 0 || (size_t)n >= sizeof sc->model_path)
      return fail(ctx, O2O_SIM_EPARSE, name, "path too long");
    if (access(sc->model_path, R_OK) != 0)
      return fail(ctx, O2O_SIM_EIO, name, "model file '%s' not found or unreadable: %s",
                  sc->model_path, strerror(errno));
    return 1;
  }
  case 1:
    if (!o2o_task_find(value))
      return fail(ctx, O2O_SIM_EPARSE, name, "unknown task '%s' (known: %s)", value,
                  o2o_task_names());
    snprintf(sc->task, sizeof sc->task, "%s", value);
    return 1;
  case 2:
  case 3: {
    int v;
    if (parse_int(value, &v) != 0)
      return fail(ctx, O2O_SIM_EPARSE, name, "'%s' is not an integer", value);
    int hi = k == 2 ? 1000 : 100000000;
    if (v < 1 || v > hi)
      return fail(ctx, O2O_SIM_ERANGE, name, "%d is outside the valid range [1, %d]", v, hi);
    if (k == 2)
      sc->frame_skip = v;
    else
      sc->max_episode_steps = v;
    return 1;
  }
  case 4: {
    double v;
    if (parse_double(value, &v) != 0)
      return fail(ctx, O2O_SIM_EPARSE, name, "'%s' is not a number", value);
    if (v < 0 || v > 10)
      return fail(ctx, O2O_SIM_ERANGE, name, "%g is outside the valid range [0, 10]", v);
    sc->reset_noise_scale = v;
    return 1;
  }
  default: /* description: free text, ignored */
    return 1;
  }
}

static int handle_dynamics_key(parse_ctx *ctx, o2o_dynamics *dyn, int k, const char *name,
                               const char *value) {
  const dyn_field *f = &DYN_FIELDS[k];
  double v;
  if (f->is_int) {
    int iv;
    if (parse_int(value, &iv) != 0)
      return fail(ctx, O2O_SIM_EPARSE, name, "'%s' is not an integer", value);
    v = iv;
  } else if (parse_double(value, &v) != 0) {
    return fail(ctx, O2O_SIM_EPARSE, name, "'%s' is not a number", value);
  }
  char buf[128];
  const char *p = dyn_range_problem(f, v, buf, sizeof buf);
  if (p) return fail(ctx, O2O_SIM_ERANGE, name, "%s", p);
  char *dst = (char *)dyn + f->offset;
  if (f->is_int)
    *(int *)dst = (int)v;
  else
    *(double *)dst = v;
  return 1;
}

static int ini_handler_fn(void *user, const char *section, const char *name, const char *value) {
  parse_ctx *ctx = user;
  if (ctx->err_code) return 0;
  int s = -1;
  for (int i = 0; i < N_SECTIONS; i++)
    if (strcmp(section, SECTION_NAMES[i]) == 0) s = i;
  if (s < 0)
    return fail(ctx, O2O_SIM_EPARSE, name,
                "unknown section [%s] (expected [scenario], [real], [sim])", section);
  int k = -1;
  if (s == SEC_SCENARIO) {
    for (int i = 0; i < N_SCENARIO_KEYS; i++)
      if (strcmp(name, SCENARIO_KEYS[i]) == 0) k = i;
    if (k < 0)
      return fail(ctx, O2O_SIM_EPARSE, name,
                  "unknown key in [scenario] (expected model, task, frame_skip, max_episode_steps, "
                  "reset_noise_scale, description)");
  } else {
    for (int i = 0; i < N_DYN_FIELDS; i++)
      if (strcmp(name, DYN_FIELDS[i].name) == 0) k = i;
    if (k < 0)
      return fail(ctx, O2O_SIM_EPARSE, name,
                  "unknown key in [%s] (expected gravity_scale, friction_scale, mass_scale, "
                  "damping_scale, gear_scale, action_noise_std, obs_noise_std, action_delay)",
                  section);
  }
  if (ctx->seen[s] & (1u << k))
    return fail(ctx, O2O_SIM_EPARSE, name, "given twice in [%s]", section);
  ctx->seen[s] |= 1u << k;
  if (s == SEC_SCENARIO) return handle_scenario_key(ctx, k, name, value);
  return handle_dynamics_key(ctx, s == SEC_REAL ? &ctx->sc->real : &ctx->sc->sim, k, name, value);
}

/* ---- lookup by name ---- */

static int is_file(const char *p) {
  return access(p, R_OK) == 0;
}

/* The scenario name nearest to name among the .ini files of dirs (colon-separated, may be
 * NULL) and the source tree's scenarios/, for "did you mean". "" when none is close. */
static void nearest_name(const char *name, const char *dirs_env, char *out, size_t cap) {
  enum { MAX_NAMES = 256 };
  char names[MAX_NAMES][64];
  const char *ptrs[MAX_NAMES];
  int n = 0;
  char dirs[2048];
  snprintf(dirs, sizeof dirs, "%s%s%s", dirs_env ? dirs_env : "", dirs_env ? ":" : "",
           O2O_SCENARIO_DIR);
  char *save = NULL;
  for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
    DIR *d = opendir(dir);
    if (!d) continue;
    for (struct dirent *e; (e = readdir(d)) && n < MAX_NAMES;) {
      size_t len = strlen(e->d_name);
      if (len < 5 || len - 4 >= sizeof names[0] || strcmp(e->d_name + len - 4, ".ini")) continue;
      snprintf(names[n], sizeof names[0], "%.*s", (int)(len - 4), e->d_name);
      ptrs[n] = names[n];
      n++;
    }
    closedir(d);
  }
  const char *best = o2o_flags_suggest(name, ptrs, n);
  snprintf(out, cap, "%s", best ? best : "");
}

static int resolve_path(const char *name_or_path, char *out, size_t outlen, char *err,
                        size_t errlen) {
  if (strchr(name_or_path, '/') || strstr(name_or_path, ".ini")) {
    /* Refuse rather than cut: a cut path may name another file. */
    if (strlen(name_or_path) >= outlen) {
      if (err)
        snprintf(err, errlen, "%.64s...: scenario path too long (%zu characters, limit %zu)",
                 name_or_path, strlen(name_or_path), outlen - 1);
      return O2O_SIM_EINVAL;
    }
    snprintf(out, outlen, "%s", name_or_path);
    if (is_file(out)) return O2O_SIM_OK;
    if (err)
      snprintf(err, errlen, "%s: scenario file not found or unreadable: %s", name_or_path,
               strerror(errno));
    return O2O_SIM_EIO;
  }
  char searched[600] = "";
  const char *env = getenv("O2O_SCENARIO_PATH");
  if (env && *env) {
    char dirs[2048];
    snprintf(dirs, sizeof dirs, "%s", env);
    char *save = NULL;
    for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
      int n = snprintf(out, outlen, "%s/%s.ini", dir, name_or_path);
      if (n >= 0 && (size_t)n < outlen && is_file(out)) return O2O_SIM_OK;
    }
    snprintf(searched, sizeof searched, "$O2O_SCENARIO_PATH (%s) and ", env);
  }
  snprintf(out, outlen, "%s/%s.ini", O2O_SCENARIO_DIR, name_or_path);
  if (is_file(out)) return O2O_SIM_OK;
  if (err) {
    char near[128] = "";
    nearest_name(name_or_path, env, near, sizeof near);
    snprintf(
        err, errlen,
        "scenario '%s' not found in %s%s (a name means NAME.ini in one of those folders%s%s%s)",
        name_or_path, searched, O2O_SCENARIO_DIR, near[0] ? "; did you mean " : "", near,
        near[0] ? "?" : "");
  }
  return O2O_SIM_EIO;
}

int o2o_scenario_load(o2o_scenario *sc, const char *name_or_path, char *err, size_t errlen) {
  if (!sc || !name_or_path) {
    if (err) snprintf(err, errlen, "o2o_scenario_load: NULL argument");
    return O2O_SIM_EINVAL;
  }
  memset(sc, 0, sizeof *sc);
  int rc = resolve_path(name_or_path, sc->path, sizeof sc->path, err, errlen);
  if (rc) return rc;
  sc->reset_noise_scale = -1.0;
  o2o_dynamics_default(&sc->real);
  o2o_dynamics_default(&sc->sim);

  /* name = file stem */
  const char *base = strrchr(sc->path, '/');
  base = base ? base + 1 : sc->path;
  snprintf(sc->name, sizeof sc->name, "%.63s", base);
  char *dot = strrchr(sc->name, '.');
  if (dot) *dot = '\0';

  parse_ctx ctx = {.sc = sc, .file = sc->path, .err = err, .errlen = errlen, .at_line_start = 1};
  snprintf(ctx.dir, sizeof ctx.dir, "%.*s", (int)(base - sc->path), sc->path);
  if (ctx.dir[0] == '\0')
    snprintf(ctx.dir, sizeof ctx.dir, ".");
  else
    ctx.dir[strlen(ctx.dir) - 1] = '\0'; /* drop the trailing '/' */
  if (ctx.dir[0] == '\0') snprintf(ctx.dir, sizeof ctx.dir, "/");

  ctx.fp = fopen(sc->path, "r");
  if (!ctx.fp) {
    if (err) snprintf(err, errlen, "%s: cannot open: %s", sc->path, strerror(errno));
    return O2O_SIM_EIO;
  }
  int line = ini_parse_stream(counting_reader, &ctx, ini_handler_fn, &ctx);
  fclose(ctx.fp);
  if (ctx.err_code) return ctx.err_code;
  if (line != 0) {
    if (err)
      snprintf(err, errlen,
               "%s:%d: syntax error (expected 'key = value', '[section]' or a ; comment)", sc->path,
               line);
    return O2O_SIM_EPARSE;
  }
  static const char *required[] = {"model", "task", "frame_skip", "max_episode_steps"};
  for (int i = 0; i < 4; i++) {
    if (!(ctx.seen[SEC_SCENARIO] & (1u << i))) {
      if (err)
        snprintf(err, errlen, "%s: key '%s': missing from [scenario]", sc->path, required[i]);
      return O2O_SIM_EPARSE;
    }
  }
  if (sc->reset_noise_scale < 0) sc->reset_noise_scale = o2o_task_find(sc->task)->reset_noise_scale;
  return O2O_SIM_OK;
}
