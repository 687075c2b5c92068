/* cmd_bench_sac.c: placeholder until its issue lands; the owning helper replaces this file. */
#include <stdio.h>
#include "o2o_commands.h"

int o2o_bench_sac(int argc, char **argv) {
  (void)argc;
  fprintf(stderr, "o2o bench %s: not built yet\n", argv[0]);
  return 1;
}
