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
  int bars;  /* 0: line (+ band), 1: bars, 2: horizontal reference line at y[0] */
  int color; /* palette index */
  int dash;  /* hlines: 0 dashed, 1 dotted, 2 dash-dot */
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
  double span_x0[MAX_MARKS], span_x1[MAX_MARKS];
  char span_label[MAX_MARKS][96];
  int num_spans, num_hlines, num_colored; /* colored: series and bars (the palette order) */
  int legend_below;
  double xlo, xhi, ylo, yhi; /* forced limits, NAN = automatic */
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
  p->xlo = p->xhi = p->ylo = p->yhi = NAN;
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
  it->color = bars == 2 ? 6 : p->num_colored++ % 8;
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

int o2o_plot_hline(o2o_plot *p, double y, const char *label) {
  if (!isfinite(y) || add(p, label, 2, &y, 1, &y, NULL, NULL, 1)) return -1;
  p->items[p->num_items - 1].dash = p->num_hlines++ % 3;
  return 0;
}

int o2o_plot_xspan(o2o_plot *p, double x0, double x1, const char *label) {
  if (p->num_spans >= MAX_MARKS || !isfinite(x0) || !isfinite(x1)) return -1;
  p->span_x0[p->num_spans] = x0 < x1 ? x0 : x1;
  p->span_x1[p->num_spans] = x0 < x1 ? x1 : x0;
  snprintf(p->span_label[p->num_spans++], sizeof p->span_label[0], "%s", label ? label : "");
  return 0;
}

int o2o_plot_color(o2o_plot *p, int palette_index) {
  if (p->num_items < 1 || palette_index < 0 || palette_index >= 8) return -1;
  p->items[p->num_items - 1].color = palette_index;
  return 0;
}

int o2o_plot_dash(o2o_plot *p, int style) {
  if (p->num_items < 1 || p->items[p->num_items - 1].bars != 2 || style < 0 || style > 2) return -1;
  p->items[p->num_items - 1].dash = style;
  return 0;
}

void o2o_plot_legend_below(o2o_plot *p, int below) {
  p->legend_below = below != 0;
}

void o2o_plot_xlim(o2o_plot *p, double lo, double hi) {
  p->xlo = lo;
  p->xhi = hi;
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

/* A tick's label; every tick of an axis reaching 1e5 (span = its largest |value|) in
 * thousands ("20k ... 100k", not "20000 ... 100k"). */
static void tick_text(double v, double step, double span, char *buf, size_t n) {
  if (fabs(v) < 1e-9 * step) v = 0; /* no "-0" from a sum of steps */
  if (span >= 1e5 && step >= 1e3 && v != 0)
    snprintf(buf, n, "%gk", v / 1e3);
  else if (step >= 1 || v == 0)
    snprintf(buf, n, "%.0f", v);
  else
    snprintf(buf, n, "%.*f", (int)ceil(-log10(step)), v);
}

static const double dash_main[] = {9, 5}, dash_dot[] = {2, 3}, dash_mix[] = {9, 3, 2, 3};

static void set_hline_dash(cairo_t *cr, int k) {
  if (k % 3 == 0)
    cairo_set_dash(cr, dash_main, 2, 0);
  else if (k % 3 == 1)
    cairo_set_dash(cr, dash_dot, 2, 0);
  else
    cairo_set_dash(cr, dash_mix, 4, 0);
}

/* The legend's sample of item i at (x, y): line, bar or dashed reference. */
static void legend_sample(cairo_t *cr, const item *it, double x, double y) {
  const double *c = palette[it->color];
  cairo_set_source_rgb(cr, c[0], c[1], c[2]);
  if (it->lo) { /* band behind the line, as in the plot */
    cairo_set_source_rgba(cr, c[0], c[1], c[2], 0.18);
    cairo_rectangle(cr, x, y - 9, 22, 10);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, c[0], c[1], c[2]);
  }
  cairo_set_line_width(cr, it->bars == 1 ? 8 : it->bars == 2 ? 1.8 : 2.5);
  if (it->bars == 2) set_hline_dash(cr, it->dash);
  cairo_move_to(cr, x, y - 4);
  cairo_line_to(cr, x + 22, y - 4);
  cairo_stroke(cr);
  cairo_set_dash(cr, NULL, 0, 0);
}

/* Legend rows when laid out under the plot within width w (entries flow and wrap). */
static int legend_rows(const o2o_plot *p, cairo_t *cr, double x0, double w) {
  cairo_text_extents_t te;
  double x = x0;
  int rows = 0;
  for (int i = 0; i < p->num_items; i++) {
    if (!p->items[i].label[0]) continue;
    cairo_text_extents(cr, p->items[i].label, &te);
    double ew = 30 + te.x_advance + 18;
    if (!rows || (x + ew > x0 + w && x > x0)) rows++, x = x0;
    x += ew;
  }
  return rows;
}

