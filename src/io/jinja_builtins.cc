// Jinja builtins chat templates use: str/dict methods, tests and the globals transformers adds
// (raise_exception, strftime_now) besides range/namespace/dict. Filters are in jinja_filters.cc.
#include "io/jinja_builtins.h"

#include <algorithm>
#include <ctime>

#include "io/utf8.h"

namespace quanta::jinja {

const Value* arg(const Args& a, size_t i, const char* name) {
  if (i < a.pos.size()) return &a.pos[i];
  for (const auto& [k, v] : a.kw)
    if (k == name) return &v;
  return nullptr;
}

Value arg_or(const Args& a, size_t i, const char* name, Value def) {
  const Value* v = arg(a, i, name);
  return v ? *v : def;
}

// Python str.strip([chars]); chars empty means whitespace.
std::string py_strip(const std::string& s, const Value* chars, bool left, bool right) {
  std::vector<uint32_t> set;
  const bool ws = !chars || chars->is_none();
  if (!ws) {
    const std::string& c = chars->as_string();
    for (size_t p = 0; p < c.size();) set.push_back(utf8::next(c, p));
  }
  auto strip_cp = [&](uint32_t cp) {
    return ws ? is_py_space(cp) : std::find(set.begin(), set.end(), cp) != set.end();
  };
  size_t b = 0, e = s.size();
  while (left && b < e) {
    size_t p = b;
    if (!strip_cp(utf8::next(s, p))) break;
    b = p;
  }
  while (right && e > b) {
    size_t p = e - 1;
    while (p > b && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80) --p;
    size_t q = p;
    if (!strip_cp(utf8::next(s, q))) break;
    e = p;
  }
  return s.substr(b, e - b);
}

std::string ascii_map(std::string s, int (*f)(int)) {
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x80) c = char(f(c));
  return s;
}

std::string capitalize(const std::string& s) {
  std::string out = ascii_map(s, [](int c) { return tolower(c); });
  if (!out.empty() && static_cast<unsigned char>(out[0]) < 0x80) out[0] = char(toupper(out[0]));
  return out;
}

std::string title(const std::string& s) {
  std::string out = s;
  bool prev_alpha = false;
  for (char& c : out) {
    const bool alpha = isalpha(static_cast<unsigned char>(c));
    if (alpha) c = char(prev_alpha ? tolower(c) : toupper(c));
    prev_alpha = alpha;
  }
  return out;
}

std::string replace_all(const std::string& s, const std::string& from, const std::string& to,
                        int64_t count) {
  std::string out;
  if (from.empty()) {
    // Python inserts `to` between every character (and at both ends).
    int64_t n = 0;
    for (size_t p = 0; p <= s.size();) {
      if (count < 0 || n < count) out += to, ++n;
      if (p == s.size()) break;
      const size_t q = p + utf8::char_len(s, p);
      out.append(s, p, q - p);
      p = q;
    }
    return out;
  }
  size_t p = 0;
  int64_t n = 0;
  for (size_t f; (count < 0 || n < count) && (f = s.find(from, p)) != std::string::npos; ++n) {
    out.append(s, p, f - p);
    out += to;
    p = f + from.size();
  }
  out.append(s, p, std::string::npos);
  return out;
}

Value split(const std::string& s, const Value* sep, int64_t maxsplit) {
  List out;
  if (!sep || sep->is_none()) {
    // Runs of whitespace separate; leading/trailing whitespace gives no empty items.
    size_t p = 0;
    while (true) {
      while (p < s.size()) {
        size_t q = p;
        if (!is_py_space(utf8::next(s, q))) break;
        p = q;
      }
      if (p >= s.size()) break;
      if (maxsplit >= 0 && int64_t(out.size()) == maxsplit) {
        out.push_back(Value(py_strip(s.substr(p), nullptr, false, true)));
        break;
      }
      size_t e = p;
      while (e < s.size()) {
        size_t q = e;
        if (is_py_space(utf8::next(s, q))) break;
        e = q;
      }
      out.push_back(Value(s.substr(p, e - p)));
      p = e;
    }
    return Value(std::move(out));
  }
  const std::string& d = sep->as_string();
  if (d.empty()) fail("empty separator");
  size_t p = 0;
  for (size_t f; (maxsplit < 0 || int64_t(out.size()) < maxsplit) &&
                 (f = s.find(d, p)) != std::string::npos;) {
    out.push_back(Value(s.substr(p, f - p)));
    p = f + d.size();
  }
  out.push_back(Value(s.substr(p)));
  return Value(std::move(out));
}

