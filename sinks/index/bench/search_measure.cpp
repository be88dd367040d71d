// SPDX-License-Identifier: Apache-2.0
#include "sinks/index/bench/search_measure.h"

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "sinks/index/bench/exact_search.h"
#include "sinks/index/bench/synthetic_frames.h"
#include "sinks/index/search_index.h"

namespace ivs::search {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr size_t kTopK = 10;
constexpr auto kProbeTimeout = std::chrono::seconds(30);
constexpr auto kSettleTimeout = std::chrono::minutes(10);

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Resident set in bytes, after handing freed heap back to the system so that it measures
// what is held, not what malloc keeps around.
double resident_bytes() {
  malloc_trim(0);
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return 1024.0 * std::stod(line.substr(6));
  }
  return 0.0;
}

uint64_t directory_bytes(const fs::path& dir) {
  uint64_t total = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) total += entry.file_size();
  }
  return total;
}

SearchIndexOptions index_options(const SearchBenchOptions& o, const fs::path& dir) {
  SearchIndexOptions options;
  options.dir = dir;
  options.retention_hours = 0.0;  // synthetic wall times are in the past; keep everything
  options.max_disk_gb = 0.0;
  // Every hit its own moment, so the moments' best frames are the index's top frames and
  // recall compares like with like.
  options.merge_gap = std::chrono::milliseconds(0);
  if (o.exact_limit > 0) options.exact_limit = o.exact_limit;
  options.log = [](const std::string&) {};  // the bench's output stays a table or JSON
  return options;
}

