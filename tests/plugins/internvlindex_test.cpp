// SPDX-License-Identifier: Apache-2.0
// internvlindex: buffers pass through, sampled frames (and only those) reach the search index
// with thumbnails of the configured size, a missing location is an error naming it, a full
// queue counts drops; and through real pipelines with the tiny checkpoint, every frame
// internvlclassify samples is indexed. Whether the right scene is found is
// internvlindex_scenes_test.cpp's job, with the trained demo model.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/common/image.h"
#include "pipeline/metrics_context.h"
#include "plugins/internvl/gstinternvlclassify.h"
#include "plugins/internvl/gstinternvlindex.h"
#include "plugins/internvl/index_state.h"
#include "sinks/index/search_index.h"
#include "tests/common/test_paths.h"
#include "tests/plugins/gst_test_environment.h"

namespace {

namespace fs = std::filesystem;
using ivs::search::SearchIndex;

void register_elements() {
  gst_init(nullptr, nullptr);
  ASSERT_TRUE(GST_ELEMENT_REGISTER(internvlindex, nullptr));
  ASSERT_TRUE(GST_ELEMENT_REGISTER(internvlclassify, nullptr));
}

// Unit vectors along axis `axis` of 4 dimensions: orthogonal, so each finds only itself.
std::vector<float> axis_vector(int axis) {
  std::vector<float> v(4, 0.0f);
  v[axis] = 1.0f;
  return v;
}

// An RGB frame of `width` x `height` (a gradient, so the JPEG is not trivial) at `pts`; with
// `embedding`, the classification entry internvlclassify attaches to a sampled frame.
GstBuffer* frame(int width, int height, GstClockTime pts, int64_t frame_id,
                 const std::vector<float>* embedding) {
  const size_t stride = (static_cast<size_t>(width) * 3 + 3) & ~size_t{3};
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, stride * height, nullptr);
  GstMapInfo map;
  gst_buffer_map(buffer, &map, GST_MAP_WRITE);
  for (size_t i = 0; i < map.size; ++i) map.data[i] = static_cast<uint8_t>((i * 7 + pts) % 251);
  gst_buffer_unmap(buffer, &map);
  GST_BUFFER_PTS(buffer) = pts;
  GST_BUFFER_DURATION(buffer) = 100 * GST_MSECOND;
  if (embedding != nullptr) {
    ivs::pipeline::ResultEntry entry = ivs::test::classification_entry({{"a", 0.9}});
    entry.segment.first_pts = entry.segment.last_pts = pts;
    entry.segment.first_frame = entry.segment.last_frame = static_cast<uint64_t>(frame_id);
    entry.embedding = std::make_shared<const std::vector<float>>(*embedding);
    ivs::test::add_entries(buffer, {entry});
  }
  return buffer;
}

std::string caps(int width, int height) {
  return "video/x-raw,format=RGB,width=" + std::to_string(width) +
         ",height=" + std::to_string(height) + ",framerate=10/1";
}

GstHarness* start_index(const std::string& properties, int width, int height) {
  GstHarness* h = gst_harness_new_parse(("internvlindex " + properties).c_str());
  gst_harness_set_src_caps_str(h, caps(width, height).c_str());
  return h;
}

guint64 counter(GstElement* element, const char* name) {
  guint64 value = 0;
  g_object_get(element, name, &value, nullptr);
  return value;
}

// The index the element writes (shared with it while it runs), with everything queued committed.
std::shared_ptr<SearchIndex> flushed_index(const fs::path& dir) {
  ivs::search::SearchIndexOptions options;
  options.dir = dir;
  auto index = ivs::search::open_shared_index(options);
  index->flush();
  return index;
}

