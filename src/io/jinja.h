// A Jinja template engine for the subset Hugging Face chat templates use, rendering as
// transformers' sandboxed environment does (trim_blocks, lstrip_blocks, loopcontrols, its own
// tojson, raise_exception, strftime_now). Unknown syntax throws quanta::Error naming it.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/jinja_value.h"

namespace quanta::jinja {

class Template {
 public:
  // Parses source; throws quanta::Error ("chat template: line N: ...") on bad syntax.
  explicit Template(const std::string& source);
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;
  ~Template();

  // Renders with these variables (on top of the built-in globals).
  std::string render(const std::vector<std::pair<std::string, Value>>& vars) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace quanta::jinja
