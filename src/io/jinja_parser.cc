// Recursive-descent parser for the Jinja subset, following the precedence of jinja2/parser.py:
// condexpr < or < and < not < compare < + - < ~ < * / // % < ** < unary < postfix/filters.
#include <set>

#include "io/jinja.h"
#include "io/jinja_ast.h"
#include "io/jinja_lexer.h"

namespace quanta::jinja {
namespace {

template <typename T>
std::unique_ptr<T> node(int line) {
  auto n = std::make_unique<T>();
  n->line = line;
  return n;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : t_(std::move(toks)) {}

  Body parse_template() {
    Body body = parse_body({});
    if (cur().kind != TokenKind::kEof) error(fmt::format("unexpected '{}'", cur().value));
    return body;
  }

 private:
  const Token& cur() const { return t_[i_]; }
  const Token& peek(size_t k = 1) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
  int line() const { return cur().line; }
  [[noreturn]] void error(const std::string& what) const { error_at(line(), what); }

  bool is_op(const char* op) const { return cur().kind == TokenKind::kOp && cur().value == op; }
  bool is_name(const char* n) const { return cur().kind == TokenKind::kName && cur().value == n; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    ++i_;
    return true;
  }
  bool skip_name(const char* n) {
    if (!is_name(n)) return false;
    ++i_;
    return true;
  }
  std::string describe(const Token& t) const {
    switch (t.kind) {
      case TokenKind::kBlockEnd:
        return "end of tag '%}'";
      case TokenKind::kVarEnd:
        return "end of expression '}}'";
      case TokenKind::kEof:
        return "end of template";
      case TokenKind::kText:
        return "template text";
      default:
        return "'" + t.value + "'";
    }
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) error(fmt::format("expected '{}', got {}", op, describe(cur())));
  }
  std::string expect_name() {
    if (cur().kind != TokenKind::kName)
      error(fmt::format("expected a name, got {}", describe(cur())));
    return t_[i_++].value;
  }
  void expect_block_end() {
    if (cur().kind != TokenKind::kBlockEnd)
      error(fmt::format("expected end of tag '%}}', got {}", describe(cur())));
    ++i_;
  }

  // Statements up to (not including) a block tag named in `until`; then cur() is that name.
  Body parse_body(const std::set<std::string>& until) {
    Body body;
    while (true) {
      const Token& tk = cur();
      if (tk.kind == TokenKind::kEof) {
        if (!until.empty()) error(fmt::format("missing '{{% {} %}}'", *until.rbegin()));
        return body;
      }
      if (tk.kind == TokenKind::kText) {
        auto s = node<TextStmt>(tk.line);
        s->text = tk.value;
        body.push_back(std::move(s));
        ++i_;
      } else if (tk.kind == TokenKind::kVarBegin) {
        ++i_;
        auto s = node<EmitStmt>(tk.line);
        s->expr = parse_tuple(true);
        if (cur().kind != TokenKind::kVarEnd)
          error(fmt::format("expected end of expression '}}}}', got {}", describe(cur())));
        ++i_;
        body.push_back(std::move(s));
      } else if (tk.kind == TokenKind::kBlockBegin) {
        ++i_;
        if (cur().kind == TokenKind::kName && until.count(cur().value)) return body;
        if (auto s = parse_statement()) body.push_back(std::move(s));
      } else {
        error(fmt::format("unexpected {}", describe(tk)));
      }
    }
  }

  StmtPtr parse_statement() {
    const int ln = line();
    const std::string kw = expect_name();
    if (kw == "if") return parse_if(ln);
    if (kw == "for") return parse_for(ln);
    if (kw == "set") return parse_set(ln);
    if (kw == "macro") return parse_macro(ln);
    if (kw == "filter") {
      auto s = node<FilterBlockStmt>(ln);
      s->name = expect_name();
      if (is_op("(")) s->args = parse_call_args();
      expect_block_end();
      s->body = parse_body({"endfilter"});
      ++i_;
      expect_block_end();
      return s;
    }
    if (kw == "break" || kw == "continue") {
      auto s = node<LoopControlStmt>(ln);
      s->flow = kw == "break" ? Flow::kBreak : Flow::kContinue;
      expect_block_end();
      return s;
    }
    if (kw == "generation" || kw == "with") {
      // {% generation %} only marks assistant text for masks; {% with %} opens a scope.
      auto s = node<BlockStmt>(ln);
      s->scoped = kw == "with";
      while (s->scoped && cur().kind != TokenKind::kBlockEnd) {
        auto set = node<SetStmt>(line());
        set->targets.push_back(expect_name());
        expect_op("=");
        set->value = parse_expression(true);
        s->body.push_back(std::move(set));
        if (!skip_op(",")) break;
      }
      expect_block_end();
      for (auto& st : parse_body({s->scoped ? "endwith" : "endgeneration"}))
        s->body.push_back(std::move(st));
      ++i_;
      expect_block_end();
      return s;
    }
    if (kw.rfind("end", 0) == 0 || kw == "else" || kw == "elif")
      error(fmt::format("unexpected '{{% {} %}}'", kw));
    error(fmt::format("unsupported tag '{{% {} %}}'", kw));
  }

