/* vecenv.c: N envs of one scenario variant sharing one mjModel, one mjData each, one thread.
 *
 * Hot path (o2o_vecenv_step): per env, clip the action, optional delay queue and action
 * noise, frame_skip mj_step calls, observation straight from qpos/qvel (no extra mj_forward),
 * reward, termination, and a reset only when an episode ends. No allocation per step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "o2o_sim_mj.h"
#include "sim_internal.h"

struct o2o_vecenv {
  o2o_scenario sc;
  o2o_variant variant;
  o2o_env_spec spec;
  const o2o_task *task;
  mjModel *m0; /* pristine, as compiled */
  mjModel *m;  /* perturbed copy every env steps with */
  mjData *scratch;
  mjData **d;
  o2o_dynamics dyn;
  int n, nu, obs_dim;
  double ctrl_lo[O2O_SIM_MAX_ACT], ctrl_hi[O2O_SIM_MAX_ACT];
  /* per env */
  o2o_rng *rng;
  int32_t *steps;  /* steps taken in the current episode */
  double *queue;   /* [n][O2O_SIM_MAX_DELAY][nu] ring of pending actions */
  int *queue_head; /* [n] next slot to pop */
  /* results */
  float *obs, *reward, *final_obs;
  uint8_t *terminated, *truncated;
  int32_t *episode_step;
};

/* Observation of env i into out (+ Gaussian observation noise). */
static void observe(o2o_vecenv *env, int i, float *out) {
  env->task->observe(env->m, env->d[i], out);
  double s = env->dyn.obs_noise_std;
  if (s > 0)
    for (int k = 0; k < env->obs_dim; k++)
      out[k] += (float)(s * o2o_rng_normal(&env->rng[i]));
}

static void reset_env(o2o_vecenv *env, int i, float *obs_out) {
  o2o_task_reset_data(env->task, env->m, env->d[i], env->sc.reset_noise_scale, &env->rng[i]);
  env->steps[i] = 0;
  env->queue_head[i] = 0;
  memset(env->queue + (size_t)i * O2O_SIM_MAX_DELAY * env->nu, 0,
         sizeof(double) * O2O_SIM_MAX_DELAY * env->nu);
  observe(env, i, obs_out);
}

/* MuJoCo's default warning handler appends to MUJOCO_LOG.TXT in the current directory;
 * send warnings to stderr instead, and stop after a few so a diverging run cannot flood it. */
static void on_mju_warning(const char *msg) {
  static int count = 0;
  if (count < 20)
    fprintf(stderr, "o2o-sim: MuJoCo warning: %s\n", msg);
  else if (count == 20)
    fprintf(stderr, "o2o-sim: further MuJoCo warnings are not shown\n");
  count++;
}

