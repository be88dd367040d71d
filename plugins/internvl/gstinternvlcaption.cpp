// SPDX-License-Identifier: Apache-2.0
/**
 * SECTION:element-internvlcaption
 * @title: internvlcaption
 *
 * Captions video with InternVL-G (QLLaMA beam search), asynchronously. The element samples
 * frames far less often than internvlclassify (#GstInternVLCaption:selection-fps, default one
 * frame every five seconds of stream time, or every #GstInternVLCaption:interval + 1 frames),
 * preprocesses a sampled frame on the streaming thread (the caption evaluation's 224x224 squash
 * resize) and hands it to the shared InternVL engine, which batches requests from every element
 * and stream. Frames are never held back waiting for a caption: each frame passes on at once, and
 * a finished caption is attached as an InternVLResultMeta entry (kind caption: text, prompt,
 * token counts, timing) to the first frame that passes after it is ready. The entry's segment is
 * the frame the caption describes (its PTS and frame number), not the frame that carries it.
 *
 * At most one caption per element is in flight. In a live pipeline a frame sampled while the
 * previous caption is still running, or refused because the engine's queue is full, is skipped
 * and counted in #GstInternVLCaption:captions-dropped, so the stream never waits. In a non-live
 * pipeline (files) every sampled frame is captioned, in order: a sample waits on the streaming
 * thread until the previous caption is done (it rides on that frame) and the engine has room,
 * which slows the file down to the captioning rate (back-pressure). A caption that fails (a model error) is logged at
 * WARNING (rate-limited) and counted in #GstInternVLCaption:captions-failed; the stream goes on.
 *
 * End of stream: there is no frame after the last one to carry a caption that is still running.
 * In a non-live pipeline (files, tests) the element therefore keeps the latest frame back while
 * a caption is in flight (one frame of delay, only then), and at EOS waits (at most 30 s) for the
 * outstanding caption, attaches it to that last frame and lets it pass before the EOS. In a live
 * pipeline nothing is ever held: a caption still running at EOS is dropped with an INFO log and
 * counted in #GstInternVLCaption:captions-dropped. A flush (seek) drops captions in flight the
 * same way.
 *
 * The engine (one per model directory, device and dtype per process) is found or created when
 * the element starts, and shared with the other InternVL elements of the pipeline through a
 * GstContext of type "internvl.engine".
 *
 * Metrics (sinks/README.md) go into the pipeline's one Prometheus registry, shared with the other
 * InternVL elements through a GstContext of type "internvl.metrics": internvl_frames_total,
 * internvl_frames_sampled_total{task="caption"},
 * internvl_frames_dropped_total{reason="engine_full"|"late"|"failed"} (engine_full: a caption
 * was in flight or the engine queue was full; late: a caption abandoned at a flush or EOS),
 * internvl_result_latency_seconds{task="caption"} (sampled frame to caption attached), with
 * `stream` = the element's name, and internvl_caption_tokens_total.
 * #GstInternVLCaption:metrics-address serves them on /metrics (host:0 picks a port, read back
 * from #GstInternVLCaption:metrics-port); one address per pipeline, the first one wins.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=300 ! internvlcaption model=/models/InternVL-14B-224px selection-fps=1 ! internvloverlay ! internvlpublish file-path=captions.jsonl include=caption ! fakesink
 * ]|
 * Captions one frame per second of video, draws the latest caption onto the frames and writes
 * one JSON line per caption.
 *
 * Caps: video/x-raw in system memory (RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, I420, NV12),
 * in and out the same; the pixels are never modified.
 */
#include "plugins/internvl/gstinternvlcaption.h"

#include <gst/video/video.h>

#include "model/common/clip_image_processor.h"
#include "model/internvl/prompts.h"
#include "pipeline/engine/engine.h"
#include "pipeline/engine_context.h"
#include "pipeline/metrics_context.h"
#include "plugins/internvl/classify_state.h"  // metrics_batch_observer, record_queue_depth
#include "plugins/internvl/cuda_memory.h"
#include "pipeline/frame_preprocess.h"
#include "pipeline/frame_sampler.h"
#include "pipeline/result_meta.h"

#include <atomic>
#include <chrono>
#include <deque>
#include <exception>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

GST_DEBUG_CATEGORY_STATIC(gst_internvl_caption_debug);
#define GST_CAT_DEFAULT gst_internvl_caption_debug

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(IVS_FRAME_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(IVS_FRAME_CAPS));

/// Where the engine runs; the nick is the engine key's device string. Element-specific type names
/// (internvlclassify registers its own), same values and nicks.
#define GST_TYPE_INTERNVL_CAPTION_DEVICE (gst_internvl_caption_device_get_type())
static GType gst_internvl_caption_device_get_type(void) {
  static GType type = 0;
  static const GEnumValue values[] = {
      {0, "CUDA when usable, else CPU", "auto"},
      {1, "CPU", "cpu"},
      {2, "CUDA GPU", "cuda"},
      {0, nullptr, nullptr},
  };
  if (g_once_init_enter(&type)) {
    g_once_init_leave(&type, g_enum_register_static("GstInternVLCaptionDevice", values));
  }
  return type;
}

/// Weight and compute precision; the nick is the engine key's dtype string.
#define GST_TYPE_INTERNVL_CAPTION_DTYPE (gst_internvl_caption_dtype_get_type())
static GType gst_internvl_caption_dtype_get_type(void) {
  static GType type = 0;
  static const GEnumValue values[] = {
      {0, "bf16 on a GPU, fp32 on CPU", "auto"},
      {1, "float32", "fp32"},
      {2, "bfloat16", "bf16"},
      {3, "float16", "fp16"},
      {0, nullptr, nullptr},
  };
  if (g_once_init_enter(&type)) {
    g_once_init_leave(&type, g_enum_register_static("GstInternVLCaptionDtype", values));
  }
  return type;
}

