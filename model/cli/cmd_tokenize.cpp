// SPDX-License-Identifier: Apache-2.0
// internvl tokenize: token ids of texts (BOS, optional EOS), for checking the tokenizer.
#include <filesystem>
#include <memory>

#include "model/cli/commands.h"
#include "model/cli/model_options.h"
#include "model/common/errors.h"
#include "model/internvl/tokenizer.h"

namespace ivs::cli {

void add_tokenize_command(CLI::App& app) {
  struct Options {
    ModelOptions model;
    bool eos = false;
    std::vector<std::string> texts;
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("tokenize", "Print the token ids of texts as JSON");
  options->model.add_to(*cmd, false, false);
  cmd->add_flag("--eos", options->eos, "Append EOS (as the retrieval text tower does)");
  cmd->add_option("text", options->texts, "Texts")->required();
  cmd->callback([options] {
    const auto path = std::filesystem::path(options->model.model_dir) / "tokenizer.model";
    if (options->model.model_dir.empty())
      throw model::InputError("pass --model DIR (with tokenizer.model)");
    const model::Tokenizer tokenizer(path.string());
    nlohmann::json results = nlohmann::json::array();
    for (const auto& text : options->texts) {
      const auto ids = tokenizer.encode(text, true, options->eos);
      results.push_back({{"text", text}, {"ids", ids}, {"pieces", tokenizer.pieces(ids)}});
    }
    print_json({{"results", results}});
  });
}

}  // namespace ivs::cli
