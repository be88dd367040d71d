// SPDX-License-Identifier: Apache-2.0
#include "sinks/index/bench/search_bench.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <thread>

#include "model/cli/bench_numbers.h"
#include "model/common/errors.h"
#include "sinks/index/bench/search_measure.h"

namespace ivs::search {
namespace {

namespace fs = std::filesystem;

// Issue 17's targets, on the 2-core machine, at 1M x 768 (p95 with a filter).
constexpr double kTargetP95Seconds = 0.050;
constexpr double kTargetRecall = 0.95;
constexpr double kTargetIngestPerSecond = 5000.0;
constexpr double kTargetBytesPerVector768 = 1200.0;
constexpr double kTargetFreshnessSeconds = 2.0;

double ms(double seconds) { return 1e3 * seconds; }

nlohmann::json filter_json(const FilterResult& f) {
  return {{"filter", f.filter},
          {"admitted_fraction", f.candidates},
          {"queries", f.seconds.size()},
          {"ms",
           {{"p50", ms(cli::percentile(f.seconds, 0.5))},
            {"p95", ms(cli::percentile(f.seconds, 0.95))}}},
          {"recall_at_10", f.recall_at_10},
          {"scene_recall_at_10", f.scene_recall_at_10}};
}

nlohmann::json result_json(const SearchMeasurement& m) {
  nlohmann::json filters = nlohmann::json::array();
  for (const auto& f : m.filters) filters.push_back(filter_json(f));
  const double plain_per_million = 1e6 * m.disk_bytes_per_frame;
  nlohmann::json freshness = {{"probes", m.freshness_seconds.size()},
                              {"missed", m.freshness_missed}};
  if (!m.freshness_seconds.empty()) {
    freshness["p50_seconds"] = cli::percentile(m.freshness_seconds, 0.5);
    freshness["p95_seconds"] = cli::percentile(m.freshness_seconds, 0.95);
  }
  return {{"dim", m.dim},
          {"frames", m.frames},
          {"structure", m.structure},
          {"ingest",
           {{"seconds", m.ingest_seconds},
            {"frames_per_second", static_cast<double>(m.frames) / m.ingest_seconds},
            {"queue_full_retries", m.ingest_retries},
            {"ivf_settle_seconds", m.settle_seconds}}},
          {"queries", filters},
          {"memory",
           {{"rss_bytes_per_vector", m.rss_bytes_per_vector},
            {"estimate_bytes_per_vector", m.estimate_bytes_per_vector}}},
          {"disk",
           {{"bytes_per_million_frames", plain_per_million},
            {"bytes_per_million_frames_with_thumbnails",
             plain_per_million + 1e6 * m.thumbnail_bytes_per_frame},
            {"thumbnail_bytes_per_frame", m.thumbnail_bytes_per_frame},
            {"thumbnail_jpeg_bytes_mean", m.thumbnail_jpeg_bytes},
            {"thumbnail_run_frames", m.thumbnail_run_frames}}},
          {"freshness", freshness}};
}

void print_table(const SearchBenchOptions& o, const std::vector<SearchMeasurement>& all) {
  std::printf(
      "internvl bench search: %zu frames of %d cameras at 1 fps, %d topics, %zu queries "
      "per filter, %u cores\n",
      o.vectors, o.streams, o.clusters, o.queries, std::thread::hardware_concurrency());
  for (const auto& m : all) {
    std::printf(
        "dim %d (%s, settled %.1f s after ingest): ingest %.0f frames/s; memory %.0f B/vector RSS, "
        "%.0f B/vector "
        "estimated; disk %.2f GB per million frames, %.2f GB with thumbnails "
        "(%.0f B JPEG); freshness p50 %.2f s, p95 %.2f s (%zu probes, %zu missed)\n",
        m.dim, m.structure.c_str(), m.settle_seconds,
        static_cast<double>(m.frames) / m.ingest_seconds, m.rss_bytes_per_vector,
        m.estimate_bytes_per_vector, m.disk_bytes_per_frame * 1e-3,
        (m.disk_bytes_per_frame + m.thumbnail_bytes_per_frame) * 1e-3, m.thumbnail_jpeg_bytes,
        m.freshness_seconds.empty() ? 0.0 : cli::percentile(m.freshness_seconds, 0.5),
        m.freshness_seconds.empty() ? 0.0 : cli::percentile(m.freshness_seconds, 0.95),
        m.freshness_seconds.size(), m.freshness_missed);
    std::printf("  %-32s %10s %10s %10s %12s %14s\n", "filter", "admitted", "p50 ms", "p95 ms",
                "recall@10", "scene rec.@10");
    for (const auto& f : m.filters) {
      std::printf("  %-32s %9.2f%% %10.2f %10.2f %12.3f %14.3f\n", f.filter.c_str(),
                  100.0 * f.candidates, ms(cli::percentile(f.seconds, 0.5)),
                  ms(cli::percentile(f.seconds, 0.95)), f.recall_at_10, f.scene_recall_at_10);
    }
  }
  std::printf(
      "targets (1M x 768): p95 <= %.0f ms with a filter, recall@10 >= %.2f, ingest >= %.0f "
      "frames/s, <= %.0f B/vector, freshness p95 <= %.0f s\n",
      ms(kTargetP95Seconds), kTargetRecall, kTargetIngestPerSecond, kTargetBytesPerVector768,
      kTargetFreshnessSeconds);
  std::fflush(stdout);
}

nlohmann::json run(const SearchBenchOptions& options, const cli::BenchTaskContext& context) {
  auto o = options;
  o.seed = context.seed;
  if (o.vectors < 100) throw model::InputError("--search-vectors must be at least 100");
  if (o.queries < 1) throw model::InputError("--search-queries must be at least 1");
  if (o.streams < 1 || o.clusters < 1) {
    throw model::InputError("--search-streams and --search-clusters must be at least 1");
  }
  if (o.freshness_rate <= 0.0) throw model::InputError("--search-freshness-rate must be > 0");
  const auto dims = cli::parse_positive_list(o.dims, "--search-dims", "768,64");
  const bool temporary = o.dir.empty();
  const fs::path work =
      temporary ? fs::temp_directory_path() / ("internvl-bench-search-" + std::to_string(getpid()))
                : fs::path(o.dir);
  std::vector<SearchMeasurement> all;
  for (const auto dim : dims) {
    all.push_back(measure_search(o, static_cast<int>(dim), work, [&](const std::string& what) {
      std::cerr << "internvl bench: search dim " << dim << ": " << what << std::endl;
    }));
  }
  if (temporary) fs::remove_all(work);
  if (!context.json) print_table(o, all);
  nlohmann::json results = nlohmann::json::array();
  for (const auto& m : all) results.push_back(result_json(m));
  return {{"context",
           {{"frames", o.vectors},
            {"streams", o.streams},
            {"clusters", o.clusters},
            {"queries_per_filter", o.queries},
            {"freshness_ingest_frames_per_second", o.freshness_rate},
            {"cores", std::thread::hardware_concurrency()},
            {"seed", o.seed},
            {"targets",
             {{"p95_ms_filtered_768", ms(kTargetP95Seconds)},
              {"recall_at_10", kTargetRecall},
              {"ingest_frames_per_second", kTargetIngestPerSecond},
              {"bytes_per_768_vector", kTargetBytesPerVector768},
              {"freshness_p95_seconds", kTargetFreshnessSeconds}}}}},
          {"results", results}};
}

}  // namespace

cli::BenchTask search_bench_task() {
  auto o = std::make_shared<SearchBenchOptions>();
  cli::BenchTask task;
  task.name = "search";
  task.help = "search (the frame search index on synthetic embeddings; no model needed)";
  task.add_options = [o](CLI::App& bench) {
    bench.add_option("--search-vectors", o->vectors, "search: frames indexed")
        ->capture_default_str();
    bench.add_option("--search-dims", o->dims, "search: embedding sizes, comma-separated")
        ->capture_default_str();
    bench.add_option("--search-queries", o->queries, "search: timed queries per filter")
        ->capture_default_str();
    bench.add_option("--search-streams", o->streams, "search: cameras, each sampled at 1 fps")
        ->capture_default_str();
    bench.add_option("--search-clusters", o->clusters, "search: topics of the embeddings")
        ->capture_default_str();
    bench
        .add_option("--search-thumbnail-frames", o->thumbnail_frames,
                    "search: frames of the disk run with and without thumbnails")
        ->capture_default_str();
    bench
        .add_option("--search-freshness-probes", o->freshness_probes,
                    "search: frames timed from add() to found")
        ->capture_default_str();
    bench
        .add_option("--search-freshness-rate", o->freshness_rate,
                    "search: frames/s ingested while freshness is measured")
        ->capture_default_str();
    bench.add_option("--search-exact-limit", o->exact_limit,
                     "search: frames below which search is exact (default: the index's)");
    bench.add_option("--search-dir", o->dir,
                     "search: where the indexes are written (default: a temporary directory)");
  };
  task.run = [o](const cli::BenchTaskContext& context) { return run(*o, context); };
  return task;
}

}  // namespace ivs::search
