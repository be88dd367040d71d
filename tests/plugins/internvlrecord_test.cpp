// SPDX-License-Identifier: Apache-2.0
// internvlrecord in real pipelines: H.264 from x264enc (Debian gstreamer1.0-plugins-ugly, which
// deploy/install-deps.sh installs) through a tee, alert events published into the pipeline's
// event channel from a probe on the recorder's sink pad when the stream reaches their time, and
// every clip read back with qtdemux and decoded.
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/alerts/event_channel.h"
#include "pipeline/event_context.h"
#include "tests/common/test_paths.h"

namespace {

using ivs::pipeline::AlertEvent;
using ivs::pipeline::AlertState;
using ivs::pipeline::EventChannel;

constexpr uint64_t kSecond = GST_SECOND;
constexpr uint64_t kFrame = GST_SECOND / 30;
constexpr uint64_t kGop = 15 * kFrame;  // key-int-max=15 at 30 fps

// An event published when the recorder first sees a buffer at or after `at` (stream time).
struct Scheduled {
  uint64_t at;
  AlertEvent event;
  bool published = false;
};

Scheduled start_at(const std::string& id, uint64_t at) {
  AlertEvent e;
  e.id = id;
  e.stream_id = "cam1";
  e.rule = "fence";
  e.state = AlertState::kStart;
  e.start_pts = at;
  return Scheduled{at, e};
}

Scheduled end_at(const std::string& id, uint64_t start, uint64_t at) {
  Scheduled s = start_at(id, start);
  s.at = at;
  s.event.state = AlertState::kEnd;
  s.event.end_pts = at;
  return s;
}

struct Completed {
  std::string path;
  std::string event_id;
  uint64_t duration = 0;
  uint64_t bytes = 0;
};

struct Recording {
  std::vector<Completed> clips;  // internvl-recording messages, in order
  std::string error;             // "" when the pipeline reached EOS
  uint64_t deleted = 0;
  uint64_t finished = 0;
};

struct Probe {
  std::shared_ptr<EventChannel> channel;
  std::vector<Scheduled> events;
};

GstPadProbeReturn publish_due(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* probe = static_cast<Probe*>(data);
  const GstClockTime pts = GST_BUFFER_PTS(GST_PAD_PROBE_INFO_BUFFER(info));
  for (auto& s : probe->events) {
    if (!s.published && pts >= s.at) {
      s.published = true;
      probe->channel->publish(s.event);
    }
  }
  return GST_PAD_PROBE_OK;
}

std::string error_of(GstMessage* message) {
  GError* error = nullptr;
  gst_message_parse_error(message, &error, nullptr);
  std::string text = error->message;
  g_error_free(error);
  return text;
}

// videotestsrc -> x264enc -> h264parse -> tee -> queue -> internvlrecord name=rec, plus a
// second branch to fakesink as the decoding branch would be; runs to EOS.
Recording record(const std::string& record_properties, std::vector<Scheduled> events,
                 int frames = 300,
                 const std::string& encoder = "x264enc key-int-max=15 bitrate=200") {
  Recording run;
  const std::string description =
      "videotestsrc num-buffers=" + std::to_string(frames) +
      " pattern=snow ! video/x-raw,width=160,height=120,framerate=30/1 ! " + encoder +
      " ! h264parse ! tee name=t  t. ! queue ! internvlrecord name=rec stream-id=cam1 " +
      record_properties + "  t. ! queue ! fakesink";
  GError* parse_error = nullptr;
  GstElement* pipeline = gst_parse_launch(description.c_str(), &parse_error);
  if (parse_error != nullptr) {
    run.error = parse_error->message;
    g_error_free(parse_error);
    if (pipeline != nullptr) gst_object_unref(pipeline);
    return run;
  }
  Probe probe{std::make_shared<EventChannel>(), std::move(events)};
  // As the service does: the application's channel, which the recorder finds.
  gst_element_set_context(pipeline, ivs::pipeline::event_context_new(probe.channel));
  GstElement* rec = gst_bin_get_by_name(GST_BIN(pipeline), "rec");
  GstPad* pad = gst_element_get_static_pad(rec, "sink");
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, publish_due, &probe, nullptr);
  gst_object_unref(pad);

