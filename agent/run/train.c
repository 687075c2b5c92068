/* train.c: the online loop of any learner (see train.h); its state, evaluations and
 * progress lines are in train_state.c and train_eval.c (train_internal.h). */
#include "run/train_internal.h"
#include "run/stop.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void o2o_train_config_default(o2o_train_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->scenario = "pendulum";
  cfg->variant = "real";
  cfg->seed = 1;
  cfg->steps = 100000;
  cfg->envs_per_proc = 1;
  cfg->procs = 1;
  cfg->eval_every = 10000;
  cfg->eval_episodes = 10;
  cfg->eval_seed = 1000000;
  cfg->checkpoint_every = 50000;
  cfg->progress = 1;
  cfg->validate_transitions = 1;
  cfg->algorithm = "sac";
}

/* Finish a step in flight so the env is idle when the run stops. */
static void drain(o2o_train_env *env) {
  o2o_bridge_batch out;
  char sub[O2O_AGENT_ERRLEN];
  env->step_recv(env->ctx, &out, sub, sizeof sub);
}

static int check_finite_rows(const float *x, int rows, int cols, const char *what, int64_t step,
                             char *err, size_t errlen) {
  for (int i = 0; i < rows; i++)
    for (int j = 0; j < cols; j++)
      if (!isfinite(x[(size_t)i * cols + j])) {
        o2o_agent_errf(err, errlen, "env %d returned a non-finite %s[%d] (%g) at env step %lld", i,
                       what, j, x[(size_t)i * cols + j], (long long)step);
        return -1;
      }
  return 0;
}

void o2o_train_store_step(o2o_replay *rb, const float *obs, const float *unit_actions,
                          const o2o_bridge_batch *out, const uint8_t *lost, int num_envs) {
  const int O = o2o_replay_obs_dim(rb), A = o2o_replay_act_dim(rb);
  for (int i = 0; i < num_envs; i++) {
    if (lost && lost[i]) continue;
    float done = out->terminated[i] ? 1.0f : 0.0f; /* truncation bootstraps */
    o2o_replay_add(rb, 1, obs + (size_t)i * O, unit_actions + (size_t)i * A, &out->reward[i],
                   out->final_obs + (size_t)i * O, &done);
  }
}

/* utd * E updates once the learn phase began (env step learn_from, a batch in the buffer). */
static int learn(trn_run *r, int64_t env_steps, int64_t *updates, char *err, size_t errlen) {
  char sub[O2O_AGENT_ERRLEN];
  const int B = r->batch_size;
  const int64_t need = r->real.rb ? B - o2o_replay_mix_count(B, r->real_frac) : B;
  if (env_steps < r->learn_from || o2o_replay_size(r->rb) < need) return 0;
  if (r->learn_start_step < 0) {
    r->learn_start_step = env_steps;
    r->learn_start_t = o2o_agent_now_s();
  }
  const int n_upd = r->utd * r->E;
  for (int u = 0; u < n_upd; u++) {
    o2o_learner_stats st = {0};
    if (r->real.rb ? o2o_replay_sample_mixed(r->real.rb, r->rb, r->real_frac, &r->rng, &r->batch,
                                             sub, sizeof(sub))
                   : o2o_replay_sample(r->rb, &r->rng, &r->batch, 0, sub, sizeof(sub))) {
      o2o_agent_errf(err, errlen, "train: %s", sub);
      return -1;
    }
    if (o2o_learner_update(r->learner, &r->batch, &st, sub, sizeof(sub))) {
      o2o_agent_errf(err, errlen, "train: update %lld at env step %lld: %s",
                     (long long)*updates + 1, (long long)env_steps, sub);
      return -1;
    }
    (*updates)++;
    trn_add_stats(r, &st);
  }
  return 0;
}

/* Episode returns of one step of the E envs: finished ones go to the running mean. */
static void count_returns(trn_run *r, const o2o_bridge_batch *out, const uint8_t *lost,
                          o2o_train_result *res) {
  for (int i = 0; i < r->E; i++) {
    if (lost && lost[i]) {
      /* A simulator fault cut this episode: drop its partial return. */
      r->ep_ret[i] = 0;
      res->lost++;
      continue;
    }
    r->ep_ret[i] += out->reward[i];
    if (out->terminated[i] || out->truncated[i]) {
      r->last_return = r->ep_ret[i];
      r->recent[r->recent_pos] = r->ep_ret[i];
      r->recent_pos = (r->recent_pos + 1) % TRN_RECENT;
      if (r->recent_n < TRN_RECENT) r->recent_n++;
      r->episodes++;
      r->ep_ret[i] = 0;
    }
  }
}

