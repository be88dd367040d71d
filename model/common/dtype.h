// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ivs::model {

/// Element types that appear in checkpoint and array files. Torch-free on purpose: the file
/// readers in model/common do not depend on LibTorch.
enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

/// Size of one element in bytes (e.g. 2 for kBF16).
std::size_t dtype_size(DType dtype);

/// Name as safetensors writes it ("F32", "BF16", "I64", ...).
const char* dtype_safetensors_name(DType dtype);

/// Parses a safetensors dtype string; std::nullopt for anything we do not support.
std::optional<DType> dtype_from_safetensors_name(std::string_view name);

/// Human-readable name for messages ("float32", "bfloat16", ...).
const char* dtype_display_name(DType dtype);

}  // namespace ivs::model
