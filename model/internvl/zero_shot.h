// SPDX-License-Identifier: Apache-2.0
// Zero-shot classification over an arbitrary label set: prompt-template ensembles turned into
// normalised text embeddings once, then scored against image (or clip) embeddings.
#pragma once

#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "model/internvl/internvl.h"
#include "model/common/label_list.h"
#include "model/internvl/prompts.h"
#include "model/internvl/tokenizer.h"

namespace ivs::model {

/// Labels and the prompt templates that turn a label into text ("{}" or "{c}" = the label).
struct LabelSet {
  std::vector<std::string> labels;
  std::vector<std::string> templates{kDefaultPromptTemplate};

  /// Throws InputError when there are no labels, a label is empty or repeated, or a template
  /// has no placeholder.
  void validate() const;
};

/// Unit-length text-tower embeddings [N, E] (float32) of `texts`, exactly as they are given (no
/// template), `batch_size` texts per forward pass. The one text path of zero-shot labels and of
/// search queries (text_query.h), so a query equals the label of the same text.
at::Tensor embed_texts(const InternVLModelImpl& model, const Tokenizer& tokenizer,
                       const std::vector<std::string>& texts, int64_t batch_size = 64);

struct LabelScore {
  int64_t label_id = 0;
  std::string label;
  double confidence = 0.0;  // softmax probability over the label set
};

/// Class embeddings for one label set, computed once at construction (template ensemble:
/// each prompt's embedding L2-normalised, averaged, renormalised, as clip_benchmark does).
/// Scoring is thread-safe; the object is immutable after construction.
class ZeroShotClassifier {
 public:
  ZeroShotClassifier(const InternVLModelImpl& model, const Tokenizer& tokenizer, LabelSet labels,
                     int64_t text_batch = 64);

  /// Probabilities [B, L]: softmax(exp(logit_scale) * cos(image, class)) for embeddings [B, E].
  at::Tensor probabilities(const at::Tensor& image_embeds) const;

  /// Top-k labels of each row of `probabilities`, best first, dropping those below `threshold`.
  std::vector<std::vector<LabelScore>> top_k(const at::Tensor& probabilities, int64_t k,
                                             double threshold = 0.0) const;

  /// A clip of K frames: mean of the L2-normalised frame embeddings [K, E], renormalised -> [1, E].
  static at::Tensor clip_embedding(const at::Tensor& frame_embeds);

  const LabelSet& labels() const { return labels_; }
  const at::Tensor& class_embeddings() const { return class_embeddings_; }  // [L, E], unit rows

 private:
  LabelSet labels_;
  at::Tensor class_embeddings_;
  double logit_scale_exp_;
};

}  // namespace ivs::model
