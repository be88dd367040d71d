// SPDX-License-Identifier: Apache-2.0
#include "tests/model/internvl/tensor_compare.h"

#include <sstream>

#include <ATen/ATen.h>

namespace ivs::test {

double relative_error(const at::Tensor& actual, const at::Tensor& expected) {
  const auto a = actual.to(at::kDouble).cpu();
  const auto e = expected.to(at::kDouble).cpu();
  const double scale = e.abs().max().item<double>();
  const double diff = (a - e).abs().max().item<double>();
  if (scale == 0.0) return diff;
  return diff / scale;
}

::testing::AssertionResult tensors_close(const at::Tensor& actual, const at::Tensor& expected,
                                         double tolerance, const std::string& what) {
  if (actual.sizes() != expected.sizes()) {
    std::ostringstream out;
    out << what << ": shape " << actual.sizes() << " vs expected " << expected.sizes();
    return ::testing::AssertionFailure() << out.str();
  }
  const double err = relative_error(actual, expected);
  const auto diff = (actual.to(at::kDouble).cpu() - expected.to(at::kDouble).cpu()).abs().flatten();
  const auto where = diff.argmax().item<int64_t>();
  std::ostringstream out;
  out << what << ": relative error " << err << " (max abs diff " << diff[where].item<double>()
      << " at flat index " << where << "), tolerance " << tolerance;
  if (err < tolerance) return ::testing::AssertionSuccess() << out.str();
  return ::testing::AssertionFailure() << out.str();
}

double norm_relative_error(const at::Tensor& actual, const at::Tensor& expected) {
  const auto a = actual.to(at::kDouble).cpu();
  const auto e = expected.to(at::kDouble).cpu();
  return (a - e).norm().item<double>() / e.norm().item<double>();
}

::testing::AssertionResult tensors_close_in_norm(const at::Tensor& actual,
                                                 const at::Tensor& expected, double tolerance,
                                                 const std::string& what) {
  if (actual.sizes() != expected.sizes()) {
    std::ostringstream out;
    out << what << ": shape " << actual.sizes() << " vs expected " << expected.sizes();
    return ::testing::AssertionFailure() << out.str();
  }
  const double err = norm_relative_error(actual, expected);
  std::ostringstream out;
  out << what << ": norm relative error " << err << " (max-element relative error "
      << relative_error(actual, expected) << "), tolerance " << tolerance;
  if (err < tolerance) return ::testing::AssertionSuccess() << out.str();
  return ::testing::AssertionFailure() << out.str();
}

at::Tensor tensor_from_rows(const std::vector<std::vector<double>>& rows) {
  const auto r = static_cast<int64_t>(rows.size());
  const auto c = r ? static_cast<int64_t>(rows[0].size()) : 0;
  auto out = at::empty({r, c}, at::kDouble);
  for (int64_t i = 0; i < r; ++i) {
    for (int64_t j = 0; j < c; ++j) out[i][j] = rows[i][j];
  }
  return out;
}

}  // namespace ivs::test