namespace {

bool affix_match(const std::string& s, const Value& affix, bool prefix) {
  auto one = [&](const Value& a) {
    if (!a.is_string()) fail("startswith/endswith expects a string or a tuple of strings");
    const std::string& x = a.as_string();
    if (x.size() > s.size()) return false;
    return prefix ? s.compare(0, x.size(), x) == 0
                  : s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  if (affix.is_list()) {
    for (const Value& a : affix.as_list())
      if (one(a)) return true;
    return false;
  }
  return one(affix);
}

Value string_method(const std::string& s, const std::string& name, int line) {
  auto bind = [&](auto fn) {
    return Value::function(name, [s, fn](const Args& a) { return fn(s, a); });
  };
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const bool l = name != "rstrip", r = name != "lstrip";
    return bind([l, r](const std::string& s, const Args& a) {
      return Value(py_strip(s, arg(a, 0, "chars"), l, r));
    });
  }
  if (name == "upper")
    return bind([](const std::string& s, const Args&) { return Value(ascii_upper(s)); });
  if (name == "lower")
    return bind([](const std::string& s, const Args&) { return Value(ascii_lower(s)); });
  if (name == "capitalize")
    return bind([](const std::string& s, const Args&) { return Value(capitalize(s)); });
  if (name == "title")
    return bind([](const std::string& s, const Args&) { return Value(title(s)); });
  if (name == "split") {
    return bind([](const std::string& s, const Args& a) {
      return split(s, arg(a, 0, "sep"), arg_or(a, 1, "maxsplit", Value(int64_t(-1))).as_int());
    });
  }
  if (name == "startswith" || name == "endswith") {
    const bool prefix = name == "startswith";
    return bind([prefix](const std::string& s, const Args& a) {
      const Value* x = arg(a, 0, "prefix");
      if (!x) fail("missing argument");
      return Value(affix_match(s, *x, prefix));
    });
  }
  if (name == "replace") {
    return bind([](const std::string& s, const Args& a) {
      const Value* from = arg(a, 0, "old");
      const Value* to = arg(a, 1, "new");
      if (!from || !to || !from->is_string() || !to->is_string()) fail("expects two strings");
      return Value(replace_all(s, from->as_string(), to->as_string(),
                               arg_or(a, 2, "count", Value(int64_t(-1))).as_int()));
    });
  }
  if (name == "find" || name == "count") {
    const bool find = name == "find";
    return bind([find](const std::string& s, const Args& a) {
      const Value* x = arg(a, 0, "sub");
      if (!x || !x->is_string()) fail("expects a string");
      const std::string& sub = x->as_string();
      if (find) {
        const size_t f = s.find(sub);
        // Python counts code points, not bytes.
        if (f == std::string::npos) return Value(int64_t(-1));
        int64_t cps = 0;
        for (size_t p = 0; p < f;) p += utf8::char_len(s, p), ++cps;
        return Value(cps);
      }
      if (sub.empty()) fail("empty substring");
      int64_t n = 0;
      for (size_t p = 0; (p = s.find(sub, p)) != std::string::npos; p += sub.size()) ++n;
      return Value(n);
    });
  }
  if (name == "join") {
    return bind([](const std::string& s, const Args& a) {
      const Value* x = arg(a, 0, "iterable");
      if (!x) fail("missing argument");
      std::string out;
      const List items = iterate(*x, 0);
      for (size_t i = 0; i < items.size(); ++i) {
        if (!items[i].is_string()) fail("sequence item {}: expected str", i);
        out += (i ? s : "") + items[i].as_string();
      }
      return Value(std::move(out));
    });
  }
  if (name == "isdigit" || name == "isspace" || name == "isalpha" || name == "isalnum" ||
      name == "islower" || name == "isupper") {
    return bind([name](const std::string& s, const Args&) {
      if (s.empty()) return Value(false);
      bool any_cased = false;
      for (unsigned char c : s) {
        if (name == "isdigit" && !isdigit(c)) return Value(false);
        if (name == "isspace" && !isspace(c)) return Value(false);
        if (name == "isalpha" && !isalpha(c)) return Value(false);
        if (name == "isalnum" && !isalnum(c)) return Value(false);
        if (name == "islower" && isupper(c)) return Value(false);
        if (name == "isupper" && islower(c)) return Value(false);
        any_cased = any_cased || isalpha(c);
      }
      return Value(name == "islower" || name == "isupper" ? any_cased : true);
    });
  }
  (void)line;
  return Value::undefined(name);
}

}  // namespace

