// SPDX-License-Identifier: Apache-2.0
#include "pipeline/engine/engine.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include <c10/core/InferenceMode.h>

#include "model/common/errors.h"
#include "model/internvl/loaded_model.h"
#include "model/internvl/placement.h"
#include "model/internvl/text_query.h"
#include "pipeline/engine/engine_inference.h"
#include "pipeline/engine/nv12_stager.h"
#include "pipeline/engine/task_worker.h"

namespace ivs::pipeline {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

void log_to(const EngineOptions& options, EngineLogLevel level, const std::string& message) {
  if (options.log) options.log(level, message);
}

// A job holds pixels or an NV12 picture; the picture is mutable because the batch drops its
// keepalive once preprocessed, while the job itself waits for its result.
struct EmbeddingJob {
  std::vector<float> pixels;
  mutable std::optional<Nv12Picture> nv12;
  EmbeddingMode mode = EmbeddingMode::kC;
  std::promise<EmbeddingResult> promise;
  Clock::time_point enqueued;

  bool same_batch(const EmbeddingJob& other) const { return mode == other.mode; }
};

struct CaptionJob {
  std::vector<float> pixels;
  mutable std::optional<Nv12Picture> nv12;
  CaptionSettings settings;
  std::promise<CaptionResult> promise;
  Clock::time_point enqueued;

  bool same_batch(const CaptionJob& other) const { return settings == other.settings; }
};

int worker_threads(const EngineOptions& options) {
  if (options.intra_op_threads > 0) return options.intra_op_threads;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency() / 2));
}

template <class Job>
PixelBatch pixels_of(const std::vector<const Job*>& batch) {
  PixelBatch out;
  out.reserve(batch.size());
  for (const auto* job : batch) {
    out.push_back(job->nv12 ? BatchImage{nullptr, &*job->nv12} : BatchImage{&job->pixels, nullptr});
  }
  return out;
}

// The long names of the elements' dtype values, as gst-inspect-1.0 lists
// them, not c10's "Float"/"BFloat16".
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
  TaskModel<EmbeddingJob, EmbeddingResult> embed;
  // The runner is used on the embedding worker's thread only.
  auto embedder = std::make_shared<EmbeddingRunner>(*loaded, options.cuda_graphs,
                                                    options.batch_size, options.log);
  embed.admit = [embedder](const std::vector<const EmbeddingJob*>& batch,
                           const std::vector<uint64_t>& tickets) {
    const auto rows = embedder->run(pixels_of(batch), batch.front()->mode);
    std::vector<std::pair<uint64_t, EmbeddingResult>> out(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      out[i].first = tickets[i];
      out[i].second.embedding = std::move(rows[i]);
    }
    return out;
  };
  embeddings = std::make_unique<TaskWorker<EmbeddingJob, EmbeddingResult>>(
      EngineTask::kEmbedding, options, pixels, threads, std::move(embed));
  // The runner is used on the caption worker's thread only.
  auto runner = std::make_shared<CaptionRunner>(*loaded);
  TaskModel<CaptionJob, CaptionResult> caption;
  caption.admit = [runner](const std::vector<const CaptionJob*>& batch,
                           const std::vector<uint64_t>& tickets) {
    runner->admit(pixels_of(batch), batch.front()->settings, tickets);
    return std::vector<std::pair<uint64_t, CaptionResult>>{};
  };
  caption.step = [runner] { return runner->step(); };
  caption.abort = [runner] { runner->abort(); };
  captions = std::make_unique<TaskWorker<CaptionJob, CaptionResult>>(
      EngineTask::kCaption, options, pixels, threads, std::move(caption));
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
  if (!std::isfinite(caption_join.waiting_served_ratio) ||
      caption_join.waiting_served_ratio < 0.0 || caption_join.max_waiting_steps < 1)
    throw model::ConfigError(
        "engine caption join: the ratio must not be negative and the steps at least 1");
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
  return start(
      canonical, options,
      std::make_shared<const model::LoadedModel>(model::load_model(key.model_dir, placement)));
}

std::shared_ptr<Engine> Engine::create(std::shared_ptr<const model::LoadedModel> loaded,
                                       const EngineOptions& options) {
  if (!loaded) throw model::InputError("Engine::create: no model given");
  options.validate();
  const EngineKey key{loaded->dir, loaded->placement.device.str(),
                      dtype_name(loaded->placement.dtype)};
  return start(key, options, std::move(loaded));
}

std::shared_ptr<Engine> Engine::start(const EngineKey& key, const EngineOptions& options,
                                      std::shared_ptr<const model::LoadedModel> loaded) {
  auto impl = std::make_unique<Impl>(key, options, std::move(loaded));
  impl->start_workers();
  log_to(options, EngineLogLevel::kInfo, "InternVL engine ready: " + key.describe());
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

std::optional<std::future<EmbeddingResult>> Engine::submit_embedding(Nv12Picture picture,
                                                                     EmbeddingMode mode,
                                                                     Admission admission) {
  check_picture(picture);
  EmbeddingJob job;
  job.nv12 = std::move(picture);
  job.mode = mode;
  return impl_->embeddings->submit(std::move(job), admission);
}

std::optional<std::future<CaptionResult>> Engine::submit_caption(Nv12Picture picture,
                                                                 const CaptionSettings& settings,
                                                                 Admission admission) {
  validate_caption_settings(settings);
  check_picture(picture);
  CaptionJob job;
  job.nv12 = std::move(picture);
  job.settings = settings;
  return impl_->captions->submit(std::move(job), admission);
}

void Engine::check_picture(const Nv12Picture& picture) const {
  check_nv12_picture(picture);
  if (picture.cuda_memory && !takes_cuda_memory()) {
    throw model::InputError(
        "an NV12 picture in CUDA memory was submitted to the engine on " + impl_->key.device +
        (nv12_kernels_built() ? "" : " of a build without the CUDA kernels (INTERNVL_WITH_CUDA)") +
        "; download it to system memory first (cudadownload) or run the model on CUDA");
  }
}

bool Engine::takes_cuda_memory() const { return nv12_kernels_built() && cuda_device() >= 0; }

int Engine::cuda_device() const { return cuda_index(*impl_->model); }

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

std::vector<float> Engine::embed_query(const std::string& text) const {
  const auto& loaded = *impl_->model;
  return model::embed_text_query(loaded.full_model(), loaded.text_tokenizer(), text);
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