/* The run's settings against the envs, before anything is made. */
static int check_run(const trn_run *r, char *err, size_t errlen) {
  const o2o_train_config *cfg = r->cfg;
  if (cfg->steps < 1 || cfg->eval_episodes < 1) {
    o2o_agent_errf(err, errlen, "train: steps and eval episodes must be >= 1");
    return -1;
  }
  if (r->eval_env) {
    const o2o_bridge_spec *es = r->eval_env->spec(r->eval_env->ctx);
    if (es->obs_dim != r->O || es->act_dim != r->A) {
      o2o_agent_errf(err, errlen, "train: eval env dims %d/%d differ from the training env's %d/%d",
                     es->obs_dim, es->act_dim, r->O, r->A);
      return -1;
    }
  }
  if (o2o_train_check_bounds(NULL, NULL, r->spec, err, errlen)) return -1;
  if (cfg->warmup_steps < 0) {
    o2o_agent_errf(err, errlen, "train: warmup_steps %lld must be >= 0",
                   (long long)cfg->warmup_steps);
    return -1;
  }
  return 0;
}

int o2o_train_run(const o2o_train_config *cfg, o2o_train_env *env, o2o_train_env *eval_env,
                  o2o_train_result *res, char *err, size_t errlen) {
  trn_run r;
  memset(&r, 0, sizeof(r));
  memset(res, 0, sizeof(*res));
  r.cfg = cfg;
  r.env = env;
  r.eval_env = eval_env;
  r.spec = env->spec(env->ctx);
  r.E = r.spec->num_envs;
  r.O = r.spec->obs_dim;
  r.A = r.spec->act_dim;
  r.ckpt_step = -1;
  r.last_return = NAN;
  r.t0 = o2o_agent_now_s();
  res->init_eval_mean = res->init_eval_std = NAN;
  const int E = r.E, O = r.O, A = r.A;
  char sub[O2O_AGENT_ERRLEN];
  int rc = -1;

  if (check_run(&r, err, errlen)) return -1;
  const int set_up = trn_setup(&r, res, err, errlen);
  int64_t env_steps = r.start_step, updates = 0, last_eval_step = -1;
  if (set_up) goto done;

  if (env->reset(env->ctx,
                 o2o_seed_stream(o2o_seed_stream(cfg->seed, O2O_STREAM_TRAIN_ENV), r.start_step),
                 r.obs, sub, sizeof(sub))) {
    o2o_agent_errf(err, errlen, "train: reset: %s", sub);
    goto done;
  }
  if (cfg->validate_transitions && check_finite_rows(r.obs, E, O, "obs", 0, err, errlen)) goto done;

  o2o_progress_init(&r.prog, 0.5, 10.0);
  double last_t = o2o_agent_now_s();
  int64_t last_steps = env_steps, last_updates = 0;
  const int64_t warmup_end = r.warmup_end;
  int64_t next_eval = INT64_MAX, next_ckpt = INT64_MAX;
  if (cfg->eval_every > 0) next_eval = (env_steps / cfg->eval_every + 1) * cfg->eval_every;
  if (cfg->checkpoint_every > 0)
    next_ckpt = (env_steps / cfg->checkpoint_every + 1) * cfg->checkpoint_every;
  int stopped_early = 0;
  if (res->warm_started && eval_env) { /* the pretrained policy on real: the warm-start dip */
    if (trn_evaluate(&r, res, 0, 0, err, errlen)) goto done;
    last_eval_step = 0;
    res->init_eval_mean = r.last_eval_mean;
    res->init_eval_std = trn_eval_std(&r);
  }

  while (env_steps < cfg->steps) {
    /* 1. actions in [-1, 1] */
    if (env_steps < warmup_end) {
      for (int i = 0; i < E * A; i++)
        r.unit[i] = (float)((double)(o2o_splitmix64(&r.warm_rng) >> 11) * 0x1.0p-53 * 2.0 - 1.0);
    } else {
      o2o_learner_act(r.learner, r.obs, E, 0, r.unit);
    }
    o2o_train_scale_actions(r.unit, E, A, r.spec->act_low, r.spec->act_high, r.scaled);
    if (env->step_send(env->ctx, r.scaled, sub, sizeof(sub))) {
      o2o_agent_errf(err, errlen, "train: step at env step %lld: %s", (long long)env_steps, sub);
      goto done;
    }
    /* 2. learn while the simulators step */
    if (learn(&r, env_steps, &updates, err, errlen)) {
      drain(env); /* leave the env idle */
      goto done;
    }
    /* 3. store the transitions */
    o2o_bridge_batch out;
    if (env->step_recv(env->ctx, &out, sub, sizeof(sub))) {
      o2o_agent_errf(err, errlen, "train: step at env step %lld: %s", (long long)env_steps, sub);
      goto done;
    }
    if (cfg->validate_transitions &&
        (check_finite_rows(out.reward, E, 1, "reward", env_steps + 1, err, errlen) ||
         check_finite_rows(out.final_obs, E, O, "obs", env_steps + 1, err, errlen) ||
         check_finite_rows(out.obs, E, O, "obs", env_steps + 1, err, errlen)))
      goto done;
    const uint8_t *lost = env->lost ? env->lost(env->ctx) : NULL;
    o2o_train_store_step(r.rb, r.obs, r.unit, &out, lost, E);
    count_returns(&r, &out, lost, res);
    memcpy(r.obs, out.obs, (size_t)E * O * sizeof(float));
    env_steps += E;

    /* 4. evaluation, checkpoints, progress */
    if (env_steps >= next_eval && eval_env) {
      if (trn_evaluate(&r, res, env_steps, updates, err, errlen)) goto done;
      last_eval_step = env_steps;
      while (next_eval <= env_steps)
        next_eval += cfg->eval_every;
      if (cfg->stop_at_return > 0 && r.last_eval_mean >= cfg->stop_at_return) {
        stopped_early = 1;
        break;
      }
    }
    if (env_steps >= next_ckpt) {
      while (next_ckpt <= env_steps)
        next_ckpt += cfg->checkpoint_every;
      if (cfg->out_dir && trn_checkpoint(&r, r.ckpt_path, env_steps, err, errlen)) goto done;
    }
    if (cfg->progress)
      trn_progress_line(&r, env_steps, updates, &last_t, &last_steps, &last_updates);
    if (o2o_stop_requested()) {
      /* The learner is consistent between iterations: keep its state. */
      if (cfg->out_dir && trn_checkpoint(&r, r.ckpt_path, env_steps, err, errlen)) goto done;
      o2o_agent_errf(err, errlen, "interrupted at env step %lld", (long long)env_steps);
      goto done;
    }
  }
  if (eval_env && last_eval_step != env_steps) {
    if (trn_evaluate(&r, res, env_steps, updates, err, errlen)) goto done;
  }
  if (cfg->out_dir) {
    if (trn_checkpoint(&r, r.final_path, env_steps, err, errlen)) goto done;
    snprintf(res->last_checkpoint, sizeof(res->last_checkpoint), "%s", r.final_path);
  }
  res->env_steps = env_steps;
  res->updates = updates;
  res->wall_s = o2o_agent_now_s() - r.t0;
  res->episodes = r.episodes;
  res->transitions = o2o_replay_added(r.rb);
  res->train_return_mean = trn_recent_mean(&r);
  if (r.have_eval) {
    res->last_eval_mean = r.last_eval_mean;
    res->last_eval_std = trn_eval_std(&r);
  }
  if (cfg->progress)
    o2o_progress_note(&r.prog, "[train] done: %lld env steps, %lld updates in %.1f s%s",
                      (long long)env_steps, (long long)updates, res->wall_s,
                      stopped_early ? " (stopped early: eval return reached the target)" : "");
  rc = 0;
done:
  o2o_progress_end(&r.prog); /* an error starts on a line of its own */
  if (rc && err && errlen) {
    /* Say what is on disk: the last good checkpoint is never overwritten after an error. */
    size_t k = strnlen(err, errlen - 1);
    if (o2o_stop_requested() && r.ckpt_step >= 0)
      snprintf(err + k, errlen - k, "; checkpoint saved to %s", r.ckpt_path);
    else if (r.ckpt_step >= 0)
      snprintf(err + k, errlen - k,
               "; training stopped, last good checkpoint %s (env step %lld) "
               "left untouched",
               r.ckpt_path, (long long)r.ckpt_step);
    else
      snprintf(err + k, errlen - k, "; training stopped, no checkpoint written");
    if (r.ckpt_step >= 0)
      snprintf(res->last_checkpoint, sizeof(res->last_checkpoint), "%s", r.ckpt_path);
  }
  /* the folder holds a run: say it did not finish (an interrupted one is only paused) */
  if (rc && r.metrics && !o2o_stop_requested())
    o2o_train_mark_failed(cfg->out_dir, err ? err : "", env_steps);
  trn_free(&r);
  return rc;
}

