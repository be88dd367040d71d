// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <vector>

#include "pipeline/service/event_log.h"
#include "pipeline/service/supervisor.h"

namespace ivs::service {

/// The HTML status page: one row per stream (state, source, decoder, fps, frames, drops,
/// restarts, last error, latest labels and caption), then the recent alert events, newest first
/// (stream, rule, state, stream times, probability, a snapshot thumbnail from
/// /api/v1/events/{id}/snapshot.jpg). Rendered on the server, so it needs no script; it reloads
/// itself every 2 s.
std::string render_status_page(const std::vector<StreamStatus>& streams,
                               const std::vector<LoggedEvent>& events = {});

/// `text` with &, <, >, " and ' escaped for HTML.
std::string escape_html(const std::string& text);

}  // namespace ivs::service
