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
 * pipeline (files, or an upstream that does not answer the latency query) every sampled frame
 * is captioned, in order: a sample waits on the streaming thread until the previous caption is
 * done (it rides on that frame) and the engine has room, which slows the file down to the
 * captioning rate (back-pressure). A caption that fails (a model error) is logged at
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

#include <memory>
#include <mutex>
#include <utility>

#include "pipeline/engine_context.h"
#include "pipeline/metrics_context.h"
#include "pipeline/sampling_query.h"
#include "plugins/internvl/caption_state.h"
#include "plugins/internvl/cuda_memory.h"
#include "plugins/internvl/inference_element.h"
#include "plugins/internvl/element_common.h"
#include "plugins/internvl/element_settings.h"
#include "plugins/internvl/caption_properties.h"

GST_DEBUG_CATEGORY(gst_internvl_caption_debug);  // also caption_state.cpp's
#define GST_CAT_DEFAULT gst_internvl_caption_debug

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(IVS_FRAME_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(IVS_FRAME_CAPS));

using namespace ivs::plugins;  // the property ids

using ivs::pipeline::DropReason;

using Settings = ivs::plugins::CaptionElementSettings;
static ivs::plugins::PropertyTable<Settings> properties;  // the read-write properties

struct GstInternVLCaptionPrivate : ivs::plugins::InferenceElementPrivate<Settings> {
  std::unique_ptr<ivs::plugins::CaptionState> state;
};

struct _GstInternVLCaption {
  GstBaseTransform parent;
  GstInternVLCaptionPrivate* priv;
};

#define gst_internvl_caption_parent_class parent_class
G_DEFINE_TYPE(GstInternVLCaption, gst_internvl_caption, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE(internvlcaption, "internvlcaption", GST_RANK_NONE,
                            GST_TYPE_INTERNVL_CAPTION);

static gboolean gst_internvl_caption_start(GstBaseTransform* trans) {
  auto* self = GST_INTERNVL_CAPTION(trans);
  Settings s;
  {
    std::lock_guard<std::mutex> lock(self->priv->lock);
    s = self->priv->settings;
  }
  try {
    self->priv->state = ivs::plugins::CaptionState::start(GST_ELEMENT(self), s,
                                                          self->priv->counters, self->priv->wait);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("%s", e.what()),
                      ("internvlcaption could not start (model '%s')", s.engine.model.c_str()));
    return FALSE;
  }
  std::lock_guard<std::mutex> lock(self->priv->lock);
  self->priv->metrics = self->priv->state->metrics();
  self->priv->cuda.set_engine(&self->priv->state->engine());
  ivs::plugins::announce_cuda_context(GST_ELEMENT(self), self->priv->cuda.device());
  return TRUE;
}

static gboolean gst_internvl_caption_set_caps(GstBaseTransform* trans, GstCaps* incaps,
                                              GstCaps* /*outcaps*/) {
  auto* self = GST_INTERNVL_CAPTION(trans);
  if (!self->priv->state) return FALSE;
  if (!self->priv->state->set_caps(incaps)) {
    GST_WARNING_OBJECT(self, "unsupported caps %" GST_PTR_FORMAT, incaps);
    return FALSE;
  }
  return TRUE;
}

static GstFlowReturn gst_internvl_caption_transform_ip(GstBaseTransform* trans, GstBuffer* buffer) {
  auto* self = GST_INTERNVL_CAPTION(trans);
  ivs::plugins::CaptionState* state = self->priv->state.get();
  if (state == nullptr) return GST_FLOW_FLUSHING;
  if (!state->has_caps()) return GST_FLOW_NOT_NEGOTIATED;
  try {
    state->on_frame(buffer, trans->sinkpad);
  } catch (const std::exception& e) {
    // A caption is best effort: a failure costs the caption, never the video.
    self->priv->counters.dropped(DropReason::kFailed);
    GST_WARNING_OBJECT(self, "captioning failed on a frame: %s", e.what());
  }
  return GST_FLOW_OK;
}

static GstFlowReturn gst_internvl_caption_generate_output(GstBaseTransform* trans,
                                                          GstBuffer** outbuf) {
  return ivs::plugins::generate_through_holder(trans, GST_BASE_TRANSFORM_CLASS(parent_class),
                                               GST_INTERNVL_CAPTION(trans)->priv->state.get(),
                                               outbuf);
}

static gboolean gst_internvl_caption_sink_event(GstBaseTransform* trans, GstEvent* event) {
  ivs::plugins::holder_sink_event(trans, GST_INTERNVL_CAPTION(trans)->priv->state.get(), event);
  return GST_BASE_TRANSFORM_CLASS(parent_class)->sink_event(trans, event);
}

static gboolean gst_internvl_caption_query(GstBaseTransform* trans, GstPadDirection direction,
                                           GstQuery* query) {
  auto* self = GST_INTERNVL_CAPTION(trans);
  if (ivs::plugins::handle_element_context_query(GST_ELEMENT(trans), query, self->priv->cuda))
    return TRUE;
  if (direction == GST_PAD_SINK && ivs::pipeline::is_sampling_query(query)) {
    std::unique_lock<std::mutex> guard(self->priv->lock);
    const double fps = self->priv->settings.selection_fps;
    guard.unlock();
    return ivs::pipeline::answer_sampling_query(trans->sinkpad, GST_OBJECT(trans), query, fps);
  }
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
  self->priv->counters.unbind();
  std::lock_guard<std::mutex> lock(self->priv->lock);
  self->priv->metrics.reset();
  return TRUE;
}

static void gst_internvl_caption_init(GstInternVLCaption* self) {
  self->priv = new GstInternVLCaptionPrivate();
  self->priv->cuda.set_device_property(self->priv->settings.engine.key().device);
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
  auto* priv = GST_INTERNVL_CAPTION(object)->priv;
  if (!priv->set_property(properties, prop_id, kDeviceProperty, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
}

static void gst_internvl_caption_get_property(GObject* object, guint prop_id, GValue* value,
                                              GParamSpec* pspec) {
  auto* priv = GST_INTERNVL_CAPTION(object)->priv;
  if (priv->get_property(properties, prop_id, kInferenceWaitProperty, kMetricsPortProperty, value))
    return;
  const ivs::pipeline::ResultCounters& c = priv->counters;
  switch (prop_id) {
    case kFramesSampledProperty:
      g_value_set_uint64(value, c.samples());
      break;
    case kCaptionsAttachedProperty:
      g_value_set_uint64(value, c.results_attached());
      break;
    case kCaptionsDroppedProperty:
      g_value_set_uint64(value, c.drops(DropReason::kEngineFull) + c.drops(DropReason::kLate));
      break;
    case kCaptionsFailedProperty:
      g_value_set_uint64(value, c.drops(DropReason::kFailed));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

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

  ivs::plugins::install_caption_properties(gobject_class, properties);
  gst_element_class_set_static_metadata(element_class, "InternVL captioning",
                                        "Filter/Analyzer/Video",
                                        "Captions sampled frames with InternVL-G asynchronously "
                                        "and attaches the caption to a later frame",
                                        "InternVL Stream developers");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  ivs::plugins::mark_enum_types_as_plugin_api();
  GST_DEBUG_CATEGORY_INIT(gst_internvl_caption_debug, "internvlcaption", 0, "InternVL captioning");
}
