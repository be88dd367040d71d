// SPDX-License-Identifier: Apache-2.0
#include "pipeline/result_meta.h"

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace {

using ivs::pipeline::ResultEntry;
using ivs::pipeline::ResultType;

// gst_init once per process for every test in pipeline_tests (gtest_main owns main()).
class GstEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { gst_init(nullptr, nullptr); }
};
[[maybe_unused]] ::testing::Environment* const kGstEnvironment =
    ::testing::AddGlobalTestEnvironment(new GstEnvironment);

ResultEntry make_entry(const std::string& element, const std::string& label) {
  ResultEntry entry;
  entry.type = ResultType::kClassification;
  entry.element = element;
  entry.model_name = "InternVL-14B-224px";
  entry.mode = "InternVL-C";
  entry.classification.push_back({label, 3, 0.91});
  return entry;
}

GstBuffer* buffer_with_entry(const std::string& label) {
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, 16, nullptr);
  gst_buffer_add_internvl_result_meta(buffer)->records->entries.push_back(
      make_entry("internvlclassify0", label));
  return buffer;
}

std::vector<std::string> labels_of(GstBuffer* buffer) {
  std::vector<std::string> labels;
  const GstInternVLResultMeta* meta = gst_buffer_get_internvl_result_meta(buffer);
  if (meta == nullptr) return labels;
  for (const ResultEntry& entry : meta->records->entries) {
    labels.push_back(entry.classification.at(0).label);
  }
  return labels;
}

// Counts criticals logged (g_return_val_if_fail) while in scope.
class CriticalCounter {
 public:
  CriticalCounter()
      : handler_(g_log_set_handler(nullptr, G_LOG_LEVEL_CRITICAL, &CriticalCounter::count, this)) {}
  ~CriticalCounter() { g_log_remove_handler(nullptr, handler_); }
  int criticals() const { return criticals_; }

 private:
  static void count(const gchar*, GLogLevelFlags, const gchar*, gpointer self) {
    ++static_cast<CriticalCounter*>(self)->criticals_;
  }
  guint handler_;
  int criticals_ = 0;
};

// A real pipeline: appsrc -> `middle` -> appsink, driven through the elements' action signals
// (the app library is not linked). Buffers are I420 64x48 at 30 fps.
class AppPipeline {
 public:
  explicit AppPipeline(const std::string& middle) {
    const std::string description =
        "appsrc name=src format=time caps=video/x-raw,format=I420,width=64,height=48,"
        "framerate=30/1 ! " +
        middle + " ! appsink name=sink sync=false";
    GError* error = nullptr;
    pipeline_ = gst_parse_launch(description.c_str(), &error);
    if (error != nullptr) {
      error_ = error->message;
      g_error_free(error);
      return;
    }
    src_ = gst_bin_get_by_name(GST_BIN(pipeline_), "src");
    sink_ = gst_bin_get_by_name(GST_BIN(pipeline_), "sink");
    gst_element_set_state(pipeline_, GST_STATE_PLAYING);
  }
  ~AppPipeline() {
    if (pipeline_ != nullptr) gst_element_set_state(pipeline_, GST_STATE_NULL);
    if (src_ != nullptr) gst_object_unref(src_);
    if (sink_ != nullptr) gst_object_unref(sink_);
    if (pipeline_ != nullptr) gst_object_unref(pipeline_);
  }
  AppPipeline(const AppPipeline&) = delete;
  AppPipeline& operator=(const AppPipeline&) = delete;

  const std::string& error() const { return error_; }

  void push(GstBuffer* buffer) {  // takes ownership
    GstFlowReturn flow = GST_FLOW_ERROR;
    g_signal_emit_by_name(src_, "push-buffer", buffer, &flow);  // the signal takes its own ref
    gst_buffer_unref(buffer);
    EXPECT_EQ(flow, GST_FLOW_OK);
  }
  void end_of_stream() {
    GstFlowReturn flow = GST_FLOW_ERROR;
    g_signal_emit_by_name(src_, "end-of-stream", &flow);
  }
  // The next sample, waiting at most 10 s (bounded: a stalled pipeline fails, never hangs).
  GstSample* pull() {
    GstSample* sample = nullptr;
    g_signal_emit_by_name(sink_, "try-pull-sample", static_cast<guint64>(10 * GST_SECOND), &sample);
    return sample;
  }

