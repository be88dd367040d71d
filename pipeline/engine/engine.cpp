// SPDX-License-Identifier: Apache-2.0
#include "pipeline/engine/engine.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include <c10/core/InferenceMode.h>

#include "model/common/errors.h"
#include "model/internvl/loaded_model.h"
#include "model/internvl/placement.h"
#include "pipeline/engine/batch_queue.h"
#include "pipeline/engine/engine_inference.h"

namespace ivs::pipeline {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

void log_to(const EngineOptions& options, EngineLogLevel level, const std::string& message) {
  if (options.log) options.log(level, message);
}

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

struct EmbeddingJob {
  std::vector<float> pixels;
  EmbeddingMode mode = EmbeddingMode::kC;
  std::promise<EmbeddingResult> promise;
  Clock::time_point enqueued;

  bool same_batch(const EmbeddingJob& other) const { return mode == other.mode; }
};

struct CaptionJob {
  std::vector<float> pixels;
  CaptionSettings settings;
  std::promise<CaptionResult> promise;
  Clock::time_point enqueued;

  bool same_batch(const CaptionJob& other) const { return settings == other.settings; }
};

// The counters of one task; a mutex rather than atomics so that a snapshot is
// consistent.
class TaskCounters {
 public:
  explicit TaskCounters(int64_t batch_size) {
    stats_.batch_size_counts.assign(static_cast<size_t>(batch_size) + 1, 0);
  }

  void add_accepted() {
    update([](TaskStats& s) { ++s.accepted; });
  }
  void add_dropped() {
    update([](TaskStats& s) { ++s.dropped; });
  }
  void add_failed(uint64_t n) {
    update([n](TaskStats& s) { s.failed += n; });
  }

  void add_batch(int64_t size, double seconds, bool failed) {
    update([&](TaskStats& s) {
      ++s.batches;
      ++s.batch_size_counts[static_cast<size_t>(size)];
      s.last_batch_size = size;
      s.max_batch_size = std::max(s.max_batch_size, size);
      s.inference_seconds += seconds;
      (failed ? s.failed : s.completed) += static_cast<uint64_t>(size);
    });
  }

  TaskStats snapshot(size_t depth) const {
    std::lock_guard<std::mutex> lock(mutex_);
    TaskStats out = stats_;
    out.queue_depth = depth;
    return out;
  }

 private:
  template <class F>
  void update(F&& f) {
    std::lock_guard<std::mutex> lock(mutex_);
    f(stats_);
  }

  mutable std::mutex mutex_;
  TaskStats stats_;
};

// One task's queue, worker thread and counters. `run` turns a batch of valid
// jobs into one result per job (timing is filled in here) or throws, failing
// the whole batch.
template <class Job, class Result>
class TaskWorker {
 public:
  using Run = std::function<std::vector<Result>(const std::vector<Job>&)>;

  TaskWorker(EngineTask task, const EngineOptions& options, size_t pixels_per_image, int threads,
             Run run)
      : task_(task),
        options_(options),
        pixels_per_image_(pixels_per_image),
        threads_(threads),
        run_(std::move(run)),
        queue_(options.max_queue, static_cast<size_t>(options.batch_size), options.batch_timeout),
        counters_(options.batch_size),
        thread_([this] { loop(); }) {}

  ~TaskWorker() { shutdown(Engine::ShutdownMode::kDrain); }

  std::optional<std::future<Result>> submit(Job job, Admission admission) {
    auto future = job.promise.get_future();
    switch (queue_.push(job, admission == Admission::kWait)) {
      case BatchQueue<Job>::Push::kAccepted:
        counters_.add_accepted();
        return future;
      case BatchQueue<Job>::Push::kFull:
        counters_.add_dropped();
        return std::nullopt;
      case BatchQueue<Job>::Push::kClosed:
        break;
    }
    job.promise.set_exception(std::make_exception_ptr(stopped_error()));
    return future;
  }

  void set_paused(bool paused) { queue_.set_paused(paused); }
  TaskStats stats() const { return counters_.snapshot(queue_.depth()); }

