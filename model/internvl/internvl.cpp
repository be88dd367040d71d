// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/internvl.h"

#include <ATen/ATen.h>

#include "model/common/errors.h"

namespace ivs::model {

EmbeddingMode parse_embedding_mode(const std::string& text) {
  if (text == "c" || text == "C" || text == "InternVL-C") return EmbeddingMode::kC;
  if (text == "g" || text == "G" || text == "InternVL-G") return EmbeddingMode::kG;
  throw InputError("unknown embedding mode '" + text +
                   "': use 'c' (InternVL-C) or 'g' (InternVL-G)");
}

const char* embedding_mode_name(EmbeddingMode mode) {
  return mode == EmbeddingMode::kC ? "InternVL-C" : "InternVL-G";
}

at::Tensor l2_normalize(const at::Tensor& x) { return x / x.norm(2, {1}, /*keepdim=*/true); }

InternVLModelImpl::InternVLModelImpl(const InternVLConfig& config_,
                                     const at::TensorOptions& options)
    : config(config_) {
  const auto& vc = config.vision_config;
  const auto& qc = config.qllama_config;
  vision_model =
      register_module("vision_model", InternVisionModel(vc, config.image_size(), options));
  qllama = register_module("qllama",
                           QLlamaForCausalLM(qc, vc.hidden_size, config.num_query_token, options));
  query_tokens = register_parameter(
      "query_tokens", at::empty({1, config.num_query_token, qc.hidden_size}, options));
  text_projection = register_parameter("text_projection",
                                       at::empty({qc.hidden_size, config.clip_embed_dim}, options));
  logit_scale = register_parameter("logit_scale", at::empty({}, options));
  clip_projector = register_module("clip_projector",
                                   AttentionPoolingBlock(vc.hidden_size, config.attn_pool_num_heads,
                                                         config.clip_embed_dim, options));
  clip_projector2 = register_module(
      "clip_projector2", AttentionPoolingBlock(qc.hidden_size, config.attn_pool_num_heads,
                                               config.clip_embed_dim, options));
}

at::Tensor InternVLModelImpl::vision_features(const at::Tensor& pixel_values) const {
  return vision_model->forward(pixel_values);
}

at::Tensor InternVLModelImpl::image_query_hidden(const at::Tensor& vision) const {
  const auto b = vision.size(0);
  const auto q = query_tokens.size(1);
  QLlamaInputs inputs;
  inputs.inputs_embeds = query_tokens.expand({b, -1, -1});
  inputs.position_ids =
      at::arange(q, vision.options().dtype(at::kLong)).unsqueeze(0).expand({b, q});
  inputs.vision = vision;
  return qllama->model->forward(inputs);
}

at::Tensor InternVLModelImpl::encode_image_features(const at::Tensor& vision,
                                                    EmbeddingMode mode) const {
  const auto backbone = clip_projector->forward(vision).to(at::kFloat);
  if (mode == EmbeddingMode::kC) return backbone;
  const auto queries = clip_projector2->forward(image_query_hidden(vision)).to(at::kFloat);
  return l2_normalize(backbone) + l2_normalize(queries);
}

at::Tensor InternVLModelImpl::encode_image(const at::Tensor& pixel_values,
                                           EmbeddingMode mode) const {
  return encode_image_features(vision_features(pixel_values), mode);
}

at::Tensor InternVLModelImpl::text_hidden(const at::Tensor& input_ids) const {
  TORCH_CHECK(input_ids.dim() == 2, "text input_ids must be [B, L], got ", input_ids.sizes());
  const auto b = input_ids.size(0), l = input_ids.size(1);
  TORCH_CHECK(l <= config.qllama_config.max_position_embeddings, "text of ", l,
              " tokens is longer than max_position_embeddings ",
              config.qllama_config.max_position_embeddings);
  const auto ids = input_ids.to(query_tokens.device());
  const auto keep = ids.gt(0);  // pad id 0 (= <unk>) is masked, as the reference does
  const auto causal = at::ones({l, l}, keep.options()).tril();
  QLlamaInputs inputs;
  inputs.inputs_embeds = qllama->model->embed_tokens->forward(ids);
  inputs.position_ids = at::arange(l, ids.options()).unsqueeze(0).expand({b, l});
  inputs.allowed = causal.unsqueeze(0).unsqueeze(0).logical_and(keep.view({b, 1, 1, l}));
  return qllama->model->forward(inputs);
}

at::Tensor InternVLModelImpl::encode_text(const at::Tensor& input_ids) const {
  const auto hidden = text_hidden(input_ids);
  const auto last = input_ids.to(hidden.device()).gt(0).sum(1) - 1;  // the EOS position
  const auto b = hidden.size(0), l = hidden.size(1);
  const auto flat_index = at::arange(b, last.options()) * l + last;
  const auto pooled = hidden.reshape({b * l, hidden.size(2)}).index_select(0, flat_index);
  return at::matmul(pooled, text_projection).to(at::kFloat);
}

at::Tensor InternVLModelImpl::logits_per_image(const at::Tensor& image_embeds,
                                               const at::Tensor& text_embeds) const {
  const auto images = l2_normalize(image_embeds.to(at::kFloat));
  const auto texts = l2_normalize(text_embeds.to(at::kFloat));
  return logit_scale.to(at::kFloat).exp() * at::matmul(images, texts.t());
}

double InternVLModelImpl::logit_scale_exp() const {
  return logit_scale.to(at::kDouble).exp().item<double>();
}

}  // namespace ivs::model
