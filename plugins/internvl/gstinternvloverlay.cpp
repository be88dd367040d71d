// SPDX-License-Identifier: Apache-2.0
/**
 * SECTION:element-internvloverlay
 * @title: internvloverlay
 *
 * Draws the latest InternVL results onto raw video: the latest caption, word-wrapped to the
 * frame width, and the top-k labels with their scores. Results come from the InternVLResultMeta
 * on each buffer (attached by internvlclassify / internvlcaption) and are remembered across
 * buffers, because captions and classifications arrive only on some frames; a result older than
 * #GstInternVLOverlay:max-age (stream time) is no longer drawn.
 *
 * The text is white with a black outline on a semi-transparent dark box, so it stays readable
 * over any background. It is rendered with Pango/Cairo into a small premultiplied ARGB
 * rectangle only when the text changes, and blended onto every frame with
 * gst_video_overlay_composition_blend(), which handles the RGB and YUV formats of the pad
 * template (no videoconvert needed for I420/NV12).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=100 ! videoconvert ! internvloverlay position=top-left font-desc="Sans 12" ! videoconvert ! fakesink
 * ]|
 * (with internvlclassify / internvlcaption upstream, the results appear on the video.)
 *
 * Caps: video/x-raw in system memory, in and out the same (in place).
 */
#include "plugins/internvl/gstinternvloverlay.h"

#include <gst/video/video.h>
#include <pango/pangocairo.h>

#include "plugins/internvl/overlay_state.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

GST_DEBUG_CATEGORY_STATIC(gst_internvl_overlay_debug);
#define GST_CAT_DEFAULT gst_internvl_overlay_debug

#define INTERNVL_OVERLAY_FORMATS                                                               \
  "{ BGRx, BGRA, RGBx, RGBA, xRGB, ARGB, xBGR, ABGR, RGB, BGR, AYUV, I420, YV12, NV12, NV21, " \
  "Y42B, Y444, YUY2, UYVY, GRAY8 }"

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
                            GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(INTERNVL_OVERLAY_FORMATS)));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS,
                            GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE(INTERNVL_OVERLAY_FORMATS)));

#define GST_TYPE_INTERNVL_OVERLAY_POSITION (gst_internvl_overlay_position_get_type())
static GType gst_internvl_overlay_position_get_type(void) {
  static GType type = 0;
  static const GEnumValue values[] = {
      {GST_INTERNVL_OVERLAY_POSITION_TOP_LEFT, "Top left corner", "top-left"},
      {GST_INTERNVL_OVERLAY_POSITION_TOP_RIGHT, "Top right corner", "top-right"},
      {GST_INTERNVL_OVERLAY_POSITION_BOTTOM_LEFT, "Bottom left corner", "bottom-left"},
      {GST_INTERNVL_OVERLAY_POSITION_BOTTOM_RIGHT, "Bottom right corner", "bottom-right"},
      {0, nullptr, nullptr},
  };
  if (g_once_init_enter(&type)) {
    g_once_init_leave(&type, g_enum_register_static("GstInternVLOverlayPosition", values));
  }
  return type;
}

enum {
  PROP_0,
  PROP_SHOW_CAPTION,
  PROP_SHOW_LABELS,
  PROP_TOP_K,
  PROP_FONT_DESC,
  PROP_MAX_AGE,
  PROP_POSITION,
};

constexpr guint kMaxTopK = 100;

using ivs::plugins::OverlaySettings;
using ivs::plugins::OverlayState;
using ivs::plugins::Remembered;

struct GstInternVLOverlayPrivate {
  std::mutex lock;
  OverlaySettings settings;
  std::unique_ptr<OverlayState> state;
};

struct _GstInternVLOverlay {
  GstVideoFilter parent;
  GstInternVLOverlayPrivate* priv;
};

static void gst_internvl_overlay_finalize(GObject* object);
static void gst_internvl_overlay_set_property(GObject* object, guint prop_id, const GValue* value,
                                              GParamSpec* pspec);
static void gst_internvl_overlay_get_property(GObject* object, guint prop_id, GValue* value,
                                              GParamSpec* pspec);
static gboolean gst_internvl_overlay_start(GstBaseTransform* trans);
static gboolean gst_internvl_overlay_set_info(GstVideoFilter* filter, GstCaps* incaps,
                                              GstVideoInfo* in_info, GstCaps* outcaps,
                                              GstVideoInfo* out_info);
static GstFlowReturn gst_internvl_overlay_transform_frame_ip(GstVideoFilter* filter,
                                                             GstVideoFrame* frame);
static gboolean gst_internvl_overlay_sink_event(GstBaseTransform* trans, GstEvent* event);
static gboolean gst_internvl_overlay_stop(GstBaseTransform* trans);

