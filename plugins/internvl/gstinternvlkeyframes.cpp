// SPDX-License-Identifier: Apache-2.0
/**
 * SECTION:element-internvlkeyframes
 * @title: internvlkeyframes
 *
 * Decodes only what is sampled. Put it between the parser and the decoder (any decoder:
 * avdec_h264, nvh264dec, decodebin): when the InternVL elements behind the decoder sample
 * by time (#GstInternVLClassify:selection-fps, #GstInternVLCaption:selection-fps) and the
 * stream's key frames come at least as often as they need samples, it passes only the key
 * frames they sample, so the decoder decodes one frame per sample instead of every frame
 * (at one sample per second of 30 fps video, 30 times less decoding). When key frames come
 * less often than samples are needed (long GOPs, intra-refresh streams without key frames),
 * when a consumer counts frames (#GstInternVLClassify:interval) or takes every frame, or
 * while no consumer has answered, every frame passes. Until the key-frame spacing is
 * measured it assumes key frames come often enough (so that streams starting together do not
 * all decode their first GOPs in full); the decision is taken again at each key frame, from
 * the longest of the last three key-frame spacings, so a stream whose GOP is long, or
 * changes, switches on its own. The frames passed keep their timestamps: a
 * result carries the PTS of the frame it really used.
 *
 * The needed rate is asked of the elements downstream at each key frame (the
 * "internvl-sampling" query, which decoders, queues and converters forward), so
 * |[
 * ... ! h264parse ! internvlkeyframes ! avdec_h264 ! videoconvert ! internvlclassify selection-fps=1 ! ...
 * ]|
 * needs no settings. #GstInternVLKeyframes:mode forces `all` or `keyframes`, and
 * #GstInternVLKeyframes:sample-fps sets the rate instead of asking.
 *
 * While only key frames pass, the segment sent to the decoder carries the key-unit trick-mode
 * flag, as a key-unit seek would: GStreamer's video decoders then hand each key frame on as
 * soon as it is decoded, instead of holding it until later frames come (for reordering or
 * frame threading, which with one frame per second would delay results by seconds).
 * #GstInternVLKeyframes:decoding, #GstInternVLKeyframes:gop,
 * #GstInternVLKeyframes:frames-in and #GstInternVLKeyframes:frames-passed tell what it does;
 * each change of the decoding, and the end of the stream, posts an element message
 * "internvl-keyframes" (fields `decoding`, `gop`, `fps`, `frames-in`, `frames-passed`).
 *
 * Caps: anything (encoded video), passed through unchanged.
 */
#include "plugins/internvl/gstinternvlkeyframes.h"

#include <mutex>
#include <optional>

#include "pipeline/keyframe_filter.h"
#include "pipeline/sampling_query.h"
#include "plugins/internvl/element_common.h"

GST_DEBUG_CATEGORY_STATIC(gst_internvl_keyframes_debug);
#define GST_CAT_DEFAULT gst_internvl_keyframes_debug

namespace {

using ivs::pipeline::DecodeFrames;
using ivs::pipeline::KeyframeFilter;

GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

enum : guint {
  PROP_0,
  PROP_MODE,
  PROP_SAMPLE_FPS,
  PROP_DECODING,
  PROP_GOP,
  PROP_FRAMES_IN,
  PROP_FRAMES_PASSED,
};

constexpr double kMaxSampleFps = 1000.0;  // the InternVL elements' selection-fps limit

}  // namespace

struct GstInternVLKeyframesPrivate {
  std::mutex lock;  // options and status (read by properties from any thread)
  KeyframeFilter::Options options;
  KeyframeFilter::Status status;
  // The streaming thread's:
  KeyframeFilter filter{KeyframeFilter::Options{}};
  std::optional<GstSegment> segment;  // the upstream segment, as received
  bool segment_key_units = false;     // the flag in the last segment pushed
};

struct _GstInternVLKeyframes {
  GstElement parent;
  GstPad* sinkpad;
  GstPad* srcpad;
  GstInternVLKeyframesPrivate* priv;
};

G_DEFINE_TYPE(GstInternVLKeyframes, gst_internvl_keyframes, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE(internvlkeyframes, "internvlkeyframes", GST_RANK_NONE,
                            GST_TYPE_INTERNVL_KEYFRAMES);

// The upstream segment with the key-unit trick-mode flag as the decoding in effect wants it.
static GstEvent* segment_event(const GstSegment& upstream, bool key_units) {
  GstSegment segment = upstream;
  if (key_units) {
    segment.flags =
        static_cast<GstSegmentFlags>(segment.flags | GST_SEGMENT_FLAG_TRICKMODE_KEY_UNITS);
  }
  return gst_event_new_segment(&segment);
}

static ivs::pipeline::SamplingNeed ask_downstream(GstInternVLKeyframes* self) {
  GstQuery* query = ivs::pipeline::new_sampling_query();
  ivs::pipeline::SamplingNeed need;
  if (gst_pad_peer_query(self->srcpad, query)) need = ivs::pipeline::read_sampling_need(query);
  gst_query_unref(query);
  return need;
}

static void announce(GstInternVLKeyframes* self, const KeyframeFilter::Status& status) {
  const std::string& decoding = ivs::pipeline::decode_frames_name(status.decoding);
  const double gop = status.gop_seconds.value_or(0.0);
  GST_INFO_OBJECT(self, "decoding %s (key-frame spacing %.3f s, sampling at %.3f/s)",
                  decoding.c_str(), gop, status.fps);
  GstStructure* fields = gst_structure_new(
      "internvl-keyframes", "decoding", G_TYPE_STRING, decoding.c_str(), "gop", G_TYPE_DOUBLE, gop,
      "fps", G_TYPE_DOUBLE, status.fps, "frames-in", G_TYPE_UINT64, status.frames_in,
      "frames-passed", G_TYPE_UINT64, status.frames_passed, nullptr);
  gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), fields));
}

