// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <filesystem>
#include <string>

namespace ivs::test {

/// The shared folder beside the project: $INTERNVL_SHARED, default <source>/../shared.
std::filesystem::path shared_dir();

/// The parity fixtures: $INTERNVL_FIXTURES, default shared_dir()/fixtures.
std::filesystem::path fixtures_dir();

/// The tiny official-format InternVL checkpoint with reference outputs.
std::filesystem::path internvl_tiny_dir();

/// The real QLLaMA tokenizer.model: shared_dir()/models/qllama-tokenizer/tokenizer.model.
std::filesystem::path qllama_tokenizer_path();

/// The project source directory (for tests/data/...).
std::filesystem::path source_dir();

/// A fresh, empty, per-test scratch directory under the build tree (removed and recreated).
std::filesystem::path scratch_dir(const std::string& name);

}  // namespace ivs::test

/// Skips the current test with a clear message when `path` does not exist.
#define INTERNVL_REQUIRE_PATH(path)                                                        \
  do {                                                                                     \
    if (!std::filesystem::exists(path)) {                                                  \
      GTEST_SKIP() << "test data not found: " << (path).string()                            \
                   << " (set INTERNVL_SHARED or INTERNVL_FIXTURES to the shared folder)"; \
    }                                                                                      \
  } while (0)