#define gst_internvl_overlay_parent_class parent_class
G_DEFINE_TYPE(GstInternVLOverlay, gst_internvl_overlay, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE(internvloverlay, "internvloverlay", GST_RANK_NONE,
                            GST_TYPE_INTERNVL_OVERLAY);

static void gst_internvl_overlay_class_init(GstInternVLOverlayClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass* trans_class = GST_BASE_TRANSFORM_CLASS(klass);
  GstVideoFilterClass* filter_class = GST_VIDEO_FILTER_CLASS(klass);

  gobject_class->finalize = gst_internvl_overlay_finalize;
  gobject_class->set_property = gst_internvl_overlay_set_property;
  gobject_class->get_property = gst_internvl_overlay_get_property;
  trans_class->start = GST_DEBUG_FUNCPTR(gst_internvl_overlay_start);
  trans_class->stop = GST_DEBUG_FUNCPTR(gst_internvl_overlay_stop);
  trans_class->sink_event = GST_DEBUG_FUNCPTR(gst_internvl_overlay_sink_event);
  filter_class->set_info = GST_DEBUG_FUNCPTR(gst_internvl_overlay_set_info);
  filter_class->transform_frame_ip = GST_DEBUG_FUNCPTR(gst_internvl_overlay_transform_frame_ip);

  const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                              GST_PARAM_MUTABLE_PLAYING);
  g_object_class_install_property(
      gobject_class, PROP_SHOW_CAPTION,
      g_param_spec_boolean("show-caption", "Show caption", "Draw the latest caption",
                           ivs::plugins::kDefaultShowCaption, flags));
  g_object_class_install_property(
      gobject_class, PROP_SHOW_LABELS,
      g_param_spec_boolean("show-labels", "Show labels", "Draw the top-k labels with their scores",
                           ivs::plugins::kDefaultShowLabels, flags));
  g_object_class_install_property(
      gobject_class, PROP_TOP_K,
      g_param_spec_uint("top-k", "Top k", "How many labels to draw (best first)", 0, kMaxTopK,
                        ivs::plugins::kDefaultTopK, flags));
  g_object_class_install_property(
      gobject_class, PROP_FONT_DESC,
      g_param_spec_string(
          "font-desc", "Font description",
          "Pango font description of the text, e.g. \"Sans 14\" or \"DejaVu Sans Bold 20\"",
          ivs::plugins::kDefaultFontDesc, flags));
  g_object_class_install_property(
      gobject_class, PROP_MAX_AGE,
      g_param_spec_uint64("max-age", "Maximum age",
                          "Hide results older than this (stream time, ns; G_MAXUINT64: never hide)",
                          0, G_MAXUINT64, ivs::plugins::kDefaultMaxAge, flags));
  g_object_class_install_property(
      gobject_class, PROP_POSITION,
      g_param_spec_enum("position", "Position", "Corner of the frame where the text box is drawn",
                        GST_TYPE_INTERNVL_OVERLAY_POSITION, ivs::plugins::kDefaultPosition, flags));

  gst_element_class_set_static_metadata(
      element_class, "InternVL result overlay", "Filter/Effect/Video",
      "Draws the latest InternVL caption and top labels onto the video",
      "InternVL Stream developers");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);

  gst_type_mark_as_plugin_api(GST_TYPE_INTERNVL_OVERLAY_POSITION,
                              static_cast<GstPluginAPIFlags>(0));
  GST_DEBUG_CATEGORY_INIT(gst_internvl_overlay_debug, "internvloverlay", 0,
                          "InternVL result overlay");
}

static void gst_internvl_overlay_init(GstInternVLOverlay* self) {
  self->priv = new GstInternVLOverlayPrivate();
}

static void gst_internvl_overlay_finalize(GObject* object) {
  auto* self = GST_INTERNVL_OVERLAY(object);
  delete self->priv;
  self->priv = nullptr;
  G_OBJECT_CLASS(parent_class)->finalize(object);
}

