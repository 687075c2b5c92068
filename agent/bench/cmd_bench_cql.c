/* cmd_bench_cql.c: `o2o bench cql` - one CQL update (learner "cql": SAC's update plus the
 * importance-sampled penalty over 3 n_actions samples per state) against the matmul-only floor
 * of the reference update and agent/bench/torch/torch_cql.py, both after CORL's
 * algorithms/offline/cql.py (bench_learner.c runs it).
 *
 * The floor replays CORL's sgemm shapes: every critic call on its own (data rows, then the
 * uniform, pi(s') and pi(s) groups of n B rows each), and their backward group by group. CORL
 * also runs the actor on n repeated copies of s and s' for the samples; those passes give the
 * same mean and std as the single pass (o2o samples n times from it), so the floor counts the
 * actor once per state and is not inflated by repeated work. */
#include "bench/bench_common.h"
#include "cli/o2o_commands.h"
#include "learn/cql.h"

typedef struct {
  int nl, B, n, N;
  int P[16], Q[16];
} shapes;

static int get_shapes(const o2o_cql_config *c, int O, int A, shapes *s) {
  if (c->sac.layers > 12) return -1;
  *s = (shapes){
      .nl = c->sac.layers + 1, .B = c->sac.batch_size, .n = c->n_actions, .N = c->sac.num_critics};
  o2o_bench_dims(O, c->sac.hidden, c->sac.layers, 2 * A, s->P);
  o2o_bench_dims(O + A, c->sac.hidden, c->sac.layers, 1, s->Q);
  return 0;
}

static int floor_build(o2o_bench_floor *f, const void *cfg, int O, int A) {
  shapes s;
  int rc = 0;
  if (get_shapes(cfg, O, A, &s) || o2o_bench_floor_init(f, (6 + 24 * s.N) * s.nl)) return -1;
  const int B = s.B, nB = s.n * s.B;
  /* temperature and actor losses: pi(s), Q_k(s, pi(s)) */
  rc |= o2o_bench_floor_mlp(f, s.P, s.nl, B, 1, 0, 0);
  for (int k = 0; k < s.N; k++)
    rc |= o2o_bench_floor_mlp(f, s.Q, s.nl, B, 1, 0, 0);
  /* TD target: pi(s'), target Q_k(s', a') */
  rc |= o2o_bench_floor_mlp(f, s.P, s.nl, B, 1, 0, 0);
  for (int k = 0; k < s.N; k++)
    rc |= o2o_bench_floor_mlp(f, s.Q, s.nl, B, 1, 0, 0);
  /* penalty: per critic Q(s, a_data), Q(s, uniform), Q(s, pi(s')), Q(s, pi(s)) */
  for (int k = 0; k < s.N; k++) {
    rc |= o2o_bench_floor_mlp(f, s.Q, s.nl, B, 1, 0, 0);
    for (int g = 0; g < 3; g++)
      rc |= o2o_bench_floor_mlp(f, s.Q, s.nl, nB, 1, 0, 0);
  }
  /* actor loss backward (through the critics to the actions, then the actor) */
  for (int k = 0; k < s.N; k++)
    rc |= o2o_bench_floor_mlp(f, s.Q, s.nl, B, 0, 1, 1);
  rc |= o2o_bench_floor_mlp(f, s.P, s.nl, B, 0, 1, 0);
  /* critic loss backward: TD + penalty, group by group */
  for (int k = 0; k < s.N; k++) {
    rc |= o2o_bench_floor_mlp(f, s.Q, s.nl, B, 0, 1, 0);
    for (int g = 0; g < 3; g++)
      rc |= o2o_bench_floor_mlp(f, s.Q, s.nl, nB, 0, 1, 0);
  }
  return rc;
}

/* cql.c + sac.c: SAC's update (actor on [s; s'] and its backward on B; target critics on B,
 * critics on [policy rows; batch rows], backward: policy rows to the actions, batch rows),
 * then the penalty's stacked critic pass over (1 + 3n) B rows forward and backward (weights
 * and hidden-layer input gradients, no input gradient). */
static double o2o_flop(const void *cfg, int O, int A) {
  shapes s;
  if (get_shapes(cfg, O, A, &s)) return 0.0;
  const int B = s.B, R = (1 + 3 * s.n) * s.B;
  double f =
      o2o_bench_mlp_flop(s.P, s.nl, 2 * B, 1, 0, 0) + o2o_bench_mlp_flop(s.P, s.nl, B, 0, 1, 0);
  f += s.N * (o2o_bench_mlp_flop(s.Q, s.nl, 3 * B, 1, 0, 0) + /* target B + critics 2B */
              o2o_bench_mlp_flop(s.Q, s.nl, B, 0, 1, 1) +     /* policy rows, to actions */
              o2o_bench_mlp_flop(s.Q, s.nl, B, 0, 1, 0) +     /* batch rows */
              o2o_bench_mlp_flop(s.Q, s.nl, R, 1, 1, 0));     /* the penalty's stack */
  return f;
}

int o2o_bench_cql(int argc, char **argv) {
  static const o2o_bench_spec spec = {"cql", "CORL's CQL update (cql.py)", floor_build, o2o_flop};
  return o2o_bench_learner_main(argc, argv, &spec);
}
