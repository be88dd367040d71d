// SPDX-License-Identifier: Apache-2.0
#include "model/cuda/nv12_gpu.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace ivs::model::cuda {
namespace {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    throw std::runtime_error(std::string("CUDA: ") + what + " failed: " + cudaGetErrorName(status) +
                             " (" + cudaGetErrorString(status) + ")");
  }
}

__global__ void horizontal_kernel(Nv12View frame, YuvMatrix matrix, PlanView plan, uint8_t* rows) {
  const int column = blockIdx.x * blockDim.x + threadIdx.x;
  const int row = blockIdx.y * blockDim.y + threadIdx.y;
  if (column >= plan.columns.outputs || row >= plan.source_rows) return;
  horizontal_pixel(frame, matrix, plan, plan.source_row0 + row, column,
                   rows + (static_cast<long>(row) * plan.columns.outputs + column) * 3);
}

__device__ inline void store(float* out, long i, float v) { out[i] = v; }
__device__ inline void store(__nv_bfloat16* out, long i, float v) {
  out[i] = __float2bfloat16_rn(v);
}

template <class T>
__global__ void vertical_kernel(const uint8_t* rows, PlanView plan, T* out) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  const int c = blockIdx.z;
  if (x >= plan.crop_width || y >= plan.crop_height) return;
  store(out, (static_cast<long>(c) * plan.crop_height + y) * plan.crop_width + x,
        model_value(rows, plan, c, y, x));
}

unsigned blocks(int n, int per_block) {
  return static_cast<unsigned>((n + per_block - 1) / per_block);
}

}  // namespace

bool cuda_device_available() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

void use_cuda_device(int device) { check(cudaSetDevice(device), "selecting the CUDA device"); }

void synchronize_default_stream(int device) {
  use_cuda_device(device);
  check(cudaStreamSynchronize(nullptr), "waiting for the NV12 preprocessing");
}

namespace {

// A CUDA driver function, found through the runtime (nothing links libcuda).
void* driver_function(const char* name) {
  void* function = nullptr;
  cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
  check(cudaGetDriverEntryPointByVersion(name, &function, 12000, cudaEnableDefault, &found), name);
  if (found != cudaDriverEntryPointSuccess || function == nullptr) {
    throw std::runtime_error(std::string("CUDA: the driver has no ") + name);
  }
  return function;
}

}  // namespace

void* primary_cuda_context(int device) {
  int count = 0;
  check(cudaGetDeviceCount(&count), "counting the CUDA devices");  // also initialises the driver
  if (device < 0 || device >= count) {
    throw std::runtime_error("CUDA: no device " + std::to_string(device) + " (" +
                             std::to_string(count) + " present)");
  }
  using DeviceGet = int (*)(int*, int);  // CUresult cuDeviceGet(CUdevice*, int)
  using PrimaryRetain =
      int (*)(void**, int);  // CUresult cuDevicePrimaryCtxRetain(CUcontext*, CUdevice)
  int handle = 0;
  void* context = nullptr;
  if (reinterpret_cast<DeviceGet>(driver_function("cuDeviceGet"))(&handle, device) != 0 ||
      reinterpret_cast<PrimaryRetain>(driver_function("cuDevicePrimaryCtxRetain"))(&context,
                                                                                   handle) != 0 ||
      context == nullptr) {
    throw std::runtime_error("CUDA: cannot retain the primary context of device " +
                             std::to_string(device));
  }
  return context;
}

Nv12GpuPreprocessor::Nv12GpuPreprocessor(const Nv12Plan& plan)
    : width_(plan.width()), height_(plan.height()) {
  const auto& host = plan.host_arrays();
  const size_t bytes = host.size() * sizeof(int32_t);
  check(cudaMalloc(reinterpret_cast<void**>(&arrays_), bytes),
        "allocating the NV12 preprocessing plan");
  try {
    check(cudaMemcpy(arrays_, host.data(), bytes, cudaMemcpyHostToDevice),
          "uploading the NV12 preprocessing plan");
    check(cudaMalloc(reinterpret_cast<void**>(&scratch_), plan.scratch_bytes()),
          "allocating the scratch rows");
  } catch (...) {
    cudaFree(arrays_);
    throw;
  }
  plan_ = plan.view_at(arrays_);
}

Nv12GpuPreprocessor::~Nv12GpuPreprocessor() {
  cudaFree(scratch_);
  cudaFree(arrays_);
}

void Nv12GpuPreprocessor::run(const Nv12View& frame, const YuvMatrix& matrix, void* out,
                              Output type, void* stream) {
  if (frame.width != width_ || frame.height != height_) {
    throw std::runtime_error("NV12 preprocessing on the GPU: a " + std::to_string(frame.width) +
                             "x" + std::to_string(frame.height) + " frame for a plan made for " +
                             std::to_string(width_) + "x" + std::to_string(height_));
  }
  auto s = static_cast<cudaStream_t>(stream);
  const dim3 threads(32, 8);
  horizontal_kernel<<<dim3(blocks(plan_.columns.outputs, 32), blocks(plan_.source_rows, 8)),
                      threads, 0, s>>>(frame, matrix, plan_, scratch_);
  const dim3 grid(blocks(plan_.crop_width, 32), blocks(plan_.crop_height, 8), 3);
  if (type == Output::kFloat32) {
    vertical_kernel<<<grid, threads, 0, s>>>(scratch_, plan_, static_cast<float*>(out));
  } else {
    vertical_kernel<<<grid, threads, 0, s>>>(scratch_, plan_, static_cast<__nv_bfloat16*>(out));
  }
  check(cudaGetLastError(), "launching the NV12 preprocessing kernels");
}

}  // namespace ivs::model::cuda
