/* tanh_gaussian.h: the tanh-squashed Gaussian policy head (SAC, CQL, H2O, WSRL).
 * The actor MLP outputs [mu | raw log-std] per row ([B][2A], row stride ldo);
 * log_std = clamp(raw, ls_min, ls_max) (zero gradient where clamped), u = mu + exp(log_std)*eps,
 * a = tanh(u), and
 *   log pi(a|s) = sum_i [-eps_i^2/2 - log_std_i - log(2 pi)/2 - 2 (log 2 - u_i - softplus(-2 u_i))]
 * (the last term is the stable log(1 - tanh(u)^2), PyTorch's TanhTransform). */
#pragma once

/* Reparameterised sample with given noise eps [B][A]: actions a [B][A], log-probs logp [B]. */
void o2o_tg_sample(const float *out, int ldo, int B, int A, float ls_min, float ls_max,
                   const float *eps, float *a, float *logp);

/* Backward of o2o_tg_sample with eps held fixed: ga [B][A] = dL/da (or NULL), gl [B] = dL/dlogp
 * (or NULL) -> dout [B][2A] (row stride lddo) = dL/d[mu | raw log-std]. */
void o2o_tg_backward(const float *out, int ldo, int B, int A, float ls_min, float ls_max,
                     const float *eps, const float *a, const float *ga, const float *gl,
                     float *dout, int lddo);

/* Deterministic action tanh(mu). */
void o2o_tg_mode(const float *out, int ldo, int B, int A, float *a);

/* log pi(a|s) of GIVEN actions a (clipped to +-(1 - 1e-6), u = atanh(a)), for BC/AWR/CQL. */
void o2o_tg_log_prob(const float *out, int ldo, int B, int A, float ls_min, float ls_max,
                     const float *a, float *logp);

/* Backward of o2o_tg_log_prob (actions are data, no gradient): gl [B] = dL/dlogp ->
 * dout [B][2A] (row stride lddo) = dL/d[mu | raw log-std]. */
void o2o_tg_log_prob_backward(const float *out, int ldo, int B, int A, float ls_min, float ls_max,
                              const float *a, const float *gl, float *dout, int lddo);