o2o_vecenv *o2o_vecenv_create(const o2o_scenario *sc, o2o_variant variant, int num_envs, char *err,
                              size_t errlen) {
  if (!sc || num_envs < 1 || num_envs > 65536) {
    if (err)
      snprintf(err, errlen, "o2o_vecenv_create: %snum_envs %d must be in [1, 65536]",
               sc ? "" : "NULL scenario or ", num_envs);
    return NULL;
  }
  const o2o_task *task = o2o_task_find(sc->task);
  if (!task) {
    if (err) snprintf(err, errlen, "%s: unknown task '%s'", sc->path, sc->task);
    return NULL;
  }
  if (!mju_user_warning) mju_user_warning = on_mju_warning;
  o2o_vecenv *env = calloc(1, sizeof *env);
  if (!env) return NULL;
  env->sc = *sc;
  env->variant = variant;
  env->task = task;
  env->n = num_envs;
  env->dyn = variant == O2O_VARIANT_SIM ? sc->sim : sc->real;
  if (o2o_dynamics_validate(&env->dyn, err, errlen) != 0) goto fail;

  char merr[1000] = "";
  env->m0 = mj_loadXML(sc->model_path, NULL, merr, sizeof merr);
  if (!env->m0) {
    if (err) snprintf(err, errlen, "%s: MuJoCo rejected the model: %s", sc->model_path, merr);
    goto fail;
  }
  mjModel *m0 = env->m0;
  if (task->nq == 0 &&
      (m0->nu < 1 || m0->nu > O2O_SIM_MAX_ACT || m0->nq + m0->nv > O2O_SIM_MAX_OBS)) {
    if (err)
      snprintf(err, errlen,
               "%s: model has nq=%d nv=%d nu=%d; task '%s' needs 1 <= nu <= %d and nq + nv <= %d",
               sc->model_path, m0->nq, m0->nv, m0->nu, task->name, O2O_SIM_MAX_ACT,
               O2O_SIM_MAX_OBS);
    goto fail;
  }
  if (task->nq != 0 && (m0->nq != task->nq || m0->nv != task->nv || m0->nu != task->nu)) {
    if (err)
      snprintf(err, errlen, "%s: model has nq=%d nv=%d nu=%d but task '%s' needs nq=%d nv=%d nu=%d",
               sc->model_path, m0->nq, m0->nv, m0->nu, task->name, task->nq, task->nv, task->nu);
    goto fail;
  }
  /* An actuator without ctrlrange has range [0, 0]: clipping to it would zero every action. */
  for (int k = 0; k < m0->nu; k++) {
    if (!m0->actuator_ctrllimited[k] ||
        !(m0->actuator_ctrlrange[2 * k] < m0->actuator_ctrlrange[2 * k + 1])) {
      const char *an = mj_id2name(m0, mjOBJ_ACTUATOR, k);
      if (err)
        snprintf(err, errlen,
                 "%s: actuator %d '%s' has no ctrlrange (o2o needs a bounded action range: set "
                 "ctrllimited=\"true\" ctrlrange=\"LO HI\" with LO < HI)",
                 sc->model_path, k, an ? an : "");
      goto fail;
    }
  }
  env->nu = m0->nu;
  env->obs_dim = task->obs_dim ? task->obs_dim : m0->nq + m0->nv;
  env->m = mj_copyModel(NULL, m0);
  env->scratch = mj_makeData(m0);
  env->d = calloc(num_envs, sizeof *env->d);
  env->rng = calloc(num_envs, sizeof *env->rng);
  env->steps = calloc(num_envs, sizeof *env->steps);
  env->queue = calloc((size_t)num_envs * O2O_SIM_MAX_DELAY * env->nu, sizeof *env->queue);
  env->queue_head = calloc(num_envs, sizeof *env->queue_head);
  env->obs = calloc((size_t)num_envs * env->obs_dim, sizeof(float));
  env->final_obs = calloc((size_t)num_envs * env->obs_dim, sizeof(float));
  env->reward = calloc(num_envs, sizeof(float));
  env->terminated = calloc(num_envs, 1);
  env->truncated = calloc(num_envs, 1);
  env->episode_step = calloc(num_envs, sizeof(int32_t));
  if (!env->m || !env->scratch || !env->d || !env->rng || !env->steps || !env->queue ||
      !env->queue_head || !env->obs || !env->final_obs || !env->reward || !env->terminated ||
      !env->truncated || !env->episode_step) {
    if (err) snprintf(err, errlen, "o2o_vecenv_create: out of memory for %d envs", num_envs);
    goto fail;
  }
  for (int i = 0; i < num_envs; i++) {
    env->d[i] = mj_makeData(m0);
    if (!env->d[i]) {
      if (err) snprintf(err, errlen, "o2o_vecenv_create: out of memory for %d envs", num_envs);
      goto fail;
    }
  }
  for (int k = 0; k < env->nu; k++) {
    env->ctrl_lo[k] = m0->actuator_ctrlrange[2 * k];
    env->ctrl_hi[k] = m0->actuator_ctrlrange[2 * k + 1];
  }
  o2o_dynamics_apply(env->m, m0, env->scratch, &env->dyn);

  o2o_env_spec *sp = &env->spec;
  sp->num_envs = num_envs;
  sp->obs_dim = env->obs_dim;
  sp->act_dim = env->nu;
  for (int k = 0; k < env->nu; k++) {
    sp->act_low[k] = (float)env->ctrl_lo[k];
    sp->act_high[k] = (float)env->ctrl_hi[k];
  }
  sp->dt = m0->opt.timestep * sc->frame_skip;
  sp->frame_skip = sc->frame_skip;
  sp->max_episode_steps = sc->max_episode_steps;
  sp->state_dim = 1 + m0->nq + 2 * m0->nv + m0->na + 1 + 2 + O2O_SIM_MAX_DELAY * env->nu + 8;

  /* Seed env i with i until the first reset, so a vecenv is usable right away. */
  for (int i = 0; i < num_envs; i++) {
    o2o_rng_seed(&env->rng[i], (uint64_t)i);
    reset_env(env, i, env->obs + (size_t)i * env->obs_dim);
  }
  return env;
fail:
  o2o_vecenv_destroy(env);
  return NULL;
}

