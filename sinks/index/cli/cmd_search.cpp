// SPDX-License-Identifier: Apache-2.0
// internvl search: ranked moments of a frame search index for a text query. Opens the index
// read-only (a running writer keeps writing), embeds the query with the model's text tower and
// prints the moments as a table or JSON.
#include "sinks/index/cli/cmd_search.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include <c10/core/InferenceMode.h>

#include "model/cli/bench_numbers.h"
#include "model/cli/model_options.h"
#include "model/common/errors.h"
#include "model/internvl/text_query.h"
#include "sinks/index/moment_json.h"
#include "sinks/index/query_params.h"
#include "sinks/index/search_index.h"
#include "sinks/result_json.h"

namespace ivs::cli {
namespace {

namespace fs = std::filesystem;

struct SearchOptions {
  ModelOptions model;  // --model, --device, --dtype, --json
  std::string index_dir;
  std::string mode;  // "": the index's
  search::SearchParams params;
  std::string thumbnails_dir;
};

// --mode given or the index's; a mismatch is an error naming both.
std::string resolve_mode(const SearchOptions& o, const search::SearchIndexStats& stats) {
  if (o.mode.empty()) return stats.mode;
  const auto asked = model::parse_embedding_mode(o.mode);  // rejects anything but c/g
  if (asked != model::parse_embedding_mode(stats.mode)) {
    throw model::InputError("--mode " + o.mode + " does not match the index " + o.index_dir +
                            ", which holds InternVL-" + stats.mode +
                            " image embeddings: leave --mode out or pass --mode " + stats.mode);
  }
  return stats.mode;
}

std::unique_ptr<search::SearchIndex> open_index(const std::string& dir) {
  if (dir.empty()) throw model::InputError("no index given: pass --index DIR");
  if (!fs::is_directory(dir)) {
    throw model::InputError("the index directory " + dir +
                            " does not exist: pass the location an internvlindex element or the "
                            "service's search.data_dir writes to");
  }
  search::SearchIndexOptions options;
  options.dir = dir;
  options.read_only = true;
  return search::SearchIndex::open(options);
}

std::vector<float> embed_query(const SearchOptions& o, const search::SearchIndexStats& stats) {
  const auto loaded = o.model.load();
  auto query = model::embed_text_query(loaded.full_model(), loaded.text_tokenizer(), o.params.q);
  if (static_cast<int>(query.size()) != stats.dim) {
    throw model::InputError("the model " + o.model.model_dir + " gives " +
                            std::to_string(query.size()) + "-d embeddings but the index " +
                            o.index_dir + " holds " + std::to_string(stats.dim) +
                            "-d ones: search with the model that indexed it");
  }
  return query;
}

// Writes the moment's thumbnail as <dir>/<id>.jpg; "" when it has none (deleted meanwhile).
std::string save_thumbnail(const search::SearchIndex& index, const search::Moment& m,
                           const std::string& dir) {
  if (dir.empty() || !m.has_thumbnail) return "";
  const auto jpeg = index.thumbnail(m.best_id);
  if (!jpeg) return "";
  fs::create_directories(dir);
  const auto path = (fs::path(dir) / (std::to_string(m.best_id) + ".jpg")).string();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(jpeg->data()),
            static_cast<std::streamsize>(jpeg->size()));
  if (!out) throw model::InputError("cannot write the thumbnail " + path);
  return path;
}

nlohmann::json moment_with_thumbnail(const search::Moment& m, const std::string& thumbnail_path) {
  nlohmann::json j = search::moment_json(m);
  j["thumbnail_id"] = m.has_thumbnail ? nlohmann::json(m.best_id) : nullptr;
  if (!thumbnail_path.empty()) j["thumbnail_path"] = thumbnail_path;
  return j;
}

nlohmann::json filter_json(const search::SearchRequest& r) {
  auto time = [](const auto& t) {
    return t ? nlohmann::json(sinks::format_timestamp(*t)) : nlohmann::json(nullptr);
  };
  return {{"streams", r.filter.streams}, {"from", time(r.filter.from)}, {"to", time(r.filter.to)}};
}

void print_table(const nlohmann::json& moments) {
  if (moments.empty()) {
    std::cout << "no moments match (widen --from/--to or drop --stream)\n";
    return;
  }
  std::printf("%-4s %-14s %19s %-24s %7s %9s %6s  %s\n", "rank", "stream", "stream time (s)",
              "wall clock (UTC)", "score", "frame", "frames", "thumbnail");
  int rank = 1;
  for (const auto& m : moments) {
    const auto span = fixed(m["start_seconds"].get<double>(), 1) + " - " +
                      fixed(m["end_seconds"].get<double>(), 1);
    std::string thumbnail = "-";
    if (m.contains("thumbnail_path")) {
      thumbnail = m["thumbnail_path"].get<std::string>();
    } else if (!m["thumbnail_id"].is_null()) {
      thumbnail = "id " + std::to_string(m["thumbnail_id"].get<int64_t>());
    }
    std::printf("%-4d %-14s %19s %-24s %7.4f %9lld %6d  %s\n", rank++,
                m["stream"].get<std::string>().c_str(), span.c_str(),
                m["start_time"].get<std::string>().c_str(), m["score"].get<double>(),
                static_cast<long long>(m["frame_id"].get<int64_t>()), m["frames"].get<int>(),
                thumbnail.c_str());
  }
  std::fflush(stdout);
}

void run(const SearchOptions& o) {
  // Every argument is checked before the slow parts (opening the index, loading the model).
  const auto request = search::parse_search_params(o.params, std::chrono::system_clock::now());
  o.model.validate();
  const auto index = open_index(o.index_dir);
  const auto stats = index->stats();
  if (stats.frames == 0 || stats.dim == 0) {
    throw model::InputError("the index " + o.index_dir +
                            " holds no frames yet: let a writer index some first");
  }
  const auto mode = resolve_mode(o, stats);
  const auto query = embed_query(o, stats);
  const auto found = index->search(query, request.k, request.filter);
  nlohmann::json moments = nlohmann::json::array();
  for (const auto& m : found)
    moments.push_back(moment_with_thumbnail(m, save_thumbnail(*index, m, o.thumbnails_dir)));
  if (!o.model.json) return print_table(moments);
  print_json({{"query", request.query},
              {"index", o.index_dir},
              {"model", o.model.model_dir},
              {"mode", mode},
              {"k", request.k},
              {"filter", filter_json(request)},
              {"frames", stats.frames},
              {"moments", moments}});
}

}  // namespace

