// SPDX-License-Identifier: Apache-2.0
// NV12 pictures for the engine's NV12 tests: random planes with decoder-like padded pitches, and
// the CPU twin's pixels of them.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "model/cuda/nv12_plan.h"
#include "pipeline/engine/engine.h"

namespace ivs::pipeline::test_support {

// A width x height NV12 picture of random bytes, rows padded to a wider pitch (as decoders do).
struct HostNv12 {
  std::vector<uint8_t> y, uv;
  int width, height, pitch;

  HostNv12(int w, int h, uint32_t seed) : width(w), height(h), pitch(w + 32) {
    std::mt19937 random(seed);
    y.resize(static_cast<size_t>(pitch) * h);
    uv.resize(static_cast<size_t>(pitch) * (h / 2));
    for (auto& v : y) v = static_cast<uint8_t>(random());
    for (auto& v : uv) v = static_cast<uint8_t>(random());
  }

  model::cuda::Nv12View view() const { return {y.data(), uv.data(), pitch, pitch, width, height}; }

  Nv12Picture picture(std::shared_ptr<void> keepalive = nullptr) const {
    Nv12Picture p;
    p.planes = view();
    p.matrix = model::cuda::make_yuv_matrix(model::cuda::YuvStandard::kBt709, false, true);
    p.keepalive = std::move(keepalive);
    return p;
  }

  std::vector<float> twin_pixels(const Engine& engine, model::ResizeMode mode) const {
    const model::cuda::Nv12Plan plan(width, height, engine.processor(), mode);
    return model::cuda::preprocess_nv12_on_host(view(), picture().matrix, plan);
  }
};

}  // namespace ivs::pipeline::test_support