  StmtPtr parse_if(int ln) {
    auto s = node<IfStmt>(ln);
    ExprPtr cond = parse_tuple(true);
    expect_block_end();
    while (true) {
      Body body = parse_body({"elif", "else", "endif"});
      s->branches.emplace_back(std::move(cond), std::move(body));
      const std::string kw = t_[i_++].value;
      if (kw == "elif") {
        cond = parse_tuple(true);
        expect_block_end();
        continue;
      }
      if (kw == "else") {
        expect_block_end();
        s->otherwise = parse_body({"endif"});
        ++i_;
      }
      expect_block_end();
      return s;
    }
  }

  StmtPtr parse_for(int ln) {
    auto s = node<ForStmt>(ln);
    do {
      s->targets.push_back(expect_name());
    } while (skip_op(","));
    if (!skip_name("in")) error(fmt::format("expected 'in' in for loop, got {}", describe(cur())));
    s->iter = parse_tuple(false);
    if (skip_name("if")) s->filter = parse_expression(true);
    if (is_name("recursive")) error("unsupported 'recursive' for loop");
    expect_block_end();
    s->body = parse_body({"else", "endfor"});
    if (t_[i_++].value == "else") {
      expect_block_end();
      s->otherwise = parse_body({"endfor"});
      ++i_;
    }
    expect_block_end();
    return s;
  }

  StmtPtr parse_set(int ln) {
    auto s = node<SetStmt>(ln);
    s->targets.push_back(expect_name());
    if (skip_op(".")) {
      s->attr = expect_name();
    } else {
      while (skip_op(",")) s->targets.push_back(expect_name());
    }
    if (skip_op("=")) {
      s->value = parse_tuple(true);
      expect_block_end();
      return s;
    }
    if (s->targets.size() != 1 || !s->attr.empty()) error("a block set takes a single name");
    expect_block_end();
    s->block = parse_body({"endset"});
    ++i_;
    expect_block_end();
    return s;
  }

  StmtPtr parse_macro(int ln) {
    auto s = node<MacroStmt>(ln);
    s->name = expect_name();
    expect_op("(");
    while (!skip_op(")")) {
      if (!s->params.empty()) expect_op(",");
      if (skip_op(")")) break;
      std::string p = expect_name();
      ExprPtr def;
      if (skip_op("=")) def = parse_expression(true);
      s->params.emplace_back(std::move(p), std::move(def));
    }
    expect_block_end();
    s->body = parse_body({"endmacro"});
    ++i_;
    expect_block_end();
    return s;
  }

  // Comma-separated expressions make a tuple (a list here); a single one stands alone.
  ExprPtr parse_tuple(bool with_condexpr) {
    const int ln = line();
    ExprPtr first = parse_expression(with_condexpr);
    if (!is_op(",")) return first;
    auto list = node<ListExpr>(ln);
    list->tuple = true;
    list->items.push_back(std::move(first));
    while (skip_op(",")) {
      if (at_expression_end()) break;
      list->items.push_back(parse_expression(with_condexpr));
    }
    return list;
  }

  bool at_expression_end() const {
    const TokenKind k = cur().kind;
    return k == TokenKind::kBlockEnd || k == TokenKind::kVarEnd || k == TokenKind::kEof ||
           is_op(")") || is_op("]") || is_op("}") || (k == TokenKind::kName && cur().value == "if");
  }

  ExprPtr parse_expression(bool with_condexpr) {
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    int ln = line();
    ExprPtr e = parse_or();
    while (skip_name("if")) {
      auto c = node<CondExpr>(ln);
      c->cond = parse_or();
      if (skip_name("else")) c->otherwise = parse_condexpr();
      c->then = std::move(e);
      e = std::move(c);
      ln = line();
    }
    return e;
  }

