// SPDX-License-Identifier: Apache-2.0
// bench_engine_streams: stream density of the Engine alone. N cameras each deliver one sampled
// frame per 1/--sample-fps seconds, in real time and evenly staggered, as NV12 pictures: in CUDA
// memory on a CUDA engine (what nvh264dec hands out; the engine preprocesses them in place) and in
// host memory on the CPU. One shared Engine, with the elements' default batching unless told
// otherwise, embeds them (InternVL-C or -G) the way a live internvlclassify submits them
// (Admission::kDropIfFull). Decoding is not part of it: e2e_streams.py measures whole pipelines
// where GStreamer and a decoder exist; the GPU bench machine has neither.
//
// For each N: frames dropped at admission, failures, frame-to-result latency p50/p95/max (from
// the frame's due time to its result), the batch size a frame ran in (averaged over frames) and
// results/s. N keeps up when nothing was dropped or failed and the p95 is within
// --p95-bound-ms. Prints a table and one line
// `engine_streams: ... streams=<largest N that kept up> p95_ms=<its p95>`. Speed is reported,
// never asserted.
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "model/cli/bench_numbers.h"
#include "model/common/errors.h"
#include "model/cuda/nv12_plan.h"
#include "model/internvl/loaded_model.h"
#include "model/internvl/placement.h"
#include "pipeline/engine/engine.h"

namespace {

using ivs::pipeline::Engine;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string preset;  // tiny | full; empty: --model when given, else full on CUDA, tiny on the CPU
  std::string model_dir;
  std::string device = "auto";
  std::string dtype = "auto";
  std::string mode = "c";
  std::string streams;  // empty: 1,2,4 on the CPU, 16,32,64,96,128,160,192,256 on CUDA
  double seconds = 10.0;
  double sample_fps = 1.0;
  int width = 1920;
  int height = 1080;
  double p95_bound_ms = 300.0;
  int64_t batch_size = ivs::pipeline::EngineOptions{}.batch_size;
  double batch_timeout_ms = 10.0;
  size_t max_queue = ivs::pipeline::EngineOptions{}.max_queue;
  bool cuda_graphs = false;    // EngineOptions::cuda_graphs
  int distinct_pictures = 32;  // streams share this many random pictures (memory, set-up time)
  bool all = false;            // run every N, not only up to the first that falls behind
  uint64_t seed = 0;
  std::string json;  // report file
};

struct Point {
  int64_t streams = 0;
  int64_t frames = 0;  // due in the run
  int64_t completed = 0, dropped = 0, failed = 0;
  std::vector<double> latency_ms;  // completed frames, due time to result
  double batch_sum = 0.0;          // batch size each completed frame ran in, summed (per frame)
  double wall_seconds = 0.0;       // first due time to last result
  std::string first_error;

  double percentile(double q) const { return ivs::cli::percentile(latency_ms, q); }
  bool kept_up(double bound_ms) const {
    return dropped == 0 && failed == 0 && completed == frames && completed > 0 &&
           percentile(0.95) <= bound_ms;
  }
};

void validate(const Options& o) {
  if (o.mode != "c" && o.mode != "g") throw ivs::model::InputError("--mode must be c or g");
  if (o.width < 2 || o.height < 2 || o.width % 2 || o.height % 2) {
    throw ivs::model::InputError("--width and --height must be even and at least 2 (NV12 frames)");
  }
  if (!(o.seconds > 0) || !(o.sample_fps > 0) || !(o.p95_bound_ms > 0) || o.batch_timeout_ms < 0 ||
      o.distinct_pictures < 1) {
    throw ivs::model::InputError(
        "--seconds, --sample-fps, --p95-bound-ms and --distinct-pictures must be positive and "
        "--batch-timeout-ms not negative");
  }
}

