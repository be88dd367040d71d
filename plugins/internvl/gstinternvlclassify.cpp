// SPDX-License-Identifier: Apache-2.0
/**
 * SECTION:element-internvlclassify
 * @title: internvlclassify
 *
 * Zero-shot classification of video frames with InternVL. The element samples frames
 * (#GstInternVLClassify:interval or #GstInternVLClassify:selection-fps), preprocesses them on
 * the streaming thread (system-memory RGB/BGR/RGBx/BGRx/xRGB/xBGR/RGBA/BGRA/I420/NV12), asks the
 * shared InternVL engine for image embeddings (batched with every other element and stream of
 * the process), scores them against the label set and attaches an InternVLResultMeta to the
 * sampled frame: a classification entry with the top-k labels and, once
 * #GstInternVLClassify:clip-frames sampled frames were seen, a clip entry scoring the sliding
 * window of the last clip-frames sampled frames.
 *
 * Results are attached asynchronously while buffers keep their order: every buffer waits in a
 * bounded FIFO until the result of its frame is ready, and at most
 * #GstInternVLClassify:max-latency (then it goes out without the result; counted in
 * results-late). Labels and templates may be changed while PLAYING: the next sampled frame uses
 * the new set (the text embeddings are computed on the streaming thread when it is sampled).
 *
 * Elements of a pipeline using the same model, device and dtype share one engine through a
 * GstContext of type "internvl.engine".
 *
 * Metrics (sinks/README.md) go into the pipeline's one Prometheus registry, shared through a
 * GstContext of type "internvl.metrics" with every other InternVL element (and the service):
 * internvl_frames_total, internvl_frames_sampled_total{task="classification"},
 * internvl_frames_dropped_total{reason="engine_full"|"late"|"failed"} and
 * internvl_result_latency_seconds (frame arrival to result attached), all with `stream` = the
 * element's name (name the element after the camera to get readable, low-cardinality labels),
 * plus the engine's batch size, inference duration and queue depth when this element creates the
 * engine. #GstInternVLClassify:metrics-address serves them on /metrics (host:0 picks a port, read
 * back from #GstInternVLClassify:metrics-port); one address per pipeline, the first one wins.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=60 ! internvlclassify model=/models/InternVL-14B-224px labels="a dog;a cat;a car" interval=4 ! internvloverlay ! internvlpublish file-path=out.jsonl ! fakesink
 * ]|
 */
#include "plugins/internvl/gstinternvlclassify.h"

#include <gst/video/video.h>

#include "plugins/internvl/classify_state.h"
#include "plugins/internvl/cuda_memory.h"
#include "pipeline/engine_context.h"
#include "pipeline/metrics_context.h"
#include "pipeline/result_meta.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

GST_DEBUG_CATEGORY_STATIC(gst_internvl_classify_debug);
#define GST_CAT_DEFAULT gst_internvl_classify_debug

#define CLASSIFY_CAPS IVS_FRAME_CAPS

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(CLASSIFY_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(CLASSIFY_CAPS));

using ivs::plugins::ClassifySettings;
using ivs::plugins::ClassifyState;
using ivs::plugins::Leaky;
using ivs::plugins::PendingItem;

#define DEFINE_ENUM(func, name, ...)                                                              \
  static GType func(void) {                                                                       \
    static GType type = 0;                                                                        \
    static const GEnumValue values[] = {__VA_ARGS__, {0, nullptr, nullptr}};                      \
    if (g_once_init_enter(&type)) g_once_init_leave(&type, g_enum_register_static(name, values)); \
    return type;                                                                                  \
  }
DEFINE_ENUM(classify_device_get_type, "GstInternVLClassifyDevice",
            {0, "CUDA when usable, else CPU", "auto"}, {1, "CPU", "cpu"}, {2, "CUDA GPU", "cuda"})
DEFINE_ENUM(classify_dtype_get_type, "GstInternVLClassifyDtype",
            {0, "bf16 on GPU, fp32 on CPU", "auto"}, {1, "float32", "fp32"},
            {2, "bfloat16", "bf16"}, {3, "float16", "fp16"})
DEFINE_ENUM(classify_mode_get_type, "GstInternVLClassifyMode",
            {0, "InternVL-C (vision encoder + pooling)", "c"},
            {1, "InternVL-G (QLLaMA image queries)", "g"})
DEFINE_ENUM(classify_leaky_get_type, "GstInternVLClassifyLeaky",
            {0, "Drop samples when the stream is live and the engine is full, else wait", "auto"},
            {1, "Always drop samples when the engine is full", "yes"},
            {2, "Always wait for room in the engine (back-pressure)", "no"})

enum {
  PROP_0,
  PROP_MODEL,
  PROP_DEVICE,
  PROP_DTYPE,
  PROP_MODE,
  PROP_STREAM_ID,
  PROP_LABELS,
  PROP_LABELS_FILE,
  PROP_PROMPT_TEMPLATE,
  PROP_TEMPLATES_FILE,
  PROP_INTERVAL,
  PROP_SELECTION_FPS,
  PROP_CLIP_FRAMES,
  PROP_TOP_K,
  PROP_THRESHOLD,
  PROP_BATCH_SIZE,
  PROP_BATCH_TIMEOUT,
  PROP_MAX_LATENCY,
  PROP_LEAKY,
  PROP_FRAMES_PROCESSED,
  PROP_FRAMES_SAMPLED,
  PROP_SAMPLES_DROPPED,
  PROP_RESULTS_LATE,
  PROP_METRICS_ADDRESS,
  PROP_METRICS_PORT,
};

