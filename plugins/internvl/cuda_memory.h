// SPDX-License-Identifier: Apache-2.0
// NVDEC frames in place: NV12 in CUDA memory (caps feature memory:CUDAMemory) handed to the Engine
// as an Nv12Picture on the device, with no copy through the host. Built with GStreamer's CUDA
// library (gstreamer-cuda-1.0, Debian's libgstreamer-plugins-bad1.0-dev) and the CUDA kernels;
// without them IVS_HAVE_GST_CUDA is 0, the pad templates offer system memory only and the
// functions below answer "no".
//
// The decoder and the engine must share one CUDA context: an element answers the decoder's
// "gst.cuda.context" query with a GstCudaContext that wraps the primary context of the engine's
// device (the one LibTorch and our kernels use). A frame from another context (an application set
// its own) is downloaded instead, so it is still read correctly.
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

#include <atomic>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "pipeline/engine/engine.h"
#include "pipeline/frame_preprocess.h"

#ifndef IVS_HAVE_GST_CUDA
#define IVS_HAVE_GST_CUDA 0
#endif

/// The caps an InternVL element's pads take: NV12 in CUDA memory first (preferred, where this
/// build reads it), then the system-memory formats of FramePreprocessor.
#if IVS_HAVE_GST_CUDA
#define IVS_FRAME_CAPS                                           \
  GST_VIDEO_CAPS_MAKE_WITH_FEATURES("memory:CUDAMemory", "NV12") \
  "; " GST_VIDEO_CAPS_MAKE(IVS_FRAME_PREPROCESS_FORMATS)
#else
#define IVS_FRAME_CAPS GST_VIDEO_CAPS_MAKE(IVS_FRAME_PREPROCESS_FORMATS)
#endif

namespace ivs::plugins {

/// The caps feature of NVDEC's output: "memory:CUDAMemory".
inline constexpr const char* kCudaMemoryFeature = "memory:CUDAMemory";

/// Whether any structure of `caps` has the CUDA memory feature.
bool caps_have_cuda_memory(const GstCaps* caps);

/// `caps` without its CUDA memory structures (the structures an engine that cannot read CUDA
/// memory must not offer). Takes ownership of `caps`; transfer full.
GstCaps* caps_without_cuda_memory(GstCaps* caps);

/// The CUDA device an element's `device` property names: 0 for "auto" and "cuda", N for
/// "cuda:N", -1 for "cpu" (or anything else).
int cuda_device_of(const std::string& device_property);

/// Answers a "gst.cuda.context" context query with the primary context of `device` (see the
/// file comment). False for another query, for device -1, and where CUDA is unusable (no build
/// support, no driver, no device), so that the decoder makes its own context as usual.
bool handle_cuda_context_query(GstElement* element, GstQuery* query, int device);

/// The layout of `buffer`'s planes: `info`, or for CUDA memory without a video meta the memory's
/// own pitches and offsets (pitched allocations).
GstVideoInfo frame_layout(GstBuffer* buffer, const GstVideoInfo& info);

/// Posts the CUDA context of `device` (see the file comment) for the pipeline to cache, so that
/// decoders added later (by decodebin, before their pads are linked to this element) use it too.
/// Nothing where CUDA is unusable. Call once the engine is known to take CUDA memory.
void announce_cuda_context(GstElement* element, int device);

/// One sampled frame as the engine takes it: NV12 in CUDA memory of even size (see
/// nv12_picture_caps) as an Nv12Picture, in place when it is in the engine's CUDA context; any
/// other frame (CUDA memory then downloaded) as pixels from `preprocessor`. Throws
/// std::runtime_error when the frame cannot be mapped, and whatever preprocessing throws.
using FrameInput = std::variant<pipeline::Nv12Picture, std::vector<float>>;
FrameInput frame_input(GstBuffer* buffer, const GstVideoInfo& info, bool nv12_picture, int device,
                       pipeline::FramePreprocessor& preprocessor);

/// Whether frames of these caps go to the engine as Nv12Picture: NV12 in CUDA memory of even
/// size (4:2:0 of odd sizes is downloaded and converted like system memory instead).
bool nv12_picture_caps(const GstCaps* caps, const GstVideoInfo& info);

/// The NV12 frame in `buffer` (CUDA memory, caps `info`) as a picture for the engine on
/// `device`: its planes in place when the memory belongs to the device's primary context, else
/// downloaded to host memory. The picture keeps the buffer mapped until the engine drops it.
/// nullopt when the buffer cannot be mapped.
std::optional<pipeline::Nv12Picture> map_cuda_nv12(GstBuffer* buffer, const GstVideoInfo& info,
                                                   int device);

/// Whether an element takes CUDA memory while it negotiates: before its engine exists (READY) the
/// device property as the engine will resolve it decides ("cpu", and "auto" without a CUDA
/// LibTorch, do not), afterwards whether the engine takes CUDA memory (it is on CUDA and this
/// build has the kernels). Thread-safe: pad queries read it.
class CudaFramePolicy {
 public:
  /// The element's device property ("auto", "cpu", "cuda"); call at init and on every change.
  void set_device_property(const std::string& device);
  /// The element's engine once started; null once stopped.
  void set_engine(const pipeline::Engine* engine) {
    engine_ =
        engine == nullptr ? kNoEngine : (engine->takes_cuda_memory() ? engine->cuda_device() : -1);
  }
  /// The CUDA device the frames should be on; -1 when the element takes system memory only.
  int device() const {
    const int engine = engine_;
    return engine != kNoEngine ? engine : (IVS_HAVE_GST_CUDA ? property_.load() : -1);
  }
  bool takes_cuda_memory() const { return device() >= 0; }
  /// Whether accept-caps must refuse `caps`: CUDA memory the element does not take.
  bool refuses(const GstCaps* caps) const {
    return caps_have_cuda_memory(caps) && !takes_cuda_memory();
  }

 private:
  static constexpr int kNoEngine = -2;
  std::atomic<int> property_{-1};
  std::atomic<int> engine_{kNoEngine};
};

/// After the default handling of a CAPS query: drops CUDA memory from its result when the policy
/// does not take it. Other queries are left alone.
void filter_caps_result(GstQuery* query, const CudaFramePolicy& policy);

}  // namespace ivs::plugins