// Random NV12 pictures with a decoder-like pitch (rows padded to 256 bytes), in CUDA memory of
// the engine's device when it takes CUDA memory, else in host memory. The tensors are the
// keepalives.
std::vector<ivs::pipeline::Nv12Picture> make_pictures(const Engine& engine, const Options& o,
                                                      int count) {
  const bool cuda = engine.takes_cuda_memory();
  const auto options = at::TensorOptions().dtype(at::kByte).device(
      cuda ? c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(engine.cuda_device()))
           : c10::Device(c10::kCPU));
  const int pitch = (o.width + 255) / 256 * 256;
  std::vector<ivs::pipeline::Nv12Picture> pictures;
  for (int i = 0; i < count; ++i) {
    auto planes = std::make_shared<std::pair<at::Tensor, at::Tensor>>(
        at::randint(0, 256, {o.height, pitch}, options),
        at::randint(0, 256, {o.height / 2, pitch}, options));
    ivs::pipeline::Nv12Picture p;
    p.planes = {planes->first.data_ptr<uint8_t>(),
                planes->second.data_ptr<uint8_t>(),
                pitch,
                pitch,
                o.width,
                o.height};
    p.matrix =
        ivs::model::cuda::make_yuv_matrix(ivs::model::cuda::YuvStandard::kBt709, false, true);
    p.cuda_memory = cuda;
    p.keepalive = planes;
    pictures.push_back(std::move(p));
  }
  return pictures;
}

// Results of the submitted frames, collected in submission order (embedding batches complete in
// that order) on a thread of their own, so that the submitter keeps to the schedule.
class Collector {
 public:
  explicit Collector(Point& point) : point_(point), thread_([this] { run(); }) {}
  ~Collector() { finish(); }

  void add(Clock::time_point due, std::future<ivs::pipeline::EmbeddingResult> result) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      pending_.emplace_back(due, std::move(result));
    }
    ready_.notify_one();
  }
  // Waits for every added result; returns when the last one came.
  Clock::time_point finish() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    ready_.notify_one();
    if (thread_.joinable()) thread_.join();
    return last_;
  }

 private:
  void run() {
    for (;;) {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_.wait(lock, [&] { return closed_ || !pending_.empty(); });
      if (pending_.empty()) return;
      auto [due, result] = std::move(pending_.front());
      pending_.pop_front();
      lock.unlock();
      try {
        const auto embedding = result.get();
        last_ = Clock::now();
        point_.latency_ms.push_back(std::chrono::duration<double, std::milli>(last_ - due).count());
        point_.batch_sum += static_cast<double>(embedding.timing.batch_size);
        ++point_.completed;
      } catch (const std::exception& e) {
        last_ = Clock::now();
        if (point_.failed++ == 0) point_.first_error = e.what();
      }
    }
  }

  Point& point_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::pair<Clock::time_point, std::future<ivs::pipeline::EmbeddingResult>>> pending_;
  bool closed_ = false;
  Clock::time_point last_{};
  std::thread thread_;  // last: starts once the rest is built
};

// One N: frames due at start + (k + i / N) / sample_fps for stream i and sample k.
Point run_point(Engine& engine, const std::vector<ivs::pipeline::Nv12Picture>& pictures,
                int64_t streams, const Options& o) {
  const auto mode =
      o.mode == "g" ? ivs::pipeline::EmbeddingMode::kG : ivs::pipeline::EmbeddingMode::kC;
  const auto samples = std::max<int64_t>(1, std::llround(o.seconds * o.sample_fps));
  Point point;
  point.streams = streams;
  point.frames = samples * streams;
  const auto period = std::chrono::duration<double>(1.0 / o.sample_fps);
  const auto start = Clock::now() + std::chrono::milliseconds(50);
  Clock::time_point last_result;
  {
    Collector collector(point);
    for (int64_t k = 0; k < samples; ++k) {
      for (int64_t i = 0; i < streams; ++i) {
        const auto offset = period * (static_cast<double>(k) +
                                      static_cast<double>(i) / static_cast<double>(streams));
        const auto due = start + std::chrono::duration_cast<Clock::duration>(offset);
        std::this_thread::sleep_until(due);
        const auto& picture = pictures[static_cast<size_t>(i) % pictures.size()];
        auto result = engine.submit_embedding(picture, mode, ivs::pipeline::Admission::kDropIfFull);
        if (result) {
          collector.add(due, std::move(*result));
        } else {
          ++point.dropped;
        }
      }
    }
    last_result = collector.finish();
  }
  point.wall_seconds = std::chrono::duration<double>(last_result - start).count();
  return point;
}

// Untimed: the first batch of each size pays for kernel choices, allocator growth and the NV12
// plans (and the stream runs below see every size from 1 up, as the arrival rate grows).
void warm_up(Engine& engine, const std::vector<ivs::pipeline::Nv12Picture>& pictures,
             const Options& o) {
  const auto mode =
      o.mode == "g" ? ivs::pipeline::EmbeddingMode::kG : ivs::pipeline::EmbeddingMode::kC;
  for (int64_t size = 1; size <= engine.options().batch_size; ++size) {
    engine.pause();  // so that the batch holds all `size` pictures
    std::vector<std::future<ivs::pipeline::EmbeddingResult>> results;
    for (int64_t i = 0; i < size; ++i) {
      results.push_back(*engine.submit_embedding(pictures[static_cast<size_t>(i) % pictures.size()],
                                                 mode, ivs::pipeline::Admission::kWait));
    }
    engine.resume();
    for (auto& r : results) r.get();
  }
}

