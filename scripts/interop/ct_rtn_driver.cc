// Interop helper (not part of the build): RTN-compresses an HF folder to compressed-tensors, and
// prints quanta's logits for token ids, so check_transformers_ct.py can compare with transformers.
//   ct_rtn_driver compress SRC OUT SCHEME [GROUP_SIZE]
//   ct_rtn_driver logits DIR OUT.f32 ID...      (logits of every position, f32 row-major)
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/safetensors.h"
#include "model/llama.h"
#include "quant/compressed_tensors.h"
#include "quant/rtn.h"

using namespace quanta;

int main(int argc, char** argv) try {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "compress" && argc >= 5) {
    const Scheme s = scheme_by_name(argv[4], argc > 5 ? std::atoll(argv[5]) : -1);
    const TensorStore store = TensorStore::open(argv[2]);
    std::map<std::string, QuantizedWeight> q;
    for (const auto& [name, t] : store.tensors()) {
      if (name.find("_proj.weight") == std::string::npos) continue;
      if (t.dtype != DType::kF32) fail("{}: expected F32", name);
      q[name] = quantize_rtn(reinterpret_cast<const float*>(t.data), t.shape[0], t.shape[1],
                             s.weights);
    }
    CompressedSaveOptions opt;
    opt.source_dir = argv[2];
    opt.scheme = s;
    opt.ignore = {"lm_head"};
    save_compressed_tensors(argv[3], opt, q, store);
    std::printf("wrote %s (%zu quantized Linears)\n", argv[3], q.size());
    return 0;
  }
  if (cmd == "logits" && argc >= 5) {
    LlamaModel m = LlamaModel::load(argv[2]);
    std::vector<int32_t> ids;
    for (int i = 4; i < argc; ++i) ids.push_back(std::atoi(argv[i]));
    const int64_t T = int64_t(ids.size()), V = m.config().vocab_size;
    std::vector<float> logits(size_t(T * V));
    KvCache c = m.make_cache(T);
    m.forward(ids.data(), T, c, logits.data(), T);
    std::ofstream(argv[3], std::ios::binary)
        .write(reinterpret_cast<const char*>(logits.data()), std::streamsize(logits.size() * 4));
    return 0;
  }
  std::fprintf(stderr, "usage: ct_rtn_driver compress SRC OUT SCHEME [G] | logits DIR OUT ID...\n");
  return 2;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
