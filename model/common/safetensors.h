// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/common/tensor_file.h"

namespace ivs::model {

/// Opens a .safetensors file by memory-mapping it (no copy). The file is treated as hostile:
/// the header length is checked against the file size, the header must be valid JSON of the
/// documented shape, every dtype must be known, every `data_offsets` range must lie inside the
/// data section, match dtype x shape exactly, and not overlap another tensor. Any violation
/// throws WeightLoadError naming the file and the tensor; nothing is ever read out of bounds.
/// Overlap means shared bytes: an empty tensor (a 0 in its shape) owns none, so its offsets may
/// fall inside another tensor's range. Gaps between tensors are allowed. tensors() lists the
/// tensors in data-offset order; read() views stay valid for the lifetime of the returned file.
std::unique_ptr<TensorFile> open_safetensors(const std::string& path);

/// One tensor to write: raw little-endian, row-major contiguous bytes.
struct TensorBytes {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;  // dtype_size(dtype) * prod(shape) bytes
};

/// Writes a .safetensors file the way the reference (Rust) writer does: header sorted by
/// tensor name, header padded with spaces to a multiple of 8 bytes, data in header order.
/// `metadata` becomes the "__metadata__" entry (e.g. {"format": "pt"}); omitted when empty.
/// Throws WeightLoadError when the file cannot be written.
void write_safetensors(const std::string& path, const std::vector<TensorBytes>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace ivs::model
