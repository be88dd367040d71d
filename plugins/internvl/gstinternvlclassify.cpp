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
 * results-late). Samples wait for room in the engine unless #GstInternVLClassify:leaky says
 * drop: by default only a live stream drops (an upstream that does not answer the latency
 * query counts as not live). Labels and templates may be changed while PLAYING: the next sampled frame uses
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

#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "pipeline/sampling_query.h"
#include "plugins/internvl/classify_state.h"
#include "plugins/internvl/cuda_memory.h"
#include "plugins/internvl/element_common.h"
#include "plugins/internvl/element_settings.h"
#include "plugins/internvl/inference_element.h"
#include "plugins/internvl/classify_properties.h"

GST_DEBUG_CATEGORY(gst_internvl_classify_debug);  // also classify_state.cpp's
#define GST_CAT_DEFAULT gst_internvl_classify_debug

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(IVS_FRAME_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(IVS_FRAME_CAPS));

using namespace ivs::plugins;  // the property ids

using ivs::pipeline::DropReason;
using ivs::plugins::ClassifyState;
using Settings = ivs::plugins::ClassifySettings;
static ivs::plugins::PropertyTable<Settings> properties;  // the read-write properties

struct GstInternVLClassifyPrivate : ivs::plugins::InferenceElementPrivate<Settings> {
  std::unique_ptr<ClassifyState> state;  // READY->PAUSED .. PAUSED->READY
  std::string rejected_caps;  // under lock: last caps refused by accept-caps, for the error
};

struct _GstInternVLClassify {
  GstElement parent;
  GstPad* sinkpad;
  GstPad* srcpad;
  GstInternVLClassifyPrivate* priv;
};

G_DEFINE_TYPE(GstInternVLClassify, gst_internvl_classify, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE(internvlclassify, "internvlclassify", GST_RANK_NONE,
                            GST_TYPE_INTERNVL_CLASSIFY);

static void gst_internvl_classify_loop(gpointer user_data);

static Settings settings_of(GstInternVLClassify* self) {
  std::lock_guard<std::mutex> guard(self->priv->lock);
  return self->priv->settings;
}

// READY->PAUSED: check the settings, find or create the engine, build the first scorer.
static bool gst_internvl_classify_start(GstInternVLClassify* self) {
  const Settings s = settings_of(self);
  try {
    self->priv->state =
        ClassifyState::start(GST_ELEMENT(self), s, self->priv->counters, self->priv->wait);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("%s", e.what()),
                      ("internvlclassify could not start (model '%s')", s.engine.model.c_str()));
    return false;
  }
  std::lock_guard<std::mutex> guard(self->priv->lock);
  self->priv->metrics = self->priv->state->metrics();
  self->priv->cuda.set_engine(&self->priv->state->engine());
  ivs::plugins::announce_cuda_context(GST_ELEMENT(self), self->priv->cuda.device());
  return true;
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
    self->priv->counters.unbind();
    std::lock_guard<std::mutex> guard(self->priv->lock);
    self->priv->metrics.reset();
  }
  return ret;
}

static gboolean gst_internvl_classify_src_activate_mode(GstPad* pad, GstObject* parent,
                                                        GstPadMode mode, gboolean active) {
  ClassifyState* state = GST_INTERNVL_CLASSIFY(parent)->priv->state.get();
  if (mode != GST_PAD_MODE_PUSH || state == nullptr) return !active || state != nullptr;
  if (active) {
    state->reopen();
    return gst_pad_start_task(pad, gst_internvl_classify_loop, parent, nullptr);
  }
  state->close();
  return gst_pad_stop_task(pad);
}

