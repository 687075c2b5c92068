/* replay_file.h: an online run's replay buffer saved beside its checkpoint, so a resumed run
 * learns from the transitions it had gathered instead of restarting from an empty buffer
 * (a SAC run resumed at 50k steps with an empty buffer trains on its first few hundred new
 * rows again, as if it had just started).
 *
 * The file is safetensors (io/checkpoint.h, written atomically): tensors obs [n][obs_dim],
 * act [n][act_dim], rew [n], next_obs [n][obs_dim], done [n], the rows oldest first, and
 * metadata kind = "o2o-replay", rows, obs_dim, act_dim, step (the env step of the checkpoint
 * it belongs to). Only the five base fields are kept: the online buffer has no optional
 * columns (the real data of H2O is the dataset, reloaded from its file). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "replay/replay.h"

#ifdef __cplusplus
extern "C" {
#endif

#define O2O_REPLAY_FILE "replay.safetensors"

/* Save every stored row of rb to path, tagged with env step `step`. 0, or -1 with err. */
int o2o_replay_file_save(const o2o_replay *rb, const char *path, int64_t step, char *err,
                         size_t errlen);

/* Append the rows of the file at path to rb (oldest first; a smaller rb keeps the newest).
 * Returns the rows read (>= 0); -2 with err when its step is not `want_step` (a file of
 * another checkpoint); -1 with err when it is unreadable, not a replay file, of other dims
 * than rb's, or holds a non-finite value. rb is unchanged unless rows are returned. */
int64_t o2o_replay_file_load(o2o_replay *rb, const char *path, int64_t want_step, char *err,
                             size_t errlen);

#ifdef __cplusplus
}
#endif
