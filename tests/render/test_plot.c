/* test_plot.c: figures drawn with cairo (sim/image/o2o_plot.h): the PNG has the asked size,
 * a series and its band put colour where the data are (and nowhere else in an empty plot),
 * an unwritable path is an error naming the file; reference lines, shaded spans, fixed
 * colours, a forced x range, the legend under the axes and panels side by side land where
 * they should. */
#include <cairo.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "o2o_plot.h"

/* non-grey pixels (a palette colour) in the PNG at path */
static int coloured(const char *path, int *w, int *h) {
  cairo_surface_t *s = cairo_image_surface_create_from_png(path);
  cr_assert_eq(cairo_surface_status(s), CAIRO_STATUS_SUCCESS, "%s does not load", path);
  *w = cairo_image_surface_get_width(s);
  *h = cairo_image_surface_get_height(s);
  const unsigned char *d = cairo_image_surface_get_data(s);
  int stride = cairo_image_surface_get_stride(s), n = 0;
  for (int y = 0; y < *h; y++)
    for (int x = 0; x < *w; x++) {
      const unsigned char *p = d + y * stride + 4 * x; /* B G R A */
      int mx = p[0] > p[1] ? (p[0] > p[2] ? p[0] : p[2]) : (p[1] > p[2] ? p[1] : p[2]);
      int mn = p[0] < p[1] ? (p[0] < p[2] ? p[0] : p[2]) : (p[1] < p[2] ? p[1] : p[2]);
      n += mx - mn > 60;
    }
  cairo_surface_destroy(s);
  return n;
}

Test(plot, series_band_and_markers_make_a_png_of_the_asked_size) {
  char path[] = "/tmp/o2o_test_plot_XXXXXX.png";
  int fd = mkstemps(path, 4);
  cr_assert_geq(fd, 0);
  close(fd);
  char err[256] = "";
  o2o_plot *empty = o2o_plot_create(640, 360, "empty", "x", "y");
  cr_assert_eq(o2o_plot_write_png(empty, path, err, sizeof err), 0, "%s", err);
  int w, h;
  cr_assert_eq(coloured(path, &w, &h), 0, "an empty plot has no data colour");
  cr_assert(w == 640 && h == 360);
  o2o_plot_destroy(empty);

  double x[50], y[50], lo[50], hi[50];
  for (int i = 0; i < 50; i++) {
    x[i] = 1000.0 * i;
    y[i] = sin(i / 8.0) * 100;
    lo[i] = y[i] - 20, hi[i] = y[i] + 20;
  }
  y[25] = NAN; /* a gap */
  o2o_plot *p = o2o_plot_create(800, 400, "curves", "env steps", "return");
  cr_assert_eq(o2o_plot_series(p, "method", x, y, lo, hi, 50), 0);
  cr_assert_eq(o2o_plot_vline(p, 5000, "warm start"), 0);
  cr_assert_eq(o2o_plot_write_png(p, path, err, sizeof err), 0, "%s", err);
  int n = coloured(path, &w, &h);
  cr_assert(w == 800 && h == 400);
  cr_assert_gt(n, 2000, "the line and its band are drawn (%d coloured pixels)", n);
  cr_assert_neq(o2o_plot_write_png(p, "/nonexistent-dir/x.png", err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "/nonexistent-dir/x.png"), "%s", err);
  o2o_plot_destroy(p);
  cr_assert_null(o2o_plot_create(10, 10, "", "", ""), "absurd sizes are refused");
  unlink(path);
}

typedef struct {
  cairo_surface_t *s;
  const unsigned char *d;
  int w, h, stride;
} png_img;

static png_img load(const char *path) {
  png_img im = {.s = cairo_image_surface_create_from_png(path)};
  cr_assert_eq(cairo_surface_status(im.s), CAIRO_STATUS_SUCCESS, "%s does not load", path);
  im.d = cairo_image_surface_get_data(im.s);
  im.w = cairo_image_surface_get_width(im.s);
  im.h = cairo_image_surface_get_height(im.s);
  im.stride = cairo_image_surface_get_stride(im.s);
  return im;
}

/* pixel (x, y) is within tol of the RGB colour c (0..255 each) */
static int near(const png_img *im, int x, int y, const int c[3], int tol) {
  const unsigned char *p = im->d + y * im->stride + 4 * x; /* B G R A */
  return abs(p[2] - c[0]) < tol && abs(p[1] - c[1]) < tol && abs(p[0] - c[2]) < tol;
}

static int is(const png_img *im, int x, int y, const int c[3]) {
  return near(im, x, y, c, 40);
}

/* rows holding a pixel of colour c, between x0 and x1: count, and the lowest and highest */
static int rows_with(const png_img *im, const int c[3], int x0, int x1, int *ymin, int *ymax) {
  int n = 0;
  *ymin = im->h, *ymax = -1;
  for (int y = 0; y < im->h; y++) {
    int hit = 0;
    for (int x = x0; x < x1 && !hit; x++)
      hit = is(im, x, y, c);
    if (hit) n++, *ymin = y < *ymin ? y : *ymin, *ymax = y > *ymax ? y : *ymax;
  }
  return n;
}

