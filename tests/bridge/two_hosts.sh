#!/usr/bin/env bash
# two_hosts.sh BUILD_DIR: o2o-sim on one "host", the agent on another, over tcp + CURVE.
#
# Two network namespaces joined by a veth pair stand for two machines (10.231.0.1 serves,
# 10.231.0.2 trains; private addresses that exist only inside these namespaces). In the
# first, `o2o-sim --allow-remote` with CURVE keys; in the second, `o2o train-online
# --connect` trains a few hundred steps through it; then clients with a wrong key, with no
# key, and in plain text must get no reply. Needs root (ip netns). Without it the test is
# skipped (exit 77) with a message, except under CI=true, where it fails.
set -euo pipefail
BUILD=${1:?usage: two_hosts.sh BUILD_DIR}
SIM="$BUILD/o2o-sim"
O2O="$BUILD/o2o"
SRV_NS="o2o-srv-$$"
CLI_NS="o2o-cli-$$"
PORT=5555
EP="tcp://10.231.0.1:$PORT"
TMP=$(mktemp -d /tmp/o2o-two-hosts.XXXXXX)
SERVER_PID=""

in_ci() { [[ -n "${CI:-}" && "${CI}" != "0" && "${CI}" != "false" ]]; }
cant_run() {
  if in_ci; then
    echo "two_hosts: FAIL under CI=true: $*" >&2
    exit 1
  fi
  echo "two_hosts: SKIPPED: $* (run as root to test o2o-sim across two network namespaces)" >&2
  exit 77
}
fail() {
  echo "two_hosts: FAIL: $*" >&2
  for f in "$TMP"/*.log; do
    [[ -f "$f" ]] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
  done
  exit 1
}
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  ip netns del "$SRV_NS" 2>/dev/null || true # takes its end of the veth pair with it
  ip netns del "$CLI_NS" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

[[ -x "$SIM" && -x "$O2O" ]] || fail "build $SIM and $O2O first"
command -v ip >/dev/null || cant_run "ip (iproute2) is not installed"
[[ $(id -u) -eq 0 ]] || cant_run "not root"
ip netns add "$SRV_NS" 2>"$TMP/netns.log" || cant_run "ip netns add failed: $(cat "$TMP/netns.log")"
ip netns add "$CLI_NS" || fail "ip netns add $CLI_NS"
ip link add "o2oa$$" type veth peer name "o2ob$$" || fail "cannot create a veth pair"
ip link set "o2oa$$" netns "$SRV_NS"
ip link set "o2ob$$" netns "$CLI_NS"
ip -n "$SRV_NS" addr add 10.231.0.1/24 dev "o2oa$$"
ip -n "$CLI_NS" addr add 10.231.0.2/24 dev "o2ob$$"
for ns in "$SRV_NS" "$CLI_NS"; do
  ip -n "$ns" link set lo up
done
ip -n "$SRV_NS" link set "o2oa$$" up
ip -n "$CLI_NS" link set "o2ob$$" up

for k in server client intruder; do
  "$SIM" --gen-keys "$TMP/keys" --key-name "$k" >/dev/null || fail "--gen-keys $k"
done

# Host 1: the simulator, reachable only with a listed client key.
ip netns exec "$SRV_NS" "$SIM" --scenario pendulum --envs 2 --endpoint "$EP" --allow-remote \
  --curve-server-key "$TMP/keys/server.key" --curve-client-keys "$TMP/keys/client.pub" \
  >"$TMP/sim-stdout.log" 2>"$TMP/server.log" &
SERVER_PID=$!
for _ in $(seq 100); do
  grep -q "serving" "$TMP/server.log" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || fail "o2o-sim exited at start"
  sleep 0.1
done
grep -q "serving pendulum/real x 2 envs on $EP (CURVE)" "$TMP/server.log" ||
  fail "o2o-sim does not say it serves $EP with CURVE"

# Host 2: the agent trains through the remote simulator (evaluation spawns locally).
export O2O_CURVE_SERVER_KEY="$TMP/keys/server.pub"
export O2O_CURVE_CLIENT_KEY="$TMP/keys/client.key"
ip netns exec "$CLI_NS" "$O2O" train-online --scenario pendulum --connect "$EP" --steps 600 \
  --start-steps 100 --eval-every 0 --eval-episodes 2 --hidden 32 --batch-size 32 --seed 3 \
  --out "$TMP/run" --json >"$TMP/train.json" 2>"$TMP/train.log" || fail "train-online through $EP failed"
grep -q "connected to 1 o2o-sim, 2 envs of pendulum/real" "$TMP/train.log" ||
  fail "train-online did not train in the remote simulator"
grep -q '"env_steps": 600' "$TMP/train.json" || fail "not 600 env steps: $(cat "$TMP/train.json")"
grep -q '"lost_steps": 0' "$TMP/train.json" || fail "steps were lost: $(cat "$TMP/train.json")"
updates=$(sed -n 's/.*"updates": \([0-9]*\).*/\1/p' "$TMP/train.json")
[[ -n "$updates" && "$updates" -gt 0 ]] || fail "no SAC updates: $(cat "$TMP/train.json")"
echo "two_hosts: trained 600 env steps ($updates updates) in $EP from another namespace" >&2

# Wrong client key, no client key (ephemeral CURVE key), plain text: no reply at all.
check_refused() {
  local what=$1
  shift
  if ip netns exec "$CLI_NS" env "$@" "$O2O" train-online --scenario pendulum --connect "$EP" \
    --steps 10 --quiet --out "$TMP/run-$what" >"$TMP/$what.log" 2>&1; then
    fail "a client with $what trained through $EP"
  fi
  grep -q "no reply" "$TMP/$what.log" || fail "$what: expected 'no reply', got: $(cat "$TMP/$what.log")"
  [[ ! -e "$TMP/run-$what/metrics.csv" ]] || fail "$what: a run was written"
}
check_refused "the intruder key" O2O_CURVE_CLIENT_KEY="$TMP/keys/intruder.key"
check_refused "no client key" -u O2O_CURVE_CLIENT_KEY
check_refused "plain text" -u O2O_CURVE_CLIENT_KEY -u O2O_CURVE_SERVER_KEY
kill -0 "$SERVER_PID" 2>/dev/null || fail "o2o-sim died"
echo "two_hosts: clients with the intruder key, no key and plain text got no reply" >&2
