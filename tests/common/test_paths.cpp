// SPDX-License-Identifier: Apache-2.0
#include "tests/common/test_paths.h"

#include <cstdlib>

namespace ivs::test {
namespace {

std::filesystem::path env_or(const char* name, const std::filesystem::path& fallback) {
  const char* value = std::getenv(name);
  if (value != nullptr && *value != '\0') return value;
  return fallback;
}

}  // namespace

std::filesystem::path source_dir() { return INTERNVL_SOURCE_DIR; }

std::filesystem::path shared_dir() {
  return env_or("INTERNVL_SHARED", source_dir().parent_path() / "shared");
}

std::filesystem::path fixtures_dir() { return env_or("INTERNVL_FIXTURES", shared_dir() / "fixtures"); }

std::filesystem::path internvl_tiny_dir() { return fixtures_dir() / "internvl-tiny"; }

std::filesystem::path qllama_tokenizer_path() {
  return shared_dir() / "models" / "qllama-tokenizer" / "tokenizer.model";
}

std::filesystem::path scratch_dir(const std::string& name) {
  auto dir = std::filesystem::path(INTERNVL_BINARY_DIR) / "test-scratch" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace ivs::test
