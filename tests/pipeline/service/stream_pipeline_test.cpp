// SPDX-License-Identifier: Apache-2.0
// The pipeline a service stream gets, built (in the NULL state, nothing loaded) from a parsed
// config with the real elements registered: where internvlindex goes and what it is told.
#include "pipeline/service/stream_pipeline.h"

#include <gtest/gtest.h>

#include <gst/gst.h>

#include <memory>
#include <string>

#include "plugins/internvl/register_elements.h"

namespace ivs::service {
namespace {

constexpr const char* kConfig = R"(
model: {path: /models/m}
tasks: {classify: {labels: [a cat, a dog]}}
streams:
  - {id: cam01, uri: "rtsp://10.0.0.5/s1"}
  - {id: talk, uri: "rtsp://10.0.0.6/s1", tasks: {classify: {enabled: false}, caption: {enabled: true}}}
)";

// The element downstream of `element`, or null.
GstElement* next_of(GstElement* element) {
  GstPad* src = gst_element_get_static_pad(element, "src");
  GstPad* peer = src != nullptr ? gst_pad_get_peer(src) : nullptr;
  GstElement* next = peer != nullptr ? gst_pad_get_parent_element(peer) : nullptr;
  if (peer != nullptr) gst_object_unref(peer);
  if (src != nullptr) gst_object_unref(src);
  if (next != nullptr) gst_object_unref(next);  // the pipeline keeps it alive
  return next;
}

std::string factory_of(GstElement* element) {
  return element != nullptr ? GST_OBJECT_NAME(gst_element_get_factory(element)) : "(none)";
}

class StreamPipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    gst_init(nullptr, nullptr);
    ASSERT_TRUE(gst_internvl_register_static());
  }

  StreamPipeline build(const ServiceConfig& config, size_t stream) {
    SharedContexts shared;
    shared.model = config.model.engine;
    shared.search = config.search;
    return build_stream_pipeline(config.streams.at(stream), shared, telemetry_);
  }

  std::shared_ptr<StreamTelemetry> telemetry_ = std::make_shared<StreamTelemetry>();
};

TEST_F(StreamPipelineTest, search_puts_internvlindex_right_after_classify_with_its_settings) {
  const ServiceConfig config = parse_service_config(
      std::string("search: {data_dir: /var/idx, thumbnails: false}\n") + kConfig, "t.yaml", "/etc");
  const StreamPipeline built = build(config, 0);
  ASSERT_NE(built.index, nullptr);
  EXPECT_EQ(factory_of(built.index), "internvlindex");
  EXPECT_EQ(next_of(built.classify), built.index);
  EXPECT_EQ(factory_of(next_of(built.index)), "internvlpublish");
  gchar* location = nullptr;
  gchar* stream_id = nullptr;
  gboolean thumbnails = TRUE;
  g_object_get(built.index, "location", &location, "stream-id", &stream_id, "thumbnails",
               &thumbnails, nullptr);
  EXPECT_STREQ(location, "/var/idx");
  EXPECT_STREQ(stream_id, "cam01");
  EXPECT_FALSE(thumbnails);
  g_free(location);
  g_free(stream_id);
  gst_object_unref(built.pipeline);
}

TEST_F(StreamPipelineTest, no_index_without_search_or_without_classify) {
  const ServiceConfig off = parse_service_config(kConfig, "t.yaml", "/etc");
  StreamPipeline built = build(off, 0);
  EXPECT_EQ(built.index, nullptr);
  EXPECT_EQ(factory_of(next_of(built.classify)), "internvlpublish");
  gst_object_unref(built.pipeline);
  const ServiceConfig on =
      parse_service_config(std::string("search: {}\n") + kConfig, "t.yaml", "/etc");
  built = build(on, 1);  // captions only: nothing to index
  EXPECT_EQ(built.index, nullptr);
  gst_object_unref(built.pipeline);
}

}  // namespace
}  // namespace ivs::service