  GstBus* bus = gst_element_get_bus(pipeline);
  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    run.error = "set_state failed";
  }
  for (bool done = false; !done;) {
    GstMessage* m = gst_bus_timed_pop_filtered(
        bus, 120 * GST_SECOND,
        static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT));
    if (m == nullptr) {
      run.error += " no EOS within 120 s";
      break;
    }
    const GstStructure* s = gst_message_get_structure(m);
    if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
      run.error = error_of(m);
      done = true;
    } else if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS) {
      done = true;
    } else if (gst_structure_has_name(s, "internvl-recording")) {
      Completed c;
      c.path = gst_structure_get_string(s, "path");
      c.event_id = gst_structure_get_string(s, "event-id");
      gst_structure_get_uint64(s, "duration", &c.duration);
      gst_structure_get_uint64(s, "bytes", &c.bytes);
      run.clips.push_back(c);
    }
    gst_message_unref(m);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  g_object_get(rec, "files-deleted", &run.deleted, "recordings-finished", &run.finished, nullptr);
  gst_object_unref(rec);
  gst_object_unref(bus);
  gst_object_unref(pipeline);
  return run;
}

// What qtdemux and the decoder make of a clip.
struct ClipInfo {
  std::string error;
  int frames = 0;
  int decoded = 0;
  bool starts_with_keyframe = false;
  uint64_t first_pts = GST_CLOCK_TIME_NONE;
  uint64_t end_pts = 0;  // last presentation time + its duration
  gint64 container_duration = -1;
  uint64_t span() const { return end_pts - first_pts; }
};

GstPadProbeReturn count_demuxed(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* clip = static_cast<ClipInfo*>(data);
  GstBuffer* b = GST_PAD_PROBE_INFO_BUFFER(info);
  if (clip->frames++ == 0) {
    clip->starts_with_keyframe = !GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DELTA_UNIT);
  }
  const GstClockTime pts = GST_BUFFER_PTS(b);
  if (pts < clip->first_pts) clip->first_pts = pts;
  clip->end_pts = std::max<uint64_t>(clip->end_pts, pts + GST_BUFFER_DURATION(b));
  return GST_PAD_PROBE_OK;
}

GstPadProbeReturn count_decoded(GstPad*, GstPadProbeInfo*, gpointer data) {
  ++static_cast<ClipInfo*>(data)->decoded;
  return GST_PAD_PROBE_OK;
}