 private:
  GstElement* pipeline_ = nullptr;
  GstElement* src_ = nullptr;
  GstElement* sink_ = nullptr;
  std::string error_;
};

GstBuffer* frame_with_entry(int index) {
  constexpr gsize kI420Size = 64 * 48 * 3 / 2;
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, kI420Size, nullptr);
  gst_buffer_memset(buffer, 0, 0x80, kI420Size);
  GST_BUFFER_PTS(buffer) = gst_util_uint64_scale(index, GST_SECOND, 30);
  GST_BUFFER_DURATION(buffer) = gst_util_uint64_scale(1, GST_SECOND, 30);
  gst_buffer_add_internvl_result_meta(buffer)->records->entries.push_back(
      make_entry("internvlclassify0", "label " + std::to_string(index)));
  return buffer;
}

// Pushes three frames through `middle` and checks each arrives with its own entry.
void expect_meta_survives(const std::string& middle, const char* out_format, int out_width) {
  AppPipeline pipeline(middle);
  ASSERT_EQ(pipeline.error(), "");
  constexpr int kFrames = 3;
  for (int i = 0; i < kFrames; ++i) pipeline.push(frame_with_entry(i));
  pipeline.end_of_stream();
  for (int i = 0; i < kFrames; ++i) {
    GstSample* sample = pipeline.pull();
    ASSERT_NE(sample, nullptr) << "frame " << i << " did not arrive";
    GstVideoInfo info;
    ASSERT_TRUE(gst_video_info_from_caps(&info, gst_sample_get_caps(sample)));
    EXPECT_STREQ(gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(&info)), out_format);
    EXPECT_EQ(GST_VIDEO_INFO_WIDTH(&info), out_width);
    EXPECT_EQ(labels_of(gst_sample_get_buffer(sample)),
              (std::vector<std::string>{"label " + std::to_string(i)}));
    gst_sample_unref(sample);
  }
}

bool have_elements(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    GstElementFactory* factory = gst_element_factory_find(name);
    if (factory == nullptr) return false;
    gst_object_unref(factory);
  }
  return true;
}

TEST(ResultMetaTest, add_then_get_returns_the_same_meta) {
  GstBuffer* buffer = gst_buffer_new();
  EXPECT_EQ(gst_buffer_get_internvl_result_meta(buffer), nullptr);
  GstInternVLResultMeta* meta = gst_buffer_add_internvl_result_meta(buffer);
  ASSERT_NE(meta, nullptr);
  ASSERT_NE(meta->records, nullptr);
  EXPECT_TRUE(meta->records->entries.empty());
  EXPECT_EQ(gst_buffer_get_internvl_result_meta(buffer), meta);
  EXPECT_EQ(meta->meta.info, GST_INTERNVL_RESULT_META_INFO);
  EXPECT_EQ(meta->meta.info->api, GST_INTERNVL_RESULT_META_API_TYPE);
  gst_buffer_unref(buffer);
}

TEST(ResultMetaTest, two_adders_share_one_meta) {
  GstBuffer* buffer = gst_buffer_new();
  gst_buffer_add_internvl_result_meta(buffer)->records->entries.push_back(
      make_entry("internvlclassify0", "playing guitar"));
  gst_buffer_add_internvl_result_meta(buffer)->records->entries.push_back(
      make_entry("internvlcaption0", "surfing"));
  EXPECT_EQ(gst_buffer_get_n_meta(buffer, GST_INTERNVL_RESULT_META_API_TYPE), 1u);
  EXPECT_EQ(labels_of(buffer), (std::vector<std::string>{"playing guitar", "surfing"}));
  gst_buffer_unref(buffer);
}