TEST(InternVLIndexTest, passes_buffers_through_unchanged_and_indexes_sampled_frames_only) {
  register_elements();
  const fs::path dir = ivs::test::scratch_dir("index_passthrough");
  GstHarness* h = start_index("location=" + dir.string() + " stream-id=cam01", 64, 48);
  const std::vector<float> first = axis_vector(0);
  const std::vector<float> second = axis_vector(1);
  const std::vector<float>* embeddings[] = {&first, nullptr, &second, nullptr};
  for (int i = 0; i < 4; ++i) {
    GstBuffer* in = frame(64, 48, i * 100 * GST_MSECOND, i, embeddings[i]);
    GstMapInfo map;
    gst_buffer_map(in, &map, GST_MAP_READ);
    const std::vector<uint8_t> bytes(map.data, map.data + map.size);
    gst_buffer_unmap(in, &map);
    gst_harness_push(h, gst_buffer_ref(in));
    GstBuffer* out = gst_harness_pull(h);
    EXPECT_EQ(out, in) << "buffer " << i << " was copied";  // passthrough: the same buffer
    gst_buffer_map(out, &map, GST_MAP_READ);
    EXPECT_EQ(std::vector<uint8_t>(map.data, map.data + map.size), bytes) << "buffer " << i;
    gst_buffer_unmap(out, &map);
    EXPECT_EQ(GST_BUFFER_PTS(out), i * 100 * GST_MSECOND);
    gst_buffer_unref(out);
    gst_buffer_unref(in);
  }
  GstElement* element = gst_harness_find_element(h, "internvlindex");
  EXPECT_EQ(counter(element, "frames-indexed"), 2u);
  EXPECT_EQ(counter(element, "frames-dropped"), 0u);
  gst_object_unref(element);

  auto index = flushed_index(dir);
  EXPECT_EQ(index->stats().frames, 2u);
  EXPECT_EQ(index->stats().mode, "c");  // InternVL-C, as the index spells it
  const auto moments = index->search(second, 5);
  ASSERT_FALSE(moments.empty());
  EXPECT_EQ(moments[0].stream, "cam01");
  EXPECT_EQ(moments[0].best_frame_id, 2);
  EXPECT_NEAR(moments[0].score, 1.0, 1e-3);
  gst_harness_teardown(h);
}

struct ThumbnailCase {
  const char* properties;
  int frame_width, frame_height;
  int width, height;  // 0: no thumbnail
};

TEST(InternVLIndexTest, thumbnails_follow_the_properties_and_have_the_right_size) {
  register_elements();
  const ThumbnailCase cases[] = {
      {"", 320, 180, 160, 90},  // the defaults: thumbnails of 160 pixels
      {"thumbnail-size=64", 320, 180, 64, 36},
      {"thumbnail-size=64", 90, 160, 36, 64},  // portrait: the height is the longest side
      {"", 64, 48, 64, 48},                    // smaller than 160: not enlarged
      {"thumbnails=false", 320, 180, 0, 0},
  };
  int n = 0;
  for (const ThumbnailCase& c : cases) {
    SCOPED_TRACE(std::string(c.properties) + " " + std::to_string(c.frame_width) + "x" +
                 std::to_string(c.frame_height));
    const fs::path dir = ivs::test::scratch_dir("index_thumbnail_" + std::to_string(n++));
    GstHarness* h =
        start_index("location=" + dir.string() + " " + c.properties, c.frame_width, c.frame_height);
    const std::vector<float> embedding = axis_vector(0);
    gst_harness_push(h, frame(c.frame_width, c.frame_height, 0, 0, &embedding));
    gst_buffer_unref(gst_harness_pull(h));
    auto index = flushed_index(dir);
    const auto moments = index->search(embedding, 1);
    ASSERT_EQ(moments.size(), 1u);
    const auto jpeg = index->thumbnail(moments[0].best_id);
    if (c.width == 0) {
      EXPECT_FALSE(moments[0].has_thumbnail);
      EXPECT_FALSE(jpeg.has_value());
    } else {
      EXPECT_TRUE(moments[0].has_thumbnail);
      ASSERT_TRUE(jpeg.has_value());
      const auto image = ivs::model::decode_image_bytes(jpeg->data(), jpeg->size(), "thumbnail");
      EXPECT_EQ(image.width, c.width);
      EXPECT_EQ(image.height, c.height);
    }
    gst_harness_teardown(h);
  }
}

TEST(InternVLIndexTest, a_missing_or_unusable_location_is_an_error_naming_it) {
  register_elements();
  std::string error =
      ivs::test::run_to_eos("videotestsrc num-buffers=1 ! internvlindex ! fakesink");
  EXPECT_NE(error.find("location"), std::string::npos) << error;
  const fs::path file = ivs::test::scratch_dir("index_not_a_dir") / "file";
  std::FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  error = ivs::test::run_to_eos(
      "videotestsrc num-buffers=1 ! internvlindex location=" + file.string() + " ! fakesink");
  EXPECT_NE(error.find(file.string()), std::string::npos) << error;
}

