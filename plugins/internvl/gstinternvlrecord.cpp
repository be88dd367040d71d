// SPDX-License-Identifier: Apache-2.0
/**
 * SECTION:element-internvlrecord
 * @title: internvlrecord
 *
 * Records an MP4 clip around every alert event of its stream, without re-encoding. It takes the
 * parsed, encoded stream (H.264 or H.265, alignment=au) from a `tee` before the decoder and
 * keeps a pre-roll of it: the last #GstInternVLRecord:pre-roll seconds, always starting at a
 * keyframe (whole GOPs are dropped from the front, so it holds at most one GOP more), capped at
 * #GstInternVLRecord:max-pre-roll-bytes.
 *
 * Events come from internvlalert (or the application) over the pipeline's "internvl.events"
 * channel (a GstContext), for the stream #GstInternVLRecord:stream-id. A start opens a clip that
 * begins #GstInternVLRecord:pre-roll seconds before the event's start (rounded back to a
 * keyframe) and takes every buffer until #GstInternVLRecord:post-roll seconds after its end, or
 * until the clip spans #GstInternVLRecord:max-duration seconds, whichever comes first.
 * Overlapping events each get their own clip, so every event id names one self-contained file:
 * #GstInternVLRecord:location with "%s" replaced by the event id. Timestamps in the file start
 * at 0. Each clip is written by `appsrc ! h264parse|h265parse ! mp4mux ! filesink` running on
 * its own thread, so the stream never waits for the disk.
 *
 * When a file is complete the element posts an element message `internvl-recording` with
 * `path` (string), `event-id`, `stream-id` (strings), `duration` (guint64, ns) and `bytes`
 * (guint64). With #GstInternVLRecord:max-disk-bytes set, the oldest clips this element wrote
 * since it started are deleted once the completed ones exceed it (the newest is always kept).
 * EOS, a flush and stopping the element complete every open clip, so files stay playable. At
 * EOS the element first waits (at most a minute) for the internvlalert of its stream to reach
 * its own end of stream: the encoded branch gets there first, before the last events are
 * decided.
 *
 * Events are decided late: after min-on or min-off, after the inference, and with a file read
 * faster than real time the encoded branch also runs ahead of the decoded one. The stream
 * therefore waits #GstInternVLRecord:max-lag seconds (10) in the element before the clips see it,
 * so an event decided up to that late still gets its whole pre-roll and stops at its post-roll;
 * and the element never runs more than max-lag ahead of what the internvlalert of its stream has
 * decided (it waits, which slows its branch, and the tee, to the analysis).
 *
 * It is a sink, like filesink and splitmuxsink: the branch it ends carries encoded video that
 * nothing downstream needs.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -e filesrc location=in.mp4 ! qtdemux ! h264parse ! tee name=t  t. ! queue ! internvlrecord location=clips/%s.mp4 stream-id=cam1  t. ! queue ! avdec_h264 ! videoconvert ! internvlclassify model=/models/InternVL-14B-224px ! internvlalert model=/models/InternVL-14B-224px prompt="a person climbing a fence" stream-id=cam1 ! internvlpublish file-path=events.jsonl ! fakesink
 * ]|
 *
 * Caps: video/x-h264 or video/x-h265, parsed (stream-format avc/byte-stream or
 * hvc1/hev1/byte-stream), alignment=au.
 */
#include "plugins/internvl/gstinternvlrecord.h"

#include "pipeline/event_context.h"
#include "plugins/internvl/clip_writer.h"
#include "plugins/internvl/property_table.h"
#include "plugins/internvl/record_state.h"

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>

GST_DEBUG_CATEGORY(gst_internvl_record_debug);  // also record_state.cpp's
#define GST_CAT_DEFAULT gst_internvl_record_debug

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS("video/x-h264, stream-format = (string) { avc, avc3, byte-stream }, "
                    "alignment = (string) au; "
                    "video/x-h265, stream-format = (string) { hvc1, hev1, byte-stream }, "
                    "alignment = (string) au"));

enum : guint {
  PROP_0,
  PROP_LOCATION,
  PROP_PRE_ROLL,
  PROP_POST_ROLL,
  PROP_MAX_DURATION,
  PROP_STREAM_ID,
  PROP_MAX_DISK_BYTES,
  PROP_MAX_PRE_ROLL_BYTES,
  PROP_MAX_LAG,
  PROP_RECORDINGS_STARTED,
  PROP_RECORDINGS_FINISHED,
  PROP_RECORDINGS_FAILED,
  PROP_FILES_DELETED,
  PROP_BUFFERS_DROPPED,
};

constexpr double kMaxSeconds = 24 * 3600.0;

using ivs::plugins::RecordCounters;