TEST(ResultMetaTest, sampled_embedding_entry_is_the_latest_classification_with_an_embedding) {
  GstBuffer* buffer = gst_buffer_new();
  EXPECT_EQ(ivs::pipeline::sampled_embedding_entry(buffer), nullptr);  // no meta
  auto& entries = gst_buffer_add_internvl_result_meta(buffer)->records->entries;
  entries.push_back(make_entry("internvlclassify0", "no embedding"));
  EXPECT_EQ(ivs::pipeline::sampled_embedding_entry(buffer), nullptr);
  const auto embedding = std::make_shared<const std::vector<float>>(std::vector<float>{1.0f});
  ResultEntry sampled = make_entry("internvlclassify0", "sampled");
  sampled.embedding = embedding;
  ResultEntry clip = make_entry("internvlclassify0", "clip");
  clip.type = ResultType::kClipClassification;
  clip.embedding = embedding;  // never a clip's: the clip mean is not a frame
  entries.push_back(sampled);
  entries.push_back(clip);
  const ResultEntry* found = ivs::pipeline::sampled_embedding_entry(buffer);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->classification.at(0).label, "sampled");
  gst_buffer_unref(buffer);
}

TEST(ResultMetaTest, api_has_no_tags) {
  // No tags keeps the meta through every element that copies metas (see result_meta.cpp).
  EXPECT_FALSE(gst_meta_api_type_has_tag(GST_INTERNVL_RESULT_META_API_TYPE,
                                         g_quark_from_static_string(GST_META_TAG_VIDEO_STR)));
  const gchar* const* tags = gst_meta_api_type_get_tags(GST_INTERNVL_RESULT_META_API_TYPE);
  EXPECT_TRUE(tags == nullptr || tags[0] == nullptr);
}

TEST(ResultMetaTest, buffer_copy_deep_copies_records) {
  GstBuffer* original = buffer_with_entry("playing guitar");
  GstBuffer* copy = gst_buffer_copy(original);
  GstInternVLResultMeta* copied = gst_buffer_get_internvl_result_meta(copy);
  ASSERT_NE(copied, nullptr);
  EXPECT_NE(copied->records, gst_buffer_get_internvl_result_meta(original)->records);
  copied->records->entries.at(0).classification.at(0).label = "changed";
  copied->records->entries.push_back(make_entry("internvlcaption0", "added"));
  EXPECT_EQ(labels_of(original), (std::vector<std::string>{"playing guitar"}));
  EXPECT_EQ(labels_of(copy), (std::vector<std::string>{"changed", "added"}));
  gst_buffer_unref(copy);
  gst_buffer_unref(original);
}

TEST(ResultMetaTest, make_writable_copies_a_shared_buffer) {
  GstBuffer* original = buffer_with_entry("playing guitar");
  GstBuffer* shared = gst_buffer_ref(original);
  GstBuffer* writable = gst_buffer_make_writable(shared);
  ASSERT_NE(writable, original);
  GstInternVLResultMeta* meta = gst_buffer_add_internvl_result_meta(writable);
  ASSERT_NE(meta, nullptr);
  meta->records->entries.push_back(make_entry("internvlcaption0", "surfing"));
  EXPECT_EQ(labels_of(writable), (std::vector<std::string>{"playing guitar", "surfing"}));
  EXPECT_EQ(labels_of(original), (std::vector<std::string>{"playing guitar"}));
  gst_buffer_unref(writable);
  gst_buffer_unref(original);
}

TEST(ResultMetaTest, add_to_a_shared_buffer_returns_null_with_a_critical) {
  GstBuffer* buffer = buffer_with_entry("playing guitar");
  GstBuffer* second_ref = gst_buffer_ref(buffer);
  {
    CriticalCounter counter;
    EXPECT_EQ(gst_buffer_add_internvl_result_meta(buffer), nullptr);
    EXPECT_EQ(counter.criticals(), 1);
  }
  gst_buffer_unref(second_ref);
  gst_buffer_unref(buffer);
}

