// SPDX-License-Identifier: Apache-2.0
// A free-text search query turned into an embedding that compares with the image embeddings the
// engine attaches to sampled frames: the one function the CLI (`internvl search`) and the engine
// (Engine::embed_query, for the service's REST search) both call.
#pragma once

#include <string>
#include <vector>

#include "model/internvl/internvl.h"
#include "model/internvl/tokenizer.h"

namespace ivs::model {

/// The query's embedding [E]: float32, L2-normalised. It takes the zero-shot label path
/// (embed_texts: "summarize:" + text, BOS ... EOS, EOS pooling, text_projection) with no
/// template, so the query "a red van" equals the class embedding of the label "a red van" under
/// the template "{}": a query is a description, and a template such as "a photo of {}." would
/// turn a full sentence into "a photo of a red van stopped at gate 2.".
///
/// One embedding serves both image modes: InternVL-C and InternVL-G share the text tower (the
/// official encode_text has no mode; both contrastive losses align to the same text_projection),
/// so the caller checks the index's mode, not this function.
///
/// Runs the text tower on the calling thread, in inference mode.
/// Thread-safe (the model is only read). Throws InputError when the text is empty or blank.
std::vector<float> embed_text_query(const InternVLModelImpl& model, const Tokenizer& tokenizer,
                                    const std::string& text);

}  // namespace ivs::model
