// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <vector>

#include "pipeline/service/supervisor.h"

namespace ivs::service {

/// The HTML status page: one row per stream (state, source, decoder, fps, frames, drops,
/// restarts, last error, latest labels and caption). Rendered on the server, so it needs no
/// script; it reloads itself every 2 s.
std::string render_status_page(const std::vector<StreamStatus>& streams);

/// `text` with &, <, >, " and ' escaped for HTML.
std::string escape_html(const std::string& text);

}  // namespace ivs::service
