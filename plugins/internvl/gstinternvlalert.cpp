// SPDX-License-Identifier: Apache-2.0
/**
 * SECTION:element-internvlalert
 * @title: internvlalert
 *
 * Open-vocabulary alerts: a text prompt becomes start and end events. Put it after
 * internvlclassify, whose result meta carries each sampled frame's image embedding: the element
 * computes, for every rule, the probability of the prompt against its negatives (a softmax with
 * the model's logit scale, templates as in zero-shot classification: one dot product per rule
 * and label, no second inference) and runs the rule's state machine on it.
 *
 * An event starts once the probability stayed at or above #GstInternVLAlert:on-threshold for
 * #GstInternVLAlert:min-on seconds of stream time, and ends once it stayed at or below
 * #GstInternVLAlert:off-threshold for #GstInternVLAlert:min-off seconds; between the thresholds
 * nothing changes (hysteresis), and #GstInternVLAlert:cooldown keeps a rule from starting again
 * right after an end. One rule comes from the properties; many from #GstInternVLAlert:rules
 * (YAML text) or #GstInternVLAlert:rules-file. Rules may change while PLAYING: the next sample
 * uses them.
 *
 * Each start or end is an entry (kind event) on the frame's InternVLResultMeta, which
 * internvlpublish sends as a wire-format 1.1 `event` message; an element message
 * `internvl-alert` on the bus (id, stream-id, rule, prompt, state, start-time, end-time, time
 * (of the sample that decided it), probability, peak-probability, snapshot, clip); and an event on the pipeline's
 * "internvl.events" channel, where internvlrecord (in the encoded branch of the same stream
 * id) records the clip. #GstInternVLAlert:snapshot-dir gets a JPEG of the frame that started
 * each event. While an event is active, the newest frame is held back (one frame of delay),
 * so that the end of the stream can carry the event's end.
 *
 * Metrics: internvl_events_total, internvl_alert_active and internvl_alert_probability, with
 * labels stream and rule.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=yard.mp4 ! decodebin ! videoconvert ! internvlclassify model=/models/InternVL-14B-224px labels="a yard" selection-fps=2 ! internvlalert model=/models/InternVL-14B-224px prompt="a person climbing a fence" snapshot-dir=snapshots ! fakesink
 * ]|
 */
#include "plugins/internvl/gstinternvlalert.h"

#include <gst/video/video.h>

#include <exception>
#include <memory>
#include <mutex>
#include <vector>

#include "plugins/internvl/alert_properties.h"
#include "plugins/internvl/alert_state.h"
#include "plugins/internvl/element_common.h"
#include "pipeline/engine_context.h"
#include "pipeline/event_context.h"
#include "pipeline/metrics_context.h"

GST_DEBUG_CATEGORY(gst_internvl_alert_debug);  // also alert_state.cpp's
#define GST_CAT_DEFAULT gst_internvl_alert_debug

#define ALERT_CAPS GST_VIDEO_CAPS_MAKE(GST_VIDEO_FORMATS_ALL)

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(ALERT_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(ALERT_CAPS));

using namespace ivs::plugins;  // the property ids
using Settings = AlertElementSettings;
static PropertyTable<Settings> properties;  // the read-write properties

struct GstInternVLAlertPrivate {
  std::mutex lock;
  Settings settings;
  std::unique_ptr<AlertState> state;
};

struct _GstInternVLAlert {
  GstBaseTransform parent;
  GstInternVLAlertPrivate* priv;
};

#define gst_internvl_alert_parent_class parent_class
G_DEFINE_TYPE(GstInternVLAlert, gst_internvl_alert, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE(internvlalert, "internvlalert", GST_RANK_NONE, GST_TYPE_INTERNVL_ALERT);

static Settings settings_of(GstInternVLAlert* self) {
  std::lock_guard<std::mutex> lock(self->priv->lock);
  return self->priv->settings;
}

static gboolean gst_internvl_alert_start(GstBaseTransform* trans) {
  auto* self = GST_INTERNVL_ALERT(trans);
  const Settings s = settings_of(self);
  try {
    self->priv->state = AlertState::start(GST_ELEMENT(self), s);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("%s", e.what()),
                      ("internvlalert could not start (model '%s')", s.engine.model.c_str()));
    return FALSE;
  }
  return TRUE;
}

static gboolean gst_internvl_alert_stop(GstBaseTransform* trans) {
  GST_INTERNVL_ALERT(trans)->priv->state.reset();
  return TRUE;
}

static gboolean gst_internvl_alert_set_caps(GstBaseTransform* trans, GstCaps* incaps,
                                            GstCaps* /*outcaps*/) {
  auto* self = GST_INTERNVL_ALERT(trans);
  return self->priv->state && self->priv->state->set_caps(incaps);
}

