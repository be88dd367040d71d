// SPDX-License-Identifier: Apache-2.0
// The CUDA kernels against their CPU twin (the same arithmetic, nv12_pixels.h): float32 output
// bit for bit (the kernels are built without fused multiply-add), bf16 within its rounding.
// Needs a CUDA device; skips without one (CI has none; tests/bench/gpu/run.sh runs it on one).
#include "model/cuda/nv12_gpu.h"

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace ivs::model::cuda {
namespace {

template <class T>
struct DeviceBuffer {
  explicit DeviceBuffer(size_t n) : count(n) {
    EXPECT_EQ(cudaMalloc(&data, n * sizeof(T)), cudaSuccess);
  }
  ~DeviceBuffer() { cudaFree(data); }
  T* data = nullptr;
  size_t count;
};

float bf16_to_float(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &wide, sizeof f);
  return f;
}

TEST(Nv12GpuTest, kernels_equal_the_cpu_twin) {
  if (!cuda_device_available())
    GTEST_SKIP() << "no CUDA device: the kernels are checked on the GPU machine";
  const int width = 1920, height = 1080, pitch = 2048;  // a decoder-like pitched frame
  std::mt19937 random(7);
  std::vector<uint8_t> luma(static_cast<size_t>(pitch) * height),
      chroma(static_cast<size_t>(pitch) * height / 2);
  for (auto& v : luma) v = static_cast<uint8_t>(random() % 220 + 16);
  for (auto& v : chroma) v = static_cast<uint8_t>(random() % 225 + 16);
  Nv12View host{luma.data(), chroma.data(), pitch, pitch, width, height};
  const ImageProcessorConfig config;
  const Nv12Plan plan(width, height, config);
  const auto matrix = make_yuv_matrix(YuvStandard::kBt709, false, true);
  const auto expected = preprocess_nv12_on_host(host, matrix, plan);

  DeviceBuffer<uint8_t> y(luma.size()), uv(chroma.size());
  ASSERT_EQ(cudaMemcpy(y.data, luma.data(), luma.size(), cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(uv.data, chroma.data(), chroma.size(), cudaMemcpyHostToDevice), cudaSuccess);
  Nv12View device = host;
  device.y = y.data;
  device.uv = uv.data;
  Nv12GpuPreprocessor gpu(plan);
  DeviceBuffer<float> out32(expected.size());
  DeviceBuffer<uint16_t> out16(expected.size());
  gpu.run(device, matrix, out32.data, Nv12GpuPreprocessor::Output::kFloat32, nullptr);
  gpu.run(device, matrix, out16.data, Nv12GpuPreprocessor::Output::kBFloat16, nullptr);
  std::vector<float> got32(expected.size());
  std::vector<uint16_t> got16(expected.size());
  ASSERT_EQ(cudaMemcpy(got32.data(), out32.data, got32.size() * 4, cudaMemcpyDeviceToHost),
            cudaSuccess);
  ASSERT_EQ(cudaMemcpy(got16.data(), out16.data, got16.size() * 2, cudaMemcpyDeviceToHost),
            cudaSuccess);
  EXPECT_EQ(got32, expected);
  double worst = 0.0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double scale = std::max(1.0, std::fabs(double(expected[i])));
    worst = std::max(worst, std::fabs(double(bf16_to_float(got16[i])) - expected[i]) / scale);
  }
  EXPECT_LE(worst, 1.0 / 128);  // bf16 keeps 8 significant bits
}

TEST(Nv12GpuTest, a_frame_of_another_size_is_refused) {
  if (!cuda_device_available())
    GTEST_SKIP() << "no CUDA device: the kernels are checked on the GPU machine";
  const Nv12Plan plan(64, 48, ImageProcessorConfig{});
  Nv12GpuPreprocessor gpu(plan);
  Nv12View other{nullptr, nullptr, 64, 64, 32, 48};
  EXPECT_THROW(gpu.run(other, make_yuv_matrix(YuvStandard::kBt601, false, false), nullptr,
                       Nv12GpuPreprocessor::Output::kFloat32, nullptr),
               std::runtime_error);
}

}  // namespace
}  // namespace ivs::model::cuda
