// SPDX-License-Identifier: Apache-2.0
#include "model/cli/exception_text.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace {

// `internvl inspect --json` once put LibTorch's C++ backtraces into its problems list.
TEST(ExceptionTextTest, torch_errors_lose_their_backtrace_others_are_kept) {
  try {
    TORCH_CHECK(false, "tensor of shape [3] where [4] was expected");
    FAIL() << "TORCH_CHECK did not throw";
  } catch (const std::exception& error) {
    EXPECT_NE(std::string(error.what()).find("frame #"), std::string::npos)
        << "LibTorch's what() no longer carries a backtrace: " << error.what();
    const std::string text = ivs::cli::exception_text(error);
    EXPECT_NE(text.find("tensor of shape [3] where [4] was expected"), std::string::npos) << text;
    EXPECT_EQ(text.find("frame #"), std::string::npos) << text;
    EXPECT_EQ(text.find('\n'), std::string::npos) << text;
  }
  EXPECT_EQ(ivs::cli::exception_text(std::runtime_error("plain")), "plain");
}

}  // namespace
