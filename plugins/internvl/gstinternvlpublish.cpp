// SPDX-License-Identifier: Apache-2.0
/**
 * SECTION:element-internvlpublish
 * @title: internvlpublish
 *
 * Publishes the InternVL results on each buffer as versioned JSON messages (sinks/README.md) over
 * ZeroMQ (#GstInternVLPublish:endpoint) and/or into a JSON-lines file
 * (#GstInternVLPublish:file-path). Buffers pass through untouched (in place, never written).
 *
 * Each InternVLResultMeta entry selected by #GstInternVLPublish:include becomes one message. The
 * streaming thread only converts the entry and queues it; a worker thread owned by the element
 * does the sending and the file writes, so a slow disk or subscriber never stalls the video. A
 * full queue, a refused send or a failed write drops the message and counts it
 * (#GstInternVLPublish:messages-dropped, a rate-limited WARNING in the debug log, and
 * `internvl_publish_errors_total{sink}` when metrics are on). Entries the wire schema cannot
 * carry (e.g. a classification whose labels were all filtered out) are skipped and counted in
 * #GstInternVLPublish:messages-skipped. On EOS the element waits (bounded) until the queue is
 * sent, so everything accepted is published before EOS travels on.
 *
 * `sensor-id` defaults to the element's name; the service sets it to the stream id, and `source`
 * to the stream's URI (without credentials).
 * Sockets and files are the element's own, unless the application gave the pipeline a
 * GstContext of type "internvl.sinks" (pipeline/sink_pool.h): then every publisher of the
 * process that names the same endpoint or file shares one socket or writer (the service's
 * streams all publish on one endpoint).
 * The element records `internvl_messages_published_total{sink}` and
 * `internvl_publish_errors_total{sink}` (sink `zmq` or `jsonl`) into the pipeline's one
 * Prometheus registry, shared with the other InternVL elements (and the service) through a
 * GstContext of type "internvl.metrics". `metrics-address` serves that registry on /metrics
 * (host:0 picks a port, read back from `metrics-port`); one address per pipeline, the first one
 * wins.
 *
 * Settings are read when the element starts (READY to PAUSED); changes while running apply on
 * the next start. Failing to bind/connect the endpoint, open the file or listen on the metrics
 * address is an error on the bus that names it.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=100 ! internvlpublish endpoint=bind:tcp://127.0.0.1:5555 file-path=/tmp/results.jsonl sensor-id=cam01 ! fakesink
 * ]|
 * (with internvlclassify / internvlcaption upstream, their results are published.)
 *
 * Caps: any; passthrough.
 */
#include "plugins/internvl/gstinternvlpublish.h"

#include "pipeline/result_conversion.h"
#include "pipeline/result_meta.h"
#include "sinks/jsonl_writer.h"
#include "pipeline/metrics_context.h"
#include "pipeline/sink_pool.h"
#include "sinks/zmq/zmq_publisher.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

GST_DEBUG_CATEGORY_STATIC(gst_internvl_publish_debug);
#define GST_CAT_DEFAULT gst_internvl_publish_debug

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

typedef enum {
  GST_INTERNVL_PUBLISH_FILE_FORMAT_JSON_LINES,
} GstInternVLPublishFileFormat;

typedef enum {
  GST_INTERNVL_PUBLISH_INCLUDE_CLASSIFICATION,
  GST_INTERNVL_PUBLISH_INCLUDE_CAPTION,
  GST_INTERNVL_PUBLISH_INCLUDE_ALL,
} GstInternVLPublishInclude;

#define GST_TYPE_INTERNVL_PUBLISH_FILE_FORMAT (gst_internvl_publish_file_format_get_type())
static GType gst_internvl_publish_file_format_get_type(void) {
  static GType type = 0;
  static const GEnumValue values[] = {
      {GST_INTERNVL_PUBLISH_FILE_FORMAT_JSON_LINES, "One JSON message per line", "json-lines"},
      {0, nullptr, nullptr},
  };
  if (g_once_init_enter(&type)) {
    g_once_init_leave(&type, g_enum_register_static("GstInternVLPublishFileFormat", values));
  }
  return type;
}