enum {
  PROP_0,
  PROP_MODEL,
  PROP_DEVICE,
  PROP_DTYPE,
  PROP_PROMPT,
  PROP_NUM_BEAMS,
  PROP_MIN_NEW_TOKENS,
  PROP_MAX_NEW_TOKENS,
  PROP_INTERVAL,
  PROP_SELECTION_FPS,
  PROP_BATCH_SIZE,
  PROP_BATCH_TIMEOUT,
  PROP_FRAMES_SAMPLED,
  PROP_CAPTIONS_ATTACHED,
  PROP_CAPTIONS_DROPPED,
  PROP_CAPTIONS_FAILED,
  PROP_METRICS_ADDRESS,
  PROP_STREAM_ID,
  PROP_METRICS_PORT,
};

constexpr const char* kDefaultPrompt = ivs::model::kDefaultCaptionPrompt;
constexpr guint kDefaultNumBeams = 5;
constexpr guint kMaxNumBeams = 64;
constexpr guint kDefaultMinNewTokens = 8;
constexpr guint kDefaultMaxNewTokens = 20;
constexpr guint kMaxNewTokensLimit = 1024;
constexpr guint kDefaultInterval = 0;
constexpr gdouble kDefaultSelectionFps = 0.2;
constexpr guint kDefaultBatchSize = 16;
constexpr guint kMaxBatchSize = 1024;
constexpr guint64 kDefaultBatchTimeout = 10 * GST_MSECOND;

/// Captions of this element queued or running in the engine at once; a sample beyond it is skipped.
constexpr size_t kMaxInFlight = 1;
/// Non-live: the longest wait for the caption still in flight (at EOS, or before the next sample).
constexpr std::chrono::seconds kEosWait{30};

namespace {

struct Settings {
  std::string model;
  gint device = 0;  // GST_TYPE_INTERNVL_CAPTION_DEVICE value; the nick is the engine key's string
  gint dtype = 0;   // GST_TYPE_INTERNVL_CAPTION_DTYPE value
  std::string prompt = kDefaultPrompt;
  guint num_beams = kDefaultNumBeams;
  guint min_new_tokens = kDefaultMinNewTokens;
  guint max_new_tokens = kDefaultMaxNewTokens;
  guint interval = kDefaultInterval;
  gdouble selection_fps = kDefaultSelectionFps;
  guint batch_size = kDefaultBatchSize;
  guint64 batch_timeout = kDefaultBatchTimeout;
  std::string metrics_address;  // empty: record into the pipeline's hub without serving it
  std::string stream_id;        // empty: the element's name (and the element counts frames)
};

struct Counters {
  std::atomic<guint64> sampled{0};
  std::atomic<guint64> attached{0};
  std::atomic<guint64> dropped{0};
  std::atomic<guint64> failed{0};

  void reset() {
    sampled = 0;
    attached = 0;
    dropped = 0;
    failed = 0;
  }
};

/// A caption the engine is working on, with the frame it describes.
struct InFlight {
  std::future<ivs::pipeline::CaptionResult> future;
  ivs::pipeline::SegmentRecord segment;
  std::chrono::steady_clock::time_point sampled_at;
};

/// Runtime resources: built in start(), dropped in stop(). Used from the streaming thread only
/// (and start/stop, which never run concurrently with it).
struct State {
  // the pipeline's; set right after construction
  std::shared_ptr<ivs::pipeline::MetricsHub> metrics;
  std::shared_ptr<ivs::pipeline::Engine> engine;
  ivs::pipeline::CaptionSettings caption;
  std::string element_name;
  std::string stream;        // the `stream` metric label (stream_name_of)
  bool count_frames = true;  // false when the application counts internvl_frames_total
  std::string model_name;
  ivs::pipeline::FrameSampler sampler;
  ivs::pipeline::FramePreprocessor preprocessor;
  GstVideoInfo info{};
  bool have_info = false;
  // frames are NV12 in CUDA memory: the engine preprocesses them in place
  bool cuda_memory = false;
  std::optional<bool> live;  // from an upstream latency query on the first frame
  std::deque<InFlight> in_flight;
  std::deque<GstBuffer*> output;  // frames ready to push, oldest first (see generate_output)

