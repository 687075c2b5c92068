/* o2o-bench-latency: single-env round trip through o2o-sim over ipc, against a raw ZeroMQ
 * DEALER/ROUTER round trip of the same bytes and the env's own in-process step time, all
 * measured in one run with interleaved rounds.
 *
 * Targets (issue 3): bridge p50 <= 2 x raw p50, and <= 1.2 x raw p50 + env step p50. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "o2o_bridge.h"
#include "o2o_sim.h"
#include "o2o_version.h"
#include "o2o_wire.h"
#include "bench_common.h"

typedef struct stats {
  double p50, p99, mean;
} stats;

static stats summarize(double *v, size_t n) {
  qsort(v, n, sizeof *v, o2o_bench_cmp_double);
  stats s = {v[n / 2], v[(size_t)(n * 0.99)], 0};
  for (size_t i = 0; i < n; i++)
    s.mean += v[i];
  s.mean /= (double)n;
  return s;
}

/* Raw ROUTER echo: answers every request with frames of the given sizes (the sizes of an
 * o2o STEP reply), so the only difference to o2o-sim is the codec and the env step. */
static void raw_server(const char *ep, const size_t *sizes, int n) {
  void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_ROUTER);
  int zero = 0;
  zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
  if (zmq_bind(s, ep) != 0) _exit(1);
  static uint8_t reply[8][256];
  for (;;) {
    zmq_msg_t id, part;
    zmq_msg_init(&id);
    if (zmq_msg_recv(&id, s, 0) < 0) _exit(0);
    int more = zmq_msg_more(&id);
    while (more) {
      zmq_msg_init(&part);
      zmq_msg_recv(&part, s, 0);
      more = zmq_msg_more(&part);
      zmq_msg_close(&part);
    }
    zmq_msg_send(&id, s, ZMQ_SNDMORE);
    for (int i = 0; i < n; i++)
      zmq_send(s, reply[i], sizes[i], i + 1 < n ? ZMQ_SNDMORE : 0);
  }
}

static void usage(FILE *f) {
  fprintf(
      f, "usage: o2o-bench-latency [--scenario NAME] [--round-trips N] [--rounds R] [--json FILE]\n"
         "\n"
         "Single-env STEP round trip through a spawned o2o-sim over ipc, against a raw ZeroMQ\n"
         "DEALER/ROUTER round trip of the same bytes (a forked echo server) and the env's\n"
         "in-process step time, alternating in blocks of 50 so all three see the same load.\n"
         "\n"
         "  --scenario NAME     scenario (default hopper)\n"
         "  --round-trips N     round trips per round and method (default 5000)\n"
         "  --rounds R          rounds (default 5; progress is printed after each)\n"
         "  --sim-exe PATH      o2o-sim to spawn (default: next to this program)\n"
         "  --json FILE         write the results as JSON ('-' = stdout)\n"
         "  --help, --version\n");
}