  // Called once at a time (Engine::shutdown serialises); later calls find
  // nothing to do.
  void shutdown(Engine::ShutdownMode mode) {
    auto cancelled = queue_.close(mode == Engine::ShutdownMode::kCancel);
    if (!cancelled.empty()) fail(std::move(cancelled), stopped_error());
    if (thread_.joinable()) thread_.join();
  }

 private:
  EngineStopped stopped_error() const {
    return EngineStopped(std::string("the InternVL engine was shut down; the ") +
                         engine_task_name(task_) + " request was not run");
  }

  template <class E>
  void fail(std::vector<Job> jobs, const E& error) {
    counters_.add_failed(jobs.size());  // before the futures: a woken caller sees the count
    for (auto& job : jobs) job.promise.set_exception(std::make_exception_ptr(error));
  }

  void loop() {
    set_inference_threads(threads_);
    c10::InferenceMode guard;  // no autograd bookkeeping for anything this thread runs
    for (auto batch = queue_.pop_batch(); !batch.empty(); batch = queue_.pop_batch()) {
      reject_wrong_sizes(batch);
      if (!batch.empty()) run_batch(batch);
    }
  }

  // A wrong-sized image fails alone, before the batch is assembled around it.
  void reject_wrong_sizes(std::vector<Job>& batch) {
    auto wrong = [&](const Job& job) { return job.pixels.size() != pixels_per_image_; };
    const auto first_bad = std::stable_partition(batch.begin(), batch.end(),
                                                 [&](const Job& job) { return !wrong(job); });
    counters_.add_failed(static_cast<uint64_t>(batch.end() - first_bad));
    for (auto it = first_bad; it != batch.end(); ++it) {
      it->promise.set_exception(std::make_exception_ptr(
          model::InputError("an image of " + std::to_string(it->pixels.size()) +
                            " floats was submitted; the model takes 3 x H x W = " +
                            std::to_string(pixels_per_image_))));
    }
    batch.erase(first_bad, batch.end());
  }

  // Counters are updated before any future completes, so a caller woken by its
  // result sees its batch in stats().
  void run_batch(std::vector<Job>& batch) {
    const auto start = Clock::now();
    BatchReport report;
    report.task = task_;
    report.batch_size = static_cast<int64_t>(batch.size());
    for (const auto& job : batch)
      report.queue_seconds.push_back(seconds_between(job.enqueued, start));
    std::vector<Result> results;
    std::exception_ptr error;
    try {
      results = run_(batch);
      if (results.size() != batch.size())
        throw std::logic_error("the model returned too few results");
    } catch (const std::exception& e) {
      error = std::current_exception();
      log_failure(batch.size(), e.what());
    } catch (...) {
      error = std::current_exception();
      log_failure(batch.size(), "unknown exception");
    }
    report.inference_seconds = seconds_between(start, Clock::now());
    report.failed = error != nullptr;
    counters_.add_batch(report.batch_size, report.inference_seconds, report.failed);
    for (size_t i = 0; i < batch.size(); ++i) {
      if (error) {
        batch[i].promise.set_exception(error);
        continue;
      }
      results[i].timing = {report.queue_seconds[i], report.inference_seconds, 0.0,
                           report.batch_size};
      batch[i].promise.set_value(std::move(results[i]));
    }
    notify(report);
  }

  void log_failure(size_t batch_size, const char* what) const {
    log_to(options_, EngineLogLevel::kWarning,
           std::string(engine_task_name(task_)) + " batch of " + std::to_string(batch_size) +
               " failed: " + what);
  }

  void notify(const BatchReport& report) {
    if (!options_.batch_observer) return;
    try {
      options_.batch_observer(report);
    } catch (const std::exception& e) {  // an observer bug must not stop the worker
      log_to(options_, EngineLogLevel::kError, std::string("batch observer threw: ") + e.what());
    }
  }

  const EngineTask task_;
  const EngineOptions& options_;  // owned by the Engine, which outlives its workers
  const size_t pixels_per_image_;
  const int threads_;
  const Run run_;
  BatchQueue<Job> queue_;
  TaskCounters counters_;
  std::thread thread_;  // last: starts once everything above exists
};

int worker_threads(const EngineOptions& options) {
  if (options.intra_op_threads > 0) return options.intra_op_threads;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency() / 2));
}

