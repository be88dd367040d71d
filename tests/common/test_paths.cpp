// SPDX-License-Identifier: Apache-2.0
#include "tests/common/test_paths.h"

namespace ivs::test {

std::filesystem::path source_dir() { return INTERNVL_SOURCE_DIR; }

std::filesystem::path internvl_tiny_dir() {
  return source_dir() / "tests" / "data" / "parity" / "internvl-tiny";
}

std::filesystem::path internvl_tiny_bin_path() { return INTERNVL_TINY_PYTORCH_BIN; }

std::filesystem::path qllama_tokenizer_path() { return internvl_tiny_dir() / "tokenizer.model"; }

std::filesystem::path scratch_dir(const std::string& name) {
  auto dir = std::filesystem::path(INTERNVL_BINARY_DIR) / "test-scratch" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace ivs::test
