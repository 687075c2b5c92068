/* cmd_bench_h2o.c: `o2o bench h2o` - one H2O step (learner "h2o": discriminator step on
 * disc_batch real + disc_batch sim rows, w on the sim rows, u over gap_samples perturbed s',
 * critics with the weighted TD error and the penalty, actor, temperature) against the
 * matmul-only floor of the reference step and agent/bench/torch/torch_h2o.py, both after the
 * official t6-thu/H2O SimpleSAC/sim2real_sac.py (bench_learner.c runs it). The official code
 * evaluates D_sa beside D_sas for w and u; o2o skips it there (its logits cancel in log w). */
#include "bench/bench_common.h"
#include "cli/o2o_commands.h"
#include "learn/h2o.h"

typedef struct {
  int nl, dnl, B, S, D, K, N;
  int P[16], Q[16], SA[16], SAS[16];
} shapes;

static int get_shapes(const o2o_h2o_config *c, int O, int A, shapes *s) {
  const int layers = c->sac.layers, dl = 2;
  if (layers > 12) return -1;
  *s = (shapes){.nl = layers + 1,
                .dnl = dl + 1,
                .B = c->real_batch + c->sim_batch,
                .S = c->sim_batch,
                .D = c->disc_batch,
                .K = c->gap_samples,
                .N = c->sac.num_critics};
  o2o_bench_dims(O, c->sac.hidden, layers, 2 * A, s->P);
  o2o_bench_dims(O + A, c->sac.hidden, layers, 1, s->Q);
  o2o_bench_dims(O + A, c->disc_hidden, dl, 2, s->SA);
  o2o_bench_dims(2 * O + A, c->disc_hidden, dl, 2, s->SAS);
  return 0;
}

static int floor_build(o2o_bench_floor *f, const void *cfg, int O, int A) {
  shapes s;
  int rc = 0;
  if (get_shapes(cfg, O, A, &s) || o2o_bench_floor_init(f, 16 * s.dnl + (6 + 16 * s.N) * s.nl))
    return -1;
  /* discriminators: both forward and backward on 2D noisy rows */
  rc |= o2o_bench_floor_mlp(f, s.SA, s.dnl, 2 * s.D, 1, 1, 0);
  rc |= o2o_bench_floor_mlp(f, s.SAS, s.dnl, 2 * s.D, 1, 1, 0);
  /* w on the sim rows, u on K perturbed copies of them: D_sa and D_sas as the official code */
  rc |= o2o_bench_floor_mlp(f, s.SA, s.dnl, s.S, 1, 0, 0);
  rc |= o2o_bench_floor_mlp(f, s.SAS, s.dnl, s.S, 1, 0, 0);
  rc |= o2o_bench_floor_mlp(f, s.SA, s.dnl, s.S * s.K, 1, 0, 0);
  rc |= o2o_bench_floor_mlp(f, s.SAS, s.dnl, s.S * s.K, 1, 0, 0);
  /* SimpleSAC: pi(s), Q_k(s, pi(s)); pi(s'), target Q_k(s', pi(s')); Q_k(s, a) */
  rc |= o2o_bench_floor_mlp(f, s.P, s.nl, s.B, 1, 0, 0);
  for (int k = 0; k < s.N; k++)
    rc |= o2o_bench_floor_mlp(f, s.Q, s.nl, s.B, 1, 0, 0);
  rc |= o2o_bench_floor_mlp(f, s.P, s.nl, s.B, 1, 0, 0);
  for (int k = 0; k < 2 * s.N; k++)
    rc |= o2o_bench_floor_mlp(f, s.Q, s.nl, s.B, 1, 0, 0);
  /* policy loss backward (through the critics to the actions), then the critics' loss */
  for (int k = 0; k < s.N; k++)
    rc |= o2o_bench_floor_mlp(f, s.Q, s.nl, s.B, 0, 1, 1);
  rc |= o2o_bench_floor_mlp(f, s.P, s.nl, s.B, 0, 1, 0);
  for (int k = 0; k < s.N; k++)
    rc |= o2o_bench_floor_mlp(f, s.Q, s.nl, s.B, 0, 1, 0);
  return rc;
}

/* h2o.c + discriminator.c + sac.c: discriminators forward + backward on 2D rows; D_sas on S
 * (w) and S*K (u) rows; SAC's update on B rows (actor on [s; s'], target critics on B, critics
 * on [policy rows; batch rows], their backward: weights from B rows, hidden input gradients
 * for 2B, first-layer input gradient for B; actor backward on B); the penalty's second critic
 * backward on the B batch rows. */
static double o2o_flop(const void *cfg, int O, int A) {
  shapes s;
  if (get_shapes(cfg, O, A, &s)) return 0.0;
  const int B = s.B;
  double f = o2o_bench_mlp_flop(s.SA, s.dnl, 2 * s.D, 1, 1, 0) +
             o2o_bench_mlp_flop(s.SAS, s.dnl, 2 * s.D, 1, 1, 0) +
             o2o_bench_mlp_flop(s.SAS, s.dnl, s.S * (1 + s.K), 1, 0, 0);
  f += o2o_bench_mlp_flop(s.P, s.nl, 2 * B, 1, 0, 0) + o2o_bench_mlp_flop(s.P, s.nl, B, 0, 1, 0);
  f += s.N * (o2o_bench_mlp_flop(s.Q, s.nl, 3 * B, 1, 0, 0) + /* target B + critics 2B */
              o2o_bench_mlp_flop(s.Q, s.nl, B, 0, 1, 1) +     /* policy rows, to actions */
              o2o_bench_mlp_flop(s.Q, s.nl, B, 0, 1, 0) +     /* batch rows */
              o2o_bench_mlp_flop(s.Q, s.nl, B, 0, 1, 0));     /* penalty */
  return f;
}

int o2o_bench_h2o(int argc, char **argv) {
  static const o2o_bench_spec spec = {"h2o", "the official H2O step (SimpleSAC sim2real_sac.py)",
                                      floor_build, o2o_flop};
  return o2o_bench_learner_main(argc, argv, &spec);
}
