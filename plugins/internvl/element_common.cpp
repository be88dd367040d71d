// SPDX-License-Identifier: Apache-2.0
#include "plugins/internvl/element_common.h"

#include <array>
#include <chrono>
#include <stdexcept>
#include <utility>

#include "pipeline/engine_context.h"
#include "pipeline/keyframe_filter.h"

GST_DEBUG_CATEGORY_STATIC(internvl_engine_debug);
#define GST_CAT_DEFAULT internvl_engine_debug

namespace ivs::plugins {
namespace {

// A GEnum type whose nicks are `names` (element_settings.h) and whose values are their
// positions, kept in `values` (static storage of the caller: GLib keeps the pointer).
template <size_t N>
GType register_enum(const char* type_name, const std::vector<std::string>& names,
                    const std::array<const char*, N>& descriptions,
                    std::array<GEnumValue, N + 1>& values) {
  for (size_t i = 0; i < N; ++i) {
    values[i] = {static_cast<gint>(i), descriptions[i], names.at(i).c_str()};
  }
  values[N] = {0, nullptr, nullptr};
  return g_enum_register_static(type_name, values.data());
}

void engine_log(pipeline::EngineLogLevel level, const std::string& message) {
  // The engine outlives the element that created it (it is shared), so the log names none.
  switch (level) {
    case pipeline::EngineLogLevel::kError:
      GST_ERROR("%s", message.c_str());
      break;
    case pipeline::EngineLogLevel::kWarning:
      GST_WARNING("%s", message.c_str());
      break;
    case pipeline::EngineLogLevel::kInfo:
      GST_INFO("%s", message.c_str());
      break;
    case pipeline::EngineLogLevel::kDebug:
      GST_DEBUG("%s", message.c_str());
      break;
  }
}

// Records every batch into `hub` (kept alive by the observer, so the hub outlives the engine).
std::function<void(const pipeline::BatchReport&)> metrics_batch_observer(
    std::shared_ptr<pipeline::MetricsHub> hub) {
  return [hub = std::move(hub)](const pipeline::BatchReport& report) {
    sinks::Metrics& metrics = hub->metrics();
    const std::string task = pipeline::engine_task_name(report.task);
    metrics.batch_size(task).Observe(static_cast<double>(report.batch_size));
    metrics.inference_duration(task, "model").Observe(report.inference_seconds);
    auto& queue = metrics.inference_duration(task, "queue");
    for (double seconds : report.queue_seconds) queue.Observe(seconds);
  };
}

}  // namespace

GType device_enum_type() {
  static GType type = 0;
  static std::array<GEnumValue, 4> values;
  if (g_once_init_enter(&type)) {
    g_once_init_leave(&type,
                      register_enum<3>("GstInternVLDevice", device_names(),
                                       {"CUDA when usable, else CPU", "CPU", "CUDA GPU"}, values));
  }
  return type;
}

GType dtype_enum_type() {
  static GType type = 0;
  static std::array<GEnumValue, 5> values;
  if (g_once_init_enter(&type)) {
    g_once_init_leave(
        &type,
        register_enum<4>("GstInternVLDtype", dtype_names(),
                         {"bf16 on a GPU, fp32 on CPU", "float32", "bfloat16", "float16"}, values));
  }
  return type;
}

GType mode_enum_type() {
  static GType type = 0;
  static std::array<GEnumValue, 3> values;
  if (g_once_init_enter(&type)) {
    g_once_init_leave(&type, register_enum<2>("GstInternVLMode", mode_names(),
                                              {"InternVL-C (vision encoder + pooling)",
                                               "InternVL-G (QLLaMA image queries)"},
                                              values));
  }
  return type;
}

GType leaky_enum_type() {
  static GType type = 0;
  static std::array<GEnumValue, 4> values;
  if (g_once_init_enter(&type)) {
    g_once_init_leave(
        &type, register_enum<3>("GstInternVLLeaky", leaky_names(),
                                {"Drop samples when the stream is live and the engine is full, "
                                 "else wait",
                                 "Always drop samples when the engine is full",
                                 "Always wait for room in the engine (back-pressure)"},
                                values));
  }
  return type;
}

GType decode_frames_enum_type() {
  static GType type = 0;
  static std::array<GEnumValue, 4> values;
  if (g_once_init_enter(&type)) {
    g_once_init_leave(&type,
                      register_enum<3>("GstInternVLDecodeFrames", pipeline::decode_frames_names(),
                                       {"Key frames only when they come at least as "
                                        "often as samples are needed, else every frame",
                                        "Every frame", "Key frames only"},
                                       values));
  }
  return type;
}

void mark_enum_types_as_plugin_api() {
  for (GType type : {device_enum_type(), dtype_enum_type(), mode_enum_type(), leaky_enum_type(),
                     decode_frames_enum_type()})
    gst_type_mark_as_plugin_api(type, static_cast<GstPluginAPIFlags>(0));
}

bool upstream_is_live(GstPad* sinkpad) {
  GstQuery* query = gst_query_new_latency();
  gboolean live = FALSE;
  if (gst_pad_peer_query(sinkpad, query)) gst_query_parse_latency(query, &live, nullptr, nullptr);
  gst_query_unref(query);
  return live != FALSE;
}

bool applies_back_pressure(Leaky leaky, bool live) {
  return leaky == Leaky::kNo || (leaky == Leaky::kAuto && !live);
}

pipeline::Admission admission_for(bool back_pressure) {
  return back_pressure ? pipeline::Admission::kWait : pipeline::Admission::kDropIfFull;
}

bool warn_now(uint64_t count) {
  while (count >= 10 && count % 10 == 0) count /= 10;
  return count == 1;
}

std::string string_property(const GValue* value) {
  const gchar* text = g_value_get_string(value);
  return text != nullptr ? text : "";
}

void set_string_property(GValue* value, const std::string& text) {
  g_value_set_string(value, text.empty() ? nullptr : text.c_str());
}

InferenceResources acquire_inference(GstElement* element, const EngineSettings& settings) {
  static gsize debug_initialized = 0;
  if (g_once_init_enter(&debug_initialized)) {
    GST_DEBUG_CATEGORY_INIT(internvl_engine_debug, "internvlengine", 0,
                            "InternVL engine shared by the elements");
    g_once_init_leave(&debug_initialized, 1);
  }
  if (settings.model.empty()) {
    throw std::runtime_error(
        "no InternVL model set: set the 'model' property to a checkpoint directory, e.g. "
        "model=/models/InternVL-14B-224px");
  }
  if (!g_file_test(settings.model.c_str(), G_FILE_TEST_IS_DIR)) {
    throw std::runtime_error("model directory '" + settings.model +
                             "' does not exist: set the 'model' property to an InternVL "
                             "checkpoint directory (with config.json)");
  }
  const pipeline::EngineKey key = settings.key();
  InferenceResources out;
  out.metrics = pipeline::acquire_metrics(
      element, settings.metrics_address,
      pipeline::default_build_info(pipeline::Engine::canonical_key(key).device));
  pipeline::EngineOptions options;
  options.batch_size = settings.batch_size;
  options.batch_timeout = std::chrono::nanoseconds(settings.batch_timeout_ns);
  options.log = engine_log;
  options.batch_observer = metrics_batch_observer(out.metrics);
  out.engine = pipeline::acquire_engine(element, key, options);
  return out;
}

bool handle_element_context_query(GstElement* element, GstQuery* query,
                                  const CudaFramePolicy& cuda) {
  if (GST_QUERY_TYPE(query) != GST_QUERY_CONTEXT) return false;
  return pipeline::handle_engine_context_query(element, query) ||
         pipeline::handle_metrics_context_query(element, query) ||
         handle_cuda_context_query(element, query, cuda.device());
}

void install_inference_wait_property(GObjectClass* klass, guint id) {
  g_object_class_install_property(
      klass, id,
      g_param_spec_uint64("inference-wait", "Inference wait",
                          "Nanoseconds the streaming thread has been waiting on inference "
                          "(back-pressure of a non-live stream: room in the engine, the previous "
                          "result); 0 when it is not waiting",
                          0, G_MAXUINT64, 0,
                          static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
}

void record_queue_depth(pipeline::MetricsHub& hub, const pipeline::Engine& engine) {
  const pipeline::EngineStats stats = engine.stats();
  hub.metrics().queue_depth("embedding").Set(static_cast<double>(stats.embedding.queue_depth));
  hub.metrics().queue_depth("caption").Set(static_cast<double>(stats.caption.queue_depth));
}

}  // namespace ivs::plugins
