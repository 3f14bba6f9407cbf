// Errors: bad input throws quanta::Error (a message naming the file/tensor/field and what was
// expected); broken invariants abort with file and line via QUANTA_ASSERT.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace quanta {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Throws quanta::Error with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

// Runs fn(); if it throws quanta::Error, rethrows with "context: " prepended.
template <typename Fn>
auto with_context(const std::string& context, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Error& e) {
    throw Error(context + ": " + e.what());
  }
}

[[noreturn]] void assert_fail(const char* expr, const char* file, int line);

}  // namespace quanta

#define QUANTA_ASSERT(cond) \
  ((cond) ? (void)0 : ::quanta::assert_fail(#cond, __FILE__, __LINE__))
