// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/config.h"
#include "model/common/regular_file.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "model/common/errors.h"

namespace ivs::model {
namespace {

using nlohmann::json;

// Reads config.json keys with one rule: required keys must be present, optional ones default,
// and a present key of the wrong type is an error that names the file and the key path.
class KeyReader {
 public:
  KeyReader(const json& object, std::string where, std::string prefix)
      : object_(object), where_(std::move(where)), prefix_(std::move(prefix)) {}

  template <typename T>
  void required(const char* key, T& out) const {
    if (!object_.contains(key)) {
      throw ConfigError(where_ + ": missing required key '" + prefix_ + key + "'");
    }
    read(key, out);
  }

  template <typename T>
  void optional(const char* key, T& out) const {
    if (object_.contains(key) && !object_.at(key).is_null()) read(key, out);
  }

 private:
  template <typename T>
  void read(const char* key, T& out) const {
    const json& value = object_.at(key);
    bool ok = false;
    if constexpr (std::is_same_v<T, bool>) {
      ok = value.is_boolean() || value.is_number_integer();  // HF writes use_*_lora as 0/1
    } else if constexpr (std::is_integral_v<T>) {
      ok = value.is_number_integer();
    } else if constexpr (std::is_floating_point_v<T>) {
      ok = value.is_number();
    } else {
      ok = value.is_string();
    }
    if (!ok) {
      throw ConfigError(where_ + ": key '" + prefix_ + key + "' has the wrong type (" +
                        value.type_name() + ")");
    }
    if constexpr (std::is_same_v<T, bool>) {
      out = value.is_boolean() ? value.get<bool>() : value.get<int64_t>() != 0;
    } else {
      out = value.get<T>();
    }
  }

