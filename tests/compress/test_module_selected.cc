// Which Linears `quanta compress --targets/--ignore` selects, with compressed-tensors' matching.
#include <gtest/gtest.h>

#include "compress/pipeline.h"
#include "core/error.h"

namespace quanta {
namespace {

TEST(ModuleSelected, TargetsAndIgnore) {
  const std::string down = "model.layers.3.mlp.down_proj", q = "model.layers.3.self_attn.q_proj";
  EXPECT_TRUE(module_selected(down, {"Linear"}, {"lm_head"}));
  EXPECT_FALSE(module_selected(down, {"Linear"}, {"re:.*down_proj"}));
  EXPECT_TRUE(module_selected(q, {"Linear"}, {"re:.*down_proj"}));
  EXPECT_FALSE(module_selected(down, {"Linear"}, {down}));
  EXPECT_TRUE(module_selected(down, {"re:.*mlp\\..*"}, {}));
  EXPECT_FALSE(module_selected(q, {"re:.*mlp\\..*"}, {}));
  EXPECT_TRUE(module_selected(q, {q}, {}));
  // A plain entry is a whole module name, not a substring; a regex matches the whole name.
  EXPECT_TRUE(module_selected(down, {"Linear"}, {"down_proj"}));
  EXPECT_FALSE(module_selected(down, {"re:down_proj"}, {}));
  EXPECT_FALSE(module_selected(q, {}, {}));
}

TEST(ModuleSelected, BadRegexIsAnError) {
  EXPECT_THROW(module_selected("x", {"re:(unclosed"}, {}), Error);
}

}  // namespace
}  // namespace quanta
