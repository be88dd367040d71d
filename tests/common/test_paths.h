// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace ivs::test {

/// The tiny official-format InternVL checkpoint with the official code's reference outputs
/// (tests/data/parity/internvl-tiny; its README says where every file comes from).
std::filesystem::path internvl_tiny_dir();

/// The tiny checkpoint's weights as a PyTorch `.bin` (torch.save zip), written at build time from
/// its model.safetensors by tests/data/parity/make_pytorch_bin.py: one copy of the weights in
/// the repository, both formats under test.
std::filesystem::path internvl_tiny_bin_path();

/// The real QLLaMA tokenizer.model (the tiny checkpoint ships it).
std::filesystem::path qllama_tokenizer_path();

/// The project source directory (for tests/data/...).
std::filesystem::path source_dir();

/// A fresh, empty, per-test scratch directory under the build tree (removed and recreated).
std::filesystem::path scratch_dir(const std::string& name);

}  // namespace ivs::test

/// Fails the current test with a clear message when `path` does not exist. Test data is part of
/// the repository (or written by the build), so a missing file is a broken checkout or build, not
/// a reason to skip.
#define INTERNVL_REQUIRE_PATH(path)                                                       \
  ASSERT_TRUE(std::filesystem::exists(path))                                              \
      << "test data not found: " << (path).string()                                       \
      << " (it is part of the repository or made by the build: check out the whole tree " \
         "and build the default target)"
