// SPDX-License-Identifier: Apache-2.0
// The negotiated frame format of an inference element and how one of its frames becomes engine
// input. Streaming thread only (the preprocessor caches a converter).
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

#include "model/common/clip_image_processor.h"
#include "pipeline/frame_preprocess.h"
#include "plugins/internvl/cuda_memory.h"

namespace ivs::plugins {

class FrameIntake {
 public:
  /// `config` and `mode`: how the model's processor resizes (captions squash, zero-shot crops).
  explicit FrameIntake(model::ImageProcessorConfig config,
                       model::ResizeMode mode = model::ResizeMode::kShortestEdgeCrop)
      : preprocessor_(std::move(config), mode) {
    gst_video_info_init(&info_);
  }

  /// New caps; false when the format is not one the elements read.
  bool set_caps(GstCaps* caps);
  bool has_caps() const { return have_info_; }

  /// The engine input for `buffer`: NV12 in CUDA memory stays where it is (the engine, on CUDA
  /// device `cuda_device`, preprocesses it on the GPU); anything else is preprocessed here.
  /// Throws as frame_input().
  FrameInput input(GstBuffer* buffer, int cuda_device) {
    return frame_input(buffer, info_, cuda_memory_, cuda_device, preprocessor_);
  }

 private:
  pipeline::FramePreprocessor preprocessor_;
  GstVideoInfo info_;
  bool have_info_ = false;
  bool cuda_memory_ = false;  // NV12 in CUDA memory: the engine preprocesses it in place
};

}  // namespace ivs::plugins