int o2o_train_online(const o2o_train_config *cfg, o2o_train_result *res, char *err, size_t errlen) {
  o2o_pool_config pc;
  memset(&pc, 0, sizeof(pc));
  pc.scenario = cfg->scenario;
  pc.variant = cfg->variant ? cfg->variant : "real";
  pc.num_procs = cfg->procs;
  pc.envs_per_proc = cfg->envs_per_proc;
  pc.sim_exe = cfg->sim_exe;
  pc.quiet = !cfg->progress;
  char epbuf[4096];
  const char *eps[64];
  if (cfg->connect) { /* "EP,EP,...": the pool connects instead of spawning */
    if (snprintf(epbuf, sizeof(epbuf), "%s", cfg->connect) >= (int)sizeof(epbuf)) {
      o2o_agent_errf(err, errlen, "train: --connect: longer than %zu bytes", sizeof(epbuf) - 1);
      return -1;
    }
    char *save = NULL;
    for (char *tok = strtok_r(epbuf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
      if (pc.num_endpoints == 64) {
        o2o_agent_errf(err, errlen, "train: --connect: more than 64 endpoints");
        return -1;
      }
      eps[pc.num_endpoints++] = tok;
    }
    pc.endpoints = eps;
    pc.scenario = NULL;
  }
  o2o_train_env env, eval_env;
  char sub[O2O_AGENT_ERRLEN];
  if (o2o_train_env_pool(&env, &pc, sub, sizeof(sub))) {
    o2o_agent_errf(err, errlen, "train: cannot start the %s pool for '%s': %s", pc.variant,
                   cfg->scenario, sub);
    return -1;
  }
  if (cfg->connect) { /* the servers must serve what the flags say: --scenario, --variant */
    const o2o_bridge_spec *sp = env.spec(env.ctx);
    const char *base = strrchr(cfg->scenario, '/');
    base = base ? base + 1 : cfg->scenario;
    size_t blen = strcspn(base, ".");
    if (strlen(sp->scenario) != blen || strncmp(sp->scenario, base, blen) ||
        strcmp(sp->variant, pc.variant)) {
      o2o_agent_errf(err, errlen,
                     "train: --connect %s serves %s/%s, but --scenario %s --variant %s was asked",
                     cfg->connect, sp->scenario, sp->variant, cfg->scenario, pc.variant);
      env.destroy(env.ctx);
      return -1;
    }
  }
  /* Evaluation always runs on the real variant, one env per episode, spawned here. */
  pc.endpoints = NULL;
  pc.num_endpoints = 0;
  pc.scenario = cfg->scenario;
  pc.variant = "real";
  pc.num_procs = 1;
  pc.envs_per_proc = cfg->eval_episodes;
  if (o2o_train_env_pool(&eval_env, &pc, sub, sizeof(sub))) {
    o2o_agent_errf(err, errlen, "train: cannot start the evaluation pool for '%s': %s",
                   cfg->scenario, sub);
    env.destroy(env.ctx);
    return -1;
  }
  /* Ctrl-C / SIGTERM: finish the iteration, checkpoint, and reap the simulators. */
  o2o_stop stop;
  o2o_stop_begin(&stop);
  int rc = o2o_train_run(cfg, &env, &eval_env, res, err, errlen);
  o2o_stop_explain(rc, err, errlen);
  o2o_stop_end(&stop);
  eval_env.destroy(eval_env.ctx);
  env.destroy(env.ctx);
  return rc;
}