// The read-only counters, each read from one member of RecordCounters.
struct CounterProperty {
  guint id;
  const char* name;
  const char* nick;
  const char* blurb;
  std::atomic<uint64_t> RecordCounters::*member;
};
const CounterProperty kCounters[] = {
    {PROP_RECORDINGS_STARTED, "recordings-started", "Recordings started",
     "Clips opened since the element started", &RecordCounters::started},
    {PROP_RECORDINGS_FINISHED, "recordings-finished", "Recordings finished",
     "Clip files completed (an internvl-recording message each)", &RecordCounters::finished},
    {PROP_RECORDINGS_FAILED, "recordings-failed", "Recordings failed",
     "Clips that could not be opened or completed (a warning on the bus each)",
     &RecordCounters::failed},
    {PROP_FILES_DELETED, "files-deleted", "Files deleted",
     "Older clips deleted to stay within max-disk-bytes", &RecordCounters::deleted},
    {PROP_BUFFERS_DROPPED, "buffers-dropped", "Buffers dropped",
     "Delta units before the first keyframe, which no clip can start with",
     &RecordCounters::dropped},
};
using ivs::plugins::RecordSettings;
using ivs::plugins::RecordState;

struct GstInternVLRecordPrivate {
  std::mutex lock;
  RecordSettings settings;
  RecordCounters counters;
  std::unique_ptr<RecordState> state;  // the streaming thread's, between start() and stop()
};

struct _GstInternVLRecord {
  GstBaseSink parent;
  GstInternVLRecordPrivate* priv;
};

static void gst_internvl_record_finalize(GObject* object);
static void gst_internvl_record_set_property(GObject* object, guint prop_id, const GValue* value,
                                             GParamSpec* pspec);
static void gst_internvl_record_get_property(GObject* object, guint prop_id, GValue* value,
                                             GParamSpec* pspec);
static gboolean gst_internvl_record_start(GstBaseSink* sink);
static gboolean gst_internvl_record_set_caps(GstBaseSink* sink, GstCaps* caps);
static GstFlowReturn gst_internvl_record_render(GstBaseSink* sink, GstBuffer* buffer);
static gboolean gst_internvl_record_event(GstBaseSink* sink, GstEvent* event);
static gboolean gst_internvl_record_unlock(GstBaseSink* sink);
static gboolean gst_internvl_record_unlock_stop(GstBaseSink* sink);
static gboolean gst_internvl_record_query(GstBaseSink* sink, GstQuery* query);
static gboolean gst_internvl_record_stop(GstBaseSink* sink);

#define gst_internvl_record_parent_class parent_class
G_DEFINE_TYPE(GstInternVLRecord, gst_internvl_record, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE(internvlrecord, "internvlrecord", GST_RANK_NONE,
                            GST_TYPE_INTERNVL_RECORD);

static ivs::plugins::PropertyTable<RecordSettings>& properties() {
  static auto* table =
      new ivs::plugins::PropertyTable<RecordSettings>();  // class data, never freed
  return *table;
}

static void install_properties(GObjectClass* k) {
  using Settings = RecordSettings;
  const Settings d;
  const auto rw = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                           GST_PARAM_MUTABLE_READY);
  auto& p = properties();
  p.bind(
      k, PROP_LOCATION,
      g_param_spec_string("location", "Location",
                          "Path of each clip; \"%s\" (required, once) becomes the event id. "
                          "A missing directory is created",
                          d.location.c_str(), rw),
      [](Settings & s) -> auto& { return s.location; });
  p.bind(
      k, PROP_PRE_ROLL,
      g_param_spec_double("pre-roll", "Pre-roll",
                          "Seconds recorded before an event's start (rounded back to a "
                          "keyframe); also how much encoded video is kept",
                          0.0, kMaxSeconds, d.limits.pre_roll_seconds, rw),
      [](Settings & s) -> auto& { return s.limits.pre_roll_seconds; });
  p.bind(
      k, PROP_POST_ROLL,
      g_param_spec_double("post-roll", "Post-roll", "Seconds recorded after an event's end", 0.0,
                          kMaxSeconds, d.limits.post_roll_seconds, rw),
      [](Settings & s) -> auto& { return s.limits.post_roll_seconds; });
  p.bind(
      k, PROP_MAX_DURATION,
      g_param_spec_double("max-duration", "Maximum duration",
                          "Seconds of one clip at most, pre-roll included (an event that does "
                          "not end is cut here)",
                          0.001, kMaxSeconds, d.limits.max_duration_seconds, rw),
      [](Settings & s) -> auto& { return s.limits.max_duration_seconds; });
  p.bind(
      k, PROP_STREAM_ID,
      g_param_spec_string("stream-id", "Stream id",
                          "Record the events of this stream (internvlalert's stream-id); "
                          "NULL: the element's name",
                          nullptr, rw),
      [](Settings & s) -> auto& { return s.stream_id; });
  p.bind(
      k, PROP_MAX_DISK_BYTES,
      g_param_spec_uint64("max-disk-bytes", "Maximum disk bytes",
                          "Delete the oldest clips this element wrote since it started when "
                          "the completed ones exceed this (the newest is kept); 0: no cap",
                          0, G_MAXUINT64, d.max_disk_bytes, rw),
      [](Settings & s) -> auto& { return s.max_disk_bytes; });
  p.bind(
      k, PROP_MAX_PRE_ROLL_BYTES,
      g_param_spec_uint64("max-pre-roll-bytes", "Maximum pre-roll bytes",
                          "Cap of the pre-roll kept in memory (whole GOPs are dropped from "
                          "its front; the newest GOP is always kept)",
                          0, G_MAXUINT64, d.limits.max_pre_roll_bytes, rw),
      [](Settings & s) -> auto& { return s.limits.max_pre_roll_bytes; });
  p.bind(
      k, PROP_MAX_LAG,
      g_param_spec_double("max-lag", "Maximum lag",
                          "Seconds of stream time an event may be decided late (min-on, "
                          "min-off, inference, a file read ahead of the analysis) and still "
                          "land on time: the stream waits this long before it is recorded "
                          "(bounded by max-pre-roll-bytes too)",
                          0.0, kMaxSeconds, d.limits.max_lag_seconds, rw),
      [](Settings & s) -> auto& { return s.limits.max_lag_seconds; });

  const auto ro = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  for (const auto& c : kCounters) {
    g_object_class_install_property(
        k, c.id, g_param_spec_uint64(c.name, c.nick, c.blurb, 0, G_MAXUINT64, 0, ro));
  }
}

