// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ivs::model {

/// Right-padded token ids of several texts: ids[b * length + t], `length` columns.
struct TokenBatch {
  std::vector<int64_t> ids;
  int64_t batch = 0;
  int64_t length = 0;
};

/// The QLLaMA tokenizer: SentencePiece with the conventions of transformers' slow
/// LlamaTokenizer as InternVL uses it (BOS 1, EOS 2, pad 0 = <unk>, right padding).
/// Immutable after construction; all methods are safe to call from several threads.
/// SentencePiece itself runs in libivs_sentencepiece.so, loaded at run time (see
/// sentencepiece_module.h for why); it is looked up at $INTERNVL_SENTENCEPIECE_MODULE, then in
/// the build tree, then in the install tree.
class Tokenizer {
 public:
  static constexpr int64_t kBos = 1;
  static constexpr int64_t kEos = 2;
  static constexpr int64_t kPad = 0;
  static constexpr int64_t kMaxTextLength = 80;  // retrieval/classification text length
  static constexpr const char* kRetrievalPrefix = "summarize:";

  /// Loads `tokenizer.model`. Throws ConfigError naming the file when it cannot be read.
  explicit Tokenizer(const std::string& model_path);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  /// Plain SentencePiece ids of `text`, optionally with BOS in front and EOS at the end.
  std::vector<int64_t> encode(const std::string& text, bool add_bos, bool add_eos) const;

  /// Text-tower input for InternVL-C/G: "summarize:" + text, BOS ... EOS, content truncated so
  /// that BOS and EOS always fit in `max_length`, right-padded with 0 to `max_length` (or, when
  /// pad_to_max is false, to the longest text of the batch).
  TokenBatch encode_for_retrieval(const std::vector<std::string>& texts,
                                  int64_t max_length = kMaxTextLength,
                                  bool pad_to_max = true) const;

  /// Caption prompt ids: BOS + prompt, no EOS ("English caption:" -> 1 4223 5777 683 29901).
  std::vector<int64_t> encode_prompt(const std::string& prompt) const;

  /// Decodes ids to text, skipping the special ids 0, 1, 2, and strips surrounding spaces.
  std::string decode(const std::vector<int64_t>& ids) const;

  /// SentencePiece pieces of ids, for debugging ("▁photo").
  std::vector<std::string> pieces(const std::vector<int64_t>& ids) const;

  int64_t vocab_size() const;

 private:
  struct Module;
  std::shared_ptr<const Module> module_;  // the loaded library and its entry points
  void* processor_ = nullptr;             // owned; freed through module_
};

}  // namespace ivs::model
