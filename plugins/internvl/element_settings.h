// SPDX-License-Identifier: Apache-2.0
// The property values of the inference elements as plain C++ (no GStreamer): the elements keep
// them under their lock, and the service builds them from its YAML, so every default is
// written once, here. The enums' numbers are the GEnum values of the properties and their names
// are the nicks (element_common.h registers them).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/internvl/prompts.h"
#include "pipeline/alerts/alert_rule.h"
#include "pipeline/engine/engine.h"

namespace ivs::plugins {

enum class Device { kAuto = 0, kCpu = 1, kCuda = 2 };
enum class Dtype { kAuto = 0, kFp32 = 1, kBf16 = 2, kFp16 = 3 };
enum class Mode { kC = 0, kG = 1 };
/// What a sample does when the engine is full: auto drops when the stream is live and waits
/// otherwise (the liveness rule of element_common.h).
enum class Leaky { kAuto = 0, kYes = 1, kNo = 2 };

/// The names of each enum's values, in value order: the property nicks, the engine key's strings
/// and the service's YAML values.
const std::vector<std::string>& device_names();  // auto, cpu, cuda
const std::vector<std::string>& dtype_names();   // auto, fp32, bf16, fp16
const std::vector<std::string>& mode_names();    // c, g
const std::vector<std::string>& leaky_names();   // auto, yes, no
const std::string& mode_name(Mode mode);         // "c" or "g"

/// What every inference element needs to find its engine and metrics.
struct EngineSettings {
  std::string model;  // checkpoint directory (required)
  Device device = Device::kAuto;
  Dtype dtype = Dtype::kAuto;
  unsigned batch_size = 16;
  uint64_t batch_timeout_ns = 10'000'000;
  std::string metrics_address;  // empty: record into the pipeline's hub without serving it
  std::string stream_id;        // empty: the element's name (and the element counts frames)

  pipeline::EngineKey key() const;
};

/// internvlclassify.
struct ClassifySettings {
  EngineSettings engine;
  Mode mode = Mode::kC;
  std::string labels;  // ';'-separated
  std::string labels_file;
  std::string prompt_template = model::kDefaultPromptTemplate;
  std::string templates_file;
  unsigned interval = 0;
  double selection_fps = 0.0;
  unsigned clip_frames = 8;
  unsigned top_k = 5;
  double threshold = 0.0;
  uint64_t max_latency_ns = 1'000'000'000;
  Leaky leaky = Leaky::kAuto;
  uint64_t label_generation = 0;  // bumped by every change of labels / templates

  /// The label set: labels-file (one per line) when set, else the ';'-separated labels.
  /// Throws std::runtime_error naming the file or value and the fix.
  std::vector<std::string> resolve_labels() const;
  /// The templates: templates-file when set, else prompt-template. Throws as resolve_labels.
  std::vector<std::string> resolve_templates() const;
};

/// internvlcaption: beam search as the engine defines it, sampled far less often.
struct CaptionElementSettings {
  EngineSettings engine;
  pipeline::CaptionSettings caption;
  unsigned interval = 0;
  double selection_fps = 0.2;  // one caption every five seconds of stream time
};

/// internvlalert: one rule from properties, or many from `rules` (YAML text) or `rules_file`.
struct AlertElementSettings {
  EngineSettings engine;
  pipeline::AlertRule rule = default_alert_rule();  // its negatives: from `negatives`
  std::string negatives;                            // ';'-separated
  std::string negatives_file;
  std::string prompt_template = model::kDefaultPromptTemplate;
  std::string templates_file;
  std::string rules;  // YAML list of rules; takes precedence over rules_file and the rule
  std::string rules_file;
  std::string snapshot_dir;      // empty: no snapshots
  uint64_t rule_generation = 0;  // bumped by every change of a rule property

  /// The rules in force: `rules`, else `rules_file`, else the one rule of the properties (its
  /// negatives from negatives_file or negatives). Throws config::ConfigError or
  /// std::invalid_argument naming the property and the fix.
  std::vector<pipeline::AlertRule> resolve_rules() const;
  /// The templates: templates-file when set, else prompt-template. Throws as resolve_rules.
  std::vector<std::string> resolve_templates() const;

  static pipeline::AlertRule default_alert_rule();
};

/// internvlindex: every sampled frame's embedding (and a thumbnail) into the search index.
struct IndexElementSettings {
  std::string location;   // index directory (required): "/var/lib/internvl/index"
  std::string stream_id;  // empty: the element's name
  bool thumbnails = true;
  unsigned thumbnail_size = 160;  // pixels of the thumbnail's longest side (never enlarged)
};

}  // namespace ivs::plugins
