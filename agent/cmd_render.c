/* cmd_render.c: placeholder until its issue lands; the owning helper replaces this file. */
#include <stdio.h>
#include "o2o_commands.h"

int o2o_cmd_render(int argc, char **argv) {
  (void)argc;
  fprintf(stderr, "o2o %s: not built yet\n", argv[0]);
  return 1;
}
