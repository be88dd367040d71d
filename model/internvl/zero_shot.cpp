// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/zero_shot.h"

#include <algorithm>
#include <set>

#include <ATen/ATen.h>

#include "model/common/errors.h"

namespace ivs::model {

at::Tensor embed_texts(const InternVLModelImpl& model, const Tokenizer& tokenizer,
                       const std::vector<std::string>& texts, int64_t batch_size) {
  std::vector<at::Tensor> parts;
  const auto device = model.query_tokens.device();
  for (size_t start = 0; start < texts.size(); start += batch_size) {
    const auto end = std::min(texts.size(), start + static_cast<size_t>(batch_size));
    std::vector<std::string> chunk(texts.begin() + start, texts.begin() + end);
    // Padding to the longest prompt gives the same EOS state as padding to 80 (causal
    // attention, right padding) and skips the wasted positions.
    auto batch = tokenizer.encode_for_retrieval(chunk, Tokenizer::kMaxTextLength, false);
    auto ids = at::tensor(batch.ids, at::kLong).view({batch.batch, batch.length}).to(device);
    parts.push_back(model.encode_text(ids).to(at::kFloat));
  }
  return l2_normalize(at::cat(parts, 0));
}

void LabelSet::validate() const {
  if (labels.empty()) throw InputError("the label set is empty: give at least one label");
  std::set<std::string> seen;
  for (const auto& label : labels) {
    if (label.empty()) throw InputError("empty label in the label set");
    if (!seen.insert(label).second) throw InputError("label '" + label + "' appears twice");
  }
  if (templates.empty()) throw InputError("no prompt templates given");
  for (const auto& t : templates) {
    if (!has_placeholder(t)) {
      throw InputError("prompt template '" + t + "' has no '{}' placeholder for the label");
    }
  }
}

ZeroShotClassifier::ZeroShotClassifier(const InternVLModelImpl& model, const Tokenizer& tokenizer,
                                       LabelSet labels, int64_t text_batch)
    : labels_(std::move(labels)), logit_scale_exp_(model.logit_scale_exp()) {
  labels_.validate();
  std::vector<std::string> prompts;
  for (const auto& label : labels_.labels) {
    for (const auto& t : labels_.templates) prompts.push_back(format_template(t, label));
  }
  const auto n_labels = static_cast<int64_t>(labels_.labels.size());
  const auto n_templates = static_cast<int64_t>(labels_.templates.size());
  auto embeds = embed_texts(model, tokenizer, prompts, text_batch);
  embeds = embeds.view({n_labels, n_templates, -1}).mean(1);
  class_embeddings_ = l2_normalize(embeds);
}

at::Tensor ZeroShotClassifier::probabilities(const at::Tensor& image_embeds) const {
  const auto images = l2_normalize(image_embeds.to(class_embeddings_.device(), at::kFloat));
  return at::softmax(logit_scale_exp_ * at::matmul(images, class_embeddings_.t()), -1);
}

std::vector<std::vector<LabelScore>> ZeroShotClassifier::top_k(const at::Tensor& probabilities,
                                                               int64_t k, double threshold) const {
  const auto probs = probabilities.to(at::kDouble).cpu().contiguous();
  const auto rows = probs.size(0), cols = probs.size(1);
  k = std::min<int64_t>(std::max<int64_t>(k, 1), cols);
  std::vector<std::vector<LabelScore>> out(rows);
  for (int64_t r = 0; r < rows; ++r) {
    const double* p = probs.data_ptr<double>() + r * cols;
    std::vector<int64_t> order(cols);
    for (int64_t c = 0; c < cols; ++c) order[c] = c;
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int64_t a, int64_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    for (int64_t i = 0; i < k; ++i) {
      if (p[order[i]] < threshold) break;
      out[r].push_back({order[i], labels_.labels[order[i]], p[order[i]]});
    }
  }
  return out;
}

at::Tensor ZeroShotClassifier::clip_embedding(const at::Tensor& frame_embeds) {
  return l2_normalize(l2_normalize(frame_embeds.to(at::kFloat)).mean(0, true));
}

}  // namespace ivs::model
