/* cmd_render_dataset.c: `o2o render --dataset FILE`, a dataset's episodes shown as they
 * were recorded, which is how one checks what a file holds.
 *
 * Two ways, chosen by what the file has:
 *   - states: infos/qpos [N][nq] and infos/qvel [N][nv] (D4RL's keys): row t's state is
 *     put into the env with SET_STATE and drawn. Exact whatever made the file.
 *   - actions: metadata/seed and infos/env_index (what `o2o collect` writes): env j's rows
 *     are replayed in order from a reset with seed + j (the pool's seeding), the row's
 *     action applied, and every observation compared with the recorded one, so a file
 *     that does not replay (other dynamics, a pool restart, another program) is refused
 *     at the first row that differs instead of showing something else.
 * Frames follow the rollout's timing: row k of the replay is at time k * dt. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/render_internal.h"
#include "o2o_agent.h"
#include "o2o_dataset.h"

typedef struct {
  o2o_dataset *d;
  const o2o_dataset_info *info;
  int64_t n;
  int obs_dim, act_dim;
  float *obs, *act, *rew;
  uint8_t *term, *tout;
  o2o_dataset_extra *extras;
  int num_extras;
  const o2o_dataset_extra *qpos, *qvel, *env_index, *seed;
  int64_t *ep_start; /* episodes in file order: rows [ep_start[e], ep_start[e + 1]) */
  int64_t episodes;
} replay_data;

static void replay_free(replay_data *x) {
  free(x->obs);
  free(x->act);
  free(x->rew);
  free(x->term);
  free(x->tout);
  free(x->ep_start);
  o2o_dataset_extras_free(x->extras, x->num_extras);
  o2o_dataset_close(x->d);
}

static const o2o_dataset_extra *find_extra(const replay_data *x, const char *key) {
  for (int k = 0; k < x->num_extras; k++)
    if (!strcmp(x->extras[k].key, key)) return &x->extras[k];
  return NULL;
}

/* Element i of a numeric extra as a double (float32/64 or integer dtypes). */
static double extra_at(const o2o_dataset_extra *e, int64_t i) {
  switch (e->dtype) {
  case O2O_DTYPE_F32:
    return ((const float *)e->data)[i];
  case O2O_DTYPE_F64:
    return ((const double *)e->data)[i];
  case O2O_DTYPE_I32:
    return ((const int32_t *)e->data)[i];
  case O2O_DTYPE_I64:
    return (double)((const int64_t *)e->data)[i];
  default:
    return NAN;
  }
}

static int numeric(const o2o_dataset_extra *e) {
  return e->dtype == O2O_DTYPE_F32 || e->dtype == O2O_DTYPE_F64 || e->dtype == O2O_DTYPE_I32 ||
         e->dtype == O2O_DTYPE_I64;
}

static int load(render_run *r, replay_data *x, const char *path) {
  char *err = r->err;
  size_t el = sizeof r->err;
  x->d = o2o_dataset_open(path, NULL, err, el);
  if (!x->d) return -1;
  x->info = o2o_dataset_get_info(x->d);
  if (!x->info->has_next_obs) {
    o2o_agent_errf(err, el,
                   "%s has no next_observations, so its rows are not read one to one; "
                   "--dataset replays files with next_observations only",
                   path);
    return -1;
  }
  x->n = x->info->transitions;
  x->obs_dim = x->info->obs_dim;
  x->act_dim = x->info->act_dim;
  x->obs = malloc(sizeof(float) * (size_t)(x->n * x->obs_dim));
  x->act = malloc(sizeof(float) * (size_t)(x->n * x->act_dim));
  x->rew = malloc(sizeof(float) * (size_t)x->n);
  x->term = malloc((size_t)x->n);
  x->tout = malloc((size_t)x->n);
  x->ep_start = malloc(sizeof(int64_t) * (size_t)(x->n + 2));
  if (!x->obs || !x->act || !x->rew || !x->term || !x->tout || !x->ep_start) {
    o2o_agent_errf(err, el, "out of memory for %lld rows of %s", (long long)x->n, path);
    return -1;
  }
  o2o_dataset_dest dst = {
      .obs = x->obs, .act = x->act, .rew = x->rew, .terminals = x->term, .timeouts = x->tout};
  if (o2o_dataset_read(x->d, 0, x->n, &dst, err, el)) return -1;
  if (o2o_dataset_read_extras(x->d, &x->extras, &x->num_extras, err, el)) return -1;
  /* Episodes: consecutive rows up to a terminal or timeout; a trailing unfinished one too. */
  x->episodes = 0;
  for (int64_t t = 0; t < x->n; t++)
    if (t == 0 || x->term[t - 1] || x->tout[t - 1]) x->ep_start[x->episodes++] = t;
  x->ep_start[x->episodes] = x->n;

  x->qpos = find_extra(x, "infos/qpos");
  x->qvel = find_extra(x, "infos/qvel");
  x->env_index = find_extra(x, "infos/env_index");
  x->seed = find_extra(x, "metadata/seed");
  const o2o_dataset_extra *rows2[2] = {x->qpos, x->qvel};
  for (int k = 0; k < 2; k++)
    if (rows2[k] && (!numeric(rows2[k]) || rows2[k]->ndim != 2 || rows2[k]->shape[0] != x->n)) {
      o2o_agent_errf(err, el, "%s: %s must be a numeric [%lld][n] array (got rank %d, %lld rows)",
                     path, rows2[k]->key, (long long)x->n, rows2[k]->ndim,
                     (long long)rows2[k]->shape[0]);
      return -1;
    }
  if (x->env_index &&
      (!numeric(x->env_index) || x->env_index->ndim != 1 || x->env_index->shape[0] != x->n)) {
    o2o_agent_errf(err, el, "%s: infos/env_index must be a numeric [%lld] array", path,
                   (long long)x->n);
    return -1;
  }
  if (x->seed && (!numeric(x->seed) || o2o_dataset_extra_numel(x->seed) != 1)) x->seed = NULL;
  if (!(x->qpos && x->qvel) && !(x->seed && x->env_index)) {
    o2o_agent_errf(
        err, el,
        "%s cannot be replayed: it needs infos/qpos and infos/qvel (the simulator state of "
        "every row, replayed with SET_STATE), or metadata/seed and infos/env_index (the "
        "actions replayed from each env's start seed, as `o2o collect` records)",
        path);
    return -1;
  }
  return 0;
}