constexpr size_t kMaxPending = 128;  // buffers + events waiting downstream before chain blocks
constexpr auto kPollSlice = std::chrono::milliseconds(10);  // result wait slice (flush check)

struct GstInternVLClassifyPrivate {
  std::mutex lock;  // settings
  ClassifySettings settings;
  std::unique_ptr<ClassifyState> state;  // READY->PAUSED .. PAUSED->READY
  std::atomic<guint64> frames_processed{0};
  std::atomic<guint64> frames_sampled{0};
  std::atomic<guint64> samples_dropped{0};
  std::atomic<guint64> results_late{0};
  // under lock; set in start(), for metrics-port
  std::shared_ptr<ivs::pipeline::MetricsHub> metrics;
  ivs::plugins::CudaFramePolicy cuda;  // CUDA memory in negotiation (pad queries)
};

struct _GstInternVLClassify {
  GstElement parent;
  GstPad* sinkpad;
  GstPad* srcpad;
  GstInternVLClassifyPrivate* priv;
};

static void gst_internvl_classify_finalize(GObject* object);
static void gst_internvl_classify_set_property(GObject* object, guint id, const GValue* value,
                                               GParamSpec* pspec);
static void gst_internvl_classify_get_property(GObject* object, guint id, GValue* value,
                                               GParamSpec* pspec);
static GstStateChangeReturn gst_internvl_classify_change_state(GstElement* element,
                                                               GstStateChange transition);
static GstFlowReturn gst_internvl_classify_chain(GstPad* pad, GstObject* parent, GstBuffer* buffer);
static gboolean gst_internvl_classify_sink_event(GstPad* pad, GstObject* parent, GstEvent* event);
static gboolean gst_internvl_classify_sink_query(GstPad* pad, GstObject* parent, GstQuery* query);
static gboolean gst_internvl_classify_src_query(GstPad* pad, GstObject* parent, GstQuery* query);
static gboolean gst_internvl_classify_src_activate_mode(GstPad* pad, GstObject* parent,
                                                        GstPadMode mode, gboolean active);
static void gst_internvl_classify_loop(gpointer user_data);

