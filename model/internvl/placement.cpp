// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/placement.h"

#include <torch/cuda.h>

#include "model/common/errors.h"

namespace ivs::model {

// torch::cuda works the same in 1.13 and 2.x (the ATen hooks API was renamed in between).
bool cuda_usable() { return torch::cuda::is_available() && torch::cuda::device_count() > 0; }

Placement Placement::resolve(const std::string& device, const std::string& dtype) {
  Placement p;
  if (device == "auto") {
    p.device = cuda_usable() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  } else if (device == "cpu") {
    p.device = c10::Device(c10::kCPU);
  } else if (device.rfind("cuda", 0) == 0) {
    if (!cuda_usable()) {
      throw InputError("device '" + device + "' requested but CUDA is not usable here (LibTorch " +
                       std::string("sees no usable GPU or was built without CUDA") +
                       "); use --device cpu or a CUDA build of LibTorch");
    }
    try {
      p.device = c10::Device(device);
    } catch (const std::exception&) {
      throw InputError("bad device '" + device + "': use auto, cpu, cuda or cuda:N");
    }
    const auto count = static_cast<int64_t>(torch::cuda::device_count());
    if (p.device.has_index() && p.device.index() >= count) {
      throw InputError("device '" + device + "' does not exist: " + std::to_string(count) +
                       " CUDA device(s) visible (cuda:0 .. cuda:" + std::to_string(count - 1) +
                       ")");
    }
  } else {
    throw InputError("bad device '" + device + "': use auto, cpu, cuda or cuda:N");
  }
  const bool cuda = p.device.is_cuda();
  if (dtype == "auto") {
    p.dtype = cuda ? c10::kBFloat16 : c10::kFloat;
  } else if (dtype == "fp32" || dtype == "float32") {
    p.dtype = c10::kFloat;
  } else if (dtype == "bf16" || dtype == "bfloat16") {
    p.dtype = c10::kBFloat16;
  } else if (dtype == "fp16" || dtype == "float16") {
    if (!cuda) throw InputError("dtype fp16 needs CUDA (no fp16 matmul on CPU); use bf16 or fp32");
    p.dtype = c10::kHalf;
  } else {
    throw InputError("bad dtype '" + dtype + "': use auto, fp32, bf16 or fp16");
  }
  return p;
}

std::string Placement::describe() const {
  return device.str() + "/" + std::string(c10::toString(dtype));
}

}  // namespace ivs::model
