// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/tokenizer.h"
#include "model/common/regular_file.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "model/common/errors.h"
#include "model/internvl/sentencepiece_module.h"

namespace ivs::model {
namespace {

bool is_special(int64_t id) {
  return id == Tokenizer::kPad || id == Tokenizer::kBos || id == Tokenizer::kEos;
}

std::string strip(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\n\r");
  if (first == std::string::npos) return {};
  const auto last = s.find_last_not_of(" \t\n\r");
  return s.substr(first, last - first + 1);
}

std::vector<std::string> module_candidates() {
  std::vector<std::string> paths;
  if (const char* env = std::getenv("INTERNVL_SENTENCEPIECE_MODULE"); env && *env)
    paths.push_back(env);
  paths.push_back(INTERNVL_SPM_MODULE_BUILD_PATH);
  paths.push_back(INTERNVL_SPM_MODULE_INSTALL_PATH);
  return paths;
}

}  // namespace

struct Tokenizer::Module {
  void* library = nullptr;
  decltype(&ivs_spm_load) load = nullptr;
  decltype(&ivs_spm_free) free = nullptr;
  decltype(&ivs_spm_piece_size) piece_size = nullptr;
  decltype(&ivs_spm_encode) encode = nullptr;
  decltype(&ivs_spm_decode) decode = nullptr;
  decltype(&ivs_spm_id_to_piece) id_to_piece = nullptr;

