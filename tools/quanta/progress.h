// A one-line progress bar on stderr: "[#####.....] 12/64 windows  3.1 s elapsed, ETA 13.2 s".
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace quanta::cli {

class ProgressBar {
 public:
  explicit ProgressBar(std::string unit) : unit_(std::move(unit)), t0_(std::chrono::steady_clock::now()) {}

  void update(int64_t done, int64_t total) {
    const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    const int width = 30;
    const int filled = total > 0 ? int(width * done / total) : width;
    std::string bar(size_t(filled), '#');
    bar.append(size_t(width - filled), '.');
    const double eta = done > 0 ? el * double(total - done) / double(done) : 0.0;
    std::fprintf(stderr, "\r[%s] %lld/%lld %s  %.1f s elapsed, ETA %.1f s ", bar.c_str(),
                 (long long)done, (long long)total, unit_.c_str(), el, eta);
    if (done >= total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  std::string unit_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace quanta::cli