static void gst_internvl_record_class_init(GstInternVLRecordClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstBaseSinkClass* sink_class = GST_BASE_SINK_CLASS(klass);

  gobject_class->finalize = gst_internvl_record_finalize;
  gobject_class->set_property = gst_internvl_record_set_property;
  gobject_class->get_property = gst_internvl_record_get_property;
  sink_class->start = GST_DEBUG_FUNCPTR(gst_internvl_record_start);
  sink_class->set_caps = GST_DEBUG_FUNCPTR(gst_internvl_record_set_caps);
  sink_class->render = GST_DEBUG_FUNCPTR(gst_internvl_record_render);
  sink_class->event = GST_DEBUG_FUNCPTR(gst_internvl_record_event);
  sink_class->unlock = GST_DEBUG_FUNCPTR(gst_internvl_record_unlock);
  sink_class->unlock_stop = GST_DEBUG_FUNCPTR(gst_internvl_record_unlock_stop);
  sink_class->query = GST_DEBUG_FUNCPTR(gst_internvl_record_query);
  sink_class->stop = GST_DEBUG_FUNCPTR(gst_internvl_record_stop);
  install_properties(gobject_class);

  gst_element_class_set_static_metadata(
      element_class, "InternVL alert recorder", "Sink/Video",
      "Writes an MP4 clip (pre-roll, event, post-roll) for every alert event of its stream, "
      "without re-encoding",
      "InternVL Stream developers");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  GST_DEBUG_CATEGORY_INIT(gst_internvl_record_debug, "internvlrecord", 0,
                          "InternVL alert recorder");
}

static void gst_internvl_record_init(GstInternVLRecord* self) {
  self->priv = new GstInternVLRecordPrivate();
  // As filesink: writing a file has no reason to wait for the clock.
  gst_base_sink_set_sync(GST_BASE_SINK(self), FALSE);
}