/* Row t is where the env is now: draw the frames due at replay step k, then count the row. */
static int show_row(render_run *r, const replay_data *x, int64_t t, long k, long target,
                    int64_t ep_end) {
  render_side *s = &r->side[0];
  double dt = s->spec->dt;
  int rendered = 0;
  while ((target == 0 || r->frames < target) && k * dt >= r->frames / r->a.fps - 1e-9) {
    if (!rendered && render_side_render(r, s)) return -1;
    rendered = 1;
    if (render_emit_frame(r)) return -1;
  }
  render_count_step(r, s, x->rew[t], t + 1 == ep_end);
  return 0;
}

static int set_row_state(render_run *r, const replay_data *x, int64_t t, double *state) {
  const o2o_bridge_spec *sp = r->side[0].spec;
  int nq = (int)x->qpos->shape[1], nv = (int)x->qvel->shape[1];
  if (1 + nq + nv > sp->state_dim) {
    o2o_agent_errf(
        r->err, sizeof r->err,
        "%s: infos/qpos (%d) and infos/qvel (%d) do not fit scenario %s's state (%d values)",
        r->a.dataset, nq, nv, r->a.scenario, sp->state_dim);
    return -1;
  }
  for (int k = 0; k < nq; k++)
    state[1 + k] = extra_at(x->qpos, t * nq + k);
  for (int k = 0; k < nv; k++)
    state[1 + nq + k] = extra_at(x->qvel, t * nv + k);
  char e[512];
  if (o2o_pool_set_state(r->side[0].pool, 0, state, e, sizeof e)) {
    o2o_agent_errf(r->err, sizeof r->err, "%s row %lld: SET_STATE: %s", r->a.dataset, (long long)t,
                   e);
    return -1;
  }
  return 0;
}

/* Step the env with row t's action (unit box -> the scenario's bounds, as collect did). */
static int step_row(render_run *r, const replay_data *x, int64_t t) {
  render_side *s = &r->side[0];
  const o2o_bridge_spec *sp = s->spec;
  float act[O2O_BRIDGE_MAX_ACT];
  for (int k = 0; k < sp->act_dim; k++) {
    float u = x->act[t * x->act_dim + k];
    act[k] = sp->act_low[k] + 0.5f * (u + 1.0f) * (sp->act_high[k] - sp->act_low[k]);
  }
  o2o_bridge_batch b;
  char e[512];
  if (o2o_pool_step(s->pool, act, &b, e, sizeof e)) {
    o2o_agent_errf(r->err, sizeof r->err, "%s row %lld: %s", r->a.dataset, (long long)t, e);
    return -1;
  }
  memcpy(s->obs, b.obs, sizeof(float) * (size_t)sp->obs_dim);
  return 0;
}

/* The env's observation must be row t's (float32 both sides; tolerance for the wire's
 * round trip of noise-free values is tiny). */
static int check_obs(render_run *r, const replay_data *x, int64_t t, int env) {
  const float *want = x->obs + t * x->obs_dim, *got = r->side[0].obs;
  for (int k = 0; k < x->obs_dim; k++)
    if (!(fabsf(want[k] - got[k]) <= 1e-4f * (1.0f + fabsf(want[k])))) {
      o2o_agent_errf(r->err, sizeof r->err,
                     "%s: replaying env %d's actions from seed %lld diverges at row %lld "
                     "(observation[%d] %g recorded, %g replayed): the file was made with other "
                     "dynamics, across a pool restart or by another program; infos/qpos and "
                     "infos/qvel would replay it exactly",
                     r->a.dataset, env, (long long)extra_at(x->seed, 0) + env, (long long)t, k,
                     (double)want[k], (double)got[k]);
      return -1;
    }
  return 0;
}

