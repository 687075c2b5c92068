/* report_json.c: reading the small JSON files of a run folder (DONE, FAILED, config.json,
 * gap.json): a validating skip over any value, and lookups of top-level members. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "run/report_internal.h"

static const char *ws(const char *s) {
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
    s++;
  return s;
}

/* The scanners return the position past what they read, or NULL with *bad at the first
 * character that is not JSON. */
typedef struct {
  const char *bad;
} scan;

static const char *fail(scan *c, const char *at) {
  c->bad = at;
  return NULL;
}

/* Past the string starting at s (on its quote); its content copied to out (ASCII escapes
 * decoded, others as '?': the report only shows such text). */
static const char *string(scan *c, const char *s, char *out, size_t cap) {
  size_t k = 0;
  for (s++; *s && *s != '"'; s++) {
    char ch = *s;
    if ((unsigned char)ch < 0x20) return fail(c, s);
    if (ch == '\\') {
      s++;
      switch (*s) {
      case 'n':
        ch = '\n';
        break;
      case 't':
        ch = '\t';
        break;
      case 'r':
        ch = '\r';
        break;
      case 'b':
        ch = '\b';
        break;
      case 'f':
        ch = '\f';
        break;
      case '"':
      case '\\':
      case '/':
        ch = *s;
        break;
      case 'u': {
        char hex[5] = {0};
        for (int i = 0; i < 4; i++) {
          if (!s[i + 1] || !strchr("0123456789abcdefABCDEF", s[i + 1])) return fail(c, s + i + 1);
          hex[i] = s[i + 1];
        }
        long u = strtol(hex, NULL, 16);
        ch = u >= 0x20 && u < 0x80 ? (char)u : '?';
        s += 4;
        break;
      }
      default:
        return fail(c, s);
      }
    }
    if (out && k + 1 < cap) out[k++] = ch;
  }
  if (out && cap) out[k] = 0;
  return *s == '"' ? s + 1 : fail(c, s);
}

static const char *value(scan *c, const char *s, int depth);

static const char *container(scan *c, const char *s, int depth, char close, int keyed) {
  s = ws(s + 1);
  if (*s == close) return s + 1;
  for (;;) {
    if (keyed) {
      if (*s != '"') return fail(c, s);
      if (!(s = string(c, s, NULL, 0))) return NULL;
      s = ws(s);
      if (*s != ':') return fail(c, s);
      s++;
    }
    if (!(s = value(c, ws(s), depth + 1))) return NULL;
    s = ws(s);
    if (*s == close) return s + 1;
    if (*s != ',') return fail(c, s);
    s = ws(s + 1);
  }
}

static const char *value(scan *c, const char *s, int depth) {
  if (depth > 64) return fail(c, s);
  if (*s == '{') return container(c, s, depth, '}', 1);
  if (*s == '[') return container(c, s, depth, ']', 0);
  if (*s == '"') return string(c, s, NULL, 0);
  static const char *const lit[] = {"true", "false", "null"};
  for (int i = 0; i < 3; i++)
    if (!strncmp(s, lit[i], strlen(lit[i]))) return s + strlen(lit[i]);
  char *end;
  strtod(s, &end);
  return end > s && (*s == '-' || (*s >= '0' && *s <= '9')) ? end : fail(c, s);
}

int rpt_json_check(const char *text, long *at) {
  scan c = {text};
  const char *s = ws(text), *e = *s == '{' ? value(&c, s, 0) : fail(&c, s);
  if (e && !*ws(e)) return 0;
  *at = (long)((e ? ws(e) : c.bad) - text);
  return -1;
}

/* The value of top-level member key, or NULL. */
static const char *member(const char *text, const char *key) {
  const char *s = ws(text);
  if (*s != '{') return NULL;
  s = ws(s + 1);
  char name[128];
  scan c;
  while (*s == '"') {
    if (!(s = string(&c, s, name, sizeof name))) return NULL;
    s = ws(s);
    if (*s++ != ':') return NULL;
    s = ws(s);
    if (!strcmp(name, key)) return s;
    if (!(s = value(&c, s, 1))) return NULL;
    s = ws(s);
    if (*s != ',') return NULL;
    s = ws(s + 1);
  }
  return NULL;
}

/* member() through dots: "h2o.actor_delay" is member actor_delay of the object h2o. */
static const char *member_path(const char *text, const char *path) {
  char head[128];
  const char *dot;
  while (text && (dot = strchr(path, '.'))) {
    size_t n = (size_t)(dot - path);
    if (n >= sizeof head) return NULL;
    memcpy(head, path, n);
    head[n] = 0;
    text = member(text, head);
    path = dot + 1;
  }
  return text ? member(text, path) : NULL;
}

int rpt_json_number(const char *text, const char *key, double *out) {
  const char *v = member_path(text, key);
  if (!v || !(*v == '-' || (*v >= '0' && *v <= '9'))) return 0;
  *out = strtod(v, NULL);
  return 1;
}

int rpt_json_string(const char *text, const char *key, char *out, size_t cap) {
  const char *v = member_path(text, key);
  scan c;
  return v && *v == '"' && string(&c, v, out, cap);
}

int rpt_json_numbers(const char *text, const char *key, double *out, int cap, int *n) {
  const char *v = member_path(text, key);
  *n = 0;
  if (!v || *v != '[') return 0;
  v = ws(v + 1);
  while (*v && *v != ']') {
    char *end;
    double d = strtod(v, &end);
    if (!strncmp(v, "null", 4)) end = (char *)v + 4, d = NAN;
    if (end == v) return 0;
    if (*n < cap) out[(*n)++] = d;
    v = ws(end);
    if (*v == ',') v = ws(v + 1);
  }
  return *v == ']';
}
