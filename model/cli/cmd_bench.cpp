// SPDX-License-Identifier: Apache-2.0
// internvl bench: images/s, ms/image and model FLOP utilisation (MFU) of the InternVL-C and -G
// image paths and of captioning, per batch size. Performance is measured, never assumed: every
// figure is reported next to a square matrix product timed in the same run, on the same device
// and dtype, so the ratios stay meaningful on unknown hardware; --peak-tflops adds MFU against a
// datasheet figure. FLOPs come from model/internvl/flops.h (model/README.md, "Parameters and
// FLOPs").
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>

#include "model/cli/bench.h"
#include "model/cli/bench_numbers.h"
#include "model/cli/commands.h"
#include "model/cli/model_options.h"
#include "model/common/errors.h"
#include "model/common/torch_compat.h"
#include "model/internvl/flops.h"
#include "model/internvl/generation.h"
#include "model/internvl/image_graphs.h"
#include "model/internvl/loaded_model.h"
#include "model/internvl/prompts.h"
#include "model/internvl/weights.h"

namespace ivs::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct MatmulBaseline {
  int64_t size = 0;
  double seconds = 0.0;  // median of one product
  double tflops = 0.0;
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::vector<int64_t> parse_batches(const std::string& text) {
  return parse_positive_list(text, "--batch", "1,8,64");
}

// The model's own tasks, in the order the error message lists them.
const std::vector<std::string>& model_task_names() {
  static const std::vector<std::string> names{"vit", "c", "g", "caption", "caption-streams"};
  return names;
}

bool is_model_task(const std::string& t) {
  const auto& names = model_task_names();
  return std::find(names.begin(), names.end(), t) != names.end();
}

const BenchTask* find_task(const std::vector<BenchTask>& tasks, const std::string& name) {
  for (const auto& task : tasks) {
    if (task.name == name) return &task;
  }
  return nullptr;
}

// The model's tasks of `text`, in order; the extension tasks it names go to `extra`.
std::vector<std::string> parse_tasks(const std::string& text, const std::vector<BenchTask>& known,
                                     std::vector<const BenchTask*>* extra) {
  const auto tasks = split_list(text);
  if (tasks.empty()) throw model::InputError("--tasks is empty");
  std::vector<std::string> model_tasks;
  for (const auto& t : tasks) {
    if (is_model_task(t)) {
      model_tasks.push_back(t);
    } else if (const auto* task = find_task(known, t)) {
      extra->push_back(task);
    } else {
      std::string names;
      for (const auto& name : model_task_names()) names += (names.empty() ? "" : ", ") + name;
      for (const auto& k : known) names += ", " + k.name;
      throw model::InputError("unknown task '" + t + "': use " + names);
    }
  }
  return model_tasks;
}

void require_full_model(const std::vector<std::string>& tasks, bool vision_only) {
  for (const auto& t : tasks) {
    if (vision_only && t != "vit") {
      throw model::InputError("task '" + t + "' needs an InternVL checkpoint; a vision-only " +
                              "(InternViT) checkpoint can only run --tasks vit");
    }
  }
}

double mean(const std::vector<double>& v) {
  double sum = 0.0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

// The achievable dense rate here: an n^3 product on random data in the model's dtype, repeated
// so that one sample lasts ~50 ms (launch and sync costs vanish), median of five samples.
MatmulBaseline measure_matmul(const model::Placement& p, int64_t n) {
  const auto a = at::randn({n, n}, tensor_options(p)), b = at::randn({n, n}, tensor_options(p));
  auto out = at::empty({n, n}, tensor_options(p));
  auto product = [&] { at::mm_out(out, a, b); };
  const double once = mean(time_calls(product, 2, 1, p.device));
  const int repeats = static_cast<int>(std::clamp(0.05 / std::max(once, 1e-9), 1.0, 1000.0));
  auto block = [&] {
    for (int i = 0; i < repeats; ++i) product();
  };
  MatmulBaseline m;
  m.size = n;
  m.seconds = percentile(time_calls(block, 0, 5, p.device), 0.5) / repeats;
  m.tflops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) /
             m.seconds / 1e12;
  return m;
}

BenchModel build_preset(const std::string& name, const model::Placement& placement, uint64_t seed,
                        bool fuse) {
  const auto config = model::preset_config(name);  // an unknown name fails here, before the log
  const auto bytes = static_cast<double>(model::count_parameters(config).built()) *
                     static_cast<double>(c10::elementSize(placement.dtype));
  std::cerr << "internvl bench: building preset:" << name << " with random weights on "
            << placement.describe() << " (" << bytes / 1e9 << " GB of parameters)" << std::endl;
  const auto loaded = model::random_model(name, placement, seed, fuse);
  BenchModel m;
  m.source = loaded.dir;
  m.config = loaded.config;
  m.placement = placement;
  m.internvl = loaded.internvl;
  m.vision = m.internvl->vision_model;
  return m;
}

BenchModel load_checkpoint_model(const ModelOptions& options) {
  auto loaded = options.load();
  BenchModel m;
  m.source = options.model_dir;
  m.config = loaded.config;
  m.placement = loaded.placement;
  if (loaded.vision_only()) {
    m.vision = loaded.vision;
    return m;
  }
  m.internvl = loaded.internvl;
  m.vision = loaded.internvl->vision_model;
  m.prompt_ids = loaded.text_tokenizer().encode_prompt(model::kDefaultCaptionPrompt);
  return m;
}

Measurement bench_image_task(const BenchModel& m, const std::string& task, int64_t batch,
                             const BenchOptions& o, model::ImageEmbeddingGraphs* graphs) {
  const auto& c = m.config;
  const auto pixels = random_pixels(m, batch);
  const auto mode = task == "g" ? model::EmbeddingMode::kG : model::EmbeddingMode::kC;
  at::Tensor out;
  auto run = [&] {
    if (task == "vit") {
      out = m.vision->forward(pixels);
    } else if (graphs != nullptr) {
      out = graphs->encode_image(pixels, mode).value();  // captured for every --batch
    } else {
      out = m.internvl->encode_image(pixels, mode);
    }
  };
  Measurement r;
  r.task = task;
  r.batch = batch;
  r.seconds = time_calls(run, o.warmup, o.iterations, m.placement.device);
  r.flops_per_image = task == "vit" ? model::vision_tower_flops(c)
                      : task == "c" ? model::image_c_flops(c)
                                    : model::image_g_flops(c);
  if (graphs != nullptr && task != "vit") {  // the replays compute what the eager forward does
    const auto eager = m.internvl->encode_image(pixels, mode).to(at::kDouble);
    r.graph_relative_error = ((out.to(at::kDouble) - eager).norm() / eager.norm()).item<double>();
  }
  r.output_finite = out.defined() && at::isfinite(out).all().item<bool>();
  return r;
}

// Everything a row of the report says, derived from one Measurement.
struct Row {
  double images_per_second, ms_mean, ms_p50, ms_p95, achieved_tflops, mfu_matmul;
  std::optional<double> mfu_peak, speedup_vs_batch1;
  double tokens_per_second;
};

Row summarize(const Measurement& r, const MatmulBaseline& base, double peak, double batch1_rate) {
  const double b = static_cast<double>(r.batch), t = mean(r.seconds);
  Row row{};
  row.images_per_second = b / t;
  row.ms_mean = 1e3 * t / b;
  row.ms_p50 = 1e3 * percentile(r.seconds, 0.5) / b;
  row.ms_p95 = 1e3 * percentile(r.seconds, 0.95) / b;
  row.achieved_tflops = r.flops_per_image * b / t / 1e12;
  row.mfu_matmul = row.achieved_tflops / base.tflops;
  if (peak > 0.0) row.mfu_peak = row.achieved_tflops / peak;
  if (batch1_rate > 0.0) row.speedup_vs_batch1 = row.images_per_second / batch1_rate;
  row.tokens_per_second = static_cast<double>(r.generated_tokens) / t;
  return row;
}

nlohmann::json optional_json(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json row_json(const Measurement& r, const Row& row) {
  nlohmann::json j = {
      {"task", r.task},
      {"batch", r.batch},
      {"iterations", r.seconds.size()},
      {"images_per_second", row.images_per_second},
      {"ms_per_image", {{"mean", row.ms_mean}, {"p50", row.ms_p50}, {"p95", row.ms_p95}}},
      {"flops_per_image", r.flops_per_image},
      {"achieved_tflops", row.achieved_tflops},
      {"mfu_vs_matmul", row.mfu_matmul},
      {"mfu_vs_peak", optional_json(row.mfu_peak)},
      {"speedup_vs_batch1", optional_json(row.speedup_vs_batch1)},
      {"output_finite", r.output_finite}};
  if (r.task == "caption" || r.task == "caption-streams") {
    j["captions_per_second"] = row.images_per_second;
    j["generated_tokens"] = r.generated_tokens;
    j["generated_tokens_per_second"] = row.tokens_per_second;
    j["decode_steps"] = r.decode_steps;
  }
  if (r.graph_relative_error) j["cuda_graph_relative_error"] = *r.graph_relative_error;
  if (!r.request_seconds.empty()) {
    j["request_ms"] = {{"p50", 1e3 * percentile(r.request_seconds, 0.5)},
                       {"p95", 1e3 * percentile(r.request_seconds, 0.95)},
                       {"count", r.request_seconds.size()}};
  }
  return j;
}

nlohmann::json sizes_json(int64_t hidden, int64_t layers, int64_t heads, int64_t mlp) {
  return {{"hidden_size", hidden},
          {"num_hidden_layers", layers},
          {"num_attention_heads", heads},
          {"intermediate_size", mlp}};
}

nlohmann::json context_json(const BenchModel& m, const BenchOptions& o,
                            const MatmulBaseline& base) {
  const auto& v = m.config.vision_config;
  const auto& q = m.config.qllama_config;
  return {{"model", m.source},
          {"device", m.placement.device.str()},
          {"dtype", std::string(c10::toString(m.placement.dtype))},
          {"torch_version", model::compat::torch_version()},
          {"cores", std::thread::hardware_concurrency()},
          {"threads", at::get_num_threads()},
          {"parameters", model::count_parameters(m.config).built()},
          {"config",
           {{"vision", sizes_json(v.hidden_size, v.num_hidden_layers, v.num_attention_heads,
                                  v.intermediate_size)},
            {"qllama", sizes_json(q.hidden_size, q.num_hidden_layers, q.num_attention_heads,
                                  q.intermediate_size)},
            {"vocab_size", q.vocab_size},
            {"image_size", m.config.image_size()},
            {"num_query_token", m.config.num_query_token}}},
          {"baseline",
           {{"matmul_size", base.size},
            {"matmul_ms", 1e3 * base.seconds},
            {"matmul_tflops", base.tflops}}},
          {"peak_tflops",
           o.peak_tflops > 0.0 ? nlohmann::json(o.peak_tflops) : nlohmann::json(nullptr)},
          {"warmup", o.warmup},
          {"fused_projections", !o.unfused},
          {"cuda_graphs", o.cuda_graphs},
          {"join",
           {{"waiting_served_ratio", o.join.waiting_served_ratio},
            {"max_waiting_steps", o.join.max_waiting_steps}}},
          {"num_beams", o.generation.num_beams},
          {"max_new_tokens", o.generation.max_new_tokens}};
}

std::string optional_text(const std::optional<double>& v, int decimals) {
  return v ? fixed(*v, decimals) : "-";
}

void print_table(const BenchModel& m, const BenchOptions& o, const MatmulBaseline& base,
                 const std::vector<Measurement>& measured, const std::vector<Row>& rows) {
  std::cout << "internvl bench: " << m.source << " on " << m.placement.describe() << ", LibTorch "
            << model::compat::torch_version() << ", " << std::thread::hardware_concurrency()
            << " cores, " << at::get_num_threads() << " threads\n"
            << "baseline: " << base.size << "^3 matmul " << fixed(1e3 * base.seconds, 3)
            << " ms = " << fixed(base.tflops, 3)
            << " TFLOP/s (measured in this run; MFU(mm) is against it)\n";
  if (o.peak_tflops > 0.0) std::cout << "peak: " << o.peak_tflops << " TFLOP/s (--peak-tflops)\n";
  if (o.cuda_graphs) std::cout << "tasks c and g replayed from CUDA graphs (--cuda-graphs)\n";
  std::printf("%-8s %6s %10s %10s %10s %10s %11s %9s %8s %9s %8s %10s\n", "task", "batch", "img/s",
              "ms/img", "p50", "p95", "GFLOP/img", "TFLOP/s", "MFU(mm)", "MFU(peak)", "x b1",
              "tok/s");
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = measured[i];
    const auto& row = rows[i];
    std::printf("%-8s %6lld %10.3f %10.3f %10.3f %10.3f %11.2f %9.4f %8.3f %9s %8s %10s%s\n",
                r.task.c_str(), static_cast<long long>(r.batch), row.images_per_second, row.ms_mean,
                row.ms_p50, row.ms_p95, r.flops_per_image / 1e9, row.achieved_tflops,
                row.mfu_matmul, optional_text(row.mfu_peak, 3).c_str(),
                optional_text(row.speedup_vs_batch1, 2).c_str(),
                r.task.rfind("caption", 0) == 0 ? fixed(row.tokens_per_second, 1).c_str() : "-",
                r.output_finite ? "" : "  (non-finite output)");
  }
  for (const auto& r : measured) {
    if (r.graph_relative_error) {
      std::printf("%s %lld: CUDA graph replay against the eager forward: relative error %.2e\n",
                  r.task.c_str(), static_cast<long long>(r.batch), *r.graph_relative_error);
    }
    if (r.request_seconds.empty()) continue;
    std::printf(
        "%s %lld: request latency p50 %.1f ms, p95 %.1f ms over %zu requests (join ratio %g, "
        "after %lld steps)\n",
        r.task.c_str(), static_cast<long long>(r.batch), 1e3 * percentile(r.request_seconds, 0.5),
        1e3 * percentile(r.request_seconds, 0.95), r.request_seconds.size(),
        o.join.waiting_served_ratio, static_cast<long long>(o.join.max_waiting_steps));
  }
  std::fflush(stdout);
}

BenchModel build_model(const BenchOptions& o) {
  if (!o.preset.empty() && o.model_given) {
    throw model::InputError("give either --preset or --model, not both");
  }
  if (o.preset.empty() && !o.model.model_dir.empty()) {
    if (o.unfused)
      throw model::InputError("--unfused applies to --preset models; checkpoints load fused");
    return load_checkpoint_model(o.model);
  }
  const auto placement = model::Placement::resolve(o.model.device, o.model.dtype);
  model::use_all_cores_for_inference();
  std::string preset = o.preset;
  if (preset.empty()) preset = placement.device.is_cuda() ? "full" : "tiny";
  return build_preset(preset, placement, o.seed, !o.unfused);
}

// The model's tasks: prints their table, or returns their JSON ({context, results}) with --json.
nlohmann::json run_model_tasks(BenchOptions o, std::vector<std::string> tasks) {
  // A short --max-new-tokens should not trip over the default min_new_tokens (8).
  o.generation.min_new_tokens = std::min(o.generation.min_new_tokens, o.generation.max_new_tokens);
  o.generation.validate();
  if (o.iterations < 1 || o.warmup < 0) {
    throw model::InputError("--iterations must be at least 1 and --warmup at least 0");
  }
  if (!o.batches.empty()) parse_batches(o.batches);  // argument errors before the slow build
  const auto m = build_model(o);
  if (!m.internvl && !o.tasks_given) tasks = {"vit"};  // all a vision-only checkpoint can do
  require_full_model(tasks, !m.internvl);
  at::manual_seed(o.seed);  // the random inputs; presets also seeded their weights with it
  const bool cuda = m.placement.device.is_cuda();
  const auto batches = parse_batches(!o.batches.empty() ? o.batches : (cuda ? "1,8,64" : "1,8"));
  c10::InferenceMode guard;
  std::unique_ptr<model::ImageEmbeddingGraphs> graphs;
  if (o.cuda_graphs) {  // captured before any timing: one graph per task c/g and --batch
    if (!m.internvl)
      throw model::InputError("--cuda-graphs needs an InternVL model (tasks c and g)");
    std::vector<model::EmbeddingMode> modes;
    for (const auto& t : tasks) {
      if (t == "c") modes.push_back(model::EmbeddingMode::kC);
      if (t == "g") modes.push_back(model::EmbeddingMode::kG);
    }
    graphs = std::make_unique<model::ImageEmbeddingGraphs>(*m.internvl, modes, batches);
  }
  const int64_t matmul_size = o.matmul_size > 0 ? o.matmul_size : (cuda ? 4096 : 1024);
  const auto base = measure_matmul(m.placement, matmul_size);
  std::vector<Measurement> measured;
  std::vector<Row> rows;
  for (const auto& task : tasks) {
    double batch1_rate = 0.0;
    for (int64_t batch : batches) {
      if (!o.model.json) std::cerr << "internvl bench: " << task << " batch " << batch << std::endl;
      measured.push_back(task == "caption" ? bench_captions(m, batch, o)
                         : task == "caption-streams"
                             ? bench_caption_streams(m, batch, o)
                             : bench_image_task(m, task, batch, o, graphs.get()));
      rows.push_back(summarize(measured.back(), base, o.peak_tflops, batch1_rate));
      if (batch == 1) batch1_rate = rows.back().images_per_second;
    }
  }
  if (!o.model.json) {
    print_table(m, o, base, measured, rows);
    return nullptr;
  }
  nlohmann::json results = nlohmann::json::array();
  for (size_t i = 0; i < rows.size(); ++i) results.push_back(row_json(measured[i], rows[i]));
  return {{"context", context_json(m, o, base)}, {"results", results}};
}

// Model tasks first, then the extensions' tasks (which need no checkpoint); with --json one
// object: the model's {context, results} and one key per extension task.
void run(const BenchOptions& o, const std::vector<BenchTask>& known) {
  std::vector<const BenchTask*> extra;
  const auto tasks = parse_tasks(o.tasks, known, &extra);  // argument errors before any work
  nlohmann::json out = nlohmann::json::object();
  if (!tasks.empty()) {
    auto model_json = run_model_tasks(o, tasks);
    if (o.model.json) out = std::move(model_json);
  }
  for (const auto* task : extra) {
    auto result = task->run({o.model.json, o.seed});
    if (o.model.json) out[task->name] = std::move(result);
  }
  if (o.model.json) print_json(out);
}

}  // namespace