  Module() {
    std::string tried;
    for (const auto& path : module_candidates()) {
      // RTLD_LOCAL: sentencepiece's private protobuf copy never interposes LibTorch's
      // libprotobuf (the other direction is the module's link, sentencepiece_module.h); no
      // RTLD_DEEPBIND, which the sanitizers refuse. RTLD_NODELETE: their statics (protobuf
      // descriptors, sentencepiece's tables) are built once and never torn down, so unloading
      // would leak them at every model reload; the module stays mapped instead.
      library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
      if (library != nullptr) break;
      tried += "\n  " + path + ": " + dlerror();
    }
    if (library == nullptr) {
      throw ConfigError(
          "cannot load the SentencePiece module libivs_sentencepiece.so; tried:" + tried +
          "\nset INTERNVL_SENTENCEPIECE_MODULE to its path or reinstall InternVL Stream");
    }
    bind(load, "ivs_spm_load");
    bind(free, "ivs_spm_free");
    bind(piece_size, "ivs_spm_piece_size");
    bind(encode, "ivs_spm_encode");
    bind(decode, "ivs_spm_decode");
    bind(id_to_piece, "ivs_spm_id_to_piece");
  }
  ~Module() { dlclose(library); }
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  template <typename F>
  void bind(F& function, const char* name) {
    function = reinterpret_cast<F>(dlsym(library, name));
    if (function == nullptr)
      throw ConfigError(std::string("libivs_sentencepiece.so lacks ") + name);
  }
};

Tokenizer::Tokenizer(const std::string& model_path) : module_(std::make_shared<const Module>()) {
  const std::string not_file = special_file_kind(model_path);
  if (!not_file.empty()) {  // SentencePiece says it, below
    throw ConfigError(model_path + " " + not_file + ": the tokenizer model must be a file");
  }
  char error[512] = {};
  processor_ = module_->load(model_path.c_str(), error, sizeof(error));
  if (processor_ == nullptr) {
    throw ConfigError(model_path + ": cannot load the SentencePiece tokenizer (" + error +
                      "); the checkpoint directory needs tokenizer.model");
  }
}

Tokenizer::~Tokenizer() {
  if (processor_ != nullptr) module_->free(processor_);
}

Tokenizer::Tokenizer(Tokenizer&& other) noexcept
    : module_(std::move(other.module_)), processor_(std::exchange(other.processor_, nullptr)) {}

Tokenizer& Tokenizer::operator=(Tokenizer&& other) noexcept {
  if (this != &other) {
    if (processor_ != nullptr) module_->free(processor_);
    module_ = std::move(other.module_);
    processor_ = std::exchange(other.processor_, nullptr);
  }
  return *this;
}

int64_t Tokenizer::vocab_size() const { return module_->piece_size(processor_); }

std::vector<int64_t> Tokenizer::encode(const std::string& text, bool add_bos, bool add_eos) const {
  char error[512] = {};
  std::vector<int> raw(text.size() + 8);
  long n = module_->encode(processor_, text.data(), text.size(), raw.data(), raw.size(), error,
                           sizeof(error));
  if (n > static_cast<long>(raw.size())) {
    raw.resize(n);
    n = module_->encode(processor_, text.data(), text.size(), raw.data(), raw.size(), error,
                        sizeof(error));
  }
  if (n < 0) throw InputError("cannot tokenize text '" + text + "': " + error);
  std::vector<int64_t> ids;
  ids.reserve(n + 2);
  if (add_bos) ids.push_back(kBos);
  ids.insert(ids.end(), raw.begin(), raw.begin() + n);
  if (add_eos) ids.push_back(kEos);
  return ids;
}

TokenBatch Tokenizer::encode_for_retrieval(const std::vector<std::string>& texts,
                                           int64_t max_length, bool pad_to_max) const {
  if (max_length < 3) throw InputError("text max_length must be at least 3 (BOS, a token, EOS)");
  std::vector<std::vector<int64_t>> rows;
  rows.reserve(texts.size());
  int64_t longest = 0;
  for (const auto& text : texts) {
    auto content = encode(kRetrievalPrefix + text, false, false);
    // The slow tokenizer truncates the content so that BOS and EOS always survive.
    if (static_cast<int64_t>(content.size()) > max_length - 2) content.resize(max_length - 2);
    std::vector<int64_t> row{kBos};
    row.insert(row.end(), content.begin(), content.end());
    row.push_back(kEos);
    longest = std::max<int64_t>(longest, row.size());
    rows.push_back(std::move(row));
  }
  TokenBatch batch;
  batch.batch = static_cast<int64_t>(rows.size());
  batch.length = pad_to_max ? max_length : longest;
  batch.ids.assign(batch.batch * batch.length, kPad);
  for (int64_t b = 0; b < batch.batch; ++b) {
    std::copy(rows[b].begin(), rows[b].end(), batch.ids.begin() + b * batch.length);
  }
  return batch;
}

std::vector<int64_t> Tokenizer::encode_prompt(const std::string& prompt) const {
  return encode(prompt, true, false);
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids) const {
  std::vector<int> kept;
  for (int64_t id : ids) {
    if (!is_special(id) && id >= 0 && id < vocab_size()) kept.push_back(static_cast<int>(id));
  }
  char error[512] = {};
  std::string text(kept.size() * 8 + 16, '\0');
  long n = module_->decode(processor_, kept.data(), kept.size(), text.data(), text.size(), error,
                           sizeof(error));
  if (n > static_cast<long>(text.size())) {
    text.resize(n);
    n = module_->decode(processor_, kept.data(), kept.size(), text.data(), text.size(), error,
                        sizeof(error));
  }
  if (n < 0) throw InputError(std::string("cannot decode token ids: ") + error);
  text.resize(n);
  return strip(text);
}

std::vector<std::string> Tokenizer::pieces(const std::vector<int64_t>& ids) const {
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (int64_t id : ids) {
    std::string piece(64, '\0');
    long n = module_->id_to_piece(processor_, static_cast<int>(id), piece.data(), piece.size());
    if (n > static_cast<long>(piece.size())) {
      piece.resize(n);
      n = module_->id_to_piece(processor_, static_cast<int>(id), piece.data(), piece.size());
    }
    out.push_back(n < 0 ? std::string("<invalid>") : piece.substr(0, n));
  }
  return out;
}

}  // namespace ivs::model