#define GST_TYPE_INTERNVL_PUBLISH_INCLUDE (gst_internvl_publish_include_get_type())
static GType gst_internvl_publish_include_get_type(void) {
  static GType type = 0;
  static const GEnumValue values[] = {
      {GST_INTERNVL_PUBLISH_INCLUDE_CLASSIFICATION, "Classifications only", "classification"},
      {GST_INTERNVL_PUBLISH_INCLUDE_CAPTION, "Captions only", "caption"},
      {GST_INTERNVL_PUBLISH_INCLUDE_ALL, "Classifications and captions", "all"},
      {0, nullptr, nullptr},
  };
  if (g_once_init_enter(&type)) {
    g_once_init_leave(&type, g_enum_register_static("GstInternVLPublishInclude", values));
  }
  return type;
}

enum {
  PROP_0,
  PROP_ENDPOINT,
  PROP_FILE_PATH,
  PROP_FILE_FORMAT,
  PROP_SENSOR_ID,
  PROP_SOURCE,
  PROP_TOPIC_PREFIX,
  PROP_SEND_HWM,
  PROP_INCLUDE,
  PROP_METRICS_ADDRESS,
  PROP_BOUND_ENDPOINT,
  PROP_MESSAGES_PUBLISHED,
  PROP_MESSAGES_DROPPED,
  PROP_MESSAGES_SKIPPED,
  PROP_METRICS_PORT,
};

constexpr int kDefaultSendHwm = 1000;
constexpr GstInternVLPublishFileFormat kDefaultFileFormat =
    GST_INTERNVL_PUBLISH_FILE_FORMAT_JSON_LINES;
constexpr GstInternVLPublishInclude kDefaultInclude = GST_INTERNVL_PUBLISH_INCLUDE_ALL;
// Messages waiting for the worker; results come a few per second, so this is minutes of backlog.
constexpr size_t kQueueCapacity = 1024;
// How long EOS waits for the queue to be sent before letting EOS pass anyway.
constexpr std::chrono::seconds kDrainTimeout{5};
// A drop warning is logged for the first drop and then every this many.
constexpr guint64 kWarnEvery = 100;

namespace {

struct Settings {
  std::string endpoint;   // empty: no ZeroMQ
  std::string file_path;  // empty: no file
  GstInternVLPublishFileFormat file_format = kDefaultFileFormat;
  std::string sensor_id;  // empty: the element's name
  std::string source;     // the `source` field of every message; may be empty
  std::string topic_prefix;
  int send_hwm = kDefaultSendHwm;
  GstInternVLPublishInclude include = kDefaultInclude;
  std::string metrics_address;  // empty: record into the pipeline's hub without serving it
};

struct Counters {
  std::atomic<guint64> published{0};
  std::atomic<guint64> dropped{0};
  std::atomic<guint64> skipped{0};
};

bool included(GstInternVLPublishInclude include, ivs::pipeline::ResultType type) {
  const bool caption = type == ivs::pipeline::ResultType::kCaption;
  switch (include) {
    case GST_INTERNVL_PUBLISH_INCLUDE_CLASSIFICATION:
      return !caption;
    case GST_INTERNVL_PUBLISH_INCLUDE_CAPTION:
      return caption;
    case GST_INTERNVL_PUBLISH_INCLUDE_ALL:
      break;
  }
  return true;
}

/// The sinks and the worker thread that feeds them. Built in start(), dropped in stop().
class State {
 public:
  State(GstElement* owner, Counters* counters) : owner_(owner), counters_(counters) {}
  ~State() { stop_worker(); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  // Shared with other publishers of the process when the application gave a sink pool.
  std::shared_ptr<ivs::sinks::ZmqPublisher> zmq;
  std::shared_ptr<ivs::sinks::JsonLinesWriter> jsonl;
  std::shared_ptr<ivs::pipeline::MetricsHub> metrics;  // the pipeline's
  ivs::pipeline::StreamInfo stream;
  GstInternVLPublishInclude include = kDefaultInclude;

  void start_worker() {
    worker_ = std::thread([this] { run(); });
  }

  /// Queues a message for the worker; false (and counted) when the queue is full.
  bool enqueue(ivs::sinks::FrameResult&& result) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (queue_.size() >= kQueueCapacity) {
        count_drop("queue full");
        return false;
      }
      queue_.push_back(std::move(result));
    }
    wake_.notify_one();
    return true;
  }

