// SPDX-License-Identifier: Apache-2.0
// NV12 frames in CUDA memory (NVDEC output) -> model input pixels, on the GPU: two kernels over
// the arithmetic of nv12_pixels.h (horizontal pass with colour conversion, then vertical pass +
// crop + normalisation straight into a float32 or bf16 batch slot). Built only with
// INTERNVL_WITH_CUDA; this header needs no CUDA headers (streams are passed as void*).
#pragma once

#include <cstdint>

#include "model/cuda/nv12_plan.h"

namespace ivs::model::cuda {

/// Whether the CUDA runtime sees a device (tests skip without one).
bool cuda_device_available();

/// Makes `device` the calling thread's current CUDA device (cudaSetDevice). Throws
/// std::runtime_error naming the CUDA error.
void use_cuda_device(int device);

/// Waits until the default stream of `device` has finished its work. Throws as above.
void synchronize_default_stream(int device);

/// The primary context of `device` (a CUcontext): the one the CUDA runtime, LibTorch and these
/// kernels use. Decoders must allocate their frames in it for the kernels to read them in place.
/// Retained (created if need be) and never released, and not made current on the calling thread,
/// whose CUDA state stays as it was. Read through the runtime's driver entry points, so nothing
/// links libcuda. Throws std::runtime_error naming the CUDA error.
void* primary_cuda_context(int device);

/// One plan's coefficients on the current device plus the scratch rows of its horizontal pass.
/// Not thread-safe, and tied to one CUDA stream: run() on another stream before the previous one
/// finished would overwrite scratch rows still being read. The frame must stay mapped until the
/// stream has passed the kernels.
class Nv12GpuPreprocessor {
 public:
  enum class Output { kFloat32, kBFloat16 };

  /// Uploads `plan` to the current device. Throws std::runtime_error naming the CUDA error.
  explicit Nv12GpuPreprocessor(const Nv12Plan& plan);
  ~Nv12GpuPreprocessor();
  Nv12GpuPreprocessor(const Nv12GpuPreprocessor&) = delete;
  Nv12GpuPreprocessor& operator=(const Nv12GpuPreprocessor&) = delete;

  /// Queues the preprocessing of `frame` (device memory, the plan's size) into `out` (device
  /// memory: 3 x crop_height x crop_width values of `type`, channel-major) on `stream`
  /// (a cudaStream_t; nullptr = the default stream). Throws std::runtime_error on a launch error
  /// or a frame of another size.
  void run(const Nv12View& frame, const YuvMatrix& matrix, void* out, Output type, void* stream);

 private:
  int width_, height_;
  PlanView plan_;  // pointers into arrays_
  int32_t* arrays_ = nullptr;
  uint8_t* scratch_ = nullptr;
};

}  // namespace ivs::model::cuda