int render_dataset(render_run *r, int video) {
  render_args *a = &r->a;
  replay_data x = {0};
  char path[1024];
  int rc = -1;
  double *state = NULL;
  if (o2o_dataset_find(a->dataset, path, sizeof path, r->err, sizeof r->err)) return -1;
  if (load(r, &x, path)) goto done;
  if (!a->scenario && x.info->scenario[0]) { /* kept beyond the file's lifetime */
    snprintf(r->scenario_buf, sizeof r->scenario_buf, "%s", x.info->scenario);
    a->scenario = r->scenario_buf;
  }
  if (!a->scenario) {
    o2o_agent_errf(r->err, sizeof r->err, "%s has no metadata/scenario: give --scenario NAME",
                   path);
    goto done;
  }
  if (a->first_episode >= x.episodes) {
    o2o_agent_errf(r->err, sizeof r->err, "%s has %lld episodes (0 to %lld); --first-episode %d",
                   path, (long long)x.episodes, (long long)x.episodes - 1, a->first_episode);
    goto done;
  }
  const char *variant = x.info->variant[0] ? x.info->variant : a->variant;
  if (render_side_open(r, &r->side[0], variant)) goto done;
  render_side *s = &r->side[0];
  if (s->spec->obs_dim != x.obs_dim || s->spec->act_dim != x.act_dim) {
    o2o_agent_errf(r->err, sizeof r->err,
                   "%s has obs_dim %d / act_dim %d but scenario %s has %d / %d", path, x.obs_dim,
                   x.act_dim, a->scenario, s->spec->obs_dim, s->spec->act_dim);
    goto done;
  }
  int by_state = x.qpos && x.qvel;
  state = malloc(sizeof(double) * (size_t)s->spec->state_dim);
  if (!state) {
    o2o_agent_errf(r->err, sizeof r->err, "out of memory");
    goto done;
  }
  char e[512];
  if (o2o_pool_get_state(s->pool, 0, state, e, sizeof e)) { /* the template: RNG, queue */
    o2o_agent_errf(r->err, sizeof r->err, "GET_STATE: %s", e);
    goto done;
  }
  long target = a->seconds > 0 ? lround(a->seconds * a->fps) : 0;
  if (target == 0 && a->seconds > 0) target = 1;
  fprintf(stderr, "o2o render: %s, episodes %d.. of %lld (%s), %s/%s, %dx%d at %g fps -> %s\n",
          path, a->first_episode, (long long)x.episodes,
          by_state ? "states: infos/qpos + infos/qvel" : "actions from the start seeds",
          a->scenario, variant, r->frame_width, a->height, a->fps, a->out);
  render_progress_start(r);
  long k = 0; /* replay steps so far (time k * dt) */
  for (int64_t ep = a->first_episode; ep < x.episodes && !s->finished; ep++) {
    if (target > 0 && r->frames >= target) break;
    int64_t r0 = x.ep_start[ep], r1 = x.ep_start[ep + 1];
    int env = x.env_index ? (int)extra_at(x.env_index, r0) : 0;
    if (!by_state) { /* replay env's rows before this episode, unseen */
      uint64_t seed = (uint64_t)extra_at(x.seed, 0) + (uint64_t)env;
      if (o2o_pool_reset(s->pool, seed, s->obs, e, sizeof e)) {
        o2o_agent_errf(r->err, sizeof r->err, "RESET: %s", e);
        goto done;
      }
      for (int64_t t = 0; t < r0; t++)
        if ((int)extra_at(x.env_index, t) == env &&
            (check_obs(r, &x, t, env) || step_row(r, &x, t)))
          goto done;
    }
    s->episode_steps = 0;
    s->episode_return = 0;
    s->last_reward = 0;
    for (int64_t t = r0; t < r1 && !s->finished; t++, k++) {
      if (target > 0 && r->frames >= target) break;
      if (by_state ? set_row_state(r, &x, t, state) : check_obs(r, &x, t, env)) goto done;
      if (k == 0 && video) { /* first frame before ffmpeg: a missing display fails cleanly */
        if (render_side_render(r, s)) goto done;
        if (!(r->video =
                  o2o_video_open(a->out, r->frame_width, a->height, a->fps, r->err, sizeof r->err)))
          goto done;
      }
      if (show_row(r, &x, t, k, target, r1)) goto done;
      if (!by_state && t + 1 < r1 && step_row(r, &x, t)) goto done;
      render_progress(r, target, 0);
    }
  }
  render_progress(r, target, 1);
  rc = 0;
done:
  free(state);
  replay_free(&x);
  return rc;
}