template <class Job>
PixelBatch pixels_of(const std::vector<Job>& batch) {
  PixelBatch out;
  out.reserve(batch.size());
  for (const auto& job : batch) out.push_back(&job.pixels);
  return out;
}

// The spelling of DESIGN.md's dtype property values, not c10's
// "Float"/"BFloat16".
std::string dtype_name(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kBFloat16:
      return "bfloat16";
    case c10::kHalf:
      return "float16";
    case c10::kFloat:
      return "float32";
    default:
      return c10::toString(dtype);
  }
}

using ScorerKey = std::pair<std::vector<std::string>, std::vector<std::string>>;

}  // namespace

struct Engine::Impl {
  Impl(const EngineKey& canonical, const EngineOptions& opts,
       std::shared_ptr<const model::LoadedModel> loaded)
      : key(canonical), options(opts), model(std::move(loaded)) {}

  void start_workers();

  const EngineKey key;
  const EngineOptions options;
  const std::shared_ptr<const model::LoadedModel> model;
  std::unique_ptr<TaskWorker<EmbeddingJob, EmbeddingResult>> embeddings;
  std::unique_ptr<TaskWorker<CaptionJob, CaptionResult>> captions;

  std::mutex scorers_mutex;  // guards `scorers`
  std::map<ScorerKey, std::weak_ptr<const LabelScorer>> scorers;
  std::mutex scorer_build_mutex;  // one text-tower run at a time: a second asker
                                  // finds the first's

  std::mutex shutdown_mutex;
  bool stopped = false;
};

void Engine::Impl::start_workers() {
  const auto pixels =
      static_cast<size_t>(3 * model->processor.crop_height * model->processor.crop_width);
  const int threads = worker_threads(options);
  const auto* loaded = model.get();
  embeddings = std::make_unique<TaskWorker<EmbeddingJob, EmbeddingResult>>(
      EngineTask::kEmbedding, options, pixels, threads,
      [loaded](const std::vector<EmbeddingJob>& batch) {
        const auto rows = run_embedding_batch(*loaded, pixels_of(batch), batch.front().mode);
        std::vector<EmbeddingResult> out(rows.size());
        for (size_t i = 0; i < rows.size(); ++i) out[i].embedding = std::move(rows[i]);
        return out;
      });
  captions = std::make_unique<TaskWorker<CaptionJob, CaptionResult>>(
      EngineTask::kCaption, options, pixels, threads,
      [loaded](const std::vector<CaptionJob>& batch) {
        return run_caption_batch(*loaded, pixels_of(batch), batch.front().settings);
      });
}

bool EngineKey::operator==(const EngineKey& other) const {
  return model_dir == other.model_dir && device == other.device && dtype == other.dtype;
}

std::string EngineKey::describe() const { return model_dir + " (" + device + "/" + dtype + ")"; }

const char* engine_task_name(EngineTask task) {
  return task == EngineTask::kCaption ? "caption" : "embedding";
}

bool CaptionSettings::operator==(const CaptionSettings& other) const {
  return prompt == other.prompt && num_beams == other.num_beams &&
         min_new_tokens == other.min_new_tokens && max_new_tokens == other.max_new_tokens &&
         length_penalty == other.length_penalty;
}

void EngineOptions::validate() const {
  if (batch_size < 1) throw model::ConfigError("engine batch-size must be at least 1");
  if (max_queue < 1) throw model::ConfigError("engine max-queue must be at least 1");
  if (batch_timeout.count() < 0)
    throw model::ConfigError("engine batch-timeout must not be negative");
  if (intra_op_threads < 0)
    throw model::ConfigError("engine intra-op threads must not be negative");
}

EngineKey Engine::canonical_key(const EngineKey& key) {
  const auto placement = model::Placement::resolve(key.device, key.dtype);
  std::error_code error;
  auto dir = fs::weakly_canonical(fs::absolute(key.model_dir), error);
  if (error) dir = fs::absolute(key.model_dir);
  if (!dir.has_filename() && dir.has_parent_path()) dir = dir.parent_path();  // "dir/" = "dir"
  return {dir.string(), placement.device.str(), dtype_name(placement.dtype)};
}

