// SPDX-License-Identifier: Apache-2.0
// The REST API's view of the search index (configs/README.md, "Search"):
//   GET /api/v1/search?q=&k=&stream=&from=&to=   the best moments for a text query, best first
//   GET /api/v1/thumbnails/{id}.jpg              a frame's thumbnail (404 once retention took it)
//   GET /api/v1/streams/{id}/latest.jpg          a stream's newest thumbnail (404 when none)
// The query text is embedded by the engine's text tower on the HTTP thread (no queue: a query
// is one short text) and searched in the index, which is thread-safe; nothing here touches the
// main loop, so searching never waits for a stream starting.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <prometheus/histogram.h>

#include "sinks/http/http_server.h"
#include "sinks/index/search_index.h"

namespace ivs::service {

/// Where thumbnails are served: <prefix><id>.jpg (the router and the URLs share it).
inline constexpr const char* kThumbnailsPath = "/api/v1/thumbnails/";

/// The L2-normalised embedding of a query text (Engine::embed_query). Throws on failure.
using QueryEmbedder = std::function<std::vector<float>(const std::string& text)>;

/// A query's result for the status page: the moments, or why there are none.
struct SearchOutcome {
  std::vector<search::Moment> moments;
  std::string error;  // non-empty: the query was refused (status 400) or failed (status 500)
  int status = 200;
};

class SearchApi {
 public:
  /// `index` is shared with every stream's internvlindex; `latency` (may be null) observes each
  /// query's seconds, embedding included (internvl_search_query_seconds).
  SearchApi(std::shared_ptr<search::SearchIndex> index, QueryEmbedder embed,
            prometheus::Histogram* latency);

  /// Runs the query of GET /api/v1/search's parameters (q, k, stream, from, to). Thread-safe.
  SearchOutcome run(const std::map<std::string, std::string>& query) const;

  /// GET /api/v1/search: {"query": q, "k": k, "moments": [...]} or a 400 naming the parameter.
  sinks::HttpResponse search(const std::map<std::string, std::string>& query) const;

  /// GET /api/v1/thumbnails/{name}: name is "{id}.jpg"; 400 for a malformed id, 404 when gone.
  sinks::HttpResponse thumbnail(const std::string& name) const;

  /// GET /api/v1/streams/{stream}/latest.jpg; never cached by the browser (it changes).
  sinks::HttpResponse latest(const std::string& stream) const;

  /// The id of the stream's newest thumbnail (the status page shows it through thumbnail_url:
  /// a URL per picture, so the browser caches it and fetches only new ones); nullopt when none.
  std::optional<int64_t> latest_id(const std::string& stream) const;

 private:
  std::shared_ptr<search::SearchIndex> index_;
  QueryEmbedder embed_;
  prometheus::Histogram* latency_;
};

/// One moment as JSON: search::moment_json (stream, start_seconds, end_seconds, start_time,
/// end_time, score, frame_id, id, frames) and thumbnail_url (null without a thumbnail).
nlohmann::json moment_with_thumbnail(const search::Moment& moment);

/// The URL of an indexed frame's thumbnail.
std::string thumbnail_url(int64_t id);

/// The URL of a stream's newest thumbnail.
std::string latest_url(const std::string& stream);

}  // namespace ivs::service
