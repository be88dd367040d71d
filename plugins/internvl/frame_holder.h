// SPDX-License-Identifier: Apache-2.0
// The running state of an in-place element that may hold frames back for a while
// (internvlcaption: the newest frame of a non-live stream while a caption runs; internvlalert:
// the newest frame while an event is active), so that the end of the stream still has a frame
// to carry what is pending. The GstBaseTransform shell delegates to it with the two functions
// below.
#pragma once

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>

#include <vector>

namespace ivs::plugins {

class FrameHolder {
 public:
  virtual ~FrameHolder() = default;
  /// A frame that passed transform_ip; returns the frame that may leave now (or null), oldest
  /// first.
  virtual GstBuffer* queue_frame(GstBuffer* buffer) = 0;
  /// The next frame that may leave (null when none), after queue_frame returned one.
  virtual GstBuffer* next_frame() = 0;
  /// End of stream: what is pending goes onto the held frames as it can; all of them leave.
  virtual std::vector<GstBuffer*> finish() = 0;
  /// Before a serialized event: every held frame leaves, so the order stays as it came in.
  virtual std::vector<GstBuffer*> release_all() = 0;
  /// A flush: held frames and pending work are dropped.
  virtual void flush() = 0;
};

/// generate_output of such an element: the parent's (which runs transform_ip) then the holder.
/// BaseTransform calls it again while it returns a buffer, so every frame not held leaves.
GstFlowReturn generate_through_holder(GstBaseTransform* trans, GstBaseTransformClass* parent_class,
                                      FrameHolder* holder, GstBuffer** outbuf);

/// The holder's part of sink_event (flush stop, EOS, serialized events); call before the
/// parent's sink_event, which then forwards `event`.
void holder_sink_event(GstBaseTransform* trans, FrameHolder* holder, GstEvent* event);

}  // namespace ivs::plugins
