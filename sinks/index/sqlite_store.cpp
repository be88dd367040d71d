// SPDX-License-Identifier: Apache-2.0
#include "sinks/index/sqlite_store.h"

#include <sqlite3.h>

#include <system_error>

#include "sinks/index/float16.h"

namespace ivs::search {
namespace {

constexpr int kSchemaVersion = 1;
// Long enough for a reader to wait out the writer's batch commit, short enough to fail visibly.
constexpr int kBusyTimeoutMs = 10000;
// Rows per batch of for_each_vector_batch(): bounds the temporary float copy (25 MB at 768).
constexpr size_t kVectorBatch = 8192;

/// A prepared statement, finalised on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    code_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  int prepare_code() const { return code_; }
  sqlite3_stmt* get() const { return stmt_; }
  void bind(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
  void bind(int index, const std::string& value) {
    sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  }
  void bind_blob(int index, const void* data, size_t bytes) {
    sqlite3_bind_blob(stmt_, index, data, static_cast<int>(bytes), SQLITE_STATIC);
  }
  int step() { return sqlite3_step(stmt_); }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t column_int(int index) const { return sqlite3_column_int64(stmt_, index); }
  std::string column_text(int index) const {
    const auto* text = sqlite3_column_text(stmt_, index);
    return text ? reinterpret_cast<const char*>(text) : "";
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int code_ = SQLITE_OK;
};

uint64_t size_or_zero(const std::filesystem::path& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  return error ? 0 : size;
}

}  // namespace

SqliteStore::SqliteStore(const std::filesystem::path& file, bool read_only) : file_(file) {
  const int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  const int code = sqlite3_open_v2(file.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (code != SQLITE_OK) fail("cannot open it", code);
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  if (read_only) {
    check_schema();
    return;
  }
  // auto_vacuum only takes effect before the first table; on an existing file it is a no-op.
  exec("PRAGMA auto_vacuum=INCREMENTAL");
  exec("PRAGMA journal_mode=WAL");
  // In WAL, NORMAL syncs at checkpoints only: a process crash loses nothing committed, a power
  // cut at most the last commits (the issue allows the last two seconds).
  exec("PRAGMA synchronous=NORMAL");
  // The WAL is truncated back to this after checkpoints, so disk retention sees real sizes.
  exec("PRAGMA journal_size_limit=67108864");
  create_schema();
  check_schema();
}

SqliteStore::~SqliteStore() { sqlite3_close_v2(db_); }

void SqliteStore::fail(const std::string& what, int code) const {
  std::string message = "search index database " + file_.string() + ": " + what + " (" +
                        (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(code)) + ")";
  const int primary = code & 0xff;
  if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) {
    message +=
        "; the file is not a usable index database: move it away (or delete it) to "
        "start a new index";
  }
  throw IndexError(message);
}

void SqliteStore::exec(const char* sql) {
  char* error = nullptr;
  const int code = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
  sqlite3_free(error);
  if (code != SQLITE_OK) fail(std::string("cannot run ") + sql, code);
}

void SqliteStore::create_schema() {
  exec("BEGIN IMMEDIATE");
  exec(
      "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS streams (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);"
      // AUTOINCREMENT: ids are never reused, so a FAISS id or thumbnail id names one frame
      // forever, even after retention deleted the newest rows' predecessors.
      "CREATE TABLE IF NOT EXISTS frames (id INTEGER PRIMARY KEY AUTOINCREMENT,"
      " stream INTEGER NOT NULL, frame_id INTEGER NOT NULL, pts_ns INTEGER NOT NULL,"
      " wall_ns INTEGER NOT NULL, has_thumbnail INTEGER NOT NULL, embedding BLOB NOT NULL);"
      "CREATE INDEX IF NOT EXISTS frames_wall_ns ON frames (wall_ns);"
      "CREATE TABLE IF NOT EXISTS thumbnails (id INTEGER PRIMARY KEY, jpeg BLOB NOT NULL);"
      "INSERT OR IGNORE INTO meta VALUES ('schema_version', '1');");
  exec("COMMIT");
}

void SqliteStore::check_schema() {
  Statement statement(db_, "SELECT value FROM meta WHERE key = 'schema_version'");
  if (statement.prepare_code() != SQLITE_OK)
    fail("not an index database", statement.prepare_code());
  const int code = statement.step();
  if (code != SQLITE_ROW) fail("no schema version", code);
  if (statement.column_text(0) != std::to_string(kSchemaVersion)) {
    throw IndexError("search index database " + file_.string() + ": schema version " +
                     statement.column_text(0) + ", this build reads " +
                     std::to_string(kSchemaVersion) + "; move it away to start a new index");
  }
}

std::string SqliteStore::mode() const {
  Statement statement(db_, "SELECT value FROM meta WHERE key = 'mode'");
  return statement.step() == SQLITE_ROW ? statement.column_text(0) : "";
}

int SqliteStore::dim() const {
  Statement statement(db_, "SELECT value FROM meta WHERE key = 'dim'");
  return statement.step() == SQLITE_ROW ? std::stoi(statement.column_text(0)) : 0;
}

void SqliteStore::set_mode_and_dim(const std::string& mode, int dim) {
  Statement statement(db_, "INSERT OR REPLACE INTO meta VALUES (?, ?)");
  for (const auto& [key, value] :
       {std::pair<std::string, std::string>{"mode", mode},
        std::pair<std::string, std::string>{"dim", std::to_string(dim)}}) {
    statement.bind(1, key);
    statement.bind(2, value);
    const int code = statement.step();
    if (code != SQLITE_DONE) fail("cannot store the embedding mode and dim", code);
    statement.reset();
  }
}

std::vector<std::pair<int64_t, std::string>> SqliteStore::streams() {
  std::vector<std::pair<int64_t, std::string>> streams;
  Statement statement(db_, "SELECT id, name FROM streams ORDER BY id");
  int code = SQLITE_OK;
  while ((code = statement.step()) == SQLITE_ROW) {
    streams.emplace_back(statement.column_int(0), statement.column_text(1));
  }
  if (code != SQLITE_DONE) fail("cannot read the streams", code);
  return streams;
}

int64_t SqliteStore::add_stream(const std::string& name) {
  Statement statement(db_, "INSERT INTO streams (name) VALUES (?)");
  statement.bind(1, name);
  const int code = statement.step();
  if (code != SQLITE_DONE) fail("cannot add stream " + name, code);
  return sqlite3_last_insert_rowid(db_);
}

std::vector<int64_t> SqliteStore::insert(const std::vector<StoredFrame>& frames) {
  std::vector<int64_t> ids;
  ids.reserve(frames.size());
  exec("BEGIN IMMEDIATE");
  try {
    Statement frame(db_,
                    "INSERT INTO frames (stream, frame_id, pts_ns, wall_ns, has_thumbnail,"
                    " embedding) VALUES (?, ?, ?, ?, ?, ?)");
    Statement thumb(db_, "INSERT INTO thumbnails (id, jpeg) VALUES (?, ?)");
    for (const StoredFrame& f : frames) {
      const bool has_thumbnail = f.thumbnail_jpeg && !f.thumbnail_jpeg->empty();
      frame.bind(1, f.stream_id);
      frame.bind(2, f.frame_id);
      frame.bind(3, f.pts_ns);
      frame.bind(4, f.wall_ns);
      frame.bind(5, has_thumbnail ? 1 : 0);
      frame.bind_blob(6, f.embedding.data(), f.embedding.size() * sizeof(uint16_t));
      int code = frame.step();
      if (code != SQLITE_DONE) fail("cannot insert a frame", code);
      frame.reset();
      ids.push_back(sqlite3_last_insert_rowid(db_));
      if (has_thumbnail) {
        thumb.bind(1, ids.back());
        thumb.bind_blob(2, f.thumbnail_jpeg->data(), f.thumbnail_jpeg->size());
        code = thumb.step();
        if (code != SQLITE_DONE) fail("cannot insert a thumbnail", code);
        thumb.reset();
      }
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return ids;
}

void SqliteStore::for_each_row(int64_t after_id, bool with_embedding,
                               const std::function<void(const RowView&)>& visit) {
  Statement statement(db_, with_embedding
                               ? "SELECT id, stream, frame_id, pts_ns, wall_ns, has_thumbnail,"
                                 " embedding FROM frames WHERE id > ? ORDER BY id"
                               : "SELECT id, stream, frame_id, pts_ns, wall_ns, has_thumbnail"
                                 " FROM frames WHERE id > ? ORDER BY id");
  if (statement.prepare_code() != SQLITE_OK) fail("cannot read frames", statement.prepare_code());
  statement.bind(1, after_id);
  int code = SQLITE_OK;
  while ((code = statement.step()) == SQLITE_ROW) {
    RowView row;
    row.id = statement.column_int(0);
    row.stream_id = statement.column_int(1);
    row.frame_id = statement.column_int(2);
    row.pts_ns = statement.column_int(3);
    row.wall_ns = statement.column_int(4);
    row.has_thumbnail = statement.column_int(5) != 0;
    if (with_embedding) {
      row.embedding = static_cast<const uint16_t*>(sqlite3_column_blob(statement.get(), 6));
      row.embedding_size =
          static_cast<size_t>(sqlite3_column_bytes(statement.get(), 6)) / sizeof(uint16_t);
    }
    visit(row);
  }
  if (code != SQLITE_DONE) fail("cannot read frames", code);
}

void SqliteStore::for_each_vector_batch(
    int64_t after_id, int dim,
    const std::function<void(size_t n, const float* vectors, const int64_t* ids)>& add) {
  std::vector<float> floats;
  std::vector<int64_t> ids;
  const auto add_batch = [&] {
    add(ids.size(), floats.data(), ids.data());
    floats.clear();
    ids.clear();
  };
  for_each_row(after_id, true, [&](const RowView& row) {
    if (row.embedding_size != static_cast<size_t>(dim)) {
      throw wrong_dim(row.id, row.embedding_size, dim);
    }
    append_from_float16(row.embedding, row.embedding_size, floats);
    ids.push_back(row.id);
    if (ids.size() == kVectorBatch) add_batch();
  });
  if (!ids.empty()) add_batch();
}

IndexError SqliteStore::wrong_dim(int64_t id, size_t count, int dim) const {
  return IndexError("search index database " + file_.string() + ": frame " + std::to_string(id) +
                    " has " + std::to_string(count) + " values, the index's dim is " +
                    std::to_string(dim) + "; move the database away to start a new index");
}

std::optional<std::vector<uint8_t>> SqliteStore::thumbnail(int64_t id) {
  Statement statement(db_, "SELECT jpeg FROM thumbnails WHERE id = ?");
  statement.bind(1, id);
  const int code = statement.step();
  if (code == SQLITE_DONE) return std::nullopt;
  if (code != SQLITE_ROW) fail("cannot read thumbnail " + std::to_string(id), code);
  const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(statement.get(), 0));
  const int bytes = sqlite3_column_bytes(statement.get(), 0);
  return std::vector<uint8_t>(data, data + bytes);
}

void SqliteStore::embeddings(
    const std::vector<int64_t>& ids,
    const std::function<void(int64_t id, const uint16_t* half, size_t count)>& visit) {
  exec("BEGIN");
  try {
    Statement statement(db_, "SELECT embedding FROM frames WHERE id = ?");
    if (statement.prepare_code() != SQLITE_OK)
      fail("cannot read embeddings", statement.prepare_code());
    for (const int64_t id : ids) {
      statement.bind(1, id);
      const int code = statement.step();
      if (code == SQLITE_ROW) {
        visit(id, static_cast<const uint16_t*>(sqlite3_column_blob(statement.get(), 0)),
              static_cast<size_t>(sqlite3_column_bytes(statement.get(), 0)) / sizeof(uint16_t));
      } else if (code != SQLITE_DONE) {
        fail("cannot read the embedding of frame " + std::to_string(id), code);
      }
      statement.reset();
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void SqliteStore::delete_through(int64_t last_id) {
  exec("BEGIN IMMEDIATE");
  try {
    Statement frames(db_, "DELETE FROM frames WHERE id <= ?");
    Statement thumbs(db_, "DELETE FROM thumbnails WHERE id <= ?");
    for (Statement* statement : {&frames, &thumbs}) {
      statement->bind(1, last_id);
      const int code = statement->step();
      if (code != SQLITE_DONE) fail("cannot delete old frames", code);
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void SqliteStore::reclaim_space() {
  exec("PRAGMA incremental_vacuum");
  // PASSIVE never waits for readers; what it cannot copy now the next one does.
  sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
}

int64_t SqliteStore::pragma_int(const char* sql) const {
  Statement statement(db_, sql);
  const int code = statement.step();
  if (code != SQLITE_ROW) fail(std::string("cannot run ") + sql, code);
  return statement.column_int(0);
}

uint64_t SqliteStore::used_bytes() const {
  const int64_t pages = pragma_int("PRAGMA page_count") - pragma_int("PRAGMA freelist_count");
  return static_cast<uint64_t>(pages * pragma_int("PRAGMA page_size")) +
         size_or_zero(file_.string() + "-wal");
}

bool SqliteStore::truncate_wal() {
  // No busy waiting: the writer thread must not stall behind a long reader.
  sqlite3_busy_timeout(db_, 0);
  const int code =
      sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  return code == SQLITE_OK;
}

uint64_t SqliteStore::file_bytes() const {
  return size_or_zero(file_) + size_or_zero(file_.string() + "-wal");
}

}  // namespace ivs::search
