// Evaluation of the Jinja syntax tree with Python/Jinja semantics: undefined values print as ""
// but fail when used, `and`/`or` return an operand, each loop iteration has its own scope.
#include <algorithm>
#include <cmath>
#include <optional>

#include "io/jinja_ast.h"
#include "io/utf8.h"

namespace quanta::jinja {

void error_at(int line, const std::string& what) { fail("chat template: line {}: {}", line, what); }

Context::Context() : scopes_(1) {}

Value Context::lookup(const std::string& name) const {
  for (size_t i = scopes_.size(); i-- > 0;) {
    auto it = scopes_[i].find(name);
    if (it != scopes_[i].end()) return it->second;
  }
  return Value::undefined(name);
}

namespace {

[[noreturn]] void undefined_error(const Value& v, int line) {
  error_at(line, fmt::format("'{}' is undefined", v.name()));
}

void require_defined(const Value& v, int line) {
  if (v.is_undefined()) undefined_error(v, line);
}

int64_t to_index(const Value& v, int line, const char* what) {
  if (v.is_int() || v.is_bool()) return v.as_int();
  error_at(line, fmt::format("{} must be an integer, not {}", what, v.type_name()));
}

// Code points of s, for Python's str indexing and slicing.
std::vector<std::string> chars_of(const std::string& s) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos < s.size();) {
    const size_t start = pos;
    utf8::next(s, pos);
    out.push_back(s.substr(start, pos - start));
  }
  return out;
}

[[noreturn]] void bad_operands(const std::string& op, const Value& a, const Value& b, int line) {
  error_at(line, fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", op, a.type_name(),
                             b.type_name()));
}

double checked_div(double a, double b, int line) {
  if (b == 0) error_at(line, "division by zero");
  return a / b;
}

Value arithmetic(const std::string& op, const Value& a, const Value& b, int line) {
  require_defined(a, line);
  require_defined(b, line);
  const bool nums = (a.is_number() || a.is_bool()) && (b.is_number() || b.is_bool());
  const bool ints = nums && !a.is_float() && !b.is_float();
  if (op == "+") {
    if (ints) return Value(a.as_int() + b.as_int());
    if (nums) return Value(a.as_double() + b.as_double());
    if (a.is_string() && b.is_string()) return Value(a.as_string() + b.as_string());
    if (a.is_list() && b.is_list()) {
      List l = a.as_list();
      l.insert(l.end(), b.as_list().begin(), b.as_list().end());
      return Value(std::move(l));
    }
    bad_operands(op, a, b, line);
  }
  if (op == "*") {
    if (ints) return Value(a.as_int() * b.as_int());
    if (nums) return Value(a.as_double() * b.as_double());
    const Value* s = a.is_string() ? &a : b.is_string() ? &b : nullptr;
    const Value* n = a.is_int() ? &a : b.is_int() ? &b : nullptr;
    if (s && n) {
      std::string out;
      for (int64_t i = 0; i < n->as_int(); ++i) out += s->as_string();
      return Value(std::move(out));
    }
    const Value* l = a.is_list() ? &a : b.is_list() ? &b : nullptr;
    if (l && n) {
      List out;
      for (int64_t i = 0; i < n->as_int(); ++i)
        out.insert(out.end(), l->as_list().begin(), l->as_list().end());
      return l->is_tuple() ? Value::tuple(std::move(out)) : Value(std::move(out));
    }
    bad_operands(op, a, b, line);
  }
  if (!nums) bad_operands(op, a, b, line);
  if (op == "-")
    return ints ? Value(a.as_int() - b.as_int()) : Value(a.as_double() - b.as_double());
  if (op == "/") return Value(checked_div(a.as_double(), b.as_double(), line));
  if (op == "//" || op == "%") {
    if (ints) {
      const int64_t x = a.as_int(), y = b.as_int();
      if (y == 0) error_at(line, "integer division or modulo by zero");
      int64_t q = x / y, r = x % y;
      if (r != 0 && ((r < 0) != (y < 0))) --q, r += y;  // Python floors
      return Value(op == "//" ? q : r);
    }
    const double x = a.as_double(), y = b.as_double();
    const double q = std::floor(checked_div(x, y, line));
    return Value(op == "//" ? q : x - q * y);
  }
  if (op == "**") {
    if (ints && b.as_int() >= 0) {
      int64_t r = 1;
      for (int64_t i = 0; i < b.as_int(); ++i) r *= a.as_int();
      return Value(r);
    }
    return Value(std::pow(a.as_double(), b.as_double()));
  }
  error_at(line, fmt::format("unknown operator '{}'", op));
}