static GstFlowReturn gst_internvl_classify_chain(GstPad* pad, GstObject* parent,
                                                 GstBuffer* buffer) {
  auto* self = GST_INTERNVL_CLASSIFY(parent);
  ClassifyState* state = self->priv->state.get();
  if (state == nullptr) {
    gst_buffer_unref(buffer);
    return GST_FLOW_FLUSHING;
  }
  if (!state->has_caps()) {
    std::string rejected;
    {
      std::lock_guard<std::mutex> guard(self->priv->lock);
      rejected = self->priv->rejected_caps;
    }
    const bool takes_cuda = self->priv->cuda.takes_cuda_memory();
    const bool cuda = rejected.find(ivs::plugins::kCudaMemoryFeature) != std::string::npos;
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION,
                      ("internvlclassify accepts raw video in system memory in the "
                       "formats " IVS_FRAME_PREPROCESS_FORMATS "%s; got %s",
                       takes_cuda ? ", or NV12 in CUDA memory" : "",
                       rejected.empty() ? "no caps" : rejected.c_str()),
                      ("%s", cuda && !takes_cuda ? "put cudadownload before internvlclassify, or "
                                                   "run the model on CUDA (device=cuda)"
                                                 : "put videoconvert before internvlclassify"));
    gst_buffer_unref(buffer);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  return state->queue_buffer(buffer, pad, settings_of(self));
}

static gboolean gst_internvl_classify_sink_event(GstPad* pad, GstObject* parent, GstEvent* event) {
  auto* self = GST_INTERNVL_CLASSIFY(parent);
  ClassifyState* state = self->priv->state.get();
  if (state == nullptr) return gst_pad_event_default(pad, parent, event);
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_FLUSH_START: {
      state->close();
      const gboolean ok = gst_pad_push_event(self->srcpad, event);
      gst_pad_pause_task(self->srcpad);  // waits for the loop to leave
      return ok;
    }
    case GST_EVENT_FLUSH_STOP: {
      state->reopen();  // the task is paused
      const gboolean ok = gst_pad_push_event(self->srcpad, event);
      gst_pad_start_task(self->srcpad, gst_internvl_classify_loop, self, nullptr);
      return ok;
    }
    case GST_EVENT_CAPS: {
      GstCaps* caps = nullptr;
      gst_event_parse_caps(event, &caps);
      if (!state->set_caps(caps)) {
        gchar* text = gst_caps_to_string(caps);
        GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("internvlclassify cannot read caps %s", text),
                          ("accepted: " IVS_FRAME_CAPS));
        g_free(text);
        gst_event_unref(event);
        return FALSE;
      }
      break;
    }
    default:
      break;
  }
  if (!GST_EVENT_IS_SERIALIZED(event)) return gst_pad_event_default(pad, parent, event);
  return state->queue_event(event);
}

