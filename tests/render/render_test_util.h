/* render_test_util.h: helpers shared by the render tests (temp folders, running a command
 * and capturing its output, decoding PNGs with an independent Python decoder). */
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PNG_INFO O2O_TEST_DATA_DIR "/render/png_info.py"

/* A fresh temp folder for one test. */
static inline void rt_tempdir(char *out, size_t n) {
  snprintf(out, n, "/tmp/o2o-render-test-XXXXXX");
  if (!mkdtemp(out)) out[0] = 0;
}

/* Run a shell command, capture stdout+stderr (truncated to n-1 bytes); exit status. */
static inline int rt_run(const char *cmd, char *out, size_t n) {
  char full[4096];
  snprintf(full, sizeof full, "%s 2>&1", cmd);
  FILE *p = popen(full, "r");
  if (!p) return -1;
  size_t len = 0;
  if (out && n) {
    size_t k;
    while (len + 1 < n && (k = fread(out + len, 1, n - 1 - len, p)) > 0)
      len += k;
    out[len] = 0;
  }
  char sink[4096];
  while (fread(sink, 1, sizeof sink, p) > 0) {
  }
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Decode png with tests/render/png_info.py: size and sample variance; if raw is given,
 * the decoded pixels must equal it. 0 ok. */
static inline int rt_png_info(const char *png, const char *raw, int *w, int *h, double *var,
                              char *out, size_t n) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s '%s' %s%s%s", PNG_INFO, png, raw ? "'" : "",
           raw ? raw : "", raw ? "'" : "");
  int rc = rt_run(cmd, out, n);
  if (rc) return rc;
  return sscanf(out, "%d %d %lf", w, h, var) == 3 ? 0 : -1;
}

/* Remove a temp folder made by rt_tempdir (only those). */
static inline void rt_rmtree(const char *dir) {
  if (strncmp(dir, "/tmp/o2o-render-test-", 21)) return;
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  rt_run(cmd, NULL, 0);
}

static inline int rt_write_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t k = fwrite(p, 1, n, f);
  return (fclose(f) || k != n) ? -1 : 0;
}