bool contains(const Value& container, const Value& item, int line) {
  if (container.is_undefined()) return false;  // Undefined iterates as empty
  if (container.is_string()) {
    if (!item.is_string())
      error_at(line, fmt::format("'in <string>' requires string as left operand, not {}",
                                 item.type_name()));
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.is_list()) {
    for (const Value& v : container.as_list())
      if (v == item) return true;
    return false;
  }
  if (container.is_dict()) return item.is_string() && container.as_dict().find(item.as_string());
  error_at(line, fmt::format("argument of type '{}' is not iterable", container.type_name()));
}

}  // namespace

Args CallArgs::eval(Context& ctx) const {
  Args a;
  for (const auto& p : pos) a.pos.push_back(p->eval(ctx));
  for (const auto& [k, v] : kw) a.kw.emplace_back(k, v->eval(ctx));
  return a;
}

Value NameExpr::eval(Context& ctx) const { return ctx.lookup(name); }

Value ListExpr::eval(Context& ctx) const {
  List l;
  for (const auto& e : items) l.push_back(e->eval(ctx));
  return tuple ? Value::tuple(std::move(l)) : Value(std::move(l));
}

Value DictExpr::eval(Context& ctx) const {
  Dict d;
  for (const auto& [k, v] : items) {
    const Value key = k->eval(ctx);
    if (!key.is_string()) error_at(line, "dict keys must be strings in chat templates");
    d.set(key.as_string(), v->eval(ctx));
  }
  return Value(std::move(d));
}

Value GetAttr::eval(Context& ctx) const {
  const Value o = obj->eval(ctx);
  require_defined(o, line);
  // Python attribute first (dict.items is the method even if the dict has an "items" key).
  Value m = get_method(o, name, line);
  if (!m.is_undefined()) return m;
  if (o.is_dict()) {
    if (const Value* v = o.as_dict().find(name)) return *v;
  }
  return Value::undefined(name);
}

Value GetItem::eval(Context& ctx) const {
  const Value o = obj->eval(ctx);
  require_defined(o, line);
  const Value k = index->eval(ctx);
  if (o.is_dict()) {
    if (k.is_string()) {
      if (const Value* v = o.as_dict().find(k.as_string())) return *v;
      return get_method(o, k.as_string(), line);
    }
    return Value::undefined(k.str());
  }
  if ((o.is_list() || o.is_string()) && (k.is_int() || k.is_bool())) {
    int64_t i = k.as_int();
    if (o.is_list()) {
      const int64_t n = int64_t(o.as_list().size());
      if (i < 0) i += n;
      return i >= 0 && i < n ? o.as_list()[size_t(i)] : Value::undefined(k.str());
    }
    const auto chars = chars_of(o.as_string());
    const int64_t n = int64_t(chars.size());
    if (i < 0) i += n;
    return i >= 0 && i < n ? Value(chars[size_t(i)]) : Value::undefined(k.str());
  }
  if (k.is_string()) return get_method(o, k.as_string(), line);
  return Value::undefined(k.str());
}

Value SliceExpr::eval(Context& ctx) const {
  const Value o = obj->eval(ctx);
  require_defined(o, line);
  auto part = [&](const ExprPtr& e) -> std::optional<int64_t> {
    if (!e) return std::nullopt;
    const Value v = e->eval(ctx);
    if (v.is_none()) return std::nullopt;
    return to_index(v, line, "slice index");
  };
  const auto start = part(this->start), stop = part(this->stop), step_v = part(this->step);
  const int64_t step = step_v.value_or(1);
  if (step == 0) error_at(line, "slice step cannot be zero");
  List items;
  std::vector<std::string> chars;
  int64_t n;
  if (o.is_list()) {
    n = int64_t(o.as_list().size());
  } else if (o.is_string()) {
    chars = chars_of(o.as_string());
    n = int64_t(chars.size());
  } else {
    error_at(line, fmt::format("'{}' object is not subscriptable", o.type_name()));
  }
  // Python's slice.indices().
  auto clamp = [&](std::optional<int64_t> v, int64_t def) {
    if (!v) return def;
    int64_t x = *v;
    if (x < 0) x += n;
    if (step > 0) return std::clamp<int64_t>(x, 0, n);
    return std::clamp<int64_t>(x, -1, n - 1);
  };
  const int64_t b = clamp(start, step > 0 ? 0 : n - 1), e = clamp(stop, step > 0 ? n : -1);
  std::string s;
  for (int64_t i = b; step > 0 ? i < e : i > e; i += step) {
    if (o.is_list())
      items.push_back(o.as_list()[size_t(i)]);
    else
      s += chars[size_t(i)];
  }
  return o.is_list() ? Value(std::move(items)) : Value(std::move(s));
}

