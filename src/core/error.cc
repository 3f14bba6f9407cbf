#include "core/error.h"

#include <cstdio>
#include <cstdlib>

namespace quanta {

void assert_fail(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "quanta: internal error: assertion '%s' failed at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace quanta
