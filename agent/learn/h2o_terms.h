/* h2o_terms.h: the two critic terms H2O adds to SAC (Niu et al. 2022, "When to Trust Your
 * Simulator"; official code t6-thu/H2O SimpleSAC/sim2real_sac.py), as plain functions on the
 * critic outputs of one batch, so they can be tested against their formulas alone.
 *
 *   gap weights:  omega_i = u_i / sum_{j in sim batch} u_j, kept as log omega in double
 *                 (u's floor 1e-45 is subnormal in float32)
 *   penalty:      P = clip(T logsumexp_{i in sim}((Q_i + log omega_i) / T) - mean_{j in real} Q_j,
 *                          -clip, clip)
 *                 a scalar ACROSS the sim batch on its buffer actions (not CQL's per-state LSE
 *                 over sampled actions); dP/dQ_i = softmax_i((Q_i + log omega_i) / T) on sim
 *                 rows, -1/|R| on real rows, 0 everywhere when the difference is clipped. */
#pragma once
#include <stddef.h>

/* log omega_i = log u_i - log sum_j u_j for n sim rows (u_i > 0). */
void o2o_h2o_log_omega(const double *u, int n, double *log_omega);

/* Penalty of one critic. q_sim [n_sim] with stride ld_sim, q_real [n_real] with stride
 * ld_real; *diff receives the unclipped difference. Gradients (may be NULL) are written:
 * dq_sim [n_sim], dq_real [n_real] (dP/dQ, before any beta). Returns P. */
double o2o_h2o_penalty(const float *q_sim, int ld_sim, int n_sim, const float *q_real, int ld_real,
                       int n_real, const double *log_omega, double temp, double clip, double *diff,
                       float *dq_sim, float *dq_real);
