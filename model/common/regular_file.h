// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

namespace ivs::model {

/// Why `path` is not a regular file, or "" when it is one (symbolic links are followed): "does
/// not exist", "is a directory", "is a FIFO (named pipe)", "is a device", "is a socket". The
/// model's files are checked with it before they are opened, because open() of a FIFO blocks
/// until a writer comes (forever, for a service loading its model) and a device such as
/// /dev/zero never ends.
std::string not_a_regular_file(const std::string& path);

/// Same, "" also when `path` does not exist: for readers whose own open reports a missing file.
std::string special_file_kind(const std::string& path);

}  // namespace ivs::model
