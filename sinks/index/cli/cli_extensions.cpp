// SPDX-License-Identifier: Apache-2.0
// cli_extensions() of an `internvl` built with sinks/ (model/cli/cli_extensions.h): the frame
// search index's command and benchmark task. The one list of the CLI's extensions.
#include "model/cli/cli_extensions.h"

#include "sinks/index/bench/search_bench.h"
#include "sinks/index/cli/cmd_search.h"

namespace ivs::cli {

CliExtensions cli_extensions() {
  CliExtensions extensions;
  extensions.commands.push_back(add_search_command);
  extensions.bench_tasks.push_back(search::search_bench_task());
  return extensions;
}

}  // namespace ivs::cli
