/* o2o_plot.h: figures for people (report curves, error histograms) drawn with cairo: one
 * axes box with nice ticks, any number of line series (each with an optional band, e.g. the
 * spread over seeds), bar histograms, labelled vertical markers (phase boundaries), shaded
 * x ranges (phases), horizontal reference lines (baselines) and a legend; written as PNG,
 * alone or several panels side by side.
 *
 *   o2o_plot *p = o2o_plot_create(900, 500, "hopper-gravity", "env steps", "return");
 *   o2o_plot_series(p, "H2O", x, mean, lo, hi, n);   // lo/hi NULL: no band
 *   o2o_plot_vline(p, 5000, "warm start");
 *   o2o_plot_write_png(p, "report.png", err, sizeof err);
 *   o2o_plot_destroy(p);
 *
 * Axes fit every series, band, bar, marker, span and reference line added (plus a margin);
 * NaN points are gaps. */
#pragma once
#include <stddef.h>

typedef struct o2o_plot o2o_plot;

o2o_plot *o2o_plot_create(int width, int height, const char *title, const char *xlabel,
                          const char *ylabel);
void o2o_plot_destroy(o2o_plot *p); /* NULL is fine */

/* A line through (x[i], y[i]); with lo and hi, a translucent band between them. Colours
 * follow a fixed palette in the order series are added. Returns 0, or -1 when full (16). */
int o2o_plot_series(o2o_plot *p, const char *label, const double *x, const double *y,
                    const double *lo, const double *hi, int n);
/* Bars over [edges[i], edges[i + 1]) with heights counts[i], i < bins. */
int o2o_plot_bars(o2o_plot *p, const char *label, const double *edges, const double *counts,
                  int bins);
/* A dashed vertical line at x with a label at its top. */
int o2o_plot_vline(o2o_plot *p, double x, const char *label);
/* A horizontal reference line at y (a baseline score), dashed, listed in the legend. The
 * first is dashed, the next dotted, and so on; dark grey unless o2o_plot_color says. */
int o2o_plot_hline(o2o_plot *p, double y, const char *label);
/* The line style of the hline added last: 0 dashed, 1 dotted, 2 dash-dot (so a reference
 * keeps its style across panels). Returns 0, or -1 when the last item is not an hline. */
int o2o_plot_dash(o2o_plot *p, int style);
/* A shaded x range [x0, x1] (a phase, e.g. warm-up) with its label at the top inside. */
int o2o_plot_xspan(o2o_plot *p, double x0, double x1, const char *label);
/* Palette colour (0..7, Okabe-Ito order: blue, orange, green, vermillion, sky blue, reddish
 * purple, grey, yellow) of the series, bars or hline added last, so a method keeps its colour
 * whichever others are present. Returns 0, or -1 when nothing was added or out of range. */
int o2o_plot_color(o2o_plot *p, int palette_index);
/* Legend in rows under the x label (1) instead of inside the axes at the top left (0). */
void o2o_plot_legend_below(o2o_plot *p, int below);
/* Force the x range (e.g. 0 at the left of a curve over env steps); NAN keeps the automatic
 * bound. */
void o2o_plot_xlim(o2o_plot *p, double lo, double hi);
/* Force the y range (e.g. 0 at the bottom of a histogram); NAN keeps the automatic bound. */
void o2o_plot_ylim(o2o_plot *p, double lo, double hi);

/* Render and write the PNG. Returns 0, or -1 with err naming the file. */
int o2o_plot_write_png(o2o_plot *p, const char *path, char *err, size_t errlen);
/* n panels side by side in one PNG: widths add up, the height is the tallest panel's. */
int o2o_plot_write_png_row(o2o_plot *const *plots, int n, const char *path, char *err,
                           size_t errlen);
