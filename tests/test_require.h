/* test_require.h: prerequisites of a test (a program, a display, CPUs, root). Outside CI a
 * missing one skips the test with a message; under CI (CI=true, as CI services set it) it
 * fails the test, so a skip can never be counted as a pass there. */
#pragma once
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static inline int o2o_test_in_ci(void) {
  const char *ci = getenv("CI");
  return ci && *ci && strcmp(ci, "0") != 0 && strcmp(ci, "false") != 0;
}
#define o2o_test_require(ok, ...)                                                                  \
  do {                                                                                             \
    if (!(ok)) {                                                                                   \
      if (o2o_test_in_ci()) cr_assert_fail("prerequisite missing under CI=true: " __VA_ARGS__);    \
      cr_skip_test("prerequisite missing (this fails under CI=true): " __VA_ARGS__);               \
    }                                                                                              \
  } while (0)
