/* train_eval.c: what the online loop reports: evaluations, metrics.csv rows, progress lines. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "run/train_internal.h"

/* Update statistics averaged into metrics.csv (the SAC family's names; a learner that does not
 * report one leaves its column NaN). */
static const char *const metric_stats[TRN_NSTATS] = {
    "critic_loss", "actor_loss", "alpha_loss", "alpha", "q_mean", "log_pi_mean",
    /* gap-aware learners (H2O's names; NaN for the others), after eval_restarted */
    "disc_sa_loss", "disc_sas_loss", "sqrt_is_ratio", "u_mean", "u_std", "omega_std",
    "penalty_diff", "q_real", "q_sim"};

double trn_recent_mean(const trn_run *r) {
  double s = 0;
  for (int i = 0; i < r->recent_n; i++)
    s += r->recent[i];
  return r->recent_n ? s / r->recent_n : NAN;
}

double trn_eval_std(const trn_run *r) {
  double var = 0;
  for (int i = 0; i < r->cfg->eval_episodes; i++)
    var += (r->eval_returns[i] - r->last_eval_mean) * (r->eval_returns[i] - r->last_eval_mean);
  return sqrt(var / r->cfg->eval_episodes);
}

static void act_deterministic(void *ctx, const float *obs, int n, float *actions) {
  o2o_learner_act(ctx, obs, n, 1, actions);
}

static void fmt_eta(double s, char *out, size_t n) {
  if (!(s >= 0) || s > 1e7) {
    snprintf(out, n, "?");
    return;
  }
  long t = (long)(s + 0.5);
  if (t >= 3600)
    snprintf(out, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else
    snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
}

int trn_write_metrics_header(FILE *f) {
  return fprintf(f, "step,wall_s,eval_return_mean,eval_return_std,eval_return_min,"
                    "eval_return_max,eval_episodes,d4rl_score,train_return_mean,train_episodes,"
                    "updates,critic_loss,actor_loss,alpha_loss,alpha,q_mean,log_pi_mean,"
                    "env_steps_per_s,updates_per_s,eval_restarted,disc_sa_loss,"
                    "disc_sas_loss,sqrt_is_ratio,u_mean,u_std,omega_std,penalty_diff,q_real,"
                    "q_sim\n") < 0;
}

void trn_add_stats(trn_run *r, const o2o_learner_stats *st) {
  for (int k = 0; k < TRN_NSTATS; k++) {
    double v = o2o_learner_stats_get(st, metric_stats[k]);
    if (v == v) {
      r->st_sum[k] += v;
      r->st_n[k]++;
    }
  }
  double a = o2o_learner_stats_get(st, "alpha");
  if (a == a) r->last_alpha = a;
}

static void metrics_row(trn_run *r, int64_t env_steps, int64_t updates, double mean, double std,
                        double mn, double mx, const char *score, int restarted) {
  double wall = o2o_agent_now_s() - r->t0;
  double m[TRN_NSTATS];
  for (int k = 0; k < TRN_NSTATS; k++)
    m[k] = r->st_n[k] ? r->st_sum[k] / (double)r->st_n[k] : NAN;
  fprintf(r->metrics,
          "%lld,%.3f,%.4f,%.4f,%.4f,%.4f,%d,%s,%.4f,%d,%lld,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.1f,"
          "%.1f,%d",
          (long long)env_steps, wall, mean, std, mn, mx, r->cfg->eval_episodes, score,
          trn_recent_mean(r), r->episodes, (long long)updates, m[0], m[1], m[2], m[3], m[4], m[5],
          wall > 0 ? (double)env_steps / wall : 0.0, wall > 0 ? (double)updates / wall : 0.0,
          restarted);
  for (int k = 6; k < TRN_NSTATS; k++)
    fprintf(r->metrics, ",%.6g", m[k]);
  fputc('\n', r->metrics);
  fflush(r->metrics);
}

int trn_evaluate(trn_run *r, o2o_train_result *res, int64_t env_steps, int64_t updates, char *err,
                 size_t errlen) {
  const o2o_train_config *cfg = r->cfg;
  const int n = cfg->eval_episodes;
  int restarted = 0;
  if (o2o_train_evaluate_flagged(r->eval_env, act_deterministic, r->learner, n, cfg->eval_seed,
                                 r->eval_returns, &restarted, err, errlen))
    return -1;
  double mean = 0, var = 0, mn = INFINITY, mx = -INFINITY;
  for (int i = 0; i < n; i++) {
    mean += r->eval_returns[i] / n;
    mn = fmin(mn, r->eval_returns[i]);
    mx = fmax(mx, r->eval_returns[i]);
  }
  for (int i = 0; i < n; i++)
    var += (r->eval_returns[i] - mean) * (r->eval_returns[i] - mean) / n;
  r->last_eval_mean = mean;
  r->have_eval = 1;
  double score;
  int has_score = o2o_train_d4rl_score(r->spec->task, mean, &score);
  if (r->metrics) {
    char sc[32] = "";
    if (has_score) snprintf(sc, sizeof(sc), "%.3f", score);
    metrics_row(r, env_steps, updates, mean, sqrt(var), mn, mx, sc, restarted);
  }
  memset(r->st_sum, 0, sizeof(r->st_sum));
  memset(r->st_n, 0, sizeof(r->st_n));
  if (cfg->progress) {
    char sc[48] = "";
    if (has_score) snprintf(sc, sizeof(sc), " (D4RL %.1f)", score);
    o2o_progress_note(&r->prog, "[eval] step %lld: return %.1f +- %.1f over %d episodes%s%s",
                      (long long)env_steps, mean, sqrt(var), n, sc,
                      restarted ? " (a simulator restarted: not the fixed-seed episodes)" : "");
  }
  if (mean > res->best_eval_mean || (res->evals == 0 && !r->hist_evals)) {
    res->best_eval_mean = mean;
    res->best_eval_step = env_steps;
  }
  res->evals++;
  return 0;
}

void trn_progress_line(trn_run *r, int64_t env_steps, int64_t updates, double *last_t,
                       int64_t *last_steps, int64_t *last_updates) {
  if (!o2o_progress_due(&r->prog, 0)) return;
  double t = o2o_agent_now_s();
  double dt = t - *last_t;
  double sps = (double)(env_steps - *last_steps) / dt;
  double ups = (double)(updates - *last_updates) / dt;
  char eta[32];
  /* warm-up steps make no updates: price the learning steps at the learning phase's rate */
  double learn_rate = -1;
  if (r->learn_start_step >= 0 && env_steps > r->learn_start_step && t > r->learn_start_t)
    learn_rate = (double)(env_steps - r->learn_start_step) / (t - r->learn_start_t);
  fmt_eta(o2o_train_eta_s(env_steps, r->cfg->steps, r->learn_from, sps, learn_rate), eta,
          sizeof(eta));
  char ev[48] = "";
  if (r->have_eval) snprintf(ev, sizeof(ev), " | eval %.1f", r->last_eval_mean);
  o2o_progress_show(&r->prog, 0,
                    "[train %s/%s] step %lld/%lld (%.0f%%) | %.0f steps/s | %.0f upd/s | return "
                    "last %.1f mean%d %.1f%s | alpha %.3g | ETA %s",
                    r->spec->scenario, r->spec->variant, (long long)env_steps,
                    (long long)r->cfg->steps, 100.0 * (double)env_steps / (double)r->cfg->steps,
                    sps, ups, r->last_return, TRN_RECENT, trn_recent_mean(r), ev, r->last_alpha,
                    eta);
  *last_t = t;
  *last_steps = env_steps;
  *last_updates = updates;
}
