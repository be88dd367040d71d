// SPDX-License-Identifier: Apache-2.0
#include "plugins/internvl/cuda_memory.h"

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "pipeline/context_lookup.h"

#if IVS_HAVE_GST_CUDA
#define GST_USE_UNSTABLE_API  // gstreamer-cuda-1.0 is an "unstable" library in 1.22
#include <gst/cuda/gstcudacontext.h>
#include <gst/cuda/gstcudaloader.h>
#include <gst/cuda/gstcudamemory.h>
#include <gst/cuda/gstcudautils.h>

#include "model/cuda/nv12_gpu.h"
#endif

GST_DEBUG_CATEGORY_STATIC(ivs_cuda_memory_debug);
#define GST_CAT_DEFAULT ivs_cuda_memory_debug

namespace ivs::plugins {
namespace {

void init_debug_category() {
  static const bool done = [] {
    GST_DEBUG_CATEGORY_INIT(ivs_cuda_memory_debug, "internvlcuda", 0,
                            "InternVL NV12 frames in CUDA memory");
    return true;
  }();
  (void)done;
}

}  // namespace

bool caps_have_cuda_memory(const GstCaps* caps) {
  for (guint i = 0; caps != nullptr && i < gst_caps_get_size(caps); ++i) {
    const GstCapsFeatures* features = gst_caps_get_features(caps, i);
    if (features != nullptr && gst_caps_features_contains(features, kCudaMemoryFeature))
      return true;
  }
  return false;
}

GstCaps* caps_without_cuda_memory(GstCaps* caps) {
  if (!caps_have_cuda_memory(caps)) return caps;
  caps = gst_caps_make_writable(caps);
  for (guint i = gst_caps_get_size(caps); i-- > 0;) {
    const GstCapsFeatures* features = gst_caps_get_features(caps, i);
    if (features != nullptr && gst_caps_features_contains(features, kCudaMemoryFeature)) {
      gst_caps_remove_structure(caps, i);
    }
  }
  return caps;
}

namespace {

// Maps the frame (with GST_MAP_CUDA: device pointers of CUDA memory; without: system memory, a
// download for CUDA memory) and keeps it mapped, with a reference to the buffer, in the keepalive.
std::optional<pipeline::Nv12Picture> map_picture(GstBuffer* buffer, const GstVideoInfo& info,
                                                 bool device_pointers) {
  auto frame = std::make_unique<GstVideoFrame>();
#if IVS_HAVE_GST_CUDA
  const auto flags = static_cast<GstMapFlags>(GST_MAP_READ | (device_pointers ? GST_MAP_CUDA : 0));
#else
  const auto flags = GST_MAP_READ;
#endif
  if (!gst_video_frame_map(frame.get(), &info, buffer, flags)) return std::nullopt;
  std::shared_ptr<GstVideoFrame> mapped(frame.release(), [](GstVideoFrame* f) {
    gst_video_frame_unmap(f);
    delete f;
  });
  pipeline::Nv12Picture picture;
  picture.planes = pipeline::nv12_view(*mapped);  // throws for another format; `mapped` unmaps
  picture.matrix = pipeline::yuv_matrix_for(info);
  picture.cuda_memory = device_pointers;
  picture.keepalive = std::move(mapped);
  return picture;
}

}  // namespace

bool nv12_picture_caps(const GstCaps* caps, const GstVideoInfo& info) {
  return caps_have_cuda_memory(caps) && GST_VIDEO_INFO_FORMAT(&info) == GST_VIDEO_FORMAT_NV12 &&
         GST_VIDEO_INFO_WIDTH(&info) % 2 == 0 && GST_VIDEO_INFO_HEIGHT(&info) % 2 == 0;
}

void CudaFramePolicy::set_device_property(const std::string& device) {
  // As the engine will resolve it: "auto" is the CPU where LibTorch has no CUDA, so no GPU
  // context is made for a decoder whose frames the engine could not read.
  try {
    property_ = cuda_device_of(pipeline::Engine::canonical_key({".", device, "auto"}).device);
  } catch (const std::exception&) {
    property_ = -1;
  }
}

int cuda_device_of(const std::string& device_property) {
  if (device_property == "auto" || device_property == "cuda") return 0;
  if (device_property.rfind("cuda:", 0) != 0) return -1;
  char* end = nullptr;
  const long index = std::strtol(device_property.c_str() + 5, &end, 10);
  return end != nullptr && *end == '\0' && index >= 0 ? static_cast<int>(index) : -1;
}

FrameInput frame_input(GstBuffer* buffer, const GstVideoInfo& info, bool nv12_picture, int device,
                       pipeline::FramePreprocessor& preprocessor) {
  if (nv12_picture) {
    auto picture = map_cuda_nv12(buffer, info, device);
    if (!picture) throw std::runtime_error("could not map the frame for reading");
    return std::move(*picture);
  }
  const GstVideoInfo layout = frame_layout(buffer, info);
  GstVideoFrame frame;
  if (!gst_video_frame_map(&frame, &layout, buffer, GST_MAP_READ)) {
    throw std::runtime_error("could not map the frame for reading");
  }
  std::vector<float> pixels;
  try {
    pixels = preprocessor.preprocess(frame);
  } catch (...) {
    gst_video_frame_unmap(&frame);
    throw;
  }
  gst_video_frame_unmap(&frame);
  return pixels;
}

void filter_caps_result(GstQuery* query, const CudaFramePolicy& policy) {
  GstCaps* caps = nullptr;
  if (GST_QUERY_TYPE(query) == GST_QUERY_CAPS) gst_query_parse_caps_result(query, &caps);
  if (caps == nullptr || !caps_have_cuda_memory(caps) || policy.takes_cuda_memory()) return;
  GstCaps* filtered = caps_without_cuda_memory(gst_caps_ref(caps));
  gst_query_set_caps_result(query, filtered);
  gst_caps_unref(filtered);
}

#if IVS_HAVE_GST_CUDA

namespace {

// One wrapped primary context per device for the process, deliberately global: the primary
// context itself is one per device and process (it is what LibTorch and every engine on the
// device use), so every element and decoder on that device must share this one object. Null
// where CUDA is unusable (no driver or device); that answer is kept too, as CUDA does not appear
// later in a running process.
GstCudaContext* shared_cuda_context(int device) {
  init_debug_category();
  static std::mutex lock;
  static std::map<int, GstCudaContext*> contexts;
  std::lock_guard<std::mutex> guard(lock);
  const auto found = contexts.find(device);
  if (found != contexts.end()) return found->second;
  GstCudaContext* context = nullptr;
  if (gst_cuda_load_library()) {
    try {
      auto* primary = static_cast<CUcontext>(model::cuda::primary_cuda_context(device));
      CUdevice handle = 0;
      if (CuDeviceGet(&handle, device) == CUDA_SUCCESS)
        context = gst_cuda_context_new_wrapped(primary, handle);
    } catch (const std::exception& e) {
      GST_WARNING("CUDA device %d unusable for zero-copy frames: %s", device, e.what());
    }
  }
  contexts.emplace(device, context);  // kept for the process: elements and decoders hold it
  return context;
}

}  // namespace

bool handle_cuda_context_query(GstElement* element, GstQuery* query, int device) {
  if (GST_QUERY_TYPE(query) != GST_QUERY_CONTEXT || device < 0) return false;
  const gchar* type = nullptr;
  if (!gst_query_parse_context_type(query, &type) || g_strcmp0(type, GST_CUDA_CONTEXT_TYPE) != 0)
    return false;
  GstCudaContext* context = shared_cuda_context(device);
  return context != nullptr && gst_cuda_handle_context_query(element, query, context);
}

std::optional<pipeline::Nv12Picture> map_cuda_nv12(GstBuffer* buffer, const GstVideoInfo& info,
                                                   int device) {
  GstMemory* memory = gst_buffer_n_memory(buffer) > 0 ? gst_buffer_peek_memory(buffer, 0) : nullptr;
  const bool cuda = memory != nullptr && gst_is_cuda_memory(memory);
  GstCudaContext* shared = cuda && device >= 0 ? shared_cuda_context(device) : nullptr;
  const bool in_place =
      shared != nullptr && gst_cuda_context_get_handle(GST_CUDA_MEMORY_CAST(memory)->context) ==
                               gst_cuda_context_get_handle(shared);
#if GST_CHECK_VERSION(1, 24, 0)
  // From 1.24 a CUDA memory carries the stream that wrote it, and mapping does not wait for it.
  if (in_place) gst_cuda_memory_sync(GST_CUDA_MEMORY_CAST(memory));
#endif
  return map_picture(buffer, frame_layout(buffer, info), in_place);
}

GstVideoInfo frame_layout(GstBuffer* buffer, const GstVideoInfo& info) {
  GstMemory* memory = gst_buffer_n_memory(buffer) > 0 ? gst_buffer_peek_memory(buffer, 0) : nullptr;
  if (memory == nullptr || !gst_is_cuda_memory(memory) ||
      gst_buffer_get_video_meta(buffer) != nullptr)
    return info;
  // No video meta: the planes lie as the CUDA memory's own layout says (pitched allocations; its
  // download keeps that layout), not as the caps' default strides would have them.
  GstVideoInfo layout = info;
  const GstVideoInfo& allocated = GST_CUDA_MEMORY_CAST(memory)->info;
  for (guint plane = 0; plane < GST_VIDEO_INFO_N_PLANES(&layout); ++plane) {
    layout.stride[plane] = allocated.stride[plane];
    layout.offset[plane] = allocated.offset[plane];
  }
  layout.size = allocated.size;
  return layout;
}

void announce_cuda_context(GstElement* element, int device) {
  GstCudaContext* context = device >= 0 ? shared_cuda_context(device) : nullptr;
  if (context != nullptr)
    pipeline::announce_context(element, gst_context_new_cuda_context(context));
}

#else

bool handle_cuda_context_query(GstElement* /*element*/, GstQuery* /*query*/, int /*device*/) {
  return false;
}

std::optional<pipeline::Nv12Picture> map_cuda_nv12(GstBuffer* buffer, const GstVideoInfo& info,
                                                   int /*device*/) {
  return map_picture(buffer, info, false);  // no CUDA caps are offered: system memory
}

GstVideoInfo frame_layout(GstBuffer* /*buffer*/, const GstVideoInfo& info) { return info; }

void announce_cuda_context(GstElement* /*element*/, int /*device*/) {}

#endif

}  // namespace ivs::plugins
