// render_chat_template: the variables transformers' apply_chat_template passes to the template.
#include "io/chat_template.h"

#include <memory>
#include <mutex>

#include "io/jinja.h"

namespace quanta {
namespace {

// Parsing is cheap but a server renders the same template for every request; keep the last one.
std::shared_ptr<const jinja::Template> parsed(const std::string& tmpl) {
  static std::mutex mu;
  static std::string last_source;
  static std::shared_ptr<const jinja::Template> last;
  std::lock_guard<std::mutex> lock(mu);
  if (!last || last_source != tmpl) {
    last = std::make_shared<const jinja::Template>(tmpl);
    last_source = tmpl;
  }
  return last;
}

}  // namespace

std::vector<std::pair<std::string, jinja::Value>> chat_template_vars(
    const std::vector<ChatMessage>& messages, bool add_generation_prompt,
    const std::string& bos_token, const std::string& eos_token) {
  jinja::List list;
  for (const ChatMessage& m : messages) {
    jinja::Dict d;
    d.set("role", jinja::Value(m.role));
    d.set("content", jinja::Value(m.content));
    list.push_back(jinja::Value(std::move(d)));
  }
  // transformers passes tools/documents as None when not given, so they are defined.
  return {
      {"messages", jinja::Value(std::move(list))},
      {"add_generation_prompt", jinja::Value(add_generation_prompt)},
      {"bos_token", jinja::Value(bos_token)},
      {"eos_token", jinja::Value(eos_token)},
      {"tools", jinja::Value::none()},
      {"documents", jinja::Value::none()},
  };
}

std::string render_chat_template(const std::string& tmpl, const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt, const std::string& bos_token,
                                 const std::string& eos_token) {
  return parsed(tmpl)->render(
      chat_template_vars(messages, add_generation_prompt, bos_token, eos_token));
}

}  // namespace quanta
