// Peak resident memory of this process, from /proc/self/status.
#pragma once

#include <cstdint>

namespace quanta {

// Peak resident set size of this process in bytes (VmHWM; 0 if unknown).
uint64_t peak_rss_bytes();

}  // namespace quanta