static void gst_internvl_overlay_set_property(GObject* object, guint prop_id, const GValue* value,
                                              GParamSpec* pspec) {
  auto* self = GST_INTERNVL_OVERLAY(object);
  std::lock_guard<std::mutex> lock(self->priv->lock);
  OverlaySettings& s = self->priv->settings;
  switch (prop_id) {
    case PROP_SHOW_CAPTION:
      s.show_caption = g_value_get_boolean(value);
      break;
    case PROP_SHOW_LABELS:
      s.show_labels = g_value_get_boolean(value);
      break;
    case PROP_TOP_K:
      s.top_k = g_value_get_uint(value);
      break;
    case PROP_FONT_DESC: {
      const gchar* font = g_value_get_string(value);
      s.font_desc = font != nullptr ? font : ivs::plugins::kDefaultFontDesc;
      break;
    }
    case PROP_MAX_AGE:
      s.max_age = g_value_get_uint64(value);
      break;
    case PROP_POSITION:
      s.position = static_cast<GstInternVLOverlayPosition>(g_value_get_enum(value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static void gst_internvl_overlay_get_property(GObject* object, guint prop_id, GValue* value,
                                              GParamSpec* pspec) {
  auto* self = GST_INTERNVL_OVERLAY(object);
  std::lock_guard<std::mutex> lock(self->priv->lock);
  const OverlaySettings& s = self->priv->settings;
  switch (prop_id) {
    case PROP_SHOW_CAPTION:
      g_value_set_boolean(value, s.show_caption);
      break;
    case PROP_SHOW_LABELS:
      g_value_set_boolean(value, s.show_labels);
      break;
    case PROP_TOP_K:
      g_value_set_uint(value, s.top_k);
      break;
    case PROP_FONT_DESC:
      g_value_set_string(value, s.font_desc.c_str());
      break;
    case PROP_MAX_AGE:
      g_value_set_uint64(value, s.max_age);
      break;
    case PROP_POSITION:
      g_value_set_enum(value, s.position);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static gboolean gst_internvl_overlay_start(GstBaseTransform* trans) {
  auto* self = GST_INTERNVL_OVERLAY(trans);
  try {
    auto state = std::make_unique<OverlayState>();
    if (!state->ok()) {
      GST_ELEMENT_ERROR(
          self, LIBRARY, INIT, ("Could not create a Pango/Cairo text layout for the overlay."),
          ("pango_cairo_font_map_new() or pango_layout_new() failed; is fontconfig set up?"));
      return FALSE;
    }
    self->priv->state = std::move(state);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, LIBRARY, INIT, ("Could not start the overlay."), ("%s", e.what()));
    return FALSE;
  }
  return TRUE;
}

static gboolean gst_internvl_overlay_set_info(GstVideoFilter* filter, GstCaps* /*incaps*/,
                                              GstVideoInfo* in_info, GstCaps* /*outcaps*/,
                                              GstVideoInfo* /*out_info*/) {
  auto* self = GST_INTERNVL_OVERLAY(filter);
  OverlayState* state = self->priv->state.get();
  if (state == nullptr) return FALSE;
  state->frame_width = GST_VIDEO_INFO_WIDTH(in_info);
  state->frame_height = GST_VIDEO_INFO_HEIGHT(in_info);
  state->drop_composition();  // the box is laid out for the frame size
  GST_DEBUG_OBJECT(self, "frames %dx%d %s", state->frame_width, state->frame_height,
                   gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(in_info)));
  return TRUE;
}

static GstFlowReturn gst_internvl_overlay_transform_frame_ip(GstVideoFilter* filter,
                                                             GstVideoFrame* frame) {
  auto* self = GST_INTERNVL_OVERLAY(filter);
  OverlayState* state = self->priv->state.get();
  if (state == nullptr) return GST_FLOW_FLUSHING;
  try {
    OverlaySettings settings;
    {
      std::lock_guard<std::mutex> lock(self->priv->lock);
      settings = self->priv->settings;
    }
    const GstClockTime now = gst_segment_to_stream_time(
        &GST_BASE_TRANSFORM(filter)->segment, GST_FORMAT_TIME, GST_BUFFER_PTS(frame->buffer));
    state->remember(frame->buffer, now);
    const std::string text = state->visible_text(settings, now);
    const std::string alerts = state->alert_text();
    if (text.empty() && alerts.empty()) return GST_FLOW_OK;
    if (!state->update_composition(settings, text, alerts)) {
      GST_LOG_OBJECT(self, "frame too small for the text box; nothing drawn");
      return GST_FLOW_OK;
    }
    if (!gst_video_overlay_composition_blend(state->composition, frame)) {
      GST_LOG_OBJECT(self, "blending the text box failed; frame passed on undrawn");
    }
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, CORE, FAILED, ("Overlay failed."), ("%s", e.what()));
    return GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;
}

static gboolean gst_internvl_overlay_sink_event(GstBaseTransform* trans, GstEvent* event) {
  auto* self = GST_INTERNVL_OVERLAY(trans);
  if (GST_EVENT_TYPE(event) == GST_EVENT_FLUSH_STOP && self->priv->state) {
    // After a seek the remembered results describe frames that are gone.
    self->priv->state->latest = Remembered();
  }
  return GST_BASE_TRANSFORM_CLASS(parent_class)->sink_event(trans, event);
}

static gboolean gst_internvl_overlay_stop(GstBaseTransform* trans) {
  auto* self = GST_INTERNVL_OVERLAY(trans);
  self->priv->state.reset();
  return TRUE;
}
