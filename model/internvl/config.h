// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ivs::model {

/// InternViT configuration: the `vision_config` of InternVL-14B-224px, or the whole config.json
/// of InternViT-6B-224px. Field names equal the config.json keys; defaults are InternViT-6B's.
struct VisionConfig {
  int64_t hidden_size = 3200;        // width C
  int64_t num_attention_heads = 25;  // head_dim = 128
  int64_t num_hidden_layers = 48;
  int64_t intermediate_size = 12800;  // MLP width
  int64_t image_size = 224;
  int64_t patch_size = 14;  // 16 x 16 patches at 224
  int64_t num_channels = 3;
  bool qkv_bias = false;
  bool qk_normalization = true;     // RMSNorm over the full q and k vectors
  double layer_norm_eps = 1e-6;     // RMSNorm epsilon
  std::string hidden_act = "gelu";  // exact (erf) GELU; the only supported value

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  int64_t num_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
  int64_t num_positions() const { return num_patches() + 1; }  // + class token

  /// Throws ConfigError naming `where` when the sizes are inconsistent.
  void validate(const std::string& where) const;
};

/// QLLaMA configuration (`qllama_config`): LLaMA-7B plus cross-attention and query tokens.
struct QLlamaConfig {
  int64_t vocab_size = 49954;
  int64_t hidden_size = 4096;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;        // head_dim = 128
  int64_t intermediate_size = 11008;       // SwiGLU width
  int64_t max_position_embeddings = 2048;  // RoPE table length
  int64_t cross_attention_frequency = 2;   // layer i has cross-attention iff i % 2 == 0
  double rms_norm_eps = 1e-6;
  int64_t bos_token_id = 1;
  int64_t eos_token_id = 2;
  int64_t pad_token_id = 0;
  std::string hidden_act = "silu";  // the only supported value

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  bool has_cross_attention(int64_t layer) const { return layer % cross_attention_frequency == 0; }
  void validate(const std::string& where) const;
};

/// What a checkpoint directory holds.
enum class CheckpointKind {
  kInternVL,    // model_type "internvl": InternViT + QLLaMA + heads (InternVL-14B-224px)
  kVisionOnly,  // model_type "intern_vit_6b": InternViT alone (InternViT-6B-224px)
};

/// The whole config.json of a checkpoint directory.
struct InternVLConfig {
  CheckpointKind kind = CheckpointKind::kInternVL;
  VisionConfig vision_config;
  QLlamaConfig qllama_config;               // unused for kVisionOnly
  int64_t num_query_token = 96;             // learned queries fed to QLLaMA
  int64_t clip_embed_dim = 768;             // joint embedding width
  int64_t attn_pool_num_heads = 16;         // heads of clip_projector / clip_projector2
  std::optional<int64_t> force_image_size;  // e.g. 364 for the fine-tuned 364px models
  /// Top-level "tie_word_embeddings" (transformers' default true): when true, transformers ties
  /// QLLaMA's embed_tokens to lm_head at load time and the saved lm_head wins. Published
  /// InternVL configs say false.
  bool tie_word_embeddings = true;

  /// Reads and validates `path` (a config.json). Keys absent from the file take the defaults
  /// of the official configuration classes, except the size keys that define tensor shapes,
  /// which are required. Throws ConfigError naming the file and the key.
  static InternVLConfig from_json_file(const std::string& path);

  /// Parses already-loaded JSON text; `where` names its origin in messages.
  static InternVLConfig from_json_text(const std::string& text, const std::string& where);

  /// Input resolution the vision tower runs at (force_image_size when set).
  int64_t image_size() const;
};

/// InternVL-14B-224px's architecture (model/README.md, "Architecture and sizes"): InternViT-6B
/// (3200 wide, 48 layers, 25 heads, MLP 12800, 224 px, patch 14) + QLLaMA (4096 wide, 32 layers,
/// 32 heads, MLP 11008, vocab 49954), 96 queries, 768-wide embeddings, 16 attention-pool heads.
/// For benchmarks and FLOP counts with random weights; a real checkpoint brings its own
/// config.json.
InternVLConfig internvl_14b_224px_config();

/// The sizes of the tiny parity fixture (tests/data/parity/internvl-tiny): vision 64 wide,
/// 2 layers, 4 heads, MLP 128 at 224 px; QLLaMA 24 wide, 2 layers, 4 heads, MLP 128, the real
/// vocabulary (49954); 96 queries, 48-wide embeddings, 8 attention-pool heads.
InternVLConfig internvl_tiny_config();

/// The configuration of a benchmark preset: "full" (internvl_14b_224px_config) or "tiny"
/// (internvl_tiny_config). Throws InputError naming both for another name.
InternVLConfig preset_config(const std::string& name);

}  // namespace ivs::model
