// SPDX-License-Identifier: Apache-2.0
#include "plugins/internvl/frame_holder.h"

#include <exception>

namespace ivs::plugins {
namespace {

void push_all(GstBaseTransform* trans, const std::vector<GstBuffer*>& buffers) {
  for (GstBuffer* buffer : buffers) {
    const GstFlowReturn ret = gst_pad_push(GST_BASE_TRANSFORM_SRC_PAD(trans), buffer);
    if (ret != GST_FLOW_OK) {
      GST_DEBUG_OBJECT(trans, "pushing a held frame: %s", gst_flow_get_name(ret));
    }
  }
}

}  // namespace

GstFlowReturn generate_through_holder(GstBaseTransform* trans, GstBaseTransformClass* parent_class,
                                      FrameHolder* holder, GstBuffer** outbuf) {
  GstBuffer* produced = nullptr;
  const GstFlowReturn ret = parent_class->generate_output(trans, &produced);
  if (holder == nullptr || ret != GST_FLOW_OK) {
    *outbuf = produced;
    return ret;
  }
  *outbuf = produced != nullptr ? holder->queue_frame(produced) : holder->next_frame();
  return GST_FLOW_OK;
}

void holder_sink_event(GstBaseTransform* trans, FrameHolder* holder, GstEvent* event) {
  if (holder == nullptr) return;
  try {
    if (GST_EVENT_TYPE(event) == GST_EVENT_FLUSH_STOP) {
      holder->flush();
    } else if (GST_EVENT_TYPE(event) == GST_EVENT_EOS) {
      push_all(trans, holder->finish());
    } else if (GST_EVENT_IS_SERIALIZED(event)) {
      push_all(trans, holder->release_all());
    }
  } catch (const std::exception& e) {  // no exception crosses a vfunc; the event still goes on
    GST_WARNING_OBJECT(trans, "handling %s: %s", GST_EVENT_TYPE_NAME(event), e.what());
  }
}

}  // namespace ivs::plugins
