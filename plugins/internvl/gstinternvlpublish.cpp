// SPDX-License-Identifier: Apache-2.0
/**
 * SECTION:element-internvlpublish
 * @title: internvlpublish
 *
 * Publishes the InternVL results on each buffer as versioned JSON messages (sinks/README.md) over
 * ZeroMQ (#GstInternVLPublish:endpoint) and/or into a JSON-lines file
 * (#GstInternVLPublish:file-path). Buffers pass through untouched (in place, never written).
 *
 * Each InternVLResultMeta entry selected by #GstInternVLPublish:include becomes one message:
 * classifications and captions as wire format 1.0, the start and end entries of alert events
 * (internvlalert) as kind `event`, format 1.1, on topic `event/<sensor_id>`. With `embedding`
 * in the list (e.g. `include=all,embedding`; GStreamer's own `all+embedding` works too), every
 * sampled frame's image embedding (internvlclassify) also goes out as kind `embedding`, format
 * 1.1, on topic `embedding/<sensor_id>`: about 10 bytes of JSON per dimension (some 8 KB a
 * frame at 768), for a vector store beyond this node (deploy/README.md). The
 * streaming thread only converts the entry and queues it; a worker thread owned by the element
 * does the sending and the file writes, so a slow disk or subscriber never stalls the video. A
 * full queue, a refused send or a failed write drops the message and counts it
 * (#GstInternVLPublish:messages-dropped, a rate-limited WARNING in the debug log, and
 * `internvl_publish_errors_total{sink}` when metrics are on). A ZeroMQ subscriber beyond its
 * `send-hwm` loses its own copies inside ZeroMQ, which does not report them: not counted, and
 * the other subscribers still get theirs. Entries the wire schema cannot
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

#include "pipeline/metrics_context.h"
#include "pipeline/result_conversion.h"
#include "pipeline/result_meta.h"
#include "pipeline/sink_pool.h"
#include "plugins/internvl/publish_settings.h"
#include "sinks/jsonl_writer.h"
#include "sinks/result_fanout.h"
#include "sinks/zmq/zmq_publisher.h"

#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

GST_DEBUG_CATEGORY_STATIC(gst_internvl_publish_debug);
#define GST_CAT_DEFAULT gst_internvl_publish_debug

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

using ivs::plugins::PublishSettings;

// How long EOS waits for the queue to be sent before letting EOS pass anyway.
constexpr std::chrono::seconds kDrainTimeout{5};
// A drop warning is logged for the first drop and then every this many.
constexpr guint64 kWarnEvery = 100;

namespace {

/// Built in start(), dropped in stop(). Members go in reverse order: the fan-out first, as it
/// publishes what is still queued into the sinks and the metrics.
struct State {
  std::shared_ptr<ivs::pipeline::MetricsHub> metrics;  // the pipeline's
  ivs::pipeline::StreamInfo stream;
  GstInternVLPublishInclude include = GST_INTERNVL_PUBLISH_INCLUDE_ALL;
  std::unique_ptr<ivs::sinks::ResultFanout> fanout;
};

}  // namespace

struct GstInternVLPublishPrivate {
  std::mutex lock;
  PublishSettings settings;
  std::string bound_endpoint;  // under lock; set in start()
  // under lock; set in start(), for metrics-port
  std::shared_ptr<ivs::pipeline::MetricsHub> metrics;
  // Outlive the state, so that the counter properties still read after stop().
  ivs::sinks::ResultFanoutCounters counters;
  std::atomic<guint64> skipped{0};
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

  ivs::plugins::publish_install_properties(gobject_class);

  gst_element_class_set_static_metadata(element_class, "InternVL result publisher",
                                        "Filter/Analyzer/Video",
                                        "Publishes InternVL results as JSON over ZeroMQ and/or "
                                        "JSON-lines files; buffers pass through",
                                        "InternVL Stream developers");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);

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

static void gst_internvl_publish_set_property(GObject* object, guint prop_id, const GValue* value,
                                              GParamSpec* pspec) {
  auto* self = GST_INTERNVL_PUBLISH(object);
  std::lock_guard<std::mutex> lock(self->priv->lock);
  if (!ivs::plugins::publish_set_setting(self->priv->settings, prop_id, value)) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void gst_internvl_publish_get_property(GObject* object, guint prop_id, GValue* value,
                                              GParamSpec* pspec) {
  auto* self = GST_INTERNVL_PUBLISH(object);
  GstInternVLPublishPrivate* priv = self->priv;
  std::lock_guard<std::mutex> lock(priv->lock);
  if (ivs::plugins::publish_get_setting(priv->settings, prop_id, value)) return;
  switch (prop_id) {
    case ivs::plugins::PROP_BOUND_ENDPOINT:
      g_value_set_string(value,
                         priv->bound_endpoint.empty() ? nullptr : priv->bound_endpoint.c_str());
      break;
    case ivs::plugins::PROP_MESSAGES_PUBLISHED:
      g_value_set_uint64(value, priv->counters.published.load());
      break;
    case ivs::plugins::PROP_MESSAGES_DROPPED:
      g_value_set_uint64(value, priv->counters.dropped.load());
      break;
    case ivs::plugins::PROP_MESSAGES_SKIPPED:
      g_value_set_uint64(value, priv->skipped.load());
      break;
    case ivs::plugins::PROP_METRICS_PORT:
      g_value_set_uint(value, priv->metrics ? priv->metrics->port() : 0);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

// Opens the sinks named by `settings`, ZeroMQ first, then the file (the order each result goes
// to them); on failure posts the error naming what failed and returns false.
static bool open_sinks(GstInternVLPublish* self, const PublishSettings& settings,
                       std::vector<ivs::sinks::ResultSinkPtr>& sinks, std::string& bound_endpoint) {
  const auto pool = ivs::pipeline::find_sink_pool(GST_ELEMENT(self));
  if (!settings.endpoint.empty()) {
    try {
      ivs::sinks::ZmqPublisherOptions options;
      options.endpoint = settings.endpoint;
      options.topic_prefix = settings.topic_prefix;
      options.send_hwm = settings.send_hwm;
      auto zmq = pool ? pool->zmq(options) : std::make_shared<ivs::sinks::ZmqPublisher>(options);
      bound_endpoint = zmq->endpoint();
      sinks.push_back(std::move(zmq));
    } catch (const std::exception& e) {
      GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE,
                        ("Could not open ZeroMQ endpoint \"%s\".", settings.endpoint.c_str()),
                        ("%s", e.what()));
      return false;
    }
  }
  if (!settings.file_path.empty()) {
    try {
      sinks.push_back(pool ? pool->jsonl(settings.file_path)
                           : std::make_shared<ivs::sinks::JsonLinesWriter>(settings.file_path));
    } catch (const std::exception& e) {
      GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE,
                        ("Could not open file \"%s\" for writing.", settings.file_path.c_str()),
                        ("%s", e.what()));
      return false;
    }
  }
  return true;
}

// The fan-out's drops and sink failures, in this element's debug log.
static ivs::sinks::ResultFanoutOptions fanout_options(GstInternVLPublish* self,
                                                      const State& state) {
  ivs::sinks::ResultFanoutOptions options;
  options.metrics = state.metrics ? &state.metrics->metrics() : nullptr;
  GstElement* owner = GST_ELEMENT(self);  // outlives the fan-out: stop() destroys it
  options.on_drop = [owner, sensor_id = state.stream.sensor_id](const char* reason,
                                                                uint64_t dropped) {
    if (dropped % kWarnEvery == 1) {
      GST_WARNING_OBJECT(owner,
                         "sensor %s: message dropped (%s); %" G_GUINT64_FORMAT " dropped so far",
                         sensor_id.c_str(), reason, static_cast<guint64>(dropped));
    }
  };
  options.on_sink_exception = [owner](const ivs::sinks::ResultSink& sink, const char* what) {
    GST_DEBUG_OBJECT(owner, "%s sink threw: %s", sink.name(), what);
  };
  return options;
}

static gboolean gst_internvl_publish_start(GstBaseTransform* trans) {
  auto* self = GST_INTERNVL_PUBLISH(trans);
  GstInternVLPublishPrivate* priv = self->priv;
  PublishSettings settings;
  {
    std::lock_guard<std::mutex> lock(priv->lock);
    settings = priv->settings;
    priv->bound_endpoint.clear();
  }
  priv->counters.published = 0;
  priv->counters.dropped = 0;
  priv->skipped = 0;
  try {
    auto state = std::make_unique<State>();
    state->stream.sensor_id = ivs::pipeline::stream_name_of(GST_ELEMENT(self), settings.sensor_id);
    state->stream.source = settings.source;
    state->include = settings.include;
    std::vector<ivs::sinks::ResultSinkPtr> sinks;
    std::string bound_endpoint;
    if (!open_sinks(self, settings, sinks, bound_endpoint)) return FALSE;
    try {
      state->metrics = ivs::pipeline::acquire_metrics(GST_ELEMENT(self), settings.metrics_address);
    } catch (const std::exception& e) {
      GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ_WRITE,
                        ("Could not serve metrics on \"%s\".", settings.metrics_address.c_str()),
                        ("%s", e.what()));
      return FALSE;
    }
    if (sinks.empty()) {
      GST_WARNING_OBJECT(self, "neither endpoint nor file-path is set: results are not published");
    }
    const bool to_file = !settings.file_path.empty();
    GST_INFO_OBJECT(self, "publishing sensor %s to %s%s%s", state->stream.sensor_id.c_str(),
                    bound_endpoint.c_str(), !bound_endpoint.empty() && to_file ? " and " : "",
                    to_file ? settings.file_path.c_str() : "");
    state->fanout = std::make_unique<ivs::sinks::ResultFanout>(std::move(sinks), priv->counters,
                                                               fanout_options(self, *state));
    {
      std::lock_guard<std::mutex> lock(priv->lock);
      priv->bound_endpoint = bound_endpoint;
      priv->metrics = state->metrics;
    }
    priv->state = std::move(state);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, LIBRARY, INIT, ("Could not start the publisher."), ("%s", e.what()));
    return FALSE;
  }
  return TRUE;
}

// The sampled frame's embedding as its own message (kind embedding), when the entry has one.
static void publish_embedding(GstInternVLPublish* self, State& state,
                              const ivs::pipeline::ResultEntry& entry,
                              std::chrono::system_clock::time_point now) {
  try {
    if (auto result = ivs::pipeline::to_embedding_result(entry, state.stream, now))
      state.fanout->submit(std::move(*result));
  } catch (const std::exception& e) {
    ++self->priv->counters.dropped;
    GST_WARNING_OBJECT(self, "could not queue an embedding: %s", e.what());
  }
}

static GstFlowReturn gst_internvl_publish_transform_ip(GstBaseTransform* trans, GstBuffer* buffer) {
  auto* self = GST_INTERNVL_PUBLISH(trans);
  State* state = self->priv->state.get();
  if (state == nullptr) return GST_FLOW_FLUSHING;
  GstInternVLResultMeta* meta = gst_buffer_get_internvl_result_meta(buffer);
  if (meta == nullptr || meta->records == nullptr) return GST_FLOW_OK;
  const auto now = std::chrono::system_clock::now();
  const bool embeddings = ivs::plugins::publish_includes_embeddings(state->include);
  for (const auto& entry : meta->records->entries) {
    if (embeddings) publish_embedding(self, *state, entry, now);
    if (!ivs::plugins::publish_includes(state->include, entry.type)) continue;
    try {
      auto result = ivs::pipeline::to_frame_result(entry, state->stream, now);
      if (!result) {
        ++self->priv->skipped;
        GST_DEBUG_OBJECT(self, "entry from %s skipped: %s", entry.element.c_str(),
                         ivs::pipeline::conversion_skip_name(
                             ivs::pipeline::check_convertible(entry, state->stream)));
        continue;
      }
      state->fanout->submit(std::move(*result));
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
    if (!state->fanout->wait_idle(kDrainTimeout)) {
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
