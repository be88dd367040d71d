// SPDX-License-Identifier: Apache-2.0
#include "plugins/internvl/caption_properties.h"

#include "plugins/internvl/element_common.h"

namespace ivs::plugins {
namespace {

constexpr guint kMaxNumBeams = 64;
constexpr guint kMaxNewTokensLimit = 1024;
constexpr guint kMaxBatchSize = 1024;

}  // namespace

void install_caption_properties(GObjectClass* klass, PropertyTable<CaptionElementSettings>& p) {
  using Settings = CaptionElementSettings;
  const Settings d;
  const auto rw = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                           GST_PARAM_MUTABLE_READY);
  const auto ro = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  auto* k = klass;
  p.bind(
      k, kModelProperty,
      g_param_spec_string("model", "Model directory",
                          "InternVL checkpoint directory (config.json, weights, "
                          "tokenizer.model), e.g. /models/InternVL-14B-224px; required",
                          nullptr, rw),
      [](Settings & s) -> auto& { return s.engine.model; });
  p.bind(
      k, kDeviceProperty,
      g_param_spec_enum("device", "Device",
                        "Where the model runs (auto: CUDA when usable, else CPU)",
                        device_enum_type(), static_cast<gint>(d.engine.device), rw),
      [](Settings & s) -> auto& { return s.engine.device; });
  p.bind(
      k, kDtypeProperty,
      g_param_spec_enum("dtype", "Data type",
                        "Weight and compute precision (auto: bf16 on a GPU, fp32 on CPU)",
                        dtype_enum_type(), static_cast<gint>(d.engine.dtype), rw),
      [](Settings & s) -> auto& { return s.engine.dtype; });
  p.bind(
      k, kPromptProperty,
      g_param_spec_string("prompt", "Prompt",
                          "Text the caption continues (InternVL-G was trained with "
                          "\"English caption:\")",
                          d.caption.prompt.c_str(), rw),
      [](Settings & s) -> auto& { return s.caption.prompt; },
      [](Settings& s) {
        if (s.caption.prompt.empty()) s.caption.prompt = Settings().caption.prompt;
      });
  p.bind(
      k, kNumBeamsProperty,
      g_param_spec_uint("num-beams", "Beams",
                        "Beam search width (1: greedy); more beams cost more time", 1, kMaxNumBeams,
                        static_cast<guint>(d.caption.num_beams), rw),
      [](Settings & s) -> auto& { return s.caption.num_beams; });
  p.bind(
      k, kMinNewTokensProperty,
      g_param_spec_uint("min-new-tokens", "Minimum new tokens",
                        "Fewest tokens a caption has (end of text is suppressed before); at "
                        "most max-new-tokens",
                        0, kMaxNewTokensLimit, static_cast<guint>(d.caption.min_new_tokens), rw),
      [](Settings & s) -> auto& { return s.caption.min_new_tokens; });
  p.bind(
      k, kMaxNewTokensProperty,
      g_param_spec_uint("max-new-tokens", "Maximum new tokens", "Most tokens a caption has", 1,
                        kMaxNewTokensLimit, static_cast<guint>(d.caption.max_new_tokens), rw),
      [](Settings & s) -> auto& { return s.caption.max_new_tokens; });
  p.bind(
      k, kIntervalProperty,
      g_param_spec_uint("interval", "Interval",
                        "Frames skipped between two captioned frames (0: every frame); used "
                        "only when selection-fps is 0",
                        0, G_MAXUINT, d.interval, rw),
      [](Settings & s) -> auto& { return s.interval; });
  p.bind(
      k, kSelectionFpsProperty,
      g_param_spec_double("selection-fps", "Selection rate",
                          "Frames captioned per second of stream time (0: use interval "
                          "instead)",
                          0.0, 1000.0, d.selection_fps, rw),
      [](Settings & s) -> auto& { return s.selection_fps; });
  p.bind(
      k, kBatchSizeProperty,
      g_param_spec_uint("batch-size", "Batch size",
                        "Most caption requests the engine decodes together; new ones join "
                        "between decode steps as others finish (applies when this element "
                        "creates the engine; a shared engine keeps its own)",
                        1, kMaxBatchSize, d.engine.batch_size, rw),
      [](Settings & s) -> auto& { return s.engine.batch_size; });
  p.bind(
      k, kBatchTimeoutProperty,
      g_param_spec_uint64("batch-timeout", "Batch timeout",
                          "Longest wait (ns) for a full batch after the first request "
                          "arrived (applies when this element creates the engine)",
                          0, G_MAXUINT64, d.engine.batch_timeout_ns, rw),
      [](Settings & s) -> auto& { return s.engine.batch_timeout_ns; });
  p.bind(
      k, kMetricsAddressProperty,
      g_param_spec_string("metrics-address", "Metrics address",
                          "host:port to serve Prometheus /metrics on, e.g. 127.0.0.1:9464; "
                          "host:0 picks a free port",
                          nullptr, rw),
      [](Settings & s) -> auto& { return s.engine.metrics_address; });
  p.bind(
      k, kStreamIdProperty,
      g_param_spec_string("stream-id", "Stream id",
                          "Stream name in metric labels (default: the element's name); when "
                          "set, the application counts internvl_frames_total",
                          nullptr, rw),
      [](Settings & s) -> auto& { return s.engine.stream_id; });
  auto counter = [&](guint id, const char* name, const char* nick, const char* blurb) {
    g_object_class_install_property(k, id,
                                    g_param_spec_uint64(name, nick, blurb, 0, G_MAXUINT64, 0, ro));
  };
  counter(kFramesSampledProperty, "frames-sampled", "Frames sampled",
          "Frames chosen for a caption since the element started");
  counter(kCaptionsAttachedProperty, "captions-attached", "Captions attached",
          "Captions attached to a frame since the element started");
  counter(kCaptionsDroppedProperty, "captions-dropped", "Captions dropped",
          "Sampled frames not captioned (a caption was in flight or the engine queue was full) "
          "plus captions still running at a flush or a live EOS");
  counter(kCaptionsFailedProperty, "captions-failed", "Captions failed",
          "Sampled frames whose caption failed (mapping, preprocessing or model error)");
  g_object_class_install_property(
      k, kMetricsPortProperty,
      g_param_spec_uint("metrics-port", "Metrics port",
                        "The port /metrics is served on (0 when not serving)", 0, G_MAXUINT16, 0,
                        ro));
  install_inference_wait_property(klass, kInferenceWaitProperty);
}

}  // namespace ivs::plugins
