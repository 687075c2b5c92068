/* plot.c: line/band/bar figures drawn with cairo (o2o_plot.h). The data are copied when
 * added; everything is drawn at o2o_plot_write_png, once the axes know every range. */
#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "o2o_plot.h"

#define MAX_ITEMS 16
#define MAX_MARKS 16

typedef struct item {
  char label[64];
  int bars; /* 0: line (+ band), 1: bars */
  int n;
  double *x, *y, *lo, *hi; /* bars: x = edges [n + 1], y = counts [n] */
} item;

struct o2o_plot {
  int width, height;
  char title[160], xlabel[64], ylabel[64];
  item items[MAX_ITEMS];
  int num_items;
  double mark_x[MAX_MARKS];
  char mark_label[MAX_MARKS][48];
  int num_marks;
  double ylo, yhi; /* forced limits, NAN = automatic */
};

/* Colour-blind-safe palette (Okabe and Ito). */
static const double palette[8][3] = {{0.00, 0.45, 0.70}, {0.90, 0.62, 0.00}, {0.00, 0.62, 0.45},
                                     {0.80, 0.40, 0.00}, {0.34, 0.71, 0.91}, {0.80, 0.47, 0.65},
                                     {0.50, 0.50, 0.50}, {0.94, 0.89, 0.26}};

o2o_plot *o2o_plot_create(int width, int height, const char *title, const char *xlabel,
                          const char *ylabel) {
  if (width < 200 || height < 150 || width > 8192 || height > 8192) return NULL;
  o2o_plot *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->width = width;
  p->height = height;
  snprintf(p->title, sizeof p->title, "%s", title ? title : "");
  snprintf(p->xlabel, sizeof p->xlabel, "%s", xlabel ? xlabel : "");
  snprintf(p->ylabel, sizeof p->ylabel, "%s", ylabel ? ylabel : "");
  p->ylo = p->yhi = NAN;
  return p;
}

void o2o_plot_destroy(o2o_plot *p) {
  if (!p) return;
  for (int i = 0; i < p->num_items; i++) {
    free(p->items[i].x);
    free(p->items[i].y);
    free(p->items[i].lo);
    free(p->items[i].hi);
  }
  free(p);
}

static double *dup(const double *v, int n) {
  if (!v) return NULL;
  double *d = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
  if (d) memcpy(d, v, sizeof(double) * (size_t)n);
  return d;
}

static int add(o2o_plot *p, const char *label, int bars, const double *x, int nx, const double *y,
               const double *lo, const double *hi, int n) {
  if (p->num_items >= MAX_ITEMS || n < 1 || !x || !y) return -1;
  item *it = &p->items[p->num_items];
  memset(it, 0, sizeof *it);
  snprintf(it->label, sizeof it->label, "%s", label ? label : "");
  it->bars = bars;
  it->n = n;
  it->x = dup(x, nx);
  it->y = dup(y, n);
  it->lo = dup(lo, n);
  it->hi = dup(hi, n);
  if (!it->x || !it->y || (lo && !it->lo) || (hi && !it->hi)) return -1;
  p->num_items++;
  return 0;
}

int o2o_plot_series(o2o_plot *p, const char *label, const double *x, const double *y,
                    const double *lo, const double *hi, int n) {
  return add(p, label, 0, x, n, y, lo && hi ? lo : NULL, lo && hi ? hi : NULL, n);
}

int o2o_plot_bars(o2o_plot *p, const char *label, const double *edges, const double *counts,
                  int bins) {
  return add(p, label, 1, edges, bins + 1, counts, NULL, NULL, bins);
}

int o2o_plot_vline(o2o_plot *p, double x, const char *label) {
  if (p->num_marks >= MAX_MARKS || !isfinite(x)) return -1;
  p->mark_x[p->num_marks] = x;
  snprintf(p->mark_label[p->num_marks++], sizeof p->mark_label[0], "%s", label ? label : "");
  return 0;
}

void o2o_plot_ylim(o2o_plot *p, double lo, double hi) {
  p->ylo = lo;
  p->yhi = hi;
}

static void grow(double v, double *lo, double *hi) {
  if (!isfinite(v)) return;
  if (v < *lo) *lo = v;
  if (v > *hi) *hi = v;
}