G_DEFINE_TYPE(GstInternVLClassify, gst_internvl_classify, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE(internvlclassify, "internvlclassify", GST_RANK_NONE,
                            GST_TYPE_INTERNVL_CLASSIFY);

#define RW_READY (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)
#define RW_PLAYING \
  (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)
#define RO (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)

static void gst_internvl_classify_class_init(GstInternVLClassifyClass* klass) {
  auto* gobject_class = G_OBJECT_CLASS(klass);
  auto* element_class = GST_ELEMENT_CLASS(klass);
  gobject_class->finalize = gst_internvl_classify_finalize;
  gobject_class->set_property = gst_internvl_classify_set_property;
  gobject_class->get_property = gst_internvl_classify_get_property;
  element_class->change_state = GST_DEBUG_FUNCPTR(gst_internvl_classify_change_state);

  const ClassifySettings d;
  auto install = [&](guint id, GParamSpec* spec) {
    g_object_class_install_property(gobject_class, id, spec);
  };
  install(PROP_MODEL, g_param_spec_string("model", "Model",
                                          "InternVL checkpoint directory (config.json, weights, "
                                          "tokenizer, preprocessor_config.json)",
                                          nullptr, RW_READY));
  install(PROP_DEVICE, g_param_spec_enum("device", "Device", "Device the engine runs on",
                                         classify_device_get_type(), d.device, RW_READY));
  install(PROP_DTYPE,
          g_param_spec_enum("dtype", "Data type", "Weight and compute precision of the engine",
                            classify_dtype_get_type(), d.dtype, RW_READY));
  install(PROP_MODE, g_param_spec_enum("mode", "Mode", "Image embedding: InternVL-C or InternVL-G",
                                       classify_mode_get_type(), 0, RW_READY));
  install(PROP_STREAM_ID,
          g_param_spec_string("stream-id", "Stream id",
                              "Stream name in metric labels "
                              "(default: the element's name); when set, the application "
                              "counts internvl_frames_total",
                              nullptr, RW_READY));
  install(PROP_LABELS, g_param_spec_string("labels", "Labels",
                                           "Label set, ';'-separated (\"a dog;a cat\"); "
                                           "labels-file takes precedence. May change while PLAYING",
                                           nullptr, RW_PLAYING));
  install(PROP_LABELS_FILE, g_param_spec_string("labels-file", "Labels file",
                                                "File with one label per line "
                                                "('#' comments); overrides labels",
                                                nullptr, RW_PLAYING));
  install(PROP_PROMPT_TEMPLATE, g_param_spec_string("prompt-template", "Prompt template",
                                                    "Text for each label, "
                                                    "'{}' replaced by the label",
                                                    d.prompt_template.c_str(), RW_PLAYING));
  install(PROP_TEMPLATES_FILE,
          g_param_spec_string("templates-file", "Templates file",
                              "File with one prompt "
                              "template per line (ensembled); overrides prompt-template",
                              nullptr, RW_PLAYING));
  install(PROP_INTERVAL, g_param_spec_uint("interval", "Interval",
                                           "Frames skipped between two samples "
                                           "(0 = every frame)",
                                           0, G_MAXUINT, d.interval, RW_READY));
  install(PROP_SELECTION_FPS, g_param_spec_double("selection-fps", "Selection FPS",
                                                  "Samples per second of "
                                                  "stream time; overrides interval when > 0",
                                                  0.0, 1000.0, d.selection_fps, RW_READY));
  install(PROP_CLIP_FRAMES, g_param_spec_uint("clip-frames", "Clip frames",
                                              "Sampled frames in the sliding "
                                              "window scored as one clip (0 = no clip results)",
                                              0, 1024, d.clip_frames, RW_READY));
  install(PROP_TOP_K, g_param_spec_uint("top-k", "Top K", "Labels per result, best first", 1, 1000,
                                        d.top_k, RW_PLAYING));
  install(PROP_THRESHOLD, g_param_spec_double("threshold", "Threshold",
                                              "Labels with a lower confidence are "
                                              "left out",
                                              0.0, 1.0, d.threshold, RW_PLAYING));
  install(PROP_BATCH_SIZE, g_param_spec_uint("batch-size", "Batch size",
                                             "Most frames per model call (of the "
                                             "engine this element creates)",
                                             1, 1024, d.batch_size, RW_READY));
  install(PROP_BATCH_TIMEOUT, g_param_spec_uint64("batch-timeout", "Batch timeout",
                                                  "Nanoseconds the engine "
                                                  "waits for a full batch",
                                                  0, G_MAXUINT64, d.batch_timeout, RW_READY));
  install(PROP_MAX_LATENCY, g_param_spec_uint64("max-latency", "Max latency",
                                                "Nanoseconds a frame waits for "
                                                "its result before it goes out without it",
                                                0, G_MAXUINT64, d.max_latency, RW_PLAYING));
  install(PROP_LEAKY,
          g_param_spec_enum("leaky", "Leaky", "What a sample does when the engine queue is full",
                            classify_leaky_get_type(), 0, RW_READY));
  install(PROP_FRAMES_PROCESSED, g_param_spec_uint64("frames-processed", "Frames processed",
                                                     "Buffers received", 0, G_MAXUINT64, 0, RO));
  install(PROP_FRAMES_SAMPLED, g_param_spec_uint64("frames-sampled", "Frames sampled",
                                                   "Buffers chosen for "
                                                   "inference",
                                                   0, G_MAXUINT64, 0, RO));
  install(PROP_SAMPLES_DROPPED, g_param_spec_uint64("samples-dropped", "Samples dropped",
                                                    "Samples refused by "
                                                    "a full engine (leaky) or failed",
                                                    0, G_MAXUINT64, 0, RO));
  install(PROP_RESULTS_LATE, g_param_spec_uint64("results-late", "Results late",
                                                 "Sampled buffers sent without "
                                                 "their result after max-latency",
                                                 0, G_MAXUINT64, 0, RO));

  install(PROP_METRICS_ADDRESS,
          g_param_spec_string("metrics-address", "Metrics address",
                              "host:port to serve "
                              "Prometheus /metrics on, e.g. 127.0.0.1:9464; host:0 picks a "
                              "free port",
                              nullptr, RW_READY));
  install(PROP_METRICS_PORT, g_param_spec_uint("metrics-port", "Metrics port",
                                               "The port /metrics is served on "
                                               "(0 when not serving)",
                                               0, G_MAXUINT16, 0, RO));

  gst_element_class_set_static_metadata(
      element_class, "InternVL zero-shot classification", "Filter/Analyzer/Video",
      "Scores sampled frames against a label set with InternVL and "
      "attaches the top labels as InternVLResultMeta",
      "InternVL Stream developers");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_type_mark_as_plugin_api(classify_device_get_type(), GstPluginAPIFlags(0));
  gst_type_mark_as_plugin_api(classify_dtype_get_type(), GstPluginAPIFlags(0));
  gst_type_mark_as_plugin_api(classify_mode_get_type(), GstPluginAPIFlags(0));
  gst_type_mark_as_plugin_api(classify_leaky_get_type(), GstPluginAPIFlags(0));
  GST_DEBUG_CATEGORY_INIT(gst_internvl_classify_debug, "internvlclassify", 0,
                          "InternVL classification");
}

static void gst_internvl_classify_init(GstInternVLClassify* self) {
  self->priv = new GstInternVLClassifyPrivate();
  self->priv->cuda.set_device_property(ivs::plugins::engine_key(self->priv->settings).device);
  self->sinkpad = gst_pad_new_from_static_template(&sink_template, "sink");
  gst_pad_set_chain_function(self->sinkpad, GST_DEBUG_FUNCPTR(gst_internvl_classify_chain));
  gst_pad_set_event_function(self->sinkpad, GST_DEBUG_FUNCPTR(gst_internvl_classify_sink_event));
  gst_pad_set_query_function(self->sinkpad, GST_DEBUG_FUNCPTR(gst_internvl_classify_sink_query));
  GST_PAD_SET_PROXY_CAPS(self->sinkpad);
  GST_PAD_SET_PROXY_ALLOCATION(self->sinkpad);
  gst_element_add_pad(GST_ELEMENT(self), self->sinkpad);
  self->srcpad = gst_pad_new_from_static_template(&src_template, "src");
  gst_pad_set_query_function(self->srcpad, GST_DEBUG_FUNCPTR(gst_internvl_classify_src_query));
  gst_pad_set_activatemode_function(self->srcpad,
                                    GST_DEBUG_FUNCPTR(gst_internvl_classify_src_activate_mode));
  GST_PAD_SET_PROXY_CAPS(self->srcpad);
  gst_element_add_pad(GST_ELEMENT(self), self->srcpad);
}

static void gst_internvl_classify_finalize(GObject* object) {
  delete GST_INTERNVL_CLASSIFY(object)->priv;
  G_OBJECT_CLASS(gst_internvl_classify_parent_class)->finalize(object);
}

static std::string string_or_empty(const GValue* value) {
  const gchar* s = g_value_get_string(value);
  return s != nullptr ? s : "";
}

static void gst_internvl_classify_set_property(GObject* object, guint id, const GValue* value,
                                               GParamSpec* pspec) {
  auto* priv = GST_INTERNVL_CLASSIFY(object)->priv;
  std::lock_guard<std::mutex> guard(priv->lock);
  ClassifySettings& s = priv->settings;
  switch (id) {
    case PROP_MODEL:
      s.model = string_or_empty(value);
      break;
    case PROP_METRICS_ADDRESS:
      s.metrics_address = string_or_empty(value);
      break;
    case PROP_STREAM_ID:
      s.stream_id = string_or_empty(value);
      break;
    case PROP_DEVICE:
      s.device = g_value_get_enum(value);
      priv->cuda.set_device_property(ivs::plugins::engine_key(s).device);
      break;
    case PROP_DTYPE:
      s.dtype = g_value_get_enum(value);
      break;
    case PROP_MODE:
      s.mode_g = g_value_get_enum(value) == 1;
      break;
    case PROP_LABELS:
      s.labels = string_or_empty(value);
      ++s.label_generation;
      break;
    case PROP_LABELS_FILE:
      s.labels_file = string_or_empty(value);
      ++s.label_generation;
      break;
    case PROP_PROMPT_TEMPLATE:
      s.prompt_template = string_or_empty(value);
      ++s.label_generation;
      break;
    case PROP_TEMPLATES_FILE:
      s.templates_file = string_or_empty(value);
      ++s.label_generation;
      break;
    case PROP_INTERVAL:
      s.interval = g_value_get_uint(value);
      break;
    case PROP_SELECTION_FPS:
      s.selection_fps = g_value_get_double(value);
      break;
    case PROP_CLIP_FRAMES:
      s.clip_frames = g_value_get_uint(value);
      break;
    case PROP_TOP_K:
      s.top_k = g_value_get_uint(value);
      break;
    case PROP_THRESHOLD:
      s.threshold = g_value_get_double(value);
      break;
    case PROP_BATCH_SIZE:
      s.batch_size = g_value_get_uint(value);
      break;
    case PROP_BATCH_TIMEOUT:
      s.batch_timeout = g_value_get_uint64(value);
      break;
    case PROP_MAX_LATENCY:
      s.max_latency = g_value_get_uint64(value);
      break;
    case PROP_LEAKY:
      s.leaky = static_cast<Leaky>(g_value_get_enum(value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
      break;
  }
}

static void gst_internvl_classify_get_property(GObject* object, guint id, GValue* value,
                                               GParamSpec* pspec) {
  auto* priv = GST_INTERNVL_CLASSIFY(object)->priv;
  std::lock_guard<std::mutex> guard(priv->lock);
  const ClassifySettings& s = priv->settings;
  auto set_string = [&](const std::string& v) {
    g_value_set_string(value, v.empty() ? nullptr : v.c_str());
  };
  switch (id) {
    case PROP_MODEL:
      set_string(s.model);
      break;
    case PROP_DEVICE:
      g_value_set_enum(value, s.device);
      break;
    case PROP_DTYPE:
      g_value_set_enum(value, s.dtype);
      break;
    case PROP_MODE:
      g_value_set_enum(value, s.mode_g ? 1 : 0);
      break;
    case PROP_STREAM_ID:
      set_string(s.stream_id);
      break;
    case PROP_LABELS:
      set_string(s.labels);
      break;
    case PROP_LABELS_FILE:
      set_string(s.labels_file);
      break;
    case PROP_PROMPT_TEMPLATE:
      set_string(s.prompt_template);
      break;
    case PROP_TEMPLATES_FILE:
      set_string(s.templates_file);
      break;
    case PROP_INTERVAL:
      g_value_set_uint(value, s.interval);
      break;
    case PROP_SELECTION_FPS:
      g_value_set_double(value, s.selection_fps);
      break;
    case PROP_CLIP_FRAMES:
      g_value_set_uint(value, s.clip_frames);
      break;
    case PROP_TOP_K:
      g_value_set_uint(value, s.top_k);
      break;
    case PROP_THRESHOLD:
      g_value_set_double(value, s.threshold);
      break;
    case PROP_BATCH_SIZE:
      g_value_set_uint(value, s.batch_size);
      break;
    case PROP_BATCH_TIMEOUT:
      g_value_set_uint64(value, s.batch_timeout);
      break;
    case PROP_MAX_LATENCY:
      g_value_set_uint64(value, s.max_latency);
      break;
    case PROP_LEAKY:
      g_value_set_enum(value, static_cast<int>(s.leaky));
      break;
    case PROP_FRAMES_PROCESSED:
      g_value_set_uint64(value, GST_INTERNVL_CLASSIFY(object)->priv->frames_processed);
      break;
    case PROP_FRAMES_SAMPLED:
      g_value_set_uint64(value, priv->frames_sampled);
      break;
    case PROP_SAMPLES_DROPPED:
      g_value_set_uint64(value, priv->samples_dropped);
      break;
    case PROP_RESULTS_LATE:
      g_value_set_uint64(value, priv->results_late);
      break;
    case PROP_METRICS_ADDRESS:
      set_string(s.metrics_address);
      break;
    case PROP_METRICS_PORT:
      g_value_set_uint(value, priv->metrics ? priv->metrics->port() : 0);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
      break;
  }
}

// READY->PAUSED: check the settings, find or create the engine, build the first scorer.
static bool gst_internvl_classify_start(GstInternVLClassify* self) {
  ClassifySettings s;
  {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    s = self->priv->settings;
  }
  try {
    if (s.model.empty())
      throw std::runtime_error("the model property is not set: set model=<checkpoint directory>");
    if (!g_file_test(s.model.c_str(), G_FILE_TEST_IS_DIR)) {
      throw std::runtime_error("model directory '" + s.model +
                               "' does not exist: set model= to an InternVL checkpoint directory");
    }
    const auto labels = ivs::plugins::resolve_labels(s);
    const auto templates = ivs::plugins::resolve_templates(s);
    const auto key = ivs::plugins::engine_key(s);
    auto metrics = ivs::pipeline::acquire_metrics(
        GST_ELEMENT(self), s.metrics_address,
        ivs::pipeline::default_build_info(ivs::pipeline::Engine::canonical_key(key).device));
    auto options = ivs::plugins::engine_options(s);
    options.batch_observer = ivs::plugins::metrics_batch_observer(metrics);
    auto engine = ivs::pipeline::acquire_engine(GST_ELEMENT(self), key, options);
    auto state = std::make_unique<ClassifyState>(
        ivs::pipeline::FrameSampler::Options{s.interval, s.selection_fps}, engine->processor());
    state->scorer = engine->label_scorer(labels, templates);
    state->scorer_generation = s.label_generation;
    state->model_name = engine->model_name();
    state->mode = s.mode_g ? ivs::pipeline::EmbeddingMode::kG : ivs::pipeline::EmbeddingMode::kC;
    state->leaky = s.leaky;
    state->clip_frames = s.clip_frames;
    state->engine = std::move(engine);
    state->stream = ivs::pipeline::stream_name_of(GST_ELEMENT(self), s.stream_id);
    state->count_frames = s.stream_id.empty();
    {
      std::lock_guard<std::mutex> guard(self->priv->lock);
      self->priv->metrics = metrics;
    }
    state->metrics = std::move(metrics);
    self->priv->cuda.set_engine(state->engine.get());
    ivs::plugins::announce_cuda_context(GST_ELEMENT(self), self->priv->cuda.device());
    self->priv->state = std::move(state);
    GST_INFO_OBJECT(self, "classifying with %s, %zu labels", self->priv->state->model_name.c_str(),
                    labels.size());
    return true;
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("%s", e.what()),
                      ("internvlclassify could not start (model '%s')", s.model.c_str()));
    return false;
  }
}

static GstStateChangeReturn gst_internvl_classify_change_state(GstElement* element,
                                                               GstStateChange transition) {
  auto* self = GST_INTERNVL_CLASSIFY(element);
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && !gst_internvl_classify_start(self)) {
    return GST_STATE_CHANGE_FAILURE;
  }
  const GstStateChangeReturn ret =
      GST_ELEMENT_CLASS(gst_internvl_classify_parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY ||
      (transition == GST_STATE_CHANGE_READY_TO_PAUSED && ret == GST_STATE_CHANGE_FAILURE)) {
    self->priv->cuda.set_engine(nullptr);
    self->priv->state.reset();  // pads are inactive: no streaming thread or task uses it
    std::lock_guard<std::mutex> guard(self->priv->lock);
    self->priv->metrics.reset();
  }
  return ret;
}

static gboolean gst_internvl_classify_src_activate_mode(GstPad* pad, GstObject* parent,
                                                        GstPadMode mode, gboolean active) {
  auto* self = GST_INTERNVL_CLASSIFY(parent);
  ClassifyState* state = self->priv->state.get();
  if (mode != GST_PAD_MODE_PUSH || state == nullptr) return !active || state != nullptr;
  {
    std::lock_guard<std::mutex> guard(state->fifo_lock);
    state->flushing = !active;
    state->flow = active ? GST_FLOW_OK : GST_FLOW_FLUSHING;
  }
  state->fifo_cond.notify_all();
  if (active) return gst_pad_start_task(pad, gst_internvl_classify_loop, self, nullptr);
  const gboolean stopped = gst_pad_stop_task(pad);
  state->clear_fifo();
  return stopped;
}

// Streaming thread: the scorer for the current labels, rebuilt when a property changed them (the
// text tower runs here, once per change, without any lock held). A bad new set keeps the old one.
static void update_scorer(GstInternVLClassify* self, ClassifyState* state) {
  ClassifySettings s;
  {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    if (self->priv->settings.label_generation == state->scorer_generation) return;
    s = self->priv->settings;
  }
  state->scorer_generation = s.label_generation;
  try {
    state->scorer = state->engine->label_scorer(ivs::plugins::resolve_labels(s),
                                                ivs::plugins::resolve_templates(s));
    GST_INFO_OBJECT(self, "label set changed: %zu labels", state->scorer->labels().size());
  } catch (const std::exception& e) {
    GST_ELEMENT_WARNING(self, RESOURCE, SETTINGS, ("new labels not used: %s", e.what()),
                        ("keeping the previous label set"));
  }
}

static bool upstream_is_live(GstInternVLClassify* self) {
  GstQuery* query = gst_query_new_latency();
  gboolean live = FALSE;
  if (gst_pad_peer_query(self->sinkpad, query))
    gst_query_parse_latency(query, &live, nullptr, nullptr);
  gst_query_unref(query);
  GST_DEBUG_OBJECT(self, "upstream is %s", live ? "live" : "not live");
  return live;
}

// Streaming thread: preprocess and submit a sampled frame; item.result stays empty when refused.
static void submit_sample(GstInternVLClassify* self, ClassifyState* state, PendingItem& item) {
  update_scorer(self, state);
  if (!state->live) state->live = upstream_is_live(self);
  const bool drop = state->leaky == Leaky::kYes || (state->leaky == Leaky::kAuto && *state->live);
  const auto admission =
      drop ? ivs::pipeline::Admission::kDropIfFull : ivs::pipeline::Admission::kWait;
  bool failed = false;
  try {
    // NV12 in CUDA memory stays where it is (the engine preprocesses it on the GPU); anything
    // else is preprocessed here, on the streaming thread.
    auto input = ivs::plugins::frame_input(item.buffer, state->info, state->cuda_memory,
                                           state->engine->cuda_device(), state->preprocessor);
    item.result = std::visit(
        [&](auto&& in) {
          return state->engine->submit_embedding(std::move(in), state->mode, admission);
        },
        std::move(input));
  } catch (const std::exception& e) {
    failed = true;
    GST_WARNING_OBJECT(self, "frame %" G_GUINT64_FORMAT " not classified: %s", item.frame_number,
                       e.what());
  }
  ivs::plugins::record_queue_depth(*state->metrics, *state->engine);
  if (!item.result) {
    self->priv->samples_dropped++;
    state->metrics->metrics()
        .frames_dropped(state->stream, failed ? "failed" : "engine_full")
        .Increment();
    GST_LOG_OBJECT(self, "sample %" G_GUINT64_FORMAT " dropped (engine full)", item.frame_number);
  }
  item.scorer = state->scorer;
}

// Appends to the FIFO (buffers wait for room); FLUSHING / the downstream error otherwise.
static GstFlowReturn enqueue(ClassifyState* state, PendingItem item, bool wait_for_room) {
  std::unique_lock<std::mutex> lock(state->fifo_lock);
  if (wait_for_room) {
    state->fifo_cond.wait(lock,
                          [&] { return state->flushing || state->fifo.size() < kMaxPending; });
  }
  if (state->flushing) return GST_FLOW_FLUSHING;
  if (state->flow != GST_FLOW_OK) return state->flow;
  state->fifo.push_back(std::move(item));
  lock.unlock();
  state->fifo_cond.notify_all();
  return GST_FLOW_OK;
}

static GstFlowReturn gst_internvl_classify_chain(GstPad*, GstObject* parent, GstBuffer* buffer) {
  auto* self = GST_INTERNVL_CLASSIFY(parent);
  ClassifyState* state = self->priv->state.get();
  if (state == nullptr) {
    gst_buffer_unref(buffer);
    return GST_FLOW_FLUSHING;
  }
  if (!state->have_info) {
    const bool cuda =
        state->rejected_caps.find(ivs::plugins::kCudaMemoryFeature) != std::string::npos &&
        !self->priv->cuda.takes_cuda_memory();
    GST_ELEMENT_ERROR(
        self, CORE, NEGOTIATION,
        ("internvlclassify accepts raw video in system memory in the "
         "formats " IVS_FRAME_PREPROCESS_FORMATS "%s; got %s",
         self->priv->cuda.takes_cuda_memory() ? ", or NV12 in CUDA memory" : "",
         state->rejected_caps.empty() ? "no caps" : state->rejected_caps.c_str()),
        ("%s",
         cuda ? "put cudadownload before internvlclassify, or run the model on CUDA (device=cuda)"
              : "put videoconvert before internvlclassify"));
    gst_buffer_unref(buffer);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  self->priv->frames_processed++;
  if (state->count_frames) state->metrics->metrics().frames(state->stream).Increment();
  PendingItem item;
  item.buffer = buffer;
  item.pts = GST_BUFFER_PTS(buffer);
  item.arrival = std::chrono::steady_clock::now();
  item.frame_number = state->sampler.frames_seen();
  {
    std::lock_guard<std::mutex> guard(self->priv->lock);
    item.deadline = item.arrival + std::chrono::nanoseconds(self->priv->settings.max_latency);
    item.top_k = self->priv->settings.top_k;
    item.threshold = self->priv->settings.threshold;
  }
  const auto pts =
      GST_CLOCK_TIME_IS_VALID(item.pts) ? std::optional<uint64_t>(item.pts) : std::nullopt;
  if (state->sampler.should_sample(pts)) {
    self->priv->frames_sampled++;
    state->metrics->metrics().frames_sampled(state->stream, "classification").Increment();
    submit_sample(self, state, item);
  }
  return enqueue(state, std::move(item), true);
}

static gboolean gst_internvl_classify_sink_event(GstPad* pad, GstObject* parent, GstEvent* event) {
  auto* self = GST_INTERNVL_CLASSIFY(parent);
  ClassifyState* state = self->priv->state.get();
  if (state == nullptr) return gst_pad_event_default(pad, parent, event);
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_FLUSH_START: {
      {
        std::lock_guard<std::mutex> guard(state->fifo_lock);
        state->flushing = true;
        state->flow = GST_FLOW_FLUSHING;
      }
      state->fifo_cond.notify_all();
      const gboolean ok = gst_pad_push_event(self->srcpad, event);
      gst_pad_pause_task(self->srcpad);  // waits for the loop to leave
      return ok;
    }
    case GST_EVENT_FLUSH_STOP: {
      state->clear_fifo();
      state->sampler.reset();
      state->clip.clear();  // the task is paused
      state->live.reset();
      {
        std::lock_guard<std::mutex> guard(state->fifo_lock);
        state->flushing = false;
        state->flow = GST_FLOW_OK;
      }
      const gboolean ok = gst_pad_push_event(self->srcpad, event);
      gst_pad_start_task(self->srcpad, gst_internvl_classify_loop, self, nullptr);
      return ok;
    }
    case GST_EVENT_CAPS: {
      GstCaps* caps = nullptr;
      gst_event_parse_caps(event, &caps);
      GstVideoInfo info;
      if (!gst_video_info_from_caps(&info, caps) ||
          !ivs::pipeline::frame_preprocess_supports(info.finfo->format)) {
        gchar* text = gst_caps_to_string(caps);
        GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("internvlclassify cannot read caps %s", text),
                          ("accepted: " CLASSIFY_CAPS));
        g_free(text);
        gst_event_unref(event);
        return FALSE;
      }
      state->info = info;
      state->have_info = true;
      state->cuda_memory = ivs::plugins::nv12_picture_caps(caps, info);
      break;
    }
    default:
      break;
  }
  if (!GST_EVENT_IS_SERIALIZED(event)) return gst_pad_event_default(pad, parent, event);
  PendingItem item;
  item.event = event;
  return enqueue(state, std::move(item), false) == GST_FLOW_OK;
}

