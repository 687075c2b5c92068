/* json_out.c: see json_out.h. */
#include "io/json_out.h"

#include <math.h>
#include <time.h>
#include <unistd.h>

#include "o2o_agent.h"
#include "o2o_build_info.h"

void o2o_json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20)
      fprintf(f, "\\u%04x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

void o2o_json_num(FILE *f, double v) {
  char buf[40];
  o2o_agent_num_text(v, buf, sizeof buf);
  fputs(isfinite(v) ? buf : "null", f);
}

static struct {
  int argc;
  char *const *argv;
  time_t start;
} invocation;

void o2o_json_set_invocation(int argc, char *const *argv) {
  invocation.argc = argc;
  invocation.argv = argv;
  invocation.start = time(NULL);
}

void o2o_json_invocation(FILE *f, const char *indent) {
  fprintf(f, "%s\"command_line\": [", indent);
  for (int i = 0; i < invocation.argc; i++) {
    if (i) fputs(", ", f);
    o2o_json_str(f, invocation.argv[i]);
  }
  fprintf(f, "],\n%s\"git_commit\": ", indent);
  o2o_json_str(f, O2O_GIT_COMMIT);
  char host[256] = "unknown";
  if (gethostname(host, sizeof host)) snprintf(host, sizeof host, "unknown");
  host[sizeof host - 1] = 0;
  fprintf(f, ",\n%s\"host\": ", indent);
  o2o_json_str(f, host);
  time_t t = invocation.start ? invocation.start : time(NULL);
  struct tm tm;
  char when[32] = "unknown";
  if (gmtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  fprintf(f, ",\n%s\"start_time\": ", indent);
  o2o_json_str(f, when);
  fputs(",\n", f);
}