ClipInfo read_clip(const std::string& path) {
  ClipInfo clip;
  const std::string description = "filesrc location=\"" + path +
                                  "\" ! qtdemux ! h264parse name=parse ! avdec_h264 name=dec ! "
                                  "fakesink";
  GstElement* pipeline = gst_parse_launch(description.c_str(), nullptr);
  if (pipeline == nullptr) return ClipInfo{"cannot build the reading pipeline"};
  GstElement* parse = gst_bin_get_by_name(GST_BIN(pipeline), "parse");
  GstElement* dec = gst_bin_get_by_name(GST_BIN(pipeline), "dec");
  GstPad* parsed = gst_element_get_static_pad(parse, "src");
  GstPad* decoded = gst_element_get_static_pad(dec, "src");
  gst_pad_add_probe(parsed, GST_PAD_PROBE_TYPE_BUFFER, count_demuxed, &clip, nullptr);
  gst_pad_add_probe(decoded, GST_PAD_PROBE_TYPE_BUFFER, count_decoded, &clip, nullptr);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus* bus = gst_element_get_bus(pipeline);
  GstMessage* m = gst_bus_timed_pop_filtered(
      bus, 60 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  if (m == nullptr) clip.error = "no EOS reading " + path;
  if (m != nullptr && GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) clip.error = error_of(m);
  if (m != nullptr) gst_message_unref(m);
  gst_element_query_duration(pipeline, GST_FORMAT_TIME, &clip.container_duration);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  for (GstObject* o : {GST_OBJECT(parsed), GST_OBJECT(decoded), GST_OBJECT(parse), GST_OBJECT(dec),
                       GST_OBJECT(bus), GST_OBJECT(pipeline)}) {
    gst_object_unref(o);
  }
  return clip;
}

// The encoder is an optional plugin (gstreamer1.0-plugins-ugly; avdec_h264: gstreamer1.0-libav);
// deploy/install-deps.sh installs both, and a skip fails `make test` (tests/check_no_skips.py).
#define REQUIRE_ENCODER_AND_DECODER()                                                   \
  for (const char* name : {"x264enc", "avdec_h264"}) {                                  \
    if (!gst_registry_check_feature_version(gst_registry_get(), name, 1, 0, 0)) {       \
      GTEST_SKIP() << name << " is not installed (deploy/install-deps.sh installs it)"; \
    }                                                                                   \
  }

// A clip spans pre-roll + event + post-roll, starting up to one GOP earlier (the keyframe at or
// before the pre-roll's start) and ending before the first frame at or after the post-roll.
void expect_clip(const ClipInfo& clip, uint64_t expected, const std::string& path) {
  SCOPED_TRACE(path);
  EXPECT_EQ(clip.error, "");
  EXPECT_TRUE(clip.starts_with_keyframe);
  // Decode times start at 0; the first frame shows after the encoder's reorder delay (x264
  // holds two frames back even without B-frames).
  EXPECT_LE(clip.first_pts, 3 * kFrame);
  EXPECT_GT(clip.frames, 0);
  EXPECT_EQ(clip.decoded, clip.frames);
  EXPECT_GE(clip.span() + kFrame, expected);
  EXPECT_LE(clip.span(), expected + kGop + kFrame);
  EXPECT_GE(static_cast<uint64_t>(clip.container_duration) + kFrame, expected);
  EXPECT_LE(static_cast<uint64_t>(clip.container_duration), expected + kGop + kFrame);
  std::printf("[ clip     ] %s: %.3f s (container %.3f s), expected %.3f s to %.3f s\n",
              path.c_str(), clip.span() / 1e9, clip.container_duration / 1e9, expected / 1e9,
              (expected + kGop) / 1e9);
}

TEST(InternVLRecordTest, each_event_gets_a_playable_clip_of_pre_roll_event_and_post_roll) {
  REQUIRE_ENCODER_AND_DECODER();
  const auto dir = ivs::test::scratch_dir("internvlrecord_clips");
  const Recording run = record(
      "location=" + (dir / "clips/%s.mp4").string() + " pre-roll=1 post-roll=1",
      {start_at("cam1-fence-1", 2 * kSecond), end_at("cam1-fence-1", 2 * kSecond, 3 * kSecond),
       start_at("cam1-fence-2", 5 * kSecond + kSecond / 3),
       end_at("cam1-fence-2", 5 * kSecond + kSecond / 3, 7 * kSecond)});
  ASSERT_EQ(run.error, "");
  ASSERT_EQ(run.clips.size(), 2u);
  EXPECT_EQ(run.finished, 2u);
  EXPECT_EQ(run.clips[0].event_id, "cam1-fence-1");
  EXPECT_EQ(run.clips[0].path, (dir / "clips/cam1-fence-1.mp4").string());
  EXPECT_EQ(run.clips[1].path, (dir / "clips/cam1-fence-2.mp4").string());
  const uint64_t expected[] = {3 * kSecond, 3 * kSecond + 2 * kSecond / 3};
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(std::filesystem::exists(run.clips[i].path));
    EXPECT_EQ(std::filesystem::file_size(run.clips[i].path), run.clips[i].bytes);
    expect_clip(read_clip(run.clips[i].path), expected[i], run.clips[i].path);
  }
}

TEST(InternVLRecordTest, b_frames_are_rebased_and_the_clip_stays_playable) {
  REQUIRE_ENCODER_AND_DECODER();
  const auto dir = ivs::test::scratch_dir("internvlrecord_bframes");
  const Recording run =
      record("location=" + (dir / "%s.mp4").string() + " pre-roll=1 post-roll=0.5",
             {start_at("b", 3 * kSecond), end_at("b", 3 * kSecond, 4 * kSecond)}, 200,
             "x264enc key-int-max=15 bitrate=200 bframes=2");
  ASSERT_EQ(run.error, "");
  ASSERT_EQ(run.clips.size(), 1u);
  expect_clip(read_clip(run.clips[0].path), 2 * kSecond + kSecond / 2, run.clips[0].path);
}

TEST(InternVLRecordTest, eos_completes_an_open_clip) {
  REQUIRE_ENCODER_AND_DECODER();
  const auto dir = ivs::test::scratch_dir("internvlrecord_eos");
  // The event starts at 8 s and never ends; the stream ends at 10 s.
  const Recording run = record("location=" + (dir / "%s.mp4").string() + " pre-roll=1",
                               {start_at("open", 8 * kSecond)});
  ASSERT_EQ(run.error, "");
  ASSERT_EQ(run.clips.size(), 1u);
  expect_clip(read_clip(run.clips[0].path), 3 * kSecond, run.clips[0].path);
}

