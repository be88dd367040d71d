// SPDX-License-Identifier: Apache-2.0
#include "pipeline/engine/engine_inference.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "model/common/errors.h"
#include "model/internvl/caption_batch.h"
#include "model/internvl/generation.h"
#include "model/internvl/image_graphs.h"
#include "model/internvl/loaded_model.h"
#include "pipeline/engine/nv12_stager.h"

namespace ivs::pipeline {
namespace {

// [B, 3, H, W] on the model's device and dtype. NV12 pictures in host memory are preprocessed
// into the host batch, those in CUDA memory into the device batch (no host copy); each keepalive
// goes once its picture has been read.
at::Tensor stack_pixels(const model::LoadedModel& model, Nv12Stager& stager,
                        const PixelBatch& images) {
  const int64_t h = model.processor.crop_height, w = model.processor.crop_width;
  const auto count = static_cast<int64_t>(images.size());
  const auto& device = model.placement.device;
  const bool cuda = device.is_cuda();
  const bool all_on_device = std::all_of(images.begin(), images.end(), [](const BatchImage& image) {
    return image.nv12 != nullptr && image.nv12->cuda_memory;
  });
  at::Tensor batch;
  if (all_on_device) {
    batch = at::empty({count, 3, h, w}, at::TensorOptions().dtype(at::kFloat).device(device));
  } else {
    // On CUDA the host batch is page-locked (PyTorch's caching host allocator reuses it) so that
    // the copy below is asynchronous instead of a staged synchronous copy from pageable memory.
    auto host =
        at::empty({count, 3, h, w}, at::TensorOptions().dtype(at::kFloat).pinned_memory(cuda));
    for (int64_t i = 0; i < count; ++i) {
      const auto& image = images[static_cast<size_t>(i)];
      float* row = host[i].data_ptr<float>();
      if (image.pixels != nullptr) {
        std::memcpy(row, image.pixels->data(), image.pixels->size() * sizeof(float));
      } else if (!image.nv12->cuda_memory) {
        stager.to_host(*image.nv12, row);
        image.nv12->keepalive.reset();
      }
    }
    // Copy the float32 batch as it is, then convert on the device: .to(device, bf16) would
    // convert on the host into a new pageable tensor first and lose the asynchronous copy.
    batch = host.to(device, at::kFloat, /*non_blocking=*/cuda);
  }
  // The kernels run on the CUDA default stream, LibTorch's current stream on the worker threads
  // (nothing in the engine sets another), so they are ordered after the copy above and before
  // the model. A picture must not go back to its decoder before they have read it, not even when
  // a later launch throws.
  bool on_device = false;
  try {
    for (int64_t i = 0; i < count; ++i) {
      const auto& image = images[static_cast<size_t>(i)];
      if (image.nv12 == nullptr || !image.nv12->cuda_memory) continue;
      on_device = true;
      stager.to_device(*image.nv12, batch[i].data_ptr<float>());
    }
  } catch (...) {
    if (on_device) {
      try {
        stager.wait_for_device();
      } catch (...) {  // the launch error is the one to report
      }
    }
    throw;
  }
  if (on_device) {
    stager.wait_for_device();
    for (const auto& image : images) {
      if (image.nv12 != nullptr) image.nv12->keepalive.reset();
    }
  }
  return batch.to(model.placement.dtype);
}

model::EmbeddingMode to_model(EmbeddingMode mode) {
  return mode == EmbeddingMode::kG ? model::EmbeddingMode::kG : model::EmbeddingMode::kC;
}

model::GenerationConfig generation_config(const CaptionSettings& settings) {
  model::GenerationConfig config;
  config.num_beams = settings.num_beams;
  config.min_new_tokens = settings.min_new_tokens;
  config.max_new_tokens = settings.max_new_tokens;
  config.length_penalty = settings.length_penalty;
  return config;
}

}  // namespace

int cuda_index(const model::LoadedModel& model) {
  const auto& device = model.placement.device;
  return device.is_cuda() ? std::max<int>(0, device.index()) : -1;
}

EmbeddingRunner::EmbeddingRunner(const model::LoadedModel& loaded, bool cuda_graphs,
                                 int64_t max_batch,
                                 std::function<void(EngineLogLevel, const std::string&)> log)
    : model_(loaded),
      stager_(std::make_unique<Nv12Stager>(loaded.processor, model::ResizeMode::kShortestEdgeCrop,
                                           cuda_index(loaded))),
      log_(std::move(log)) {
  if (!cuda_graphs || loaded.vision_only()) return;
  const auto sizes = model::graph_batch_sizes(max_batch);
  std::string listed;
  for (const auto b : sizes) listed += (listed.empty() ? "" : ",") + std::to_string(b);
  const auto started = std::chrono::steady_clock::now();
  try {
    graphs_ = std::make_unique<model::ImageEmbeddingGraphs>(
        *loaded.internvl,
        std::vector<model::EmbeddingMode>{model::EmbeddingMode::kC, model::EmbeddingMode::kG},
        sizes);
  } catch (
      const model::InputError& e) {  // refused before any capture: a CPU model, no CUDA LibTorch
    if (log_)
      log_(EngineLogLevel::kWarning,
           std::string("embeddings run without CUDA graphs: ") + e.what());
    return;
  } catch (const std::exception& e) {
    if (log_) {
      log_(EngineLogLevel::kError,
           std::string(
               "CUDA graph capture failed, embeddings run without CUDA graphs (restart without "
               "cuda_graphs if CUDA errors follow): ") +
               e.what());
    }
    return;
  }
  if (log_) {
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    log_(EngineLogLevel::kInfo,
         "embeddings replay CUDA graphs of InternVL-C and -G for batches of " + listed +
             " (captured in " + std::to_string(took.count()) + " s)");
  }
}

EmbeddingRunner::~EmbeddingRunner() = default;

std::vector<std::vector<float>> EmbeddingRunner::run(const PixelBatch& images, EmbeddingMode mode) {
  const auto& internvl = model_.full_model();
  const auto pixels = stack_pixels(model_, *stager_, images);
  at::Tensor embeds;
  if (graphs_) {
    try {
      if (auto replayed = graphs_->encode_image(pixels, to_model(mode)))
        embeds = std::move(*replayed);
    } catch (const std::exception& e) {
      graphs_.reset();  // a graph that failed once would fail again: eager from now on
      if (log_) {
        log_(EngineLogLevel::kWarning,
             std::string("CUDA graph of a batch of ") + std::to_string(images.size()) +
                 " failed, embeddings run without CUDA graphs from now on: " + e.what());
      }
    }
  }
  if (!embeds.defined()) embeds = internvl.encode_image(pixels, to_model(mode));
  embeds = model::l2_normalize(embeds).to(at::kCPU, at::kFloat).contiguous();  // [B, E]
  std::vector<std::vector<float>> out(images.size());
  const auto width = embeds.size(1);
  for (size_t i = 0; i < out.size(); ++i) {
    const float* row = embeds.data_ptr<float>() + static_cast<int64_t>(i) * width;
    out[i].assign(row, row + width);
  }
  return out;
}

CaptionRunner::CaptionRunner(const model::LoadedModel& model)
    : model_(model),
      stager_(std::make_unique<Nv12Stager>(model.processor, model::ResizeMode::kSquash,
                                           cuda_index(model))) {}

CaptionRunner::~CaptionRunner() = default;

void CaptionRunner::admit(const PixelBatch& images, const CaptionSettings& settings,
                          const std::vector<uint64_t>& tickets) {
  if (batch_ && batch_->live() > 0 && !(settings == settings_)) {
    throw std::logic_error("captions with other settings cannot join a running decoding batch");
  }
  const auto& internvl = model_.full_model();
  if (!batch_ || !(settings == settings_)) {
    batch_ = std::make_unique<model::CaptionBatch>(
        internvl, model_.text_tokenizer().encode_prompt(settings.prompt),
        generation_config(settings));
    settings_ = settings;
  }
  const auto vision = internvl.vision_features(stack_pixels(model_, *stager_, images));
  const auto ids = batch_->admit(vision);
  for (size_t i = 0; i < ids.size(); ++i) tickets_[ids[i]] = tickets[i];
}

StepOutcome<CaptionResult> CaptionRunner::step() {
  StepOutcome<CaptionResult> out;
  if (!batch_) return out;
  try {
    batch_->step();
  } catch (...) {
    out.error = std::current_exception();  // the batch dropped its live requests
  }
  const auto& tokenizer = model_.text_tokenizer();
  for (auto& [id, caption] : batch_->take_finished()) {
    const auto ticket = tickets_.find(id);
    if (ticket == tickets_.end()) continue;  // not ours any more (aborted)
    try {
      CaptionResult r;
      r.text = tokenizer.decode(caption.token_ids);
      r.token_ids = std::move(caption.token_ids);
      r.num_input_tokens = static_cast<int64_t>(batch_->prompt_ids().size());
      r.score = caption.score;
      out.finished.emplace_back(ticket->second, std::move(r));
    } catch (...) {
      out.failed.emplace_back(ticket->second, std::current_exception());
    }
    tickets_.erase(ticket);
  }
  if (out.error) tickets_.clear();
  return out;
}

void CaptionRunner::abort() {
  batch_.reset();
  tickets_.clear();
}

size_t CaptionRunner::live() const { return tickets_.size(); }

void validate_caption_settings(const CaptionSettings& settings) {
  generation_config(settings).validate();
}

void set_inference_threads(int threads) { at::set_num_threads(threads); }

}  // namespace ivs::pipeline