TEST(ResultMetaTest, copy_into_a_buffer_with_a_meta_appends_entries) {
  GstBuffer* source = buffer_with_entry("playing guitar");
  GstBuffer* dest = buffer_with_entry("surfing");
  ASSERT_TRUE(gst_buffer_copy_into(dest, source, GST_BUFFER_COPY_META, 0, -1));
  EXPECT_EQ(gst_buffer_get_n_meta(dest, GST_INTERNVL_RESULT_META_API_TYPE), 1u);
  EXPECT_EQ(labels_of(dest), (std::vector<std::string>{"surfing", "playing guitar"}));
  gst_buffer_unref(dest);
  gst_buffer_unref(source);
}

TEST(ResultMetaTest, region_copy_does_not_carry_the_meta) {
  GstBuffer* original = buffer_with_entry("playing guitar");
  GstBuffer* region = gst_buffer_copy_region(original, GST_BUFFER_COPY_ALL, 4, 8);
  ASSERT_NE(region, nullptr);
  EXPECT_EQ(gst_buffer_get_internvl_result_meta(region), nullptr);
  gst_buffer_unref(region);
  gst_buffer_unref(original);
}

TEST(ResultMetaTest, scale_transform_keeps_the_meta_and_unknown_transforms_drop_it) {
  GstBuffer* source = buffer_with_entry("playing guitar");
  GstMeta* meta = &gst_buffer_get_internvl_result_meta(source)->meta;
  GstVideoInfo in_info;
  GstVideoInfo out_info;
  gst_video_info_set_format(&in_info, GST_VIDEO_FORMAT_I420, 64, 48);
  gst_video_info_set_format(&out_info, GST_VIDEO_FORMAT_RGBA, 32, 24);
  GstVideoMetaTransform scale = {&in_info, &out_info};
  GstBuffer* scaled = gst_buffer_new();
  EXPECT_TRUE(meta->info->transform_func(scaled, meta, source,
                                         gst_video_meta_transform_scale_get_quark(), &scale));
  EXPECT_EQ(labels_of(scaled), (std::vector<std::string>{"playing guitar"}));
  GstBuffer* other = gst_buffer_new();
  EXPECT_FALSE(meta->info->transform_func(other, meta, source,
                                          g_quark_from_static_string("internvl-test"), nullptr));
  EXPECT_EQ(gst_buffer_get_internvl_result_meta(other), nullptr);
  gst_buffer_unref(other);
  gst_buffer_unref(scaled);
  gst_buffer_unref(source);
}

TEST(ResultMetaTest, remove_meta_frees_the_records) {
  // Leaks are checked by the `leak` test; here: removal goes through the free function.
  GstBuffer* buffer = buffer_with_entry("playing guitar");
  ASSERT_TRUE(gst_buffer_remove_meta(buffer, &gst_buffer_get_internvl_result_meta(buffer)->meta));
  EXPECT_EQ(gst_buffer_get_internvl_result_meta(buffer), nullptr);
  gst_buffer_unref(buffer);
}

TEST(ResultMetaTest, survives_videoconvert_and_videoscale_with_format_and_size_change) {
  expect_meta_survives(
      "videoconvert ! videoscale ! capsfilter caps=video/x-raw,format=RGBA,width=32,height=24",
      "RGBA", 32);
}

TEST(ResultMetaTest, survives_a_plain_base_transform) {
  // rgb2bayer/bayer2rgb are plain GstBaseTransforms, which drop every tagged meta (even one
  // tagged only "video"); this is why the API has no tags.
  if (!have_elements({"rgb2bayer", "bayer2rgb"})) GTEST_SKIP() << "bayer elements not installed";
  expect_meta_survives(
      "videoconvert ! capsfilter caps=video/x-raw,format=ARGB ! rgb2bayer ! bayer2rgb ! "
      "videoconvert ! capsfilter caps=video/x-raw,format=BGRx",
      "BGRx", 64);
}

}  // namespace
