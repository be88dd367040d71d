// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/text_query.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "model/common/errors.h"
#include "model/internvl/zero_shot.h"

namespace ivs::model {

std::vector<float> embed_text_query(const InternVLModelImpl& model, const Tokenizer& tokenizer,
                                    const std::string& text) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw InputError("the search query is empty: give the text to search for");
  }
  c10::InferenceMode guard;
  const auto row = embed_texts(model, tokenizer, {text}).to(at::kCPU).contiguous();  // [1, E]
  const float* values = row.data_ptr<float>();
  return std::vector<float>(values, values + row.size(1));
}

}  // namespace ivs::model