void o2o_vecenv_destroy(o2o_vecenv *env) {
  if (!env) return;
  if (env->d)
    for (int i = 0; i < env->n; i++)
      mj_deleteData(env->d[i]);
  free(env->d);
  if (env->scratch) mj_deleteData(env->scratch);
  if (env->m) mj_deleteModel(env->m);
  if (env->m0) mj_deleteModel(env->m0);
  free(env->rng);
  free(env->steps);
  free(env->queue);
  free(env->queue_head);
  free(env->obs);
  free(env->final_obs);
  free(env->reward);
  free(env->terminated);
  free(env->truncated);
  free(env->episode_step);
  free(env);
}

const o2o_env_spec *o2o_vecenv_spec(const o2o_vecenv *env) {
  return &env->spec;
}
const o2o_scenario *o2o_vecenv_scenario(const o2o_vecenv *env) {
  return &env->sc;
}
o2o_variant o2o_vecenv_variant(const o2o_vecenv *env) {
  return env->variant;
}
const mjModel *o2o_vecenv_model(const o2o_vecenv *env) {
  return env->m;
}
mjData *o2o_vecenv_data(o2o_vecenv *env, int i) {
  return (i >= 0 && i < env->n) ? env->d[i] : NULL;
}

int o2o_vecenv_reset(o2o_vecenv *env, const uint64_t *seeds, float *obs, char *err, size_t errlen) {
  (void)err;
  (void)errlen;
  for (int i = 0; i < env->n; i++) {
    if (seeds) o2o_rng_seed(&env->rng[i], seeds[i]);
    reset_env(env, i, env->obs + (size_t)i * env->obs_dim);
    env->episode_step[i] = 0;
  }
  if (obs) memcpy(obs, env->obs, sizeof(float) * env->n * env->obs_dim);
  return O2O_SIM_OK;
}

int o2o_vecenv_step_n(o2o_vecenv *env, const float *actions, size_t count, o2o_step_result *out,
                      char *err, size_t errlen) {
  const int n = env->n, nu = env->nu;
  if (!actions || count != (size_t)n * nu) {
    if (err)
      snprintf(err, errlen, "step: got %zu action values, expected num_envs %d x act_dim %d = %d",
               count, n, nu, n * nu);
    return O2O_SIM_EINVAL;
  }
  return o2o_vecenv_step_range(env, 0, n, actions, out, err, errlen);
}