static GstFlowReturn gst_internvl_alert_transform_ip(GstBaseTransform* trans, GstBuffer* buffer) {
  auto* self = GST_INTERNVL_ALERT(trans);
  AlertState* state = self->priv->state.get();
  if (state == nullptr) return GST_FLOW_FLUSHING;
  try {
    state->update_rules(settings_of(self));
    state->on_frame(buffer);
  } catch (const std::exception& e) {
    // An alert is best effort: a failure costs this sample, never the video.
    GST_WARNING_OBJECT(self, "alert rules not updated on a frame: %s", e.what());
  }
  return GST_FLOW_OK;
}

static GstFlowReturn gst_internvl_alert_generate_output(GstBaseTransform* trans,
                                                        GstBuffer** outbuf) {
  return ivs::plugins::generate_through_holder(trans, GST_BASE_TRANSFORM_CLASS(parent_class),
                                               GST_INTERNVL_ALERT(trans)->priv->state.get(),
                                               outbuf);
}

static gboolean gst_internvl_alert_sink_event(GstBaseTransform* trans, GstEvent* event) {
  ivs::plugins::holder_sink_event(trans, GST_INTERNVL_ALERT(trans)->priv->state.get(), event);
  return GST_BASE_TRANSFORM_CLASS(parent_class)->sink_event(trans, event);
}

static gboolean gst_internvl_alert_query(GstBaseTransform* trans, GstPadDirection direction,
                                         GstQuery* query) {
  if (GST_QUERY_TYPE(query) == GST_QUERY_CONTEXT &&
      (ivs::pipeline::handle_engine_context_query(GST_ELEMENT(trans), query) ||
       ivs::pipeline::handle_metrics_context_query(GST_ELEMENT(trans), query) ||
       ivs::pipeline::handle_event_context_query(GST_ELEMENT(trans), query))) {
    return TRUE;
  }
  return GST_BASE_TRANSFORM_CLASS(parent_class)->query(trans, direction, query);
}

static void gst_internvl_alert_set_property(GObject* object, guint id, const GValue* value,
                                            GParamSpec* pspec) {
  auto* priv = GST_INTERNVL_ALERT(object)->priv;
  std::lock_guard<std::mutex> lock(priv->lock);
  if (!properties.set(priv->settings, id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
}

static void gst_internvl_alert_get_property(GObject* object, guint id, GValue* value,
                                            GParamSpec* pspec) {
  auto* self = GST_INTERNVL_ALERT(object);
  {
    std::lock_guard<std::mutex> lock(self->priv->lock);
    if (properties.get(self->priv->settings, id, value)) return;
  }
  const AlertState* state = self->priv->state.get();
  switch (id) {
    case kEventsStartedProperty:
      g_value_set_uint64(value, state != nullptr ? state->events_started() : 0);
      break;
    case kSamplesScoredProperty:
      g_value_set_uint64(value, state != nullptr ? state->samples_scored() : 0);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
      break;
  }
}

static void gst_internvl_alert_init(GstInternVLAlert* self) {
  self->priv = new GstInternVLAlertPrivate();
  // Metadata only: frames are never written, but the buffer must be writable for the meta.
  gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
  gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), FALSE);
}

static void gst_internvl_alert_finalize(GObject* object) {
  delete GST_INTERNVL_ALERT(object)->priv;
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void gst_internvl_alert_class_init(GstInternVLAlertClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass* trans_class = GST_BASE_TRANSFORM_CLASS(klass);
  gobject_class->finalize = gst_internvl_alert_finalize;
  gobject_class->set_property = gst_internvl_alert_set_property;
  gobject_class->get_property = gst_internvl_alert_get_property;
  trans_class->start = GST_DEBUG_FUNCPTR(gst_internvl_alert_start);
  trans_class->stop = GST_DEBUG_FUNCPTR(gst_internvl_alert_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR(gst_internvl_alert_set_caps);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR(gst_internvl_alert_transform_ip);
  trans_class->generate_output = GST_DEBUG_FUNCPTR(gst_internvl_alert_generate_output);
  trans_class->sink_event = GST_DEBUG_FUNCPTR(gst_internvl_alert_sink_event);
  trans_class->query = GST_DEBUG_FUNCPTR(gst_internvl_alert_query);
  install_alert_properties(gobject_class, properties);
  gst_element_class_set_static_metadata(
      element_class, "InternVL alerts", "Filter/Analyzer/Video",
      "Turns text-prompt rules into start and end events from the frames' InternVL embeddings",
      "InternVL Stream developers");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  mark_enum_types_as_plugin_api();
  GST_DEBUG_CATEGORY_INIT(gst_internvl_alert_debug, "internvlalert", 0, "InternVL alerts");
}
