// SPDX-License-Identifier: Apache-2.0
// Subcommands of the `internvl` CLI. Each add_*_command registers one subcommand on `app`; the
// callback it installs runs the command and throws on failure (main() reports and exits 1).
#pragma once

#include <vector>

#include <CLI/CLI.hpp>

#include "model/cli/cli_extensions.h"

namespace ivs::cli {

void add_classify_command(CLI::App& app);
void add_caption_command(CLI::App& app);
void add_embed_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
/// `extra_tasks`: bench tasks of extensions (cli_extensions.h), offered beside the model's.
void add_bench_command(CLI::App& app, std::vector<BenchTask> extra_tasks = {});

}  // namespace ivs::cli