using ivs::cli::fixed;

int run(const Options& o) {
  validate(o);
  const auto placement = ivs::model::Placement::resolve(o.device, o.dtype);
  const auto stream_counts =
      ivs::cli::parse_positive_list(!o.streams.empty()           ? o.streams
                                    : placement.device.is_cuda() ? "16,32,64,96,128,160,192,256"
                                                                 : "1,2,4",
                                    "--streams", "16,32,64");
  ivs::pipeline::EngineOptions engine_options;
  engine_options.batch_size = o.batch_size;
  engine_options.batch_timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double, std::milli>(o.batch_timeout_ms));
  engine_options.max_queue = o.max_queue;
  engine_options.cuda_graphs = o.cuda_graphs;
  engine_options.log = [](ivs::pipeline::EngineLogLevel level, const std::string& message) {
    if (level >= ivs::pipeline::EngineLogLevel::kWarning) std::cerr << message << std::endl;
  };
  engine_options.validate();

  const auto preset = !o.preset.empty() ? o.preset : placement.device.is_cuda() ? "full" : "tiny";
  std::cerr << "bench_engine_streams: building "
            << (o.model_dir.empty() ? "preset:" + preset + " with random weights" : o.model_dir)
            << " on " << placement.describe() << std::endl;
  at::manual_seed(o.seed);
  auto loaded = std::make_shared<const ivs::model::LoadedModel>(
      o.model_dir.empty() ? ivs::model::random_model(preset, placement, o.seed)
                          : ivs::model::load_model(o.model_dir, placement));
  if (loaded->vision_only()) {
    throw ivs::model::InputError(o.model_dir +
                                 " is a vision-only (InternViT) checkpoint: embeddings need "
                                 "an InternVL checkpoint");
  }
  auto engine = Engine::create(loaded, engine_options);
  const auto where = engine->key().device + "/" + engine->key().dtype;  // "cuda:0/bfloat16"
  const auto pictures = make_pictures(*engine, o, o.distinct_pictures);
  const char* memory = engine->takes_cuda_memory() ? "cuda" : "host";
  warm_up(*engine, pictures, o);

  std::printf(
      "engine stream density: %s on %s, InternVL-%s, %dx%d NV12 in %s memory, %g sampled fps "
      "per stream for %g s, batch-size %lld, batch-timeout %g ms, max-queue %zu%s\n",
      engine->key().model_dir.c_str(), where.c_str(), o.mode == "g" ? "G" : "C", o.width, o.height,
      memory, o.sample_fps, o.seconds, static_cast<long long>(o.batch_size), o.batch_timeout_ms,
      o.max_queue, o.cuda_graphs ? ", CUDA graphs" : "");
  std::printf("%8s %7s %7s %7s %6s %8s %8s %8s %11s %9s %s\n", "streams", "frames", "done",
              "dropped", "failed", "p50_ms", "p95_ms", "max_ms", "frame_batch", "results/s",
              "kept_up");
  std::fflush(stdout);

  nlohmann::json report = {{"model", engine->key().model_dir},
                           {"device", where},
                           {"mode", o.mode},
                           {"width", o.width},
                           {"height", o.height},
                           {"nv12_memory", memory},
                           {"sample_fps", o.sample_fps},
                           {"seconds", o.seconds},
                           {"p95_bound_ms", o.p95_bound_ms},
                           {"batch_size", o.batch_size},
                           {"batch_timeout_ms", o.batch_timeout_ms},
                           {"max_queue", o.max_queue},
                           {"cuda_graphs", o.cuda_graphs},
                           {"points", nlohmann::json::array()}};
  int64_t best = 0;
  double best_p95 = 0.0;
  // Written again after every N, so that a run stopped from outside keeps what it measured.
  auto write_report = [&] {
    report["streams"] = best;
    report["p95_ms"] = best > 0 ? nlohmann::json(best_p95) : nlohmann::json(nullptr);
    if (o.json.empty()) return;
    std::ofstream out(o.json);
    out << report.dump(2) << "\n";
    if (!out) throw ivs::model::InputError("cannot write the report to " + o.json);
  };
  for (const auto n : stream_counts) {
    const auto point = run_point(*engine, pictures, n, o);
    const bool kept = point.kept_up(o.p95_bound_ms);
    const bool any = !point.latency_ms.empty();
    const double p50 = any ? point.percentile(0.5) : NAN, p95 = any ? point.percentile(0.95) : NAN;
    const double max = any ? point.percentile(1.0) : NAN;
    const double mean_batch = any ? point.batch_sum / static_cast<double>(point.completed) : NAN;
    const double rate =
        point.wall_seconds > 0 ? static_cast<double>(point.completed) / point.wall_seconds : 0.0;
    std::printf("%8lld %7lld %7lld %7lld %6lld %8s %8s %8s %11s %9s %s\n",
                static_cast<long long>(n), static_cast<long long>(point.frames),
                static_cast<long long>(point.completed), static_cast<long long>(point.dropped),
                static_cast<long long>(point.failed), fixed(p50, 1).c_str(), fixed(p95, 1).c_str(),
                fixed(max, 1).c_str(), fixed(mean_batch, 1).c_str(), fixed(rate, 1).c_str(),
                kept ? "yes" : "no");
    if (!point.first_error.empty()) std::printf("  first failure: %s\n", point.first_error.c_str());
    std::fflush(stdout);
    nlohmann::json row = {{"streams", n},
                          {"frames", point.frames},
                          {"completed", point.completed},
                          {"dropped", point.dropped},
                          {"failed", point.failed},
                          {"kept_up", kept},
                          {"results_per_second", rate}};
    if (any) {
      row["p50_ms"] = p50;
      row["p95_ms"] = p95;
      row["max_ms"] = max;
      // the batch size each frame ran in, averaged over frames
      row["frame_mean_batch"] = mean_batch;
    }
    report["points"].push_back(row);
    if (kept && n > best) {
      best = n;
      best_p95 = p95;
    }
    write_report();
    if (!kept && !o.all) break;
  }
  std::printf(
      "engine_streams: model=%s device=%s mode=%s picture=%dx%d nv12=%s sample_fps=%g streams=%lld "
      "p95_ms=%s\n",
      engine->key().model_dir.c_str(), where.c_str(), o.mode.c_str(), o.width, o.height, memory,
      o.sample_fps, static_cast<long long>(best), best > 0 ? fixed(best_p95, 1).c_str() : "na");
  engine->shutdown();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Stream density of the InternVL engine: N real-time streams of NV12 frames, embedded by one "
      "engine"};
  Options o;
  auto* preset =
      app.add_option("--preset", o.preset,
                     "Random-weight model: tiny, or full (InternVL-14B-224px shapes; the "
                     "default on CUDA)");
  app.add_option("--model", o.model_dir, "A checkpoint directory instead of a preset")
      ->excludes(preset);
  app.add_option("--device", o.device, "auto, cpu, cuda or cuda:N");
  app.add_option("--dtype", o.dtype, "auto, fp32, bf16 or fp16");
  app.add_option("--mode", o.mode, "c (InternVL-C) or g (InternVL-G)");
  app.add_option("--streams", o.streams,
                 "Stream counts to try, ascending (default 1,2,4 on the CPU, "
                 "16,...,256 on CUDA)");
  app.add_option("--seconds", o.seconds, "Length of each run");
  app.add_option("--sample-fps", o.sample_fps, "Frames per second each stream submits");
  app.add_option("--width", o.width, "Frame width (even)");
  app.add_option("--height", o.height, "Frame height (even)");
  app.add_option("--p95-bound-ms", o.p95_bound_ms, "Latency bound for keeping up");
  app.add_option("--batch-size", o.batch_size, "Engine batch size (the elements' default)");
  app.add_option("--batch-timeout-ms", o.batch_timeout_ms, "Engine batch timeout");
  app.add_option("--max-queue", o.max_queue, "Engine queue before frames are dropped");
  app.add_flag("--cuda-graphs", o.cuda_graphs, "Engine embeddings replayed from CUDA graphs");
  app.add_option("--distinct-pictures", o.distinct_pictures, "Random pictures the streams share");
  app.add_flag("--all", o.all,
               "Run every stream count, not only up to the first that falls behind");
  app.add_option("--seed", o.seed, "Seed of the weights and pictures");
  app.add_option("--json", o.json, "Write the report to this file");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::cerr << "bench_engine_streams: " << e.what() << std::endl;
    return 1;
  }
}
