// SPDX-License-Identifier: Apache-2.0
// FrameIndex's writer thread: batch commits, retention, vector file saves.
#include <algorithm>
#include <cmath>

#include "sinks/index/float16.h"
#include "sinks/index/frame_index.h"

namespace ivs::search {
namespace {

// Rows deleted per retention transaction: small enough that a commit of new frames is never
// held up for long (a few ms), large enough that retention outpaces ingest.
constexpr size_t kRetentionChunk = 4096;
constexpr uint64_t kMinUnsavedRows = 10000;

}  // namespace

void FrameIndex::writer_loop() {
  auto last_save = std::chrono::steady_clock::now();
  bool more_retention = false;
  for (;;) {
    std::vector<IndexedFrame> batch;
    uint64_t batch_end = 0;
    bool stop = false;
    {
      std::unique_lock<std::mutex> lock(queue_mutex_);
      // With retention behind, only commit what came in and go on deleting.
      const auto wait = more_retention ? std::chrono::milliseconds(0) : options_.commit_interval;
      queue_cv_.wait_for(lock, wait, [&] {
        return stopping_ || flush_requested_ || queue_.size() >= options_.queue_capacity / 2;
      });
      batch.swap(queue_);
      batch_end = enqueued_;
      stop = stopping_;
      flush_requested_ = false;
    }
    if (!batch.empty()) commit(batch);
    finish_save(stop);
    if (pending_.ids.empty()) {  // else flush() waits until the save ends and they are applied
      std::lock_guard<std::mutex> lock(queue_mutex_);
      committed_ = batch_end;
    }
    committed_cv_.notify_all();
    if (stop) break;
    if (saving()) {  // leave the catalogue and FAISS to the save meanwhile
      more_retention = false;
      continue;
    }
    advance_structure(false);
    more_retention = retain_one_chunk();
    const auto since_save = std::chrono::steady_clock::now() - last_save;
    if (options_.save_interval.count() > 0 && since_save >= options_.save_interval &&
        worth_saving()) {
      start_save();
      last_save = std::chrono::steady_clock::now();
    }
  }
  advance_structure(true);
  start_save();
  finish_save(true);
}

int64_t FrameIndex::store_stream_id(const std::string& name) {
  auto it = store_streams_.find(name);
  if (it != store_streams_.end()) return it->second;
  const int64_t id = store_->add_stream(name);
  store_streams_.emplace(name, id);
  return id;
}

void FrameIndex::commit(std::vector<IndexedFrame>& batch) {
  try {
    if (!meta_stored_) {
      std::lock_guard<std::mutex> lock(space_mutex_);
      store_->set_mode_and_dim(mode_, dim_);
      meta_stored_ = true;
    }
    std::vector<StoredFrame> stored(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      const IndexedFrame& frame = batch[i];
      stored[i].stream_id = store_stream_id(frame.stream);
      stored[i].frame_id = frame.frame_id;
      stored[i].pts_ns = frame.pts_ns;
      stored[i].wall_ns = to_ns(frame.wall_time);
      stored[i].embedding = to_float16(frame.embedding);
      stored[i].thumbnail_jpeg = &frame.thumbnail_jpeg;
    }
    const std::vector<int64_t> ids = store_->insert(stored);
    for (size_t i = 0; i < batch.size(); ++i) {
      pending_.rows.push_back({ids[i], stored[i].wall_ns, stored[i].pts_ns, stored[i].frame_id, 0,
                               !batch[i].thumbnail_jpeg.empty()});
      pending_.streams.push_back(batch[i].stream);
    }
    // FAISS gets the stored (float16) values, so a rebuild from SQLite finds the same scores.
    for (const StoredFrame& frame : stored) {
      append_from_float16(frame.embedding.data(), frame.embedding.size(), pending_.floats);
    }
    pending_.ids.insert(pending_.ids.end(), ids.begin(), ids.end());
    indexed_ += batch.size();
    unsaved_changes_ += batch.size();
    if (!saving()) apply_pending();
  } catch (const std::exception& error) {
    // Disk full or a broken database: the frames are lost, counted and said; the writer goes on.
    dropped_ += batch.size();
    log_failure("commit", "search index: could not commit " + std::to_string(batch.size()) +
                              " frames: " + error.what());
  }
}

int64_t FrameIndex::retention_boundary() const {
  std::shared_lock<std::shared_mutex> lock(index_mutex_);
  const auto& rows = catalogue_.rows();
  const size_t chunk = std::min(kRetentionChunk, rows.size());
  if (chunk == 0) return 0;
  if (options_.retention_hours > 0) {
    const auto max_age = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double, std::ratio<3600>>(options_.retention_hours));
    const int64_t cutoff = to_ns(now()) - max_age.count();
    // Oldest first by id; a frame with an out-of-order wall time stops the prefix until it
    // expires itself, which keeps deletes a contiguous id range.
    size_t expired = 0;
    while (expired < chunk && rows[expired].wall_ns < cutoff) ++expired;
    if (expired > 0) return rows[expired - 1].id;
  }
  if (options_.max_disk_gb > 0) {
    const auto limit = static_cast<double>(options_.max_disk_gb) * 1e9;
    // The vector file as it will be next saved (the one on disk may be stale).
    const auto vector_bytes = static_cast<double>(vectors_ ? vectors_->memory_bytes() : 0);
    auto bytes = static_cast<double>(store_->used_bytes()) + vector_bytes;
    if (bytes <= limit) return 0;
    // A large WAL shrinks only when truncated; deleting frames because of it would delete far
    // too many. Measure again after a truncation, or wait for the next round if a reader holds
    // the WAL.
    if (!store_->truncate_wal()) return 0;
    bytes = static_cast<double>(store_->used_bytes()) + vector_bytes;
    if (bytes <= limit) return 0;
    const double per_row = bytes / static_cast<double>(rows.size());
    const auto excess_rows = static_cast<size_t>(std::ceil((bytes - limit) / per_row));
    return rows[std::clamp<size_t>(excess_rows, 1, chunk) - 1].id;
  }
  return 0;
}

