// SPDX-License-Identifier: Apache-2.0
// The parsers that take a path (safetensors, torch zip, .npy) get the fuzzer's bytes through an
// anonymous in-memory file (memfd) named by /proc/self/fd/N: a regular file to stat(), open(),
// mmap() and libzip alike, with no disk writes and no scratch directory shared between the
// parallel processes of `make fuzz`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ivs::fuzz {

/// Replaces the memory file's contents with `size` bytes of `data` and returns its path. The
/// same file is reused for every input of the process. Aborts when the file cannot be written:
/// a harness failure, not a finding.
std::string memory_file(const uint8_t* data, std::size_t size);

}  // namespace ivs::fuzz
