// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

namespace ivs::model {

/// Where and in which precision a model runs; chosen once, at load time.
struct Placement {
  c10::Device device = c10::Device(c10::kCPU);
  c10::ScalarType dtype = c10::kFloat;

  /// device: "auto" (CUDA when usable, else CPU), "cpu", "cuda", "cuda:N".
  /// dtype: "auto" (bf16 on CUDA, fp32 on CPU), "fp32"/"float32", "bf16"/"bfloat16",
  /// "fp16"/"float16" (CUDA only: LibTorch has no fp16 matmul on CPU).
  /// Throws InputError naming the bad value and the accepted ones, or when CUDA is asked for
  /// and not usable.
  static Placement resolve(const std::string& device, const std::string& dtype);

  std::string describe() const;  // "cpu/float32"
};

/// True when this LibTorch was built with CUDA and a device is visible.
bool cuda_usable();

}  // namespace ivs::model
