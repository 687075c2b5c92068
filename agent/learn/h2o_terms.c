/* h2o_terms.c: H2O's gap weights and conservative penalty (h2o_terms.h). */
#include "learn/h2o_terms.h"

#include <math.h>

void o2o_h2o_log_omega(const double *u, int n, double *log_omega) {
  double m = -INFINITY;
  for (int i = 0; i < n; i++)
    m = log(u[i]) > m ? log(u[i]) : m;
  double s = 0.0; /* log sum u with a max shift: u spans 1e-45 .. 10 */
  for (int i = 0; i < n; i++)
    s += exp(log(u[i]) - m);
  const double lse = m + log(s);
  for (int i = 0; i < n; i++)
    log_omega[i] = log(u[i]) - lse;
}

double o2o_h2o_penalty(const float *q_sim, int ld_sim, int n_sim, const float *q_real, int ld_real,
                       int n_real, const double *log_omega, double temp, double clip, double *diff,
                       float *dq_sim, float *dq_real) {
  double m = -INFINITY;
  for (int i = 0; i < n_sim; i++) {
    double z = ((double)q_sim[(size_t)i * ld_sim] + log_omega[i]) / temp;
    m = z > m ? z : m;
  }
  double s = 0.0;
  for (int i = 0; i < n_sim; i++)
    s += exp(((double)q_sim[(size_t)i * ld_sim] + log_omega[i]) / temp - m);
  const double lse = temp * (m + log(s));
  double real_mean = 0.0;
  for (int j = 0; j < n_real; j++)
    real_mean += q_real[(size_t)j * ld_real];
  real_mean /= n_real;
  const double d = lse - real_mean;
  if (diff) *diff = d;
  const int inside = d > -clip && d < clip; /* clamp: zero gradient outside */
  if (dq_sim)
    for (int i = 0; i < n_sim; i++)
      dq_sim[i] =
          inside ? (float)exp(((double)q_sim[(size_t)i * ld_sim] + log_omega[i]) / temp - m) / s
                 : 0.0f;
  if (dq_real)
    for (int j = 0; j < n_real; j++)
      dq_real[j] = inside ? (float)(-1.0 / n_real) : 0.0f;
  return d < -clip ? -clip : d > clip ? clip : d;
}
