/* cmd_bench_dataset.c: placeholder until its issue lands; the owning helper replaces this file. */
#include <stdio.h>
#include "o2o_commands.h"

int o2o_bench_dataset(int argc, char **argv) {
  (void)argc;
  fprintf(stderr, "o2o bench %s: not built yet\n", argv[0]);
  return 1;
}
