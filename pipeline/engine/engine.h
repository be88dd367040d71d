// SPDX-License-Identifier: Apache-2.0
// The Engine: one loaded InternVL checkpoint per (model dir, device, dtype) per
// process, shared by every element and stream, with a dynamic batcher in front
// of it. This header is free of LibTorch so that GStreamer elements including
// it compile fast: inputs are preprocessed float pixels, outputs are plain
// structs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/common/clip_image_processor.h"
#include "model/cuda/nv12_pixels.h"
#include "model/internvl/join_policy.h"
#include "model/internvl/prompts.h"
#include "pipeline/engine/label_scorer.h"
#include "pipeline/engine/result_records.h"

namespace ivs::model {
struct LoadedModel;
}  // namespace ivs::model

namespace ivs::pipeline {

/// Which engine: the strings an element or the service config gives. Two keys
/// name the same engine when their canonical forms (Engine::canonical_key) are
/// equal.
struct EngineKey {
  std::string model_dir;        // "/models/InternVL-14B-224px"
  std::string device = "auto";  // "auto", "cpu", "cuda", "cuda:1"
  std::string dtype = "auto";   // "auto", "fp32", "bf16", "fp16"

  bool operator==(const EngineKey& other) const;
  bool operator!=(const EngineKey& other) const { return !(*this == other); }
  std::string describe() const;  // "/models/x (cpu/float32)"
};

enum class EngineLogLevel { kDebug, kInfo, kWarning, kError };

/// The two inference tasks; each has its own queue and worker thread.
enum class EngineTask { kEmbedding, kCaption };
const char* engine_task_name(EngineTask task);  // "embedding" / "caption"

/// What happened in one batch (requests admitted together), reported to
/// EngineOptions::batch_observer (metrics) when its last request completes.
/// Captions decode continuously: a batch's requests share the decoding steps
/// with earlier and later batches and leave one by one as they finish.
struct BatchReport {
  EngineTask task = EngineTask::kEmbedding;
  int64_t batch_size = 0;
  double inference_seconds = 0.0;     // admission to the last request's completion
  std::vector<double> queue_seconds;  // one per request of the batch
  bool failed = false;                // some request of it completed with an exception
};

struct EngineOptions {
  /// Most requests run together in one model call; for captions also the most
  /// requests decoding together (later ones join as earlier ones finish).
  int64_t batch_size = 16;
  /// How long the worker waits, after the oldest queued request arrived, for a
  /// full batch.
  std::chrono::nanoseconds batch_timeout = std::chrono::milliseconds(10);
  size_t max_queue = 64;  // queued requests per task (embedding, caption) before admission acts
  /// When queued captions join the running decode (default: at every step, lowest latency; a
  /// waiting_served_ratio trades their latency for bigger, cheaper prefills).
  model::JoinPolicy caption_join;
  /// Embeddings replayed from CUDA graphs of InternVL-C and -G for batches of 1, 2, 4, ... up to
  /// batch_size, all captured when the engine starts (a batch runs in the smallest that fits).
  /// Cuts the CPU's launch work per batch; needs the model on CUDA and a LibTorch with CUDA, else
  /// ignored with a warning.
  bool cuda_graphs = false;
  /// LibTorch intra-op threads of each worker thread; 0 = hardware_concurrency
  /// / 2 (at least 1): two workers may run at once, and on a 2-core CPU 1
  /// thread each leaves room for decode (extra BLAS threads gain little off
  /// the main thread: README.md, "Notes for developers").
  int intra_op_threads = 0;
  /// Called from any thread; must be thread-safe and must not call back into
  /// the engine.
  std::function<void(EngineLogLevel, const std::string&)> log;
  /// Called on the worker thread after every batch; same rules as `log`.
  std::function<void(const BatchReport&)> batch_observer;

