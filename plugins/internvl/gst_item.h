// SPDX-License-Identifier: Apache-2.0
// One owned buffer or event waiting in a result scheduler (pipeline/scheduling/): it is
// unreffed unless taken, so a flush or a stop that drops the queue leaks nothing.
#pragma once

#include <gst/gst.h>

#include <utility>

namespace ivs::plugins {

class GstItem {
 public:
  GstItem() = default;
  explicit GstItem(GstBuffer* buffer) : object_(GST_MINI_OBJECT_CAST(buffer)) {}
  explicit GstItem(GstEvent* event) : object_(GST_MINI_OBJECT_CAST(event)) {}
  GstItem(GstItem&& other) noexcept : object_(std::exchange(other.object_, nullptr)) {}
  GstItem& operator=(GstItem&& other) noexcept {
    std::swap(object_, other.object_);
    return *this;
  }
  GstItem(const GstItem&) = delete;
  GstItem& operator=(const GstItem&) = delete;
  ~GstItem() {
    if (object_ != nullptr) gst_mini_object_unref(object_);
  }

  bool is_buffer() const { return object_ != nullptr && GST_IS_BUFFER(object_); }
  /// The buffer, made writable (for metadata); still owned by this item.
  GstBuffer* writable_buffer() {
    object_ = GST_MINI_OBJECT_CAST(gst_buffer_make_writable(GST_BUFFER_CAST(object_)));
    return GST_BUFFER_CAST(object_);
  }
  /// Gives up ownership.
  GstBuffer* take_buffer() { return GST_BUFFER_CAST(std::exchange(object_, nullptr)); }
  GstEvent* take_event() { return GST_EVENT_CAST(std::exchange(object_, nullptr)); }

 private:
  GstMiniObject* object_ = nullptr;
};

}  // namespace ivs::plugins