  State(std::shared_ptr<ivs::pipeline::Engine> e, ivs::pipeline::CaptionSettings c,
        std::string name, ivs::pipeline::FrameSampler::Options sampling)
      : engine(std::move(e)),
        caption(std::move(c)),
        element_name(std::move(name)),
        model_name(engine->model_name()),
        sampler(sampling),
        preprocessor(engine->processor(), ivs::model::ResizeMode::kSquash) {}
  ~State() { drop_output(); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  void drop_output() {
    for (GstBuffer* buffer : output) gst_buffer_unref(buffer);
    output.clear();
  }
  /// Upstream is known not to be live (files): back-pressure instead of dropping.
  bool non_live() const { return live.has_value() && !*live; }
  /// Non-live and a caption running: keep the newest frame back so that it can carry the caption
  /// if the stream ends first.
  bool hold_last() const { return non_live() && !in_flight.empty(); }
};

/// The nick of `value` in enum `type` ("auto", "cpu", "fp32", ...).
std::string enum_nick(GType type, gint value) {
  auto* klass = static_cast<GEnumClass*>(g_type_class_ref(type));
  const GEnumValue* entry = g_enum_get_value(klass, value);
  std::string nick = entry != nullptr ? entry->value_nick : "auto";
  g_type_class_unref(klass);
  return nick;
}

/// The value of `type` whose nick is "auto" (0 when there is none).
gint enum_auto(GType type) {
  auto* klass = static_cast<GEnumClass*>(g_type_class_ref(type));
  const GEnumValue* entry = g_enum_get_value_by_nick(klass, "auto");
  const gint value = entry != nullptr ? entry->value : 0;
  g_type_class_unref(klass);
  return value;
}

/// WARNING for the 1st, 10th, 100th, ... occurrence, DEBUG otherwise: a failing model does not
/// flood the log at frame rate.
bool warn_now(guint64 count) {
  while (count >= 10 && count % 10 == 0) count /= 10;
  return count == 1;
}

void engine_log(ivs::pipeline::EngineLogLevel level, const std::string& message) {
  // The engine may outlive this element (it is shared), so the log names no element.
  switch (level) {
    case ivs::pipeline::EngineLogLevel::kError:
      GST_ERROR("engine: %s", message.c_str());
      break;
    case ivs::pipeline::EngineLogLevel::kWarning:
      GST_WARNING("engine: %s", message.c_str());
      break;
    case ivs::pipeline::EngineLogLevel::kInfo:
      GST_INFO("engine: %s", message.c_str());
      break;
    case ivs::pipeline::EngineLogLevel::kDebug:
      GST_DEBUG("engine: %s", message.c_str());
      break;
  }
}

}  // namespace

struct GstInternVLCaptionPrivate {
  std::mutex lock;
  Settings settings;
  std::unique_ptr<State> state;
  Counters counters;
  // under lock; set in start(), for metrics-port
  std::shared_ptr<ivs::pipeline::MetricsHub> metrics;
  ivs::plugins::CudaFramePolicy cuda;  // CUDA memory in negotiation (pad queries)
};

struct _GstInternVLCaption {
  GstBaseTransform parent;
  GstInternVLCaptionPrivate* priv;
};

static void gst_internvl_caption_finalize(GObject* object);
static void gst_internvl_caption_set_property(GObject* object, guint prop_id, const GValue* value,
                                              GParamSpec* pspec);
static void gst_internvl_caption_get_property(GObject* object, guint prop_id, GValue* value,
                                              GParamSpec* pspec);
static gboolean gst_internvl_caption_start(GstBaseTransform* trans);
static gboolean gst_internvl_caption_set_caps(GstBaseTransform* trans, GstCaps* incaps,
                                              GstCaps* outcaps);
static GstFlowReturn gst_internvl_caption_transform_ip(GstBaseTransform* trans, GstBuffer* buffer);
static GstFlowReturn gst_internvl_caption_generate_output(GstBaseTransform* trans,
                                                          GstBuffer** outbuf);
static gboolean gst_internvl_caption_sink_event(GstBaseTransform* trans, GstEvent* event);
static gboolean gst_internvl_caption_query(GstBaseTransform* trans, GstPadDirection direction,
                                           GstQuery* query);
static gboolean gst_internvl_caption_stop(GstBaseTransform* trans);

#define gst_internvl_caption_parent_class parent_class
G_DEFINE_TYPE(GstInternVLCaption, gst_internvl_caption, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE(internvlcaption, "internvlcaption", GST_RANK_NONE,
                            GST_TYPE_INTERNVL_CAPTION);

static void gst_internvl_caption_class_init(GstInternVLCaptionClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass* trans_class = GST_BASE_TRANSFORM_CLASS(klass);

  gobject_class->finalize = gst_internvl_caption_finalize;
  gobject_class->set_property = gst_internvl_caption_set_property;
  gobject_class->get_property = gst_internvl_caption_get_property;
  trans_class->start = GST_DEBUG_FUNCPTR(gst_internvl_caption_start);
  trans_class->stop = GST_DEBUG_FUNCPTR(gst_internvl_caption_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR(gst_internvl_caption_set_caps);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR(gst_internvl_caption_transform_ip);
  trans_class->generate_output = GST_DEBUG_FUNCPTR(gst_internvl_caption_generate_output);
  trans_class->sink_event = GST_DEBUG_FUNCPTR(gst_internvl_caption_sink_event);
  trans_class->query = GST_DEBUG_FUNCPTR(gst_internvl_caption_query);

  const auto ready = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                              GST_PARAM_MUTABLE_READY);
  const auto counter = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property(
      gobject_class, PROP_MODEL,
      g_param_spec_string(
          "model", "Model directory",
          "InternVL checkpoint directory (config.json, weights, tokenizer.model), e.g. "
          "/models/InternVL-14B-224px; required",
          nullptr, ready));
  g_object_class_install_property(
      gobject_class, PROP_DEVICE,
      g_param_spec_enum(
          "device", "Device", "Where the model runs (auto: CUDA when usable, else CPU)",
          GST_TYPE_INTERNVL_CAPTION_DEVICE, enum_auto(GST_TYPE_INTERNVL_CAPTION_DEVICE), ready));
  g_object_class_install_property(
      gobject_class, PROP_DTYPE,
      g_param_spec_enum(
          "dtype", "Data type", "Weight and compute precision (auto: bf16 on a GPU, fp32 on CPU)",
          GST_TYPE_INTERNVL_CAPTION_DTYPE, enum_auto(GST_TYPE_INTERNVL_CAPTION_DTYPE), ready));
  g_object_class_install_property(
      gobject_class, PROP_PROMPT,
      g_param_spec_string("prompt", "Prompt",
                          "Text the caption continues (InternVL-G was trained with "
                          "\"English caption:\")",
                          kDefaultPrompt, ready));
  g_object_class_install_property(
      gobject_class, PROP_NUM_BEAMS,
      g_param_spec_uint("num-beams", "Beams",
                        "Beam search width (1: greedy); more beams cost more time", 1, kMaxNumBeams,
                        kDefaultNumBeams, ready));
  g_object_class_install_property(
      gobject_class, PROP_MIN_NEW_TOKENS,
      g_param_spec_uint(
          "min-new-tokens", "Minimum new tokens",
          "Fewest tokens a caption has (end of text is suppressed before); at most max-new-tokens",
          0, kMaxNewTokensLimit, kDefaultMinNewTokens, ready));
  g_object_class_install_property(
      gobject_class, PROP_MAX_NEW_TOKENS,
      g_param_spec_uint("max-new-tokens", "Maximum new tokens", "Most tokens a caption has", 1,
                        kMaxNewTokensLimit, kDefaultMaxNewTokens, ready));
  g_object_class_install_property(
      gobject_class, PROP_INTERVAL,
      g_param_spec_uint(
          "interval", "Interval",
          "Frames skipped between two captioned frames (0: every frame); used only when "
          "selection-fps is 0",
          0, G_MAXUINT, kDefaultInterval, ready));
  g_object_class_install_property(
      gobject_class, PROP_SELECTION_FPS,
      g_param_spec_double("selection-fps", "Selection rate",
                          "Frames captioned per second of stream time (0: use interval instead)",
                          0.0, 1000.0, kDefaultSelectionFps, ready));
  g_object_class_install_property(
      gobject_class, PROP_BATCH_SIZE,
      g_param_spec_uint(
          "batch-size", "Batch size",
          "Most caption requests the engine decodes together; new ones join between decode "
          "steps as others finish (applies when this element creates the engine; a shared "
          "engine keeps its own)",
          1, kMaxBatchSize, kDefaultBatchSize, ready));
  g_object_class_install_property(
      gobject_class, PROP_BATCH_TIMEOUT,
      g_param_spec_uint64(
          "batch-timeout", "Batch timeout",
          "Longest wait (ns) for a full batch after the first request arrived (applies when "
          "this element creates the engine)",
          0, G_MAXUINT64, kDefaultBatchTimeout, ready));
  g_object_class_install_property(
      gobject_class, PROP_FRAMES_SAMPLED,
      g_param_spec_uint64("frames-sampled", "Frames sampled",
                          "Frames chosen for a caption since the element started", 0, G_MAXUINT64,
                          0, counter));
  g_object_class_install_property(
      gobject_class, PROP_CAPTIONS_ATTACHED,
      g_param_spec_uint64("captions-attached", "Captions attached",
                          "Captions attached to a frame since the element started", 0, G_MAXUINT64,
                          0, counter));
  g_object_class_install_property(
      gobject_class, PROP_CAPTIONS_DROPPED,
      g_param_spec_uint64(
          "captions-dropped", "Captions dropped",
          "Sampled frames not captioned (a caption was in flight or the engine queue was full) "
          "plus captions still running at a flush or a live EOS",
          0, G_MAXUINT64, 0, counter));
  g_object_class_install_property(
      gobject_class, PROP_CAPTIONS_FAILED,
      g_param_spec_uint64(
          "captions-failed", "Captions failed",
          "Sampled frames whose caption failed (mapping, preprocessing or model error)", 0,
          G_MAXUINT64, 0, counter));
  g_object_class_install_property(
      gobject_class, PROP_METRICS_ADDRESS,
      g_param_spec_string("metrics-address", "Metrics address",
                          "host:port to serve Prometheus /metrics on, e.g. 127.0.0.1:9464; host:0 "
                          "picks a free port",
                          nullptr, ready));
  g_object_class_install_property(
      gobject_class, PROP_STREAM_ID,
      g_param_spec_string(
          "stream-id", "Stream id",
          "Stream name in metric labels (default: the element's name); when set, the application "
          "counts internvl_frames_total",
          nullptr, ready));
  g_object_class_install_property(
      gobject_class, PROP_METRICS_PORT,
      g_param_spec_uint("metrics-port", "Metrics port",
                        "The port /metrics is served on (0 when not serving)", 0, G_MAXUINT16, 0,
                        counter));

  gst_element_class_set_static_metadata(element_class, "InternVL captioning",
                                        "Filter/Analyzer/Video",
                                        "Captions sampled frames with InternVL-G asynchronously "
                                        "and attaches the caption to a later frame",
                                        "InternVL Stream developers");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);

  gst_type_mark_as_plugin_api(GST_TYPE_INTERNVL_CAPTION_DEVICE, static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(GST_TYPE_INTERNVL_CAPTION_DTYPE, static_cast<GstPluginAPIFlags>(0));
  GST_DEBUG_CATEGORY_INIT(gst_internvl_caption_debug, "internvlcaption", 0, "InternVL captioning");
}

static void gst_internvl_caption_init(GstInternVLCaption* self) {
  self->priv = new GstInternVLCaptionPrivate();
  self->priv->settings.device = enum_auto(GST_TYPE_INTERNVL_CAPTION_DEVICE);
  self->priv->cuda.set_device_property(
      enum_nick(GST_TYPE_INTERNVL_CAPTION_DEVICE, self->priv->settings.device));
  self->priv->settings.dtype = enum_auto(GST_TYPE_INTERNVL_CAPTION_DTYPE);
  // Metadata only: frames are never written, but the buffer must be writable for the meta.
  gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
  gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), FALSE);
}

