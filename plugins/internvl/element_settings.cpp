// SPDX-License-Identifier: Apache-2.0
#include "plugins/internvl/element_settings.h"

#include <stdexcept>

#include "model/common/label_list.h"

namespace ivs::plugins {

const std::vector<std::string>& device_names() {
  static const std::vector<std::string> names{"auto", "cpu", "cuda"};
  return names;
}
const std::vector<std::string>& dtype_names() {
  static const std::vector<std::string> names{"auto", "fp32", "bf16", "fp16"};
  return names;
}
const std::vector<std::string>& mode_names() {
  static const std::vector<std::string> names{"c", "g"};
  return names;
}
const std::vector<std::string>& leaky_names() {
  static const std::vector<std::string> names{"auto", "yes", "no"};
  return names;
}

pipeline::EngineKey EngineSettings::key() const {
  pipeline::EngineKey key;
  key.model_dir = model;
  key.device = device_names().at(static_cast<size_t>(device));
  key.dtype = dtype_names().at(static_cast<size_t>(dtype));
  return key;
}

std::vector<std::string> ClassifySettings::resolve_labels() const {
  if (!labels_file.empty()) return model::read_lines_file(labels_file, "labels-file");
  std::vector<std::string> out = model::parse_label_list(labels);
  if (out.empty()) {
    throw std::runtime_error(
        "the label set is empty: set labels=\"cat;dog;...\" or labels-file=<file>");
  }
  return out;
}

std::vector<std::string> ClassifySettings::resolve_templates() const {
  std::vector<std::string> out = templates_file.empty()
                                     ? std::vector<std::string>{prompt_template}
                                     : model::read_lines_file(templates_file, "templates-file");
  for (const auto& t : out) {
    if (!model::has_placeholder(t)) {
      throw std::runtime_error(
          "prompt template '" + t +
          "' has no '{}' placeholder for the label: write e.g. \"a photo of {}.\"");
    }
  }
  return out;
}

}  // namespace ivs::plugins
