/* o2o-sim: serves N envs of one scenario variant over the bridge protocol
 * (bridge/PROTOCOL.md), or runs a few random episodes (--random-episodes). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "o2o_flags.h"
#include "o2o_sim.h"
#include "o2o_version.h"
#include "o2o_wire.h"
#include "server.h"

static volatile sig_atomic_t stop_flag = 0;
static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: o2o-sim --scenario NAME [options]\n"
          "       o2o-sim --scenario NAME --random-episodes K [--variant V] [--seed S]\n"
          "       o2o-sim --gen-keys DIR [--key-name NAME]\n"
          "\n"
          "Serves N envs of one scenario variant to o2o agents (or any client speaking\n"
          "bridge/PROTOCOL.md) over ZeroMQ. All connected clients share the same N envs;\n"
          "requests are handled one at a time in arrival order.\n"
          "\n"
          "  --scenario NAME        scenario name (looked up in $O2O_SCENARIO_PATH, then the\n"
          "                         source tree's scenarios/) or path to a .ini file\n"
          "  --variant real|sim     dynamics variant (default real)\n"
          "  --envs N               number of envs (default 1)\n"
          "  --endpoint EP          ipc://PATH (default ipc:///tmp/o2o-sim-PID.ipc) or\n"
          "                         tcp://127.0.0.1:PORT (localhost = 127.0.0.1; PORT 0 = any\n"
          "                         free port, printed); other tcp addresses need\n"
          "                         --allow-remote; tcp://SOURCE;ADDRESS is refused\n"
          "  --seed S               seed of the reset done at start (STEP works before any\n"
          "                         RESET): env i gets S + i (default 0)\n"
          "  --render               open the live viewer window on env 0 (needs a display or\n"
          "                         xvfb-run)\n"
          "  --random-episodes K    run K episodes of random actions in one env, print the\n"
          "                         returns and exit (no server)\n"
          "  --json                 with --random-episodes: one JSON object on stdout\n"
          "  --quiet                no messages on stderr except errors\n"
          "\n"
          "Security (ipc and loopback tcp need none of this):\n"
          "  --allow-remote         permit binding a non-loopback tcp address\n"
          "  --curve-server-key F   the server's key pair file (from --gen-keys): encrypt and\n"
          "                         authenticate with ZeroMQ CURVE\n"
          "  --curve-client-keys P  public key file, or a directory of *.pub files, of the\n"
          "                         clients allowed to connect (others are refused)\n"
          "  --insecure             with --allow-remote: serve plain text without CURVE, to\n"
          "                         anyone who can reach the port\n"
          "  --gen-keys DIR         write a CURVE key pair DIR/NAME.key (secret, mode 0600) and\n"
          "                         DIR/NAME.pub, then exit\n"
          "  --key-name NAME        file name for --gen-keys (default server)\n"
          "\n"
          "  --help                 this text\n"
          "  --version              print the version\n"
          "  Flags may be abbreviated to a unique prefix; --flag=value works too.\n"
          "\n"
          "The server prints \"o2o-sim: serving SCENARIO/VARIANT x N envs on ENDPOINT\" on\n"
          "stderr when ready, and exits on SIGINT, SIGTERM, a client's CLOSE request, or when\n"
          "the viewer window is closed.\n");
}

int main(int argc, char **argv) {
  const char *scenario = NULL, *variant_name = "real", *gen_dir = NULL, *key_name = "server";
  int envs = 1, episodes = 0, json = 0;
  uint64_t seed = 0;
  o2o_server_config cfg = {0};
  o2o_flags *f = o2o_flags_create("o2o-sim");
  o2o_flags_str(f, "scenario", &scenario, "NAME", "scenario name or .ini path");
  o2o_flag *vf = o2o_flags_str(f, "variant", &variant_name, "V", "real|sim");
  if (vf) vf->choices = "real|sim";
  o2o_flags_int(f, "envs", &envs, 1, O2O_WIRE_MAX_ENVS, "N", "number of envs");
  o2o_flags_str(f, "endpoint", &cfg.endpoint, "EP", "ipc:// or tcp:// endpoint");
  o2o_flags_u64(f, "seed", &seed, 0, INT64_MAX, "S", "seed of the start-up reset");
  o2o_flags_bool(f, "render", &cfg.render, "live viewer on env 0");
  o2o_flags_int(f, "random-episodes", &episodes, 1, 1000000, "K", "random episodes, then exit");
  o2o_flags_bool(f, "json", &json, "--random-episodes: one JSON object on stdout");
  o2o_flags_bool(f, "quiet", &cfg.quiet, "errors only on stderr");
  o2o_flags_bool(f, "allow-remote", &cfg.allow_remote, "permit a non-loopback tcp address");
  o2o_flags_str(f, "curve-server-key", &cfg.curve_server_key, "F", "server key pair file");
  o2o_flags_str(f, "curve-client-keys", &cfg.curve_client_keys, "P", "allowed client keys");
  o2o_flags_bool(f, "insecure", &cfg.insecure, "plain text with --allow-remote");
  o2o_flags_str(f, "gen-keys", &gen_dir, "DIR", "write a CURVE key pair");
  o2o_flags_str(f, "key-name", &key_name, "NAME", "file name for --gen-keys");
  char version[96];
  snprintf(version, sizeof version, "o2o-sim %s (bridge protocol %d)", O2O_VERSION,
           O2O_WIRE_VERSION);
  o2o_flags_std(f, usage, version);
  int prc = o2o_flags_parse(f, argc, argv);
  o2o_flags_destroy(f);
  if (prc) return prc < 0 ? 2 : 0;
  if (json && !episodes) {
    fprintf(stderr, "o2o-sim: --json goes with --random-episodes (the server speaks the bridge "
                    "protocol)\n");
    return 2;
  }
  char err[O2O_SIM_ERRLEN];
  if (gen_dir) {
    if (o2o_wire_write_key_pair(gen_dir, key_name, err, sizeof err)) {
      fprintf(stderr, "o2o-sim: %s\n", err);
      return 1;
    }
    printf("wrote %s/%s.key (secret) and %s/%s.pub\n", gen_dir, key_name, gen_dir, key_name);
    return 0;
  }
  if (!scenario) {
    fprintf(stderr, "o2o-sim: --scenario NAME is required (see --help)\n");
    return 2;
  }
  o2o_variant variant;
  if (o2o_variant_parse(variant_name, &variant) != 0) {
    fprintf(stderr, "o2o-sim: --variant '%s': expected real or sim\n", variant_name);
    return 2;
  }
  o2o_scenario sc;
  if (o2o_scenario_load(&sc, scenario, err, sizeof err) != 0) {
    fprintf(stderr, "o2o-sim: %s\n", err);
    return 1;
  }
  if (episodes > 0) {
    if (o2o_sim_random_rollout(&sc, variant, episodes, seed, json, stdout, err, sizeof err)) {
      fprintf(stderr, "o2o-sim: %s\n", err);
      return 1;
    }
    return 0;
  }

  o2o_vecenv *env = o2o_vecenv_create(&sc, variant, (int)envs, err, sizeof err);
  if (!env) {
    fprintf(stderr, "o2o-sim: %s\n", err);
    return 1;
  }
  /* Start from a defined state so GET_STATE/RENDER work before the first RESET. */
  uint64_t *seeds = malloc(sizeof(uint64_t) * (size_t)envs);
  float *obs = malloc(sizeof(float) * (size_t)envs * (size_t)o2o_vecenv_spec(env)->obs_dim);
  int rc = 1;
  if (!seeds || !obs) {
    fprintf(stderr, "o2o-sim: out of memory\n");
    goto done_env;
  }
  for (int i = 0; i < envs; i++)
    seeds[i] = seed + (uint64_t)i;
  if (o2o_vecenv_reset(env, seeds, obs, err, sizeof err) != 0) {
    fprintf(stderr, "o2o-sim: %s\n", err);
    goto done_env;
  }

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: zmq_poll returns EINTR and the loop ends */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  o2o_server *srv = o2o_server_create(env, &cfg, err, sizeof err);
  if (!srv) {
    fprintf(stderr, "o2o-sim: %s\n", err);
    goto done_env;
  }
  if (!cfg.quiet)
    fprintf(stderr, "o2o-sim: serving %s/%s x %d envs on %s%s\n", sc.name,
            o2o_variant_name(variant), envs, o2o_server_endpoint(srv),
            cfg.curve_server_key ? " (CURVE)" : (cfg.insecure ? " (INSECURE, no CURVE)" : ""));
  int run = o2o_server_run(srv, &stop_flag, err, sizeof err);
  long requests, errors;
  o2o_server_stats(srv, &requests, &errors);
  if (run < 0) {
    fprintf(stderr, "o2o-sim: %s\n", err);
  } else {
    rc = 0;
    if (!cfg.quiet)
      fprintf(stderr, "o2o-sim: %s after %ld requests (%ld answered with ERROR)\n",
              run == 1   ? "closed by a client"
              : run == 2 ? "viewer closed"
                         : "stopped by signal",
              requests, errors);
  }
  o2o_server_destroy(srv);
done_env:
  free(seeds);
  free(obs);
  o2o_vecenv_destroy(env);
  return rc;
}
