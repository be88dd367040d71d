// SPDX-License-Identifier: Apache-2.0
// The SearchIndex implementation. Threads: any number of callers of add()/search(); one writer
// thread that commits batches to SQLite and then, under the exclusive side of index_mutex_,
// appends them to the catalogue and FAISS; searches hold the shared side. Retention runs in the
// writer thread too, one chunk at a time, so ingest continues between chunks; IVF training and
// vector file saves run in tasks beside it. Loading is in frame_index.cpp, the writer thread in
// frame_index_writer.cpp, IVF (re)training in frame_index_structure.cpp.
#pragma once

#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "sinks/index/catalogue.h"
#include "sinks/index/dir_lock.h"
#include "sinks/index/search_index.h"
#include "sinks/index/sqlite_store.h"
#include "sinks/index/vector_index.h"

namespace ivs::search {

class FrameIndex final : public SearchIndex {
 public:
  explicit FrameIndex(const SearchIndexOptions& options);
  /// Commits what is queued, saves the vector file (writable index), releases the lock.
  ~FrameIndex() override;

  bool add(IndexedFrame frame) override;
  std::vector<Moment> search(const std::vector<float>& query, size_t k,
                             const SearchFilter& filter) const override;
  std::optional<std::vector<uint8_t>> thumbnail(int64_t id) const override;
  std::optional<int64_t> latest_thumbnail_id(const std::string& stream) const override;
  void flush() override;
  SearchIndexStats stats() const override;

 private:
  // Loading (frame_index.cpp).
  void load_catalogue();
  void load_vectors();
  void add_rows_to_vectors(VectorIndex& vectors, int64_t after_id);
  void log(const std::string& message) const;
  std::chrono::system_clock::time_point now() const;

  // Writer thread (frame_index_writer.cpp).
  void writer_loop();
  void commit(std::vector<IndexedFrame>& batch);
  int64_t store_stream_id(const std::string& name);
  // IVF training and retraining (frame_index_structure.cpp).
  void advance_structure(bool wait);
  void start_training();
  void adopt_trained(VectorIndex::TrainedIvf trained, bool wait);
  static void catch_up(VectorIndex::TrainedIvf& trained, SqliteStore& store, int dim);
  bool retain_one_chunk();
  int64_t retention_boundary() const;
  void apply_pending();
  bool saving() const;
  bool worth_saving() const;
  void start_save();
  void finish_save(bool wait);
  /// Logs a writer-thread failure at most once a minute per kind (disk full repeats 4x/s).
  void log_failure(const std::string& kind, const std::string& message);

  SearchIndexOptions options_;
  std::filesystem::path db_file_;
  std::filesystem::path vector_file_;
  std::optional<DirLock> lock_;                   // writable only
  std::unique_ptr<SqliteStore> store_;            // the writer thread's connection (after open)
  std::map<std::string, int64_t> store_streams_;  // name -> streams.id; writer thread only

  /// A read-only connection for one search or thumbnail, from a pool that grows to the
  /// number of concurrent readers (a SQLite connection serves one thread at a time).
  class ReaderLease {
   public:
    explicit ReaderLease(const FrameIndex& index);
    ~ReaderLease();
    ReaderLease(const ReaderLease&) = delete;
    ReaderLease& operator=(const ReaderLease&) = delete;
    SqliteStore& store() { return *store_; }

   private:
    const FrameIndex& index_;
    std::unique_ptr<SqliteStore> store_;
  };
  mutable std::mutex reader_mutex_;  // guards idle_readers_
  mutable std::vector<std::unique_ptr<SqliteStore>> idle_readers_;

  mutable std::shared_mutex index_mutex_;  // guards catalogue_ and vectors_
  Catalogue catalogue_;
  std::unique_ptr<VectorIndex> vectors_;  // null until the first frame

  mutable std::mutex space_mutex_;  // guards mode_, dim_ (fixed by the first frame)
  std::string mode_;
  int dim_ = 0;

  std::mutex queue_mutex_;  // guards the queue fields
  std::condition_variable queue_cv_;
  std::condition_variable committed_cv_;
  std::vector<IndexedFrame> queue_;
  uint64_t enqueued_ = 0;   // frames ever accepted by add()
  uint64_t committed_ = 0;  // of those, handled by the writer
  bool flush_requested_ = false;
  bool stopping_ = false;

  std::atomic<uint64_t> indexed_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> deleted_{0};
  bool meta_stored_ = false;  // writer thread only
  // Writer thread only: rows added or deleted since the vector file was saved (a rebuild or
  // a structure switch counts as every row).
  uint64_t unsaved_changes_ = 0;
  // Writer thread only: rows committed to SQLite that wait for the catalogue and FAISS while a
  // save reads them (in the background, so ingest never waits for the disk).
  struct PendingRows {
    std::vector<CatalogueRow> rows;    // .stream is set when applied, from `streams`
    std::vector<std::string> streams;  // [rows]
    std::vector<float> floats;         // [rows, dim]
    std::vector<int64_t> ids;          // [rows]
  };
  PendingRows pending_;
  std::future<std::string> saving_;  // writer thread only: the save running; "" = success
  uint64_t unsaved_at_save_ = 0;     // writer thread only: unsaved_changes_ when it started
  std::future<VectorIndex::TrainedIvf> training_;  // writer thread only: the IVF in training
  std::atomic<bool> training_now_{false};          // training_ is running (stats)
  std::atomic<bool> ivf_failed_{false};            // training failed: keep the structure in use
  std::map<std::string, std::chrono::steady_clock::time_point> last_failure_log_;  // writer
  std::thread writer_;
};

}  // namespace ivs::search