  /// Throws model::ConfigError on a non-positive batch_size or max_queue, a
  /// negative timeout, or a negative join ratio or non-positive join steps.
  void validate() const;
};

/// What a submit does when the task's queue already holds max_queue requests.
enum class Admission {
  kWait,        // block the caller until there is room (non-live streams:
                // back-pressure)
  kDropIfFull,  // refuse at once; the submit returns nullopt and the drop is
                // counted (live)
};

/// Mirror of model::EmbeddingMode, kept here so this header stays free of
/// LibTorch.
enum class EmbeddingMode { kC, kG };

/// Caption prompt and decoding settings (the fields of
/// model::GenerationConfig). Requests with equal settings share a batch.
struct CaptionSettings {
  std::string prompt = model::kDefaultCaptionPrompt;
  int64_t num_beams = 5;
  int64_t min_new_tokens = 8;
  int64_t max_new_tokens = 20;
  double length_penalty = 1.0;

  bool operator==(const CaptionSettings& other) const;
};

/// An NV12 picture that the engine preprocesses itself while it assembles a batch, with the
/// model/cuda/ arithmetic (colour conversion, Pillow's bicubic resize, crop, normalisation): on
/// the GPU straight from CUDA memory (NVDEC output, no copy through the host), or on the CPU from
/// host memory. Embeddings resize the shortest edge and centre-crop, as the checkpoint's image
/// processor does; captions squash to the crop size, as the caption element does.
struct Nv12Picture {
  model::cuda::Nv12View planes;  // width, height and pitches in bytes; both dimensions even
  model::cuda::YuvMatrix matrix;
  bool cuda_memory = false;  // the planes are device memory of the engine's CUDA device
  /// Keeps the planes valid (e.g. a mapped GstBuffer). The engine drops it as soon as the picture
  /// is preprocessed, before the model runs: decoders' buffer pools are small.
  std::shared_ptr<void> keepalive;
};

struct EmbeddingResult {
  std::vector<float> embedding;  // [E], L2-normalised float32 (InternVL-C or -G)
  TimingRecord timing;           // queue, inference and batch size; latency is the caller's
};

struct CaptionResult {
  std::vector<int64_t> token_ids;  // generated ids, EOS (2) last when it ended early
  std::string text;                // decoded, special ids skipped
  int64_t num_input_tokens = 0;    // prompt tokens including BOS
  double score = 0.0;              // beam score (see model::GeneratedCaption)
  TimingRecord timing;
};

/// Counters of one task since the engine started.
struct TaskStats {
  uint64_t accepted = 0;       // requests queued
  uint64_t dropped = 0;        // refused by Admission::kDropIfFull
  uint64_t completed = 0;      // futures given a value
  uint64_t failed = 0;         // futures given an exception
  uint64_t batches = 0;        // batches (requests admitted together) completed
  uint64_t queue_depth = 0;    // requests waiting now
  int64_t max_batch_size = 0;  // largest batch so far
  int64_t last_batch_size = 0;
  std::vector<uint64_t> batch_size_counts;  // [n] = batches of n requests, n <= batch_size
  double inference_seconds = 0.0;           // sum over batches (BatchReport's)
};

struct EngineStats {
  TaskStats embedding;
  TaskStats caption;
};

/// Thrown into futures of requests cancelled by shutdown, or submitted after
/// it.
class EngineStopped : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A loaded model plus its batcher and label cache. Create it with create();
/// share it through std::shared_ptr (see engine_context.h for sharing between
/// elements). Every method is thread-safe. Destruction drains: queued requests
/// are run, then the workers are joined.
class Engine {
 public:
  /// Loads `key.model_dir` onto Placement::resolve(key.device, key.dtype) and
  /// starts the workers. Throws the model's typed errors (ConfigError,
  /// WeightLoadError, InputError).
  static std::shared_ptr<Engine> create(const EngineKey& key, const EngineOptions& options);

  /// Starts an engine around a model already in memory, e.g. model::random_model's full-size
  /// InternVL with random weights for benchmarks. Its key is {model->dir, the model's device and
  /// dtype}. engine_context does not share such engines.
  static std::shared_ptr<Engine> create(std::shared_ptr<const model::LoadedModel> loaded,
                                        const EngineOptions& options);