std::shared_ptr<Engine> Engine::create(const EngineKey& key, const EngineOptions& options) {
  options.validate();
  const auto canonical = canonical_key(key);
  const auto placement = model::Placement::resolve(key.device, key.dtype);
  auto loaded =
      std::make_shared<const model::LoadedModel>(model::load_model(key.model_dir, placement));
  auto impl = std::make_unique<Impl>(canonical, options, std::move(loaded));
  impl->start_workers();
  log_to(options, EngineLogLevel::kInfo, "InternVL engine ready: " + canonical.describe());
  return std::shared_ptr<Engine>(new Engine(std::move(impl)));
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() { shutdown(ShutdownMode::kDrain); }

const EngineKey& Engine::key() const { return impl_->key; }
const EngineOptions& Engine::options() const { return impl_->options; }
bool Engine::vision_only() const { return impl_->model->vision_only(); }
const model::ImageProcessorConfig& Engine::processor() const { return impl_->model->processor; }
int Engine::input_height() const { return impl_->model->processor.crop_height; }
int Engine::input_width() const { return impl_->model->processor.crop_width; }

std::string Engine::model_name() const {
  const fs::path dir(impl_->key.model_dir);
  return dir.has_filename() ? dir.filename().string() : dir.parent_path().filename().string();
}

std::optional<std::future<EmbeddingResult>> Engine::submit_embedding(std::vector<float> pixels,
                                                                     EmbeddingMode mode,
                                                                     Admission admission) {
  EmbeddingJob job;
  job.pixels = std::move(pixels);
  job.mode = mode;
  return impl_->embeddings->submit(std::move(job), admission);
}

std::optional<std::future<CaptionResult>> Engine::submit_caption(std::vector<float> pixels,
                                                                 const CaptionSettings& settings,
                                                                 Admission admission) {
  validate_caption_settings(settings);
  CaptionJob job;
  job.pixels = std::move(pixels);
  job.settings = settings;
  return impl_->captions->submit(std::move(job), admission);
}

std::shared_ptr<const LabelScorer> Engine::label_scorer(const std::vector<std::string>& labels,
                                                        const std::vector<std::string>& templates) {
  const ScorerKey key{labels, templates};
  auto cached = [&]() -> std::shared_ptr<const LabelScorer> {
    std::lock_guard<std::mutex> lock(impl_->scorers_mutex);
    const auto it = impl_->scorers.find(key);
    return it == impl_->scorers.end() ? nullptr : it->second.lock();
  };
  if (auto scorer = cached()) return scorer;
  std::lock_guard<std::mutex> build(impl_->scorer_build_mutex);
  if (auto scorer = cached()) return scorer;  // built while this caller waited
  auto scorer = std::make_shared<const LabelScorer>(*impl_->model, labels, templates);
  std::lock_guard<std::mutex> lock(impl_->scorers_mutex);
  // Forget label sets nobody holds any more (label updates over REST would
  // otherwise pile up).
  for (auto it = impl_->scorers.begin(); it != impl_->scorers.end();) {
    it = it->second.expired() ? impl_->scorers.erase(it) : std::next(it);
  }
  impl_->scorers[key] = scorer;
  return scorer;
}

EngineStats Engine::stats() const { return {impl_->embeddings->stats(), impl_->captions->stats()}; }

void Engine::pause() {
  impl_->embeddings->set_paused(true);
  impl_->captions->set_paused(true);
}

void Engine::resume() {
  impl_->embeddings->set_paused(false);
  impl_->captions->set_paused(false);
}

void Engine::shutdown(ShutdownMode mode) {
  std::lock_guard<std::mutex> lock(impl_->shutdown_mutex);
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->embeddings->shutdown(mode);
  impl_->captions->shutdown(mode);
  log_to(impl_->options, EngineLogLevel::kInfo,
         "InternVL engine stopped: " + impl_->key.describe());
}

}  // namespace ivs::pipeline
