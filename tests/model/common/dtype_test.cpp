// SPDX-License-Identifier: Apache-2.0
#include "model/common/dtype.h"

#include <gtest/gtest.h>

namespace ivs::model {
namespace {

TEST(DTypeTest, safetensors_names_round_trip) {
  for (DType d : {DType::kF64, DType::kF32, DType::kF16, DType::kBF16, DType::kI64, DType::kI32,
                  DType::kI16, DType::kI8, DType::kU8, DType::kBool}) {
    auto parsed = dtype_from_safetensors_name(dtype_safetensors_name(d));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, d);
  }
  EXPECT_EQ(dtype_size(DType::kBF16), 2u);
  EXPECT_EQ(dtype_size(DType::kI64), 8u);
  EXPECT_FALSE(dtype_from_safetensors_name("F8_E4M3").has_value());
  EXPECT_FALSE(dtype_from_safetensors_name("f32").has_value());
}

}  // namespace
}  // namespace ivs::model
