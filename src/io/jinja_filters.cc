// Jinja filters: the ones HF chat templates use, with Jinja 2 / Python semantics (tojson is
// transformers' own: json.dumps with ensure_ascii=False).
#include <algorithm>
#include <cmath>

#include "io/jinja_builtins.h"
#include "io/utf8.h"

namespace quanta::jinja {

Value apply_filter(const std::string& name, const Value& v, const Args& a, Context& ctx, int line) {
  auto need_defined = [&] {
    if (v.is_undefined()) error_at(line, fmt::format("'{}' is undefined", v.name()));
  };
  if (name == "default" || name == "d") {
    const bool boolean = arg_or(a, 1, "boolean", Value(false)).truthy();
    if (v.is_undefined() || (boolean && !v.truthy()))
      return arg_or(a, 0, "default_value", Value(""));
    return v;
  }
  if (name == "trim") {
    return Value(py_strip(v.str(), arg(a, 0, "chars"), true, true));
  }
  if (name == "length" || name == "count") {
    if (v.is_string()) {
      int64_t n = 0;
      for (size_t p = 0; p < v.as_string().size(); p += utf8::char_len(v.as_string(), p)) ++n;
      return Value(n);
    }
    if (v.is_list()) return Value(int64_t(v.as_list().size()));
    if (v.is_dict()) return Value(int64_t(v.as_dict().items.size()));
    if (v.is_undefined()) return Value(int64_t(0));
    error_at(line, fmt::format("object of type '{}' has no len()", v.type_name()));
  }
  if (name == "upper") return Value(ascii_upper(v.str()));
  if (name == "lower") return Value(ascii_lower(v.str()));
  if (name == "capitalize") return Value(capitalize(v.str()));
  if (name == "title") return Value(title(v.str()));
  if (name == "string") return Value(v.str());
  if (name == "safe" || name == "e" || name == "escape" || name == "forceescape") {
    if (name == "safe") return v;
    std::string out;
    for (char c : v.str()) {
      switch (c) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&#34;";
          break;
        case '\'':
          out += "&#39;";
          break;
        default:
          out += c;
      }
    }
    return Value(std::move(out));
  }
  if (name == "tojson") {
    // transformers' tojson: json.dumps(x, ensure_ascii=False, indent, separators, sort_keys).
    const Value indent = arg_or(a, 1, "indent", arg_or(a, 0, "indent", Value::none()));
    const Value ascii = arg_or(a, 99, "ensure_ascii", Value(false));
    const Value sort = arg_or(a, 99, "sort_keys", Value(false));
    const Value seps = arg_or(a, 99, "separators", Value::none());
    const int ind = indent.is_int() ? int(indent.as_int()) : -1;
    std::string item_sep = ind >= 0 ? "," : ", ", key_sep = ": ";
    if (seps.is_list() && seps.as_list().size() == 2) {
      item_sep = seps.as_list()[0].str();
      key_sep = seps.as_list()[1].str();
    }
    need_defined();
    try {
      return Value(v.to_json(ascii.truthy(), ind, sort.truthy(), item_sep, key_sep));
    } catch (const Error& e) {
      error_at(line, e.what());
    }
  }
  if (name == "int") {
    if (v.is_int() || v.is_bool()) return Value(v.as_int());
    if (v.is_float()) return Value(int64_t(v.as_double()));
    if (v.is_string()) {
      try {
        size_t used = 0;
        const int64_t x = std::stoll(py_strip(v.as_string(), nullptr, true, true), &used);
        return Value(x);
      } catch (const std::exception&) {
      }
    }
    return arg_or(a, 0, "default", Value(int64_t(0)));
  }
  if (name == "float") {
    if (v.is_number() || v.is_bool()) return Value(v.as_double());
    if (v.is_string()) {
      try {
        return Value(std::stod(v.as_string()));
      } catch (const std::exception&) {
      }
    }
    return arg_or(a, 0, "default", Value(0.0));
  }
  if (name == "abs") {
    if (v.is_float()) return Value(std::abs(v.as_double()));
    if (v.is_int() || v.is_bool()) return Value(std::abs(v.as_int()));
    error_at(line, fmt::format("bad operand type for abs(): '{}'", v.type_name()));
  }
  if (name == "first" || name == "last") {
    const List items = iterate(v, line);
    if (items.empty()) return Value::undefined(name);
    return name == "first" ? items.front() : items.back();
  }
  if (name == "list") return Value(iterate(v, line));
  if (name == "reverse") {
    if (v.is_string()) {
      List chars = iterate(v, line);
      std::string out;
      for (size_t i = chars.size(); i-- > 0;) out += chars[i].as_string();
      return Value(std::move(out));
    }
    List items = iterate(v, line);
    std::reverse(items.begin(), items.end());
    return Value(std::move(items));
  }
  if (name == "join") {
    const std::string sep = arg_or(a, 0, "d", Value("")).str();
    const Value* attr = arg(a, 1, "attribute");
    std::string out;
    const List items = iterate(v, line);
    for (size_t i = 0; i < items.size(); ++i) {
      out += (i ? sep : "") + (attr ? attribute_of(items[i], attr->str()) : items[i]).str();
    }
    return Value(std::move(out));
  }
  if (name == "replace") {
    const Value* from = arg(a, 0, "old");
    const Value* to = arg(a, 1, "new");
    if (!from || !to) error_at(line, "replace filter expects two arguments");
    return Value(replace_all(v.str(), from->str(), to->str(),
                             arg_or(a, 2, "count", Value(int64_t(-1))).as_int()));
  }
  if (name == "items") {
    if (v.is_undefined()) return Value(List{});
    if (!v.is_dict())
      error_at(line, fmt::format("items filter expects a mapping, got {}", v.type_name()));
    return dict_method(v, "items").as_function()(Args{});
  }
  if (name == "dictsort") {
    if (!v.is_dict()) error_at(line, "dictsort expects a mapping");
    auto items = v.as_dict().items;
    std::stable_sort(items.begin(), items.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
    List out;
    for (auto& [k, x] : items) out.push_back(Value::tuple(List{Value(k), x}));
    return Value(std::move(out));
  }
  if (name == "indent") {
    const Value w = arg_or(a, 0, "width", Value(int64_t(4)));
    const std::string pad = w.is_string() ? w.as_string() : std::string(size_t(w.as_int()), ' ');
    const bool first = arg_or(a, 1, "first", Value(false)).truthy();
    const bool blank = arg_or(a, 2, "blank", Value(false)).truthy();
    const std::string s = v.str();
    std::string out;
    size_t p = 0;
    for (bool is_first = true; p <= s.size(); is_first = false) {
      const size_t nl = std::min(s.find('\n', p), s.size());
      const std::string ln = s.substr(p, nl - p);
      if ((!is_first || first) && (blank || !ln.empty())) out += pad;
      out += ln;
      if (nl == s.size()) break;
      out += '\n';
      p = nl + 1;
    }
    return Value(std::move(out));
  }
  if (name == "map" || name == "select" || name == "reject" || name == "selectattr" ||
      name == "rejectattr") {
    const List items = iterate(v, line);
    List out;
    if (name == "map") {
      const Value* attr = arg(a, 99, "attribute");
      if (attr) {
        const Value def = arg_or(a, 99, "default", Value::undefined("default"));
        for (const Value& x : items) {
          Value y = attribute_of(x, attr->str());
          out.push_back(y.is_undefined() && !def.is_undefined() ? def : y);
        }
      } else {
        if (a.pos.empty()) error_at(line, "map expects a filter name or attribute=");
        const std::string f = a.pos[0].str();
        for (const Value& x : items) out.push_back(apply_filter(f, x, rest_args(a, 1), ctx, line));
      }
      return Value(std::move(out));
    }
    const bool by_attr = name == "selectattr" || name == "rejectattr";
    const bool want = name == "select" || name == "selectattr";
    const size_t test_at = by_attr ? 1 : 0;
    if (by_attr && a.pos.empty()) error_at(line, fmt::format("{} expects an attribute", name));
    for (const Value& x : items) {
      const Value subject = by_attr ? attribute_of(x, a.pos[0].str()) : x;
      bool r;
      if (a.pos.size() > test_at)
        r = apply_test(a.pos[test_at].str(), subject, rest_args(a, test_at + 1), line);
      else
        r = subject.truthy();
      if (r == want) out.push_back(x);
    }
    return Value(std::move(out));
  }
  if (name == "unique") {
    List out;
    for (const Value& x : iterate(v, line))
      if (std::find(out.begin(), out.end(), x) == out.end()) out.push_back(x);
    return Value(std::move(out));
  }
  if (name == "sort") {
    List items = iterate(v, line);
    const bool reverse = arg_or(a, 0, "reverse", Value(false)).truthy();
    const Value* attr = arg(a, 2, "attribute");
    try {
      std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
        const Value xa = attr ? attribute_of(x, attr->str()) : x;
        const Value ya = attr ? attribute_of(y, attr->str()) : y;
        return reverse ? ya.compare(xa) < 0 : xa.compare(ya) < 0;
      });
    } catch (const Error& e) {
      error_at(line, e.what());
    }
    return Value(std::move(items));
  }
  if (name == "sum" || name == "min" || name == "max") {
    const List items = iterate(v, line);
    if (name == "sum") {
      Value acc = arg_or(a, 99, "start", Value(int64_t(0)));
      for (const Value& x : items) {
        acc = acc.is_float() || x.is_float() ? Value(acc.as_double() + x.as_double())
                                             : Value(acc.as_int() + x.as_int());
      }
      return acc;
    }
    if (items.empty()) return Value::undefined(name);
    Value best = items[0];
    for (const Value& x : items) {
      const int c = x.compare(best);
      if (name == "min" ? c < 0 : c > 0) best = x;
    }
    return best;
  }
  if (name == "wordcount") {
    return Value(int64_t(split(v.str(), nullptr, -1).as_list().size()));
  }
  if (name == "center") {
    const int64_t w = arg_or(a, 0, "width", Value(int64_t(80))).as_int();
    std::string s = v.str();
    const int64_t n = int64_t(iterate(Value(s), line).size());
    if (n >= w) return Value(s);
    const int64_t total = w - n, left = total / 2 + (total & w & 1);
    return Value(std::string(size_t(left), ' ') + s + std::string(size_t(total - left), ' '));
  }
  if (name == "attr") {
    const Value* key = arg(a, 0, "name");
    if (!key) error_at(line, "attr filter expects a name");
    return v.is_dict() ? attribute_of(v, key->str()) : Value::undefined(key->str());
  }
  if (name == "round") {
    const int64_t prec = arg_or(a, 0, "precision", Value(int64_t(0))).as_int();
    const std::string method = arg_or(a, 1, "method", Value("common")).str();
    const double scale = std::pow(10.0, double(prec));
    double x = v.as_double() * scale;
    x = method == "floor" ? std::floor(x) : method == "ceil" ? std::ceil(x) : std::round(x);
    return Value(x / scale);
  }
  error_at(line, fmt::format("unsupported filter '{}'", name));
}

}  // namespace quanta::jinja
