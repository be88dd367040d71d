// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <exception>
#include <string>

#include <c10/util/Exception.h>

namespace ivs::cli {

/// The message of `error` for users: LibTorch's c10::Error::what() carries a C++ backtrace,
/// which belongs in neither a terminal nor a JSON report.
inline std::string exception_text(const std::exception& error) {
  if (const auto* torch_error = dynamic_cast<const c10::Error*>(&error)) {
    return torch_error->what_without_backtrace();
  }
  return error.what();
}

}  // namespace ivs::cli
