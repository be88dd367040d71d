// SPDX-License-Identifier: Apache-2.0
// The frame search index: every sampled frame's image embedding, searchable by a text
// embedding of the same mode. SQLite (WAL) in <dir>/index.sqlite is the source of truth; FAISS
// in memory is the search structure, saved to <dir>/vectors.faiss and caught up from SQLite
// when opened. One process writes a directory (a lock file says which); any number read it.
// No GStreamer, no LibTorch: callers bring embeddings and JPEG bytes.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ivs::search {

/// One sampled frame to index. The embedding is L2-normalised (as the engine gives it).
struct IndexedFrame {
  std::string stream;    // "cam01": the stream id (sensor id on the wire)
  int64_t frame_id = 0;  // frame number within the stream
  int64_t pts_ns = 0;    // stream time of the frame, nanoseconds
  std::chrono::system_clock::time_point wall_time;  // when the frame was seen
  std::string mode;                                 // "c" or "g": the embedding's space
  std::vector<float> embedding;                     // [dim], L2-normalised
  std::vector<uint8_t> thumbnail_jpeg;              // optional; empty: none
};

/// What a query may be restricted to; every field is optional. Filters choose the candidates
/// before ranking, so a narrow filter still returns its best matches.
struct SearchFilter {
  std::vector<std::string> streams;                           // empty: every stream
  std::optional<std::chrono::system_clock::time_point> from;  // wall clock, inclusive
  std::optional<std::chrono::system_clock::time_point> to;    // wall clock, inclusive
};

/// Consecutive hits of one stream merged: what a user sees as one result.
struct Moment {
  std::string stream;
  double start_seconds = 0.0;  // stream time of the first merged hit
  double end_seconds = 0.0;    // stream time of the last merged hit
  std::chrono::system_clock::time_point start_wall;
  std::chrono::system_clock::time_point end_wall;
  double score = 0.0;         // cosine similarity of the best frame, in [-1, 1]
  int64_t best_frame_id = 0;  // frame number (in its stream) of the best frame
  int64_t best_id = 0;        // the index's id of the best frame (names its thumbnail)
  bool has_thumbnail = false;
  int frames = 0;  // hits merged into this moment
};

struct SearchIndexOptions {
  std::filesystem::path dir;  // created when writable and missing
  bool read_only = false;     // readers (the CLI) never write, lock or retain
  // Retention, enforced continuously by the writer; <= 0 turns a limit off.
  double retention_hours = 72.0;
  double max_disk_gb = 10.0;
  // Ingest: frames wait here for the writer thread; add() drops when it is full.
  size_t queue_capacity = 4096;
  std::chrono::milliseconds commit_interval{250};  // freshness: a frame is searchable after this
  // Hits of one stream closer than this (stream time) merge into one moment.
  std::chrono::milliseconds merge_gap{3000};
  // Below this many frames search is exact (brute force); above it an IVF with 8-bit scalar
  // quantisation, trained in the background on the frames present when the limit is crossed
  // and retrained (from SQLite) each time it grows 4x; its candidates are re-ranked exactly.
  // Measured at dim 768 on the shared 2-core machine (load ~4.5), k=200: exact p95 22 ms at
  // 25,000 frames, 45 ms at 50,000; the IVF answers in p95 23 ms at 200,000. Tests lower it.
  size_t exact_limit = 25000;
  // How often the writer may save the vector file, when a tenth of the index (at least 10,000
  // rows) changed since the last save (it always saves at close); 0: only at close.
  std::chrono::seconds save_interval{300};
  // Wall clock for age retention; empty: std::chrono::system_clock::now. Tests inject one.
  std::function<std::chrono::system_clock::time_point()> now;
  // Where the index's operator messages go (a rebuilt vector file, retention); empty: stderr.
  std::function<void(const std::string&)> log;
};

struct SearchIndexStats {
  uint64_t frames_indexed = 0;  // committed by this process since open
  uint64_t frames_dropped = 0;  // add() found the queue full
  uint64_t frames_deleted = 0;  // removed by retention since open
  uint64_t frames = 0;          // in the index now
  uint64_t disk_bytes = 0;      // SQLite database + WAL + FAISS file
  uint64_t memory_bytes = 0;    // FAISS structure + in-memory catalogue (estimate)
  std::string structure;        // "exact" or "ivf-sq8"
  bool training = false;        // an IVF is being trained or retrained in the background
  int dim = 0;                  // 0 until the first frame
  std::string mode;             // "c", "g" or "" until the first frame
};

/// Thrown for a directory, database or vector file that cannot be used; the message names the
/// file and what to do.
class IndexError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class SearchIndex {
 public:
  /// Opens (or, when writable, creates) the index in options.dir. Throws IndexError on a
  /// corrupt SQLite file (naming it), a directory another process writes, or an unwritable
  /// directory. A missing or corrupt vector file is rebuilt from SQLite (logged to stderr).
  static std::unique_ptr<SearchIndex> open(const SearchIndexOptions& options);
  virtual ~SearchIndex() = default;

  /// Queues a frame; never blocks. False: the queue is full and the frame was dropped
  /// (counted in stats). Throws IndexError for a frame whose mode or dim differs from the
  /// index's, or on a read-only index.
  virtual bool add(IndexedFrame frame) = 0;

  /// The k best moments for a query embedding (L2-normalised, same mode and dim), best first.
  virtual std::vector<Moment> search(const std::vector<float>& query, size_t k,
                                     const SearchFilter& filter = {}) const = 0;

  /// JPEG bytes of a frame's thumbnail; nullopt when the id or its thumbnail is gone.
  virtual std::optional<std::vector<uint8_t>> thumbnail(int64_t id) const = 0;

  /// The newest indexed frame of a stream that has a thumbnail (for status pages); nullopt
  /// when none.
  virtual std::optional<int64_t> latest_thumbnail_id(const std::string& stream) const = 0;

  /// Commits everything queued so far (tests, shutdown); returns when it is searchable.
  virtual void flush() = 0;

  virtual SearchIndexStats stats() const = 0;
};

/// The process's one writable index for options.dir (by canonical path): the first call opens
/// it with its options, later calls for the same directory share it while anyone holds it. So
/// every internvlindex element of a process, and the service's REST API, use one writer.
std::shared_ptr<SearchIndex> open_shared_index(const SearchIndexOptions& options);

}  // namespace ivs::search
