// SPDX-License-Identifier: Apache-2.0
// The negotiation side of NVDEC frames in place (caps memory:CUDAMemory), which runs without a
// GPU: the pad templates, the refusal of CUDA memory by an engine that cannot read it (so that
// decodebin / nvh264dec fall back to system memory), the context query, and the mapping helper
// on system memory. Reading real CUDA frames needs a GPU and nvcodec (see tests/bench/gpu/).
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "plugins/internvl/cuda_memory.h"
#if IVS_HAVE_GST_CUDA
#define GST_USE_UNSTABLE_API
#include <gst/cuda/gstcudacontext.h>

#include "model/cuda/nv12_gpu.h"
#endif
#include "plugins/internvl/gstinternvlcaption.h"
#include "plugins/internvl/gstinternvlclassify.h"
#include "pipeline/engine/engine.h"
#include "tests/common/test_paths.h"

namespace {

using ivs::plugins::caps_have_cuda_memory;

constexpr const char* kCudaCaps =
    "video/x-raw(memory:CUDAMemory),format=NV12,width=64,height=48,framerate=30/1";
constexpr const char* kSystemCaps = "video/x-raw,format=NV12,width=64,height=48,framerate=30/1";

void register_elements() {
  static const bool registered = [] {
    gst_init(nullptr, nullptr);
    return GST_ELEMENT_REGISTER(internvlclassify, nullptr) == TRUE &&
           GST_ELEMENT_REGISTER(internvlcaption, nullptr) == TRUE;
  }();
  ASSERT_TRUE(registered);
}

// device: 0 auto, 1 cpu (both elements' enums).
GstElement* make(const char* factory, int device) {
  GstElement* e = gst_element_factory_make(factory, nullptr);
  g_object_set(e, "model", ivs::test::internvl_tiny_dir().c_str(), "device", device, nullptr);
  if (std::string(factory) == "internvlclassify") g_object_set(e, "labels", "a;b", nullptr);
  return e;
}

bool sink_caps_offer_cuda(GstElement* e) {
  GstPad* sink = gst_element_get_static_pad(e, "sink");
  GstCaps* caps = gst_pad_query_caps(sink, nullptr);
  const bool cuda = caps_have_cuda_memory(caps);
  gst_caps_unref(caps);
  gst_object_unref(sink);
  return cuda;
}

bool sink_accepts(GstElement* e, const char* caps_string) {
  GstPad* sink = gst_element_get_static_pad(e, "sink");
  GstCaps* caps = gst_caps_from_string(caps_string);
  const bool ok = gst_pad_query_accept_caps(sink, caps);
  gst_caps_unref(caps);
  gst_object_unref(sink);
  return ok;
}

TEST(CudaMemoryTest, pad_templates_offer_nv12_in_cuda_memory_first_where_built) {
  register_elements();
  for (const char* factory : {"internvlclassify", "internvlcaption"}) {
    GstElementFactory* f = gst_element_factory_find(factory);
    ASSERT_NE(f, nullptr);
    for (const GList* t = gst_element_factory_get_static_pad_templates(f); t != nullptr;
         t = t->next) {
      auto* templ = static_cast<GstStaticPadTemplate*>(t->data);
      GstCaps* caps = gst_static_caps_get(&templ->static_caps);
      EXPECT_EQ(caps_have_cuda_memory(caps), IVS_HAVE_GST_CUDA != 0)
          << factory << " " << templ->name_template;
      if (IVS_HAVE_GST_CUDA) {
        EXPECT_TRUE(
            gst_caps_features_contains(gst_caps_get_features(caps, 0), "memory:CUDAMemory"));
        EXPECT_STREQ(gst_structure_get_string(gst_caps_get_structure(caps, 0), "format"), "NV12");
      }
      GstCaps* system = gst_caps_from_string(kSystemCaps);
      EXPECT_TRUE(gst_caps_can_intersect(caps, system)) << factory;
      gst_caps_unref(system);
      gst_caps_unref(caps);
    }
    gst_object_unref(f);
  }
}

TEST(CudaMemoryTest, device_cpu_or_a_cpu_engine_leaves_cuda_memory_out_of_negotiation) {
  register_elements();
  INTERNVL_REQUIRE_PATH(ivs::test::internvl_tiny_dir() / "config.json");
  for (const char* factory : {"internvlclassify", "internvlcaption"}) {
    SCOPED_TRACE(factory);
    // Before the engine exists the device property decides.
    GstElement* cpu = make(factory, 1);
    EXPECT_FALSE(sink_caps_offer_cuda(cpu));
    EXPECT_FALSE(sink_accepts(cpu, kCudaCaps));
    EXPECT_TRUE(sink_accepts(cpu, kSystemCaps));
    gst_object_unref(cpu);
    // "auto" as the engine will resolve it: the CPU where LibTorch has no CUDA (as here).
    GstElement* automatic = make(factory, 0);
    const bool auto_is_cuda =
        ivs::pipeline::Engine::canonical_key({".", "auto", "auto"}).device != "cpu";
    EXPECT_EQ(sink_caps_offer_cuda(automatic), IVS_HAVE_GST_CUDA != 0 && auto_is_cuda);
    gst_object_unref(automatic);
    // Started on a CPU engine, which cannot read CUDA memory: nvh264dec must download (or
    // decodebin pick a system-memory decoder).
    GstElement* started = make(factory, 1);
    GstHarness* h = gst_harness_new_with_element(started, "sink", "src");
    gst_harness_play(h);
    EXPECT_FALSE(sink_caps_offer_cuda(started));
    EXPECT_FALSE(sink_accepts(started, kCudaCaps));
    EXPECT_TRUE(sink_accepts(started, kSystemCaps));
    gst_harness_set_src_caps_str(h, kCudaCaps);
    GstBuffer* frame = gst_buffer_new_allocate(nullptr, 64 * 48 * 3 / 2, nullptr);
    EXPECT_EQ(gst_harness_push(h, frame), GST_FLOW_NOT_NEGOTIATED);
    gst_harness_teardown(h);
    gst_object_unref(started);
  }
}

TEST(CudaMemoryTest, the_cuda_context_query_is_answered_only_where_a_gpu_is) {
  register_elements();
  GstElement* e = make("internvlclassify", 0);
  GstPad* sink = gst_element_get_static_pad(e, "sink");
  GstQuery* query = gst_query_new_context("gst.cuda.context");
  const bool answered = gst_pad_query(sink, query);
  GstContext* context = nullptr;
  gst_query_parse_context(query, &context);
  // With a GPU the engine would use (this build's CUDA support, a CUDA LibTorch) the answer wraps
  // the device's primary context; elsewhere the decoder makes its own context as usual.
  const bool auto_is_cuda =
      ivs::pipeline::Engine::canonical_key({".", "auto", "auto"}).device != "cpu";
#if IVS_HAVE_GST_CUDA
  const bool gpu = auto_is_cuda && ivs::model::cuda::cuda_device_available();
#else
  const bool gpu = false;
#endif
  EXPECT_EQ(answered, gpu);
  EXPECT_EQ(context != nullptr, gpu);
#if IVS_HAVE_GST_CUDA
  if (context != nullptr) {
    GstCudaContext* cuda = nullptr;
    ASSERT_TRUE(gst_structure_get(gst_context_get_structure(context), "gst.cuda.context",
                                  GST_TYPE_CUDA_CONTEXT, &cuda, nullptr));
    EXPECT_EQ(gst_cuda_context_get_handle(cuda), ivs::model::cuda::primary_cuda_context(0));
    gst_object_unref(cuda);
  }
#endif
  gst_query_unref(query);
  // Another context type, or device cpu, is never answered by it.
  GstQuery* other = gst_query_new_context("gst.gl.GLDisplay");
  EXPECT_FALSE(ivs::plugins::handle_cuda_context_query(e, other, 0));
  gst_query_unref(other);
  GstQuery* cpu = gst_query_new_context("gst.cuda.context");
  EXPECT_FALSE(ivs::plugins::handle_cuda_context_query(e, cpu, -1));
  gst_query_unref(cpu);
  gst_object_unref(sink);
  gst_object_unref(e);
}

TEST(CudaMemoryTest, only_even_sized_nv12_in_cuda_memory_goes_to_the_engine_in_place) {
  register_elements();
  auto in_place = [](const char* caps_string) {
    GstCaps* caps = gst_caps_from_string(caps_string);
    GstVideoInfo info;
    EXPECT_TRUE(gst_video_info_from_caps(&info, caps)) << caps_string;
    const bool result = ivs::plugins::nv12_picture_caps(caps, info);
    gst_caps_unref(caps);
    return result;
  };
  EXPECT_TRUE(in_place(kCudaCaps));
  EXPECT_FALSE(in_place(kSystemCaps));
  // 4:2:0 of an odd size is downloaded and converted like system memory instead.
  EXPECT_FALSE(
      in_place("video/x-raw(memory:CUDAMemory),format=NV12,width=63,height=48,framerate=30/1"));
  EXPECT_FALSE(
      in_place("video/x-raw(memory:CUDAMemory),format=NV12,width=64,height=45,framerate=30/1"));
}

TEST(CudaMemoryTest, helpers_parse_devices_and_strip_cuda_structures) {
  register_elements();  // gst_init
  using ivs::plugins::cuda_device_of;
  EXPECT_EQ(cuda_device_of("auto"), 0);
  EXPECT_EQ(cuda_device_of("cuda"), 0);
  EXPECT_EQ(cuda_device_of("cuda:2"), 2);
  EXPECT_EQ(cuda_device_of("cpu"), -1);
  EXPECT_EQ(cuda_device_of("cuda:x"), -1);
  EXPECT_EQ(cuda_device_of("cuda:-1"), -1);
  GstCaps* both = gst_caps_from_string((std::string(kCudaCaps) + "; " + kSystemCaps).c_str());
  EXPECT_TRUE(caps_have_cuda_memory(both));
  GstCaps* system = ivs::plugins::caps_without_cuda_memory(both);
  EXPECT_FALSE(caps_have_cuda_memory(system));
  GstCaps* expected = gst_caps_from_string(kSystemCaps);
  EXPECT_TRUE(gst_caps_is_equal(system, expected));
  gst_caps_unref(expected);
  gst_caps_unref(system);
}

// A frame that is not in the engine's CUDA context (here: system memory) is mapped on the host;
// the picture keeps the buffer mapped and referenced until the engine drops it.
TEST(CudaMemoryTest, a_frame_outside_the_shared_context_is_read_through_host_memory) {
  register_elements();
  GstVideoInfo info;
  gst_video_info_set_format(&info, GST_VIDEO_FORMAT_NV12, 64, 48);
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&info), nullptr);
  gst_buffer_memset(buffer, 0, 0x80, GST_VIDEO_INFO_SIZE(&info));
  auto picture = ivs::plugins::map_cuda_nv12(buffer, info, 0);
  ASSERT_TRUE(picture.has_value());
  EXPECT_FALSE(picture->cuda_memory);
  EXPECT_EQ(picture->planes.width, 64);
  EXPECT_EQ(picture->planes.height, 48);
  EXPECT_EQ(picture->planes.y_pitch, GST_VIDEO_INFO_PLANE_STRIDE(&info, 0));
  EXPECT_EQ(picture->planes.uv - picture->planes.y,
            static_cast<ptrdiff_t>(GST_VIDEO_INFO_PLANE_OFFSET(&info, 1)));
  EXPECT_EQ(picture->planes.y[0], 0x80);
  EXPECT_EQ(GST_MINI_OBJECT_REFCOUNT_VALUE(buffer), 2);  // the picture's reference
  picture->keepalive.reset();
  EXPECT_EQ(GST_MINI_OBJECT_REFCOUNT_VALUE(buffer), 1);
  gst_buffer_unref(buffer);
}

}  // namespace