static gboolean gst_internvl_classify_sink_query(GstPad* pad, GstObject* parent, GstQuery* query) {
  auto* self = GST_INTERNVL_CLASSIFY(parent);
  if (ivs::plugins::handle_element_context_query(GST_ELEMENT(self), query, self->priv->cuda))
    return TRUE;
  if (ivs::pipeline::is_sampling_query(query)) {
    std::unique_lock<std::mutex> guard(self->priv->lock);
    const double fps = self->priv->settings.selection_fps;
    guard.unlock();
    return ivs::pipeline::answer_sampling_query(pad, parent, query, fps);
  }
  if (GST_QUERY_TYPE(query) == GST_QUERY_ACCEPT_CAPS) {
    GstCaps* caps = nullptr;
    gst_query_parse_accept_caps(query, &caps);
    GstCaps* templ = gst_pad_get_pad_template_caps(pad);
    gboolean ok = gst_caps_is_subset(caps, templ) && !self->priv->cuda.refuses(caps);
    gst_caps_unref(templ);
    if (ok) ok = gst_pad_peer_query_accept_caps(self->srcpad, caps);
    if (!ok) {
      gchar* text = gst_caps_to_string(caps);
      GST_WARNING_OBJECT(
          self, "refusing caps %s: supported are " IVS_FRAME_CAPS "%s", text,
          self->priv->cuda.refuses(caps) ? " (CUDA memory only with the model on CUDA)" : "");
      std::lock_guard<std::mutex> guard(self->priv->lock);
      self->priv->rejected_caps = text;
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
  if (ivs::plugins::handle_element_context_query(GST_ELEMENT(self), query, self->priv->cuda))
    return TRUE;
  if (GST_QUERY_TYPE(query) == GST_QUERY_LATENCY) {
    if (!gst_pad_peer_query(self->sinkpad, query)) return FALSE;
    gboolean live = FALSE;
    GstClockTime min = 0;
    GstClockTime max = 0;
    gst_query_parse_latency(query, &live, &min, &max);
    const GstClockTime ours = settings_of(self).max_latency_ns;  // a frame may wait this long
    gst_query_set_latency(query, live, min + ours, GST_CLOCK_TIME_IS_VALID(max) ? max + ours : max);
    return TRUE;
  }
  const gboolean ok = gst_pad_query_default(pad, parent, query);
  if (ok) ivs::plugins::filter_caps_result(query, self->priv->cuda);
  return ok;
}

// srcpad task: the head of the queue leaves when its result is attached or its deadline passed.
static void gst_internvl_classify_loop(gpointer user_data) {
  auto* self = GST_INTERNVL_CLASSIFY(user_data);
  ClassifyState* state = self->priv->state.get();
  std::optional<ivs::plugins::GstItem> item = state->next();
  if (!item) {
    gst_pad_pause_task(self->srcpad);
    return;
  }
  if (!item->is_buffer()) {
    gst_pad_push_event(self->srcpad, item->take_event());
    return;
  }
  const GstFlowReturn ret = gst_pad_push(self->srcpad, item->take_buffer());
  if (ret == GST_FLOW_OK) return;
  state->set_flow(ret);
  if (ret == GST_FLOW_NOT_LINKED || ret < GST_FLOW_EOS) GST_ELEMENT_FLOW_ERROR(self, ret);
  GST_DEBUG_OBJECT(self, "pausing: %s", gst_flow_get_name(ret));
  gst_pad_pause_task(self->srcpad);
}

static void gst_internvl_classify_init(GstInternVLClassify* self) {
  self->priv = new GstInternVLClassifyPrivate();
  self->priv->cuda.set_device_property(self->priv->settings.engine.key().device);
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

static void gst_internvl_classify_set_property(GObject* object, guint id, const GValue* value,
                                               GParamSpec* pspec) {
  auto* priv = GST_INTERNVL_CLASSIFY(object)->priv;
  if (!priv->set_property(properties, id, kDeviceProperty, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
}

static void gst_internvl_classify_get_property(GObject* object, guint id, GValue* value,
                                               GParamSpec* pspec) {
  auto* priv = GST_INTERNVL_CLASSIFY(object)->priv;
  if (priv->get_property(properties, id, kInferenceWaitProperty, kMetricsPortProperty, value))
    return;
  const ivs::pipeline::ResultCounters& c = priv->counters;
  switch (id) {
    case kFramesProcessedProperty:
      g_value_set_uint64(value, c.frames());
      break;
    case kFramesSampledProperty:
      g_value_set_uint64(value, c.samples());
      break;
    case kSamplesDroppedProperty:
      g_value_set_uint64(value, c.drops(DropReason::kEngineFull) + c.drops(DropReason::kFailed));
      break;
    case kResultsLateProperty:
      g_value_set_uint64(value, c.drops(DropReason::kLate));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
      break;
  }
}

static void gst_internvl_classify_class_init(GstInternVLClassifyClass* klass) {
  auto* gobject_class = G_OBJECT_CLASS(klass);
  auto* element_class = GST_ELEMENT_CLASS(klass);
  gobject_class->finalize = gst_internvl_classify_finalize;
  gobject_class->set_property = gst_internvl_classify_set_property;
  gobject_class->get_property = gst_internvl_classify_get_property;
  element_class->change_state = GST_DEBUG_FUNCPTR(gst_internvl_classify_change_state);
  ivs::plugins::install_classify_properties(gobject_class, properties);
  gst_element_class_set_static_metadata(
      element_class, "InternVL zero-shot classification", "Filter/Analyzer/Video",
      "Scores sampled frames against a label set with InternVL and "
      "attaches the top labels as InternVLResultMeta",
      "InternVL Stream developers");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  ivs::plugins::mark_enum_types_as_plugin_api();
  GST_DEBUG_CATEGORY_INIT(gst_internvl_classify_debug, "internvlclassify", 0,
                          "InternVL classification");
}
