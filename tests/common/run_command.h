// SPDX-License-Identifier: Apache-2.0
// Runs a program as a user would, for the tests of command-line tools.
#pragma once

#include <string>

namespace ivs::test {

struct CommandResult {
  int exit_code = -1;  // -1: it did not exit normally (or could not start)
  std::string output;  // stdout (add " 2>&1" to the command for stderr too)
};

/// Runs `command` through /bin/sh and waits for it.
CommandResult run_command(const std::string& command);

}  // namespace ivs::test
