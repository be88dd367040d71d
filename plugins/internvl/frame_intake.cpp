// SPDX-License-Identifier: Apache-2.0
#include "plugins/internvl/frame_intake.h"

namespace ivs::plugins {

bool FrameIntake::set_caps(GstCaps* caps) {
  GstVideoInfo info;
  if (!gst_video_info_from_caps(&info, caps) ||
      !pipeline::frame_preprocess_supports(GST_VIDEO_INFO_FORMAT(&info))) {
    return false;
  }
  info_ = info;
  have_info_ = true;
  cuda_memory_ = nv12_picture_caps(caps, info);
  preprocessor_.reset();
  return true;
}

}  // namespace ivs::plugins