void synchronize(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.has_index() ? device.index() : -1);
}

double elapsed_seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

at::TensorOptions tensor_options(const model::Placement& p) {
  return at::TensorOptions().device(p.device).dtype(p.dtype);
}

// Random, not zero, inputs: some kernels run faster on zeros than on real data.
at::Tensor random_pixels(const BenchModel& m, int64_t batch) {
  const int64_t size = m.config.image_size();
  return at::randn({batch, 3, size, size}, tensor_options(m.placement));
}

void add_bench_command(CLI::App& app, std::vector<BenchTask> extra_tasks) {
  auto o = std::make_shared<BenchOptions>();
  auto known = std::make_shared<const std::vector<BenchTask>>(std::move(extra_tasks));
  auto* cmd = app.add_subcommand(
      "bench",
      "Throughput and MFU of the InternVL-C/-G image paths and captioning, against a "
      "matrix product measured in the same run");
  o->model.add_to(*cmd, false, true);
  cmd->add_option("--preset", o->preset,
                  "Random weights of this shape: tiny (the parity fixture's "
                  "sizes) or full (InternVL-14B); default: --model if given, "
                  "else full on CUDA and tiny on CPU");
  cmd->add_option("--batch", o->batches,
                  "Batch sizes, comma-separated (default 1,8 on CPU, "
                  "1,8,64 on CUDA)");
  std::string extra_help;
  for (const auto& task : *known) extra_help += ", " + task.help;
  cmd->add_option("--tasks", o->tasks,
                  "Comma-separated: vit (InternViT alone), c, g, caption (whole "
                  "batches), caption-streams (--batch = concurrent streams, each "
                  "keeping one request in a continuously batched decode)" +
                      extra_help + "; default vit for a vision-only checkpoint")
      ->capture_default_str();
  cmd->add_option("--iterations", o->iterations, "Timed calls per task and batch")
      ->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "Untimed calls before them")->capture_default_str();
  cmd->add_option("--num-beams", o->generation.num_beams, "Caption beams")->capture_default_str();
  cmd->add_option("--max-new-tokens", o->generation.max_new_tokens, "Caption length limit")
      ->capture_default_str();
  cmd->add_option("--peak-tflops", o->peak_tflops,
                  "Datasheet peak for MFU (e.g. 989 for H100/H200 "
                  "dense bf16)");
  cmd->add_option("--matmul-size", o->matmul_size,
                  "Baseline n for the n^3 product (default 4096 on "
                  "CUDA, 1024 on CPU)");
  cmd->add_option("--seed", o->seed, "Seed of the random weights and inputs")
      ->capture_default_str();
  cmd->add_option("--join-ratio", o->join.waiting_served_ratio,
                  "caption-streams: waiting requests join the running decode once they number this "
                  "many times the live ones (0: at every step)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--join-after-steps", o->join.max_waiting_steps,
                  "caption-streams: ... or once they have waited this many decode steps")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--unfused", o->unfused,
                "Presets: keep QLLaMA's q/k/v, cross k/v and gate/up projections as separate "
                "matrix products (the baseline of the fused ones)");
  cmd->add_flag("--cuda-graphs", o->cuda_graphs,
                "Tasks c and g: replay each batch size from a CUDA graph captured before timing "
                "(a LibTorch with CUDA and a CUDA device; A/B against the default eager launches)");
  for (const auto& task : *known) task.add_options(*cmd);
  cmd->callback([o, cmd, known] {
    o->model_given = cmd->count("--model") > 0;
    o->tasks_given = cmd->count("--tasks") > 0;
    run(*o, *known);
  });
}

}  // namespace ivs::cli
