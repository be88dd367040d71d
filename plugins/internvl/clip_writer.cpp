// SPDX-License-Identifier: Apache-2.0
#include "plugins/internvl/clip_writer.h"

#include <gst/app/gstappsrc.h>

#include <algorithm>
#include <stdexcept>

namespace ivs::plugins {
namespace {

struct NeededElement {
  const char* factory;
  const char* package;
};
const NeededElement kNeeded[] = {
    {"appsrc", "gstreamer1.0-plugins-base"},   {"h264parse", "gstreamer1.0-plugins-bad"},
    {"h265parse", "gstreamer1.0-plugins-bad"}, {"mp4mux", "gstreamer1.0-plugins-good"},
    {"filesink", "libgstreamer1.0-0"},
};

// A new element of `factory` in `bin` (which owns it), or nullptr when not installed.
GstElement* add(GstElement* bin, const char* factory) {
  GstElement* element = gst_element_factory_make(factory, nullptr);
  if (element != nullptr) gst_bin_add(GST_BIN(bin), element);
  return element;
}

GstClockTime rebased(GstClockTime time, GstClockTime offset) {
  if (!GST_CLOCK_TIME_IS_VALID(time)) return time;
  return time > offset ? time - offset : 0;
}

}  // namespace

const char* clip_parser_for(const GstCaps* caps, std::string* problem) {
  const GstStructure* s =
      caps != nullptr && gst_caps_get_size(caps) > 0 ? gst_caps_get_structure(caps, 0) : nullptr;
  const char* name = s != nullptr ? gst_structure_get_name(s) : "";
  const char* parser = g_str_equal(name, "video/x-h264")   ? "h264parse"
                       : g_str_equal(name, "video/x-h265") ? "h265parse"
                                                           : nullptr;
  const char* alignment = s != nullptr ? gst_structure_get_string(s, "alignment") : nullptr;
  const char* format = s != nullptr ? gst_structure_get_string(s, "stream-format") : nullptr;
  if (parser == nullptr) {
    *problem = std::string("internvlrecord records H.264 or H.265 without re-encoding, not ") +
               name + ": tee the stream off after the parser, before the decoder";
    return nullptr;
  }
  if (alignment == nullptr || format == nullptr || !g_str_equal(alignment, "au")) {
    *problem = std::string("internvlrecord needs parsed ") + name +
               " with alignment=au and a stream-format: put " + parser + " before it";
    return nullptr;
  }
  return parser;
}

void check_clip_elements() {
  for (const auto& needed : kNeeded) {
    GstElementFactory* factory = gst_element_factory_find(needed.factory);
    if (factory == nullptr) {
      throw std::runtime_error(std::string("GStreamer element ") + needed.factory +
                               " is not installed; internvlrecord writes clips with it (Debian "
                               "package " +
                               needed.package + ")");
    }
    gst_object_unref(factory);
  }
}

ClipWriter::ClipWriter(const std::string& path, GstCaps* caps) : path_(path) {
  std::string problem;
  const char* parser_name = clip_parser_for(caps, &problem);
  if (parser_name == nullptr) throw std::runtime_error(problem);
  pipeline_ = gst_pipeline_new(nullptr);
  gst_object_ref_sink(pipeline_);
  src_ = add(pipeline_, "appsrc");
  GstElement* parser = add(pipeline_, parser_name);
  GstElement* mux = add(pipeline_, "mp4mux");
  GstElement* sink = add(pipeline_, "filesink");
  std::string error;
  if (src_ == nullptr || parser == nullptr || mux == nullptr || sink == nullptr) {
    error =
        "an element is not installed (appsrc, " + std::string(parser_name) + ", mp4mux, filesink)";
  } else {
    g_object_set(src_, "caps", caps, "format", GST_FORMAT_TIME, nullptr);
    g_object_set(sink, "location", path.c_str(), nullptr);
    if (!gst_element_link_many(src_, parser, mux, sink, nullptr)) {
      error = "cannot link appsrc ! " + std::string(parser_name) + " ! mp4mux ! filesink";
    } else if (gst_element_set_state(pipeline_, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
      error = wait(0);
    }
  }
  if (!error.empty()) {
    gst_element_set_state(pipeline_, GST_STATE_NULL);
    gst_object_unref(pipeline_);
    pipeline_ = nullptr;
    throw std::runtime_error("cannot write " + path + ": " + error);
  }
}

ClipWriter::~ClipWriter() {
  if (pipeline_ == nullptr) return;
  gst_element_set_state(pipeline_, GST_STATE_NULL);
  gst_object_unref(pipeline_);
}

void ClipWriter::write(GstBuffer* buffer) {
  if (offset_ == GST_CLOCK_TIME_NONE) {
    // The first decode time, when there is one: with B-frames it comes before the first
    // presentation time, and no timestamp may go below 0.
    offset_ = GST_BUFFER_DTS_OR_PTS(buffer);
    if (!GST_CLOCK_TIME_IS_VALID(offset_)) offset_ = 0;
  }
  GstBuffer* copy = gst_buffer_copy(buffer);
  GST_BUFFER_PTS(copy) = rebased(GST_BUFFER_PTS(buffer), offset_);
  GST_BUFFER_DTS(copy) = rebased(GST_BUFFER_DTS(buffer), offset_);
  const GstClockTime pts = GST_BUFFER_PTS(copy);
  if (GST_CLOCK_TIME_IS_VALID(pts)) {
    first_pts_ = GST_CLOCK_TIME_IS_VALID(first_pts_) ? std::min(first_pts_, pts) : pts;
    const GstClockTime duration = GST_BUFFER_DURATION(copy);
    end_pts_ = std::max(end_pts_, pts + (GST_CLOCK_TIME_IS_VALID(duration) ? duration : 0));
  }
  gst_app_src_push_buffer(GST_APP_SRC(src_), copy);  // takes the copy
}

void ClipWriter::end() { gst_app_src_end_of_stream(GST_APP_SRC(src_)); }

std::string ClipWriter::wait(GstClockTime timeout) {
  GstBus* bus = gst_element_get_bus(pipeline_);
  GstMessage* message = gst_bus_timed_pop_filtered(
      bus, timeout, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  gst_object_unref(bus);
  if (message == nullptr) return "not complete in time";
  std::string result;
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
    GError* error = nullptr;
    gchar* debug = nullptr;
    gst_message_parse_error(message, &error, &debug);
    result =
        std::string(error->message) + (debug != nullptr ? std::string(" (") + debug + ")" : "");
    g_error_free(error);
    g_free(debug);
  }
  gst_message_unref(message);
  return result;
}

uint64_t ClipWriter::duration_ns() const {
  return GST_CLOCK_TIME_IS_VALID(first_pts_) ? end_pts_ - first_pts_ : 0;
}

}  // namespace ivs::plugins
