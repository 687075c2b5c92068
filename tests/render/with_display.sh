#!/bin/sh
# with_display.sh CMD...: runs a render test with a display. The caller's DISPLAY if set,
# else a virtual one from xvfb-run; with neither, the test is skipped (exit 77, which ctest
# reports as "Skipped") with a message saying how to run it.
if [ -n "$DISPLAY" ]; then exec "$@"; fi
if command -v xvfb-run >/dev/null 2>&1; then exec xvfb-run -a "$@"; fi
echo "skipped: this render test needs a display; there is no DISPLAY and no xvfb-run" \
  "(Debian: apt-get install xvfb xauth; then ctest, or xvfb-run -a ctest)" >&2
exit 77
