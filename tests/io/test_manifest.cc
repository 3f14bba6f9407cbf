// Output manifests and `quanta verify`: a committed StagingDir verifies; a missing, changed or
// unlisted file, a staging folder, or a GGUF with changed data does not, and the message names it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/sha256.h"
#include "io/gguf_writer.h"
#include "io/manifest.h"
#include "io/mapped_file.h"
#include "io/staging_dir.h"
#include "test_util.h"

namespace quanta {
namespace {

namespace fs = std::filesystem;
using testing_util::temp_dir;

void write_text(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary);
  out << s;
}

std::string committed_folder(const std::string& root) {
  const std::string out = root + "/out";
  StagingDir stage(out);
  write_text(stage.path() / "a.json", "{}\n");
  fs::create_directories(stage.path() / "sub");
  write_text(stage.path() / "sub" / "b.bin", std::string(100000, 'x'));
  stage.commit();
  return out;
}

TEST(Manifest, CommittedFolderVerifies) {
  const std::string out = committed_folder(temp_dir());
  ASSERT_TRUE(fs::exists(fs::path(out) / kManifestFile));
  const VerifyResult r = verify_output(out);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.n_files, 2);
  EXPECT_EQ(r.message, "ok 2 files");
}

TEST(Manifest, ChangedMissingAndExtraFilesAreNamed) {
  const std::string root = temp_dir();
  std::string out = committed_folder(root);
  write_text(fs::path(out) / "sub" / "b.bin", std::string(100000, 'y'));  // same size
  VerifyResult r = verify_output(out);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("b.bin: changed: sha256"), std::string::npos) << r.message;

  fs::remove_all(out);
  out = committed_folder(root);
  write_text(fs::path(out) / "a.json", "{}  ");
  r = verify_output(out);
  EXPECT_NE(r.message.find("a.json: changed: 4 bytes, manifest says 3"), std::string::npos) << r.message;

  fs::remove_all(out);
  out = committed_folder(root);
  fs::remove(fs::path(out) / "a.json");
  r = verify_output(out);
  EXPECT_NE(r.message.find("a.json: missing"), std::string::npos) << r.message;

  fs::remove_all(out);
  out = committed_folder(root);
  write_text(fs::path(out) / "extra.txt", "hi");
  r = verify_output(out);
  EXPECT_NE(r.message.find("extra.txt: not listed"), std::string::npos) << r.message;

  fs::remove(fs::path(out) / kManifestFile);
  r = verify_output(out);
  EXPECT_NE(r.message.find("no manifest.json"), std::string::npos) << r.message;
}

TEST(Manifest, StagingFoldersNeverVerify) {
  const std::string root = temp_dir();
  const fs::path tmp = fs::path(root) / "out.tmp-12345";
  fs::create_directories(tmp);
  write_text(tmp / "a.json", "{}");
  write_manifest(tmp.string());
  const VerifyResult r = verify_output(tmp.string());
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("staging folder"), std::string::npos) << r.message;
}

TEST(Manifest, StaleStagingFoldersOfDeadProcessesAreRemoved) {
  const std::string root = temp_dir();
  // A pid far above pid_max is never alive.
  const fs::path stale = fs::path(root) / "out.tmp-2147483000";
  fs::create_directories(stale);
  write_text(stale / "half.bin", "x");
  const fs::path unrelated = fs::path(root) / "other.tmp-2147483000";
  fs::create_directories(unrelated);
  {
    StagingDir stage(root + "/out");
    EXPECT_FALSE(fs::exists(stale));
    EXPECT_TRUE(fs::exists(unrelated));
  }
  EXPECT_FALSE(fs::exists(root + "/out"));  // never committed
}

TEST(Manifest, GgufDataChecksum) {
  const std::string root = temp_dir();
  GgufWriter w;
  w.set("general.architecture", GgufValue::string("llama"));
  const float v[32] = {1, 2, 3};
  w.add_tensor("t", GgmlType::kF32, {32}, v, sizeof(v));
  std::vector<uint8_t> data;
  w.for_each_data_chunk([&](const uint8_t* p, size_t n) { data.insert(data.end(), p, p + n); });
  const std::string path = root + "/x.gguf";
  w.write(path);
  VerifyResult r = verify_output(path);
  EXPECT_FALSE(r.ok);  // no checksum in the file
  EXPECT_NE(r.message.find("quanta.data_sha256"), std::string::npos) << r.message;

  // With the checksum (as export_gguf writes it), then with one data byte changed.
  w.set(kGgufDataSha256Key, GgufValue::string(sha256_hex(std::string(data.begin(), data.end()))));
  fs::remove(path);
  w.write(path);
  r = verify_output(path);
  EXPECT_TRUE(r.ok) << r.message;
  std::vector<uint8_t> bytes = w.serialize();
  bytes[bytes.size() - data.size() + 4] ^= 1;
  fs::remove(path);
  write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
  r = verify_output(path);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("changed"), std::string::npos) << r.message;
}

}  // namespace
}  // namespace quanta
