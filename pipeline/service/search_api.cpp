// SPDX-License-Identifier: Apache-2.0
#include "pipeline/service/search_api.h"

#include <algorithm>
#include <chrono>

#include "pipeline/service/rest_api.h"
#include "sinks/index/moment_json.h"
#include "sinks/index/query_params.h"
#include "sinks/result_json.h"

namespace ivs::service {
namespace {

using Json = nlohmann::json;
using std::chrono::system_clock;

// The request of GET /api/v1/search's query string, or the message of a 400 naming the
// parameter (search::parse_search_params, the CLI's parser).
std::optional<search::SearchRequest> parse_request(const std::map<std::string, std::string>& query,
                                                   std::string& error) {
  search::SearchParams params;
  for (const auto& [key, value] : query) {
    if (key == "q") {
      params.q = value;
    } else if (key == "k") {
      params.k = value;
    } else if (key == "stream") {
      params.streams.push_back(value);
    } else if (key == "from") {
      params.from = value;
    } else if (key == "to") {
      params.to = value;
    } else {
      error = "unknown parameter '" + key + "' (q, k, stream, from, to)";
      return std::nullopt;
    }
  }
  try {
    return search::parse_search_params(params, system_clock::now());
  } catch (const search::SearchParamError& e) {
    error = e.what();
    return std::nullopt;
  }
}

// A thumbnail id: the index's positive integer id.
std::optional<int64_t> parse_id(const std::string& text) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != text.npos)
    return std::nullopt;
  return std::stoll(text);
}

sinks::HttpResponse jpeg_response(std::vector<uint8_t> bytes, const char* cache_control) {
  return {200,
          "image/jpeg",
          std::string(bytes.begin(), bytes.end()),
          {{"Cache-Control", cache_control}}};
}

}  // namespace

std::string thumbnail_url(int64_t id) { return kThumbnailsPath + std::to_string(id) + ".jpg"; }

std::string latest_url(const std::string& stream) {
  return "/api/v1/streams/" + stream + "/latest.jpg";
}

Json moment_with_thumbnail(const search::Moment& m) {
  Json j = search::moment_json(m);
  j["thumbnail_url"] = m.has_thumbnail ? Json(thumbnail_url(m.best_id)) : Json(nullptr);
  return j;
}

SearchApi::SearchApi(std::shared_ptr<search::SearchIndex> index, QueryEmbedder embed,
                     prometheus::Histogram* latency)
    : index_(std::move(index)), embed_(std::move(embed)), latency_(latency) {}

SearchOutcome SearchApi::run(const std::map<std::string, std::string>& query) const {
  SearchOutcome outcome;
  const auto request = parse_request(query, outcome.error);
  if (!request) {
    outcome.status = 400;
    return outcome;
  }
  const auto started = std::chrono::steady_clock::now();
  try {
    outcome.moments = index_->search(embed_(request->query), request->k, request->filter);
  } catch (const std::exception& e) {
    outcome.status = 500;
    outcome.error = std::string("the search failed: ") + e.what();
    return outcome;
  }
  if (latency_ != nullptr) {
    latency_->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  return outcome;
}

sinks::HttpResponse SearchApi::search(const std::map<std::string, std::string>& query) const {
  const SearchOutcome outcome = run(query);
  if (outcome.status != 200) return error_response(outcome.status, outcome.error);
  Json moments = Json::array();
  for (const auto& moment : outcome.moments) moments.push_back(moment_with_thumbnail(moment));
  const auto q = query.find("q");
  return {200,
          "application/json",
          Json{{"query", q->second}, {"moments", moments}}.dump(2, ' ', false,
                                                                Json::error_handler_t::replace) +
              "\n",
          {}};
}

sinks::HttpResponse SearchApi::thumbnail(const std::string& name) const {
  const std::string suffix = ".jpg";
  const bool jpg = name.size() > suffix.size() &&
                   name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  const auto id = jpg ? parse_id(name.substr(0, name.size() - suffix.size())) : std::nullopt;
  if (!id) {
    return error_response(400, "thumbnail id '" + name +
                                   "' is not a frame id; use /api/v1/thumbnails/{id}.jpg with "
                                   "the id of a search result");
  }
  auto bytes = index_->thumbnail(*id);
  if (!bytes) {
    return error_response(404, "no thumbnail of frame " + std::to_string(*id) +
                                   " (removed by search.retention_hours or max_disk_gb, or "
                                   "indexed without thumbnails)");
  }
  return jpeg_response(std::move(*bytes), "max-age=3600");  // an id's picture never changes
}

sinks::HttpResponse SearchApi::latest(const std::string& stream) const {
  const auto id = index_->latest_thumbnail_id(stream);
  auto bytes = id ? index_->thumbnail(*id) : std::nullopt;
  if (!bytes) {
    return error_response(404, "no indexed thumbnail of stream '" + stream +
                                   "' yet (does it classify? search.thumbnails on?)");
  }
  return jpeg_response(std::move(*bytes), "no-store");
}

std::optional<int64_t> SearchApi::latest_id(const std::string& stream) const {
  return index_->latest_thumbnail_id(stream);
}

}  // namespace ivs::service
