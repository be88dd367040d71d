// SPDX-License-Identifier: Apache-2.0
// FrameIndex's search structure over time, on the writer thread: exact until the exact limit,
// then an IVF trained in the background on the vectors present, then retrained in the
// background from SQLite each time the index outgrows it (VectorIndex::needs_retrain()).
// Searches and ingest go on meanwhile on the structure in use.
#include <algorithm>

#include "sinks/index/float16.h"
#include "sinks/index/frame_index.h"

namespace ivs::search {
namespace {

// A retrained IVF further behind the index than this many rows catches up in another
// background round; nearer, the writer catches it up itself before it moves to it (8192 rows
// are about a second of assigning and encoding at 1M x 768, ingest waits meanwhile).
constexpr int64_t kCatchUpRows = 8192;

}  // namespace

void FrameIndex::advance_structure(bool wait) {
  try {
    if (training_.valid()) {
      if (!wait && training_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        return;
      }
      VectorIndex::TrainedIvf trained = training_.get();
      adopt_trained(std::move(trained), wait);
      training_now_ = training_.valid();  // another catch-up round
      return;
    }
    if (!wait) start_training();
  } catch (const std::exception& error) {
    // Out of memory while training: keep the structure in use (slower or less exact, still
    // correct) and say so, once.
    training_now_ = false;
    ivf_failed_ = true;
    log(std::string("search index: could not build the IVF: ") + error.what());
  }
}

void FrameIndex::start_training() {
  std::shared_lock<std::shared_mutex> lock(index_mutex_);
  if (!vectors_ || ivf_failed_) return;
  if (vectors_->needs_ivf()) {
    training_ = std::async(std::launch::async, vectors_->ivf_trainer());
  } else if (vectors_->needs_retrain()) {
    const size_t size = vectors_->size();
    const int dim = vectors_->dim();
    // The task reads SQLite on its own connection: a sample (every stride-th row) to train
    // on, then every row to fill the new lists.
    training_ = std::async(std::launch::async, [db_file = db_file_, size, dim] {
      SqliteStore store(db_file, true);
      const size_t sample_size = VectorIndex::training_sample_size(size);
      const size_t stride = std::max<size_t>(1, size / sample_size);
      const size_t values = sample_size * static_cast<size_t>(dim);
      std::vector<float> sample;
      sample.reserve(values);
      size_t row = 0;
      store.for_each_row(0, true, [&](const RowView& view) {
        if (row++ % stride != 0 || sample.size() >= values) return;
        if (view.embedding_size != static_cast<size_t>(dim)) {
          throw store.wrong_dim(view.id, view.embedding_size, dim);
        }
        append_from_float16(view.embedding, view.embedding_size, sample);
      });
      VectorIndex::TrainedIvf trained =
          VectorIndex::new_ivf(dim, size, sample.size() / static_cast<size_t>(dim), sample.data());
      std::vector<float>().swap(sample);
      catch_up(trained, store, dim);
      return trained;
    });
  } else {
    return;
  }
  training_now_ = true;
}

void FrameIndex::adopt_trained(VectorIndex::TrainedIvf trained, bool wait) {
  if (!vectors_->approximate()) {
    std::unique_lock<std::shared_mutex> lock(index_mutex_);
    vectors_->adopt_ivf(std::move(trained));
  } else {
    // Retrained: the rows committed since it last read SQLite are there (this thread is the
    // only writer and nothing waits in pending_ outside a save), so it catches up from there.
    if (!wait && catalogue_.last_id() - trained.last_id > kCatchUpRows) {
      training_ = std::async(std::launch::async, [db_file = db_file_, dim = vectors_->dim(),
                                                  ivf = std::move(trained)]() mutable {
        SqliteStore store(db_file, true);
        catch_up(ivf, store, dim);
        return std::move(ivf);
      });
      training_now_ = true;
      return;
    }
    catch_up(trained, *store_, vectors_->dim());
    std::unique_lock<std::shared_mutex> lock(index_mutex_);
    vectors_->adopt_retrained(std::move(trained), NotInCatalogue(catalogue_));
  }
  unsaved_changes_ += vectors_->size() + 1;
}

void FrameIndex::catch_up(VectorIndex::TrainedIvf& trained, SqliteStore& store, int dim) {
  store.for_each_vector_batch(trained.last_id, dim,
                              [&](size_t n, const float* vectors, const int64_t* ids) {
                                VectorIndex::add_to(trained, n, vectors, ids);
                              });
}

}  // namespace ivs::search