/* Steps envs [first, first + num) only (added for the bridge's sub-batch STEP). */
int o2o_vecenv_step_range(o2o_vecenv *env, int first, int num, const float *actions,
                          o2o_step_result *out, char *err, size_t errlen) {
  const int n = env->n, nu = env->nu, od = env->obs_dim;
  if (!actions || first < 0 || num < 1 || first > n - num) {
    if (err)
      snprintf(err, errlen, "step: env range [%d, %d) outside [0, %d)", first, first + num, n);
    return O2O_SIM_EINVAL;
  }
  const size_t count = (size_t)num * nu;
  /* Check everything before stepping anything. */
  for (size_t j = 0; j < count; j++) {
    if (!isfinite(actions[j])) {
      if (err)
        snprintf(err, errlen,
                 "step: action of env %d, component %d is %g (must be finite); nothing was stepped",
                 first + (int)(j / nu), (int)(j % nu), (double)actions[j]);
      return O2O_SIM_EINVAL;
    }
  }
  const mjModel *m = env->m;
  const o2o_task *t = env->task;
  const int fs = env->sc.frame_skip, k = env->dyn.action_delay;
  const double dt = env->spec.dt, noise = env->dyn.action_noise_std;
  for (int i = first; i < first + num; i++) {
    mjData *d = env->d[i];
    const float *a = actions + (size_t)(i - first) * nu;
    double cmd[O2O_SIM_MAX_ACT], ctrl_cost = 0;
    for (int c = 0; c < nu; c++) {
      double v = a[c];
      v = v < env->ctrl_lo[c] ? env->ctrl_lo[c] : v > env->ctrl_hi[c] ? env->ctrl_hi[c] : v;
      cmd[c] = v;
      ctrl_cost += v * v;
    }
    const double *applied = cmd;
    double popped[O2O_SIM_MAX_ACT];
    if (k > 0) { /* ring of k pending actions: apply the oldest, enqueue this one */
      double *slot = env->queue + ((size_t)i * O2O_SIM_MAX_DELAY + env->queue_head[i]) * nu;
      memcpy(popped, slot, sizeof(double) * nu);
      memcpy(slot, cmd, sizeof(double) * nu);
      env->queue_head[i] = (env->queue_head[i] + 1) % k;
      applied = popped;
    }
    if (noise > 0) {
      for (int c = 0; c < nu; c++) {
        double v = applied[c] + noise * o2o_rng_normal(&env->rng[i]);
        d->ctrl[c] = v < env->ctrl_lo[c]   ? env->ctrl_lo[c]
                     : v > env->ctrl_hi[c] ? env->ctrl_hi[c]
                                           : v;
      }
    } else {
      memcpy(d->ctrl, applied, sizeof(double) * nu);
    }
    const double x_before = d->qpos[0];
    /* MuJoCo resets mjData itself when qpos/qvel/qacc go bad (NaN, inf or beyond mjMAXVAL)
     * and counts a warning; zero the counts so this step's reset is seen. */
    for (int w = mjWARN_BADQPOS; w <= mjWARN_BADQACC; w++)
      d->warning[w].number = 0;
    for (int s = 0; s < fs; s++)
      mj_step(m, d);
    if (d->warning[mjWARN_BADQPOS].number || d->warning[mjWARN_BADQVEL].number ||
        d->warning[mjWARN_BADQACC].number) {
      /* The physics diverged: no transition happened. End the episode like a lost step
       * (truncated, reward 0, final_obs = the last good observation, episode_step = -1)
       * and start a proper new one (the task's reset, not MuJoCo's default pose). */
      float *o = env->obs + (size_t)i * od;
      memcpy(env->final_obs + (size_t)i * od, o, sizeof(float) * od);
      env->reward[i] = 0;
      env->terminated[i] = 0;
      env->truncated[i] = 1;
      reset_env(env, i, o);
      env->episode_step[i] = O2O_SIM_DIVERGED;
      continue;
    }
    double r = t->healthy_reward - t->ctrl_cost_weight * ctrl_cost;
    if (t->forward_reward) r += (d->qpos[0] - x_before) / dt;
    env->reward[i] = (float)r;
    int term = t->terminated(m, d);
    int trunc = ++env->steps[i] >= env->sc.max_episode_steps;
    env->terminated[i] = (uint8_t)term;
    env->truncated[i] = (uint8_t)trunc;
    float *o = env->obs + (size_t)i * od;
    float *fo = env->final_obs + (size_t)i * od;
    observe(env, i, o);
    memcpy(fo, o, sizeof(float) * od);
    if (term || trunc) reset_env(env, i, o); /* SAME_STEP autoreset */
    env->episode_step[i] = env->steps[i];
  }
  if (out) { /* rows of the range */
    out->obs = env->obs + (size_t)first * od;
    out->reward = env->reward + first;
    out->terminated = env->terminated + first;
    out->truncated = env->truncated + first;
    out->final_obs = env->final_obs + (size_t)first * od;
    out->episode_step = env->episode_step + first;
  }
  return O2O_SIM_OK;
}

