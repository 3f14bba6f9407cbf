// Jinja syntax tree and the evaluation context. Each node evaluates itself (jinja_eval.cc);
// filters, tests, methods and globals live in jinja_builtins.cc.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/error.h"
#include "io/jinja_value.h"

namespace quanta::jinja {

// Variable scopes, innermost last; the first holds the globals and the render arguments.
class Context {
 public:
  Context();
  Value lookup(const std::string& name) const;
  void set(const std::string& name, Value v) { scopes_.back()[name] = std::move(v); }
  void push() { scopes_.emplace_back(); }
  void pop() { scopes_.pop_back(); }
  size_t depth() const { return scopes_.size(); }

 private:
  std::vector<std::unordered_map<std::string, Value>> scopes_;
};

[[noreturn]] void error_at(int line, const std::string& what);

struct Expr {
  int line = 0;
  virtual ~Expr() = default;
  virtual Value eval(Context& ctx) const = 0;
};
using ExprPtr = std::unique_ptr<Expr>;

struct CallArgs {
  std::vector<ExprPtr> pos;
  std::vector<std::pair<std::string, ExprPtr>> kw;
  Args eval(Context& ctx) const;
};

struct Literal : Expr {
  Value value;
  Value eval(Context&) const override { return value; }
};
struct NameExpr : Expr {
  std::string name;
  Value eval(Context& ctx) const override;
};
struct ListExpr : Expr {  // list and tuple literals
  std::vector<ExprPtr> items;
  bool tuple = false;
  Value eval(Context& ctx) const override;
};
struct DictExpr : Expr {
  std::vector<std::pair<ExprPtr, ExprPtr>> items;
  Value eval(Context& ctx) const override;
};
struct GetAttr : Expr {  // obj.name
  ExprPtr obj;
  std::string name;
  Value eval(Context& ctx) const override;
};
struct GetItem : Expr {  // obj[index]
  ExprPtr obj, index;
  Value eval(Context& ctx) const override;
};
struct SliceExpr : Expr {  // obj[start:stop:step], parts may be null
  ExprPtr obj, start, stop, step;
  Value eval(Context& ctx) const override;
};
struct CallExpr : Expr {
  ExprPtr callee;
  CallArgs args;
  Value eval(Context& ctx) const override;
};
struct FilterExpr : Expr {  // value | name(args)
  ExprPtr value;
  std::string name;
  CallArgs args;
  Value eval(Context& ctx) const override;
};
struct TestExpr : Expr {  // value is [not] name(args)
  ExprPtr value;
  std::string name;
  CallArgs args;
  bool negated = false;
  Value eval(Context& ctx) const override;
};
struct UnaryExpr : Expr {  // not, -, +
  std::string op;
  ExprPtr operand;
  Value eval(Context& ctx) const override;
};
struct BinaryExpr : Expr {  // and or + - * / // % ** ~
  std::string op;
  ExprPtr left, right;
  Value eval(Context& ctx) const override;
};
struct CompareExpr : Expr {  // a < b == c ..., also in / not in
  ExprPtr first;
  std::vector<std::pair<std::string, ExprPtr>> rest;
  Value eval(Context& ctx) const override;
};
struct CondExpr : Expr {  // then if cond else otherwise
  ExprPtr cond, then, otherwise;
  Value eval(Context& ctx) const override;
};

enum class Flow { kNormal, kBreak, kContinue };

struct Stmt {
  int line = 0;
  virtual ~Stmt() = default;
  virtual Flow exec(Context& ctx, std::string& out) const = 0;
};
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

Flow exec_body(const Body& body, Context& ctx, std::string& out);

struct TextStmt : Stmt {
  std::string text;
  Flow exec(Context&, std::string& out) const override {
    out += text;
    return Flow::kNormal;
  }
};
struct EmitStmt : Stmt {  // {{ expr }}
  ExprPtr expr;
  Flow exec(Context& ctx, std::string& out) const override;
};
struct IfStmt : Stmt {
  std::vector<std::pair<ExprPtr, Body>> branches;  // if, elif...
  Body otherwise;
  Flow exec(Context& ctx, std::string& out) const override;
};
struct ForStmt : Stmt {
  std::vector<std::string> targets;
  ExprPtr iter, filter;  // filter: the optional "if" clause
  Body body, otherwise;
  Flow exec(Context& ctx, std::string& out) const override;
};
struct SetStmt : Stmt {
  std::vector<std::string> targets;  // set a or set a, b
  std::string attr;                  // set ns.attr (targets[0] is ns)
  ExprPtr value;                     // null for a block set
  Body block;                        // {% set x %}...{% endset %}
  Flow exec(Context& ctx, std::string& out) const override;
};
struct MacroStmt : Stmt {
  std::string name;
  std::vector<std::pair<std::string, ExprPtr>> params;  // default may be null
  Body body;
  Flow exec(Context& ctx, std::string& out) const override;
};
struct FilterBlockStmt : Stmt {  // {% filter name(args) %}...{% endfilter %}
  std::string name;
  CallArgs args;
  Body body;
  Flow exec(Context& ctx, std::string& out) const override;
};
struct BlockStmt : Stmt {  // {% with %} (scoped) and {% generation %} (not)
  Body body;
  bool scoped = false;
  Flow exec(Context& ctx, std::string& out) const override;
};
struct LoopControlStmt : Stmt {  // break / continue
  Flow flow = Flow::kBreak;
  Flow exec(Context&, std::string&) const override { return flow; }
};

// Builtins (jinja_builtins.cc).
Value apply_filter(const std::string& name, const Value& v, const Args& args, Context& ctx,
                   int line);
bool apply_test(const std::string& name, const Value& v, const Args& args, int line);
// obj.name as a bound method (str/dict/list methods), or undefined if there is none.
Value get_method(const Value& obj, const std::string& name, int line);
void add_globals(Context& ctx);
// Items iterated by `for` (list items, dict keys, string chars); errors for other types.
List iterate(const Value& v, int line);

}  // namespace quanta::jinja
