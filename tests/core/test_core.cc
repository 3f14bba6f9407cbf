#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <cmath>
#include <vector>

#include "core/dtype.h"
#include "core/huge_pages.h"
#include "core/thread_pool.h"

namespace quanta {
namespace {

TEST(ThreadPool, CoversRangeOnceWithAlignedChunks) {
  ThreadPool pool(3);
  for (int64_t n : {1, 2, 7, 16, 17, 100, 1000}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    pool.parallel_for(
        n,
        [&](int64_t b, int64_t e, int) {
          EXPECT_EQ(b % 8, 0);
          for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
        },
        8);
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[size_t(i)].load(), 1) << "n=" << n << " i=" << i;
  }
}

TEST(ThreadPool, ManyShortSections) {
  ThreadPool pool(2);
  std::atomic<int64_t> sum{0};
  for (int rep = 0; rep < 2000; ++rep)
    pool.parallel_for(10, [&](int64_t b, int64_t e, int) { sum += e - b; });
  EXPECT_EQ(sum.load(), 20000);
}

// A stalled thread (as when the OS deschedules a worker) holds up a call by at most its own
// piece: the others claim every piece it has not started, and each thread keeps its own index.
// A thread runs its own share front to back (one stream of reads), then the others' from the back.
TEST(ThreadPool, OthersTakeThePiecesOfAStalledThread) {
  ThreadPool pool(2);
  const int64_t n = 64;
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  std::vector<int> runs(2, 0);  // pieces run per thread index, each written by one thread only
  std::vector<int64_t> begins;  // of the caller's pieces, in the order it ran them
  pool.parallel_for(n, [&](int64_t b, int64_t e, int th) {
    ASSERT_TRUE(th == 0 || th == 1);
    if (th == 1) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (th == 0) begins.push_back(b);
    ++runs[size_t(th)];
    for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
  });
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[size_t(i)].load(), 1) << "i=" << i;
  // 16 pieces of 4 for 2 threads: the stalled worker runs at most its first one.
  EXPECT_LE(runs[1], 1);
  EXPECT_EQ(runs[0] + runs[1], 16);
  ASSERT_GE(begins.size(), size_t(8));
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(begins[i], int64_t(4 * i)) << "own share, in order";
  for (size_t i = 8; i < begins.size(); ++i)
    EXPECT_EQ(begins[i], int64_t(60 - 4 * (i - 8))) << "the stalled share, from the back";
}

TEST(DType, Bf16RoundTripAndRounding) {
  for (float f : {0.0f, 1.0f, -2.5f, 3.14159f, 1e-20f, 65504.0f}) {
    const float back = bf16_to_f32(f32_to_bf16(f));
    EXPECT_NEAR(back, f, std::fabs(f) / 128.0f);
  }
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  // 1 + 2^-8 is a tie between 1 and 1 + 2^-7: rounds to even (1.0).
  EXPECT_EQ(f32_to_bf16(1.00390625f), 0x3f80);
}

TEST(DType, F16ExactOnAllFiniteValues) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00) continue;  // inf / nan
    const float f = f16_to_f32(uint16_t(h));
    EXPECT_EQ(f32_to_f16(f), uint16_t(h)) << "h=" << h;
  }
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f32_to_f16(1e6f), 0x7c00);
}

TEST(DType, ParseNames) {
  DType t;
  ASSERT_TRUE(parse_dtype("BF16", &t));
  EXPECT_EQ(t, DType::kBF16);
  EXPECT_EQ(dtype_size(DType::kF8E4M3), 1u);
  EXPECT_FALSE(parse_dtype("F12", &t));
}

TEST(HugePageBuffer, WholeAlignedZeroedPagesThatMove) {
  HugePageBuffer b(3 << 20);
  ASSERT_NE(b.data(), nullptr);
  EXPECT_EQ(b.size(), size_t(4) << 20);                              // whole 2 MiB pages
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % (2 << 20), 0u);  // on a 2 MiB boundary
  EXPECT_TRUE(std::all_of(b.data(), b.data() + b.size(), [](uint8_t v) { return v == 0; }));
  b.data()[b.size() - 1] = 7;
  HugePageBuffer c(std::move(b));
  EXPECT_EQ(b.data(), nullptr);
  EXPECT_EQ(c.data()[c.size() - 1], 7);
  EXPECT_EQ(HugePageBuffer(0).data(), nullptr);
}

}  // namespace
}  // namespace quanta