Value CallExpr::eval(Context& ctx) const {
  const Value f = callee->eval(ctx);
  require_defined(f, line);
  if (!f.is_function()) error_at(line, fmt::format("'{}' object is not callable", f.type_name()));
  const Args a = args.eval(ctx);
  try {
    return f.as_function()(a);
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.rfind("chat template", 0) == 0) throw;
    error_at(line, fmt::format("{}(): {}", f.name(), msg));
  }
}

Value FilterExpr::eval(Context& ctx) const {
  return apply_filter(name, value->eval(ctx), args.eval(ctx), ctx, line);
}

Value TestExpr::eval(Context& ctx) const {
  const bool r = apply_test(name, value->eval(ctx), args.eval(ctx), line);
  return Value(negated ? !r : r);
}

Value UnaryExpr::eval(Context& ctx) const {
  const Value v = operand->eval(ctx);
  if (op == "not") return Value(!v.truthy());
  require_defined(v, line);
  if (v.is_int() || v.is_bool()) return Value(op == "-" ? -v.as_int() : v.as_int());
  if (v.is_float()) return Value(op == "-" ? -v.as_double() : v.as_double());
  error_at(line, fmt::format("bad operand type for unary {}: '{}'", op, v.type_name()));
}

Value BinaryExpr::eval(Context& ctx) const {
  if (op == "and") {
    Value l = left->eval(ctx);
    return l.truthy() ? right->eval(ctx) : l;
  }
  if (op == "or") {
    Value l = left->eval(ctx);
    return l.truthy() ? l : right->eval(ctx);
  }
  const Value l = left->eval(ctx), r = right->eval(ctx);
  if (op == "~") return Value(l.str() + r.str());
  return arithmetic(op, l, r, line);
}

Value CompareExpr::eval(Context& ctx) const {
  Value l = first->eval(ctx);
  for (const auto& [op, e] : rest) {
    Value r = e->eval(ctx);
    bool ok;
    if (op == "==") {
      ok = l == r;
    } else if (op == "!=") {
      ok = l != r;
    } else if (op == "in" || op == "not in") {
      ok = contains(r, l, line) == (op == "in");
    } else {
      require_defined(l, line);
      require_defined(r, line);
      int c;
      try {
        c = l.compare(r);
      } catch (const Error& err) {
        error_at(line, err.what());
      }
      ok = op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0;
    }
    if (!ok) return Value(false);
    l = std::move(r);
  }
  return Value(true);
}

Value CondExpr::eval(Context& ctx) const {
  if (cond->eval(ctx).truthy()) return then->eval(ctx);
  return otherwise ? otherwise->eval(ctx) : Value::undefined("else branch");
}

Flow exec_body(const Body& body, Context& ctx, std::string& out) {
  for (const auto& s : body) {
    const Flow f = s->exec(ctx, out);
    if (f != Flow::kNormal) return f;
  }
  return Flow::kNormal;
}

Flow EmitStmt::exec(Context& ctx, std::string& out) const {
  out += expr->eval(ctx).str();
  return Flow::kNormal;
}

Flow IfStmt::exec(Context& ctx, std::string& out) const {
  for (const auto& [cond, body] : branches) {
    if (cond->eval(ctx).truthy()) return exec_body(body, ctx, out);
  }
  return exec_body(otherwise, ctx, out);
}

namespace {

void assign(Context& ctx, const std::vector<std::string>& targets, const Value& v, int line) {
  if (targets.size() == 1) {
    ctx.set(targets[0], v);
    return;
  }
  const List items = iterate(v, line);
  if (items.size() != targets.size())
    error_at(line,
             fmt::format("cannot unpack {} values into {} names", items.size(), targets.size()));
  for (size_t i = 0; i < targets.size(); ++i) ctx.set(targets[i], items[i]);
}

}  // namespace