/* Draws p into cr at the origin, within p->width x p->height. */
static void render(const o2o_plot *p, cairo_t *cr) {
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (int i = 0; i < p->num_items; i++) {
    const item *it = &p->items[i];
    if (it->bars != 2)
      for (int k = 0; k < it->n + (it->bars == 1); k++)
        grow(it->x[k], &xlo, &xhi);
    for (int k = 0; k < it->n; k++) {
      grow(it->y[k], &ylo, &yhi);
      if (it->lo) grow(it->lo[k], &ylo, &yhi);
      if (it->hi) grow(it->hi[k], &ylo, &yhi);
    }
    if (it->bars == 1) grow(0.0, &ylo, &yhi);
  }
  for (int m = 0; m < p->num_marks; m++)
    grow(p->mark_x[m], &xlo, &xhi);
  for (int m = 0; m < p->num_spans; m++) {
    grow(p->span_x0[m], &xlo, &xhi);
    grow(p->span_x1[m], &xlo, &xhi);
  }
  if (!(xlo <= xhi)) xlo = 0, xhi = 1;
  if (!(ylo <= yhi)) ylo = 0, yhi = 1;
  if (isfinite(p->xlo)) xlo = p->xlo;
  if (isfinite(p->xhi)) xhi = p->xhi;
  if (xhi - xlo < 1e-12) xlo -= 0.5, xhi += 0.5;
  if (yhi - ylo < 1e-12) ylo -= 0.5, yhi += 0.5;
  double pad = 0.05 * (yhi - ylo);
  ylo -= pad, yhi += pad;
  if (isfinite(p->ylo)) ylo = p->ylo;
  if (isfinite(p->yhi)) yhi = p->yhi;

  const double L = 80, R = 20, T = 46;
  cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, 12);
  const int lrows = p->legend_below ? legend_rows(p, cr, L, p->width - L - R) : 0;
  const double B = 62 + (lrows ? 20.0 * lrows + 4 : 0);
  const double pw = p->width - L - R, ph = p->height - T - B;
