// SPDX-License-Identifier: Apache-2.0
// `internvl bench --tasks search`: the frame search index on synthetic clustered embeddings
// (search_measure.h), reported like the model's bench tasks (a table, or JSON with --json) and
// against the targets of issue 17.
#pragma once

#include "model/cli/cli_extensions.h"

namespace ivs::search {

/// The bench task "search" with its --search-* options.
cli::BenchTask search_bench_task();

}  // namespace ivs::search
