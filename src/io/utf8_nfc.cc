#include "io/utf8_nfc.h"

#include <algorithm>
#include <vector>

#include "io/utf8.h"

namespace quanta::utf8 {
namespace {

using namespace nfc_data;

// Hangul syllables are composed arithmetically (Unicode 3.12).
constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
                   kSCount = kLCount * kNCount;

int ccc(uint32_t cp) {
  if (cp < 0x300) return 0;
  const CccRange* end = kCcc + kCccCount;
  const CccRange* it =
      std::upper_bound(kCcc, end, cp, [](uint32_t c, const CccRange& r) { return c < r.first; });
  if (it == kCcc) return 0;
  --it;
  return cp <= it->last ? it->ccc : 0;
}

void decompose(uint32_t cp, std::vector<uint32_t>& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const uint32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out.push_back(kTBase + s % kTCount);
    return;
  }
  const Decomp* end = kDecomp + kDecompCount;
  const Decomp* it =
      std::lower_bound(kDecomp, end, cp, [](const Decomp& d, uint32_t c) { return d.cp < c; });
  if (it != end && it->cp == cp) {
    out.insert(out.end(), kDecompPool + it->offset, kDecompPool + it->offset + it->len);
  } else {
    out.push_back(cp);
  }
}

// The primary composite of (a, b), or 0.
uint32_t compose(uint32_t a, uint32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount)
    return a + (b - kTBase);
  const Compose* end = kCompose + kComposeCount;
  const Compose* it =
      std::lower_bound(kCompose, end, std::make_pair(a, b), [](const Compose& c, const auto& k) {
        return c.a != k.first ? c.a < k.first : c.b < k.second;
      });
  return it != end && it->a == a && it->b == b ? it->composite : 0;
}

}  // namespace

std::string nfc(std::string_view s) {
  // Lead bytes below 0xCC only start code points below U+0300, which NFC never changes.
  if (std::none_of(s.begin(), s.end(),
                   [](char c) { return static_cast<unsigned char>(c) >= 0xCC; }))
    return std::string(s);
  std::vector<uint32_t> d;
  d.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) decompose(next(s, pos), d);
  // Canonical ordering: stable sort of each run of non-starters by combining class.
  for (size_t i = 0; i < d.size();) {
    if (ccc(d[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < d.size() && ccc(d[j]) != 0) ++j;
    std::stable_sort(d.begin() + i, d.begin() + j,
                     [](uint32_t a, uint32_t b) { return ccc(a) < ccc(b); });
    i = j;
  }
  // Canonical composition (UAX #15 sample algorithm).
  if (!d.empty()) {
    size_t starter = 0, out = 1;
    int last_class = ccc(d[0]) == 0 ? 0 : 256;  // a leading non-starter blocks everything
    for (size_t i = 1; i < d.size(); ++i) {
      const uint32_t ch = d[i];
      const int cls = ccc(ch);
      const uint32_t c = compose(d[starter], ch);
      if (c && (last_class < cls || last_class == 0)) {
        d[starter] = c;
        continue;
      }
      if (cls == 0) starter = out;
      last_class = cls;
      d[out++] = ch;
    }
    d.resize(out);
  }
  std::string r;
  r.reserve(s.size());
  for (uint32_t cp : d) append(r, cp);
  return r;
}

}  // namespace quanta::utf8