Test(plot, reference_lines_spans_colours_legend_below_and_panels) {
  char path[] = "/tmp/o2o_test_plot_XXXXXX.png";
  int fd = mkstemps(path, 4);
  cr_assert_geq(fd, 0);
  close(fd);
  char err[256] = "";
  const int vermillion[3] = {204, 102, 0}, blue[3] = {0, 115, 178}, shade[3] = {237, 237, 245};
  double x[2] = {0, 10000}, y[2] = {0, 100};
  for (int below = 0; below <= 1; below++) {
    o2o_plot *p = o2o_plot_create(600, 300, "refs", "env steps", "return");
    cr_assert_eq(o2o_plot_series(p, "", x, y, NULL, NULL, 2), 0); /* unlabelled: no legend */
    cr_assert_eq(o2o_plot_color(p, 0), 0);
    cr_assert_neq(o2o_plot_dash(p, 1), 0, "a series has no dash style");
    cr_assert_eq(o2o_plot_hline(p, 50, "offline"), 0);
    cr_assert_eq(o2o_plot_color(p, 3), 0);
    cr_assert_neq(o2o_plot_color(p, 8), 0, "palette index out of range");
    cr_assert_eq(o2o_plot_dash(p, 2), 0);
    cr_assert_neq(o2o_plot_dash(p, 3), 0, "no such style");
    cr_assert_eq(o2o_plot_xspan(p, 0, 5000, "warm-up"), 0);
    o2o_plot_legend_below(p, below);
    cr_assert_eq(o2o_plot_write_png(p, path, err, sizeof err), 0, "%s", err);
    o2o_plot_destroy(p);
    png_img im = load(path);
    int y0, y1;
    /* the axes box spans x 80..580; its right half (x > 330) has no span, no legend */
    int n = rows_with(&im, vermillion, 400, 560, &y0, &y1);
    cr_assert(n >= 1 && n <= 3, "the reference line is one horizontal line (%d rows)", n);
    int mid = y0;
    n = rows_with(&im, vermillion, 80, 300, &y0, &y1);
    if (below)
      cr_assert_gt(y1, mid + 40, "the legend's sample is under the axes (%d vs line %d)", y1, mid);
    else
      cr_assert_lt(y0, mid - 40, "the legend's sample is at the top inside (%d vs %d)", y0, mid);
    cr_assert_gt(rows_with(&im, blue, 80, 580, &y0, &y1), 100, "the series keeps colour 0");
    /* the span shades the left half of the axes box (x 80..330) and not the right */
    int shaded_left = 0, shaded_right = 0;
    for (int yy = 60; yy < 200; yy++)
      shaded_left += near(&im, 200, yy, shade, 5), shaded_right += near(&im, 450, yy, shade, 5);
    cr_assert_gt(shaded_left, 50, "warm-up span shaded (%d)", shaded_left);
    cr_assert_eq(shaded_right, 0, "nothing shaded past the span");
    cairo_surface_destroy(im.s);
  }
  /* xlim: a series over 5000..10000 with the axis forced to start at 0 fills the right half */
  double x2[2] = {5000, 10000};
  o2o_plot *xl = o2o_plot_create(600, 300, "xlim", "env steps", "return");
  cr_assert_eq(o2o_plot_series(xl, "", x2, y, NULL, NULL, 2), 0);
  o2o_plot_xlim(xl, 0, NAN);
  cr_assert_eq(o2o_plot_write_png(xl, path, err, sizeof err), 0, "%s", err);
  o2o_plot_destroy(xl);
  {
    png_img im = load(path);
    int y0, y1;
    cr_assert_eq(rows_with(&im, blue, 85, 320, &y0, &y1), 0, "nothing left of x = 5000");
    cr_assert_gt(rows_with(&im, blue, 340, 575, &y0, &y1), 100, "the series on the right half");
    cairo_surface_destroy(im.s);
  }
  o2o_plot *two[2] = {o2o_plot_create(500, 300, "a", "x", "y"),
                      o2o_plot_create(300, 320, "b", "x", "y")};
  cr_assert_eq(o2o_plot_series(two[1], "b", x, y, NULL, NULL, 2), 0);
  cr_assert_eq(o2o_plot_write_png_row(two, 2, path, err, sizeof err), 0, "%s", err);
  png_img im = load(path);
  cr_assert(im.w == 800 && im.h == 320, "panels side by side: %dx%d", im.w, im.h);
  int y0, y1;
  cr_assert_eq(rows_with(&im, blue, 0, 500, &y0, &y1), 0, "panel a has no data");
  cr_assert_gt(rows_with(&im, blue, 500, 800, &y0, &y1), 50, "panel b's series is on the right");
  cairo_surface_destroy(im.s);
  o2o_plot_destroy(two[0]);
  o2o_plot_destroy(two[1]);
  unlink(path);
}
