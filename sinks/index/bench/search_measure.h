// SPDX-License-Identifier: Apache-2.0
// One run of the search benchmark at one dimension: ingest, query latency and recall under
// filters, memory, disk and freshness, measured through the public SearchIndex API only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace ivs::search {

struct SearchBenchOptions {
  size_t vectors = 1000000;  // frames in the index
  std::string dims = "768,64";
  size_t queries = 200;             // per filter
  int streams = 100;                // cameras sampling at 1 fps
  int clusters = 2000;              // topics of the synthetic embeddings
  size_t thumbnail_frames = 20000;  // frames of the disk-with-thumbnails run
  size_t freshness_probes = 20;
  double freshness_rate = 1000.0;  // frames/s ingested meanwhile (1000 cameras at 1 fps)
  size_t exact_limit = 0;          // 0: the index's default
  std::string dir;                 // where the indexes go; "": a temporary directory
  uint64_t seed = 0;
};

/// One set of queries under one kind of filter.
struct FilterResult {
  std::string filter;           // "none", "1 stream + half the time", ...
  double candidates = 0.0;      // mean fraction of the frames the filter admits
  std::vector<double> seconds;  // per query
  double recall_at_10 = 0.0;    // mean over queries of |index top 10 ∩ exact top 10| / 10
  // The same counting an exact top-10 frame as found when the index returned a frame of its
  // scene (a near-duplicate a moment would show anyway): separates ranking swaps among
  // near-identical frames from missed scenes.
  double scene_recall_at_10 = 0.0;
};

struct SearchMeasurement {
  int dim = 0;
  size_t frames = 0;
  std::string structure;  // "exact" / "ivf-sq8" once settled (what the queries ran on)
  double ingest_seconds = 0.0;
  uint64_t ingest_retries = 0;  // add() found the queue full and was called again
  double settle_seconds = 0.0;  // after ingest, until the background-trained IVF took over
  std::vector<FilterResult> filters;
  double rss_bytes_per_vector = 0.0;       // resident set growth over the ingest / frames
  double estimate_bytes_per_vector = 0.0;  // the index's own memory_bytes / frames
  double disk_bytes_per_frame = 0.0;       // at `frames`, no thumbnails
  size_t thumbnail_run_frames = 0;
  double thumbnail_bytes_per_frame = 0.0;  // extra disk per frame with thumbnails
  double thumbnail_jpeg_bytes = 0.0;       // mean JPEG size
  std::vector<double> freshness_seconds;   // per probe
  size_t freshness_missed = 0;             // probes never found within 30 s
};

/// Runs every phase at `dim` in a fresh directory under `work_dir` (removed afterwards).
/// `progress` gets a line per phase. Throws on an index error.
SearchMeasurement measure_search(const SearchBenchOptions& options, int dim,
                                 const std::filesystem::path& work_dir,
                                 const std::function<void(const std::string&)>& progress);

}  // namespace ivs::search
