// SPDX-License-Identifier: Apache-2.0
#include "model/common/dtype.h"

#include <array>

namespace ivs::model {
namespace {

struct DTypeInfo {
  DType dtype;
  std::size_t size;
  const char* safetensors_name;
  const char* display_name;
};

constexpr std::array<DTypeInfo, 10> kInfos{{
    {DType::kF64, 8, "F64", "float64"},
    {DType::kF32, 4, "F32", "float32"},
    {DType::kF16, 2, "F16", "float16"},
    {DType::kBF16, 2, "BF16", "bfloat16"},
    {DType::kI64, 8, "I64", "int64"},
    {DType::kI32, 4, "I32", "int32"},
    {DType::kI16, 2, "I16", "int16"},
    {DType::kI8, 1, "I8", "int8"},
    {DType::kU8, 1, "U8", "uint8"},
    {DType::kBool, 1, "BOOL", "bool"},
}};

const DTypeInfo& info(DType dtype) {
  for (const auto& i : kInfos) {
    if (i.dtype == dtype) return i;
  }
  return kInfos[0];  // unreachable: every enumerator is listed above
}

}  // namespace

std::size_t dtype_size(DType dtype) { return info(dtype).size; }

const char* dtype_safetensors_name(DType dtype) { return info(dtype).safetensors_name; }

const char* dtype_display_name(DType dtype) { return info(dtype).display_name; }

std::optional<DType> dtype_from_safetensors_name(std::string_view name) {
  for (const auto& i : kInfos) {
    if (name == i.safetensors_name) return i.dtype;
  }
  return std::nullopt;
}

}  // namespace ivs::model
