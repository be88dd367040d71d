// SPDX-License-Identifier: Apache-2.0
// The default prompts: one definition for the model, the CLI, the engine, the elements and the
// service. Torch-free, so every layer can include it.
#pragma once

namespace ivs::model {

/// The captioning prompt of InternVL's caption evaluation (model/README.md, "Captioning").
inline constexpr const char* kDefaultCaptionPrompt = "English caption:";

/// The zero-shot prompt template; "{}" (or "{c}") is the label.
inline constexpr const char* kDefaultPromptTemplate = "a photo of {}.";

}  // namespace ivs::model
