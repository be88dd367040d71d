// SPDX-License-Identifier: Apache-2.0
// Built as libivs_sentencepiece.so; see sentencepiece_module.h for why it is separate.
#include "model/internvl/sentencepiece_module.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include <sentencepiece_processor.h>

namespace {

using Processor = sentencepiece::SentencePieceProcessor;

void set_error(char* error, size_t error_size, const std::string& message) {
  if (error == nullptr || error_size == 0) return;
  const size_t n = std::min(error_size - 1, message.size());
  std::memcpy(error, message.data(), n);
  error[n] = '\0';
}

long copy_out(const std::string& text, char* out, size_t capacity) {
  if (out != nullptr) std::memcpy(out, text.data(), std::min(capacity, text.size()));
  return static_cast<long>(text.size());
}

}  // namespace

extern "C" {

void* ivs_spm_load(const char* path, char* error, size_t error_size) {
  auto* processor = new Processor();
  const auto status = processor->Load(path);
  if (!status.ok()) {
    set_error(error, error_size, status.ToString());
    delete processor;
    return nullptr;
  }
  return processor;
}

void ivs_spm_free(void* handle) { delete static_cast<Processor*>(handle); }

int ivs_spm_piece_size(const void* handle) {
  return static_cast<const Processor*>(handle)->GetPieceSize();
}

long ivs_spm_encode(const void* handle, const char* text, size_t size, int* out, size_t capacity,
                    char* error, size_t error_size) {
  std::vector<int> ids;
  const auto status = static_cast<const Processor*>(handle)->Encode(std::string(text, size), &ids);
  if (!status.ok()) {
    set_error(error, error_size, status.ToString());
    return -1;
  }
  if (out != nullptr) std::copy_n(ids.begin(), std::min(capacity, ids.size()), out);
  return static_cast<long>(ids.size());
}

long ivs_spm_decode(const void* handle, const int* ids, size_t count, char* out, size_t capacity,
                    char* error, size_t error_size) {
  std::string text;
  const auto status =
      static_cast<const Processor*>(handle)->Decode(std::vector<int>(ids, ids + count), &text);
  if (!status.ok()) {
    set_error(error, error_size, status.ToString());
    return -1;
  }
  return copy_out(text, out, capacity);
}

long ivs_spm_id_to_piece(const void* handle, int id, char* out, size_t capacity) {
  const auto* processor = static_cast<const Processor*>(handle);
  if (id < 0 || id >= processor->GetPieceSize()) return -1;
  return copy_out(processor->IdToPiece(id), out, capacity);
}

}  // extern "C"
