// SPDX-License-Identifier: Apache-2.0
#include "plugins/internvl/alert_properties.h"

#include "plugins/internvl/element_common.h"

namespace ivs::plugins {

void install_alert_properties(GObjectClass* klass, PropertyTable<AlertElementSettings>& p) {
  using Settings = AlertElementSettings;
  const Settings d;
  const auto ready = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                              GST_PARAM_MUTABLE_READY);
  const auto playing = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                                GST_PARAM_MUTABLE_PLAYING);
  const auto ro = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  const auto changed = [](Settings& s) { ++s.rule_generation; };
  auto* k = klass;
  p.bind(
      k, kAlertModelProperty,
      g_param_spec_string("model", "Model",
                          "InternVL checkpoint directory, for the prompts' text embeddings "
                          "(the same as internvlclassify's: the engine is shared)",
                          nullptr, ready),
      [](Settings & s) -> auto& { return s.engine.model; });
  p.bind(
      k, kAlertDeviceProperty,
      g_param_spec_enum("device", "Device", "Device of the engine", device_enum_type(),
                        static_cast<gint>(d.engine.device), ready),
      [](Settings & s) -> auto& { return s.engine.device; });
  p.bind(
      k, kAlertDtypeProperty,
      g_param_spec_enum("dtype", "Data type", "Precision of the engine", dtype_enum_type(),
                        static_cast<gint>(d.engine.dtype), ready),
      [](Settings & s) -> auto& { return s.engine.dtype; });
  p.bind(
      k, kAlertStreamIdProperty,
      g_param_spec_string("stream-id", "Stream id",
                          "Stream the events belong to (metric label, event ids, "
                          "internvlrecord's stream-id; default: the element's name)",
                          nullptr, ready),
      [](Settings & s) -> auto& { return s.engine.stream_id; });
  p.bind(
      k, kRuleNameProperty,
      g_param_spec_string("rule-name", "Rule name", "Name of the rule set by the properties",
                          d.rule.name.c_str(), playing),
      [](Settings & s) -> auto& { return s.rule.name; }, changed);
  p.bind(
      k, kAlertPromptProperty,
      g_param_spec_string("prompt", "Prompt",
                          "What to alert on, e.g. \"a person climbing a fence\"; its "
                          "probability is a softmax against the negatives",
                          nullptr, playing),
      [](Settings & s) -> auto& { return s.rule.prompt; }, changed);
  p.bind(
      k, kNegativesProperty,
      g_param_spec_string("negatives", "Negatives",
                          "What the prompt competes against, ';'-separated (default: a "
                          "generic set, README \"Alerts\")",
                          nullptr, playing),
      [](Settings & s) -> auto& { return s.negatives; }, changed);
  p.bind(
      k, kNegativesFileProperty,
      g_param_spec_string("negatives-file", "Negatives file",
                          "File with one negative per line; overrides negatives", nullptr, playing),
      [](Settings & s) -> auto& { return s.negatives_file; }, changed);
  p.bind(
      k, kAlertPromptTemplateProperty,
      g_param_spec_string("prompt-template", "Prompt template",
                          "Text for the prompt and each negative, '{}' replaced by it",
                          d.prompt_template.c_str(), playing),
      [](Settings & s) -> auto& { return s.prompt_template; }, changed);
  p.bind(
      k, kAlertTemplatesFileProperty,
      g_param_spec_string("templates-file", "Templates file",
                          "File with one template per line (ensembled); overrides "
                          "prompt-template",
                          nullptr, playing),
      [](Settings & s) -> auto& { return s.templates_file; }, changed);
  p.bind(
      k, kOnThresholdProperty,
      g_param_spec_double("on-threshold", "On threshold",
                          "Probability that, held for min-on seconds, starts an event", 0.0, 1.0,
                          d.rule.on_threshold, playing),
      [](Settings & s) -> auto& { return s.rule.on_threshold; }, changed);
  p.bind(
      k, kOffThresholdProperty,
      g_param_spec_double("off-threshold", "Off threshold",
                          "Probability that, held for min-off seconds, ends it (at most "
                          "on-threshold)",
                          0.0, 1.0, d.rule.off_threshold, playing),
      [](Settings & s) -> auto& { return s.rule.off_threshold; }, changed);
  p.bind(
      k, kMinOnProperty,
      g_param_spec_double("min-on", "Minimum on",
                          "Seconds of stream time at or above on-threshold before an event "
                          "starts",
                          0.0, 86400.0, d.rule.min_on_seconds, playing),
      [](Settings & s) -> auto& { return s.rule.min_on_seconds; }, changed);
  p.bind(
      k, kMinOffProperty,
      g_param_spec_double("min-off", "Minimum off",
                          "Seconds of stream time at or below off-threshold before it ends", 0.0,
                          86400.0, d.rule.min_off_seconds, playing),
      [](Settings & s) -> auto& { return s.rule.min_off_seconds; }, changed);
  p.bind(
      k, kCooldownProperty,
      g_param_spec_double("cooldown", "Cooldown",
                          "Seconds after an end before the rule may start again", 0.0, 86400.0,
                          d.rule.cooldown_seconds, playing),
      [](Settings & s) -> auto& { return s.rule.cooldown_seconds; }, changed);
  p.bind(
      k, kSmoothingProperty,
      g_param_spec_uint("smoothing", "Smoothing", "Samples averaged into the probability (1: none)",
                        1, 100, d.rule.smoothing, playing),
      [](Settings & s) -> auto& { return s.rule.smoothing; }, changed);
  p.bind(
      k, kRulesProperty,
      g_param_spec_string("rules", "Rules",
                          "YAML list of rules (keys as these properties, `name` for the "
                          "rule name); overrides rules-file and the single rule",
                          nullptr, playing),
      [](Settings & s) -> auto& { return s.rules; }, changed);
  p.bind(
      k, kRulesFileProperty,
      g_param_spec_string("rules-file", "Rules file",
                          "YAML file with a list of rules; overrides the single rule", nullptr,
                          playing),
      [](Settings & s) -> auto& { return s.rules_file; }, changed);
  p.bind(
      k, kSnapshotDirProperty,
      g_param_spec_string("snapshot-dir", "Snapshot folder",
                          "Folder for a JPEG of the frame that started each event (<event "
                          "id>.jpg); none when empty",
                          nullptr, ready),
      [](Settings & s) -> auto& { return s.snapshot_dir; });
  g_object_class_install_property(
      k, kEventsStartedProperty,
      g_param_spec_uint64("events-started", "Events started",
                          "Events started since the element started", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property(
      k, kSamplesScoredProperty,
      g_param_spec_uint64("samples-scored", "Samples scored",
                          "Frames with an embedding that the rules were scored on", 0, G_MAXUINT64,
                          0, ro));
}

}  // namespace ivs::plugins