int o2o_vecenv_step(o2o_vecenv *env, const float *actions, o2o_step_result *out, char *err,
                    size_t errlen) {
  return o2o_vecenv_step_n(env, actions, (size_t)env->n * env->nu, out, err, errlen);
}

int o2o_vecenv_set_dynamics(o2o_vecenv *env, const o2o_dynamics *dyn, char *err, size_t errlen) {
  int rc = o2o_dynamics_validate(dyn, err, errlen);
  if (rc) return rc;
  if (dyn->action_delay != env->dyn.action_delay) {
    /* a new delay length starts from an empty (all-zero) queue */
    memset(env->queue, 0, sizeof(double) * env->n * O2O_SIM_MAX_DELAY * env->nu);
    memset(env->queue_head, 0, sizeof(int) * env->n);
  }
  env->dyn = *dyn;
  o2o_dynamics_apply(env->m, env->m0, env->scratch, dyn);
  return O2O_SIM_OK;
}

void o2o_vecenv_get_dynamics(const o2o_vecenv *env, o2o_dynamics *dyn) {
  *dyn = env->dyn;
}

/* State layout (doubles): time, qpos[nq], qvel[nv], act[na], qacc_warmstart[nv], episode step,
 * delay length k, queue head, queue[O2O_SIM_MAX_DELAY][nu], RNG s[0..3] as 8 32-bit halves. */
int o2o_vecenv_get_state(const o2o_vecenv *env, int i, double *state) {
  if (i < 0 || i >= env->n || !state) return O2O_SIM_EINVAL;
  const mjModel *m = env->m;
  const mjData *d = env->d[i];
  double *p = state;
  *p++ = d->time;
  memcpy(p, d->qpos, sizeof(double) * m->nq), p += m->nq;
  memcpy(p, d->qvel, sizeof(double) * m->nv), p += m->nv;
  memcpy(p, d->act, sizeof(double) * m->na), p += m->na;
  memcpy(p, d->qacc_warmstart, sizeof(double) * m->nv), p += m->nv;
  *p++ = env->steps[i];
  *p++ = env->dyn.action_delay;
  *p++ = env->queue_head[i];
  memcpy(p, env->queue + (size_t)i * O2O_SIM_MAX_DELAY * env->nu,
         sizeof(double) * O2O_SIM_MAX_DELAY * env->nu);
  p += O2O_SIM_MAX_DELAY * env->nu;
  for (int k = 0; k < 4; k++) {
    *p++ = (double)(env->rng[i].s[k] >> 32);
    *p++ = (double)(env->rng[i].s[k] & 0xffffffffu);
  }
  return O2O_SIM_OK;
}

static int is_uint_below(double v, double limit) {
  return v >= 0 && v < limit && v == (double)(uint64_t)v;
}