// add() that waits while the queue is full: the benchmark measures sustained ingest, which the
// writer's pace bounds, so nothing may be dropped. It sleeps rather than spins: on two cores a
// spinning producer would take the writer's CPU. A full queue of 4096 frames lasts ~0.5 s.
void add_all(SearchIndex& index, IndexedFrame frame, uint64_t& retries) {
  while (!index.add(frame)) {
    ++retries;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Adds frames [begin, end); returns the wall seconds until the last is searchable.
double ingest(SearchIndex& index, const SyntheticFrames& data, size_t begin, size_t end,
              bool thumbnails, uint64_t& retries) {
  const auto start = Clock::now();
  for (size_t i = begin; i < end; ++i) add_all(index, data.frame(i, thumbnails), retries);
  index.flush();
  return seconds_since(start);
}

// Above its exact limit the index trains its IVF in the background and keeps serving the exact
// structure meanwhile, and retrains it as it grows; memory, latency and recall are measured once
// it has switched and no training runs (the state it runs in), and the wait is reported.
double wait_until_settled(const SearchIndex& index, size_t frames, size_t exact_limit) {
  const auto start = Clock::now();
  if (frames <= exact_limit) return 0.0;
  const auto settled = [&] {
    const SearchIndexStats stats = index.stats();
    return stats.structure != "exact" && !stats.training;
  };
  while (!settled() && Clock::now() - start < kSettleTimeout) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return seconds_since(start);
}

struct FilterKind {
  const char* name;
  int cameras;             // 0: no filter
  double window_fraction;  // of the data's time span
};

std::vector<BenchQuery> make_queries(const SyntheticFrames& data, const FilterKind& kind,
                                     size_t count, uint64_t seed) {
  const int streams = data.config().streams;
  const int64_t span = data.frame_id(data.config().count - 1);
  std::vector<BenchQuery> out;
  for (size_t q = 0; q < count; ++q) {
    BenchQuery query;
    query.embedding = data.query(q);
    if (kind.cameras > 0) {
      uint64_t r = seed * 0x9E3779B97F4A7C15ULL + q * 0xBF58476D1CE4E5B9ULL + 1;
      auto next = [&r] {
        r ^= r >> 31;
        r *= 0x94D049BB133111EBULL;
        return r ^ (r >> 29);
      };
      std::set<int> cameras;
      while (static_cast<int>(cameras.size()) < std::min(kind.cameras, streams)) {
        cameras.insert(static_cast<int>(next() % static_cast<uint64_t>(streams)));
      }
      query.cameras.assign(cameras.begin(), cameras.end());
      const auto window = static_cast<int64_t>(kind.window_fraction * static_cast<double>(span));
      query.first_frame_id = std::max<int64_t>(
          1, static_cast<int64_t>(next() % static_cast<uint64_t>(span - window + 1)));
      query.last_frame_id = query.first_frame_id + window;
    }
    out.push_back(std::move(query));
  }
  return out;
}

// The frame number of a moment's best frame (camera from the stream name "cam007").
size_t frame_of(const SyntheticFrames& data, const Moment& m) {
  const auto camera = static_cast<size_t>(std::stoi(m.stream.substr(3)));
  return static_cast<size_t>(m.best_frame_id) * static_cast<size_t>(data.config().streams) + camera;
}

FilterResult measure_filter(const SearchIndex& index, const SyntheticFrames& data,
                            const FilterKind& kind, const SearchBenchOptions& o) {
  FilterResult r;
  r.filter = kind.name;
  const auto queries = make_queries(data, kind, o.queries, o.seed);
  const auto threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const auto exact = exact_top_k(data, queries, kTopK, threads);
  double recall = 0.0, scene_recall = 0.0, admitted = 0.0;
  for (size_t q = 0; q < queries.size(); ++q) {
    const auto filter = queries[q].filter(data);
    const auto start = Clock::now();
    const auto moments = index.search(queries[q].embedding, kTopK, filter);
    r.seconds.push_back(seconds_since(start));
    std::set<size_t> found;
    std::set<uint64_t> found_scenes;
    for (const auto& m : moments) {
      found.insert(frame_of(data, m));
      found_scenes.insert(data.scene(frame_of(data, m)));
    }
    size_t hits = 0, scene_hits = 0;
    for (size_t frame : exact[q]) {
      hits += found.count(frame);
      scene_hits += found_scenes.count(data.scene(frame));
    }
    const double wanted = static_cast<double>(std::max<size_t>(1, exact[q].size()));
    recall += exact[q].empty() ? 1.0 : static_cast<double>(hits) / wanted;
    scene_recall += exact[q].empty() ? 1.0 : static_cast<double>(scene_hits) / wanted;
    const double span = static_cast<double>(data.frame_id(data.config().count - 1) + 1);
    const double window =
        queries[q].cameras.empty()
            ? 1.0
            : static_cast<double>(queries[q].last_frame_id - queries[q].first_frame_id + 1) / span;
    const double share =
        queries[q].cameras.empty()
            ? 1.0
            : static_cast<double>(queries[q].cameras.size()) / data.config().streams;
    admitted += window * share;
  }
  r.recall_at_10 = recall / static_cast<double>(queries.size());
  r.scene_recall_at_10 = scene_recall / static_cast<double>(queries.size());
  r.candidates = admitted / static_cast<double>(queries.size());
  return r;
}

// A probe frame on its own stream with an embedding no synthetic frame is near.
IndexedFrame probe_frame(const SyntheticFrames& data, size_t p) {
  SyntheticFramesConfig c = data.config();
  c.seed ^= 0xF2E5B7ULL + p;
  c.clusters = 1;
  IndexedFrame f = data.frame(0, false);
  f.stream = "probe";
  f.frame_id = static_cast<int64_t>(p);
  f.pts_ns = f.frame_id * 1000000000LL;
  f.embedding = SyntheticFrames(c).query(p);
  return f;
}

// Time from add() until search() returns the frame, while a thread ingests more frames at
// `rate` per second.
void measure_freshness(SearchIndex& index, const SyntheticFrames& data, const SearchBenchOptions& o,
                       SearchMeasurement& m) {
  std::atomic<bool> stop{false};
  uint64_t background_retries = 0;
  std::thread background([&] {
    const auto start = Clock::now();
    for (size_t i = data.config().count; !stop; ++i) {
      add_all(index, data.frame(i, false), background_retries);
      const auto due =
          start + std::chrono::duration<double>(static_cast<double>(i - data.config().count + 1) /
                                                o.freshness_rate);
      std::this_thread::sleep_until(due);
    }
  });
  SearchFilter probe_only;
  probe_only.streams = {"probe"};
  for (size_t p = 0; p < o.freshness_probes; ++p) {
    auto frame = probe_frame(data, p);
    const auto query = frame.embedding;
    const auto start = Clock::now();
    add_all(index, std::move(frame), m.ingest_retries);
    bool found = false;
    while (!found && Clock::now() - start < kProbeTimeout) {
      const auto moments = index.search(query, 1, probe_only);
      found = !moments.empty() && moments[0].best_frame_id == static_cast<int64_t>(p);
      if (!found) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (found) {
      m.freshness_seconds.push_back(seconds_since(start));
    } else {
      ++m.freshness_missed;
    }
  }
  stop = true;
  background.join();
}

// Extra disk per frame that thumbnails cost, from two small indexes of the same frames.
void measure_thumbnails(const SearchBenchOptions& o, const SyntheticFrames& data,
                        const fs::path& work, SearchMeasurement& m) {
  const size_t n = std::min(o.thumbnail_frames, data.config().count);
  double per_frame[2] = {0.0, 0.0};
  for (int with = 0; with < 2; ++with) {
    const auto dir = work / (with ? "thumbnails" : "plain");
    {
      auto index = SearchIndex::open(index_options(o, dir));
      uint64_t retries = 0;
      ingest(*index, data, 0, n, with == 1, retries);
    }
    per_frame[with] = static_cast<double>(directory_bytes(dir)) / static_cast<double>(n);
    fs::remove_all(dir);
  }
  double jpeg = 0.0;
  for (size_t i = 0; i < 100; ++i)
    jpeg += static_cast<double>(data.frame(i, true).thumbnail_jpeg.size());
  m.thumbnail_run_frames = n;
  m.thumbnail_bytes_per_frame = per_frame[1] - per_frame[0];
  m.thumbnail_jpeg_bytes = jpeg / 100.0;
}

}  // namespace

SearchMeasurement measure_search(const SearchBenchOptions& o, int dim, const fs::path& work_dir,
                                 const std::function<void(const std::string&)>& progress) {
  SyntheticFramesConfig config;
  config.count = o.vectors;
  config.dim = dim;
  config.streams = o.streams;
  config.clusters = o.clusters;
  config.seed = o.seed;
  const SyntheticFrames data(config);
  const auto work = work_dir / ("dim" + std::to_string(dim));
  fs::remove_all(work);
  fs::create_directories(work);
  SearchMeasurement m;
  m.dim = dim;
  m.frames = o.vectors;
  uint64_t final_frames = 1;
  {
    const double rss_before = resident_bytes();
    auto index = SearchIndex::open(index_options(o, work / "index"));
    progress("ingesting " + std::to_string(o.vectors) + " frames");
    m.ingest_seconds = ingest(*index, data, 0, o.vectors, false, m.ingest_retries);
    const size_t limit = o.exact_limit > 0 ? o.exact_limit : SearchIndexOptions{}.exact_limit;
    m.settle_seconds = wait_until_settled(*index, o.vectors, limit);
    const auto stats = index->stats();
    m.structure = stats.structure;
    m.rss_bytes_per_vector = (resident_bytes() - rss_before) / static_cast<double>(o.vectors);
    m.estimate_bytes_per_vector =
        static_cast<double>(stats.memory_bytes) / static_cast<double>(o.vectors);
    const FilterKind kinds[] = {
        {"none", 0, 1.0},
        {"1 stream, half the time", 1, 0.5},
        {"10% of streams, half the time", std::max(1, o.streams / 10), 0.5}};
    for (const auto& kind : kinds) {
      progress("queries and exact search, filter: " + std::string(kind.name));
      m.filters.push_back(measure_filter(*index, data, kind, o));
    }
    progress("freshness");
    measure_freshness(*index, data, o, m);
    index->flush();
    final_frames = index->stats().frames;  // the freshness phase added some
  }  // closing saves the vector file: the disk figure includes it
  m.disk_bytes_per_frame =
      static_cast<double>(directory_bytes(work / "index")) / static_cast<double>(final_frames);
  fs::remove_all(work / "index");
  progress("disk with and without thumbnails");
  measure_thumbnails(o, data, work, m);
  fs::remove_all(work);
  return m;
}

}  // namespace ivs::search