  /// Blocks until everything queued has been handed to the sinks, at most `timeout`.
  bool wait_idle(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return idle_.wait_for(lock, timeout, [this] { return queue_.empty() && !busy_; });
  }

 private:
  void stop_worker() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

  // Sends what is queued; on stop, sends the rest and ends.
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) break;  // stopping and drained
      ivs::sinks::FrameResult result = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      send(result);
      lock.lock();
      busy_ = false;
      if (queue_.empty()) idle_.notify_all();
    }
    idle_.notify_all();
  }

  void send(const ivs::sinks::FrameResult& result) {
    bool ok = true;
    ok &= send_to(zmq.get(), "zmq", result);
    ok &= send_to(jsonl.get(), "jsonl", result);
    if (ok) {
      ++counters_->published;
    } else {
      count_drop("a sink refused it");
    }
  }

  bool send_to(ivs::sinks::ResultSink* sink, const char* name,
               const ivs::sinks::FrameResult& result) {
    if (sink == nullptr) return true;
    bool ok = false;
    try {
      ok = sink->publish(result);
    } catch (const std::exception& e) {
      GST_DEBUG_OBJECT(owner_, "%s sink threw: %s", name, e.what());
    }
    if (metrics) {
      (ok ? metrics->metrics().messages_published(name) : metrics->metrics().publish_errors(name))
          .Increment();
    }
    return ok;
  }

  void count_drop(const char* reason) {
    const guint64 dropped = ++counters_->dropped;
    if (dropped % kWarnEvery == 1) {
      GST_WARNING_OBJECT(owner_,
                         "sensor %s: message dropped (%s); %" G_GUINT64_FORMAT " dropped so far",
                         stream.sensor_id.c_str(), reason, dropped);
    }
  }

  GstElement* owner_;   // not owned; outlives the state
  Counters* counters_;  // not owned; in the element's private struct
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<ivs::sinks::FrameResult> queue_;
  bool stopping_ = false;
  bool busy_ = false;
  std::thread worker_;
};

}  // namespace

struct GstInternVLPublishPrivate {
  std::mutex lock;
  Settings settings;
  std::string bound_endpoint;  // under lock; set in start()
  // under lock; set in start(), for metrics-port
  std::shared_ptr<ivs::pipeline::MetricsHub> metrics;
  Counters counters;
  std::unique_ptr<State> state;
};

struct _GstInternVLPublish {
  GstBaseTransform parent;
  GstInternVLPublishPrivate* priv;
};

static void gst_internvl_publish_finalize(GObject* object);
static void gst_internvl_publish_set_property(GObject* object, guint prop_id, const GValue* value,
                                              GParamSpec* pspec);
static void gst_internvl_publish_get_property(GObject* object, guint prop_id, GValue* value,
                                              GParamSpec* pspec);
static gboolean gst_internvl_publish_start(GstBaseTransform* trans);
static GstFlowReturn gst_internvl_publish_transform_ip(GstBaseTransform* trans, GstBuffer* buffer);
static gboolean gst_internvl_publish_sink_event(GstBaseTransform* trans, GstEvent* event);
static gboolean gst_internvl_publish_stop(GstBaseTransform* trans);
static gboolean gst_internvl_publish_query(GstBaseTransform* trans, GstPadDirection direction,
                                           GstQuery* query);

