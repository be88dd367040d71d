// SPDX-License-Identifier: Apache-2.0
#include "plugins/internvl/classify_properties.h"

#include "plugins/internvl/element_common.h"

#define RW_READY (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)
#define RW_PLAYING \
  (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)
#define RO (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)

namespace ivs::plugins {

void install_classify_properties(GObjectClass* klass, PropertyTable<ClassifySettings>& p) {
  using Settings = ClassifySettings;
  const Settings d;
  auto install = [&](guint id, GParamSpec* spec) {
    g_object_class_install_property(klass, id, spec);
  };
  const auto relabel = [](Settings& s) { ++s.label_generation; };
  p.bind(
      klass, kModelProperty,
      g_param_spec_string("model", "Model",
                          "InternVL checkpoint directory (config.json, weights, "
                          "tokenizer, preprocessor_config.json)",
                          nullptr, RW_READY),
      [](Settings & s) -> auto& { return s.engine.model; });
  p.bind(
      klass, kDeviceProperty,
      g_param_spec_enum("device", "Device", "Device the engine runs on",
                        ivs::plugins::device_enum_type(), static_cast<gint>(d.engine.device),
                        RW_READY),
      [](Settings & s) -> auto& { return s.engine.device; });
  p.bind(
      klass, kDtypeProperty,
      g_param_spec_enum("dtype", "Data type", "Weight and compute precision of the engine",
                        ivs::plugins::dtype_enum_type(), static_cast<gint>(d.engine.dtype),
                        RW_READY),
      [](Settings & s) -> auto& { return s.engine.dtype; });
  p.bind(
      klass, kModeProperty,
      g_param_spec_enum("mode", "Mode", "Image embedding: InternVL-C or InternVL-G",
                        ivs::plugins::mode_enum_type(), static_cast<gint>(d.mode), RW_READY),
      [](Settings & s) -> auto& { return s.mode; });
  p.bind(
      klass, kStreamIdProperty,
      g_param_spec_string("stream-id", "Stream id",
                          "Stream name in metric labels "
                          "(default: the element's name); when set, the application "
                          "counts internvl_frames_total",
                          nullptr, RW_READY),
      [](Settings & s) -> auto& { return s.engine.stream_id; });
  p.bind(
      klass, kLabelsProperty,
      g_param_spec_string("labels", "Labels",
                          "Label set, ';'-separated (\"a dog;a cat\"); "
                          "labels-file takes precedence. May change while PLAYING",
                          nullptr, RW_PLAYING),
      [](Settings & s) -> auto& { return s.labels; }, relabel);
  p.bind(
      klass, kLabelsFileProperty,
      g_param_spec_string("labels-file", "Labels file",
                          "File with one label per line "
                          "('#' comments); overrides labels",
                          nullptr, RW_PLAYING),
      [](Settings & s) -> auto& { return s.labels_file; }, relabel);
  p.bind(
      klass, kPromptTemplateProperty,
      g_param_spec_string("prompt-template", "Prompt template",
                          "Text for each label, "
                          "'{}' replaced by the label",
                          d.prompt_template.c_str(), RW_PLAYING),
      [](Settings & s) -> auto& { return s.prompt_template; }, relabel);
  p.bind(
      klass, kTemplatesFileProperty,
      g_param_spec_string("templates-file", "Templates file",
                          "File with one prompt "
                          "template per line (ensembled); overrides prompt-template",
                          nullptr, RW_PLAYING),
      [](Settings & s) -> auto& { return s.templates_file; }, relabel);
  p.bind(
      klass, kIntervalProperty,
      g_param_spec_uint("interval", "Interval",
                        "Frames skipped between two samples "
                        "(0 = every frame)",
                        0, G_MAXUINT, d.interval, RW_READY),
      [](Settings & s) -> auto& { return s.interval; });
  p.bind(
      klass, kSelectionFpsProperty,
      g_param_spec_double("selection-fps", "Selection FPS",
                          "Samples per second of "
                          "stream time; overrides interval when > 0",
                          0.0, 1000.0, d.selection_fps, RW_READY),
      [](Settings & s) -> auto& { return s.selection_fps; });
  p.bind(
      klass, kClipFramesProperty,
      g_param_spec_uint("clip-frames", "Clip frames",
                        "Sampled frames in the sliding "
                        "window scored as one clip (0 = no clip results)",
                        0, 1024, d.clip_frames, RW_READY),
      [](Settings & s) -> auto& { return s.clip_frames; });
  p.bind(
      klass, kTopKProperty,
      g_param_spec_uint("top-k", "Top K", "Labels per result, best first", 1, 1000, d.top_k,
                        RW_PLAYING),
      [](Settings & s) -> auto& { return s.top_k; });
  p.bind(
      klass, kThresholdProperty,
      g_param_spec_double("threshold", "Threshold",
                          "Labels with a lower confidence are "
                          "left out",
                          0.0, 1.0, d.threshold, RW_PLAYING),
      [](Settings & s) -> auto& { return s.threshold; });
  p.bind(
      klass, kBatchSizeProperty,
      g_param_spec_uint("batch-size", "Batch size",
                        "Most frames per model call (of the "
                        "engine this element creates)",
                        1, 1024, d.engine.batch_size, RW_READY),
      [](Settings & s) -> auto& { return s.engine.batch_size; });
  p.bind(
      klass, kBatchTimeoutProperty,
      g_param_spec_uint64("batch-timeout", "Batch timeout",
                          "Nanoseconds the engine "
                          "waits for a full batch",
                          0, G_MAXUINT64, d.engine.batch_timeout_ns, RW_READY),
      [](Settings & s) -> auto& { return s.engine.batch_timeout_ns; });
  p.bind(
      klass, kMaxLatencyProperty,
      g_param_spec_uint64("max-latency", "Max latency",
                          "Nanoseconds a frame waits for "
                          "its result before it goes out without it",
                          0, G_MAXUINT64, d.max_latency_ns, RW_PLAYING),
      [](Settings & s) -> auto& { return s.max_latency_ns; });
  p.bind(
      klass, kLeakyProperty,
      g_param_spec_enum("leaky", "Leaky", "What a sample does when the engine queue is full",
                        ivs::plugins::leaky_enum_type(), static_cast<gint>(d.leaky), RW_READY),
      [](Settings & s) -> auto& { return s.leaky; });
  install(kFramesProcessedProperty, g_param_spec_uint64("frames-processed", "Frames processed",
                                                        "Buffers received", 0, G_MAXUINT64, 0, RO));
  install(kFramesSampledProperty, g_param_spec_uint64("frames-sampled", "Frames sampled",
                                                      "Buffers chosen for "
                                                      "inference",
                                                      0, G_MAXUINT64, 0, RO));
  install(kSamplesDroppedProperty, g_param_spec_uint64("samples-dropped", "Samples dropped",
                                                       "Samples refused by "
                                                       "a full engine (leaky) or failed",
                                                       0, G_MAXUINT64, 0, RO));
  install(kResultsLateProperty, g_param_spec_uint64("results-late", "Results late",
                                                    "Sampled buffers sent without "
                                                    "their result after max-latency",
                                                    0, G_MAXUINT64, 0, RO));
  p.bind(
      klass, kMetricsAddressProperty,
      g_param_spec_string("metrics-address", "Metrics address",
                          "host:port to serve "
                          "Prometheus /metrics on, e.g. 127.0.0.1:9464; host:0 picks a "
                          "free port",
                          nullptr, RW_READY),
      [](Settings & s) -> auto& { return s.engine.metrics_address; });
  install(kMetricsPortProperty, g_param_spec_uint("metrics-port", "Metrics port",
                                                  "The port /metrics is served on "
                                                  "(0 when not serving)",
                                                  0, G_MAXUINT16, 0, RO));
  install_inference_wait_property(klass, kInferenceWaitProperty);
}

}  // namespace ivs::plugins
