// SPDX-License-Identifier: Apache-2.0
// The index's source of truth: <dir>/index.sqlite in WAL mode, so readers (the CLI, another
// process) read while the one writer commits, and a killed writer loses at most the batch it
// was committing. Frames are never updated, only appended and deleted oldest first.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sinks/index/search_index.h"

struct sqlite3;

namespace ivs::search {

/// A frame as it is stored: the embedding already in float16.
struct StoredFrame {
  int64_t stream_id = 0;  // streams.id
  int64_t frame_id = 0;
  int64_t pts_ns = 0;
  int64_t wall_ns = 0;
  std::vector<uint16_t> embedding;                       // [dim] float16
  const std::vector<uint8_t>* thumbnail_jpeg = nullptr;  // empty or null: none
};

/// One row as the catalogue loads it; `embedding` points into SQLite's buffer (valid during
/// the callback) and is null when not asked for.
struct RowView {
  int64_t id = 0;
  int64_t stream_id = 0;
  int64_t frame_id = 0;
  int64_t pts_ns = 0;
  int64_t wall_ns = 0;
  bool has_thumbnail = false;
  const uint16_t* embedding = nullptr;
  size_t embedding_size = 0;
};

/// One connection; not thread-safe (the index gives each thread that uses one its own).
class SqliteStore {
 public:
  /// Opens <file>; a writable store creates it and its schema. Throws IndexError naming the
  /// file for a file that is not a database, a corrupt one, or one of another schema.
  SqliteStore(const std::filesystem::path& file, bool read_only);
  ~SqliteStore();
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  /// Mode and dim of the stored embeddings ("" and 0 until the first frame).
  std::string mode() const;
  int dim() const;
  void set_mode_and_dim(const std::string& mode, int dim);

  /// id -> name of every stream; streams are never deleted (a handful per node).
  std::vector<std::pair<int64_t, std::string>> streams();
  int64_t add_stream(const std::string& name);

  /// Inserts the frames in one transaction; returns their ids, ascending.
  std::vector<int64_t> insert(const std::vector<StoredFrame>& frames);

  /// Calls `visit` for each row with id > after_id in id order, with the embedding when asked.
  void for_each_row(int64_t after_id, bool with_embedding,
                    const std::function<void(const RowView&)>& visit);

  /// The embeddings of the rows with id > after_id, in id order, as floats, 8192 rows per
  /// call of `add` (bounding the float copy). Throws IndexError for a row whose embedding is
  /// not of `dim` values.
  void for_each_vector_batch(
      int64_t after_id, int dim,
      const std::function<void(size_t n, const float* vectors, const int64_t* ids)>& add);
  /// The error for frame `id` stored with `count` values in an index of `dim`.
  IndexError wrong_dim(int64_t id, size_t count, int dim) const;

  std::optional<std::vector<uint8_t>> thumbnail(int64_t id);

  /// Calls `visit` with the float16 embedding of each id still present, in one read
  /// transaction (one prepared statement stepped per id: the re-ranking reads of a search, a
  /// few hundred rows from the OS page cache). Ids retention deleted are skipped.
  void embeddings(const std::vector<int64_t>& ids,
                  const std::function<void(int64_t id, const uint16_t* half, size_t count)>& visit);

  /// Deletes the rows with ids <= last_id (and their thumbnails) in one transaction.
  void delete_through(int64_t last_id);
  /// Returns freed pages to the file system (auto_vacuum=INCREMENTAL) and checkpoints the WAL.
  void reclaim_space();
  /// Copies the WAL into the database and truncates it, without waiting: false when a reader
  /// still needs the WAL (the WAL then keeps its size until a later try).
  bool truncate_wal();

  /// Bytes of the database file and its WAL.
  uint64_t file_bytes() const;
  /// Bytes the database will have once the WAL is checkpointed (pages in use as this
  /// connection sees them) plus the WAL file: what retention measures, so that a checkpoint
  /// held back by a reader does not make it delete more than it must.
  uint64_t used_bytes() const;

  /// A read transaction: everything read until end_read() sees one snapshot (loading the
  /// catalogue and then the embeddings must agree while a writer commits).
  void begin_read() { exec("BEGIN"); }
  void end_read() { exec("COMMIT"); }

  const std::filesystem::path& file() const { return file_; }

 private:
  void exec(const char* sql);
  int64_t pragma_int(const char* sql) const;
  void create_schema();
  void check_schema();
  [[noreturn]] void fail(const std::string& what, int code) const;

  std::filesystem::path file_;
  sqlite3* db_ = nullptr;
};

}  // namespace ivs::search
