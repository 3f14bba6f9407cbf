#include "core/peak_rss.h"

#include <fstream>
#include <string>

namespace quanta {

uint64_t peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return uint64_t(std::stoull(line.substr(6))) * 1024;
  return 0;
}

}  // namespace quanta