static gboolean gst_internvl_classify_sink_query(GstPad* pad, GstObject* parent, GstQuery* query) {
  auto* self = GST_INTERNVL_CLASSIFY(parent);
  if (ivs::pipeline::handle_engine_context_query(GST_ELEMENT(self), query)) return TRUE;
  if (ivs::pipeline::handle_metrics_context_query(GST_ELEMENT(self), query)) return TRUE;
  if (ivs::plugins::handle_cuda_context_query(GST_ELEMENT(self), query, self->priv->cuda.device()))
    return TRUE;
  if (GST_QUERY_TYPE(query) == GST_QUERY_ACCEPT_CAPS) {
    GstCaps* caps = nullptr;
    gst_query_parse_accept_caps(query, &caps);
    GstCaps* templ = gst_pad_get_pad_template_caps(pad);
    gboolean ok = gst_caps_is_subset(caps, templ) && !self->priv->cuda.refuses(caps);
    gst_caps_unref(templ);
    if (ok) ok = gst_pad_peer_query_accept_caps(self->srcpad, caps);
    if (!ok && self->priv->state) {
      gchar* text = gst_caps_to_string(caps);
      self->priv->state->rejected_caps = text;
      GST_WARNING_OBJECT(
          self, "refusing caps %s: supported are " CLASSIFY_CAPS "%s", text,
          self->priv->cuda.refuses(caps) ? " (CUDA memory only with the model on CUDA)" : "");
      g_free(text);
    }
    gst_query_set_accept_caps_result(query, ok);
    return TRUE;
  }
  const gboolean ok = gst_pad_query_default(pad, parent, query);
  if (ok) ivs::plugins::filter_caps_result(query, self->priv->cuda);
  return ok;
}