// An index whose queue is always full (add() refuses), or that refuses every frame as of
// another model (add() throws), as SearchIndex documents both.
class RefusingIndex : public SearchIndex {
 public:
  explicit RefusingIndex(bool throws) : throws_(throws) {}
  bool add(ivs::search::IndexedFrame frame) override {
    last_thumbnail_bytes = frame.thumbnail_jpeg.size();
    if (throws_) throw ivs::search::IndexError("a frame of dim 4 for an index of dim 768");
    return false;
  }
  std::vector<ivs::search::Moment> search(const std::vector<float>&, size_t,
                                          const ivs::search::SearchFilter&) const override {
    return {};
  }
  std::optional<std::vector<uint8_t>> thumbnail(int64_t) const override { return std::nullopt; }
  std::optional<int64_t> latest_thumbnail_id(const std::string&) const override {
    return std::nullopt;
  }
  void flush() override {}
  ivs::search::SearchIndexStats stats() const override { return {}; }
  size_t last_thumbnail_bytes = 0;

 private:
  bool throws_;
};

TEST(InternVLIndexTest, frames_the_index_refuses_are_counted_as_drops) {
  register_elements();
  for (const bool throws : {false, true}) {
    SCOPED_TRACE(throws ? "refused by an exception" : "queue full");
    GstElement* element = gst_element_factory_make("internvlindex", "index0");
    auto hub = std::make_shared<ivs::pipeline::MetricsHub>();
    auto index = std::make_shared<RefusingIndex>(throws);
    ivs::plugins::IndexCounters counters;
    ivs::plugins::IndexElementSettings settings;
    settings.stream_id = "cam01";
    ivs::plugins::IndexState state(GST_ELEMENT(element), settings, index, hub, counters);
    GstCaps* video = gst_caps_from_string(caps(64, 48).c_str());
    ASSERT_TRUE(state.set_caps(video));
    gst_caps_unref(video);
    const std::vector<float> embedding = axis_vector(0);
    for (int i = 0; i < 3; ++i) {
      GstBuffer* buffer = frame(64, 48, i * 100 * GST_MSECOND, i, &embedding);
      state.on_frame(buffer, i * 100 * GST_MSECOND);
      gst_buffer_unref(buffer);
    }
    GstBuffer* plain = frame(64, 48, 0, 3, nullptr);  // not sampled: neither indexed nor dropped
    state.on_frame(plain, 0);
    gst_buffer_unref(plain);
    EXPECT_EQ(counters.dropped, 3u);
    EXPECT_EQ(counters.indexed, 0u);
    EXPECT_GT(index->last_thumbnail_bytes, 0u);  // the thumbnail was made before the refusal
    auto& metrics = hub->metrics();
    EXPECT_EQ(metrics.index_frames_dropped("cam01").Value(), 3.0);
    EXPECT_EQ(metrics.index_frames("cam01").Value(), 0.0);
    gst_object_unref(element);
  }
}

