// SPDX-License-Identifier: Apache-2.0
/**
 * SECTION:element-internvlindex
 * @title: internvlindex
 *
 * Makes every sampled frame searchable by text. Put it after internvlclassify, whose result
 * meta carries each sampled frame's image embedding (InternVL-C or -G, L2-normalised): the
 * element hands the embedding, with the stream id (#GstInternVLIndex:stream-id), the frame
 * number, the stream time, the wall-clock time and the mode, to the search index in
 * #GstInternVLIndex:location (SQLite + FAISS, sinks/index/search_index.h), which every
 * internvlindex of the process (and the service's search API) shares. With
 * #GstInternVLIndex:thumbnails a JPEG of the frame goes with it, its longest side
 * #GstInternVLIndex:thumbnail-size pixels (aspect ratio kept, never enlarged; at 160 a JPEG of a
 * few KB). Making it is the only real work done on the streaming thread, once per sampled frame:
 * about 3 ms for a 1080p frame on one core (0.7 ms without thumbnails).
 *
 * Buffers pass through unchanged (the element never writes them), and the stream never waits
 * for the index: frames go to its bounded queue, and a frame that finds it full is dropped
 * from the index (not from the stream), counted in #GstInternVLIndex:frames-dropped and
 * internvl_index_frames_dropped_total{stream}, and reported in a warning at most every five
 * seconds. Frames queued are counted in #GstInternVLIndex:frames-indexed and
 * internvl_index_frames_total{stream}. Frames without an embedding (not sampled) are not
 * indexed. A missing #GstInternVLIndex:location, or an index directory that cannot be used, is
 * an error when the element starts.
 *
 * Query the index with `internvl search --index DIR --model DIR "a red van"`.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=yard.mp4 ! decodebin ! videoconvert ! internvlclassify model=/models/InternVL-14B-224px labels="a yard" selection-fps=2 ! internvlindex location=/var/lib/internvl/index stream-id=yard ! fakesink
 * ]|
 *
 * Caps: any raw video in system memory, passed through.
 */
#include "plugins/internvl/gstinternvlindex.h"

#include <gst/video/video.h>

#include <exception>
#include <memory>
#include <mutex>

#include "pipeline/metrics_context.h"
#include "plugins/internvl/element_settings.h"
#include "plugins/internvl/index_state.h"
#include "plugins/internvl/property_table.h"

GST_DEBUG_CATEGORY(gst_internvl_index_debug);  // also index_state.cpp's
#define GST_CAT_DEFAULT gst_internvl_index_debug

#define INDEX_CAPS GST_VIDEO_CAPS_MAKE(GST_VIDEO_FORMATS_ALL)

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(INDEX_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(INDEX_CAPS));

enum : guint {
  PROP_0,
  PROP_LOCATION,
  PROP_STREAM_ID,
  PROP_THUMBNAILS,
  PROP_THUMBNAIL_SIZE,
  PROP_FRAMES_INDEXED,
  PROP_FRAMES_DROPPED,
};

using ivs::plugins::IndexCounters;
using ivs::plugins::IndexState;
using Settings = ivs::plugins::IndexElementSettings;

struct GstInternVLIndexPrivate {
  std::mutex lock;
  Settings settings;
  IndexCounters counters;
  std::unique_ptr<IndexState> state;  // the streaming thread's, between start() and stop()
};

struct _GstInternVLIndex {
  GstBaseTransform parent;
  GstInternVLIndexPrivate* priv;
};

#define gst_internvl_index_parent_class parent_class
G_DEFINE_TYPE(GstInternVLIndex, gst_internvl_index, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE(internvlindex, "internvlindex", GST_RANK_NONE, GST_TYPE_INTERNVL_INDEX);

static ivs::plugins::PropertyTable<Settings>& properties() {
  static auto* table = new ivs::plugins::PropertyTable<Settings>();  // class data, never freed
  return *table;
}

static void install_properties(GObjectClass* k) {
  const Settings d;
  const auto rw = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                           GST_PARAM_MUTABLE_READY);
  const auto ro = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  auto& p = properties();
  p.bind(
      k, PROP_LOCATION,
      g_param_spec_string("location", "Location",
                          "Index directory (required; created when missing), shared by every "
                          "internvlindex of the process that names it",
                          nullptr, rw),
      [](Settings & s) -> auto& { return s.location; });
  p.bind(
      k, PROP_STREAM_ID,
      g_param_spec_string("stream-id", "Stream id",
                          "Stream the frames belong to (search filter, metric label; "
                          "NULL: the element's name)",
                          nullptr, rw),
      [](Settings & s) -> auto& { return s.stream_id; });
  p.bind(
      k, PROP_THUMBNAILS,
      g_param_spec_boolean("thumbnails", "Thumbnails",
                           "Store a small JPEG of every indexed frame (shown with search results)",
                           d.thumbnails, rw),
      [](Settings & s) -> auto& { return s.thumbnails; });
  p.bind(
      k, PROP_THUMBNAIL_SIZE,
      g_param_spec_uint("thumbnail-size", "Thumbnail size",
                        "Pixels of a thumbnail's longest side (aspect ratio kept; a smaller "
                        "frame is not enlarged)",
                        16, 1024, d.thumbnail_size, rw),
      [](Settings & s) -> auto& { return s.thumbnail_size; });
  g_object_class_install_property(
      k, PROP_FRAMES_INDEXED,
      g_param_spec_uint64("frames-indexed", "Frames indexed",
                          "Sampled frames queued into the index since the element started", 0,
                          G_MAXUINT64, 0, ro));
  g_object_class_install_property(
      k, PROP_FRAMES_DROPPED,
      g_param_spec_uint64("frames-dropped", "Frames dropped",
                          "Sampled frames not indexed (the index's queue was full, or it "
                          "refused them) since the element started",
                          0, G_MAXUINT64, 0, ro));
}

