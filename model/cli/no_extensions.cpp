// SPDX-License-Identifier: Apache-2.0
// cli_extensions() of an `internvl` built from model/ alone (INTERNVL_WITH_GSTREAMER=OFF): the
// model's own commands and bench tasks only.
#include "model/cli/cli_extensions.h"

namespace ivs::cli {

CliExtensions cli_extensions() { return {}; }

}  // namespace ivs::cli