TEST(InternVLRecordTest, max_duration_cuts_an_event_that_does_not_end) {
  REQUIRE_ENCODER_AND_DECODER();
  const auto dir = ivs::test::scratch_dir("internvlrecord_max");
  const Recording run =
      record("location=" + (dir / "%s.mp4").string() + " pre-roll=1 max-duration=2",
             {start_at("long", 2 * kSecond)});
  ASSERT_EQ(run.error, "");
  ASSERT_EQ(run.clips.size(), 1u);
  const ClipInfo clip = read_clip(run.clips[0].path);
  EXPECT_EQ(clip.error, "");
  EXPECT_LE(clip.span(), 2 * kSecond);
  EXPECT_GE(clip.span() + kFrame, 2 * kSecond);
}

TEST(InternVLRecordTest, max_disk_bytes_deletes_the_oldest_clips) {
  REQUIRE_ENCODER_AND_DECODER();
  const auto dir = ivs::test::scratch_dir("internvlrecord_disk");
  constexpr uint64_t kCap = 100'000;
  std::vector<Scheduled> events;
  for (int i = 0; i < 4; ++i) {
    const uint64_t start = (1 + 2 * i) * kSecond;
    const std::string id = "e" + std::to_string(i);
    events.push_back(start_at(id, start));
    events.push_back(end_at(id, start, start + kSecond / 2));
  }
  const Recording run =
      record("location=" + (dir / "%s.mp4").string() +
                 " pre-roll=0.5 post-roll=0.5 max-disk-bytes=" + std::to_string(kCap),
             events);
  ASSERT_EQ(run.error, "");
  ASSERT_EQ(run.clips.size(), 4u);
  // The rule, independently: keep the newest files whose total fits (the newest always).
  std::vector<bool> kept(4, false);
  uint64_t total = 0;
  for (int i = 3; i >= 0; --i) {
    if (i < 3 && total + run.clips[i].bytes > kCap) break;
    total += run.clips[i].bytes;
    kept[i] = true;
  }
  uint64_t on_disk = 0;
  int deleted = 0;
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(std::filesystem::exists(run.clips[i].path), kept[i]) << run.clips[i].path;
    if (kept[i]) on_disk += std::filesystem::file_size(run.clips[i].path);
    deleted += kept[i] ? 0 : 1;
  }
  EXPECT_GT(deleted, 0) << "the clips fit the cap: make them larger or the cap smaller";
  EXPECT_LE(on_disk, kCap);
  EXPECT_EQ(run.deleted, static_cast<uint64_t>(deleted));
}

TEST(InternVLRecordTest, a_location_without_the_event_id_is_an_error_naming_the_fix) {
  const auto dir = ivs::test::scratch_dir("internvlrecord_location");
  const Recording run = record("location=" + (dir / "clip.mp4").string(), {}, 10);
  EXPECT_NE(run.error.find("location"), std::string::npos) << run.error;
  EXPECT_NE(run.error.find("%s"), std::string::npos) << run.error;
}

TEST(InternVLRecordTest, an_unwritable_directory_is_an_error_naming_the_location) {
  const Recording run = record("location=/proc/internvl-no-such-dir/%s.mp4", {}, 10);
  EXPECT_NE(run.error.find("location"), std::string::npos) << run.error;
  EXPECT_NE(run.error.find("/proc/internvl-no-such-dir"), std::string::npos) << run.error;
}

TEST(InternVLRecordTest, unparsed_h264_is_an_error_naming_the_parser) {
  const auto dir = ivs::test::scratch_dir("internvlrecord_caps");
  GstElement* pipeline = gst_parse_launch(
      ("appsrc name=src caps=video/x-h264,stream-format=byte-stream ! internvlrecord location=" +
       (dir / "%s.mp4").string())
          .c_str(),
      nullptr);
  ASSERT_NE(pipeline, nullptr);
  GstElement* src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstFlowReturn flow = GST_FLOW_OK;
  g_signal_emit_by_name(src, "push-buffer", gst_buffer_new_allocate(nullptr, 16, nullptr), &flow);
  g_signal_emit_by_name(src, "end-of-stream", &flow);
  GstBus* bus = gst_element_get_bus(pipeline);
  GstMessage* m = gst_bus_timed_pop_filtered(
      bus, 60 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(GST_MESSAGE_TYPE(m), GST_MESSAGE_ERROR);
  const std::string error = error_of(m);
  EXPECT_NE(error.find("h264parse"), std::string::npos) << error;
  gst_message_unref(m);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(src);
  gst_object_unref(pipeline);
}

}  // namespace
