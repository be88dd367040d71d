// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/common/dtype.h"

namespace ivs::model {

/// Name, element type and shape of one tensor stored in a checkpoint file.
struct TensorInfo {
  std::string name;  // e.g. "vision_model.encoder.layers.0.attn.qkv.weight"
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // e.g. {9600, 3200}; empty for a 0-dim scalar
};

/// A read-only view of one tensor's elements inside a checkpoint file.
/// `strides` are in elements (row-major contiguous for safetensors; whatever torch.save
/// recorded for .bin files). `data` points at element [0, 0, ...] of the view.
struct TensorView {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
  const void* data = nullptr;
};

/// One checkpoint file (a single shard). Not thread-safe.
class TensorFile {
 public:
  virtual ~TensorFile() = default;

  /// Path the file was opened from, for messages.
  virtual const std::string& path() const = 0;

  /// Every tensor in the file, in file order.
  virtual const std::vector<TensorInfo>& tensors() const = 0;

  /// The elements of tensor `name`. The view stays valid until the next read() call or until
  /// the file is destroyed, whichever comes first. Throws WeightLoadError (naming the file and
  /// the tensor) when the name is unknown or its bytes are out of bounds.
  virtual TensorView read(const std::string& name) = 0;
};

}  // namespace ivs::model