Value dict_method(const Value& d, const std::string& name) {
  if (name == "items" || name == "keys" || name == "values") {
    return Value::function(name, [d, name](const Args&) {
      List out;
      for (const auto& [k, v] : d.as_dict().items) {
        if (name == "items")
          out.push_back(Value::tuple(List{Value(k), v}));
        else
          out.push_back(name == "keys" ? Value(k) : v);
      }
      return Value(std::move(out));
    });
  }
  if (name == "get") {
    return Value::function(name, [d](const Args& a) {
      const Value* k = arg(a, 0, "key");
      if (!k) fail("missing key");
      if (k->is_string())
        if (const Value* v = d.as_dict().find(k->as_string())) return *v;
      return arg_or(a, 1, "default", Value::none());
    });
  }
  return Value::undefined(name);
}

List iterate(const Value& v, int line) {
  switch (v.type()) {
    case Value::Type::kUndefined:
      return {};
    case Value::Type::kList:
      return v.as_list();
    case Value::Type::kDict: {
      List keys;
      for (const auto& [k, _] : v.as_dict().items) keys.push_back(Value(k));
      return keys;
    }
    case Value::Type::kString: {
      List chars;
      const std::string& s = v.as_string();
      for (size_t p = 0; p < s.size();) {
        const size_t q = p + utf8::char_len(s, p);
        chars.push_back(Value(s.substr(p, q - p)));
        p = q;
      }
      return chars;
    }
    default:
      error_at(line, fmt::format("'{}' object is not iterable", v.type_name()));
  }
}

Value get_method(const Value& obj, const std::string& name, int line) {
  if (obj.is_string()) return string_method(obj.as_string(), name, line);
  if (obj.is_dict() && !obj.as_dict().is_namespace) return dict_method(obj, name);
  return Value::undefined(name);
}

Value attribute_of(const Value& v, const std::string& path) {
  Value cur = v;
  size_t p = 0;
  while (p <= path.size()) {
    const size_t dot = std::min(path.find('.', p), path.size());
    const std::string key = path.substr(p, dot - p);
    if (cur.is_dict()) {
      const Value* x = cur.as_dict().find(key);
      cur = x ? *x : Value::undefined(key);
    } else if (cur.is_list() && !key.empty() && std::all_of(key.begin(), key.end(), ::isdigit)) {
      const size_t i = std::stoul(key);
      cur = i < cur.as_list().size() ? cur.as_list()[i] : Value::undefined(key);
    } else {
      cur = Value::undefined(key);
    }
    p = dot + 1;
  }
  return cur;
}

Args rest_args(const Args& a, size_t from) {
  Args r;
  for (size_t i = from; i < a.pos.size(); ++i) r.pos.push_back(a.pos[i]);
  r.kw = a.kw;
  return r;
}

// Tests -----------------------------------------------------------------------------------------