/* A "nice" tick step (1, 2 or 5 x 10^k) giving about `want` ticks over span. */
static double nice_step(double span, int want) {
  double raw = span / want, mag = pow(10.0, floor(log10(raw))), f = raw / mag;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void tick_text(double v, double step, char *buf, size_t n) {
  double a = fabs(v);
  if (a >= 1e5 && step >= 1e3)
    snprintf(buf, n, "%gk", v / 1e3);
  else if (step >= 1 || v == 0)
    snprintf(buf, n, "%.0f", v);
  else
    snprintf(buf, n, "%.*f", (int)ceil(-log10(step)), v);
}

int o2o_plot_write_png(o2o_plot *p, const char *path, char *err, size_t errlen) {
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (int i = 0; i < p->num_items; i++) {
    const item *it = &p->items[i];
    for (int k = 0; k < it->n + it->bars; k++)
      grow(it->x[k], &xlo, &xhi);
    for (int k = 0; k < it->n; k++) {
      grow(it->y[k], &ylo, &yhi);
      if (it->lo) grow(it->lo[k], &ylo, &yhi);
      if (it->hi) grow(it->hi[k], &ylo, &yhi);
    }
    if (it->bars) grow(0.0, &ylo, &yhi);
  }
  for (int m = 0; m < p->num_marks; m++)
    grow(p->mark_x[m], &xlo, &xhi);
  if (!(xlo <= xhi)) xlo = 0, xhi = 1;
  if (!(ylo <= yhi)) ylo = 0, yhi = 1;
  if (xhi - xlo < 1e-12) xlo -= 0.5, xhi += 0.5;
  if (yhi - ylo < 1e-12) ylo -= 0.5, yhi += 0.5;
  double pad = 0.05 * (yhi - ylo);
  ylo -= pad, yhi += pad;
  if (isfinite(p->ylo)) ylo = p->ylo;
  if (isfinite(p->yhi)) yhi = p->yhi;

  cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, p->width, p->height);
  cairo_t *cr = cairo_create(s);
  const double L = 80, R = 20, T = 46, B = 62;
  const double pw = p->width - L - R, ph = p->height - T - B;
#define PX(v) (L + ((v)-xlo) / (xhi - xlo) * pw)
#define PY(v) (T + ph - ((v)-ylo) / (yhi - ylo) * ph)
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  /* grid and ticks */
  cairo_set_font_size(cr, 12);
  cairo_set_line_width(cr, 1);
  double xs = nice_step(xhi - xlo, 8), ys = nice_step(yhi - ylo, 6);
  char buf[64];
  cairo_text_extents_t te;
  for (double v = ceil(xlo / xs) * xs; v <= xhi + 1e-9 * xs; v += xs) {
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, PX(v), T);
    cairo_line_to(cr, PX(v), T + ph);
    cairo_stroke(cr);
    tick_text(v, xs, buf, sizeof buf);
    cairo_text_extents(cr, buf, &te);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_move_to(cr, PX(v) - te.width / 2, T + ph + 18);
    cairo_show_text(cr, buf);
  }
  for (double v = ceil(ylo / ys) * ys; v <= yhi + 1e-9 * ys; v += ys) {
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    cairo_move_to(cr, L, PY(v));
    cairo_line_to(cr, L + pw, PY(v));
    cairo_stroke(cr);
    tick_text(v, ys, buf, sizeof buf);
    cairo_text_extents(cr, buf, &te);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_move_to(cr, L - 8 - te.width, PY(v) + 4);
    cairo_show_text(cr, buf);
  }
  cairo_save(cr); /* clip the data to the axes box */
  cairo_rectangle(cr, L, T, pw, ph);
  cairo_clip(cr);
  for (int i = 0; i < p->num_items; i++) {
    const item *it = &p->items[i];
    const double *c = palette[i % 8];
    if (it->bars) {
      for (int k = 0; k < it->n; k++) {
        if (!isfinite(it->y[k])) continue;
        double x0 = PX(it->x[k]), x1 = PX(it->x[k + 1]);
        cairo_rectangle(cr, x0 + 0.5, PY(it->y[k]), x1 - x0 - 1, PY(0) - PY(it->y[k]));
      }
      cairo_set_source_rgba(cr, c[0], c[1], c[2], 0.8);
      cairo_fill(cr);
      continue;
    }
    if (it->lo) { /* band: upper edge forward, lower edge back, per finite run */
      int k = 0;
      while (k < it->n) {
        while (k < it->n && !(isfinite(it->lo[k]) && isfinite(it->hi[k])))
          k++;
        int start = k;
        while (k < it->n && isfinite(it->lo[k]) && isfinite(it->hi[k]))
          k++;
        if (k - start < 1) continue;
        cairo_move_to(cr, PX(it->x[start]), PY(it->hi[start]));
        for (int j = start + 1; j < k; j++)
          cairo_line_to(cr, PX(it->x[j]), PY(it->hi[j]));
        for (int j = k - 1; j >= start; j--)
          cairo_line_to(cr, PX(it->x[j]), PY(it->lo[j]));
        cairo_close_path(cr);
        cairo_set_source_rgba(cr, c[0], c[1], c[2], 0.18);
        cairo_fill(cr);
      }
    }
    cairo_set_source_rgb(cr, c[0], c[1], c[2]);
    cairo_set_line_width(cr, 2.2);
    int pen = 0;
    for (int k = 0; k < it->n; k++) {
      if (!isfinite(it->x[k]) || !isfinite(it->y[k])) {
        pen = 0;
        continue;
      }
      if (pen)
        cairo_line_to(cr, PX(it->x[k]), PY(it->y[k]));
      else
        cairo_move_to(cr, PX(it->x[k]), PY(it->y[k]));
      pen = 1;
      if (it->n == 1) cairo_arc(cr, PX(it->x[k]), PY(it->y[k]), 3, 0, 2 * M_PI);
    }
    cairo_stroke(cr);
  }
  cairo_restore(cr);
  /* markers */
  static const double dash[] = {5, 4};
  for (int m = 0; m < p->num_marks; m++) {
    cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
    cairo_set_line_width(cr, 1.2);
    cairo_set_dash(cr, dash, 2, 0);
    cairo_move_to(cr, PX(p->mark_x[m]), T);
    cairo_line_to(cr, PX(p->mark_x[m]), T + ph);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_set_font_size(cr, 11);
    cairo_move_to(cr, PX(p->mark_x[m]) + 4, T + 14 + 13 * (m % 3));
    cairo_show_text(cr, p->mark_label[m]);
  }
  /* frame, title, axis labels */
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, L, T, pw, ph);
  cairo_stroke(cr);
  cairo_set_font_size(cr, 16);
  cairo_text_extents(cr, p->title, &te);
  cairo_move_to(cr, L + pw / 2 - te.width / 2, 28);
  cairo_show_text(cr, p->title);
  cairo_set_font_size(cr, 13);
  cairo_text_extents(cr, p->xlabel, &te);
  cairo_move_to(cr, L + pw / 2 - te.width / 2, p->height - 18);
  cairo_show_text(cr, p->xlabel);
  cairo_text_extents(cr, p->ylabel, &te);
  cairo_save(cr);
  cairo_move_to(cr, 22, T + ph / 2 + te.width / 2);
  cairo_rotate(cr, -M_PI / 2);
  cairo_show_text(cr, p->ylabel);
  cairo_restore(cr);
  /* legend (top left inside the box), only for labelled items */
  cairo_set_font_size(cr, 12);
  double lw = 0;
  int nl = 0;
  for (int i = 0; i < p->num_items; i++)
    if (p->items[i].label[0]) {
      cairo_text_extents(cr, p->items[i].label, &te);
      lw = te.width > lw ? te.width : lw;
      nl++;
    }
  if (nl) {
    double bx = L + 10, by = T + 10, bw = lw + 44, bh = 18.0 * nl + 8;
    cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
    cairo_rectangle(cr, bx, by, bw, bh);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.7, 0.7, 0.7);
    cairo_stroke(cr);
    int row = 0;
    for (int i = 0; i < p->num_items; i++) {
      if (!p->items[i].label[0]) continue;
      const double *c = palette[i % 8], y = by + 16 + 18.0 * row++;
      cairo_set_source_rgb(cr, c[0], c[1], c[2]);
      cairo_set_line_width(cr, p->items[i].bars ? 8 : 2.5);
      cairo_move_to(cr, bx + 8, y - 4);
      cairo_line_to(cr, bx + 30, y - 4);
      cairo_stroke(cr);
      cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
      cairo_move_to(cr, bx + 36, y);
      cairo_show_text(cr, p->items[i].label);
    }
  }
#undef PX
#undef PY
  cairo_destroy(cr);
  cairo_status_t st = cairo_surface_write_to_png(s, path);
  cairo_surface_destroy(s);
  if (st != CAIRO_STATUS_SUCCESS) {
    snprintf(err, errlen, "%s: cannot write the PNG: %s", path, cairo_status_to_string(st));
    return -1;
  }
  return 0;
}
