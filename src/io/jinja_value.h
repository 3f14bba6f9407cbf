// Values of the Jinja subset used by chat templates, with Python semantics where templates can
// see them (truthiness, str()/repr(), ==, ordering, json.dumps).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace quanta::jinja {

class Value;
using List = std::vector<Value>;

// An insertion-ordered dict with string keys (what chat templates index messages with).
struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  bool is_namespace = false;  // from namespace(): the one object `set x.attr = ...` may change

  const Value* find(std::string_view key) const;
  void set(const std::string& key, Value v);
};

// Call arguments: positional, then keyword.
struct Args {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
};
using Function = std::function<Value(const Args&)>;

class Value {
 public:
  enum class Type { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kFunction };

  Value() = default;  // undefined
  Value(bool b) : type_(Type::kBool), i_(b) {}
  Value(int v) : type_(Type::kInt), i_(v) {}
  Value(int64_t v) : type_(Type::kInt), i_(v) {}
  Value(double v) : type_(Type::kFloat), f_(v) {}
  Value(std::string s) : type_(Type::kString), s_(std::make_shared<std::string>(std::move(s))) {}
  Value(const char* s) : Value(std::string(s)) {}
  Value(List l) : type_(Type::kList), list_(std::make_shared<List>(std::move(l))) {}
  Value(Dict d) : type_(Type::kDict), dict_(std::make_shared<Dict>(std::move(d))) {}

  static Value none();
  // An undefined value remembering what was looked up, for error messages.
  static Value undefined(std::string name);
  static Value function(std::string name, Function fn);
  // A tuple: a list that prints as (a, b) and is never equal to a list, as in Python.
  static Value tuple(List l);

  Type type() const { return type_; }
  bool is_undefined() const { return type_ == Type::kUndefined; }
  bool is_none() const { return type_ == Type::kNone; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_int() const { return type_ == Type::kInt; }
  bool is_float() const { return type_ == Type::kFloat; }
  bool is_number() const { return type_ == Type::kInt || type_ == Type::kFloat; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_list() const { return type_ == Type::kList; }  // lists and tuples
  bool is_tuple() const { return type_ == Type::kList && tuple_; }
  bool is_dict() const { return type_ == Type::kDict; }
  bool is_function() const { return type_ == Type::kFunction; }

  bool as_bool() const { return i_ != 0; }
  int64_t as_int() const { return i_; }  // also for bool, as Python
  double as_double() const { return type_ == Type::kFloat ? f_ : double(i_); }
  const std::string& as_string() const { return *s_; }
  const List& as_list() const { return *list_; }
  List& as_list() { return *list_; }
  const Dict& as_dict() const { return *dict_; }
  Dict& as_dict() { return *dict_; }
  const Function& as_function() const { return *fn_; }
  // The name an undefined value was looked up by, or a function's name.
  const std::string& name() const;

  bool truthy() const;
  std::string str() const;   // Python str(); undefined prints as ""
  std::string repr() const;  // Python repr()
  // json.dumps(value, ensure_ascii, indent (<0: none), sort_keys); separators default as Python.
  std::string to_json(bool ensure_ascii, int indent, bool sort_keys, const std::string& item_sep,
                      const std::string& key_sep) const;
  std::string type_name() const;  // Python's name for the type, for errors

  bool operator==(const Value& o) const;
  bool operator!=(const Value& o) const { return !(*this == o); }
  // Python ordering; throws quanta::Error for types that do not order.
  int compare(const Value& o) const;

 private:
  Type type_ = Type::kUndefined;
  bool tuple_ = false;
  int64_t i_ = 0;
  double f_ = 0;
  std::shared_ptr<std::string> s_;  // string, or name for undefined/function
  std::shared_ptr<List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<Function> fn_;
};

// Python str.isspace() for one code point (Unicode White_Space plus U+001C..U+001F).
bool is_py_space(uint32_t cp);

}  // namespace quanta::jinja