int main(int argc, char **argv) {
  const char *scenario = "hopper", *json = NULL, *sim_exe = NULL;
  long trips = 5000, rounds = 5;
  static const struct option opts[] = {
      {"scenario", required_argument, 0, 's'}, {"round-trips", required_argument, 0, 'n'},
      {"rounds", required_argument, 0, 'r'},   {"sim-exe", required_argument, 0, 'x'},
      {"json", required_argument, 0, 'j'},     {"help", no_argument, 0, 'h'},
      {"version", no_argument, 0, 'V'},        {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 's':
      scenario = optarg;
      break;
    case 'n':
      trips = atol(optarg);
      break;
    case 'r':
      rounds = atol(optarg);
      break;
    case 'x':
      sim_exe = optarg;
      break;
    case 'j':
      json = optarg;
      break;
    case 'h':
      usage(stdout);
      return 0;
    case 'V':
      printf("o2o-bench-latency %s\n", O2O_VERSION);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  if (trips < 100 || rounds < 1) {
    fprintf(stderr, "o2o-bench-latency: --round-trips must be >= 100 and --rounds >= 1\n");
    return 2;
  }
  char exe[1024];
  if (!sim_exe) {
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 16);
    if (len < 0) return 1;
    exe[len] = 0;
    char *slash = strrchr(exe, '/');
    strcpy(slash ? slash + 1 : exe, "o2o-sim");
    sim_exe = exe;
  }

  char err[O2O_BRIDGE_ERRLEN];
  o2o_scenario sc;
  if (o2o_scenario_load(&sc, scenario, err, sizeof err)) {
    fprintf(stderr, "o2o-bench-latency: %s\n", err);
    return 1;
  }
  o2o_vecenv *env = o2o_vecenv_create(&sc, O2O_VARIANT_REAL, 1, err, sizeof err);
  if (!env) {
    fprintf(stderr, "o2o-bench-latency: %s\n", err);
    return 1;
  }
  const o2o_env_spec *es = o2o_vecenv_spec(env);
  size_t o = (size_t)es->obs_dim, a = (size_t)es->act_dim;
  size_t reply_sizes[7] = {O2O_WIRE_HEADER_SIZE, 4 * o, 4, 1, 1, 4 * o, 4};

  char sim_ep[128], raw_ep[128];
  snprintf(sim_ep, sizeof sim_ep, "ipc:///tmp/o2o-bench-lat-%ld.ipc", (long)getpid());
  snprintf(raw_ep, sizeof raw_ep, "ipc:///tmp/o2o-bench-raw-%ld.ipc", (long)getpid());
  /* Fork both servers before this process creates any ZeroMQ context. */
  pid_t raw_pid = fork();
  if (raw_pid == 0) raw_server(raw_ep, reply_sizes, 7);
  pid_t sim_pid = raw_pid > 0 ? fork() : -1;
  if (raw_pid < 0 || sim_pid < 0) { /* never kill(-1, ...): that signals every process */
    fprintf(stderr, "o2o-bench-latency: fork: %s\n", strerror(errno));
    if (raw_pid > 0) {
      kill(raw_pid, SIGKILL);
      waitpid(raw_pid, NULL, 0);
    }
    o2o_vecenv_destroy(env);
    return 1;
  }
  if (sim_pid == 0) {
    execl(sim_exe, sim_exe, "--scenario", scenario, "--envs", "1", "--endpoint", sim_ep, "--quiet",
          (char *)NULL);
    fprintf(stderr, "o2o-bench-latency: cannot run %s: %s\n", sim_exe, strerror(errno));
    _exit(127);
  }
  int rc = 1;
  o2o_client *cl = NULL;
  zmq_msg_t part; /* closed at done: whatever path leads there */
  zmq_msg_init(&part);
  for (int i = 0; i < 100 && !cl; i++) {
    int st;
    if (waitpid(sim_pid, &st, WNOHANG) == sim_pid) { /* no point waiting for a dead server */
      snprintf(err, sizeof err, "%.400s exited with status %d before it answered", sim_exe,
               WIFEXITED(st) ? WEXITSTATUS(st) : -1);
      sim_pid = 0;
      break;
    }
    cl = o2o_client_connect(sim_ep, 5000, err, sizeof err);
    if (!cl) usleep(200000);
  }
  void *ctx = zmq_ctx_new(), *raw = zmq_socket(ctx, ZMQ_DEALER);
  int zero = 0;
  zmq_setsockopt(raw, ZMQ_LINGER, &zero, sizeof zero);
  zmq_connect(raw, raw_ep);
  size_t total = (size_t)(trips * rounds);
  double *t_bridge = malloc(sizeof(double) * total), *t_raw = malloc(sizeof(double) * total);
  double *t_env = malloc(sizeof(double) * total);
  if (!cl) {
    fprintf(stderr, "o2o-bench-latency: o2o-sim did not answer: %s\n", err);
    goto done;
  }
  float act[O2O_SIM_MAX_ACT] = {0};
  uint8_t hdr[O2O_WIRE_HEADER_SIZE] = {0};
  uint64_t seed = 1;
  o2o_client_reset(cl, &seed, NULL, err, sizeof err);
  o2o_vecenv_reset(env, &seed, NULL, err, sizeof err);
  o2o_bridge_batch b;
  o2o_step_result r;
  /* warm-up of all three */
  for (int i = 0; i < 500; i++) {
    o2o_client_step(cl, act, &b, err, sizeof err);
    zmq_send(raw, hdr, sizeof hdr, ZMQ_SNDMORE);
    zmq_send(raw, act, 4 * a, 0);
    do
      zmq_msg_recv(&part, raw, 0);
    while (zmq_msg_more(&part));
    o2o_vecenv_step(env, act, &r, err, sizeof err);
  }
  /* Within a round the three methods alternate in blocks of 50, so slow drifts of the
   * machine's load hit all three alike. */
  enum { BLOCK = 50 };
  size_t k = 0;
  for (long round = 0; round < rounds; round++) {
    double t0 = (1e6 * o2o_bench_seconds(CLOCK_MONOTONIC));
    for (long i0 = 0; i0 < trips; i0 += BLOCK) {
      long i1 = i0 + BLOCK < trips ? i0 + BLOCK : trips;
      for (long i = i0; i < i1; i++) {
        /* the same varying actions for the bridge and the in-process env */
        act[0] = (float)((i % 7) - 3) / 3.0f;
        double s = (1e6 * o2o_bench_seconds(CLOCK_MONOTONIC));
        if (o2o_client_step(cl, act, &b, err, sizeof err)) {
          fprintf(stderr, "o2o-bench-latency: %s\n", err);
          goto done;
        }
        t_bridge[k + (size_t)i] = (1e6 * o2o_bench_seconds(CLOCK_MONOTONIC)) - s;
      }
      for (long i = i0; i < i1; i++) {
        double s = (1e6 * o2o_bench_seconds(CLOCK_MONOTONIC));
        zmq_send(raw, hdr, sizeof hdr, ZMQ_SNDMORE);
        zmq_send(raw, act, 4 * a, 0);
        do
          zmq_msg_recv(&part, raw, 0);
        while (zmq_msg_more(&part));
        t_raw[k + (size_t)i] = (1e6 * o2o_bench_seconds(CLOCK_MONOTONIC)) - s;
      }
      for (long i = i0; i < i1; i++) {
        act[0] = (float)((i % 7) - 3) / 3.0f;
        double s = (1e6 * o2o_bench_seconds(CLOCK_MONOTONIC));
        o2o_vecenv_step(env, act, &r, err, sizeof err);
        t_env[k + (size_t)i] = (1e6 * o2o_bench_seconds(CLOCK_MONOTONIC)) - s;
      }
    }
    k += (size_t)trips;
    fprintf(stderr, "round %ld/%ld: %ld x (bridge, raw, env step) in %.1f s\n", round + 1, rounds,
            trips, ((1e6 * o2o_bench_seconds(CLOCK_MONOTONIC)) - t0) / 1e6);
  }
  stats sb = summarize(t_bridge, total), sr = summarize(t_raw, total), se = summarize(t_env, total);
  double ratio = sb.p50 / sr.p50, bound = 1.2 * sr.p50 + se.p50;
  int ok2x = ratio <= 2.0, okb = sb.p50 <= bound;
  printf("single-env STEP round trip over ipc, %s, %zu samples each (us):\n", scenario, total);
  printf("  %-22s p50 %7.1f  p99 %7.1f  mean %7.1f\n", "o2o bridge (o2o-sim)", sb.p50, sb.p99,
         sb.mean);
  printf("  %-22s p50 %7.1f  p99 %7.1f  mean %7.1f\n", "raw DEALER/ROUTER", sr.p50, sr.p99,
         sr.mean);
  printf("  %-22s p50 %7.1f  p99 %7.1f  mean %7.1f\n", "env step in-process", se.p50, se.p99,
         se.mean);
  printf("  bridge's own cost = bridge - raw - env step (p50s) = %.1f us\n",
         sb.p50 - sr.p50 - se.p50);
  printf("  bridge/raw p50 = %.2f (target <= 2): %s\n", ratio, ok2x ? "PASS" : "FAIL");
  printf("  bridge p50 %.1f vs 1.2 x raw + env step = %.1f: %s\n", sb.p50, bound,
         okb ? "PASS" : "FAIL");
  if (json) {
    FILE *f = strcmp(json, "-") == 0 ? stdout : fopen(json, "w");
    if (!f) {
      fprintf(stderr, "o2o-bench-latency: cannot write %s: %s\n", json, strerror(errno));
      goto done;
    }
    fprintf(f,
            "{\"benchmark\": \"latency\", \"scenario\": \"%s\", \"samples\": %zu,\n"
            " \"bridge_us\": {\"p50\": %.2f, \"p99\": %.2f, \"mean\": %.2f},\n"
            " \"raw_zmq_us\": {\"p50\": %.2f, \"p99\": %.2f, \"mean\": %.2f},\n"
            " \"env_step_us\": {\"p50\": %.2f, \"p99\": %.2f, \"mean\": %.2f},\n"
            " \"bridge_over_raw_p50\": %.3f, \"bound_us\": %.2f, \"overhead_us\": %.2f,\n"
            " \"pass_2x\": %s, \"pass_bound\": %s}\n",
            scenario, total, sb.p50, sb.p99, sb.mean, sr.p50, sr.p99, sr.mean, se.p50, se.p99,
            se.mean, ratio, bound, sb.p50 - sr.p50 - se.p50, ok2x ? "true" : "false",
            okb ? "true" : "false");
    if (f != stdout) fclose(f);
  }
  rc = ok2x && okb ? 0 : 3;
done:
  zmq_msg_close(&part);
  if (cl) {
    o2o_client_close(cl, err, sizeof err);
    o2o_client_destroy(cl);
  }
  zmq_close(raw);
  zmq_ctx_term(ctx);
  kill(raw_pid, SIGKILL);
  waitpid(raw_pid, NULL, 0);
  if (sim_pid > 0) {
    kill(sim_pid, SIGTERM);
    waitpid(sim_pid, NULL, 0);
  }
  unlink(raw_ep + 6);
  free(t_bridge);
  free(t_raw);
  free(t_env);
  o2o_vecenv_destroy(env);
  return rc;
}