static gboolean gst_internvl_classify_src_query(GstPad* pad, GstObject* parent, GstQuery* query) {
  auto* self = GST_INTERNVL_CLASSIFY(parent);
  if (ivs::pipeline::handle_engine_context_query(GST_ELEMENT(self), query)) return TRUE;
  if (ivs::pipeline::handle_metrics_context_query(GST_ELEMENT(self), query)) return TRUE;
  if (GST_QUERY_TYPE(query) == GST_QUERY_LATENCY) {
    if (!gst_pad_peer_query(self->sinkpad, query)) return FALSE;
    gboolean live = FALSE;
    GstClockTime min = 0;
    GstClockTime max = 0;
    gst_query_parse_latency(query, &live, &min, &max);
    GstClockTime ours = 0;
    {
      std::lock_guard<std::mutex> guard(self->priv->lock);
      ours = self->priv->settings.max_latency;  // a frame may wait this long for its result
    }
    gst_query_set_latency(query, live, min + ours, GST_CLOCK_TIME_IS_VALID(max) ? max + ours : max);
    return TRUE;
  }
  const gboolean ok = gst_pad_query_default(pad, parent, query);
  if (ok) ivs::plugins::filter_caps_result(query, self->priv->cuda);
  return ok;
}

// srcpad task: the head of the FIFO leaves when its result is ready or its deadline passed.
static bool wait_for_result(ClassifyState* state, PendingItem& item) {
  while (true) {
    {
      std::lock_guard<std::mutex> guard(state->fifo_lock);
      if (state->flushing) return false;
    }
    const auto left = item.deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero())
      return item.result->wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    const auto slice = std::min<std::chrono::steady_clock::duration>(left, kPollSlice);
    if (item.result->wait_for(slice) == std::future_status::ready) return true;
  }
}

