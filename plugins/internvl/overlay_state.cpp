// SPDX-License-Identifier: Apache-2.0
#include "plugins/internvl/overlay_state.h"

#include <algorithm>
#include <cstdio>

#include "pipeline/result_meta.h"

namespace ivs::plugins {
namespace {

bool is_fresh(GstClockTime result_time, GstClockTime now, guint64 max_age) {
  if (!GST_CLOCK_TIME_IS_VALID(result_time) || !GST_CLOCK_TIME_IS_VALID(now)) return true;
  // A result "from the future" is left over from before a backward jump in stream time.
  return now >= result_time && now - result_time <= max_age;
}

}  // namespace

void OverlayState::remember(GstBuffer* buffer, GstClockTime now) {
  GstInternVLResultMeta* meta = gst_buffer_get_internvl_result_meta(buffer);
  if (meta == nullptr || meta->records == nullptr) return;
  for (const auto& entry : meta->records->entries) {
    if (entry.type == ivs::pipeline::ResultType::kEvent) {
      if (!entry.event) continue;
      if (entry.event->state == ivs::pipeline::AlertState::kStart) {
        latest.active_alerts[entry.event->rule] = entry.event->probability;
      } else {
        latest.active_alerts.erase(entry.event->rule);
      }
    } else if (entry.type == ivs::pipeline::ResultType::kCaption) {
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

std::string OverlayState::visible_text(const OverlaySettings& settings, GstClockTime now) const {
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

std::string OverlayState::alert_text() const {
  std::string text;
  for (const auto& [rule, probability] : latest.active_alerts) {
    char score[32];
    std::snprintf(score, sizeof(score), "  %.2f", probability);
    if (!text.empty()) text += '\n';
    text += "ALERT " + rule + score;
  }
  return text;
}

// The background box, then the text as a black outline and white fill, into premultiplied
// native-endian ARGB32: exactly GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB (BGRA on
// little-endian).
GstBuffer* OverlayState::render_box(int box_width, int box_height, const PangoRectangle& logical,
                                    const double background[4]) {
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
  cairo_set_source_rgba(cr, background[0], background[1], background[2], background[3]);
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

bool OverlayState::update_composition(const OverlaySettings& settings, const std::string& text,
                                      const std::string& alerts) {
  if (composition != nullptr && text == drawn_text && alerts == drawn_alerts &&
      settings.position == drawn_position && settings.font_desc == applied_font) {
    return true;
  }
  drop_composition();
  if (settings.font_desc != applied_font) {
    PangoFontDescription* desc = pango_font_description_from_string(settings.font_desc.c_str());
    pango_layout_set_font_description(layout, desc);
    pango_font_description_free(desc);
    applied_font = settings.font_desc;
  }
  static const double kLabelsBackground[4] = {0.0, 0.0, 0.0, 0.6};
  static const double kAlertBackground[4] = {0.75, 0.0, 0.0, 0.8};
  std::vector<GstVideoOverlayRectangle*> rectangles;
  if (!text.empty()) {
    if (auto* box = make_box(text, settings.position, kLabelsBackground)) rectangles.push_back(box);
  }
  if (!alerts.empty()) {
    // The same side, the other edge: top when the labels are at the bottom, and the reverse.
    const bool left = settings.position == GST_INTERNVL_OVERLAY_POSITION_TOP_LEFT ||
                      settings.position == GST_INTERNVL_OVERLAY_POSITION_BOTTOM_LEFT;
    const bool top = settings.position == GST_INTERNVL_OVERLAY_POSITION_TOP_LEFT ||
                     settings.position == GST_INTERNVL_OVERLAY_POSITION_TOP_RIGHT;
    const auto corner = top ? (left ? GST_INTERNVL_OVERLAY_POSITION_BOTTOM_LEFT
                                    : GST_INTERNVL_OVERLAY_POSITION_BOTTOM_RIGHT)
                            : (left ? GST_INTERNVL_OVERLAY_POSITION_TOP_LEFT
                                    : GST_INTERNVL_OVERLAY_POSITION_TOP_RIGHT);
    if (auto* box = make_box(alerts, corner, kAlertBackground)) rectangles.push_back(box);
  }
  if (rectangles.empty()) return false;
  composition = gst_video_overlay_composition_new(rectangles[0]);
  for (size_t i = 1; i < rectangles.size(); ++i)
    gst_video_overlay_composition_add_rectangle(composition, rectangles[i]);
  for (auto* rectangle : rectangles) gst_video_overlay_rectangle_unref(rectangle);
  drawn_text = text;
  drawn_alerts = alerts;
  drawn_position = settings.position;
  return true;
}

GstVideoOverlayRectangle* OverlayState::make_box(const std::string& text,
                                                 GstInternVLOverlayPosition position,
                                                 const double background[4]) {
  const int text_width = frame_width - 2 * (kMargin + kPadding + kOutline);
  if (text_width <= 0 || frame_height <= 2 * kMargin) return nullptr;  // frame too small
  pango_layout_set_width(layout, text_width * PANGO_SCALE);
  pango_layout_set_text(layout, text.c_str(), -1);
  PangoRectangle ink;
  PangoRectangle logical;
  pango_layout_get_pixel_extents(layout, &ink, &logical);
  const int box_width =
      std::min(logical.width + 2 * (kPadding + kOutline), frame_width - 2 * kMargin);
  const int box_height = std::min(logical.height + 2 * kPadding, frame_height - 2 * kMargin);
  if (box_width <= 0 || box_height <= 0) return nullptr;
  const bool left = position == GST_INTERNVL_OVERLAY_POSITION_TOP_LEFT ||
                    position == GST_INTERNVL_OVERLAY_POSITION_BOTTOM_LEFT;
  const bool top = position == GST_INTERNVL_OVERLAY_POSITION_TOP_LEFT ||
                   position == GST_INTERNVL_OVERLAY_POSITION_TOP_RIGHT;
  const int x = left ? kMargin : frame_width - kMargin - box_width;
  const int y = top ? kMargin : frame_height - kMargin - box_height;
  GstBuffer* pixels = render_box(box_width, box_height, logical, background);
  if (pixels == nullptr) return nullptr;
  GstVideoOverlayRectangle* rectangle = gst_video_overlay_rectangle_new_raw(
      pixels, x, y, static_cast<guint>(box_width), static_cast<guint>(box_height),
      GST_VIDEO_OVERLAY_FORMAT_FLAG_PREMULTIPLIED_ALPHA);
  gst_buffer_unref(pixels);
  return rectangle;
}

}  // namespace ivs::plugins
