#include "io/jinja_value.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "io/utf8.h"

namespace quanta::jinja {

const Value* Dict::find(std::string_view key) const {
  for (const auto& [k, v] : items)
    if (k == key) return &v;
  return nullptr;
}

void Dict::set(const std::string& key, Value v) {
  for (auto& [k, old] : items) {
    if (k == key) {
      old = std::move(v);
      return;
    }
  }
  items.emplace_back(key, std::move(v));
}

Value Value::none() {
  Value v;
  v.type_ = Type::kNone;
  return v;
}

Value Value::undefined(std::string name) {
  Value v;
  v.s_ = std::make_shared<std::string>(std::move(name));
  return v;
}

Value Value::function(std::string name, Function fn) {
  Value v;
  v.type_ = Type::kFunction;
  v.s_ = std::make_shared<std::string>(std::move(name));
  v.fn_ = std::make_shared<Function>(std::move(fn));
  return v;
}

Value Value::tuple(List l) {
  Value v(std::move(l));
  v.tuple_ = true;
  return v;
}

const std::string& Value::name() const {
  static const std::string empty;
  return (type_ == Type::kUndefined || type_ == Type::kFunction) && s_ ? *s_ : empty;
}

bool Value::truthy() const {
  switch (type_) {
    case Type::kUndefined:
    case Type::kNone:
      return false;
    case Type::kBool:
    case Type::kInt:
      return i_ != 0;
    case Type::kFloat:
      return f_ != 0;
    case Type::kString:
      return !s_->empty();
    case Type::kList:
      return !list_->empty();
    case Type::kDict:
      return !dict_->items.empty();
    case Type::kFunction:
      return true;
  }
  return false;
}

std::string Value::type_name() const {
  switch (type_) {
    case Type::kUndefined:
      return "undefined";
    case Type::kNone:
      return "NoneType";
    case Type::kBool:
      return "bool";
    case Type::kInt:
      return "int";
    case Type::kFloat:
      return "float";
    case Type::kString:
      return "str";
    case Type::kList:
      return "list";
    case Type::kDict:
      return dict_->is_namespace ? "Namespace" : "dict";
    case Type::kFunction:
      return "function";
  }
  return "?";
}

namespace {

// Python repr(float): shortest round-trip digits, always with a '.' or an exponent.
std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  std::string s = fmt::format("{}", d);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

std::string string_repr(const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos;
  const bool has_double = s.find('"') != std::string::npos;
  const char q = has_single && !has_double ? '"' : '\'';
  std::string out(1, q);
  for (size_t pos = 0; pos < s.size();) {
    const size_t start = pos;
    const uint32_t cp = utf8::next(s, pos);
    if (cp == uint32_t(q) || cp == '\\') {
      out += '\\';
      out += char(cp);
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp < 0x20 || cp == 0x7F) {
      out += fmt::format("\\x{:02x}", cp);
    } else {
      out.append(s, start, pos - start);
    }
  }
  out += q;
  return out;
}

void json_string(const std::string& s, bool ensure_ascii, std::string& out) {
  out += '"';
  for (size_t pos = 0; pos < s.size();) {
    const size_t start = pos;
    const uint32_t cp = utf8::next(s, pos);
    switch (cp) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (cp < 0x20 || (ensure_ascii && cp >= 0x7F)) {
          if (cp >= 0x10000) {
            const uint32_t v = cp - 0x10000;
            out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
          } else {
            out += fmt::format("\\u{:04x}", cp);
          }
        } else {
          out.append(s, start, pos - start);
        }
    }
  }
  out += '"';
}

void to_json_into(const Value& v, bool ascii, int indent, int depth, bool sort,
                  const std::string& item_sep, const std::string& key_sep, std::string& out) {
  auto newline = [&](int d) {
    if (indent < 0) return;
    out += '\n';
    out.append(size_t(indent) * d, ' ');
  };
  switch (v.type()) {
    case Value::Type::kNone:
      out += "null";
      return;
    case Value::Type::kBool:
      out += v.as_bool() ? "true" : "false";
      return;
    case Value::Type::kInt:
      out += std::to_string(v.as_int());
      return;
    case Value::Type::kFloat: {
      const double d = v.as_double();
      out += std::isnan(d)   ? "NaN"
             : std::isinf(d) ? (d > 0 ? "Infinity" : "-Infinity")
                             : float_repr(d);
      return;
    }
    case Value::Type::kString:
      json_string(v.as_string(), ascii, out);
      return;
    case Value::Type::kList: {
      const List& l = v.as_list();
      if (l.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < l.size(); ++i) {
        if (i) out += item_sep;
        newline(depth + 1);
        to_json_into(l[i], ascii, indent, depth + 1, sort, item_sep, key_sep, out);
      }
      newline(depth);
      out += ']';
      return;
    }
    case Value::Type::kDict: {
      auto items = v.as_dict().items;
      if (items.empty()) {
        out += "{}";
        return;
      }
      if (sort)
        std::stable_sort(items.begin(), items.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
      out += '{';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += item_sep;
        newline(depth + 1);
        json_string(items[i].first, ascii, out);
        out += key_sep;
        to_json_into(items[i].second, ascii, indent, depth + 1, sort, item_sep, key_sep, out);
      }
      newline(depth);
      out += '}';
      return;
    }
    default:
      fail("tojson: object of type {} is not JSON serializable", v.type_name());
  }
}

}  // namespace