static void attach_result(GstInternVLClassify* self, ClassifyState* state, PendingItem& item) {
  const bool ready = wait_for_result(state, item);
  if (!ready) {
    std::lock_guard<std::mutex> guard(state->fifo_lock);
    if (state->flushing) return;
  }
  if (!ready) {
    self->priv->results_late++;
    state->metrics->metrics().frames_dropped(state->stream, "late").Increment();
    GST_INFO_OBJECT(self,
                    "frame %" G_GUINT64_FORMAT " sent without its result (max-latency passed)",
                    item.frame_number);
    return;
  }
  try {
    auto entries = state->entries_for(item, item.result->get(), GST_OBJECT_NAME(self));
    item.buffer = gst_buffer_make_writable(item.buffer);
    GstInternVLResultMeta* meta = gst_buffer_add_internvl_result_meta(item.buffer);
    for (auto& entry : entries) meta->records->entries.push_back(std::move(entry));
    state->metrics->metrics()
        .result_latency(state->stream, "classification")
        .Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - item.arrival).count());
    ivs::plugins::record_queue_depth(*state->metrics, *state->engine);
  } catch (const std::exception& e) {
    self->priv->samples_dropped++;
    state->metrics->metrics().frames_dropped(state->stream, "failed").Increment();
    GST_WARNING_OBJECT(self, "frame %" G_GUINT64_FORMAT " not classified: %s", item.frame_number,
                       e.what());
  }
}

