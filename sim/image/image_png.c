/* image_png.c: a small PNG encoder (8-bit RGB, no interlace).
 *
 * Each row gets the PNG filter (None/Sub/Up/Average/Paeth) with the smallest sum of
 * absolute residuals, the standard heuristic. The filtered bytes are compressed with
 * LZ77 (hash chains over a 32 KiB window) and deflate's fixed Huffman codes, which is
 * enough for rendered frames (large flat regions) to shrink 10x or more, and kept in one
 * final deflate block inside a zlib stream (RFC 1950/1951). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "o2o_image.h"

/* ---- checksums ------------------------------------------------------------------------ */

static uint32_t crc_table[256];
static int crc_ready;

uint32_t o2o_crc32(uint32_t crc, const uint8_t *p, size_t n) {
  if (!crc_ready) {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++)
        c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      crc_table[i] = c;
    }
    crc_ready = 1;
  }
  crc = ~crc;
  for (size_t i = 0; i < n; i++)
    crc = crc_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

uint32_t o2o_adler32(uint32_t adler, const uint8_t *p, size_t n) {
  uint32_t a = adler & 0xFFFF, b = adler >> 16;
  while (n > 0) {
    size_t chunk = n < 5552 ? n : 5552; /* largest run without 32-bit overflow */
    for (size_t i = 0; i < chunk; i++) {
      a += p[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
    p += chunk;
    n -= chunk;
  }
  return (b << 16) | a;
}

/* ---- growable byte buffer and LSB-first bit writer ------------------------------------ */

typedef struct {
  uint8_t *data;
  size_t len, cap;
  int failed;
  uint64_t bits;
  int nbits;
} bytebuf;

static void buf_reserve(bytebuf *b, size_t extra) {
  if (b->failed || b->len + extra <= b->cap) return;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + extra)
    cap *= 2;
  uint8_t *p = realloc(b->data, cap);
  if (!p) {
    b->failed = 1;
    return;
  }
  b->data = p;
  b->cap = cap;
}

static void buf_put(bytebuf *b, const void *p, size_t n) {
  buf_reserve(b, n);
  if (b->failed) return;
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

static void buf_be32(bytebuf *b, uint32_t v) {
  uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
  buf_put(b, x, 4);
}

static void put_bits(bytebuf *b, uint32_t value, int n) {
  b->bits |= (uint64_t)value << b->nbits;
  b->nbits += n;
  if (b->nbits >= 32) {
    uint8_t x[4] = {(uint8_t)b->bits, (uint8_t)(b->bits >> 8), (uint8_t)(b->bits >> 16),
                    (uint8_t)(b->bits >> 24)};
    buf_put(b, x, 4);
    b->bits >>= 32;
    b->nbits -= 32;
  }
}

static void flush_bits(bytebuf *b) {
  while (b->nbits > 0) {
    uint8_t x = (uint8_t)b->bits;
    buf_put(b, &x, 1);
    b->bits >>= 8;
    b->nbits -= 8;
  }
  b->bits = 0;
  b->nbits = 0;
}

/* Huffman codes are defined MSB-first but the stream is LSB-first: reverse them. */
static void put_code(bytebuf *b, uint32_t code, int len) {
  uint32_t r = 0;
  for (int i = 0; i < len; i++)
    r |= ((code >> i) & 1u) << (len - 1 - i);
  put_bits(b, r, len);
}

/* Fixed Huffman code of a literal/length symbol 0..287 (RFC 1951 3.2.6). */
static void put_litlen(bytebuf *b, int sym) {
  if (sym < 144)
    put_code(b, 0x30u + (uint32_t)sym, 8);
  else if (sym < 256)
    put_code(b, 0x190u + (uint32_t)(sym - 144), 9);
  else if (sym < 280)
    put_code(b, (uint32_t)(sym - 256), 7);
  else
    put_code(b, 0xC0u + (uint32_t)(sym - 280), 8);
}

static const uint16_t len_base[29] = {3,  4,  5,  6,   7,   8,   9,   10,  11, 13,
                                      15, 17, 19, 23,  27,  31,  35,  43,  51, 59,
                                      67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t dist_base[30] = {
    1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
    193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                       6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

static void put_match(bytebuf *b, int length, int distance) {
  int lc = 28;
  while (len_base[lc] > length)
    lc--;
  put_litlen(b, 257 + lc);
  if (len_extra[lc]) put_bits(b, (uint32_t)(length - len_base[lc]), len_extra[lc]);
  int dc = 29;
  while (dist_base[dc] > distance)
    dc--;
  put_code(b, (uint32_t)dc, 5);
  if (dist_extra[dc]) put_bits(b, (uint32_t)(distance - dist_base[dc]), dist_extra[dc]);
}

/* ---- LZ77 + fixed Huffman, one final block -------------------------------------------- */

#define WINDOW 32768
#define HASH_BITS 15
#define MAX_CHAIN 16
#define MIN_MATCH 3
#define MAX_MATCH 258

static int deflate_fixed(bytebuf *out, const uint8_t *src, size_t n) {
  int32_t *head = malloc(sizeof(int32_t) << HASH_BITS);
  int32_t *prev = malloc(sizeof(int32_t) * WINDOW);
  if (!head || !prev) {
    free(head);
    free(prev);
    return -1;
  }
  for (size_t i = 0; i < ((size_t)1 << HASH_BITS); i++)
    head[i] = -1;
  put_bits(out, 1, 1); /* BFINAL */
  put_bits(out, 1, 2); /* BTYPE = 01, fixed Huffman */
  size_t i = 0;
  while (i < n) {
    int best_len = 0, best_dist = 0;
    if (i + MIN_MATCH <= n) {
      uint32_t h =
          ((uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2]) * 2654435761u >>
          (32 - HASH_BITS);
      int32_t cand = head[h];
      size_t max_len = n - i < MAX_MATCH ? n - i : MAX_MATCH;
      for (int chain = 0; cand >= 0 && chain < MAX_CHAIN; chain++) {
        size_t dist = i - (size_t)cand;
        if (dist > WINDOW - 1) break;
        const uint8_t *a = src + cand, *b = src + i;
        size_t len = 0;
        while (len < max_len && a[len] == b[len])
          len++;
        if ((int)len > best_len) {
          best_len = (int)len;
          best_dist = (int)dist;
          if (len == max_len) break;
        }
        int32_t next = prev[cand % WINDOW];
        if (next >= cand) break; /* stale slot from an older pass through the window */
        cand = next;
      }
      prev[i % WINDOW] = head[h];
      head[h] = (int32_t)i;
    }
    if (best_len >= MIN_MATCH) {
      put_match(out, best_len, best_dist);
      /* Insert the skipped positions so later matches can find them. */
      for (size_t k = i + 1; k < i + (size_t)best_len && k + MIN_MATCH <= n; k++) {
        uint32_t h =
            ((uint32_t)src[k] << 16 | (uint32_t)src[k + 1] << 8 | src[k + 2]) * 2654435761u >>
            (32 - HASH_BITS);
        prev[k % WINDOW] = head[h];
        head[h] = (int32_t)k;
      }
      i += (size_t)best_len;
    } else {
      put_litlen(out, src[i]);
      i++;
    }
  }
  put_litlen(out, 256); /* end of block */
  flush_bits(out);
  free(head);
  free(prev);
  return out->failed ? -1 : 0;
}

/* ---- PNG filters ---------------------------------------------------------------------- */

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

int o2o_png_encode(const uint8_t *rgb, int width, int height, uint8_t **out, size_t *out_len,
                   char *err, size_t errlen) {
  *out = NULL;
  *out_len = 0;
  if (!rgb || width < 1 || height < 1 || width > 65535 || height > 65535) {
    snprintf(err, errlen, "PNG: bad image %dx%d", width, height);
    return -1;
  }
  size_t stride = (size_t)width * 3, raw_len = (stride + 1) * (size_t)height;
  uint8_t *raw = malloc(raw_len), *scratch = malloc(stride);
  bytebuf png = {0};
  if (!raw || !scratch) goto oom;
  for (int y = 0; y < height; y++)
    filter_row(rgb + (size_t)y * stride, y ? rgb + (size_t)(y - 1) * stride : NULL, stride,
               raw + (size_t)y * (stride + 1), scratch);

  static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  buf_put(&png, signature, 8);
  uint8_t ihdr[17] = {'I', 'H', 'D', 'R'};
  for (int k = 0; k < 4; k++) {
    ihdr[4 + k] = (uint8_t)((uint32_t)width >> (24 - 8 * k));
    ihdr[8 + k] = (uint8_t)((uint32_t)height >> (24 - 8 * k));
  }
  ihdr[12] = 8; /* bit depth */
  ihdr[13] = 2; /* colour type RGB; compression, filter, interlace = 0 */
  buf_be32(&png, 13);
  buf_put(&png, ihdr, 17);
  buf_be32(&png, o2o_crc32(0, ihdr, 17));

  /* IDAT: length placeholder, type, zlib stream, CRC. */
  size_t idat_at = png.len;
  buf_be32(&png, 0);
  buf_put(&png, "IDAT", 4);
  static const uint8_t zlib_header[2] = {0x78, 0x01}; /* deflate, 32K window, check bits */
  buf_put(&png, zlib_header, 2);
  if (deflate_fixed(&png, raw, raw_len)) goto oom;
  buf_be32(&png, o2o_adler32(1, raw, raw_len));
  if (png.failed) goto oom;
  size_t idat_len = png.len - idat_at - 8;
  if (idat_len > 0x7FFFFFFFu) {
    snprintf(err, errlen, "PNG: image data too large (%zu bytes)", idat_len);
    goto fail;
  }
  for (int k = 0; k < 4; k++)
    png.data[idat_at + k] = (uint8_t)(idat_len >> (24 - 8 * k));
  buf_be32(&png, o2o_crc32(0, png.data + idat_at + 4, idat_len + 4));
  static const uint8_t iend[4] = {'I', 'E', 'N', 'D'};
  buf_be32(&png, 0);
  buf_put(&png, iend, 4);
  buf_be32(&png, o2o_crc32(0, iend, 4));
  if (png.failed) goto oom;
  free(raw);
  free(scratch);
  *out = png.data;
  *out_len = png.len;
  return 0;
oom:
  snprintf(err, errlen, "PNG: out of memory for a %dx%d image", width, height);
fail:
  free(raw);
  free(scratch);
  free(png.data);
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
