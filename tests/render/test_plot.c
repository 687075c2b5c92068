/* test_plot.c: figures drawn with cairo (sim/image/o2o_plot.h): the PNG has the asked size,
 * a series and its band put colour where the data are (and nowhere else in an empty plot),
 * and an unwritable path is an error naming the file. */
#include <cairo.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
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
