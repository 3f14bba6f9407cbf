// Small checked accessors for reading tokenizer.json; every failure names the field.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "io/pretokenizer_regex.h"

namespace quanta::tok {

using nlohmann::json;

inline const json& get_field(const json& j, const char* key, const std::string& where) {
  if (!j.is_object()) fail("{}: expected an object", where);
  auto it = j.find(key);
  if (it == j.end()) fail("{}: missing field '{}'", where, key);
  return *it;
}

inline std::string get_string(const json& j, const char* key, const std::string& where) {
  const json& v = get_field(j, key, where);
  if (!v.is_string()) fail("{}.{}: expected a string", where, key);
  return v.get<std::string>();
}

// A missing or null field gives def.
inline bool get_bool(const json& j, const char* key, const std::string& where, bool def) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_boolean()) fail("{}.{}: expected true or false", where, key);
  return it->get<bool>();
}

inline std::string type_of(const json& j, const std::string& where) {
  return get_string(j, "type", where);
}

// A single-character field such as Metaspace's "replacement", as UTF-8.
inline std::string get_char(const json& j, const char* key, const std::string& where) {
  std::string s = get_string(j, key, where);
  if (s.empty()) fail("{}.{}: expected one character", where, key);
  return s;
}

// {"String": "..."} or {"Regex": "..."}, as Split/Replace store their pattern.
inline Regex get_pattern(const json& j, const char* key, const std::string& where) {
  const json& p = get_field(j, key, where);
  const std::string w = where + "." + key;
  if (p.is_object() && p.contains("String") && p["String"].is_string())
    return Regex(p["String"].get<std::string>(), /*literal=*/true, w);
  if (p.is_object() && p.contains("Regex") && p["Regex"].is_string())
    return Regex(p["Regex"].get<std::string>(), /*literal=*/false, w);
  fail("{}: expected {{\"String\": ...}} or {{\"Regex\": ...}}", w);
}

}  // namespace quanta::tok
