/* o2o_sim.h: the scenario runtime (public API of sim/).
 *
 * A scenario (scenarios/NAME.ini) names an MJCF model, a task (observation, reward,
 * termination, reset noise), frame_skip, an episode limit and two dynamics variants:
 * "real" (nominal) and "sim" (perturbed). A vecenv runs N envs of one scenario
 * variant in one process, on one thread.
 *
 * This header does not include MuJoCo: callers that need mjModel/mjData (rendering)
 * include o2o_sim_mj.h.
 *
 * Errors: functions return 0 on success and a negative O2O_SIM_E* code on failure,
 * writing a human-readable message (naming the file, line, key or env) to err.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define O2O_SIM_MAX_OBS 64
#define O2O_SIM_MAX_ACT 16
#define O2O_SIM_MAX_DELAY 32
#define O2O_SIM_MIN_SCALE 0.01 /* smallest gravity/friction/mass/gear scale */
#define O2O_SIM_ERRLEN 512

enum {
  O2O_SIM_OK = 0,
  O2O_SIM_EIO = -1,    /* file missing or unreadable */
  O2O_SIM_EPARSE = -2, /* scenario file syntax, unknown key, wrong type */
  O2O_SIM_ERANGE = -3, /* value outside its documented range */
  O2O_SIM_EMODEL = -4, /* MuJoCo rejected the MJCF */
  O2O_SIM_EINVAL = -5, /* bad argument: NaN action, wrong length, bad env index */
  O2O_SIM_ENOMEM = -6,
};

/* Dynamics parameters of one variant. Scales multiply the nominal model values.
 * Units and valid ranges are documented in sim/README.md and checked by
 * o2o_dynamics_validate. */
typedef struct o2o_dynamics {
  double gravity_scale;    /* x nominal gravity vector, [0.01, 10] */
  double friction_scale;   /* x every geom's friction (all 3 coefficients), [0.01, 10] */
  double mass_scale;       /* x every body's mass and inertia, [0.01, 10] */
  double damping_scale;    /* x every dof's damping, [0, 10] */
  double gear_scale;       /* x every actuator's gear, [0.01, 10] */
  double action_noise_std; /* std of Gaussian noise added to each action component, [0, 10] (action
                              units) */
  double obs_noise_std;    /* std of Gaussian noise added to each observation component, [0, 10] */
  int action_delay;        /* actions take effect k env steps late, [0, O2O_SIM_MAX_DELAY] */
} o2o_dynamics;

void o2o_dynamics_default(o2o_dynamics *dyn); /* all scales 1, noise 0, delay 0 */
int o2o_dynamics_validate(const o2o_dynamics *dyn, char *err, size_t errlen);

typedef enum { O2O_VARIANT_REAL = 0, O2O_VARIANT_SIM = 1 } o2o_variant;
const char *o2o_variant_name(o2o_variant v);               /* "real" / "sim" */
int o2o_variant_parse(const char *name, o2o_variant *out); /* 0 ok, O2O_SIM_EINVAL otherwise */

/* A parsed scenario file. Immutable after load (the model split of MuJoCo). */
typedef struct o2o_scenario {
  char name[64];            /* scenario name, e.g. "hopper-gravity" */
  char path[1024];          /* the .ini file it was loaded from */
  char model_path[1024];    /* MJCF, resolved relative to the scenario file */
  char task[32];            /* "pendulum", "hopper", "halfcheetah", "walker2d" */
  int frame_skip;           /* mj_step calls per env step, >= 1 */
  int max_episode_steps;    /* truncation limit, >= 1 */
  double reset_noise_scale; /* task default unless overridden, >= 0 */
  o2o_dynamics real;        /* nominal variant (usually all defaults) */
  o2o_dynamics sim;         /* perturbed variant */
} o2o_scenario;

/* Load a scenario by path ("scenarios/hopper.ini") or by name ("hopper"), which is looked
 * up in $O2O_SCENARIO_PATH (colon-separated) and then in the source tree's scenarios/. */
int o2o_scenario_load(o2o_scenario *sc, const char *name_or_path, char *err, size_t errlen);

/* What an agent must know about a vecenv. Observations, actions and rewards are float32. */
typedef struct o2o_env_spec {
  int num_envs;
  int obs_dim;
  int act_dim;
  float act_low[O2O_SIM_MAX_ACT];
  float act_high[O2O_SIM_MAX_ACT];
  double dt; /* seconds per env step = timestep * frame_skip */
  int frame_skip;
  int max_episode_steps;
  int state_dim; /* doubles per env in o2o_vecenv_get_state */
} o2o_env_spec;

