/* dynamics.c: run-time perturbations of an mjModel. Every call starts again from the pristine
 * model, so setting the same dynamics twice is not cumulative. */
#include <string.h>
#include "sim_internal.h"

void o2o_dynamics_apply(mjModel *m, const mjModel *m0, mjData *scratch, const o2o_dynamics *dyn) {
  mj_copyModel(m, m0); /* same sizes: copies into m's own buffer, pointers to m stay valid */
  for (int k = 0; k < 3; k++)
    m->opt.gravity[k] = m0->opt.gravity[k] * dyn->gravity_scale;
  /* contact friction is the max over the two geoms, so scaling every geom scales every pair */
  for (int i = 0; i < 3 * m->ngeom; i++)
    m->geom_friction[i] = m0->geom_friction[i] * dyn->friction_scale;
  for (int i = 0; i < m->nv; i++)
    m->dof_damping[i] = m0->dof_damping[i] * dyn->damping_scale;
  for (int i = 0; i < 6 * m->nu; i++)
    m->actuator_gear[i] = m0->actuator_gear[i] * dyn->gear_scale;
  if (dyn->mass_scale != 1.0) {
    for (int b = 0; b < m->nbody; b++) {
      m->body_mass[b] = m0->body_mass[b] * dyn->mass_scale;
      for (int k = 0; k < 3; k++)
        m->body_inertia[3 * b + k] = m0->body_inertia[3 * b + k] * dyn->mass_scale;
    }
  }
  /* derived constants (invweight0 used by the constraint solver, actuator_acc0, subtree
   * masses) as if the model had been compiled with these values */
  if (dyn->mass_scale != 1.0 || dyn->gear_scale != 1.0) mj_setConst(m, scratch);
}