static void gst_internvl_caption_finalize(GObject* object) {
  auto* self = GST_INTERNVL_CAPTION(object);
  delete self->priv;
  self->priv = nullptr;
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void gst_internvl_caption_set_property(GObject* object, guint prop_id, const GValue* value,
                                              GParamSpec* pspec) {
  auto* self = GST_INTERNVL_CAPTION(object);
  std::lock_guard<std::mutex> lock(self->priv->lock);
  Settings& s = self->priv->settings;
  switch (prop_id) {
    case PROP_MODEL: {
      const gchar* model = g_value_get_string(value);
      s.model = model != nullptr ? model : "";
      break;
    }
    case PROP_DEVICE:
      s.device = g_value_get_enum(value);
      self->priv->cuda.set_device_property(enum_nick(GST_TYPE_INTERNVL_CAPTION_DEVICE, s.device));
      break;
    case PROP_DTYPE:
      s.dtype = g_value_get_enum(value);
      break;
    case PROP_PROMPT: {
      const gchar* prompt = g_value_get_string(value);
      s.prompt = prompt != nullptr ? prompt : kDefaultPrompt;
      break;
    }
    case PROP_NUM_BEAMS:
      s.num_beams = g_value_get_uint(value);
      break;
    case PROP_MIN_NEW_TOKENS:
      s.min_new_tokens = g_value_get_uint(value);
      break;
    case PROP_MAX_NEW_TOKENS:
      s.max_new_tokens = g_value_get_uint(value);
      break;
    case PROP_INTERVAL:
      s.interval = g_value_get_uint(value);
      break;
    case PROP_SELECTION_FPS:
      s.selection_fps = g_value_get_double(value);
      break;
    case PROP_BATCH_SIZE:
      s.batch_size = g_value_get_uint(value);
      break;
    case PROP_BATCH_TIMEOUT:
      s.batch_timeout = g_value_get_uint64(value);
      break;
    case PROP_METRICS_ADDRESS: {
      const gchar* address = g_value_get_string(value);
      s.metrics_address = address != nullptr ? address : "";
      break;
    }
    case PROP_STREAM_ID: {
      const gchar* stream_id = g_value_get_string(value);
      s.stream_id = stream_id != nullptr ? stream_id : "";
      break;
    }
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static void gst_internvl_caption_get_property(GObject* object, guint prop_id, GValue* value,
                                              GParamSpec* pspec) {
  auto* self = GST_INTERNVL_CAPTION(object);
  const Counters& c = self->priv->counters;
  std::lock_guard<std::mutex> lock(self->priv->lock);
  const Settings& s = self->priv->settings;
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string(value, s.model.empty() ? nullptr : s.model.c_str());
      break;
    case PROP_DEVICE:
      g_value_set_enum(value, s.device);
      break;
    case PROP_DTYPE:
      g_value_set_enum(value, s.dtype);
      break;
    case PROP_PROMPT:
      g_value_set_string(value, s.prompt.c_str());
      break;
    case PROP_NUM_BEAMS:
      g_value_set_uint(value, s.num_beams);
      break;
    case PROP_MIN_NEW_TOKENS:
      g_value_set_uint(value, s.min_new_tokens);
      break;
    case PROP_MAX_NEW_TOKENS:
      g_value_set_uint(value, s.max_new_tokens);
      break;
    case PROP_INTERVAL:
      g_value_set_uint(value, s.interval);
      break;
    case PROP_SELECTION_FPS:
      g_value_set_double(value, s.selection_fps);
      break;
    case PROP_BATCH_SIZE:
      g_value_set_uint(value, s.batch_size);
      break;
    case PROP_BATCH_TIMEOUT:
      g_value_set_uint64(value, s.batch_timeout);
      break;
    case PROP_FRAMES_SAMPLED:
      g_value_set_uint64(value, c.sampled.load());
      break;
    case PROP_CAPTIONS_ATTACHED:
      g_value_set_uint64(value, c.attached.load());
      break;
    case PROP_CAPTIONS_DROPPED:
      g_value_set_uint64(value, c.dropped.load());
      break;
    case PROP_CAPTIONS_FAILED:
      g_value_set_uint64(value, c.failed.load());
      break;
    case PROP_METRICS_ADDRESS:
      g_value_set_string(value, s.metrics_address.empty() ? nullptr : s.metrics_address.c_str());
      break;
    case PROP_STREAM_ID:
      g_value_set_string(value, s.stream_id.empty() ? nullptr : s.stream_id.c_str());
      break;
    case PROP_METRICS_PORT:
      g_value_set_uint(value, self->priv->metrics ? self->priv->metrics->port() : 0);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

/// Appends the finished caption `result` to `buffer`'s meta. `buffer` must be writable.
static void attach_caption(GstInternVLCaption* self, State& state, GstBuffer* buffer,
                           const InFlight& request, const ivs::pipeline::CaptionResult& result) {
  ivs::pipeline::ResultEntry entry;
  entry.type = ivs::pipeline::ResultType::kCaption;
  entry.element = state.element_name;
  entry.model_name = state.model_name;
  entry.mode = "caption";
  entry.caption = ivs::pipeline::CaptionRecord{result.text, state.caption.prompt,
                                               static_cast<int64_t>(result.token_ids.size()),
                                               result.num_input_tokens};
  entry.segment = request.segment;
  entry.timing = result.timing;
  entry.timing.latency_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - request.sampled_at).count();
  GstInternVLResultMeta* meta = gst_buffer_add_internvl_result_meta(buffer);
  if (meta == nullptr) {
    ++self->priv->counters.dropped;
    state.metrics->metrics().frames_dropped(state.stream, "failed").Increment();
    GST_WARNING_OBJECT(
        self, "could not add the result meta; caption of frame %" G_GUINT64_FORMAT " dropped",
        request.segment.first_frame);
    return;
  }
  const double latency = entry.timing.latency_seconds;
  meta->records->entries.push_back(std::move(entry));
  ++self->priv->counters.attached;
  ivs::sinks::Metrics& metrics = state.metrics->metrics();
  metrics.result_latency(state.stream, "caption").Observe(latency);
  metrics.caption_tokens().Increment(static_cast<double>(result.token_ids.size()));
  GST_DEBUG_OBJECT(self,
                   "caption of frame %" G_GUINT64_FORMAT " (%" GST_TIME_FORMAT
                   ") on %" GST_TIME_FORMAT ": \"%s\"",
                   request.segment.first_frame, GST_TIME_ARGS(request.segment.first_pts),
                   GST_TIME_ARGS(GST_BUFFER_PTS(buffer)), result.text.c_str());
}

static void count_failure(GstInternVLCaption* self, const InFlight& request, const char* what) {
  const guint64 failures = ++self->priv->counters.failed;
  if (State* state = self->priv->state.get()) {
    state->metrics->metrics().frames_dropped(state->stream, "failed").Increment();
  }
  if (warn_now(failures)) {
    GST_WARNING_OBJECT(self,
                       "caption of frame %" G_GUINT64_FORMAT " failed (%" G_GUINT64_FORMAT
                       " failures so far): %s",
                       request.segment.first_frame, failures, what);
  } else {
    GST_DEBUG_OBJECT(self, "caption of frame %" G_GUINT64_FORMAT " failed: %s",
                     request.segment.first_frame, what);
  }
}

/// Takes the finished request at the front of the queue: attaches its caption to `buffer`
/// (when not null) or counts the failure.
static void finish_front(GstInternVLCaption* self, State& state, GstBuffer* buffer) {
  InFlight request = std::move(state.in_flight.front());
  state.in_flight.pop_front();
  try {
    const ivs::pipeline::CaptionResult result = request.future.get();
    if (buffer != nullptr) {
      attach_caption(self, state, buffer, request, result);
    } else {
      ++self->priv->counters.dropped;
      state.metrics->metrics().frames_dropped(state.stream, "late").Increment();
    }
    ivs::plugins::record_queue_depth(*state.metrics, *state.engine);
  } catch (const std::exception& e) {
    count_failure(self, request, e.what());
  }
}

/// Attaches every caption that is ready (without waiting) to `buffer`, oldest first.
static void collect_ready(GstInternVLCaption* self, State& state, GstBuffer* buffer) {
  while (!state.in_flight.empty() && state.in_flight.front().future.wait_for(
                                         std::chrono::seconds(0)) == std::future_status::ready) {
    finish_front(self, state, buffer);
  }
}

/// Drops every caption in flight (flush, live EOS, a caption too slow), counting them.
static void drop_in_flight(GstInternVLCaption* self, State& state, const char* why) {
  if (state.in_flight.empty()) return;
  GST_INFO_OBJECT(self, "%s: %zu caption(s) in flight dropped", why, state.in_flight.size());
  self->priv->counters.dropped += state.in_flight.size();
  state.metrics->metrics()
      .frames_dropped(state.stream, "late")
      .Increment(static_cast<double>(state.in_flight.size()));
  state.in_flight.clear();  // the engine still runs them; nobody reads the results
}

/// Non-live: waits (bounded) for the captions in flight and attaches them to `buffer` (before the
/// next sample goes in, or at EOS); one that does not finish in time is dropped, saying `why`.
static void wait_for_in_flight(GstInternVLCaption* self, State& state, GstBuffer* buffer,
                               const char* why) {
  const auto deadline = std::chrono::steady_clock::now() + kEosWait;
  while (!state.in_flight.empty()) {
    if (state.in_flight.front().future.wait_until(deadline) != std::future_status::ready) {
      GST_WARNING_OBJECT(self, "%s: caption still running after %lld s; dropped", why,
                         static_cast<long long>(kEosWait.count()));
      drop_in_flight(self, state, why);
      return;
    }
    finish_front(self, state, buffer);
  }
}

/// Preprocesses the sampled frame and queues it in the engine, or counts why not.
static void submit_frame(GstInternVLCaption* self, State& state, GstBuffer* buffer,
                         uint64_t frame_number) {
  if (state.in_flight.size() >= kMaxInFlight && state.non_live()) {
    wait_for_in_flight(self, state, buffer, "next sample");
  }
  if (state.in_flight.size() >= kMaxInFlight) {
    ++self->priv->counters.dropped;
    state.metrics->metrics().frames_dropped(state.stream, "engine_full").Increment();
    GST_LOG_OBJECT(self,
                   "frame %" G_GUINT64_FORMAT " sampled while a caption is in flight; skipped",
                   frame_number);
    return;
  }
  InFlight request;
  request.sampled_at = std::chrono::steady_clock::now();
  request.segment.first_pts = GST_BUFFER_PTS(buffer);
  request.segment.last_pts = GST_BUFFER_PTS(buffer);
  request.segment.first_frame = frame_number;
  request.segment.last_frame = frame_number;
  std::optional<std::future<ivs::pipeline::CaptionResult>> future;
  try {
    // NV12 in CUDA memory stays where it is (the engine preprocesses it on the GPU); anything
    // else is preprocessed here, on the streaming thread.
    auto input = ivs::plugins::frame_input(buffer, state.info, state.cuda_memory,
                                           state.engine->cuda_device(), state.preprocessor);
    future = std::visit(
        [&](auto&& in) {
          return state.engine->submit_caption(std::move(in), state.caption,
                                              state.non_live()
                                                  ? ivs::pipeline::Admission::kWait
                                                  : ivs::pipeline::Admission::kDropIfFull);
        },
        std::move(input));
  } catch (const std::exception& e) {
    count_failure(self, request, e.what());
    return;
  }
  ivs::plugins::record_queue_depth(*state.metrics, *state.engine);
  if (!future) {
    ++self->priv->counters.dropped;
    state.metrics->metrics().frames_dropped(state.stream, "engine_full").Increment();
    GST_LOG_OBJECT(self, "engine caption queue full; frame %" G_GUINT64_FORMAT " skipped",
                   frame_number);
    return;
  }
  request.future = std::move(*future);
  state.in_flight.push_back(std::move(request));
  GST_LOG_OBJECT(self, "frame %" G_GUINT64_FORMAT " (%" GST_TIME_FORMAT ") queued for a caption",
                 frame_number, GST_TIME_ARGS(GST_BUFFER_PTS(buffer)));
}

/// Whether upstream is live (a latency query); unknown counts as live, so nothing is held back.
static bool query_upstream_live(GstBaseTransform* trans) {
  GstQuery* query = gst_query_new_latency();
  gboolean live = TRUE;
  if (gst_pad_peer_query(trans->sinkpad, query)) {
    gst_query_parse_latency(query, &live, nullptr, nullptr);
  }
  gst_query_unref(query);
  return live != FALSE;
}

/// Pushes the frames waiting in State::output (before a serialized event or at EOS).
static void push_output(GstInternVLCaption* self, State& state) {
  while (!state.output.empty()) {
    GstBuffer* buffer = state.output.front();
    state.output.pop_front();
    const GstFlowReturn ret = gst_pad_push(GST_BASE_TRANSFORM_SRC_PAD(self), buffer);
    if (ret != GST_FLOW_OK) {
      GST_DEBUG_OBJECT(self, "pushing a held frame returned %s", gst_flow_get_name(ret));
    }
  }
}

/// EOS: in a non-live stream, waits (bounded) for the captions in flight and attaches them to the
/// last frame, which was held back for this; otherwise drops them.
static void finish_at_eos(GstInternVLCaption* self, State& state) {
  if (state.in_flight.empty()) return;
  if (!state.non_live() || state.output.empty()) {
    drop_in_flight(self, state, "end of stream");
    return;
  }
  GstBuffer*& last = state.output.back();
  last = gst_buffer_make_writable(last);
  wait_for_in_flight(self, state, last, "end of stream");
}

static gboolean gst_internvl_caption_start(GstBaseTransform* trans) {
  auto* self = GST_INTERNVL_CAPTION(trans);
  Settings settings;
  {
    std::lock_guard<std::mutex> lock(self->priv->lock);
    settings = self->priv->settings;
  }
  self->priv->counters.reset();
  if (settings.model.empty()) {
    GST_ELEMENT_ERROR(self, RESOURCE, NOT_FOUND, ("No InternVL model set."),
                      ("Set the 'model' property to a checkpoint directory, e.g. "
                       "model=/models/InternVL-14B-224px."));
    return FALSE;
  }
  std::error_code error;
  if (!std::filesystem::is_directory(settings.model, error)) {
    GST_ELEMENT_ERROR(
        self, RESOURCE, NOT_FOUND, ("Model directory '%s' does not exist.", settings.model.c_str()),
        ("Set the 'model' property to an InternVL checkpoint directory (with config.json); '%s' is "
         "not a directory.",
         settings.model.c_str()));
    return FALSE;
  }
  if (settings.min_new_tokens > settings.max_new_tokens) {
    GST_ELEMENT_ERROR(
        self, RESOURCE, SETTINGS,
        ("min-new-tokens (%u) is larger than max-new-tokens (%u).", settings.min_new_tokens,
         settings.max_new_tokens),
        ("Lower min-new-tokens or raise max-new-tokens so that min-new-tokens <= max-new-tokens."));
    return FALSE;
  }
  try {
    ivs::pipeline::EngineKey key;
    key.model_dir = settings.model;
    key.device = enum_nick(GST_TYPE_INTERNVL_CAPTION_DEVICE, settings.device);
    key.dtype = enum_nick(GST_TYPE_INTERNVL_CAPTION_DTYPE, settings.dtype);
    ivs::pipeline::EngineOptions options;
    options.batch_size = settings.batch_size;
    options.batch_timeout = std::chrono::nanoseconds(settings.batch_timeout);
    options.log = engine_log;
    auto metrics = ivs::pipeline::acquire_metrics(
        GST_ELEMENT(self), settings.metrics_address,
        ivs::pipeline::default_build_info(ivs::pipeline::Engine::canonical_key(key).device));
    options.batch_observer = ivs::plugins::metrics_batch_observer(metrics);
    auto engine = ivs::pipeline::acquire_engine(GST_ELEMENT(self), key, options);
    if (engine->vision_only()) {
      GST_ELEMENT_ERROR(
          self, RESOURCE, SETTINGS,
          ("The checkpoint in '%s' is vision-only and cannot caption.", settings.model.c_str()),
          ("Captions need a full InternVL checkpoint with QLLaMA (e.g. InternVL-14B-224px)."));
      return FALSE;
    }
    ivs::pipeline::CaptionSettings caption;
    caption.prompt = settings.prompt;
    caption.num_beams = settings.num_beams;
    caption.min_new_tokens = settings.min_new_tokens;
    caption.max_new_tokens = settings.max_new_tokens;
    ivs::pipeline::FrameSampler::Options sampling;
    sampling.interval = settings.interval;
    sampling.selection_fps = settings.selection_fps;
    gchar* name = gst_object_get_name(GST_OBJECT(self));
    auto state = std::make_unique<State>(std::move(engine), std::move(caption),
                                         name != nullptr ? name : "", sampling);
    g_free(name);
    state->stream = ivs::pipeline::stream_name_of(GST_ELEMENT(self), settings.stream_id);
    state->count_frames = settings.stream_id.empty();
    {
      std::lock_guard<std::mutex> lock(self->priv->lock);
      self->priv->metrics = metrics;
    }
    state->metrics = std::move(metrics);
    self->priv->cuda.set_engine(state->engine.get());
    ivs::plugins::announce_cuda_context(GST_ELEMENT(self), self->priv->cuda.device());
    GST_INFO_OBJECT(self, "captioning with %s (%s/%s), prompt \"%s\", %u beams, %u..%u new tokens",
                    state->model_name.c_str(), key.device.c_str(), key.dtype.c_str(),
                    settings.prompt.c_str(), settings.num_beams, settings.min_new_tokens,
                    settings.max_new_tokens);
    self->priv->state = std::move(state);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ,
                      ("Could not load the InternVL model from '%s'.", settings.model.c_str()),
                      ("%s (check the 'model', 'device' and 'dtype' properties)", e.what()));
    return FALSE;
  }
  return TRUE;
}

static gboolean gst_internvl_caption_set_caps(GstBaseTransform* trans, GstCaps* incaps,
                                              GstCaps* /*outcaps*/) {
  auto* self = GST_INTERNVL_CAPTION(trans);
  State* state = self->priv->state.get();
  if (state == nullptr) return FALSE;
  GstVideoInfo info;
  if (!gst_video_info_from_caps(&info, incaps) ||
      !ivs::pipeline::frame_preprocess_supports(GST_VIDEO_INFO_FORMAT(&info))) {
    GST_WARNING_OBJECT(self, "unsupported caps %" GST_PTR_FORMAT, incaps);
    return FALSE;
  }
  state->info = info;
  state->have_info = true;
  state->cuda_memory = ivs::plugins::nv12_picture_caps(incaps, info);
  state->preprocessor.reset();
  GST_DEBUG_OBJECT(self, "frames %dx%d %s", GST_VIDEO_INFO_WIDTH(&info),
                   GST_VIDEO_INFO_HEIGHT(&info),
                   gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(&info)));
  return TRUE;
}

static GstFlowReturn gst_internvl_caption_transform_ip(GstBaseTransform* trans, GstBuffer* buffer) {
  auto* self = GST_INTERNVL_CAPTION(trans);
  State* state = self->priv->state.get();
  if (state == nullptr) return GST_FLOW_FLUSHING;
  if (!state->have_info) return GST_FLOW_NOT_NEGOTIATED;
  try {
    if (!state->live.has_value()) {
      state->live = query_upstream_live(trans);
      GST_DEBUG_OBJECT(self, "upstream is %s", *state->live ? "live" : "not live");
    }
    if (state->count_frames) state->metrics->metrics().frames(state->stream).Increment();
    collect_ready(self, *state, buffer);
    const uint64_t frame_number = state->sampler.frames_seen();
    const GstClockTime pts = GST_BUFFER_PTS(buffer);
    const std::optional<uint64_t> pts_ns =
        GST_CLOCK_TIME_IS_VALID(pts) ? std::optional<uint64_t>(pts) : std::nullopt;
    if (state->sampler.should_sample(pts_ns)) {
      ++self->priv->counters.sampled;
      state->metrics->metrics().frames_sampled(state->stream, "caption").Increment();
      submit_frame(self, *state, buffer, frame_number);
    }
  } catch (const std::exception& e) {
    // A caption is best effort: a failure costs the caption, never the video.
    const guint64 failures = ++self->priv->counters.failed;
    if (warn_now(failures)) GST_WARNING_OBJECT(self, "captioning failed on a frame: %s", e.what());
  }
  return GST_FLOW_OK;
}

// The default generate_output runs transform_ip on the queued input; the result goes through
// State::output so that, in a non-live stream with a caption in flight, the newest frame can be
// kept back for the EOS (see the section comment). BaseTransform calls this again while it
// returns a buffer, so everything not held is pushed at once, in order.
static GstFlowReturn gst_internvl_caption_generate_output(GstBaseTransform* trans,
                                                          GstBuffer** outbuf) {
  auto* self = GST_INTERNVL_CAPTION(trans);
  GstBuffer* produced = nullptr;
  const GstFlowReturn ret =
      GST_BASE_TRANSFORM_CLASS(parent_class)->generate_output(trans, &produced);
  *outbuf = nullptr;
  State* state = self->priv->state.get();
  if (state == nullptr || ret != GST_FLOW_OK) {
    *outbuf = produced;
    return ret;
  }
  if (produced != nullptr) state->output.push_back(produced);
  const size_t keep = state->hold_last() ? 1 : 0;
  if (state->output.size() > keep) {
    *outbuf = state->output.front();
    state->output.pop_front();
  }
  return GST_FLOW_OK;
}

static gboolean gst_internvl_caption_sink_event(GstBaseTransform* trans, GstEvent* event) {
  auto* self = GST_INTERNVL_CAPTION(trans);
  State* state = self->priv->state.get();
  if (state != nullptr) {
    try {
      switch (GST_EVENT_TYPE(event)) {
        case GST_EVENT_FLUSH_STOP:
          state->drop_output();
          drop_in_flight(self, *state, "flush");
          state->sampler.reset();
          state->live.reset();
          break;
        case GST_EVENT_EOS:
          finish_at_eos(self, *state);
          push_output(self, *state);
          break;
        default:
          // Held frames go out before any serialized event, so the order stays as it came in.
          if (GST_EVENT_IS_SERIALIZED(event)) push_output(self, *state);
          break;
      }
    } catch (const std::exception& e) {
      GST_WARNING_OBJECT(self, "handling %s: %s", GST_EVENT_TYPE_NAME(event), e.what());
    }
  }
  return GST_BASE_TRANSFORM_CLASS(parent_class)->sink_event(trans, event);
}

static gboolean gst_internvl_caption_query(GstBaseTransform* trans, GstPadDirection direction,
                                           GstQuery* query) {
  auto* self = GST_INTERNVL_CAPTION(trans);
  if (GST_QUERY_TYPE(query) == GST_QUERY_CONTEXT &&
      (ivs::pipeline::handle_engine_context_query(GST_ELEMENT(trans), query) ||
       ivs::pipeline::handle_metrics_context_query(GST_ELEMENT(trans), query))) {
    return TRUE;
  }
  if (ivs::plugins::handle_cuda_context_query(GST_ELEMENT(trans), query, self->priv->cuda.device()))
    return TRUE;
  if (GST_QUERY_TYPE(query) == GST_QUERY_ACCEPT_CAPS) {
    GstCaps* caps = nullptr;
    gst_query_parse_accept_caps(query, &caps);
    if (self->priv->cuda.refuses(caps)) {
      GST_WARNING_OBJECT(self,
                         "refusing %" GST_PTR_FORMAT
                         ": NV12 in CUDA memory only with the model on CUDA "
                         "(put cudadownload before internvlcaption, or set device=cuda)",
                         caps);
      gst_query_set_accept_caps_result(query, FALSE);
      return TRUE;
    }
  }
  const gboolean ok = GST_BASE_TRANSFORM_CLASS(parent_class)->query(trans, direction, query);
  if (ok) ivs::plugins::filter_caps_result(query, self->priv->cuda);
  return ok;
}

static gboolean gst_internvl_caption_stop(GstBaseTransform* trans) {
  auto* self = GST_INTERNVL_CAPTION(trans);
  // Captions still running are abandoned (the engine finishes them; nobody reads them).
  self->priv->cuda.set_engine(nullptr);
  self->priv->state.reset();
  std::lock_guard<std::mutex> lock(self->priv->lock);
  self->priv->metrics.reset();
  return TRUE;
}
