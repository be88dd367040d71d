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

#include "pipeline/result_meta.h"

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

/// Where the text box sits on the frame.
typedef enum {
  GST_INTERNVL_OVERLAY_POSITION_TOP_LEFT,
  GST_INTERNVL_OVERLAY_POSITION_TOP_RIGHT,
  GST_INTERNVL_OVERLAY_POSITION_BOTTOM_LEFT,
  GST_INTERNVL_OVERLAY_POSITION_BOTTOM_RIGHT,
} GstInternVLOverlayPosition;

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

constexpr gboolean kDefaultShowCaption = TRUE;
constexpr gboolean kDefaultShowLabels = TRUE;
constexpr guint kDefaultTopK = 3;
constexpr guint kMaxTopK = 100;
constexpr const char* kDefaultFontDesc = "Sans 14";
constexpr guint64 kDefaultMaxAge = 10 * GST_SECOND;
constexpr GstInternVLOverlayPosition kDefaultPosition = GST_INTERNVL_OVERLAY_POSITION_BOTTOM_LEFT;

// Box geometry in pixels: distance from the frame edge, padding inside the box, text outline.
constexpr int kMargin = 8;
constexpr int kPadding = 6;
constexpr int kOutline = 2;

namespace {

struct Settings {
  bool show_caption = kDefaultShowCaption;
  bool show_labels = kDefaultShowLabels;
  guint top_k = kDefaultTopK;
  std::string font_desc = kDefaultFontDesc;
  guint64 max_age = kDefaultMaxAge;
  GstInternVLOverlayPosition position = kDefaultPosition;
};

/// A result remembered from an earlier buffer, with the stream time of the buffer it came on.
struct Remembered {
  std::string caption;
  GstClockTime caption_time = GST_CLOCK_TIME_NONE;
  bool has_caption = false;
  std::vector<std::pair<std::string, double>> labels;  // best first
  GstClockTime labels_time = GST_CLOCK_TIME_NONE;
  bool has_labels = false;
};

bool is_fresh(GstClockTime result_time, GstClockTime now, guint64 max_age) {
  if (!GST_CLOCK_TIME_IS_VALID(result_time) || !GST_CLOCK_TIME_IS_VALID(now)) return true;
  // A result "from the future" is left over from before a backward jump in stream time.
  return now >= result_time && now - result_time <= max_age;
}

/// Runtime resources: built in start(), dropped in stop(). Used only from the streaming thread
/// (and start/stop, which never run concurrently with it).
struct State {
  PangoFontMap* font_map = nullptr;
  PangoContext* context = nullptr;
  PangoLayout* layout = nullptr;
  std::string applied_font;
  int frame_width = 0;
  int frame_height = 0;
  Remembered latest;
  // The rendered box, reused while text, font and position stay the same.
  GstVideoOverlayComposition* composition = nullptr;
  std::string drawn_text;
  GstInternVLOverlayPosition drawn_position = kDefaultPosition;