static GstFlowReturn gst_internvl_keyframes_chain(GstPad* /*pad*/, GstObject* parent,
                                                  GstBuffer* buffer) {
  auto* self = GST_INTERNVL_KEYFRAMES(parent);
  auto& priv = *self->priv;
  // Parsers flag key frames that carry the stream headers (SPS/PPS) as HEADER too: the
  // delta-unit flag alone tells frames the decoder can start from.
  const bool key = !GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT);
  std::optional<uint64_t> pts;
  if (GST_BUFFER_PTS_IS_VALID(buffer)) {
    pts = GST_BUFFER_PTS(buffer);
  } else if (GST_BUFFER_DTS_IS_VALID(buffer)) {
    pts = GST_BUFFER_DTS(buffer);
  }
  ivs::pipeline::SamplingNeed need;
  const DecodeFrames decoding_before = priv.filter.status().decoding;
  if (key) {
    KeyframeFilter::Options options;
    {
      std::lock_guard<std::mutex> guard(priv.lock);
      options = priv.options;
    }
    priv.filter.set_options(options);
    if (options.mode == DecodeFrames::kAuto && options.fps == 0.0) need = ask_downstream(self);
  }
  const KeyframeFilter::Verdict verdict = priv.filter.push(pts, key, need);
  const KeyframeFilter::Status status = priv.filter.status();
  {
    std::lock_guard<std::mutex> guard(priv.lock);
    priv.status = status;
  }
  if (status.decoding != decoding_before) announce(self, status);
  if (verdict == KeyframeFilter::Verdict::kDrop) {
    gst_buffer_unref(buffer);
    return GST_FLOW_OK;
  }
  const bool key_units = status.decoding == DecodeFrames::kKeyframes;
  if (priv.segment.has_value() && key_units != priv.segment_key_units) {
    priv.segment_key_units = key_units;
    gst_pad_push_event(self->srcpad, segment_event(*priv.segment, key_units));
  }
  if (verdict == KeyframeFilter::Verdict::kResume) {
    GST_WARNING_OBJECT(self,
                       "key frames stopped coming: decoding every frame from here (the "
                       "picture may show errors until the stream refreshes)");
    buffer = gst_buffer_make_writable(buffer);
    GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_DISCONT);
  }
  return gst_pad_push(self->srcpad, buffer);
}

static gboolean gst_internvl_keyframes_sink_event(GstPad* pad, GstObject* parent, GstEvent* event) {
  auto* self = GST_INTERNVL_KEYFRAMES(parent);
  auto& priv = *self->priv;
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_SEGMENT: {
      GstSegment segment;
      gst_event_copy_segment(event, &segment);
      priv.segment = segment;
      priv.filter.restart();
      priv.segment_key_units = priv.filter.status().decoding == DecodeFrames::kKeyframes;
      gst_event_unref(event);
      return gst_pad_push_event(self->srcpad, segment_event(segment, priv.segment_key_units));
    }
    case GST_EVENT_FLUSH_STOP:
      priv.filter.restart();
      break;
    case GST_EVENT_EOS:  // the totals, for applications that read the bus
      announce(self, priv.filter.status());
      break;
    default:
      break;
  }
  return gst_pad_event_default(pad, parent, event);
}

static GstStateChangeReturn gst_internvl_keyframes_change_state(GstElement* element,
                                                                GstStateChange transition) {
  auto* self = GST_INTERNVL_KEYFRAMES(element);
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    // A new run starts with nothing measured; the pads are not active yet.
    std::lock_guard<std::mutex> guard(self->priv->lock);
    self->priv->filter = KeyframeFilter(self->priv->options);
    self->priv->status = self->priv->filter.status();
    self->priv->segment.reset();
    self->priv->segment_key_units = false;
  }
  return GST_ELEMENT_CLASS(gst_internvl_keyframes_parent_class)->change_state(element, transition);
}