static gboolean gst_internvl_index_start(GstBaseTransform* trans) {
  auto* self = GST_INTERNVL_INDEX(trans);
  Settings settings;
  {
    std::lock_guard<std::mutex> lock(self->priv->lock);
    settings = self->priv->settings;
  }
  self->priv->counters.reset();
  try {
    self->priv->state = IndexState::start(GST_ELEMENT(self), settings, self->priv->counters);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("%s", e.what()),
                      ("internvlindex could not start (location '%s')", settings.location.c_str()));
    return FALSE;
  }
  GST_INFO_OBJECT(self, "indexing stream %s into %s", self->priv->state->stream().c_str(),
                  settings.location.c_str());
  return TRUE;
}

static gboolean gst_internvl_index_stop(GstBaseTransform* trans) {
  GST_INTERNVL_INDEX(trans)->priv->state.reset();  // frames queued stay queued in the index
  return TRUE;
}

static gboolean gst_internvl_index_set_caps(GstBaseTransform* trans, GstCaps* incaps,
                                            GstCaps* /*outcaps*/) {
  auto* self = GST_INTERNVL_INDEX(trans);
  return self->priv->state && self->priv->state->set_caps(incaps);
}

static GstFlowReturn gst_internvl_index_transform_ip(GstBaseTransform* trans, GstBuffer* buffer) {
  IndexState* state = GST_INTERNVL_INDEX(trans)->priv->state.get();
  if (state == nullptr) return GST_FLOW_FLUSHING;
  // Moments are in stream time, as alert events and the wire format are.
  const uint64_t stream_time =
      gst_segment_to_stream_time(&trans->segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buffer));
  state->on_frame(buffer, stream_time);  // does not throw: failures are counted
  return GST_FLOW_OK;
}

static gboolean gst_internvl_index_query(GstBaseTransform* trans, GstPadDirection direction,
                                         GstQuery* query) {
  if (GST_QUERY_TYPE(query) == GST_QUERY_CONTEXT &&
      ivs::pipeline::handle_metrics_context_query(GST_ELEMENT(trans), query)) {
    return TRUE;
  }
  return GST_BASE_TRANSFORM_CLASS(parent_class)->query(trans, direction, query);
}

static void gst_internvl_index_set_property(GObject* object, guint id, const GValue* value,
                                            GParamSpec* pspec) {
  auto* priv = GST_INTERNVL_INDEX(object)->priv;
  std::lock_guard<std::mutex> lock(priv->lock);
  if (!properties().set(priv->settings, id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
}

static void gst_internvl_index_get_property(GObject* object, guint id, GValue* value,
                                            GParamSpec* pspec) {
  auto* priv = GST_INTERNVL_INDEX(object)->priv;
  switch (id) {
    case PROP_FRAMES_INDEXED:
      g_value_set_uint64(value, priv->counters.indexed);
      return;
    case PROP_FRAMES_DROPPED:
      g_value_set_uint64(value, priv->counters.dropped);
      return;
    default:
      break;
  }
  std::lock_guard<std::mutex> lock(priv->lock);
  if (!properties().get(priv->settings, id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
}

static void gst_internvl_index_init(GstInternVLIndex* self) {
  self->priv = new GstInternVLIndexPrivate();
  // Reads frames and metas, writes nothing: buffers go through untouched, never copied.
  gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
  gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), TRUE);
}

static void gst_internvl_index_finalize(GObject* object) {
  delete GST_INTERNVL_INDEX(object)->priv;
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void gst_internvl_index_class_init(GstInternVLIndexClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass* trans_class = GST_BASE_TRANSFORM_CLASS(klass);
  gobject_class->finalize = gst_internvl_index_finalize;
  gobject_class->set_property = gst_internvl_index_set_property;
  gobject_class->get_property = gst_internvl_index_get_property;
  trans_class->start = GST_DEBUG_FUNCPTR(gst_internvl_index_start);
  trans_class->stop = GST_DEBUG_FUNCPTR(gst_internvl_index_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR(gst_internvl_index_set_caps);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR(gst_internvl_index_transform_ip);
  trans_class->query = GST_DEBUG_FUNCPTR(gst_internvl_index_query);
  // Called on passthrough buffers too (the default): that is where frames are read.
  trans_class->transform_ip_on_passthrough = TRUE;
  install_properties(gobject_class);
  gst_element_class_set_static_metadata(
      element_class, "InternVL search index", "Filter/Analyzer/Video",
      "Writes every sampled frame's InternVL embedding (and a thumbnail) into the search index, "
      "passing the video through",
      "InternVL Stream developers");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  GST_DEBUG_CATEGORY_INIT(gst_internvl_index_debug, "internvlindex", 0, "InternVL search index");
}
