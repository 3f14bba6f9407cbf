#include "io/manifest.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "core/error.h"
#include "core/sha256.h"
#include "io/gguf.h"
#include "io/hf_config.h"
#include "io/mapped_file.h"

namespace quanta {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

// Regular files under dir, as sorted relative paths (generic '/' separators).
std::vector<std::string> list_files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string rel = fs::relative(e.path(), dir).generic_string();
    if (rel != kManifestFile) out.push_back(rel);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool is_staging_name(const std::string& name) {
  static const std::regex kStaging(R"(.*\.tmp-[0-9]+)");
  return std::regex_match(name, kStaging);
}

VerifyResult verify_dir(const fs::path& dir) {
  VerifyResult r;
  const std::string name = dir.lexically_normal().filename().string();
  if (is_staging_name(name)) {
    r.message = fmt::format("{}: a staging folder (an unfinished or interrupted write), not an output",
                            dir.string());
    return r;
  }
  const fs::path mpath = dir / kManifestFile;
  std::error_code ec;
  if (!fs::is_regular_file(mpath, ec)) {
    r.message = fmt::format("{}: no {} (incomplete, or not written by quanta)", dir.string(),
                            kManifestFile);
    return r;
  }
  json m;
  try {
    m = json::parse(read_file(mpath.string()));
  } catch (const json::exception& e) {
    r.message = fmt::format("{}: invalid JSON: {}", mpath.string(), e.what());
    return r;
  }
  if (!m.is_object() || !m.contains("files") || !m["files"].is_object()) {
    r.message = fmt::format("{}: expected an object with \"files\"", mpath.string());
    return r;
  }
  const std::vector<std::string> present = list_files(dir);
  for (auto it = m["files"].begin(); it != m["files"].end(); ++it) {
    const std::string& rel = it.key();
    const json& f = it.value();
    if (!f.is_object() || !f.contains("size") || !f["size"].is_number_unsigned() ||
        !f.contains("sha256") || !f["sha256"].is_string()) {
      r.message = fmt::format("{}: entry '{}' needs size and sha256", mpath.string(), rel);
      return r;
    }
    const fs::path p = dir / rel;
    if (!fs::is_regular_file(p, ec)) {
      r.message = fmt::format("{}: missing (listed in {})", p.string(), kManifestFile);
      return r;
    }
    const uint64_t want_size = f["size"].get<uint64_t>();
    const uint64_t size = fs::file_size(p, ec);
    if (size != want_size) {
      r.message = fmt::format("{}: changed: {} bytes, manifest says {}", p.string(), size, want_size);
      return r;
    }
    if (sha256_file_hex(p.string()) != f["sha256"].get<std::string>()) {
      r.message = fmt::format("{}: changed: sha256 differs from the manifest", p.string());
      return r;
    }
    ++r.n_files;
  }
  for (const std::string& rel : present) {
    if (!m["files"].contains(rel)) {
      r.message = fmt::format("{}: not listed in {}", (dir / rel).string(), kManifestFile);
      return r;
    }
  }
  r.ok = true;
  r.message = fmt::format("ok {} files", r.n_files);
  return r;
}

VerifyResult verify_gguf(const std::string& path) {
  VerifyResult r;
  std::unique_ptr<GgufFile> f;
  try {
    f = GgufFile::open(path);
  } catch (const Error& e) {
    r.message = e.what();
    return r;
  }
  const GgufValue* want = f->find(kGgufDataSha256Key);
  if (want == nullptr || want->type() != GgufValueType::kString) {
    r.message = fmt::format("{}: structure ok, but no {} to check the data against", path,
                            kGgufDataSha256Key);
    return r;
  }
  auto mf = MappedFile::open(path);
  Sha256 h;
  if (mf->size() > f->data_offset()) h.update(mf->data() + f->data_offset(), mf->size() - f->data_offset());
  if (h.hex_digest() != want->as_string()) {
    r.message = fmt::format("{}: changed: tensor data sha256 differs from {}", path,
                            kGgufDataSha256Key);
    return r;
  }
  r.ok = true;
  r.n_files = 1;
  r.message = fmt::format("ok 1 files ({} tensors)", f->tensors().size());
  return r;
}

}  // namespace

void write_manifest(const std::string& dir) {
  json files = json::object();
  for (const std::string& rel : list_files(dir)) {
    uint64_t size = 0;
    const std::string sha = sha256_file_hex((fs::path(dir) / rel).string(), &size);
    files[rel] = {{"size", size}, {"sha256", sha}};
  }
  json m = {{"format", "quanta-manifest/1"}, {"files", std::move(files)}};
  write_file_atomic((fs::path(dir) / kManifestFile).string(), m.dump(2) + "\n");
}

VerifyResult verify_output(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return verify_dir(fs::path(path));
  if (fs::is_regular_file(path, ec)) return verify_gguf(path);
  VerifyResult r;
  r.message = fmt::format("{}: no such file or folder", path);
  return r;
}

}  // namespace quanta