bool FrameIndex::retain_one_chunk() {
  try {
    const int64_t through = retention_boundary();
    if (through == 0) return false;
    store_->delete_through(through);
    size_t erased = 0;
    {
      std::unique_lock<std::shared_mutex> lock(index_mutex_);
      erased = catalogue_.erase_through(through);
      if (vectors_) vectors_->remove(faiss::IDSelectorRange(0, through + 1));
    }
    deleted_ += erased;
    unsaved_changes_ += erased;
    store_->reclaim_space();
  } catch (const std::exception& error) {
    log_failure("retention", std::string("search index: retention failed: ") + error.what());
    return false;
  }
  return true;
}

void FrameIndex::apply_pending() {
  if (pending_.ids.empty()) return;
  std::unique_lock<std::shared_mutex> lock(index_mutex_);
  for (size_t i = 0; i < pending_.rows.size(); ++i) {
    CatalogueRow row = pending_.rows[i];
    row.stream = catalogue_.stream_index(pending_.streams[i]);
    catalogue_.append(row);
  }
  if (!vectors_) vectors_ = std::make_unique<VectorIndex>(dim_, options_.exact_limit);
  vectors_->add(pending_.ids.size(), pending_.floats.data(), pending_.ids.data());
  pending_ = PendingRows();
}

bool FrameIndex::saving() const {
  return saving_.valid() && saving_.wait_for(std::chrono::seconds(0)) != std::future_status::ready;
}

bool FrameIndex::worth_saving() const {
  // Saving writes the whole structure (800 MB at 1M x 768, about 2.5 s) and delays freshness
  // meanwhile; what it saves is the catch-up at the next open, which costs about as much per
  // row as ingest. So save when a tenth of the index (and at least kMinUnsavedRows) is unsaved.
  std::shared_lock<std::shared_mutex> lock(index_mutex_);
  return unsaved_changes_ >= std::max<uint64_t>(kMinUnsavedRows, catalogue_.size() / 10);
}

void FrameIndex::start_save() {
  if (unsaved_changes_ == 0 || saving_.valid()) return;
  unsaved_at_save_ = unsaved_changes_;
  // Searches go on meanwhile (shared lock); the writer goes on committing to SQLite and keeps
  // the new rows in pending_ until finish_save().
  saving_ = std::async(std::launch::async, [this]() -> std::string {
    try {
      std::shared_lock<std::shared_mutex> lock(index_mutex_);
      if (vectors_) vectors_->save(vector_file_, catalogue_.last_id());
      return "";
    } catch (const std::exception& error) {
      return error.what();
    }
  });
}

void FrameIndex::finish_save(bool wait) {
  if (!saving_.valid() || (!wait && saving())) return;
  const std::string error = saving_.get();
  if (error.empty()) {
    unsaved_changes_ -= std::min(unsaved_changes_, unsaved_at_save_);
  } else {
    log_failure("save", "search index: " + error);
  }
  apply_pending();
}

void FrameIndex::log_failure(const std::string& kind, const std::string& message) {
  const auto now = std::chrono::steady_clock::now();
  auto it = last_failure_log_.find(kind);
  if (it != last_failure_log_.end() && now - it->second < std::chrono::minutes(1)) return;
  last_failure_log_[kind] = now;
  log(message + " (failures of this kind are logged once a minute)");
}

}  // namespace ivs::search
