// SPDX-License-Identifier: Apache-2.0
// How commands built above model/ (the search index in sinks/index/, ...) join the `internvl`
// CLI while model/cli includes none of them: layers point down only. The executable links
// exactly one definition of cli_extensions(): model/cli/no_extensions.cpp when model/ is built
// alone (INTERNVL_WITH_GSTREAMER=OFF, the GPU machine), else the one that the highest folder
// adding commands compiles into `internvl` (target_sources; sinks/index/cli/cli_extensions.cpp).
// That file lists every extension explicitly: a value built on demand, no static
// self-registration.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace ivs::cli {

/// What `internvl bench` hands a task of an extension when it runs it.
struct BenchTaskContext {
  bool json = false;  // --json: print nothing on stdout, the bench prints the returned JSON
  uint64_t seed = 0;  // --seed
};

/// A task of `internvl bench --tasks` implemented above model/ (needs no checkpoint).
struct BenchTask {
  std::string name;  // its --tasks name, e.g. "search"
  std::string help;  // a few words for --tasks' help: "search (the frame search index)"
  /// Adds the task's own options to the bench subcommand (prefixed by the task's name, e.g.
  /// --search-vectors); called once, before parsing.
  std::function<void(CLI::App& bench)> add_options;
  /// Runs the task: prints its readable table on stdout unless context.json, returns its
  /// results as JSON (under the task's name in the bench's JSON). Throws on failure.
  std::function<nlohmann::json(const BenchTaskContext& context)> run;
};

struct CliExtensions {
  /// Each adds one subcommand (as the add_*_command functions of commands.h do).
  std::vector<std::function<void(CLI::App& app)>> commands;
  std::vector<BenchTask> bench_tasks;
};

/// The extensions linked into this executable (see the top of this file).
CliExtensions cli_extensions();

}  // namespace ivs::cli