Flow ForStmt::exec(Context& ctx, std::string& out) const {
  const Value seq = iter->eval(ctx);
  List items = iterate(seq, line);
  if (filter) {
    List kept;
    for (Value& v : items) {
      ctx.push();
      assign(ctx, targets, v, line);
      const bool keep = filter->eval(ctx).truthy();
      ctx.pop();
      if (keep) kept.push_back(std::move(v));
    }
    items = std::move(kept);
  }
  if (items.empty()) return exec_body(otherwise, ctx, out);
  const int64_t n = int64_t(items.size());
  for (int64_t i = 0; i < n; ++i) {
    Dict loop;
    loop.set("index", Value(i + 1));
    loop.set("index0", Value(i));
    loop.set("revindex", Value(n - i));
    loop.set("revindex0", Value(n - i - 1));
    loop.set("first", Value(i == 0));
    loop.set("last", Value(i == n - 1));
    loop.set("length", Value(n));
    loop.set("depth", Value(int64_t(1)));
    loop.set("depth0", Value(int64_t(0)));
    loop.set("previtem", i > 0 ? items[size_t(i - 1)] : Value::undefined("previtem"));
    loop.set("nextitem", i + 1 < n ? items[size_t(i + 1)] : Value::undefined("nextitem"));
    loop.set("cycle", Value::function("loop.cycle", [i](const Args& a) {
               if (a.pos.empty()) fail("no items for cycling given");
               return a.pos[size_t(i) % a.pos.size()];
             }));
    // Each iteration has its own scope: a set inside the body does not outlive the iteration.
    ctx.push();
    ctx.set("loop", Value(std::move(loop)));
    assign(ctx, targets, items[size_t(i)], line);
    const Flow f = exec_body(body, ctx, out);
    ctx.pop();
    if (f == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

Flow SetStmt::exec(Context& ctx, std::string& out) const {
  Value v;
  if (value) {
    v = value->eval(ctx);
  } else {
    std::string captured;
    exec_body(block, ctx, captured);
    v = Value(std::move(captured));
  }
  if (!attr.empty()) {
    Value ns = ctx.lookup(targets[0]);
    if (!ns.is_dict() || !ns.as_dict().is_namespace)
      error_at(line,
               fmt::format("cannot assign attribute on non-namespace object '{}'", targets[0]));
    ns.as_dict().set(attr, std::move(v));  // shared: visible wherever the namespace is
    return Flow::kNormal;
  }
  assign(ctx, targets, v, line);
  return Flow::kNormal;
}

Flow MacroStmt::exec(Context& ctx, std::string&) const {
  Context* c = &ctx;  // macros are only callable while this render runs
  const MacroStmt* m = this;
  ctx.set(name, Value::function(name, [c, m](const Args& a) {
            if (c->depth() > 256)
              error_at(m->line, fmt::format("macro '{}' recursion too deep", m->name));
            if (a.pos.size() > m->params.size())
              error_at(m->line, fmt::format("macro '{}' takes {} arguments, got {}", m->name,
                                            m->params.size(), a.pos.size()));
            c->push();
            for (size_t i = 0; i < m->params.size(); ++i) {
              const auto& [pname, def] = m->params[i];
              Value v = i < a.pos.size() ? a.pos[i] : Value::undefined(pname);
              bool given = i < a.pos.size();
              for (const auto& [k, kv] : a.kw) {
                if (k == pname) v = kv, given = true;
              }
              if (!given && def) v = def->eval(*c);
              c->set(pname, std::move(v));
            }
            for (const auto& [k, kv] : a.kw) {
              bool known = false;
              for (const auto& p : m->params) known = known || p.first == k;
              if (!known)
                error_at(m->line, fmt::format("macro '{}' has no argument '{}'", m->name, k));
            }
            std::string out;
            exec_body(m->body, *c, out);
            c->pop();
            return Value(std::move(out));
          }));
  return Flow::kNormal;
}

Flow FilterBlockStmt::exec(Context& ctx, std::string& out) const {
  std::string captured;
  exec_body(body, ctx, captured);
  out += apply_filter(name, Value(std::move(captured)), args.eval(ctx), ctx, line).str();
  return Flow::kNormal;
}

Flow BlockStmt::exec(Context& ctx, std::string& out) const {
  if (!scoped) return exec_body(body, ctx, out);
  ctx.push();
  const Flow f = exec_body(body, ctx, out);
  ctx.pop();
  return f;
}

}  // namespace quanta::jinja
