// SPDX-License-Identifier: Apache-2.0
// `internvl search`: a text query against a frame search index (sinks/index/).
#pragma once

#include <CLI/CLI.hpp>

namespace ivs::cli {

/// Registers the `search` subcommand on `app`; its callback throws on failure (main() reports).
void add_search_command(CLI::App& app);

}  // namespace ivs::cli
