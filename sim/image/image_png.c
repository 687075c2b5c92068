/* image_png.c: a small PNG encoder (8-bit RGB, no interlace) on zlib.
 *
 * Each row gets the PNG filter (None/Sub/Up/Average/Paeth) with the smallest sum of
 * absolute residuals, the standard heuristic (libpng's default); zlib's compress2 makes
 * the IDAT stream and crc32 the chunk checksums. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "o2o_image.h"

static int paeth(int a, int b, int c) {
  int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

/* Filter one row (stride bytes) of 3-byte pixels into dst[0] = type, dst[1..stride]. */
static void filter_row(const uint8_t *row, const uint8_t *up, size_t stride, uint8_t *dst,
                       uint8_t *scratch) {
  long best_sum = -1;
  for (int type = 0; type < 5; type++) {
    long sum = 0;
    for (size_t x = 0; x < stride; x++) {
      int a = x >= 3 ? row[x - 3] : 0, b = up ? up[x] : 0, c = (x >= 3 && up) ? up[x - 3] : 0;
      int pred = type == 0   ? 0
                 : type == 1 ? a
                 : type == 2 ? b
                 : type == 3 ? (a + b) / 2
                             : paeth(a, b, c);
      uint8_t v = (uint8_t)(row[x] - pred);
      scratch[x] = v;
      sum += v < 128 ? v : 256 - v;
    }
    if (best_sum < 0 || sum < best_sum) {
      best_sum = sum;
      dst[0] = (uint8_t)type;
      memcpy(dst + 1, scratch, stride);
    }
  }
}

static uint8_t *put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
  return p + 4;
}

/* One chunk at p: length, type, data (already at p + 8), CRC over type and data. */
static uint8_t *put_chunk(uint8_t *p, const char type[4], size_t len) {
  put_be32(p, (uint32_t)len);
  memcpy(p + 4, type, 4);
  uLong crc = crc32(crc32(0L, Z_NULL, 0), p + 4, (uInt)(len + 4));
  return put_be32(p + 8 + len, (uint32_t)crc);
}

int o2o_png_encode(const uint8_t *rgb, int width, int height, uint8_t **out, size_t *out_len,
                   char *err, size_t errlen) {
  *out = NULL;
  *out_len = 0;
  /* 16384 x 16384 keeps every length well inside zlib's uLong/uInt and PNG's 2^31. */
  if (!rgb || width < 1 || height < 1 || width > 16384 || height > 16384) {
    snprintf(err, errlen, "PNG: bad image %dx%d (1..16384 per side)", width, height);
    return -1;
  }
  size_t stride = (size_t)width * 3, raw_len = (stride + 1) * (size_t)height;
  uLong bound = compressBound((uLong)raw_len);
  size_t cap = 8 + (12 + 13) + (12 + bound) + 12;
  uint8_t *raw = malloc(raw_len), *scratch = malloc(stride), *png = malloc(cap);
  if (!raw || !scratch || !png) {
    snprintf(err, errlen, "PNG: out of memory for a %dx%d image", width, height);
    goto fail;
  }
  for (int y = 0; y < height; y++)
    filter_row(rgb + (size_t)y * stride, y ? rgb + (size_t)(y - 1) * stride : NULL, stride,
               raw + (size_t)y * (stride + 1), scratch);

  static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  memcpy(png, signature, 8);
  uint8_t *p = png + 8, *ihdr = p + 8;
  put_be32(ihdr, (uint32_t)width);
  put_be32(ihdr + 4, (uint32_t)height);
  ihdr[8] = 8;  /* bit depth */
  ihdr[9] = 2;  /* colour type RGB */
  ihdr[10] = 0; /* compression, filter, interlace */
  ihdr[11] = 0;
  ihdr[12] = 0;
  p = put_chunk(p, "IHDR", 13);

  uLongf zlen = bound;
  /* Level 6 (zlib's default): rendered frames shrink 10x or more at ~1 ms per 480x480. */
  int zrc = compress2(p + 8, &zlen, raw, (uLong)raw_len, 6);
  if (zrc != Z_OK) {
    snprintf(err, errlen, "PNG: zlib compress2 failed (%s) for a %dx%d image", zError(zrc), width,
             height);
    goto fail;
  }
  p = put_chunk(p, "IDAT", zlen);
  p = put_chunk(p, "IEND", 0);
  free(raw);
  free(scratch);
  *out = png;
  *out_len = (size_t)(p - png);
  return 0;
fail:
  free(raw);
  free(scratch);
  free(png);
  return -1;
}

int o2o_png_write(const char *path, const uint8_t *rgb, int width, int height, char *err,
                  size_t errlen) {
  uint8_t *png;
  size_t len;
  if (o2o_png_encode(rgb, width, height, &png, &len, err, errlen)) return -1;
  FILE *f = fopen(path, "wb");
  if (!f) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    free(png);
    return -1;
  }
  size_t n = fwrite(png, 1, len, f);
  int close_rc = fclose(f);
  free(png);
  if (n != len || close_rc) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}