static void gst_internvl_keyframes_set_property(GObject* object, guint id, const GValue* value,
                                                GParamSpec* pspec) {
  auto& priv = *GST_INTERNVL_KEYFRAMES(object)->priv;
  std::lock_guard<std::mutex> guard(priv.lock);
  switch (id) {
    case PROP_MODE:
      priv.options.mode = static_cast<DecodeFrames>(g_value_get_enum(value));
      break;
    case PROP_SAMPLE_FPS:
      priv.options.fps = g_value_get_double(value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void gst_internvl_keyframes_get_property(GObject* object, guint id, GValue* value,
                                                GParamSpec* pspec) {
  auto& priv = *GST_INTERNVL_KEYFRAMES(object)->priv;
  std::lock_guard<std::mutex> guard(priv.lock);
  switch (id) {
    case PROP_MODE:
      g_value_set_enum(value, static_cast<gint>(priv.options.mode));
      break;
    case PROP_SAMPLE_FPS:
      g_value_set_double(value, priv.options.fps);
      break;
    case PROP_DECODING:
      g_value_set_enum(value, static_cast<gint>(priv.status.decoding));
      break;
    case PROP_GOP:
      g_value_set_double(value, priv.status.gop_seconds.value_or(0.0));
      break;
    case PROP_FRAMES_IN:
      g_value_set_uint64(value, priv.status.frames_in);
      break;
    case PROP_FRAMES_PASSED:
      g_value_set_uint64(value, priv.status.frames_passed);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void gst_internvl_keyframes_finalize(GObject* object) {
  delete GST_INTERNVL_KEYFRAMES(object)->priv;
  G_OBJECT_CLASS(gst_internvl_keyframes_parent_class)->finalize(object);
}

static void gst_internvl_keyframes_init(GstInternVLKeyframes* self) {
  self->priv = new GstInternVLKeyframesPrivate();
  self->sinkpad = gst_pad_new_from_static_template(&sink_template, "sink");
  gst_pad_set_chain_function(self->sinkpad, GST_DEBUG_FUNCPTR(gst_internvl_keyframes_chain));
  gst_pad_set_event_function(self->sinkpad, GST_DEBUG_FUNCPTR(gst_internvl_keyframes_sink_event));
  GST_PAD_SET_PROXY_CAPS(self->sinkpad);
  GST_PAD_SET_PROXY_ALLOCATION(self->sinkpad);
  gst_element_add_pad(GST_ELEMENT(self), self->sinkpad);
  self->srcpad = gst_pad_new_from_static_template(&src_template, "src");
  GST_PAD_SET_PROXY_CAPS(self->srcpad);
  GST_PAD_SET_PROXY_ALLOCATION(self->srcpad);
  gst_element_add_pad(GST_ELEMENT(self), self->srcpad);
}

static void gst_internvl_keyframes_class_init(GstInternVLKeyframesClass* klass) {
  GObjectClass* object_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  object_class->set_property = gst_internvl_keyframes_set_property;
  object_class->get_property = gst_internvl_keyframes_get_property;
  object_class->finalize = gst_internvl_keyframes_finalize;
  element_class->change_state = GST_DEBUG_FUNCPTR(gst_internvl_keyframes_change_state);

  const KeyframeFilter::Options defaults;
  const auto readable = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  const auto writable = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                                 GST_PARAM_MUTABLE_PLAYING);
  const GType mode_type = ivs::plugins::decode_frames_enum_type();
  g_object_class_install_property(
      object_class, PROP_MODE,
      g_param_spec_enum("mode", "Mode",
                        "Which frames reach the decoder: auto (key frames only when they "
                        "come at least as often as the elements downstream sample), all, or "
                        "keyframes. Takes effect at the next key frame",
                        mode_type, static_cast<gint>(defaults.mode), writable));
  g_object_class_install_property(
      object_class, PROP_SAMPLE_FPS,
      g_param_spec_double("sample-fps", "Sample rate",
                          "Samples per second of stream time to serve; 0 asks the InternVL "
                          "elements downstream (their selection-fps)",
                          0.0, kMaxSampleFps, defaults.fps, writable));
  g_object_class_install_property(
      object_class, PROP_DECODING,
      g_param_spec_enum("decoding", "Decoding", "What reaches the decoder now: all or keyframes",
                        mode_type, static_cast<gint>(DecodeFrames::kAll), readable));
  g_object_class_install_property(
      object_class, PROP_GOP,
      g_param_spec_double("gop", "Key-frame spacing",
                          "Longest of the last key-frame spacings measured, in seconds (0 "
                          "until two key frames came)",
                          0.0, G_MAXDOUBLE, 0.0, readable));
  g_object_class_install_property(
      object_class, PROP_FRAMES_IN,
      g_param_spec_uint64("frames-in", "Frames in", "Encoded frames received", 0, G_MAXUINT64, 0,
                          readable));
  g_object_class_install_property(
      object_class, PROP_FRAMES_PASSED,
      g_param_spec_uint64("frames-passed", "Frames passed", "Encoded frames passed to the decoder",
                          0, G_MAXUINT64, 0, readable));

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(
      element_class, "InternVL key-frame selection", "Filter/Video",
      "Passes only the key frames the InternVL elements downstream sample, when the stream's "
      "key frames come often enough, so that the decoder decodes only what is used",
      "InternVL Stream developers");
  GST_DEBUG_CATEGORY_INIT(gst_internvl_keyframes_debug, "internvlkeyframes", 0,
                          "InternVL key-frame selection");
}
