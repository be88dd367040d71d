// SPDX-License-Identifier: Apache-2.0
// The model calls behind the Engine's workers, one function per task and batch.
// Private to the engine; declared without LibTorch so that engine.cpp's
// batching code stays model-agnostic.
#pragma once

#include <vector>

#include "pipeline/engine/engine.h"

namespace ivs::pipeline {

/// Images of one batch: each 3 x H x W floats (checked by the caller), borrowed
/// for the call.
using PixelBatch = std::vector<const std::vector<float>*>;

/// L2-normalised float32 embeddings, one per image, in order. Call under
/// c10::InferenceMode. Throws model::InputError for a vision-only checkpoint,
/// or whatever the model throws.
std::vector<std::vector<float>> run_embedding_batch(const model::LoadedModel& model,
                                                    const PixelBatch& images, EmbeddingMode mode);

/// Captions (timing left empty), one per image, in order. Call under
/// c10::InferenceMode.
std::vector<CaptionResult> run_caption_batch(const model::LoadedModel& model,
                                             const PixelBatch& images,
                                             const CaptionSettings& settings);

/// Throws model::InputError when `settings` are out of range
/// (model::GenerationConfig rules).
void validate_caption_settings(const CaptionSettings& settings);

/// Sets the calling thread's LibTorch intra-op threads (OpenMP keeps the count
/// per thread).
void set_inference_threads(int threads);

}  // namespace ivs::pipeline
