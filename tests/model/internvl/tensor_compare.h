// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <gtest/gtest.h>

namespace ivs::test {

/// max |actual - expected| / max |expected| (0 when both are zero), computed in float64.
double relative_error(const at::Tensor& actual, const at::Tensor& expected);

/// ||actual - expected||_2 / ||expected||_2 over all elements, in float64.
double norm_relative_error(const at::Tensor& actual, const at::Tensor& expected);

/// Passes when shapes match and norm_relative_error < tolerance (for reduced precision, where
/// single elements near a rounding step dominate the max-based error); reports both errors.
::testing::AssertionResult tensors_close_in_norm(const at::Tensor& actual,
                                                 const at::Tensor& expected, double tolerance,
                                                 const std::string& what);

/// Passes when shapes match and relative_error < tolerance; the failure message shows the
/// error, the max abs difference and where it is (llm.c check_tensor style).
::testing::AssertionResult tensors_close(const at::Tensor& actual, const at::Tensor& expected,
                                         double tolerance, const std::string& what);

/// A nested JSON array of numbers as a float64 tensor (e.g. expected.json entries).
at::Tensor tensor_from_rows(const std::vector<std::vector<double>>& rows);

}  // namespace ivs::test
