/* o2o-sim: serves N envs of one scenario variant over the bridge protocol
 * (bridge/PROTOCOL.md), or runs a few random episodes (--random-episodes). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
          "\n"
          "The server prints \"o2o-sim: serving SCENARIO/VARIANT x N envs on ENDPOINT\" on\n"
          "stderr when ready, and exits on SIGINT, SIGTERM, a client's CLOSE request, or when\n"
          "the viewer window is closed.\n");
}

static int parse_int(const char *flag, const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || end == s || v < lo || v > hi) {
    fprintf(stderr, "o2o-sim: %s '%s': expected a whole number in [%ld, %ld]\n", flag, s, lo, hi);
    return -1;
  }
  *out = v;
  return 0;
}

int main(int argc, char **argv) {
  enum {
    O_SCEN = 1,
    O_VAR,
    O_ENVS,
    O_EP,
    O_SEED,
    O_RENDER,
    O_RANDOM,
    O_QUIET,
    O_REMOTE,
    O_SKEY,
    O_CKEYS,
    O_INSECURE,
    O_GEN,
    O_KEYNAME,
    O_HELP,
    O_VERSION
  };
  static const struct option opts[] = {{"scenario", required_argument, 0, O_SCEN},
                                       {"variant", required_argument, 0, O_VAR},
                                       {"envs", required_argument, 0, O_ENVS},
                                       {"endpoint", required_argument, 0, O_EP},
                                       {"seed", required_argument, 0, O_SEED},
                                       {"render", no_argument, 0, O_RENDER},
                                       {"random-episodes", required_argument, 0, O_RANDOM},
                                       {"quiet", no_argument, 0, O_QUIET},
                                       {"allow-remote", no_argument, 0, O_REMOTE},
                                       {"curve-server-key", required_argument, 0, O_SKEY},
                                       {"curve-client-keys", required_argument, 0, O_CKEYS},
                                       {"insecure", no_argument, 0, O_INSECURE},
                                       {"gen-keys", required_argument, 0, O_GEN},
                                       {"key-name", required_argument, 0, O_KEYNAME},
                                       {"help", no_argument, 0, O_HELP},
                                       {"version", no_argument, 0, O_VERSION},
                                       {0, 0, 0, 0}};
  const char *scenario = NULL, *variant_name = "real", *gen_dir = NULL, *key_name = "server";
  long envs = 1, episodes = 0;
  unsigned long long seed = 0;
  o2o_server_config cfg = {0};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case O_SCEN:
      scenario = optarg;
      break;
    case O_VAR:
      variant_name = optarg;
      break;
    case O_ENVS:
      if (parse_int("--envs", optarg, 1, O2O_WIRE_MAX_ENVS, &envs)) return 2;
      break;
    case O_EP:
      cfg.endpoint = optarg;
      break;
    case O_SEED: {
      char *end;
      errno = 0;
      seed = strtoull(optarg, &end, 10);
      if (errno || *end || end == optarg || optarg[0] == '-') {
        fprintf(stderr, "o2o-sim: --seed '%s': expected a non-negative whole number\n", optarg);
        return 2;
      }
      break;
    }
    case O_RENDER:
      cfg.render = 1;
      break;
    case O_RANDOM:
      if (parse_int("--random-episodes", optarg, 1, 1000000, &episodes)) return 2;
      break;
    case O_QUIET:
      cfg.quiet = 1;
      break;
    case O_REMOTE:
      cfg.allow_remote = 1;
      break;
    case O_SKEY:
      cfg.curve_server_key = optarg;
      break;
    case O_CKEYS:
      cfg.curve_client_keys = optarg;
      break;
    case O_INSECURE:
      cfg.insecure = 1;
      break;
    case O_GEN:
      gen_dir = optarg;
      break;
    case O_KEYNAME:
      key_name = optarg;
      break;
    case O_HELP:
      usage(stdout);
      return 0;
    case O_VERSION:
      printf("o2o-sim %s (bridge protocol %d)\n", O2O_VERSION, O2O_WIRE_VERSION);
      return 0;
    default:
      fprintf(stderr, "o2o-sim: see --help\n");
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "o2o-sim: unexpected argument '%s' (see --help)\n", argv[optind]);
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
    if (o2o_sim_random_rollout(&sc, variant, (int)episodes, seed, stdout, err, sizeof err)) {
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
  for (long i = 0; i < envs; i++)
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
    fprintf(stderr, "o2o-sim: serving %s/%s x %ld envs on %s%s\n", sc.name,
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