bool apply_test(const std::string& name, const Value& v, const Args& a, int line) {
  auto other = [&]() -> const Value& {
    if (a.pos.empty()) error_at(line, fmt::format("test '{}' needs an argument", name));
    return a.pos[0];
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "mapping") return v.is_dict();
  if (name == "sequence") return v.is_list() || v.is_string() || v.is_dict();
  if (name == "iterable") return v.is_list() || v.is_string() || v.is_dict();
  if (name == "callable") return v.is_function();
  if (name == "odd" || name == "even") {
    if (!v.is_int()) error_at(line, fmt::format("test '{}' expects an integer", name));
    return (v.as_int() % 2 != 0) == (name == "odd");
  }
  if (name == "divisibleby") {
    const Value& n = other();
    if (!v.is_int() || !n.is_int() || n.as_int() == 0)
      error_at(line, "divisibleby expects non-zero integers");
    return v.as_int() % n.as_int() == 0;
  }
  if (name == "eq" || name == "equalto" || name == "==") return v == other();
  if (name == "ne" || name == "!=") return v != other();
  if (name == "sameas") return v == other() && v.type() == other().type();
  if (name == "in") {
    const Value& c = other();
    if (c.is_string())
      return v.is_string() && c.as_string().find(v.as_string()) != std::string::npos;
    for (const Value& x : iterate(c, line))
      if (x == v) return true;
    return false;
  }
  if (name == "lt" || name == "lessthan" || name == "<" || name == "le" || name == "<=" ||
      name == "gt" || name == "greaterthan" || name == ">" || name == "ge" || name == ">=") {
    int c;
    try {
      c = v.compare(other());
    } catch (const Error& e) {
      error_at(line, e.what());
    }
    if (name == "lt" || name == "lessthan" || name == "<") return c < 0;
    if (name == "le" || name == "<=") return c <= 0;
    if (name == "gt" || name == "greaterthan" || name == ">") return c > 0;
    return c >= 0;
  }
  if (name == "lower" || name == "upper") {
    const std::string s = v.str();
    return s == (name == "lower" ? ascii_lower(s) : ascii_upper(s));
  }
  error_at(line, fmt::format("unsupported test '{}'", name));
}

// Globals ---------------------------------------------------------------------------------------

void add_globals(Context& ctx) {
  ctx.set("range", Value::function("range", [](const Args& a) {
            if (a.pos.empty() || a.pos.size() > 3) fail("range expects 1 to 3 integers");
            for (const Value& x : a.pos)
              if (!x.is_int() && !x.is_bool())
                fail("range expects integers, got {}", x.type_name());
            int64_t start = 0, stop, step = 1;
            if (a.pos.size() == 1) {
              stop = a.pos[0].as_int();
            } else {
              start = a.pos[0].as_int();
              stop = a.pos[1].as_int();
              if (a.pos.size() == 3) step = a.pos[2].as_int();
            }
            if (step == 0) fail("range step must not be zero");
            List out;
            for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
              if (out.size() >= 1000000) fail("range too large");
              out.push_back(Value(i));
            }
            return Value(std::move(out));
          }));
  ctx.set("namespace", Value::function("namespace", [](const Args& a) {
            Dict d;
            d.is_namespace = true;
            if (!a.pos.empty() && a.pos[0].is_dict())
              for (const auto& [k, v] : a.pos[0].as_dict().items) d.set(k, v);
            for (const auto& [k, v] : a.kw) d.set(k, v);
            return Value(std::move(d));
          }));
  ctx.set("dict", Value::function("dict", [](const Args& a) {
            Dict d;
            for (const auto& [k, v] : a.kw) d.set(k, v);
            return Value(std::move(d));
          }));
  ctx.set("raise_exception", Value::function("raise_exception", [](const Args& a) -> Value {
            throw Error("chat template raised an exception: " +
                        (a.pos.empty() ? std::string() : a.pos[0].str()));
          }));
  ctx.set("strftime_now", Value::function("strftime_now", [](const Args& a) {
            if (a.pos.empty() || !a.pos[0].is_string())
              fail("strftime_now expects a format string");
            const std::time_t now = std::time(nullptr);
            std::tm tm{};
            localtime_r(&now, &tm);
            char buf[256];
            const size_t n = std::strftime(buf, sizeof(buf), a.pos[0].as_string().c_str(), &tm);
            return Value(std::string(buf, n));
          }));
}

}  // namespace quanta::jinja
