// SPDX-License-Identifier: Apache-2.0
#include "sinks/index/frame_index.h"

#include <algorithm>
#include <iostream>

#include "sinks/index/float16.h"
#include "sinks/index/moments.h"
#include "sinks/index/rerank.h"

namespace ivs::search {
namespace {

// Frames ranked per moment wanted: a moment often merges tens of consecutive frames, so the k
// best moments need many more than k frames.
constexpr size_t kOversample = 20;
constexpr size_t kMinHits = 200;

}  // namespace

FrameIndex::FrameIndex(const SearchIndexOptions& options)
    : options_(options),
      db_file_(options.dir / "index.sqlite"),
      vector_file_(options.dir / "vectors.faiss") {
  const std::filesystem::path& db_file = db_file_;
  if (options.read_only) {
    if (!std::filesystem::exists(db_file)) {
      throw IndexError("no search index in " + options.dir.string() + " (" + db_file.string() +
                       " is missing): point at the directory a writer indexes into");
    }
  } else {
    std::error_code error;
    std::filesystem::create_directories(options.dir, error);
    if (error) {
      throw IndexError("cannot create the search index directory " + options.dir.string() + ": " +
                       error.message());
    }
    lock_.emplace(options.dir);
  }
  store_ = std::make_unique<SqliteStore>(db_file, options.read_only);
  mode_ = store_->mode();
  dim_ = store_->dim();
  meta_stored_ = dim_ > 0;
  store_->begin_read();
  load_catalogue();
  if (dim_ > 0) load_vectors();
  store_->end_read();
  if (!options.read_only) writer_ = std::thread([this] { writer_loop(); });
}

FrameIndex::~FrameIndex() {
  if (writer_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(queue_mutex_);
      stopping_ = true;
    }
    queue_cv_.notify_all();
    writer_.join();
  }
}

void FrameIndex::log(const std::string& message) const {
  if (options_.log) {
    options_.log(message);
  } else {
    std::cerr << message << std::endl;
  }
}

std::chrono::system_clock::time_point FrameIndex::now() const {
  return options_.now ? options_.now() : std::chrono::system_clock::now();
}

void FrameIndex::load_catalogue() {
  std::map<int64_t, int32_t> stream_index;  // streams.id -> catalogue stream
  for (const auto& [id, name] : store_->streams()) {
    stream_index[id] = catalogue_.stream_index(name);
    store_streams_[name] = id;
  }
  store_->for_each_row(0, false, [&](const RowView& row) {
    catalogue_.append({row.id, row.wall_ns, row.pts_ns, row.frame_id,
                       stream_index.at(row.stream_id), row.has_thumbnail});
  });
}

void FrameIndex::add_rows_to_vectors(VectorIndex& vectors, int64_t after_id) {
  store_->for_each_vector_batch(after_id, dim_,
                                [&](size_t n, const float* floats, const int64_t* ids) {
                                  vectors.add(n, floats, ids);
                                  // Opening blocks anyway; switching here keeps a rebuild of millions of rows from ever
                                  // holding them all as floats.
                                  if (vectors.needs_ivf()) vectors.switch_to_ivf();
                                });
}

void FrameIndex::load_vectors() {
  std::string why;
  auto loaded = VectorIndex::load(vector_file_, dim_, options_.exact_limit, why);
  if (loaded) {
    loaded->index->remove(NotInCatalogue(catalogue_));
    const auto& rows = catalogue_.rows();
    const auto covered = static_cast<size_t>(
        std::upper_bound(rows.begin(), rows.end(), loaded->last_id,
                         [](int64_t id, const CatalogueRow& row) { return id < row.id; }) -
        rows.begin());
    if (loaded->index->size() == covered) {
      vectors_ = std::move(loaded->index);
      add_rows_to_vectors(*vectors_, loaded->last_id);
      return;
    }
    why = "out of step with the database (" + std::to_string(loaded->index->size()) +
          " vectors for " + std::to_string(covered) + " frames)";
  }
  log("search index: rebuilding " + vector_file_.string() + " (" + why + ") from " +
      std::to_string(catalogue_.size()) + " frames in the database");
  vectors_ = std::make_unique<VectorIndex>(dim_, options_.exact_limit);
  add_rows_to_vectors(*vectors_, 0);
  unsaved_changes_ = catalogue_.size() + 1;
}

bool FrameIndex::add(IndexedFrame frame) {
  if (options_.read_only) {
    throw IndexError("search index " + options_.dir.string() +
                     " is open read-only: add() needs "
                     "the writer");
  }
  {
    std::lock_guard<std::mutex> lock(space_mutex_);
    const int dim = static_cast<int>(frame.embedding.size());
    if (dim == 0 || frame.mode.empty()) {
      throw IndexError("search index " + options_.dir.string() + ": frame " +
                       std::to_string(frame.frame_id) + " of stream " + frame.stream +
                       " has no embedding or no mode");
    }
    if (dim_ == 0) {
      mode_ = frame.mode;
      dim_ = dim;
    } else if (frame.mode != mode_ || dim != dim_) {
      throw IndexError("search index " + options_.dir.string() + " holds mode " + mode_ +
                       " embeddings of dim " + std::to_string(dim_) + ", frame " +
                       std::to_string(frame.frame_id) + " of stream " + frame.stream +
                       " has mode " + frame.mode + " and dim " + std::to_string(dim) +
                       ": index each mode in its own directory");
    }
  }
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    if (queue_.size() >= options_.queue_capacity) {
      ++dropped_;
      return false;
    }
    queue_.push_back(std::move(frame));
    ++enqueued_;
    // Wake the writer early when half full, so a burst does not wait the whole interval.
    if (queue_.size() < options_.queue_capacity / 2) return true;
  }
  queue_cv_.notify_one();
  return true;
}

