// LlamaModel::place_weights_on_huge_pages: the streamed weights moved into one THP-advised buffer.
#include <malloc.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "model/llama.h"

namespace quanta {
namespace {

size_t aligned64(size_t n) { return (n + 63) / 64 * 64; }

// Copies arrays one after another, each on a 64-byte boundary, into a buffer sized by a first
// pass that only counts (base == nullptr).
struct Placer {
  uint8_t* base = nullptr;
  size_t at = 0;
  template <typename T>
  const T* put(const T* src, size_t n) {
    if (!src || n == 0) return src;
    at = aligned64(at);
    T* dst = base ? reinterpret_cast<T*>(base + at) : nullptr;
    if (base) std::memcpy(dst, src, n * sizeof(T));
    at += n * sizeof(T);
    return base ? dst : src;
  }
};

template <typename T>
void free_vector(std::vector<T>& v) {
  std::vector<T>().swap(v);
}

}  // namespace

size_t LlamaModel::place_weights_on_huge_pages() {
  if (reference_path_ || weight_arena_.data()) return 0;  // once: the arena's arrays have no owner
  if (!huge_pages_enabled()) return 0;
  std::vector<MatrixView*> views;
  for (LlamaLayer& L : layers_)
    for (MatrixView* v : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down})
      views.push_back(v);
  views.push_back(&lm_head_);
  views.push_back(&embed_);
  std::map<const void*, PackedWeight*> packed;  // the owner of each compressed view's arrays
  for (auto& p : packed_) packed[p->view.data] = p.get();
  if (lm_head_packed_) packed[lm_head_packed_->view.data] = lm_head_packed_.get();
  std::map<const void*, std::vector<float>*> owned;  // f32 weights the model holds
  for (auto& v : owned_) owned[v->data()] = v.get();
  if (lm_head_f32_) owned[lm_head_f32_->data()] = lm_head_f32_.get();

  // Pass 0 counts the bytes, pass 1 copies into the buffer; a view whose data another view
  // already moved (the tied embedding) takes that copy.
  HugePageBuffer arena;
  Placer put;
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) {
      arena = HugePageBuffer(put.at);
      put = Placer{arena.data(), 0};
    }
    std::map<const void*, MatrixView> moved;
    for (MatrixView* v : views) {
      const void* old = v->data;
      if (!old) continue;
      if (auto it = moved.find(old); it != moved.end()) {
        if (pass == 1) *v = it->second;
        continue;
      }
      MatrixView nv = *v;
      if (v->compressed()) {
        auto it = packed.find(old);
        if (it == packed.end()) continue;  // not ours to move
        PackedWeight& p = *it->second;
        nv.data = put.put(p.data.data(), p.data.size());
        if (v->scales) nv.scales = put.put(p.scales.data(), p.scales.size());
        if (v->zeros) nv.zeros = put.put(p.zeros.data(), p.zeros.size());
        if (v->scales_f16) nv.scales_f16 = put.put(p.scales_f16.data(), p.scales_f16.size());
        if (v->zeros_f16) nv.zeros_f16 = put.put(p.zeros_f16.data(), p.zeros_f16.size());
        if (v->row_sums) nv.row_sums = put.put(p.row_sums.data(), p.row_sums.size());
      } else {
        const bool mapped = store_.maps(old, v->nbytes());
        if (!mapped && !owned.count(old)) continue;  // bytes the store owns: not ours to free
        // In slices, each dropped from the resident set once copied when it is file-mapped, so
        // the copy never holds a whole mapped tensor twice.
        constexpr size_t kSlice = size_t(8) << 20;
        const auto* src = static_cast<const uint8_t*>(old);
        const size_t n = v->nbytes();
        nv.data = put.put(src, std::min(n, kSlice));
        if (pass == 1 && mapped) release_mapped_pages(src, std::min(n, kSlice));
        for (size_t at = kSlice; at < n; at += kSlice) {
          put.put(src + at, std::min(n - at, kSlice));
          if (pass == 1 && mapped) release_mapped_pages(src + at, std::min(n - at, kSlice));
        }
      }
      moved[old] = nv;
      if (pass == 0) continue;
      *v = nv;
      // The originals: packed arrays and owned f32 copies are freed; file-mapped bytes leave the
      // resident set.
      if (v->compressed()) {
        PackedWeight& p = *packed[old];
        free_vector(p.data);
        free_vector(p.scales);
        free_vector(p.zeros);
        free_vector(p.scales_f16);
        free_vector(p.zeros_f16);
        free_vector(p.row_sums);
        p.view = nv;
      } else if (auto it = owned.find(old); it != owned.end()) {
        free_vector(*it->second);
      } else {
        continue;  // file-mapped: released slice by slice above
      }
      // Freed heap memory goes back to the OS now, so the copies never double the resident set.
      malloc_trim(0);
    }
  }
  weight_arena_ = std::move(arena);
  return put.at;
}

}  // namespace quanta
