/* cmd_bench.c: `o2o bench WHAT`: dispatches to the benchmark programs of the agent side.
 * Simulator benchmarks (raw mj_step vs vecenv, bridge throughput) are o2o-bench-* programs
 * in sim/, because the agent never links MuJoCo. */
#include <stdio.h>
#include <string.h>
#include "cli/o2o_commands.h"
#include "o2o_flags.h"

int o2o_cmd_bench(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "sac")) return o2o_bench_sac(argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "iql")) return o2o_bench_iql(argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "cql")) return o2o_bench_cql(argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "h2o")) return o2o_bench_h2o(argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "dataset")) return o2o_bench_dataset(argc - 1, argv + 1);
  static const char *const names[] = {"sac", "iql", "cql", "h2o", "dataset"};
  int help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
  if (argc >= 2 && !help) {
    const char *near = o2o_flags_suggest(argv[1], names, 5);
    fprintf(stderr, "o2o bench: unknown benchmark '%s'%s%s%s\n", argv[1],
            near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
  }
  fprintf(help ? stdout : stderr,
          "usage: o2o bench sac|iql|cql|h2o|dataset [--help]\n"
          "  sac      SAC updates/s vs the matmul floor (and PyTorch, with --torch)\n"
          "  iql      IQL updates/s vs the matmul floor (and PyTorch, with --torch)\n"
          "  cql      CQL updates/s vs the matmul floor (and PyTorch, with --torch)\n"
          "  h2o      H2O steps/s vs the matmul floor (and PyTorch, with --torch)\n"
          "  dataset  HDF5 read/write throughput of a D4RL-layout file\n"
          "simulator benchmarks: o2o-bench-sim, o2o-bench-bridge\n");
  return help ? 0 : 2;
}