std::string Value::str() const {
  switch (type_) {
    case Type::kUndefined:
      return "";
    case Type::kString:
      return *s_;
    case Type::kNone:
      return "None";
    case Type::kBool:
      return i_ ? "True" : "False";
    case Type::kInt:
      return std::to_string(i_);
    case Type::kFloat:
      return float_repr(f_);
    default:
      return repr();
  }
}

std::string Value::repr() const {
  switch (type_) {
    case Type::kString:
      return string_repr(*s_);
    case Type::kUndefined:
      return "Undefined";
    case Type::kList: {
      std::string out = tuple_ ? "(" : "[";
      for (size_t i = 0; i < list_->size(); ++i) out += (i ? ", " : "") + (*list_)[i].repr();
      if (tuple_ && list_->size() == 1) out += ",";
      return out + (tuple_ ? ")" : "]");
    }
    case Type::kDict: {
      std::string out = dict_->is_namespace ? "<Namespace {" : "{";
      for (size_t i = 0; i < dict_->items.size(); ++i) {
        out += i ? ", " : "";
        out += string_repr(dict_->items[i].first) + ": " + dict_->items[i].second.repr();
      }
      return out + (dict_->is_namespace ? "}>" : "}");
    }
    case Type::kFunction:
      return "<function " + name() + ">";
    default:
      return str();
  }
}

std::string Value::to_json(bool ensure_ascii, int indent, bool sort_keys,
                           const std::string& item_sep, const std::string& key_sep) const {
  std::string out;
  to_json_into(*this, ensure_ascii, indent, 0, sort_keys, item_sep, key_sep, out);
  return out;
}

bool Value::operator==(const Value& o) const {
  const bool num = (is_number() || is_bool()) && (o.is_number() || o.is_bool());
  if (num) {
    if (is_float() || o.is_float()) return as_double() == o.as_double();
    return i_ == o.i_;
  }
  if (type_ != o.type_) return false;
  switch (type_) {
    case Type::kUndefined:
    case Type::kNone:
      return true;
    case Type::kString:
      return *s_ == *o.s_;
    case Type::kList:
      return tuple_ == o.tuple_ && *list_ == *o.list_;
    case Type::kDict: {
      if (dict_->items.size() != o.dict_->items.size()) return false;
      for (const auto& [k, v] : dict_->items) {
        const Value* ov = o.dict_->find(k);
        if (!ov || !(*ov == v)) return false;
      }
      return true;
    }
    case Type::kFunction:
      return fn_ == o.fn_;
    default:
      return false;
  }
}

int Value::compare(const Value& o) const {
  if ((is_number() || is_bool()) && (o.is_number() || o.is_bool())) {
    if (is_float() || o.is_float()) {
      const double a = as_double(), b = o.as_double();
      return a < b ? -1 : a > b ? 1 : 0;
    }
    return i_ < o.i_ ? -1 : i_ > o.i_ ? 1 : 0;
  }
  if (is_string() && o.is_string()) return s_->compare(*o.s_) < 0 ? -1 : (*s_ == *o.s_ ? 0 : 1);
  if (is_list() && o.is_list()) {
    const List &a = *list_, &b = *o.list_;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
      if (!(a[i] == b[i])) return a[i].compare(b[i]);
    }
    return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
  }
  fail("'<' not supported between instances of '{}' and '{}'", type_name(), o.type_name());
}

bool is_py_space(uint32_t cp) { return (cp >= 0x1C && cp <= 0x1F) || utf8::is_white_space(cp); }

}  // namespace quanta::jinja