#define gst_internvl_publish_parent_class parent_class
G_DEFINE_TYPE(GstInternVLPublish, gst_internvl_publish, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE(internvlpublish, "internvlpublish", GST_RANK_NONE,
                            GST_TYPE_INTERNVL_PUBLISH);

static void install_string(GObjectClass* klass, guint id, const char* name, const char* nick,
                           const char* blurb) {
  const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                              GST_PARAM_MUTABLE_READY);
  g_object_class_install_property(klass, id,
                                  g_param_spec_string(name, nick, blurb, nullptr, flags));
}

static void install_counter(GObjectClass* klass, guint id, const char* name, const char* nick,
                            const char* blurb) {
  const auto flags = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property(klass, id,
                                  g_param_spec_uint64(name, nick, blurb, 0, G_MAXUINT64, 0, flags));
}

static void gst_internvl_publish_class_init(GstInternVLPublishClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass* trans_class = GST_BASE_TRANSFORM_CLASS(klass);

  gobject_class->finalize = gst_internvl_publish_finalize;
  gobject_class->set_property = gst_internvl_publish_set_property;
  gobject_class->get_property = gst_internvl_publish_get_property;
  trans_class->start = GST_DEBUG_FUNCPTR(gst_internvl_publish_start);
  trans_class->stop = GST_DEBUG_FUNCPTR(gst_internvl_publish_stop);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR(gst_internvl_publish_transform_ip);
  trans_class->sink_event = GST_DEBUG_FUNCPTR(gst_internvl_publish_sink_event);
  trans_class->query = GST_DEBUG_FUNCPTR(gst_internvl_publish_query);
  trans_class->passthrough_on_same_caps = TRUE;
  trans_class->transform_ip_on_passthrough = TRUE;

  const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                              GST_PARAM_MUTABLE_READY);
  install_string(
      gobject_class, PROP_ENDPOINT, "endpoint", "ZeroMQ endpoint",
      "ZeroMQ PUB endpoint: bind:tcp://127.0.0.1:5555 or connect:tcp://host:5555; without a prefix "
      "an address containing '*' binds, any other connects (NULL: no ZeroMQ)");
  install_string(gobject_class, PROP_FILE_PATH, "file-path", "File path",
                 "Append messages to this file in file-format (NULL: no file)");
  g_object_class_install_property(
      gobject_class, PROP_FILE_FORMAT,
      g_param_spec_enum("file-format", "File format", "Format of file-path",
                        GST_TYPE_INTERNVL_PUBLISH_FILE_FORMAT, kDefaultFileFormat, flags));
  install_string(
      gobject_class, PROP_SENSOR_ID, "sensor-id", "Sensor id",
      "sensor_id of the messages and second part of the topic (NULL: the element's name)");
  install_string(gobject_class, PROP_SOURCE, "source", "Source",
                 "The source field of the messages, e.g. the stream's URI (NULL: no source)");
  install_string(gobject_class, PROP_TOPIC_PREFIX, "topic-prefix", "Topic prefix",
                 "Prepended to the ZeroMQ topic \"<kind>/<sensor_id>\"");
  g_object_class_install_property(
      gobject_class, PROP_SEND_HWM,
      g_param_spec_int("send-hwm", "Send high-water mark",
                       "Messages ZeroMQ queues per subscriber before dropping", 1, G_MAXINT,
                       kDefaultSendHwm, flags));
  g_object_class_install_property(
      gobject_class, PROP_INCLUDE,
      g_param_spec_enum("include", "Include", "Which results to publish",
                        GST_TYPE_INTERNVL_PUBLISH_INCLUDE, kDefaultInclude, flags));
  install_string(
      gobject_class, PROP_METRICS_ADDRESS, "metrics-address", "Metrics address",
      "host:port to serve Prometheus /metrics on, e.g. 127.0.0.1:9464; host:0 picks a free port");
  g_object_class_install_property(
      gobject_class, PROP_METRICS_PORT,
      g_param_spec_uint("metrics-port", "Metrics port",
                        "The port /metrics is served on (0 when not serving)", 0, G_MAXUINT16, 0,
                        static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property(
      gobject_class, PROP_BOUND_ENDPOINT,
      g_param_spec_string(
          "bound-endpoint", "Bound endpoint",
          "The ZeroMQ address actually bound or connected (port filled in), once started", nullptr,
          static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
  install_counter(gobject_class, PROP_MESSAGES_PUBLISHED, "messages-published",
                  "Messages published",
                  "Messages accepted by every sink since the element started");
  install_counter(
      gobject_class, PROP_MESSAGES_DROPPED, "messages-dropped", "Messages dropped",
      "Messages lost to a full queue, a refused send or a failed write since the element started");
  install_counter(gobject_class, PROP_MESSAGES_SKIPPED, "messages-skipped", "Messages skipped",
                  "Results the wire schema cannot carry (e.g. no label above threshold) since the "
                  "element started");

  gst_element_class_set_static_metadata(element_class, "InternVL result publisher",
                                        "Filter/Analyzer/Video",
                                        "Publishes InternVL results as JSON over ZeroMQ and/or "
                                        "JSON-lines files; buffers pass through",
                                        "InternVL Stream developers");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);

  gst_type_mark_as_plugin_api(GST_TYPE_INTERNVL_PUBLISH_FILE_FORMAT,
                              static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(GST_TYPE_INTERNVL_PUBLISH_INCLUDE, static_cast<GstPluginAPIFlags>(0));
  GST_DEBUG_CATEGORY_INIT(gst_internvl_publish_debug, "internvlpublish", 0,
                          "InternVL result publisher");
}

static void gst_internvl_publish_init(GstInternVLPublish* self) {
  self->priv = new GstInternVLPublishPrivate();
  gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), TRUE);
  gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
}

static void gst_internvl_publish_finalize(GObject* object) {
  auto* self = GST_INTERNVL_PUBLISH(object);
  delete self->priv;
  self->priv = nullptr;
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

static std::string string_or_empty(const GValue* value) {
  const gchar* text = g_value_get_string(value);
  return text != nullptr ? text : "";
}

static void gst_internvl_publish_set_property(GObject* object, guint prop_id, const GValue* value,
                                              GParamSpec* pspec) {
  auto* self = GST_INTERNVL_PUBLISH(object);
  std::lock_guard<std::mutex> lock(self->priv->lock);
  Settings& s = self->priv->settings;
  switch (prop_id) {
    case PROP_ENDPOINT:
      s.endpoint = string_or_empty(value);
      break;
    case PROP_FILE_PATH:
      s.file_path = string_or_empty(value);
      break;
    case PROP_FILE_FORMAT:
      s.file_format = static_cast<GstInternVLPublishFileFormat>(g_value_get_enum(value));
      break;
    case PROP_SENSOR_ID:
      s.sensor_id = string_or_empty(value);
      break;
    case PROP_SOURCE:
      s.source = string_or_empty(value);
      break;
    case PROP_TOPIC_PREFIX:
      s.topic_prefix = string_or_empty(value);
      break;
    case PROP_SEND_HWM:
      s.send_hwm = g_value_get_int(value);
      break;
    case PROP_INCLUDE:
      s.include = static_cast<GstInternVLPublishInclude>(g_value_get_enum(value));
      break;
    case PROP_METRICS_ADDRESS:
      s.metrics_address = string_or_empty(value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static void set_string_or_null(GValue* value, const std::string& text) {
  g_value_set_string(value, text.empty() ? nullptr : text.c_str());
}

static void gst_internvl_publish_get_property(GObject* object, guint prop_id, GValue* value,
                                              GParamSpec* pspec) {
  auto* self = GST_INTERNVL_PUBLISH(object);
  GstInternVLPublishPrivate* priv = self->priv;
  std::lock_guard<std::mutex> lock(priv->lock);
  const Settings& s = priv->settings;
  switch (prop_id) {
    case PROP_ENDPOINT:
      set_string_or_null(value, s.endpoint);
      break;
    case PROP_FILE_PATH:
      set_string_or_null(value, s.file_path);
      break;
    case PROP_FILE_FORMAT:
      g_value_set_enum(value, s.file_format);
      break;
    case PROP_SENSOR_ID:
      set_string_or_null(value, s.sensor_id);
      break;
    case PROP_SOURCE:
      set_string_or_null(value, s.source);
      break;
    case PROP_TOPIC_PREFIX:
      set_string_or_null(value, s.topic_prefix);
      break;
    case PROP_SEND_HWM:
      g_value_set_int(value, s.send_hwm);
      break;
    case PROP_INCLUDE:
      g_value_set_enum(value, s.include);
      break;
    case PROP_METRICS_ADDRESS:
      set_string_or_null(value, s.metrics_address);
      break;
    case PROP_BOUND_ENDPOINT:
      set_string_or_null(value, priv->bound_endpoint);
      break;
    case PROP_MESSAGES_PUBLISHED:
      g_value_set_uint64(value, priv->counters.published.load());
      break;
    case PROP_MESSAGES_DROPPED:
      g_value_set_uint64(value, priv->counters.dropped.load());
      break;
    case PROP_MESSAGES_SKIPPED:
      g_value_set_uint64(value, priv->counters.skipped.load());
      break;
    case PROP_METRICS_PORT:
      g_value_set_uint(value, priv->metrics ? priv->metrics->port() : 0);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

// Opens the sinks named by `settings`; on failure posts the error naming what failed.
static bool open_sinks(GstInternVLPublish* self, const Settings& settings, State& state) {
  const auto pool = ivs::pipeline::find_sink_pool(GST_ELEMENT(self));
  if (!settings.endpoint.empty()) {
    try {
      ivs::sinks::ZmqPublisherOptions options;
      options.endpoint = settings.endpoint;
      options.topic_prefix = settings.topic_prefix;
      options.send_hwm = settings.send_hwm;
      state.zmq = pool ? pool->zmq(options) : std::make_shared<ivs::sinks::ZmqPublisher>(options);
    } catch (const std::exception& e) {
      GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE,
                        ("Could not open ZeroMQ endpoint \"%s\".", settings.endpoint.c_str()),
                        ("%s", e.what()));
      return false;
    }
  }
  if (!settings.file_path.empty()) {
    try {
      state.jsonl = pool ? pool->jsonl(settings.file_path)
                         : std::make_shared<ivs::sinks::JsonLinesWriter>(settings.file_path);
    } catch (const std::exception& e) {
      GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE,
                        ("Could not open file \"%s\" for writing.", settings.file_path.c_str()),
                        ("%s", e.what()));
      return false;
    }
  }
  try {
    state.metrics = ivs::pipeline::acquire_metrics(GST_ELEMENT(self), settings.metrics_address);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ_WRITE,
                      ("Could not serve metrics on \"%s\".", settings.metrics_address.c_str()),
                      ("%s", e.what()));
    return false;
  }
  return true;
}

static gboolean gst_internvl_publish_start(GstBaseTransform* trans) {
  auto* self = GST_INTERNVL_PUBLISH(trans);
  GstInternVLPublishPrivate* priv = self->priv;
  Settings settings;
  {
    std::lock_guard<std::mutex> lock(priv->lock);
    settings = priv->settings;
    priv->bound_endpoint.clear();
  }
  priv->counters.published = 0;
  priv->counters.dropped = 0;
  priv->counters.skipped = 0;
  try {
    auto state = std::make_unique<State>(GST_ELEMENT(self), &priv->counters);
    state->stream.sensor_id = ivs::pipeline::stream_name_of(GST_ELEMENT(self), settings.sensor_id);
    state->stream.source = settings.source;
    state->include = settings.include;
    if (!open_sinks(self, settings, *state)) return FALSE;
    if (!state->zmq && !state->jsonl) {
      GST_WARNING_OBJECT(self, "neither endpoint nor file-path is set: results are not published");
    }
    {
      std::lock_guard<std::mutex> lock(priv->lock);
      if (state->zmq) priv->bound_endpoint = state->zmq->endpoint();
    }
    GST_INFO_OBJECT(self, "publishing sensor %s to %s%s%s", state->stream.sensor_id.c_str(),
                    state->zmq ? state->zmq->endpoint().c_str() : "",
                    state->zmq && state->jsonl ? " and " : "",
                    state->jsonl ? settings.file_path.c_str() : "");
    state->start_worker();
    {
      std::lock_guard<std::mutex> lock(priv->lock);
      priv->metrics = state->metrics;
    }
    priv->state = std::move(state);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, LIBRARY, INIT, ("Could not start the publisher."), ("%s", e.what()));
    return FALSE;
  }
  return TRUE;
}

static GstFlowReturn gst_internvl_publish_transform_ip(GstBaseTransform* trans, GstBuffer* buffer) {
  auto* self = GST_INTERNVL_PUBLISH(trans);
  State* state = self->priv->state.get();
  if (state == nullptr) return GST_FLOW_FLUSHING;
  GstInternVLResultMeta* meta = gst_buffer_get_internvl_result_meta(buffer);
  if (meta == nullptr || meta->records == nullptr) return GST_FLOW_OK;
  const auto now = std::chrono::system_clock::now();
  for (const auto& entry : meta->records->entries) {
    if (!included(state->include, entry.type)) continue;
    try {
      auto result = ivs::pipeline::to_frame_result(entry, state->stream, now);
      if (!result) {
        ++self->priv->counters.skipped;
        GST_DEBUG_OBJECT(self, "entry from %s skipped: %s", entry.element.c_str(),
                         ivs::pipeline::conversion_skip_name(
                             ivs::pipeline::check_convertible(entry, state->stream)));
        continue;
      }
      state->enqueue(std::move(*result));
    } catch (const std::exception& e) {
      // Publishing is best effort: a failure costs the message, never the video.
      ++self->priv->counters.dropped;
      GST_WARNING_OBJECT(self, "could not queue a result: %s", e.what());
    }
  }
  return GST_FLOW_OK;
}

static gboolean gst_internvl_publish_sink_event(GstBaseTransform* trans, GstEvent* event) {
  auto* self = GST_INTERNVL_PUBLISH(trans);
  State* state = self->priv->state.get();
  if (GST_EVENT_TYPE(event) == GST_EVENT_EOS && state != nullptr) {
    if (!state->wait_idle(kDrainTimeout)) {
      GST_WARNING_OBJECT(self, "EOS: messages still queued after %lld s; passing EOS on",
                         static_cast<long long>(kDrainTimeout.count()));
    }
  }
  return GST_BASE_TRANSFORM_CLASS(parent_class)->sink_event(trans, event);
}

static gboolean gst_internvl_publish_stop(GstBaseTransform* trans) {
  auto* self = GST_INTERNVL_PUBLISH(trans);
  // Sends what is still queued, joins the worker, then closes the sinks.
  self->priv->state.reset();
  std::lock_guard<std::mutex> lock(self->priv->lock);
  self->priv->metrics.reset();
  return TRUE;
}

static gboolean gst_internvl_publish_query(GstBaseTransform* trans, GstPadDirection direction,
                                           GstQuery* query) {
  if (ivs::pipeline::handle_metrics_context_query(GST_ELEMENT(trans), query)) return TRUE;
  return GST_BASE_TRANSFORM_CLASS(parent_class)->query(trans, direction, query);
}
