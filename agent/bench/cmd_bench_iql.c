/* cmd_bench_iql.c: `o2o bench iql` - IQL updates/s (learner "iql") against the matmul-only
 * floor of the reference update and agent/bench/torch/torch_iql.py (bench_learner.c runs it).
 * The reference is the official order of ikostrikov/implicit_q_learning: V step on the target
 * critics' min, then the new V on s and s' for the advantages and the Q target, actor (AWR)
 * step, critic step, Polyak. */
#include "bench/bench_common.h"
#include "cli/o2o_commands.h"
#include "learn/iql.h"

static int floor_build(o2o_bench_floor *f, const void *cfg, int O, int A) {
  const o2o_iql_config *c = cfg;
  const int nl = c->layers + 1, B = c->batch_size;
  int V[16], Q[16], P[16], rc = 0;
  if (nl >= 15 || o2o_bench_floor_init(f, 20 * nl)) return -1;
  o2o_bench_dims(O, c->hidden, c->layers, 1, V);
  o2o_bench_dims(O + A, c->hidden, c->layers, 1, Q);
  o2o_bench_dims(O, c->hidden, c->layers, A, P);
  for (int k = 0; k < 2; k++) /* target critics on (s, a) */
    rc |= o2o_bench_floor_mlp(f, Q, nl, B, 1, 0, 0);
  rc |= o2o_bench_floor_mlp(f, V, nl, B, 1, 1, 0); /* V step */
  rc |= o2o_bench_floor_mlp(f, V, nl, B, 1, 0, 0); /* new V(s) */
  rc |= o2o_bench_floor_mlp(f, V, nl, B, 1, 0, 0); /* new V(s') */
  rc |= o2o_bench_floor_mlp(f, P, nl, B, 1, 1, 0); /* actor step */
  for (int k = 0; k < 2; k++)                      /* critic step */
    rc |= o2o_bench_floor_mlp(f, Q, nl, B, 1, 1, 0);
  return rc;
}

/* iql.c: target critics on B rows, V forward + backward on B, V forward on [s; s'] (2B),
 * actor forward + backward on B, critics forward + backward on B (2 critics each). */
static double o2o_flop(const void *cfg, int O, int A) {
  const o2o_iql_config *c = cfg;
  const int nl = c->layers + 1, B = c->batch_size;
  int V[16], Q[16], P[16];
  o2o_bench_dims(O, c->hidden, c->layers, 1, V);
  o2o_bench_dims(O + A, c->hidden, c->layers, 1, Q);
  o2o_bench_dims(O, c->hidden, c->layers, A, P);
  return 2 * o2o_bench_mlp_flop(Q, nl, B, 1, 0, 0) + o2o_bench_mlp_flop(V, nl, B, 1, 1, 0) +
         o2o_bench_mlp_flop(V, nl, 2 * B, 1, 0, 0) + o2o_bench_mlp_flop(P, nl, B, 1, 1, 0) +
         2 * o2o_bench_mlp_flop(Q, nl, B, 1, 1, 0);
}

int o2o_bench_iql(int argc, char **argv) {
  static const o2o_bench_spec spec = {"iql", "the official IQL update (V, actor, critics)",
                                      floor_build, o2o_flop};
  return o2o_bench_learner_main(argc, argv, &spec);
}
