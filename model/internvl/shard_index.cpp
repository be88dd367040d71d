// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/shard_index.h"
#include "model/common/regular_file.h"

#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "model/common/errors.h"

namespace ivs::model {
namespace fs = std::filesystem;

std::vector<std::string> shards_from_index(const std::string& index_path) {
  const fs::path index(index_path);
  const std::string not_file = not_a_regular_file(index.string());
  if (!not_file.empty()) throw WeightLoadError(index.string() + " " + not_file);
  std::ifstream in(index);
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw WeightLoadError(index.string() + ": not a valid index JSON (" + e.what() + ")");
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
    throw WeightLoadError(index.string() + ": missing the object 'weight_map'");
  }
  std::vector<std::string> shards;
  std::set<std::string> seen;
  for (const auto& [tensor, file] : j["weight_map"].items()) {
    if (!file.is_string())
      throw WeightLoadError(index.string() + ": weight_map['" + tensor + "'] is not a file name");
    const auto name = file.get<std::string>();
    if (name.find('/') != std::string::npos || name == "..") {
      throw WeightLoadError(index.string() + ": shard name '" + name +
                            "' must be a plain file name");
    }
    if (seen.insert(name).second) shards.push_back((index.parent_path() / name).string());
  }
  for (const auto& shard : shards) {
    if (!fs::exists(shard)) {
      throw WeightLoadError(index.string() + " names the shard " + shard +
                            ", which does not exist: download every shard of the checkpoint");
    }
  }
  return shards;
}

}  // namespace ivs::model
