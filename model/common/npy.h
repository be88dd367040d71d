// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/common/dtype.h"

namespace ivs::model {

/// A NumPy array loaded into memory: little-endian, C order.
struct NpyArray {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<unsigned char> data;  // dtype_size(dtype) * prod(shape) bytes

  int64_t numel() const;
};

/// Reads a .npy file (format version 1.0, 2.0 or 3.0; little-endian '<f4', '<f8', '<f2',
/// '<i8', '<i4', '|u1', '|b1'; C order only). Throws InputError naming the file and the problem
/// (e.g. Fortran order, big-endian, truncated data).
NpyArray read_npy(const std::string& path);

/// Writes a .npy file (version 1.0, C order, little-endian). Throws InputError on I/O failure.
void write_npy(const std::string& path, DType dtype, const std::vector<int64_t>& shape,
               const void* data);

}  // namespace ivs::model
