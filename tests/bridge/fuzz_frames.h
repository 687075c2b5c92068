/* fuzz_frames.h: how fuzzer input bytes become a multipart message (shared by the libFuzzer
 * harness and the corpus replay test). Byte 0 = number of frames (mod 16); each frame is a
 * u16 little-endian length followed by that many bytes, cut short at the end of the input. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "o2o_wire.h"

#define FUZZ_MAX_FRAMES 16

static inline int fuzz_split(const uint8_t *data, size_t size, o2o_wire_frame *frames) {
  if (size == 0) return 0;
  int n = data[0] % FUZZ_MAX_FRAMES;
  size_t pos = 1;
  for (int i = 0; i < n; i++) {
    size_t len = 0;
    if (pos + 2 <= size) len = (size_t)data[pos] | ((size_t)data[pos + 1] << 8);
    pos = pos + 2 <= size ? pos + 2 : size;
    if (len > size - pos) len = size - pos;
    frames[i].data = data + pos;
    frames[i].size = len;
    pos += len;
  }
  return n;
}