static void gst_internvl_classify_loop(gpointer user_data) {
  auto* self = GST_INTERNVL_CLASSIFY(user_data);
  ClassifyState* state = self->priv->state.get();
  std::unique_lock<std::mutex> lock(state->fifo_lock);
  state->fifo_cond.wait(lock, [&] { return state->flushing || !state->fifo.empty(); });
  if (state->flushing) {
    lock.unlock();
    gst_pad_pause_task(self->srcpad);
    return;
  }
  PendingItem item(std::move(state->fifo.front()));
  state->fifo.pop_front();
  lock.unlock();
  state->fifo_cond.notify_all();
  if (item.event != nullptr) {
    gst_pad_push_event(self->srcpad, std::exchange(item.event, nullptr));
    return;
  }
  if (item.result) attach_result(self, state, item);
  const GstFlowReturn ret = gst_pad_push(self->srcpad, std::exchange(item.buffer, nullptr));
  if (ret == GST_FLOW_OK) return;
  {
    std::lock_guard<std::mutex> guard(state->fifo_lock);
    if (!state->flushing) state->flow = ret;
  }
  state->fifo_cond.notify_all();
  if (ret == GST_FLOW_NOT_LINKED || ret < GST_FLOW_EOS) GST_ELEMENT_FLOW_ERROR(self, ret);
  GST_DEBUG_OBJECT(self, "pausing: %s", gst_flow_get_name(ret));
  gst_pad_pause_task(self->srcpad);
}
