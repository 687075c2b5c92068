/* o2o_sim_mj.h: MuJoCo-level access to a vecenv, for sim/ code only (rendering, tests,
 * benchmarks). The agent never includes this (it never includes MuJoCo). */
#pragma once
#include <mujoco/mujoco.h>
#include "o2o_sim.h"

const mjModel *o2o_vecenv_model(const o2o_vecenv *env);
mjData *o2o_vecenv_data(o2o_vecenv *env, int i);