  const json& object_;
  std::string where_;
  std::string prefix_;
};

VisionConfig parse_vision(const json& j, const std::string& where, const std::string& prefix) {
  VisionConfig c;
  KeyReader r(j, where, prefix);
  r.required("hidden_size", c.hidden_size);
  r.required("num_attention_heads", c.num_attention_heads);
  r.required("num_hidden_layers", c.num_hidden_layers);
  r.required("intermediate_size", c.intermediate_size);
  r.optional("image_size", c.image_size);
  r.optional("patch_size", c.patch_size);
  r.optional("num_channels", c.num_channels);
  r.optional("qkv_bias", c.qkv_bias);
  r.optional("qk_normalization", c.qk_normalization);
  r.optional("layer_norm_eps", c.layer_norm_eps);
  r.optional("hidden_act", c.hidden_act);
  std::string norm_type = "rms_norm";
  r.optional("norm_type", norm_type);
  if (norm_type != "rms_norm") {
    throw ConfigError(
        where + ": '" + prefix + "norm_type' is '" + norm_type +
        "'; InternVL v1 (InternViT-6B) uses rms_norm, other variants are not supported");
  }
  c.validate(where);
  return c;
}

QLlamaConfig parse_qllama(const json& j, const std::string& where) {
  QLlamaConfig c;
  KeyReader r(j, where, "qllama_config.");
  r.required("vocab_size", c.vocab_size);
  r.required("hidden_size", c.hidden_size);
  r.required("num_hidden_layers", c.num_hidden_layers);
  r.required("num_attention_heads", c.num_attention_heads);
  r.required("intermediate_size", c.intermediate_size);
  r.optional("max_position_embeddings", c.max_position_embeddings);
  r.optional("rms_norm_eps", c.rms_norm_eps);
  r.optional("bos_token_id", c.bos_token_id);
  r.optional("eos_token_id", c.eos_token_id);
  r.optional("pad_token_id", c.pad_token_id);
  r.optional("hidden_act", c.hidden_act);
  c.validate(where);
  return c;
}

void require(bool condition, const std::string& where, const std::string& what) {
  if (!condition) throw ConfigError(where + ": " + what);
}

// Upper bounds far above every InternVL checkpoint (InternViT-6B: 48 layers of 3200; QLLaMA: 32
// of 4096, vocabulary 49,954), so that a damaged or crafted config.json is refused before the
// sizes it claims are allocated (num_hidden_layers: 1e8 once made `inspect` allocate 7 GB).
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxWidth = 65536;  // hidden and embedding sizes, heads, query tokens
constexpr int64_t kMaxIntermediate = 1 << 20;
constexpr int64_t kMaxVocabulary = 1 << 22;
constexpr int64_t kMaxPositions = 1 << 20;
constexpr int64_t kMaxImageSize = 8192;

void require_at_most(int64_t value, int64_t limit, const std::string& where,
                     const std::string& name) {
  require(value <= limit, where,
          name + " is " + std::to_string(value) + ", more than " + std::to_string(limit) +
              ": no InternVL checkpoint is that large; config.json is damaged or not an "
              "InternVL config");
}

}  // namespace

void VisionConfig::validate(const std::string& where) const {
  require(hidden_size > 0 && num_attention_heads > 0 && hidden_size % num_attention_heads == 0,
          where,
          "vision hidden_size must be a positive multiple of num_attention_heads (got " +
              std::to_string(hidden_size) + " and " + std::to_string(num_attention_heads) + ")");
  require(num_hidden_layers > 0 && intermediate_size > 0, where,
          "vision num_hidden_layers and intermediate_size must be positive");
  require(patch_size > 0 && image_size >= patch_size && image_size % patch_size == 0, where,
          "vision image_size must be a positive multiple of patch_size (got " +
              std::to_string(image_size) + " and " + std::to_string(patch_size) + ")");
  require(num_channels == 3, where, "vision num_channels must be 3");
  require_at_most(num_hidden_layers, kMaxLayers, where, "vision num_hidden_layers");
  require_at_most(hidden_size, kMaxWidth, where, "vision hidden_size");
  require_at_most(num_attention_heads, kMaxWidth, where, "vision num_attention_heads");
  require_at_most(intermediate_size, kMaxIntermediate, where, "vision intermediate_size");
  require_at_most(image_size, kMaxImageSize, where, "vision image_size");
  require(hidden_act == "gelu", where,
          "vision hidden_act '" + hidden_act + "' is not supported (gelu)");
}

void QLlamaConfig::validate(const std::string& where) const {
  require(hidden_size > 0 && num_attention_heads > 0 && hidden_size % num_attention_heads == 0,
          where, "qllama hidden_size must be a positive multiple of num_attention_heads");
  require(head_dim() % 2 == 0, where, "qllama head_dim must be even for rotary embeddings");
  require(vocab_size > 2 && num_hidden_layers > 0 && intermediate_size > 0, where,
          "qllama vocab_size, num_hidden_layers and intermediate_size must be positive");
  require(cross_attention_frequency > 0, where,
          "qllama cross_attention_frequency must be positive");
  require(max_position_embeddings > 0, where, "qllama max_position_embeddings must be positive");
  require_at_most(num_hidden_layers, kMaxLayers, where, "qllama num_hidden_layers");
  require_at_most(hidden_size, kMaxWidth, where, "qllama hidden_size");
  require_at_most(num_attention_heads, kMaxWidth, where, "qllama num_attention_heads");
  require_at_most(intermediate_size, kMaxIntermediate, where, "qllama intermediate_size");
  require_at_most(vocab_size, kMaxVocabulary, where, "qllama vocab_size");
  require_at_most(max_position_embeddings, kMaxPositions, where, "qllama max_position_embeddings");
  require_at_most(cross_attention_frequency, kMaxLayers, where, "qllama cross_attention_frequency");
  require(hidden_act == "silu", where,
          "qllama hidden_act '" + hidden_act + "' is not supported (silu)");
  for (int64_t id : {bos_token_id, eos_token_id}) {
    require(id >= 0 && id < vocab_size, where, "qllama special token id out of the vocabulary");
  }
}

int64_t InternVLConfig::image_size() const {
  return force_image_size.value_or(vision_config.image_size);
}

InternVLConfig InternVLConfig::from_json_text(const std::string& text, const std::string& where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw ConfigError(where + ": not valid JSON (" + e.what() + ")");
  }
  require(j.is_object(), where, "expected a JSON object");
  std::string model_type;
  KeyReader top(j, where, "");
  top.required("model_type", model_type);
  InternVLConfig c;
  if (model_type == "intern_vit_6b") {
    c.kind = CheckpointKind::kVisionOnly;
    c.vision_config = parse_vision(j, where, "");
    return c;
  }
  require(model_type == "internvl", where,
          "model_type '" + model_type +
              "' is not an InternVL v1 checkpoint (expected 'internvl' or "
              "'intern_vit_6b')");
  require(j.contains("vision_config") && j["vision_config"].is_object(), where,
          "missing object 'vision_config'");
  require(j.contains("qllama_config") && j["qllama_config"].is_object(), where,
          "missing object 'qllama_config'");
  c.vision_config = parse_vision(j["vision_config"], where, "vision_config.");
  c.qllama_config = parse_qllama(j["qllama_config"], where);
  top.optional("num_query_token", c.num_query_token);
  // The official InternVLConfig overwrites the nested value with the top-level one (default 2).
  c.qllama_config.cross_attention_frequency = 2;
  top.optional("cross_attention_frequency", c.qllama_config.cross_attention_frequency);
  top.optional("tie_word_embeddings", c.tie_word_embeddings);
  require(c.qllama_config.cross_attention_frequency > 0, where,
          "cross_attention_frequency must be positive");
  top.optional("clip_embed_dim", c.clip_embed_dim);
  top.optional("attn_pool_num_heads", c.attn_pool_num_heads);
  int64_t forced = 0;
  top.optional("force_image_size", forced);
  if (forced > 0) c.force_image_size = forced;
  bool use_backbone_lora = false, use_qllama_lora = false;
  top.optional("use_backbone_lora", use_backbone_lora);
  top.optional("use_qllama_lora", use_qllama_lora);
  require(!use_backbone_lora && !use_qllama_lora, where,
          "LoRA checkpoints (use_backbone_lora / use_qllama_lora) are not supported: merge the "
          "adapters into the weights first");
  require(c.num_query_token > 0 && c.clip_embed_dim > 0, where,
          "num_query_token and clip_embed_dim must be positive");
  require_at_most(c.num_query_token, kMaxWidth, where, "num_query_token");
  require_at_most(c.clip_embed_dim, kMaxWidth, where, "clip_embed_dim");
  require_at_most(c.attn_pool_num_heads, kMaxWidth, where, "attn_pool_num_heads");
  require(c.attn_pool_num_heads > 0 && c.vision_config.hidden_size % c.attn_pool_num_heads == 0 &&
              c.qllama_config.hidden_size % c.attn_pool_num_heads == 0,
          where, "attn_pool_num_heads must divide both the vision and the qllama hidden_size");
  if (c.force_image_size) {
    require_at_most(*c.force_image_size, kMaxImageSize, where, "force_image_size");
    require(*c.force_image_size % c.vision_config.patch_size == 0, where,
            "force_image_size must be a multiple of the patch size");
  }
  return c;
}

