#!/usr/bin/env bash
# test_python_package.sh: pip-installs bridge/python into a fresh venv (as README.md tells a
# user to) and runs python_package_check.py with it against a live o2o-sim.
# Usage: test_python_package.sh SOURCE_DIR BUILD_DIR. Exit 77 = skipped (a prerequisite is
# missing); under CI=true a missing prerequisite fails instead.
set -euo pipefail
src=$1 build=$2
python=${O2O_PYTHON:-/usr/bin/python3} # Debian's, which has python3-numpy and python3-zmq

missing() {
  if [ "${CI:-}" = true ]; then
    echo "test_python_package: FAIL: $1 (CI must have it: bash .ci/setup installs it)" >&2
    exit 1
  fi
  echo "test_python_package: SKIP: $1" >&2
  exit 77
}
[ -x "$python" ] || missing "$python not installed"
"$python" -c "import numpy" 2>/dev/null || missing "numpy missing for $python (python3-numpy)"
"$python" -c "import zmq" 2>/dev/null || missing "zmq missing for $python (python3-zmq)"
"$python" -m pip --version >/dev/null 2>&1 || missing "pip missing for $python (python3-pip)"
"$python" -c "import ensurepip, setuptools, wheel" 2>/dev/null ||
  missing "venv/setuptools/wheel missing for $python (python3-venv python3-setuptools python3-wheel)"
[ -x "$build/o2o-sim" ] || { echo "test_python_package: FAIL: $build/o2o-sim not built" >&2; exit 1; }
run=()
if [ -z "${DISPLAY:-}" ]; then # RENDER needs a display
  command -v xvfb-run >/dev/null || missing "no DISPLAY and no xvfb-run for the RENDER check"
  run=(xvfb-run -a)
fi

tmp=$(mktemp -d /tmp/o2o-test-pypkg-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# Build from a copy: pip builds in the source tree and must not write into the checkout.
mkdir "$tmp/src"
cp -r "$src/bridge/python/pyproject.toml" "$src/bridge/python/README.md" "$src/bridge/python/o2o" \
  "$tmp/src/"
echo "test_python_package: venv + pip install --no-build-isolation --no-index" >&2
"$python" -m venv --system-site-packages "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --no-build-isolation --no-index "$tmp/src" >&2

# hopper with episodes short enough that random actions give truncations as well.
steps=20
sed -e "s|^model = models/|model = $src/scenarios/models/|" \
  -e "s|^max_episode_steps = .*|max_episode_steps = $steps|" "$src/scenarios/hopper.ini" \
  >"$tmp/hopper-short.ini"
cd "$tmp" # nothing of the source tree on sys.path: the installed package is tested
"${run[@]}" "$tmp/venv/bin/python" "$src/tests/bridge/python_package_check.py" \
  --sim "$build/o2o-sim" --scenario "$tmp/hopper-short.ini" --max-episode-steps "$steps"