  ExprPtr binary(const std::string& op, ExprPtr l, ExprPtr r, int ln) {
    auto b = node<BinaryExpr>(ln);
    b->op = op;
    b->left = std::move(l);
    b->right = std::move(r);
    return b;
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (is_name("or")) {
      const int ln = line();
      ++i_;
      e = binary("or", std::move(e), parse_and(), ln);
    }
    return e;
  }

  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (is_name("and")) {
      const int ln = line();
      ++i_;
      e = binary("and", std::move(e), parse_not(), ln);
    }
    return e;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      auto u = node<UnaryExpr>(line());
      ++i_;
      u->op = "not";
      u->operand = parse_not();
      return u;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const int ln = line();
    ExprPtr first = parse_math1();
    std::vector<std::pair<std::string, ExprPtr>> rest;
    while (true) {
      std::string op;
      if (cur().kind == TokenKind::kOp &&
          (is_op("==") || is_op("!=") || is_op("<") || is_op("<=") || is_op(">") || is_op(">="))) {
        op = cur().value;
        ++i_;
      } else if (is_name("in")) {
        op = "in";
        ++i_;
      } else if (is_name("not") && peek().kind == TokenKind::kName && peek().value == "in") {
        op = "not in";
        i_ += 2;
      } else {
        break;
      }
      rest.emplace_back(op, parse_math1());
    }
    if (rest.empty()) return first;
    auto c = node<CompareExpr>(ln);
    c->first = std::move(first);
    c->rest = std::move(rest);
    return c;
  }

  ExprPtr parse_math1() {
    ExprPtr e = parse_concat();
    while (is_op("+") || is_op("-")) {
      const std::string op = cur().value;
      const int ln = line();
      ++i_;
      e = binary(op, std::move(e), parse_concat(), ln);
    }
    return e;
  }

  ExprPtr parse_concat() {
    ExprPtr e = parse_math2();
    while (is_op("~")) {
      const int ln = line();
      ++i_;
      e = binary("~", std::move(e), parse_math2(), ln);
    }
    return e;
  }

