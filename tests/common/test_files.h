// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace ivs::test {

using Bytes = std::vector<unsigned char>;

/// The whole file (empty when it cannot be read).
Bytes read_bytes(const std::filesystem::path& path);

/// Replaces the file's contents with `bytes`.
void write_bytes(const std::filesystem::path& path, const Bytes& bytes);

/// The file's lines without their '\n' (empty when it cannot be read).
std::vector<std::string> read_lines(const std::filesystem::path& path);

}  // namespace ivs::test
