// compressed-tensors quantization_config parsing: config.json bytes in a folder; is_compressed_tensors
// and input_activation_args (which parses every config group) either succeed or throw quanta::Error.
#include <string>

#include "core/error.h"
#include "fuzz_util.h"
#include "quant/compressed_tensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  quanta::fuzz::write_input("config.json", data, size);
  const std::string dir = quanta::fuzz::scratch_dir();
  try {
    if (quanta::is_compressed_tensors(dir)) (void)quanta::input_activation_args(dir);
  } catch (const quanta::Error&) {
  }
  return 0;
}
