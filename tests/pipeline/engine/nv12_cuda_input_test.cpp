// SPDX-License-Identifier: Apache-2.0
// On a GPU with a CUDA LibTorch (label gpu; skips elsewhere): NV12 pictures in CUDA memory, as
// NVDEC hands them out, go through the kernels straight into the engine's device batch and give
// what the same pictures give from host memory through the CPU twin (the kernels compute bit for
// bit what it computes). Batches of device pictures only, and mixed with host pictures.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "pipeline/engine/engine.h"
#include "tests/model/internvl/fixture.h"
#include "tests/pipeline/engine/engine_test_support.h"
#include "tests/pipeline/engine/host_nv12.h"

namespace ivs::pipeline {
namespace {

using test_support::completes;
using test_support::HostNv12;
using test_support::max_abs_diff;
using test_support::small_options;

// A copy of `host` in device memory, freed with the last reference.
std::shared_ptr<uint8_t> to_device(const std::vector<uint8_t>& host) {
  void* device = nullptr;
  if (cudaMalloc(&device, host.size()) != cudaSuccess)
    throw std::runtime_error("cudaMalloc failed");
  std::shared_ptr<uint8_t> owned(static_cast<uint8_t*>(device), [](uint8_t* p) { cudaFree(p); });
  if (cudaMemcpy(device, host.data(), host.size(), cudaMemcpyHostToDevice) != cudaSuccess) {
    throw std::runtime_error("cudaMemcpy failed");
  }
  return owned;
}

// A HostNv12's planes in device memory, handed out as pictures that keep them alive.
struct DeviceNv12 {
  explicit DeviceNv12(const HostNv12& frame)
      : host(frame), y(to_device(frame.y)), uv(to_device(frame.uv)) {}

  Nv12Picture picture() const {
    auto p = host.picture();
    p.planes.y = y.get();
    p.planes.uv = uv.get();
    p.cuda_memory = true;
    p.keepalive =
        std::make_shared<std::pair<std::shared_ptr<uint8_t>, std::shared_ptr<uint8_t>>>(y, uv);
    return p;
  }

  const HostNv12& host;
  std::shared_ptr<uint8_t> y, uv;
};

std::shared_ptr<Engine> cuda_engine() {
  return Engine::create({test::internvl_tiny_dir().string(), "cuda", "fp32"}, small_options());
}

TEST(Nv12CudaInputTest, pictures_in_cuda_memory_equal_the_same_pictures_in_host_memory) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  std::shared_ptr<Engine> engine;
  try {
    engine = cuda_engine();
  } catch (const std::exception& e) {
    GTEST_SKIP() << "no CUDA engine on this machine: " << e.what();
  }
  ASSERT_TRUE(engine->takes_cuda_memory());
  const HostNv12 full_hd(1920, 1080, 7), vga(640, 480, 8);
  const DeviceNv12 full_hd_on_device(full_hd), vga_on_device(vga);
  // Host pictures alone, device pictures alone (the batch is made on the device), then mixed.
  auto embed_batch = [&](std::vector<Nv12Picture> pictures) {
    engine->pause();
    std::vector<std::future<EmbeddingResult>> futures;
    for (auto& p : pictures)
      futures.push_back(
          *engine->submit_embedding(std::move(p), EmbeddingMode::kC, Admission::kWait));
    engine->resume();
    std::vector<std::vector<float>> out;
    for (auto& f : futures) {
      EXPECT_TRUE(completes(f));
      const auto result = f.get();
      EXPECT_EQ(result.timing.batch_size, static_cast<int64_t>(pictures.size()));
      out.push_back(result.embedding);
    }
    return out;
  };
  const auto host = embed_batch({full_hd.picture(), vga.picture()});
  const auto device = embed_batch({full_hd_on_device.picture(), vga_on_device.picture()});
  const auto mixed = embed_batch({vga.picture(), full_hd_on_device.picture()});
  for (size_t i = 0; i < 2; ++i) EXPECT_LT(max_abs_diff(device[i], host[i]), 1e-5f) << i;
  EXPECT_LT(max_abs_diff(mixed[0], host[1]), 1e-5f);
  EXPECT_LT(max_abs_diff(mixed[1], host[0]), 1e-5f);
  CaptionSettings settings;
  settings.num_beams = 2;
  settings.min_new_tokens = settings.max_new_tokens = 5;
  auto caption_device =
      *engine->submit_caption(full_hd_on_device.picture(), settings, Admission::kWait);
  auto caption_host = *engine->submit_caption(full_hd.picture(), settings, Admission::kWait);
  ASSERT_TRUE(completes(caption_device) && completes(caption_host));
  EXPECT_EQ(caption_device.get().token_ids, caption_host.get().token_ids);
  EXPECT_EQ(full_hd_on_device.y.use_count(), 1) << "the engine still holds a device picture";
}

}  // namespace
}  // namespace ivs::pipeline
