// SPDX-License-Identifier: Apache-2.0
// Preprocesses the NV12 pictures of a batch (Engine's Nv12Picture) into model pixels: on the CPU
// for host memory (the CPU twin of the kernels), with the model/cuda/ kernels for CUDA memory.
// Keeps one plan (Pillow coefficients) per frame size, and on the GPU its uploaded copy. Free of
// LibTorch: the engine passes the batch rows as raw float pointers.
#pragma once

#include <map>
#include <memory>
#include <utility>

#include "model/common/clip_image_processor.h"
#include "model/cuda/nv12_plan.h"
#include "pipeline/engine/engine.h"

namespace ivs::model::cuda {
class Nv12GpuPreprocessor;
}  // namespace ivs::model::cuda

namespace ivs::pipeline {

/// Whether this build has the CUDA kernels (INTERNVL_WITH_CUDA).
bool nv12_kernels_built();

/// Throws model::InputError for a picture no stager can read: empty, odd-sized, missing planes or
/// pitches narrower than the picture.
void check_nv12_picture(const Nv12Picture& picture);

/// One per worker thread (not thread-safe).
class Nv12Stager {
 public:
  /// `cuda_device`: the model's CUDA device index, or -1 for a CPU model.
  Nv12Stager(model::ImageProcessorConfig config, model::ResizeMode mode, int cuda_device);
  ~Nv12Stager();
  Nv12Stager(const Nv12Stager&) = delete;
  Nv12Stager& operator=(const Nv12Stager&) = delete;

  /// Host planes -> `out`: 3 x crop_height x crop_width floats in host memory.
  void to_host(const Nv12Picture& picture, float* out);
  /// CUDA planes -> `out`: float32 device memory of the same shape, queued on the CUDA default
  /// stream (LibTorch's, unless a caller changed it). Throws std::runtime_error on a CPU stager or
  /// a build without the kernels.
  void to_device(const Nv12Picture& picture, float* out);
  /// Waits until the queued preprocessing has read its pictures (their keepalives may then go).
  void wait_for_device();

  /// Frame sizes with a plan kept (at most kMaxSizes: a shared engine may see many streams of
  /// many sizes; past that the plans start over, each rebuilt when next needed).
  size_t sizes_kept() const { return plans_.size(); }
  static constexpr size_t kMaxSizes = 16;

 private:
  const model::cuda::Nv12Plan& plan_for(int width, int height);
  void forget_plans();

  model::ImageProcessorConfig config_;
  model::ResizeMode mode_;
  int cuda_device_;
  std::map<std::pair<int, int>, model::cuda::Nv12Plan> plans_;
  std::map<std::pair<int, int>, std::unique_ptr<model::cuda::Nv12GpuPreprocessor>> gpu_;
};

}  // namespace ivs::pipeline