#define PX(v) (L + ((v)-xlo) / (xhi - xlo) * pw)
#define PY(v) (T + ph - ((v)-ylo) / (yhi - ylo) * ph)
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_rectangle(cr, 0, 0, p->width, p->height);
  cairo_fill(cr);
  /* shaded phases under everything */
  for (int m = 0; m < p->num_spans; m++) {
    if (m % 2) /* the next phase in a warmer grey, so adjacent spans stay apart */
      cairo_set_source_rgb(cr, 0.96, 0.94, 0.90);
    else
      cairo_set_source_rgb(cr, 0.93, 0.93, 0.96);
    double x0 = fmax(PX(p->span_x0[m]), L), x1 = fmin(PX(p->span_x1[m]), L + pw);
    if (x1 > x0) cairo_rectangle(cr, x0, T, x1 - x0, ph);
    cairo_fill(cr);
  }
  /* grid and ticks */
  cairo_set_line_width(cr, 1);
  /* about one x tick per 70 px (labels of 5-6 digits must not touch), 3 to 8 */
  const int want_x = pw / 70 < 3 ? 3 : pw / 70 > 8 ? 8 : (int)(pw / 70);
  double xs = nice_step(xhi - xlo, want_x), ys = nice_step(yhi - ylo, 6);
  char buf[64];
  cairo_text_extents_t te;
  for (double v = ceil(xlo / xs) * xs; v <= xhi + 1e-9 * xs; v += xs) {
    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
    cairo_move_to(cr, PX(v), T);
    cairo_line_to(cr, PX(v), T + ph);
    cairo_stroke(cr);
    tick_text(v, xs, fmax(fabs(xlo), fabs(xhi)), buf, sizeof buf);
    cairo_text_extents(cr, buf, &te);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_move_to(cr, PX(v) - te.width / 2, T + ph + 18);
    cairo_show_text(cr, buf);
  }
  for (double v = ceil(ylo / ys) * ys; v <= yhi + 1e-9 * ys; v += ys) {
    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
    cairo_move_to(cr, L, PY(v));
    cairo_line_to(cr, L + pw, PY(v));
    cairo_stroke(cr);
    tick_text(v, ys, fmax(fabs(ylo), fabs(yhi)), buf, sizeof buf);
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
    const double *c = palette[it->color];
    if (it->bars == 2) {
      cairo_set_source_rgb(cr, c[0], c[1], c[2]);
      cairo_set_line_width(cr, 1.8);
      set_hline_dash(cr, it->dash);
      cairo_move_to(cr, L, PY(it->y[0]));
      cairo_line_to(cr, L + pw, PY(it->y[0]));
      cairo_stroke(cr);
      cairo_set_dash(cr, NULL, 0, 0);
      continue;
    }
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
  /* span labels, then markers (their labels stacked below the spans') */
  cairo_set_font_size(cr, 11);
  for (int m = 0; m < p->num_spans; m++) {
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.4);
    cairo_move_to(cr, fmax(PX(p->span_x0[m]), L) + 4, T + 14 + 13 * m);
    cairo_show_text(cr, p->span_label[m]);
  }
  for (int m = 0; m < p->num_marks; m++) {
    cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
    cairo_set_line_width(cr, 1.2);
    cairo_set_dash(cr, dash_main, 2, 0);
    cairo_move_to(cr, PX(p->mark_x[m]), T);
    cairo_line_to(cr, PX(p->mark_x[m]), T + ph);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_move_to(cr, PX(p->mark_x[m]) + 4, T + 14 + 13 * ((m + p->num_spans) % 3));
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
  cairo_move_to(cr, L + pw / 2 - te.width / 2, T + ph + 42);
  cairo_show_text(cr, p->xlabel);
  cairo_text_extents(cr, p->ylabel, &te);
  cairo_save(cr);
  cairo_move_to(cr, 22, T + ph / 2 + te.width / 2);
  cairo_rotate(cr, -M_PI / 2);
  cairo_show_text(cr, p->ylabel);
  cairo_restore(cr);
  /* legend: labelled items, inside the box at the top left or in rows under the x label */
  cairo_set_font_size(cr, 12);
  double lw = 0;
  int nl = 0;
  for (int i = 0; i < p->num_items; i++)
    if (p->items[i].label[0]) {
      cairo_text_extents(cr, p->items[i].label, &te);
      lw = te.x_advance > lw ? te.x_advance : lw;
      nl++;
    }
  if (!nl) return;
  if (!p->legend_below) {
    double bx = L + 10, by = T + 10 + 13.0 * (p->num_spans + (p->num_marks ? 1 : 0));
    double bw = lw + 44, bh = 18.0 * nl + 8;
    cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
    cairo_rectangle(cr, bx, by, bw, bh);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.7, 0.7, 0.7);
    cairo_stroke(cr);
  }
  double x = L, y = T + ph + 70;
  int row = 0;
  for (int i = 0; i < p->num_items; i++) {
    const item *it = &p->items[i];
    if (!it->label[0]) continue;
    cairo_text_extents(cr, it->label, &te);
    double ex, ey;
    if (p->legend_below) {
      double ew = 30 + te.x_advance + 18;
      if (x + ew > L + pw && x > L) x = L, y += 20;
      ex = x, ey = y;
      x += ew;
    } else {
      ex = L + 18, ey = T + 26 + 13.0 * (p->num_spans + (p->num_marks ? 1 : 0)) + 18.0 * row++;
    }
    legend_sample(cr, it, ex, ey);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    cairo_move_to(cr, ex + 28, ey);
    cairo_show_text(cr, it->label);
  }
#undef PX
#undef PY
}

int o2o_plot_write_png_row(o2o_plot *const *plots, int n, const char *path, char *err,
                           size_t errlen) {
  int w = 0, h = 0;
  for (int i = 0; i < n; i++) {
    w += plots[i]->width;
    h = plots[i]->height > h ? plots[i]->height : h;
  }
  if (n < 1 || w > 16384) {
    snprintf(err, errlen, "%s: %d panels of %d px in all: nothing or too wide to draw", path, n, w);
    return -1;
  }
  cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  cairo_t *cr = cairo_create(s);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  double x = 0;
  for (int i = 0; i < n; i++) {
    cairo_save(cr);
    cairo_translate(cr, x, 0);
    cairo_rectangle(cr, 0, 0, plots[i]->width, plots[i]->height);
    cairo_clip(cr);
    render(plots[i], cr);
    cairo_restore(cr);
    x += plots[i]->width;
  }
  cairo_destroy(cr);
  cairo_status_t st = cairo_surface_write_to_png(s, path);
  cairo_surface_destroy(s);
  if (st != CAIRO_STATUS_SUCCESS) {
    snprintf(err, errlen, "%s: cannot write the PNG: %s", path, cairo_status_to_string(st));
    return -1;
  }
  return 0;
}

int o2o_plot_write_png(o2o_plot *p, const char *path, char *err, size_t errlen) {
  return o2o_plot_write_png_row(&p, 1, path, err, errlen);
}