int o2o_vecenv_set_state(o2o_vecenv *env, int i, const double *state, char *err, size_t errlen) {
  if (i < 0 || i >= env->n || !state) {
    if (err) snprintf(err, errlen, "set_state: env index %d outside [0, %d)", i, env->n);
    return O2O_SIM_EINVAL;
  }
  const mjModel *m = env->m;
  const int dim = env->spec.state_dim;
  for (int j = 0; j < dim; j++) {
    if (!isfinite(state[j])) {
      if (err) snprintf(err, errlen, "set_state: env %d: state[%d] is not finite", i, j);
      return O2O_SIM_EINVAL;
    }
  }
  /* Physics entries MuJoCo would reset on at the next step (mj_checkPos/Vel/Acc). */
  for (int j = 1; j < 1 + m->nq + 2 * m->nv + m->na; j++) {
    if (fabs(state[j]) > mjMAXVAL) {
      if (err)
        snprintf(err, errlen,
                 "set_state: env %d: state[%d] = %g is beyond MuJoCo's limit %g for qpos, qvel, "
                 "act and qacc_warmstart",
                 i, j, state[j], mjMAXVAL);
      return O2O_SIM_EINVAL;
    }
  }
  const double *p = state + 1 + m->nq + 2 * m->nv + m->na;
  const double steps = p[0], k = p[1], head = p[2];
  if (!is_uint_below(steps, env->sc.max_episode_steps)) {
    if (err)
      snprintf(err, errlen, "set_state: env %d: episode step %g is not an integer in [0, %d)", i,
               steps, env->sc.max_episode_steps);
    return O2O_SIM_EINVAL;
  }
  if (k != env->dyn.action_delay) {
    if (err)
      snprintf(
          err, errlen,
          "set_state: env %d: state has action delay %g but the env has %d (set_dynamics first)", i,
          k, env->dyn.action_delay);
    return O2O_SIM_EINVAL;
  }
  if (!is_uint_below(head, k > 0 ? k : 1)) {
    if (err)
      snprintf(err, errlen, "set_state: env %d: delay queue head %g outside [0, %g)", i, head,
               k > 0 ? k : 1);
    return O2O_SIM_EINVAL;
  }
  const double *rng = p + 3 + O2O_SIM_MAX_DELAY * env->nu;
  uint64_t s[4];
  for (int j = 0; j < 4; j++) {
    if (!is_uint_below(rng[2 * j], 4294967296.0) || !is_uint_below(rng[2 * j + 1], 4294967296.0)) {
      if (err)
        snprintf(err, errlen, "set_state: env %d: RNG word %d is not a 32-bit unsigned integer", i,
                 j);
      return O2O_SIM_EINVAL;
    }
    s[j] = ((uint64_t)rng[2 * j] << 32) | (uint64_t)rng[2 * j + 1];
  }
  if (!(s[0] | s[1] | s[2] | s[3])) {
    if (err)
      snprintf(err, errlen, "set_state: env %d: RNG state is all zero (invalid for xoshiro256**)",
               i);
    return O2O_SIM_EINVAL;
  }
  mjData *d = env->d[i];
  const double *q = state;
  d->time = *q++;
  memcpy(d->qpos, q, sizeof(double) * m->nq), q += m->nq;
  memcpy(d->qvel, q, sizeof(double) * m->nv), q += m->nv;
  memcpy(d->act, q, sizeof(double) * m->na), q += m->na;
  memcpy(d->qacc_warmstart, q, sizeof(double) * m->nv);
  env->steps[i] = (int32_t)steps;
  env->episode_step[i] = (int32_t)steps;
  env->queue_head[i] = (int)head;
  memcpy(env->queue + (size_t)i * O2O_SIM_MAX_DELAY * env->nu, p + 3,
         sizeof(double) * O2O_SIM_MAX_DELAY * env->nu);
  memcpy(env->rng[i].s, s, sizeof s);
  /* Derived quantities (positions for rendering, contacts) for the new state. mj_forward
   * overwrites qacc_warmstart with the solver's result (MuJoCo 2.2): put the given one back,
   * so get_state(set_state(x)) is x and the next step starts from the given warm start. */
  mj_forward(m, d);
  memcpy(d->qacc_warmstart, state + 1 + m->nq + m->nv + m->na, sizeof(double) * m->nv);
  return O2O_SIM_OK;
}