InternVLConfig InternVLConfig::from_json_file(const std::string& path) {
  const std::string not_file = special_file_kind(path);
  if (!not_file.empty()) {  // said below, with advice
    throw ConfigError(path + " " + not_file + ": the model config must be a file");
  }
  std::ifstream in(path);
  if (!in) {
    throw ConfigError(path +
                      ": cannot open the model config (is this a Hugging Face checkpoint "
                      "directory with a config.json?)");
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return from_json_text(buffer.str(), path);
}

// The struct defaults are already InternVL-14B-224px's (model/README.md); spelling every size out
// keeps the preset independent of those defaults changing.
InternVLConfig internvl_14b_224px_config() {
  InternVLConfig c;
  c.kind = CheckpointKind::kInternVL;
  c.vision_config.hidden_size = 3200;
  c.vision_config.num_hidden_layers = 48;
  c.vision_config.num_attention_heads = 25;
  c.vision_config.intermediate_size = 12800;
  c.vision_config.image_size = 224;
  c.vision_config.patch_size = 14;
  c.qllama_config.hidden_size = 4096;
  c.qllama_config.num_hidden_layers = 32;
  c.qllama_config.num_attention_heads = 32;
  c.qllama_config.intermediate_size = 11008;
  c.qllama_config.vocab_size = 49954;
  c.qllama_config.cross_attention_frequency = 2;
  c.num_query_token = 96;
  c.clip_embed_dim = 768;
  c.attn_pool_num_heads = 16;
  return c;
}

InternVLConfig internvl_tiny_config() {
  InternVLConfig c = internvl_14b_224px_config();
  c.vision_config.hidden_size = 64;
  c.vision_config.num_hidden_layers = 2;
  c.vision_config.num_attention_heads = 4;
  c.vision_config.intermediate_size = 128;
  c.qllama_config.hidden_size = 24;
  c.qllama_config.num_hidden_layers = 2;
  c.qllama_config.num_attention_heads = 4;
  c.qllama_config.intermediate_size = 128;
  c.clip_embed_dim = 48;
  c.attn_pool_num_heads = 8;
  return c;
}

InternVLConfig preset_config(const std::string& name) {
  if (name == "full") return internvl_14b_224px_config();
  if (name == "tiny") return internvl_tiny_config();
  throw InputError("unknown model preset '" + name + "': use tiny or full");
}

}  // namespace ivs::model