  ExprPtr parse_math2() {
    ExprPtr e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const std::string op = cur().value;
      const int ln = line();
      ++i_;
      e = binary(op, std::move(e), parse_pow(), ln);
    }
    return e;
  }

  ExprPtr parse_pow() {
    ExprPtr e = parse_unary(true);
    while (is_op("**")) {
      const int ln = line();
      ++i_;
      e = binary("**", std::move(e), parse_unary(true), ln);
    }
    return e;
  }

  ExprPtr parse_unary(bool with_filter) {
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      auto u = node<UnaryExpr>(line());
      u->op = cur().value;
      ++i_;
      u->operand = parse_unary(false);
      e = std::move(u);
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprPtr parse_primary() {
    const Token& tk = cur();
    const int ln = tk.line;
    switch (tk.kind) {
      case TokenKind::kName: {
        ++i_;
        auto lit = node<Literal>(ln);
        if (tk.value == "true" || tk.value == "True") {
          lit->value = Value(true);
        } else if (tk.value == "false" || tk.value == "False") {
          lit->value = Value(false);
        } else if (tk.value == "none" || tk.value == "None") {
          lit->value = Value::none();
        } else {
          auto n = node<NameExpr>(ln);
          n->name = tk.value;
          return n;
        }
        return lit;
      }
      case TokenKind::kString: {
        std::string s;
        while (cur().kind == TokenKind::kString) s += t_[i_++].value;  // adjacent literals join
        auto lit = node<Literal>(ln);
        lit->value = Value(std::move(s));
        return lit;
      }
      case TokenKind::kInt: {
        ++i_;
        auto lit = node<Literal>(ln);
        try {
          lit->value = Value(int64_t(std::stoll(tk.value)));
        } catch (const std::exception&) {
          error_at(ln, fmt::format("integer literal {} out of range", tk.value));
        }
        return lit;
      }
      case TokenKind::kFloat: {
        ++i_;
        auto lit = node<Literal>(ln);
        lit->value = Value(std::stod(tk.value));
        return lit;
      }
      case TokenKind::kOp:
        if (tk.value == "(") {
          ++i_;
          if (skip_op(")")) {
            auto empty = node<ListExpr>(ln);
            empty->tuple = true;
            return empty;
          }
          ExprPtr e = parse_tuple(true);
          expect_op(")");
          return e;
        }
        if (tk.value == "[") {
          ++i_;
          auto list = node<ListExpr>(ln);
          while (!skip_op("]")) {
            if (!list->items.empty()) {
              expect_op(",");
              if (skip_op("]")) break;
            }
            list->items.push_back(parse_expression(true));
          }
          return list;
        }
        if (tk.value == "{") {
          ++i_;
          auto dict = node<DictExpr>(ln);
          while (!skip_op("}")) {
            if (!dict->items.empty()) {
              expect_op(",");
              if (skip_op("}")) break;
            }
            ExprPtr k = parse_expression(true);
            expect_op(":");
            dict->items.emplace_back(std::move(k), parse_expression(true));
          }
          return dict;
        }
        break;
      default:
        break;
    }
    error(fmt::format("unexpected {} in expression", describe(tk)));
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      const int ln = line();
      if (skip_op(".")) {
        if (cur().kind == TokenKind::kInt) {
          auto g = node<GetItem>(ln);
          auto lit = node<Literal>(ln);
          lit->value = Value(int64_t(std::stoll(t_[i_++].value)));
          g->obj = std::move(e);
          g->index = std::move(lit);
          e = std::move(g);
          continue;
        }
        auto g = node<GetAttr>(ln);
        g->obj = std::move(e);
        g->name = expect_name();
        e = std::move(g);
      } else if (skip_op("[")) {
        e = parse_subscript(std::move(e), ln);
      } else if (is_op("(")) {
        auto c = node<CallExpr>(ln);
        c->callee = std::move(e);
        c->args = parse_call_args();
        e = std::move(c);
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr obj, int ln) {
    ExprPtr parts[3];
    int n = 0;
    bool slice = false;
    while (true) {
      if (!is_op(":") && !is_op("]")) parts[n] = parse_expression(true);
      if (skip_op(":")) {
        slice = true;
        if (++n > 2) error("too many ':' in a slice");
        continue;
      }
      break;
    }
    if (is_op(",")) error("tuple subscripts are not supported");
    expect_op("]");
    if (!slice) {
      if (!parts[0]) error("empty subscript '[]'");
      auto g = node<GetItem>(ln);
      g->obj = std::move(obj);
      g->index = std::move(parts[0]);
      return g;
    }
    auto s = node<SliceExpr>(ln);
    s->obj = std::move(obj);
    s->start = std::move(parts[0]);
    s->stop = std::move(parts[1]);
    s->step = std::move(parts[2]);
    return s;
  }

  CallArgs parse_call_args() {
    expect_op("(");
    CallArgs args;
    bool first = true;
    while (!skip_op(")")) {
      if (!first) {
        expect_op(",");
        if (skip_op(")")) break;
      }
      first = false;
      if (is_op("*") || is_op("**")) error("'*args' / '**kwargs' in calls are not supported");
      if (cur().kind == TokenKind::kName && peek().kind == TokenKind::kOp && peek().value == "=") {
        std::string k = t_[i_].value;
        i_ += 2;
        args.kw.emplace_back(std::move(k), parse_expression(true));
      } else {
        if (!args.kw.empty()) error("positional argument after keyword argument");
        args.pos.push_back(parse_expression(true));
      }
    }
    return args;
  }

  ExprPtr parse_filter_expr(ExprPtr e) {
    while (true) {
      const int ln = line();
      if (skip_op("|")) {
        auto f = node<FilterExpr>(ln);
        f->value = std::move(e);
        f->name = expect_name();
        while (skip_op(".")) f->name.append(".").append(expect_name());
        if (is_op("(")) f->args = parse_call_args();
        e = std::move(f);
      } else if (skip_name("is")) {
        auto t = node<TestExpr>(ln);
        t->value = std::move(e);
        t->negated = skip_name("not");
        t->name = expect_name();
        while (skip_op(".")) t->name.append(".").append(expect_name());
        const TokenKind k = cur().kind;
        if (is_op("(")) {
          t->args = parse_call_args();
        } else if ((k == TokenKind::kName || k == TokenKind::kString || k == TokenKind::kInt ||
                    k == TokenKind::kFloat || is_op("[") || is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
          if (is_name("is")) error("tests cannot be chained with 'is'");
          t->args.pos.push_back(parse_postfix(parse_primary()));
        }
        e = std::move(t);
      } else if (is_op("(")) {
        auto c = node<CallExpr>(ln);
        c->callee = std::move(e);
        c->args = parse_call_args();
        e = std::move(c);
      } else {
        return e;
      }
    }
  }

  std::vector<Token> t_;
  size_t i_ = 0;
};

}  // namespace

struct Template::Impl {
  Body body;
};

Template::Template(const std::string& source) : impl_(std::make_unique<Impl>()) {
  impl_->body = Parser(lex(source)).parse_template();
}
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;
Template::~Template() = default;

std::string Template::render(const std::vector<std::pair<std::string, Value>>& vars) const {
  Context ctx;
  add_globals(ctx);
  for (const auto& [k, v] : vars) ctx.set(k, v);
  ctx.push();  // template-level sets go above the arguments
  std::string out;
  exec_body(impl_->body, ctx, out);
  return out;
}

}  // namespace quanta::jinja
