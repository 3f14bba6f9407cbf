// Test helpers: scratch folders (a per-process root under gtest's temp dir, removed at exit, and a
// fresh folder per test named after it) and capture of quanta::Error messages.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"

namespace quanta::testing_util {

inline const std::filesystem::path& scratch_root() {
  static const struct Root {
    std::filesystem::path path;
    ~Root() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } root{std::filesystem::path(::testing::TempDir()) / ("quanta_test_" + std::to_string(getpid()))};
  return root.path;
}

inline std::filesystem::path test_folder() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return scratch_root() / (std::string(info->test_suite_name()) + "." + info->name());
}

// n values drawn uniformly from [lo, hi) by a generator seeded with seed.
inline std::vector<float> random_floats(int64_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = dist(rng);
  return v;
}

// n values drawn from N(0, 1) by a generator seeded with seed.
inline std::vector<float> normal_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// A fresh, empty folder named after the running test.
inline std::string temp_dir() {
  const std::filesystem::path dir = test_folder();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// A path for `file` in the running test's folder (created if missing, not emptied).
inline std::string temp_path(const std::string& file) {
  const std::filesystem::path dir = test_folder();
  std::filesystem::create_directories(dir);
  return (dir / file).string();
}

// The message of the quanta::Error that fn() throws, or "" if it throws none.
template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace quanta::testing_util
