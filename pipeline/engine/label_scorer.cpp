// SPDX-License-Identifier: Apache-2.0
#include "pipeline/engine/label_scorer.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "model/common/errors.h"
#include "model/internvl/loaded_model.h"
#include "model/internvl/zero_shot.h"

namespace ivs::pipeline {

struct LabelScorer::Impl {
  Impl(const model::LoadedModel& model, model::LabelSet labels)
      : templates(labels.templates),
        classifier(model.full_model(), model.text_tokenizer(), std::move(labels)) {}

  std::vector<std::string> templates;
  model::ZeroShotClassifier classifier;

  std::vector<ClassificationRecord> top(const at::Tensor& embeds, int64_t top_k,
                                        double threshold) const {
    const auto ranked = classifier.top_k(classifier.probabilities(embeds), top_k, threshold);
    std::vector<ClassificationRecord> out;
    out.reserve(ranked[0].size());
    for (const auto& s : ranked[0]) out.push_back({s.label, s.label_id, s.confidence});
    return out;
  }
};

namespace {

// Borrows the caller's floats; every use below copies before the vector can go
// away.
at::Tensor row_view(const std::vector<float>& values) {
  return at::from_blob(const_cast<float*>(values.data()), {1, static_cast<int64_t>(values.size())},
                       at::kFloat);
}

}  // namespace

LabelScorer::LabelScorer(const model::LoadedModel& model, const std::vector<std::string>& labels,
                         const std::vector<std::string>& templates) {
  c10::InferenceMode guard;
  impl_ = std::make_unique<const Impl>(model, model::LabelSet{labels, templates});
}

LabelScorer::~LabelScorer() = default;

const std::vector<std::string>& LabelScorer::labels() const {
  return impl_->classifier.labels().labels;
}

const std::vector<std::string>& LabelScorer::templates() const { return impl_->templates; }

int64_t LabelScorer::embedding_size() const { return impl_->classifier.class_embeddings().size(1); }

std::vector<ClassificationRecord> LabelScorer::scores(const std::vector<float>& embedding,
                                                      int64_t top_k, double threshold) const {
  if (static_cast<int64_t>(embedding.size()) != embedding_size()) {
    throw model::InputError("embedding of length " + std::to_string(embedding.size()) +
                            " scored against a label set of embedding size " +
                            std::to_string(embedding_size()));
  }
  c10::InferenceMode guard;
  return impl_->top(row_view(embedding), top_k, threshold);
}

std::vector<ClassificationRecord> LabelScorer::clip_scores(
    const std::vector<std::vector<float>>& frame_embeddings, int64_t top_k,
    double threshold) const {
  if (frame_embeddings.empty())
    throw model::InputError("a clip needs at least one frame embedding");
  c10::InferenceMode guard;
  std::vector<at::Tensor> rows;
  rows.reserve(frame_embeddings.size());
  for (const auto& e : frame_embeddings) {
    if (static_cast<int64_t>(e.size()) != embedding_size()) {
      throw model::InputError("frame embedding of length " + std::to_string(e.size()) +
                              " in a clip scored against embedding size " +
                              std::to_string(embedding_size()));
    }
    rows.push_back(row_view(e));
  }
  const auto clip = model::ZeroShotClassifier::clip_embedding(at::cat(rows, 0));
  return impl_->top(clip, top_k, threshold);
}

}  // namespace ivs::pipeline
