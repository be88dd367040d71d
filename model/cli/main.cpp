// SPDX-License-Identifier: Apache-2.0
// `internvl`: the command-line face of the model core. Argument parsing uses CLI11 (Debian
// libcli11-dev) for subcommands, typed options and generated --help.
#include <iostream>
#include <utility>

#include <CLI/CLI.hpp>
#include "model/cli/cli_extensions.h"
#include "model/cli/commands.h"
#include "model/cli/exception_text.h"

int main(int argc, char** argv) {
  CLI::App app{
      "InternVL Stream command line: zero-shot classification, captions, embeddings, "
      "checkpoint inspection and benchmarks with InternVL v1 checkpoints"};
  app.require_subcommand(1);
  ivs::cli::add_classify_command(app);
  ivs::cli::add_caption_command(app);
  ivs::cli::add_embed_command(app);
  ivs::cli::add_tokenize_command(app);
  ivs::cli::add_inspect_command(app);
  auto extensions = ivs::cli::cli_extensions();
  for (const auto& add : extensions.commands) add(app);
  ivs::cli::add_bench_command(app, std::move(extensions.bench_tasks));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "internvl: error: " << ivs::cli::exception_text(e) << std::endl;
    return 1;
  }
  return 0;
}
