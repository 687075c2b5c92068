/* o2o: the agent program. Dispatches to one subcommand per cmd_*.c file. */
#include <stdio.h>
#include <string.h>

#include "nn/blas_setup.h"
#include "cli/o2o_commands.h"
#include "io/json_out.h"
#include "o2o_flags.h"
#include "o2o_version.h"

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} o2o_command;

static const o2o_command commands[] = {
    {"run", o2o_cmd_run,
     "run an experiment end to end: pretrain, warm start, fine-tune, baselines"},
    {"report", o2o_cmd_report, "report.html/.png + summary.csv of an o2o run folder (partial too)"},
    {"train-online", o2o_cmd_train_online, "train SAC online on a scenario (through o2o-sim)"},
    {"train-offline", o2o_cmd_train_offline, "pretrain IQL/CQL/Cal-QL on a dataset (eval on real)"},
    {"eval", o2o_cmd_eval, "run deterministic episodes of a checkpoint and report returns"},
    {"collect", o2o_cmd_collect, "record a D4RL-layout HDF5 dataset with a policy"},
    {"dataset", o2o_cmd_dataset, "inspect a dataset: o2o dataset info FILE [--json]"},
    {"gap", o2o_cmd_gap, "measure a simulator variant's dynamics gap against a real dataset"},
    {"render", o2o_cmd_render, "record rollouts of a policy as .mp4 or PNG frames"},
    {"bench", o2o_cmd_bench, "benchmarks (SAC updates/s, dataset I/O) with ratios"},
    {"scenarios", o2o_cmd_scenarios, "list the scenarios: task, description, the sim gap"},
};
static const int num_commands = (int)(sizeof(commands) / sizeof(commands[0]));

static void usage(FILE *f) {
  fprintf(f, "usage: o2o COMMAND [ARGS...]   (o2o COMMAND --help for its flags)\n\ncommands:\n");
  for (int i = 0; i < num_commands; i++)
    fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\n  --version     print the version\n  --help        this text\n");
}

int main(int argc, char **argv) {
  o2o_blas_setup(argc, argv); /* first: may re-execute with a fast OpenBLAS kernel */
  o2o_json_set_invocation(argc, argv);
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
    printf("o2o %s\n", O2O_VERSION);
    return 0;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  for (int i = 0; i < num_commands; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  const char *names[sizeof commands / sizeof commands[0]];
  for (int i = 0; i < num_commands; i++)
    names[i] = commands[i].name;
  const char *near[sizeof commands / sizeof commands[0]];
  int k = o2o_flags_suggest_all(argv[1], names, num_commands, near, num_commands);
  fprintf(stderr, "o2o: unknown command '%s'", argv[1]);
  for (int i = 0; i < k; i++) /* "trian": both train-online and train-offline */
    fprintf(stderr, "%s%s", i == 0 ? " (did you mean " : i + 1 < k ? ", " : " or ", near[i]);
  fprintf(stderr, "%s\n\n", k ? "?)" : "");
  usage(stderr);
  return 2;
}