/* Result arrays of one step, owned by the vecenv and valid until its next call.
 * Autoreset is SAME_STEP (Gymnasium's term): when env i's episode ends at this step,
 * obs[i] already holds the first observation of its next episode, final_obs[i] holds
 * the last observation of the episode that ended, and reward/terminated/truncated
 * describe the step that ended it. final_obs rows of envs whose episode goes on are
 * copies of obs. */
typedef struct o2o_step_result {
  float *obs;            /* [num_envs][obs_dim] */
  float *reward;         /* [num_envs] */
  uint8_t *terminated;   /* [num_envs] 1 = MDP terminal state (do not bootstrap) */
  uint8_t *truncated;    /* [num_envs] 1 = episode limit reached (bootstrap) */
  float *final_obs;      /* [num_envs][obs_dim] */
  int32_t *episode_step; /* [num_envs] steps of the episode that obs[i] belongs to, or
                            O2O_SIM_DIVERGED */
} o2o_step_result;

/* episode_step of an env whose physics diverged during the step (MuJoCo reset its data):
 * no transition happened. The row has truncated = 1, terminated = 0, reward 0, final_obs =
 * the observation before the step, obs = the first observation of a new episode. */
#define O2O_SIM_DIVERGED (-1)

typedef struct o2o_vecenv o2o_vecenv;

o2o_vecenv *o2o_vecenv_create(const o2o_scenario *sc, o2o_variant variant, int num_envs, char *err,
                              size_t errlen);
void o2o_vecenv_destroy(o2o_vecenv *env); /* NULL is fine */
const o2o_env_spec *o2o_vecenv_spec(const o2o_vecenv *env);
const o2o_scenario *o2o_vecenv_scenario(const o2o_vecenv *env);
o2o_variant o2o_vecenv_variant(const o2o_vecenv *env);

/* Reset every env. seeds: [num_envs] (env i is seeded with seeds[i]) or NULL to keep each
 * env's random stream going. obs: [num_envs][obs_dim] out. */
int o2o_vecenv_reset(o2o_vecenv *env, const uint64_t *seeds, float *obs, char *err, size_t errlen);

/* Step every env with actions [num_envs][act_dim]. NaN/inf actions are rejected (nothing is
 * stepped); finite actions outside [act_low, act_high] are clipped. */
int o2o_vecenv_step(o2o_vecenv *env, const float *actions, o2o_step_result *out, char *err,
                    size_t errlen);

/* Same as o2o_vecenv_step, with the number of action values the caller holds (count must be
 * num_envs * act_dim): the checked entry for data that came from outside (the bridge). */
int o2o_vecenv_step_n(o2o_vecenv *env, const float *actions, size_t count, o2o_step_result *out,
                      char *err, size_t errlen);

/* Step only envs [first, first + num) with actions [num][act_dim]; out points at those rows
 * of the result arrays (out->obs[0] is env first). The other envs are untouched. Same
 * checks as o2o_vecenv_step_n. (Added by bridge-core for sub-batch STEP over the bridge.) */
int o2o_vecenv_step_range(o2o_vecenv *env, int first, int num, const float *actions,
                          o2o_step_result *out, char *err, size_t errlen);

/* Change the dynamics of every env (applied from the next step; state is kept). */
int o2o_vecenv_set_dynamics(o2o_vecenv *env, const o2o_dynamics *dyn, char *err, size_t errlen);
void o2o_vecenv_get_dynamics(const o2o_vecenv *env, o2o_dynamics *dyn);

/* Full state of env i as spec->state_dim doubles: time, qpos, qvel, act, qacc_warmstart,
 * episode step, the action-delay queue and the env's RNG state (layout in sim/README.md).
 * set_state(get_state()) makes the env continue bit-identically. */
int o2o_vecenv_get_state(const o2o_vecenv *env, int i, double *state);
int o2o_vecenv_set_state(o2o_vecenv *env, int i, const double *state, char *err, size_t errlen);

/* Run `episodes` episodes of uniform random actions in one env of the scenario variant
 * (seeded with seed) and print one line per episode (return, length) and the mean to out,
 * or with json one object {"scenario", "variant", "seed", "episodes": [{"return", "length",
 * "terminated"}], "mean_return"}. 0 ok, <0 with err set. */
int o2o_sim_random_rollout(const o2o_scenario *sc, o2o_variant variant, int episodes, uint64_t seed,
                           int json, FILE *out, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