  State() {
    font_map = pango_cairo_font_map_new();
    if (font_map != nullptr) context = pango_font_map_create_context(font_map);
    if (context != nullptr) layout = pango_layout_new(context);
    if (layout != nullptr) pango_layout_set_wrap(layout, PANGO_WRAP_WORD_CHAR);
  }
  ~State() {
    drop_composition();
    if (layout != nullptr) g_object_unref(layout);
    if (context != nullptr) g_object_unref(context);
    if (font_map != nullptr) g_object_unref(font_map);
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  bool ok() const { return layout != nullptr; }

  void drop_composition() {
    if (composition != nullptr) gst_video_overlay_composition_unref(composition);
    composition = nullptr;
    drawn_text.clear();
  }

  void remember(GstBuffer* buffer, GstClockTime now);
  std::string visible_text(const Settings& settings, GstClockTime now) const;
  bool update_composition(const Settings& settings, const std::string& text);

 private:
  GstBuffer* render_box(int box_width, int box_height, const PangoRectangle& logical);
};

void State::remember(GstBuffer* buffer, GstClockTime now) {
  GstInternVLResultMeta* meta = gst_buffer_get_internvl_result_meta(buffer);
  if (meta == nullptr || meta->records == nullptr) return;
  for (const auto& entry : meta->records->entries) {
    if (entry.type == ivs::pipeline::ResultType::kCaption) {
      if (!entry.caption) continue;
      latest.caption = entry.caption->text;
      latest.caption_time = now;
      latest.has_caption = true;
    } else {
      latest.labels.clear();
      for (const auto& record : entry.classification)
        latest.labels.emplace_back(record.label, record.confidence);
      latest.labels_time = now;
      latest.has_labels = true;
    }
  }
}

std::string State::visible_text(const Settings& settings, GstClockTime now) const {
  std::string text;
  if (settings.show_caption && latest.has_caption && !latest.caption.empty() &&
      is_fresh(latest.caption_time, now, settings.max_age)) {
    text = latest.caption;
  }
  if (settings.show_labels && latest.has_labels &&
      is_fresh(latest.labels_time, now, settings.max_age)) {
    const size_t count = std::min<size_t>(settings.top_k, latest.labels.size());
    for (size_t i = 0; i < count; ++i) {
      char score[32];
      std::snprintf(score, sizeof(score), "  %.2f", latest.labels[i].second);
      if (!text.empty()) text += '\n';
      text += latest.labels[i].first + score;
    }
  }
  return text;
}

// Dark box, then the text as a black outline and white fill, into premultiplied native-endian
// ARGB32: exactly GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB (BGRA on little-endian).
GstBuffer* State::render_box(int box_width, int box_height, const PangoRectangle& logical) {
  const int stride = cairo_format_stride_for_width(CAIRO_FORMAT_ARGB32, box_width);
  GstBuffer* pixels =
      gst_buffer_new_allocate(nullptr, static_cast<gsize>(stride) * box_height, nullptr);
  GstMapInfo map;
  if (pixels == nullptr || !gst_buffer_map(pixels, &map, GST_MAP_WRITE)) {
    if (pixels != nullptr) gst_buffer_unref(pixels);
    return nullptr;
  }
  cairo_surface_t* surface = cairo_image_surface_create_for_data(map.data, CAIRO_FORMAT_ARGB32,
                                                                 box_width, box_height, stride);
  cairo_t* cr = cairo_create(surface);
  cairo_set_operator(cr, CAIRO_OPERATOR_CLEAR);
  cairo_paint(cr);
  cairo_set_operator(cr, CAIRO_OPERATOR_OVER);
  cairo_set_source_rgba(cr, 0.0, 0.0, 0.0, 0.6);
  cairo_rectangle(cr, 0, 0, box_width, box_height);
  cairo_fill(cr);
  const double x = kPadding + kOutline - logical.x;
  const double y = kPadding - logical.y;
  cairo_move_to(cr, x, y);
  pango_cairo_layout_path(cr, layout);
  cairo_set_source_rgba(cr, 0.0, 0.0, 0.0, 1.0);
  cairo_set_line_width(cr, 2.0 * kOutline);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  cairo_stroke(cr);
  cairo_move_to(cr, x, y);
  cairo_set_source_rgba(cr, 1.0, 1.0, 1.0, 1.0);
  pango_cairo_show_layout(cr, layout);
  cairo_destroy(cr);
  cairo_surface_flush(surface);
  cairo_surface_destroy(surface);
  gst_buffer_unmap(pixels, &map);
  gst_buffer_add_video_meta(pixels, GST_VIDEO_FRAME_FLAG_NONE,
                            GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB, static_cast<guint>(box_width),
                            static_cast<guint>(box_height));
  return pixels;
}

bool State::update_composition(const Settings& settings, const std::string& text) {
  if (composition != nullptr && text == drawn_text && settings.position == drawn_position &&
      settings.font_desc == applied_font) {
    return true;
  }
  drop_composition();
  if (settings.font_desc != applied_font) {
    PangoFontDescription* desc = pango_font_description_from_string(settings.font_desc.c_str());
    pango_layout_set_font_description(layout, desc);
    pango_font_description_free(desc);
    applied_font = settings.font_desc;
  }
  const int text_width = frame_width - 2 * (kMargin + kPadding + kOutline);
  if (text_width <= 0 || frame_height <= 2 * kMargin) return false;  // frame too small for a box
  pango_layout_set_width(layout, text_width * PANGO_SCALE);
  pango_layout_set_text(layout, text.c_str(), -1);
  PangoRectangle ink;
  PangoRectangle logical;
  pango_layout_get_pixel_extents(layout, &ink, &logical);
  const int box_width =
      std::min(logical.width + 2 * (kPadding + kOutline), frame_width - 2 * kMargin);
  const int box_height = std::min(logical.height + 2 * kPadding, frame_height - 2 * kMargin);
  if (box_width <= 0 || box_height <= 0) return false;
  const bool left = settings.position == GST_INTERNVL_OVERLAY_POSITION_TOP_LEFT ||
                    settings.position == GST_INTERNVL_OVERLAY_POSITION_BOTTOM_LEFT;
  const bool top = settings.position == GST_INTERNVL_OVERLAY_POSITION_TOP_LEFT ||
                   settings.position == GST_INTERNVL_OVERLAY_POSITION_TOP_RIGHT;
  const int x = left ? kMargin : frame_width - kMargin - box_width;
  const int y = top ? kMargin : frame_height - kMargin - box_height;
  GstBuffer* pixels = render_box(box_width, box_height, logical);
  if (pixels == nullptr) return false;
  GstVideoOverlayRectangle* rectangle = gst_video_overlay_rectangle_new_raw(
      pixels, x, y, static_cast<guint>(box_width), static_cast<guint>(box_height),
      GST_VIDEO_OVERLAY_FORMAT_FLAG_PREMULTIPLIED_ALPHA);
  gst_buffer_unref(pixels);
  composition = gst_video_overlay_composition_new(rectangle);
  gst_video_overlay_rectangle_unref(rectangle);
  drawn_text = text;
  drawn_position = settings.position;
  return true;
}

}  // namespace

struct GstInternVLOverlayPrivate {
  std::mutex lock;
  Settings settings;
  std::unique_ptr<State> state;
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
                           kDefaultShowCaption, flags));
  g_object_class_install_property(
      gobject_class, PROP_SHOW_LABELS,
      g_param_spec_boolean("show-labels", "Show labels", "Draw the top-k labels with their scores",
                           kDefaultShowLabels, flags));
  g_object_class_install_property(
      gobject_class, PROP_TOP_K,
      g_param_spec_uint("top-k", "Top k", "How many labels to draw (best first)", 0, kMaxTopK,
                        kDefaultTopK, flags));
  g_object_class_install_property(
      gobject_class, PROP_FONT_DESC,
      g_param_spec_string(
          "font-desc", "Font description",
          "Pango font description of the text, e.g. \"Sans 14\" or \"DejaVu Sans Bold 20\"",
          kDefaultFontDesc, flags));
  g_object_class_install_property(
      gobject_class, PROP_MAX_AGE,
      g_param_spec_uint64("max-age", "Maximum age",
                          "Hide results older than this (stream time, ns; G_MAXUINT64: never hide)",
                          0, G_MAXUINT64, kDefaultMaxAge, flags));
  g_object_class_install_property(
      gobject_class, PROP_POSITION,
      g_param_spec_enum("position", "Position", "Corner of the frame where the text box is drawn",
                        GST_TYPE_INTERNVL_OVERLAY_POSITION, kDefaultPosition, flags));

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
  Settings& s = self->priv->settings;
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
      s.font_desc = font != nullptr ? font : kDefaultFontDesc;
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
  const Settings& s = self->priv->settings;
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
    auto state = std::make_unique<State>();
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
  State* state = self->priv->state.get();
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
  State* state = self->priv->state.get();
  if (state == nullptr) return GST_FLOW_FLUSHING;
  try {
    Settings settings;
    {
      std::lock_guard<std::mutex> lock(self->priv->lock);
      settings = self->priv->settings;
    }
    const GstClockTime now = gst_segment_to_stream_time(
        &GST_BASE_TRANSFORM(filter)->segment, GST_FORMAT_TIME, GST_BUFFER_PTS(frame->buffer));
    state->remember(frame->buffer, now);
    const std::string text = state->visible_text(settings, now);
    if (text.empty()) return GST_FLOW_OK;
    if (!state->update_composition(settings, text)) {
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