static void gst_internvl_record_finalize(GObject* object) {
  auto* self = GST_INTERNVL_RECORD(object);
  delete self->priv;
  self->priv = nullptr;
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void gst_internvl_record_set_property(GObject* object, guint prop_id, const GValue* value,
                                             GParamSpec* pspec) {
  auto* self = GST_INTERNVL_RECORD(object);
  std::lock_guard<std::mutex> lock(self->priv->lock);
  if (!properties().set(self->priv->settings, prop_id, value)) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void gst_internvl_record_get_property(GObject* object, guint prop_id, GValue* value,
                                             GParamSpec* pspec) {
  auto* self = GST_INTERNVL_RECORD(object);
  for (const auto& counter : kCounters) {
    if (counter.id == prop_id) {
      g_value_set_uint64(value, self->priv->counters.*counter.member);
      return;
    }
  }
  std::lock_guard<std::mutex> lock(self->priv->lock);
  if (!properties().get(self->priv->settings, prop_id, value)) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static gboolean gst_internvl_record_start(GstBaseSink* sink) {
  auto* self = GST_INTERNVL_RECORD(sink);
  RecordSettings settings;
  {
    std::lock_guard<std::mutex> lock(self->priv->lock);
    settings = self->priv->settings;
  }
  std::string stream_id = settings.stream_id;
  if (stream_id.empty()) {
    gchar* name = gst_object_get_name(GST_OBJECT(self));
    stream_id = name;
    g_free(name);
  }
  try {
    ivs::plugins::prepare_location(settings.location);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("%s", e.what()), (nullptr));
    return FALSE;
  }
  try {
    ivs::plugins::check_clip_elements();
    auto channel = ivs::pipeline::acquire_event_channel(GST_ELEMENT(self));
    self->priv->counters.reset();
    self->priv->state = std::make_unique<RecordState>(GST_ELEMENT(self), settings, stream_id,
                                                      channel, self->priv->counters);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, LIBRARY, INIT, ("Could not start the recorder."), ("%s", e.what()));
    return FALSE;
  }
  GST_INFO_OBJECT(self, "recording events of stream %s into %s", stream_id.c_str(),
                  settings.location.c_str());
  return TRUE;
}

static gboolean gst_internvl_record_set_caps(GstBaseSink* sink, GstCaps* caps) {
  auto* self = GST_INTERNVL_RECORD(sink);
  std::string problem;
  if (ivs::plugins::clip_parser_for(caps, &problem) == nullptr) {
    GST_ELEMENT_ERROR(self, STREAM, FORMAT, ("%s", problem.c_str()),
                      ("caps %" GST_PTR_FORMAT, caps));
    return FALSE;
  }
  if (self->priv->state) self->priv->state->set_caps(caps);
  return TRUE;
}

static GstFlowReturn gst_internvl_record_render(GstBaseSink* sink, GstBuffer* buffer) {
  auto* self = GST_INTERNVL_RECORD(sink);
  RecordState* state = self->priv->state.get();
  if (state == nullptr) return GST_FLOW_FLUSHING;
  // Alert events carry stream time, as the decoded frames of the other branch do.
  const GstClockTime ts =
      GST_BUFFER_PTS_IS_VALID(buffer) ? GST_BUFFER_PTS(buffer) : GST_BUFFER_DTS(buffer);
  const GstClockTime pts = gst_segment_to_stream_time(&sink->segment, GST_FORMAT_TIME, ts);
  try {
    state->render(buffer, GST_CLOCK_TIME_IS_VALID(pts) ? pts : 0);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, CORE, FAILED, ("Recording failed."), ("%s", e.what()));
    return GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;
}

static gboolean gst_internvl_record_event(GstBaseSink* sink, GstEvent* event) {
  auto* self = GST_INTERNVL_RECORD(sink);
  RecordState* state = self->priv->state.get();
  // Before chaining up: the parent posts EOS on the bus, and by then every file is complete.
  if (state != nullptr && GST_EVENT_TYPE(event) == GST_EVENT_EOS) state->finish_at_eos();
  if (state != nullptr && GST_EVENT_TYPE(event) == GST_EVENT_FLUSH_STOP) state->flush();
  return GST_BASE_SINK_CLASS(parent_class)->event(sink, event);
}

// Going to READY or flushing while the end of stream waits for the alert: stop waiting.
static gboolean gst_internvl_record_unlock(GstBaseSink* sink) {
  if (RecordState* state = GST_INTERNVL_RECORD(sink)->priv->state.get()) state->unblock(true);
  return TRUE;
}

static gboolean gst_internvl_record_unlock_stop(GstBaseSink* sink) {
  if (RecordState* state = GST_INTERNVL_RECORD(sink)->priv->state.get()) state->unblock(false);
  return TRUE;
}

static gboolean gst_internvl_record_query(GstBaseSink* sink, GstQuery* query) {
  if (ivs::pipeline::handle_event_context_query(GST_ELEMENT(sink), query)) return TRUE;
  if (GST_QUERY_TYPE(query) == GST_QUERY_ACCEPT_CAPS) {
    // H.264/H.265 caps that lack alignment or stream-format (not parsed) are let through to
    // set_caps, which says to add the parser, instead of failing negotiation without a word.
    GstCaps* caps = nullptr;
    gst_query_parse_accept_caps(query, &caps);
    GstCaps* recordable = gst_pad_get_pad_template_caps(GST_BASE_SINK_PAD(sink));
    gst_query_set_accept_caps_result(query, gst_caps_can_intersect(caps, recordable));
    gst_caps_unref(recordable);
    return TRUE;
  }
  return GST_BASE_SINK_CLASS(parent_class)->query(sink, query);
}

static gboolean gst_internvl_record_stop(GstBaseSink* sink) {
  auto* self = GST_INTERNVL_RECORD(sink);
  self->priv->state.reset();  // completes the open clips
  return TRUE;
}
