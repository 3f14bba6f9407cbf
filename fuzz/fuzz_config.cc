// config.json parsing (parse_model_config): any text either parses to a consistent config or throws
// quanta::Error.
#include <string>

#include "core/error.h"
#include "io/hf_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const quanta::ModelConfig c = quanta::parse_model_config(text, "config.json");
    if (c.hidden_size <= 0 || c.n_heads <= 0 || c.n_heads_kv <= 0 || c.n_heads % c.n_heads_kv != 0 ||
        c.head_dim <= 0)
      __builtin_trap();  // the parser promises these invariants
  } catch (const quanta::Error&) {
  }
  return 0;
}
