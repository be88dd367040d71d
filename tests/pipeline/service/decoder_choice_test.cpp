// SPDX-License-Identifier: Apache-2.0
// The service's decoders: libav video decoders run one thread each, other elements are untouched.
#include "pipeline/service/decoder_choice.h"

#include <gtest/gtest.h>

#include <gst/gst.h>

namespace ivs::service {
namespace {

class DecoderChoiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { gst_init(nullptr, nullptr); }
};

TEST_F(DecoderChoiceTest, libav_decoders_get_one_thread) {
  for (const char* factory : {"avdec_h264", "avdec_h265"}) {
    GstElement* decoder = gst_element_factory_make(factory, nullptr);
    ASSERT_NE(decoder, nullptr) << factory << " is missing: install gstreamer1.0-libav";
    gst_object_ref_sink(decoder);
    gint threads = -1;
    g_object_get(decoder, "max-threads", &threads, nullptr);
    EXPECT_EQ(threads, 0) << factory << ": libav's default (one per core) before";
    limit_decoder_threads(decoder);
    g_object_get(decoder, "max-threads", &threads, nullptr);
    EXPECT_EQ(threads, 1) << factory;
    gst_object_unref(decoder);
  }
}

TEST_F(DecoderChoiceTest, other_elements_are_left_alone) {
  GstElement* queue = gst_element_factory_make("queue", nullptr);
  ASSERT_NE(queue, nullptr);
  gst_object_ref_sink(queue);
  limit_decoder_threads(queue);  // no max-threads property: nothing to set, no warning
  guint buffers = 0;
  g_object_get(queue, "max-size-buffers", &buffers, nullptr);
  EXPECT_EQ(buffers, 200u);
  gst_object_unref(queue);
}

}  // namespace
}  // namespace ivs::service
