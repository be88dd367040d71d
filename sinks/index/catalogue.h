// SPDX-License-Identifier: Apache-2.0
// The index's rows in memory, ordered by id: what filters are evaluated on (so they restrict
// the candidates before ranking), what moments are built from, where the latest thumbnail of a
// stream is found. About 40 bytes a frame, next to the 768 of its vector code.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <faiss/impl/IDSelector.h>

#include "sinks/index/search_index.h"

namespace ivs::search {

/// Wall-clock times as the catalogue and the database keep them: nanoseconds since the epoch.
inline int64_t to_ns(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
inline std::chrono::system_clock::time_point from_ns(int64_t ns) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(ns)));
}

struct CatalogueRow {
  int64_t id = 0;  // SQLite row id = FAISS id = thumbnail id
  int64_t wall_ns = 0;
  int64_t pts_ns = 0;
  int64_t frame_id = 0;
  int32_t stream = 0;  // index into Catalogue::streams()
  bool has_thumbnail = false;
};

/// The candidates of a filter: a bitmap over the ids [base, base + bits), usable as a FAISS
/// selector. Valid while the catalogue it came from is not modified.
class Selection : public faiss::IDSelector {
 public:
  Selection(int64_t base, std::vector<bool> bits, size_t count)
      : base_(base), bits_(std::move(bits)), count_(count) {}
  bool is_member(idx_t id) const override {
    const int64_t offset = id - base_;
    return offset >= 0 && offset < static_cast<int64_t>(bits_.size()) &&
           bits_[static_cast<size_t>(offset)];
  }
  size_t count() const { return count_; }

 private:
  int64_t base_;
  std::vector<bool> bits_;
  size_t count_;
};

/// Not thread-safe: the index guards it with its reader/writer lock.
class Catalogue {
 public:
  /// Names of streams by their index; stream_index() adds one when new.
  const std::vector<std::string>& streams() const { return streams_; }
  int32_t stream_index(const std::string& name);
  std::optional<int32_t> find_stream(const std::string& name) const;

  /// Rows must come in increasing id order.
  void append(const CatalogueRow& row);
  /// Removes every row with id <= last_id; returns how many.
  size_t erase_through(int64_t last_id);

  const CatalogueRow* find(int64_t id) const;
  bool contains(int64_t id) const { return find(id) != nullptr; }
  size_t size() const { return rows_.size(); }
  bool empty() const { return rows_.empty(); }
  const std::deque<CatalogueRow>& rows() const { return rows_; }
  int64_t last_id() const { return rows_.empty() ? 0 : rows_.back().id; }

  /// The rows the filter admits; nullopt when the filter admits every row (no selector needed).
  std::optional<Selection> select(const SearchFilter& filter) const;

  /// The newest row of the stream with a thumbnail.
  std::optional<int64_t> latest_thumbnail_id(const std::string& stream) const;

  size_t memory_bytes() const;

 private:
  std::deque<CatalogueRow> rows_;
  std::vector<std::string> streams_;
  // Stream -> its newest row with a thumbnail: the status page asks every few seconds per
  // stream, and a stream without thumbnails would otherwise scan every row.
  std::map<int32_t, int64_t> latest_thumbnail_;
};

/// Admits ids the catalogue no longer has: deleted from SQLite after a vector file was saved,
/// or while an IVF was retrained.
struct NotInCatalogue : faiss::IDSelector {
  explicit NotInCatalogue(const Catalogue& catalogue) : catalogue(catalogue) {}
  bool is_member(idx_t id) const override { return !catalogue.contains(id); }
  const Catalogue& catalogue;
};

}  // namespace ivs::search
