/* o2o_commands.h: the subcommands of the `o2o` program, one cmd_*.c file each.
 * Each takes the arguments after its own name (argv[0] is the subcommand name) and
 * returns the process exit code: 0 ok, 1 failure, 2 usage error. */
#pragma once

int o2o_cmd_train_online(int argc, char **argv);  /* cmd_train.c   SAC online training */
int o2o_cmd_train_offline(int argc, char **argv); /* cmd_train_offline.c offline pretraining */
int o2o_cmd_run(int argc, char **argv);           /* cmd_run.c     experiment end to end */
int o2o_cmd_eval(int argc, char **argv);          /* cmd_eval.c    deterministic episodes */
int o2o_cmd_collect(int argc, char **argv);       /* cmd_collect.c record a dataset */
int o2o_cmd_dataset(int argc, char **argv);       /* cmd_dataset.c dataset info */
int o2o_cmd_gap(int argc, char **argv);           /* cmd_gap.c     measured dynamics gap */
int o2o_cmd_report(int argc, char **argv);        /* cmd_report.c  report of a run folder */
int o2o_cmd_render(int argc, char **argv);        /* cmd_render.c  rollout frames/video */
int o2o_cmd_scenarios(int argc, char **argv);     /* cmd_scenarios.c the scenario list */
int o2o_cmd_bench(int argc, char **argv);         /* cmd_bench.c   benchmarks (dispatch) */
int o2o_bench_sac(int argc, char **argv);         /* cmd_bench_sac.c     SAC updates/s vs floor */
int o2o_bench_dataset(int argc, char **argv);     /* cmd_bench_dataset.c HDF5 read/write speed */
int o2o_bench_iql(int argc, char **argv);         /* cmd_bench_iql.c     IQL updates/s vs floor */
int o2o_bench_cql(int argc, char **argv);         /* cmd_bench_cql.c     CQL updates/s vs floor */
int o2o_bench_h2o(int argc, char **argv);         /* cmd_bench_h2o.c     H2O steps/s vs floor */
