// SPDX-License-Identifier: Apache-2.0
// Zero-shot scores of image embeddings against one label set, without LibTorch
// in the header: the class (text) embeddings are computed once, then every
// score is a small matrix product.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/engine/result_records.h"

namespace ivs::model {
struct LoadedModel;
}

namespace ivs::pipeline {

/// Immutable after construction; every method is safe to call from several
/// threads at once. Holds its own copy of the class embeddings, so it may
/// outlive the Engine that made it.
class LabelScorer {
 public:
  /// Runs the text tower over every (label, template) pair on the calling
  /// thread. Throws model::InputError for an invalid label set or a vision-only
  /// checkpoint. Engines cache scorers (Engine::label_scorer); call this
  /// directly only without an engine.
  LabelScorer(const model::LoadedModel& model, const std::vector<std::string>& labels,
              const std::vector<std::string>& templates);
  ~LabelScorer();
  LabelScorer(const LabelScorer&) = delete;
  LabelScorer& operator=(const LabelScorer&) = delete;

  const std::vector<std::string>& labels() const;
  const std::vector<std::string>& templates() const;
  int64_t embedding_size() const;  // E, the length every embedding must have

  /// The top_k labels of one image embedding [E] (any norm), best first, those
  /// with a confidence (softmax over the label set) below `threshold` left out.
  /// Throws model::InputError when the embedding has the wrong length.
  std::vector<ClassificationRecord> scores(const std::vector<float>& embedding, int64_t top_k,
                                           double threshold = 0.0) const;

  /// The same for a clip: the frame embeddings [K][E] are normalised, averaged
  /// and renormalised into one clip embedding first. Throws model::InputError
  /// when empty.
  std::vector<ClassificationRecord> clip_scores(
      const std::vector<std::vector<float>>& frame_embeddings, int64_t top_k,
      double threshold = 0.0) const;

 private:
  struct Impl;
  std::unique_ptr<const Impl> impl_;
};

}  // namespace ivs::pipeline