void add_search_command(CLI::App& app) {
  auto o = std::make_shared<SearchOptions>();
  auto* cmd = app.add_subcommand(
      "search",
      "Ranked moments of a frame search index for a text query (any language the "
      "model reads)");
  o->model.add_to(*cmd, false, true);
  cmd->add_option("--index", o->index_dir, "Index directory (internvlindex location=...)")
      ->required();
  cmd->add_option("--mode", o->mode,
                  "c (InternVL-C) or g (InternVL-G); default: the index's (a mismatch is an "
                  "error)");
  cmd->add_option("-k", o->params.k, "Moments to return, 1-1000 (default 10)");
  cmd->add_option("--stream", o->params.streams,
                  "Only this stream (repeatable, or comma-separated); default every stream");
  cmd->add_option("--from", o->params.from,
                  "Wall-clock start, inclusive: 2026-12-07T08:00:00Z, unix seconds, now or "
                  "-15m/-2h/-1d");
  cmd->add_option("--to", o->params.to, "Wall-clock end, inclusive (same forms as --from)");
  cmd->add_option("--save-thumbnails", o->thumbnails_dir,
                  "Write each moment's best-frame thumbnail to DIR/<id>.jpg and print the path");
  cmd->add_option("query", o->params.q, "What to look for, e.g. \"a red van at the gate\"")
      ->required();
  cmd->callback([o] { run(*o); });
}

}  // namespace ivs::cli
