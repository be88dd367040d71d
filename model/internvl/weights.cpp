// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/weights.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "model/common/errors.h"
#include "model/common/safetensors.h"
#include "model/common/torch_zip.h"
#include "model/internvl/shard_index.h"

namespace ivs::model {
namespace fs = std::filesystem;
namespace {

// Checkpoint tensors that exist in the published files but have no place in an inference model.
bool is_ignored(const std::string& name) {
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return name.rfind("itm_head.", 0) == 0 ||    // image-text matching head: training only
         ends_with(".rotary_emb.inv_freq") ||  // recomputed at load time
         ends_with(".rotary_emb.cos_cached") || ends_with(".rotary_emb.sin_cached");
}

at::ScalarType to_scalar_type(DType dtype) {
  switch (dtype) {
    case DType::kF64:
      return at::kDouble;
    case DType::kF32:
      return at::kFloat;
    case DType::kF16:
      return at::kHalf;
    case DType::kBF16:
      return at::kBFloat16;
    case DType::kI64:
      return at::kLong;
    case DType::kI32:
      return at::kInt;
    case DType::kI16:
      return at::kShort;
    case DType::kI8:
      return at::kChar;
    case DType::kU8:
      return at::kByte;
    case DType::kBool:
      return at::kBool;
  }
  return at::kFloat;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

std::unique_ptr<TensorFile> open_shard(const std::string& path, bool safetensors) {
  return safetensors ? open_safetensors(path) : open_torch_zip(path);
}

// Collected problems, reported together at the end.
struct LoadProblems {
  std::vector<std::string> unexpected, mis_shaped, missing;

  bool empty() const { return unexpected.empty() && mis_shaped.empty() && missing.empty(); }
  std::string describe(const std::string& where) const {
    std::ostringstream out;
    out << "checkpoint " << where << " does not match the model:";
    auto list = [&](const char* title, const std::vector<std::string>& items) {
      if (items.empty()) return;
      out << "\n  " << title << " (" << items.size() << "):";
      for (const auto& item : items) out << "\n    " << item;
    };
    list("missing tensors", missing);
    list("unexpected tensors", unexpected);
    list("tensors with the wrong shape", mis_shaped);
    out << "\n(is config.json from the same checkpoint as the weights?)";
    return out.str();
  }
};

void copy_into(at::Tensor& param, const TensorView& view) {
  // from_blob does not own the bytes: the view stays valid until the next read() of this file.
  auto source = at::from_blob(const_cast<void*>(view.data), view.shape, view.strides,
                              at::TensorOptions().dtype(to_scalar_type(view.dtype)));
  at::NoGradGuard no_grad;
  param.copy_(source);
}

}  // namespace

CheckpointFiles find_checkpoint_files(const std::string& dir) {
  const fs::path root(dir);
  if (!fs::is_directory(root)) {
    throw WeightLoadError(dir +
                          ": not a directory; pass the checkpoint directory (with config.json "
                          "and the weight files)");
  }
  CheckpointFiles files;
  if (fs::exists(root / "model.safetensors.index.json")) {
    files.index = (root / "model.safetensors.index.json").string();
    files.shards = shards_from_index(files.index);
  } else if (fs::exists(root / "model.safetensors")) {
    files.shards = {(root / "model.safetensors").string()};
  } else if (fs::exists(root / "pytorch_model.bin.index.json")) {
    files.index = (root / "pytorch_model.bin.index.json").string();
    files.shards = shards_from_index(files.index);
    files.safetensors = false;
  } else if (fs::exists(root / "pytorch_model.bin")) {
    files.shards = {(root / "pytorch_model.bin").string()};
    files.safetensors = false;
  } else {
    throw WeightLoadError(dir +
                          ": no weights found; expected model.safetensors, sharded "
                          "model-*-of-*.safetensors with model.safetensors.index.json, "
                          "pytorch_model.bin, or sharded .bin files with "
                          "pytorch_model.bin.index.json");
  }
  return files;
}

namespace {

// Walks every checkpoint tensor against the module's parameters. `on_match` is called for each
// tensor whose name and shape fit (with the open file, so it can read the data); problems are
// collected, not thrown.
template <typename OnMatch>
LoadProblems match_checkpoint(torch::nn::Module& module, const CheckpointFiles& files,
                              OnMatch on_match) {
  std::map<std::string, at::Tensor> params;
  for (auto& item : module.named_parameters(/*recurse=*/true))
    params.emplace(item.key(), item.value());
  std::set<std::string> seen;
  LoadProblems problems;
  for (const auto& shard : files.shards) {
    auto file = open_shard(shard, files.safetensors);
    for (const auto& info : file->tensors()) {
      if (is_ignored(info.name)) continue;
      auto it = params.find(info.name);
      if (it == params.end()) {
        problems.unexpected.push_back(info.name + " " + shape_string(info.shape) + " in " + shard);
      } else if (!seen.insert(info.name).second) {
        problems.unexpected.push_back(info.name + " appears twice (again in " + shard + ")");
      } else if (it->second.sizes().vec() != info.shape) {
        problems.mis_shaped.push_back(info.name + ": checkpoint " + shape_string(info.shape) +
                                      ", model " + shape_string(it->second.sizes().vec()));
      } else {
        on_match(it->second, *file, info);
      }
    }
  }
  for (const auto& [name, param] : params) {
    if (!seen.count(name))
      problems.missing.push_back(name + " " + shape_string(param.sizes().vec()));
  }
  return problems;
}

std::string files_label(const CheckpointFiles& files) {
  return files.index.empty() ? files.shards.front() : files.index;
}

}  // namespace

void load_checkpoint_files(torch::nn::Module& module, const CheckpointFiles& files) {
  const auto problems = match_checkpoint(
      module, files, [](at::Tensor& param, TensorFile& file, const TensorInfo& info) {
        copy_into(param, file.read(info.name));
      });
  if (!problems.empty()) throw WeightLoadError(problems.describe(files_label(files)));
}

CheckpointSummary summarize_checkpoint(torch::nn::Module& module, const CheckpointFiles& files) {
  CheckpointSummary summary;
  for (const auto& shard : files.shards) {
    const auto file = open_shard(shard, files.safetensors);
    for (const auto& info : file->tensors()) {
      // A file's shapes are checked against its bytes, but a tensor with a 0 dimension may
      // claim any size in the others: their product is not one to compute.
      int64_t n = 1;
      for (auto d : info.shape) {
        if (d == 0) {
          n = 0;
          break;
        }
        if (__builtin_mul_overflow(n, d, &n)) {
          throw WeightLoadError(shard + ": tensor '" + info.name + "' of shape " +
                                shape_string(info.shape) + " has more than 2^63 elements");
        }
      }
      ++summary.num_tensors;
      summary.num_parameters += n;
      ++summary.dtype_counts[dtype_display_name(info.dtype)];
    }
  }
  const auto problems = match_checkpoint(module, files, [](auto&, auto&, const auto&) {});
  for (const auto& m : problems.missing) summary.problems.push_back("missing: " + m);
  for (const auto& u : problems.unexpected) summary.problems.push_back("unexpected: " + u);
  for (const auto& w : problems.mis_shaped) summary.problems.push_back("wrong shape: " + w);
  return summary;
}

void load_checkpoint(torch::nn::Module& module, const std::string& dir) {
  load_checkpoint_files(module, find_checkpoint_files(dir));
}

namespace {

DType to_dtype(at::ScalarType type) {
  switch (type) {
    case at::kDouble:
      return DType::kF64;
    case at::kFloat:
      return DType::kF32;
    case at::kHalf:
      return DType::kF16;
    case at::kBFloat16:
      return DType::kBF16;
    case at::kLong:
      return DType::kI64;
    default:
      throw WeightLoadError(std::string("cannot save tensors of type ") + c10::toString(type));
  }
}

std::string shard_name(size_t index, size_t count) {
  char name[64];
  std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", index + 1, count);
  return name;
}

}  // namespace

void save_checkpoint(torch::nn::Module& module, const std::string& dir, at::ScalarType dtype,
                     int64_t max_shard_bytes) {
  fs::create_directories(dir);
  std::vector<std::vector<std::pair<std::string, at::Tensor>>> shards(1);
  int64_t shard_bytes = 0;
  for (auto& item : module.named_parameters(true)) {
    auto value = item.value().detach().to(at::kCPU, dtype).contiguous();
    const int64_t bytes = value.numel() * value.element_size();
    if (max_shard_bytes > 0 && shard_bytes > 0 && shard_bytes + bytes > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().emplace_back(item.key(), value);
    shard_bytes += bytes;
  }
  nlohmann::json weight_map = nlohmann::json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    const auto name =
        shards.size() == 1 ? std::string("model.safetensors") : shard_name(i, shards.size());
    std::vector<TensorBytes> tensors;
    for (const auto& [key, value] : shards[i]) {
      tensors.push_back(
          {key, to_dtype(value.scalar_type()), value.sizes().vec(), value.data_ptr()});
      weight_map[key] = name;
    }
    write_safetensors((fs::path(dir) / name).string(), tensors, {{"format", "pt"}});
  }
  if (shards.size() > 1) {
    std::ofstream index(fs::path(dir) / "model.safetensors.index.json");
    index << nlohmann::json{{"metadata", nlohmann::json::object()}, {"weight_map", weight_map}}
                 .dump(2);
    if (!index) throw WeightLoadError(dir + ": cannot write model.safetensors.index.json");
  }
}

void init_random_parameters(torch::nn::Module& module, uint64_t seed) {
  at::NoGradGuard no_grad;
  at::manual_seed(seed);  // seeds every device's default generator: values are made in place
  for (auto& item : module.named_parameters(true)) {
    auto& p = item.value();
    const auto& name = item.key();
    const bool is_bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    if (p.dim() >= 2) {
      p.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(p.numel() / p.size(0))));
    } else if (is_bias) {
      p.normal_(0.0, 0.1);
    } else {
      p.uniform_(0.5, 1.5);
    }
  }
}

}  // namespace ivs::model
