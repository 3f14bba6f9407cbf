// Helpers shared by the Jinja builtins (jinja_builtins.cc) and filters (jinja_filters.cc): call
// arguments and Python str/dict behaviour.
#pragma once

#include <string>

#include "io/jinja_ast.h"

namespace quanta::jinja {

// Argument i (positional) or keyword name; nullptr / def if not given.
const Value* arg(const Args& a, size_t i, const char* name);
Value arg_or(const Args& a, size_t i, const char* name, Value def);
// Positional arguments from `from` on, keywords unchanged (for map/select passing on).
Args rest_args(const Args& a, size_t from);

// Python str.strip/lstrip/rstrip; chars null or None means whitespace.
std::string py_strip(const std::string& s, const Value* chars, bool left, bool right);
// Note: case mapping covers ASCII only; the roles and tags templates change case are ASCII.
std::string ascii_map(std::string s, int (*f)(int));
inline std::string ascii_upper(std::string s) {
  return ascii_map(std::move(s), [](int c) { return toupper(c); });
}
inline std::string ascii_lower(std::string s) {
  return ascii_map(std::move(s), [](int c) { return tolower(c); });
}
std::string capitalize(const std::string& s);
std::string title(const std::string& s);
// Python str.replace(from, to, count); count < 0 replaces all.
std::string replace_all(const std::string& s, const std::string& from, const std::string& to,
                        int64_t count);
// Python str.split(sep, maxsplit); sep null or None splits on runs of whitespace.
Value split(const std::string& s, const Value* sep, int64_t maxsplit);
// dict.items / keys / values / get bound to d, or undefined.
Value dict_method(const Value& d, const std::string& name);
// v.a.b for a dotted path over dicts (and list indices), undefined where missing.
Value attribute_of(const Value& v, const std::string& path);

}  // namespace quanta::jinja
