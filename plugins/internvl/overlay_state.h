// SPDX-License-Identifier: Apache-2.0
// What internvloverlay draws: the latest caption and labels remembered from the result metas of
// earlier frames, and the text box rendered with Pango/Cairo into a GstVideoOverlayComposition
// (reused while the text stays the same). gstinternvloverlay.cpp is the GObject shell.
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>
#include <pango/pangocairo.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

/// Where the text box sits on the frame.
typedef enum {
  GST_INTERNVL_OVERLAY_POSITION_TOP_LEFT,
  GST_INTERNVL_OVERLAY_POSITION_TOP_RIGHT,
  GST_INTERNVL_OVERLAY_POSITION_BOTTOM_LEFT,
  GST_INTERNVL_OVERLAY_POSITION_BOTTOM_RIGHT,
} GstInternVLOverlayPosition;

namespace ivs::plugins {

constexpr gboolean kDefaultShowCaption = TRUE;
constexpr gboolean kDefaultShowLabels = TRUE;
constexpr guint kDefaultTopK = 3;
constexpr const char* kDefaultFontDesc = "Sans 14";
constexpr guint64 kDefaultMaxAge = 10 * GST_SECOND;
constexpr GstInternVLOverlayPosition kDefaultPosition = GST_INTERNVL_OVERLAY_POSITION_BOTTOM_LEFT;

// Box geometry in pixels: distance from the frame edge, padding inside the box, text outline.
constexpr int kMargin = 8;
constexpr int kPadding = 6;
constexpr int kOutline = 2;

struct OverlaySettings {
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
  std::map<std::string, double> active_alerts;  // rule -> probability at its start
};

/// Runtime resources: built in start(), dropped in stop(). Used only from the streaming thread
/// (and start/stop, which never run concurrently with it).
struct OverlayState {
  PangoFontMap* font_map = nullptr;
  PangoContext* context = nullptr;
  PangoLayout* layout = nullptr;
  std::string applied_font;
  int frame_width = 0;
  int frame_height = 0;
  Remembered latest;
  // The rendered boxes, reused while texts, font and position stay the same.
  GstVideoOverlayComposition* composition = nullptr;
  std::string drawn_text;
  std::string drawn_alerts;
  GstInternVLOverlayPosition drawn_position = kDefaultPosition;

  OverlayState() {
    font_map = pango_cairo_font_map_new();
    if (font_map != nullptr) context = pango_font_map_create_context(font_map);
    if (context != nullptr) layout = pango_layout_new(context);
    if (layout != nullptr) pango_layout_set_wrap(layout, PANGO_WRAP_WORD_CHAR);
  }
  ~OverlayState() {
    drop_composition();
    if (layout != nullptr) g_object_unref(layout);
    if (context != nullptr) g_object_unref(context);
    if (font_map != nullptr) g_object_unref(font_map);
  }
  OverlayState(const OverlayState&) = delete;
  OverlayState& operator=(const OverlayState&) = delete;

  bool ok() const { return layout != nullptr; }

  void drop_composition() {
    if (composition != nullptr) gst_video_overlay_composition_unref(composition);
    composition = nullptr;
    drawn_text.clear();
    drawn_alerts.clear();
  }

  void remember(GstBuffer* buffer, GstClockTime now);
  std::string visible_text(const OverlaySettings& settings, GstClockTime now) const;
  /// One line per active alert event ("ALERT fence 0.93"), empty when none: drawn in a red box
  /// of its own, on the other side of the frame from the labels.
  std::string alert_text() const;
  /// Builds the composition for `text` (the labels box) and `alerts` (the alert box); false
  /// when the frame is too small for a box.
  bool update_composition(const OverlaySettings& settings, const std::string& text,
                          const std::string& alerts);

 private:
  // The rectangle of one box of `text` at the corner `position`, on `background` (RGBA).
  GstVideoOverlayRectangle* make_box(const std::string& text, GstInternVLOverlayPosition position,
                                     const double background[4]);
  GstBuffer* render_box(int box_width, int box_height, const PangoRectangle& logical,
                        const double background[4]);
};

}  // namespace ivs::plugins
