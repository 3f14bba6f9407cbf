// safetensors header parsing and tensor access: any bytes must either open (with every tensor's
// bytes inside the mapped file) or throw quanta::Error.
#include <cstring>

#include "core/error.h"
#include "fuzz_util.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = quanta::fuzz::write_input("model.safetensors", data, size);
  try {
    const quanta::TensorStore s = quanta::TensorStore::open(path);
    volatile uint8_t sink = 0;
    for (const auto& [name, t] : s.tensors())
      if (t.nbytes > 0) sink = sink ^ t.data[0] ^ t.data[t.nbytes - 1];  // ASan checks the bounds
  } catch (const quanta::Error&) {
  }
  return 0;
}
