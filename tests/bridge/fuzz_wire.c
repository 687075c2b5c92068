/* fuzz_wire.c: libFuzzer harness for the message decoder (run tests/bridge/run_fuzz.sh).
 * Input bytes become a multipart message (fuzz_frames.h); the decoder must refuse it with a
 * code and a message or accept it, and every byte it accepts must lie inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_frames.h"
#include "o2o_wire.h"

static volatile unsigned sink; /* keeps the reads of accepted bytes */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  o2o_wire_frame frames[FUZZ_MAX_FRAMES];
  int n = fuzz_split(data, size, frames);
  o2o_wire_msg m;
  char err[512];
  err[0] = 0;
  int rc = o2o_wire_decode(frames, n, &m, err, sizeof err);
  if (rc > 0 || rc <= -O2O_WIRE_NUM_CODES) abort();
  if (rc < 0 && err[0] == 0) abort(); /* every refusal says why */
  if (rc == 0) {
    unsigned sum = 0;
    for (int i = 0; i < m.num_arrays; i++)
      for (size_t k = 0; k < m.arrays[i].size; k++)
        sum += ((const uint8_t *)m.arrays[i].data)[k];
    sink = sum;
    if (m.h.type == O2O_MSG_SPEC) {
      o2o_bridge_spec spec;
      o2o_wire_spec_decode(&m, &spec, err, sizeof err);
    }
  }
  return 0;
}