std::vector<Moment> FrameIndex::search(const std::vector<float>& query, size_t k,
                                       const SearchFilter& filter) const {
  {
    std::lock_guard<std::mutex> lock(space_mutex_);
    if (dim_ != 0 && query.size() != static_cast<size_t>(dim_)) {
      throw IndexError("search index " + options_.dir.string() + " holds mode " + mode_ +
                       " embeddings of dim " + std::to_string(dim_) + ", the query has dim " +
                       std::to_string(query.size()) +
                       ": embed the query with the same model "
                       "and mode");
    }
  }
  std::shared_lock<std::shared_mutex> lock(index_mutex_);
  if (k == 0 || !vectors_ || catalogue_.empty()) return {};
  const std::optional<Selection> selection = catalogue_.select(filter);
  if (selection && selection->count() == 0) return {};
  const double selectivity =
      selection ? static_cast<double>(selection->count()) / static_cast<double>(catalogue_.size())
                : 1.0;
  const size_t wanted = std::max(k * kOversample, kMinHits);
  const faiss::IDSelector* selector = selection ? &*selection : nullptr;
  std::vector<VectorHit> hits;
  if (vectors_->approximate()) {
    // The IVF's `wanted` best by its quantised scores, put in exact order (rerank.h): at
    // 1M x 768 re-ranking 4x as many (800 at k=10) gave the same recall (0.998-1.000) for 4x
    // the reads (6 ms instead of 2).
    const auto candidates = vectors_->search(query.data(), wanted, selector, selectivity);
    ReaderLease reader(*this);
    hits = rerank(reader.store(), query.data(), vectors_->dim(), candidates, wanted);
  } else {
    hits = vectors_->search(query.data(), wanted, selector, selectivity);
  }
  std::vector<FrameHit> frames;
  frames.reserve(hits.size());
  for (const VectorHit& hit : hits) {
    const CatalogueRow* row = catalogue_.find(hit.id);
    if (!row) continue;  // FAISS and the catalogue change together; kept for safety
    frames.push_back({catalogue_.streams()[static_cast<size_t>(row->stream)], row->pts_ns,
                      from_ns(row->wall_ns), row->frame_id, row->id, row->has_thumbnail,
                      static_cast<double>(hit.score)});
  }
  return build_moments(std::move(frames), options_.merge_gap, k);
}

FrameIndex::ReaderLease::ReaderLease(const FrameIndex& index) : index_(index) {
  {
    std::lock_guard<std::mutex> lock(index.reader_mutex_);
    if (!index.idle_readers_.empty()) {
      store_ = std::move(index.idle_readers_.back());
      index.idle_readers_.pop_back();
    }
  }
  if (!store_) store_ = std::make_unique<SqliteStore>(index.db_file_, true);
}

FrameIndex::ReaderLease::~ReaderLease() {
  std::lock_guard<std::mutex> lock(index_.reader_mutex_);
  index_.idle_readers_.push_back(std::move(store_));
}

std::optional<std::vector<uint8_t>> FrameIndex::thumbnail(int64_t id) const {
  ReaderLease reader(*this);
  return reader.store().thumbnail(id);
}

std::optional<int64_t> FrameIndex::latest_thumbnail_id(const std::string& stream) const {
  std::shared_lock<std::shared_mutex> lock(index_mutex_);
  return catalogue_.latest_thumbnail_id(stream);
}

void FrameIndex::flush() {
  if (options_.read_only) return;
  std::unique_lock<std::mutex> lock(queue_mutex_);
  const uint64_t target = enqueued_;
  flush_requested_ = true;
  queue_cv_.notify_all();
  committed_cv_.wait(lock, [&] { return committed_ >= target; });
}

SearchIndexStats FrameIndex::stats() const {
  SearchIndexStats stats;
  stats.frames_indexed = indexed_;
  stats.frames_dropped = dropped_;
  stats.frames_deleted = deleted_;
  stats.disk_bytes = store_->file_bytes();  // file sizes only: safe beside the writer
  std::error_code error;
  const auto vector_bytes = std::filesystem::file_size(vector_file_, error);
  if (!error) stats.disk_bytes += vector_bytes;
  {
    std::shared_lock<std::shared_mutex> lock(index_mutex_);
    stats.frames = catalogue_.size();
    stats.memory_bytes = catalogue_.memory_bytes() + (vectors_ ? vectors_->memory_bytes() : 0);
    stats.structure = vectors_ ? vectors_->structure() : "exact";
    // Also while a due training waits for the writer to start it: "false" means settled. A
    // reader never trains.
    stats.training = training_now_ || (!options_.read_only && vectors_ && !ivf_failed_ &&
                                       (vectors_->needs_ivf() || vectors_->needs_retrain()));
  }
  std::lock_guard<std::mutex> lock(space_mutex_);
  stats.dim = dim_;
  stats.mode = mode_;
  return stats;
}

}  // namespace ivs::search
