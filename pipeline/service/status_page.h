// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "pipeline/service/event_log.h"
#include "pipeline/service/search_api.h"
#include "pipeline/service/supervisor.h"

namespace ivs::service {

/// What the status page shows of search; nothing unless `enabled` (a `search:` section).
struct SearchView {
  bool enabled = false;
  std::map<std::string, std::string> query;  // the form's fields as submitted (q, k, stream)
  SearchOutcome outcome;                     // of `query`, when it has a q
  std::map<std::string, int64_t> latest;     // stream id -> id of its newest thumbnail
};

/// The HTML status page: with search, a search box (query, k, stream) and the moments found with
/// their thumbnails; one row per stream (state, source, decoder, fps, frames, drops, restarts,
/// last error, with search its newest indexed frame as a small picture, latest labels and
/// caption), then the recent alert events, newest first (stream, rule, state, stream times,
/// probability, a snapshot thumbnail from /api/v1/events/{id}/snapshot.jpg). Rendered on the
/// server; a short script swaps in a fresh copy of the streams and events every 2 s, leaving the
/// search box and its results alone (without scripts the page reloads itself every 2 s).
std::string render_status_page(const std::vector<StreamStatus>& streams,
                               const std::vector<LoggedEvent>& events = {},
                               const SearchView& search = {});

/// `text` with &, <, >, " and ' escaped for HTML.
std::string escape_html(const std::string& text);

}  // namespace ivs::service
