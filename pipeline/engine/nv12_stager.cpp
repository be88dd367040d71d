// SPDX-License-Identifier: Apache-2.0
#include "pipeline/engine/nv12_stager.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "model/common/errors.h"
#if INTERNVL_HAVE_NV12_KERNELS
#include "model/cuda/nv12_gpu.h"
#else
namespace ivs::model::cuda {
// Never made without the kernels, but gpu_ (a map of unique_ptrs) is destroyed here and needs a
// complete type: without it a build with INTERNVL_WITH_CUDA=OFF does not compile.
class Nv12GpuPreprocessor {};
}  // namespace ivs::model::cuda
#endif

namespace ivs::pipeline {

bool nv12_kernels_built() { return INTERNVL_HAVE_NV12_KERNELS != 0; }

void check_nv12_picture(const Nv12Picture& picture) {
  const auto& p = picture.planes;
  const std::string size = std::to_string(p.width) + "x" + std::to_string(p.height);
  if (p.width <= 0 || p.height <= 0 || p.width % 2 != 0 || p.height % 2 != 0) {
    throw model::InputError("an NV12 picture of " + size +
                            " was submitted; width and height must be positive and even (4:2:0)");
  }
  if (p.y == nullptr || p.uv == nullptr) {
    throw model::InputError("an NV12 picture of " + size + " was submitted without its planes");
  }
  if (p.y_pitch < p.width || p.uv_pitch < p.width) {
    throw model::InputError("an NV12 picture of " + size + " has pitches " +
                            std::to_string(p.y_pitch) + "/" + std::to_string(p.uv_pitch) +
                            " narrower than its width");
  }
}

Nv12Stager::Nv12Stager(model::ImageProcessorConfig config, model::ResizeMode mode, int cuda_device)
    : config_(std::move(config)), mode_(mode), cuda_device_(cuda_device) {}

Nv12Stager::~Nv12Stager() = default;

const model::cuda::Nv12Plan& Nv12Stager::plan_for(int width, int height) {
  const auto key = std::make_pair(width, height);
  auto it = plans_.find(key);
  if (it == plans_.end()) {
    if (plans_.size() >= kMaxSizes) forget_plans();
    it = plans_.emplace(key, model::cuda::Nv12Plan(width, height, config_, mode_)).first;
  }
  return it->second;
}

void Nv12Stager::forget_plans() {
  wait_for_device();  // a queued kernel may still read its plan's coefficients
  gpu_.clear();
  plans_.clear();
}

void Nv12Stager::to_host(const Nv12Picture& picture, float* out) {
  const auto pixels = model::cuda::preprocess_nv12_on_host(
      picture.planes, picture.matrix, plan_for(picture.planes.width, picture.planes.height));
  std::copy(pixels.begin(), pixels.end(), out);
}

#if INTERNVL_HAVE_NV12_KERNELS

void Nv12Stager::to_device(const Nv12Picture& picture, float* out) {
  if (cuda_device_ < 0)
    throw std::runtime_error("an NV12 picture in CUDA memory reached a CPU model");
  model::cuda::use_cuda_device(cuda_device_);
  const auto key = std::make_pair(picture.planes.width, picture.planes.height);
  auto it = gpu_.find(key);
  if (it == gpu_.end()) {
    it = gpu_.emplace(key, std::make_unique<model::cuda::Nv12GpuPreprocessor>(
                               plan_for(key.first, key.second)))
             .first;
  }
  it->second->run(picture.planes, picture.matrix, out,
                  model::cuda::Nv12GpuPreprocessor::Output::kFloat32, nullptr);
}

void Nv12Stager::wait_for_device() {
  if (cuda_device_ >= 0 && !gpu_.empty()) model::cuda::synchronize_default_stream(cuda_device_);
}

#else

void Nv12Stager::to_device(const Nv12Picture& /*picture*/, float* /*out*/) {
  throw std::runtime_error(
      "an NV12 picture in CUDA memory cannot be preprocessed: this build has no CUDA kernels "
      "(configure with the CUDA toolkit and INTERNVL_WITH_CUDA=ON)");
}

void Nv12Stager::wait_for_device() {}

#endif

}  // namespace ivs::pipeline