  /// `key` with the directory made absolute and canonical and device/dtype
  /// resolved
  /// ("cpu"/"float32"), so that "auto" and its meaning compare equal. Throws
  /// InputError on a bad device or dtype.
  static EngineKey canonical_key(const EngineKey& key);

  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const EngineKey& key() const;  // canonical
  const EngineOptions& options() const;
  std::string model_name() const;  // the checkpoint directory's name: "InternVL-14B-224px"
  bool vision_only() const;        // an InternViT-only checkpoint: no embeddings or captions

  /// The preprocessing the model expects; elements run it on their own thread
  /// and submit pixels of 3 x input_height() x input_width() floats.
  const model::ImageProcessorConfig& processor() const;
  int input_height() const;
  int input_width() const;

  /// Queues one image for an embedding. nullopt: dropped (queue full and
  /// kDropIfFull). A wrong-sized input or a model error completes the future
  /// with an exception; after shutdown() the future holds EngineStopped. kWait
  /// blocks while the queue is full.
  std::optional<std::future<EmbeddingResult>> submit_embedding(std::vector<float> pixels,
                                                               EmbeddingMode mode,
                                                               Admission admission);

  /// Queues one NV12 picture for an embedding; as above. Throws model::InputError at once for
  /// CUDA memory on an engine that is not on a CUDA device (or a build without the CUDA
  /// kernels), or for an empty or odd-sized picture.
  std::optional<std::future<EmbeddingResult>> submit_embedding(Nv12Picture picture,
                                                               EmbeddingMode mode,
                                                               Admission admission);

  /// Queues one image for a caption; as submit_embedding. Throws
  /// model::InputError at once when `settings` are out of range.
  std::optional<std::future<CaptionResult>> submit_caption(std::vector<float> pixels,
                                                           const CaptionSettings& settings,
                                                           Admission admission);
  /// Queues one NV12 picture for a caption; as the NV12 submit_embedding.
  std::optional<std::future<CaptionResult>> submit_caption(Nv12Picture picture,
                                                           const CaptionSettings& settings,
                                                           Admission admission);

  /// Whether submits may hand over NV12 pictures in CUDA memory: the model is on a CUDA device
  /// and this build has the CUDA kernels.
  bool takes_cuda_memory() const;
  /// The CUDA device index of the model; -1 on the CPU.
  int cuda_device() const;

  /// The scorer for a label set, computed on the calling thread (the text
  /// tower) the first time and shared while anyone holds it: the same pointer
  /// comes back for the same labels and templates. Throws model::InputError on
  /// an invalid label set or a vision-only checkpoint.
  std::shared_ptr<const LabelScorer> label_scorer(const std::vector<std::string>& labels,
                                                  const std::vector<std::string>& templates);

  /// The embedding [E] (float32, L2-normalised) of a free-text search query, comparable with
  /// the image embeddings of either mode (model::embed_text_query). Runs the text tower on the
  /// calling thread, beside the workers, not through a queue. Throws model::InputError for an
  /// empty query or a vision-only checkpoint.
  std::vector<float> embed_query(const std::string& text) const;

  EngineStats stats() const;

  /// Workers stop taking batches (queued requests wait; submits still queue).
  /// For maintenance and for tests that need a full queue.
  void pause();
  void resume();

  enum class ShutdownMode {
    kDrain,   // run everything queued, then stop
    kCancel,  // fail everything queued with EngineStopped
  };
  /// Stops accepting requests (later submits get EngineStopped futures; blocked
  /// kWait submits wake with one), handles the queue as `mode` says and joins
  /// the workers. Idempotent.
  void shutdown(ShutdownMode mode = ShutdownMode::kDrain);

  struct Impl;  // defined in engine.cpp

 private:
  void check_picture(const Nv12Picture& picture) const;
  static std::shared_ptr<Engine> start(const EngineKey& key, const EngineOptions& options,
                                       std::shared_ptr<const model::LoadedModel> loaded);

  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ivs::pipeline