// Not an assertion (timings vary with the machine and its load): what one sampled 1080p frame
// costs the streaming thread, with and without its thumbnail, through the real element and
// index, printed and recorded in the test's XML output.
TEST(InternVLIndexTest, reports_the_streaming_thread_cost_per_sampled_frame) {
  register_elements();
  for (const char* thumbnails : {"true", "false"}) {
    const fs::path dir = ivs::test::scratch_dir(std::string("index_cost_") + thumbnails);
    GstHarness* h =
        start_index("location=" + dir.string() + " thumbnails=" + thumbnails, 1920, 1080);
    const std::vector<float> embedding(768, 1.0f / std::sqrt(768.0f));
    constexpr int kFrames = 20;
    std::vector<GstBuffer*> buffers;
    for (int i = 0; i < kFrames; ++i)
      buffers.push_back(frame(1920, 1080, i * 100 * GST_MSECOND, i, &embedding));
    const auto start = std::chrono::steady_clock::now();
    for (GstBuffer* buffer : buffers) {
      gst_harness_push(h, buffer);
      gst_buffer_unref(gst_harness_pull(h));
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count() /
        kFrames;
    std::printf("1080p RGB sampled frame, thumbnails=%s: %.2f ms on the streaming thread\n",
                thumbnails, ms);
    ::testing::Test::RecordProperty(std::string("frame_ms_thumbnails_") + thumbnails,
                                    std::to_string(ms));
    GstElement* element = gst_harness_find_element(h, "internvlindex");
    EXPECT_EQ(counter(element, "frames-indexed") + counter(element, "frames-dropped"),
              static_cast<guint64>(kFrames));
    gst_object_unref(element);
    gst_harness_teardown(h);
  }
}

TEST(InternVLIndexTest, properties_round_trip) {
  register_elements();
  GstElement* e = gst_element_factory_make("internvlindex", nullptr);
  gchar* location = nullptr;
  gchar* stream = nullptr;
  gboolean thumbnails = FALSE;
  guint size = 0;
  g_object_get(e, "location", &location, "stream-id", &stream, "thumbnails", &thumbnails,
               "thumbnail-size", &size, nullptr);
  EXPECT_EQ(location, nullptr);
  EXPECT_EQ(stream, nullptr);
  EXPECT_TRUE(thumbnails);
  EXPECT_EQ(size, 160u);
  g_object_set(e, "location", "/var/lib/internvl/index", "stream-id", "cam01", "thumbnails", FALSE,
               "thumbnail-size", 96u, nullptr);
  g_object_get(e, "location", &location, "stream-id", &stream, "thumbnails", &thumbnails,
               "thumbnail-size", &size, nullptr);
  EXPECT_STREQ(location, "/var/lib/internvl/index");
  EXPECT_STREQ(stream, "cam01");
  EXPECT_FALSE(thumbnails);
  EXPECT_EQ(size, 96u);
  g_free(location);
  g_free(stream);
  EXPECT_EQ(counter(e, "frames-indexed"), 0u);
  gst_object_unref(e);
}

// The real path with the tiny checkpoint: every frame internvlclassify samples is indexed, and
// after the pipeline stops (the index closes) a reader finds them all.
TEST(InternVLIndexTest, every_sampled_frame_of_a_pipeline_is_indexed) {
  INTERNVL_REQUIRE_PATH(ivs::test::internvl_tiny_dir());
  register_elements();
  const fs::path dir = ivs::test::scratch_dir("index_pipeline");
  const std::string description =
      "videotestsrc num-buffers=30 ! video/x-raw,width=64,height=48,format=I420,framerate=10/1"
      " ! internvlclassify name=classify device=cpu labels=a;b interval=2 clip-frames=0 model=" +
      ivs::test::internvl_tiny_dir().string() +
      " ! internvlindex name=index location=" + dir.string() + " stream-id=cam01 ! fakesink";
  GError* parse_error = nullptr;
  GstElement* pipeline = gst_parse_launch(description.c_str(), &parse_error);
  ASSERT_EQ(parse_error, nullptr) << parse_error->message;
  GstElement* classify = gst_bin_get_by_name(GST_BIN(pipeline), "classify");
  GstElement* index = gst_bin_get_by_name(GST_BIN(pipeline), "index");
  GstBus* bus = gst_element_get_bus(pipeline);
  ASSERT_NE(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  GstMessage* msg = gst_bus_timed_pop_filtered(bus, 300 * GST_SECOND,
                                               GstMessageType(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  ASSERT_NE(msg, nullptr);
  EXPECT_EQ(GST_MESSAGE_TYPE(msg), GST_MESSAGE_EOS);
  gst_message_unref(msg);
  const guint64 sampled = counter(classify, "frames-sampled");
  EXPECT_EQ(sampled, 10u);  // every third frame of 30
  EXPECT_EQ(counter(index, "frames-indexed"), sampled);
  EXPECT_EQ(counter(index, "frames-dropped"), 0u);
  gst_element_set_state(pipeline, GST_STATE_NULL);  // the last holder closes the index
  gst_object_unref(bus);
  gst_object_unref(classify);
  gst_object_unref(index);
  gst_object_unref(pipeline);

  ivs::search::SearchIndexOptions options;
  options.dir = dir;
  options.read_only = true;
  const auto reader = SearchIndex::open(options);
  EXPECT_EQ(reader->stats().frames, sampled);
  EXPECT_EQ(reader->latest_thumbnail_id("cam01").has_value(), true);
}

}  // namespace
