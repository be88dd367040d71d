// SPDX-License-Identifier: Apache-2.0
// The service's event log: a bounded ring read by stream, since and limit; the bus messages it
// reads; files served only from recordings_dir and only for logged events; the clips' disk cap.
#include "pipeline/service/event_log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/common/test_paths.h"

namespace ivs::service {
namespace {

namespace fs = std::filesystem;

pipeline::AlertEvent event(const std::string& id, const std::string& stream,
                           pipeline::AlertState state = pipeline::AlertState::kStart) {
  pipeline::AlertEvent e;
  e.id = id;
  e.stream_id = stream;
  e.rule = "r";
  e.state = state;
  return e;
}

void write_file(const fs::path& path, size_t bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << std::string(bytes, 'x');
}

TEST(EventLogTest, keeps_the_newest_and_pages_by_seq) {
  EventLog log("", 0, 3, [] { return 1.5; });
  for (int i = 1; i <= 5; ++i) log.add(event("e" + std::to_string(i), i % 2 ? "odd" : "even"));
  EXPECT_EQ(log.last_seq(), 5u);
  const auto all = log.recent("", std::nullopt, 10);
  ASSERT_EQ(all.size(), 3u);  // the capacity: e1 and e2 are forgotten
  EXPECT_EQ(all.front().seq, 3u);
  EXPECT_EQ(all.back().event.id, "e5");
  EXPECT_DOUBLE_EQ(all.back().received_unix_seconds, 1.5);
  const auto newest = log.recent("", std::nullopt, 2);  // without since: the newest, in order
  ASSERT_EQ(newest.size(), 2u);
  EXPECT_EQ(newest[0].seq, 4u);
  EXPECT_EQ(newest[1].seq, 5u);
  const auto after = log.recent("", 3, 1);  // with since: the first after it
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].seq, 4u);
  const auto odd = log.recent("odd", std::nullopt, 10);
  ASSERT_EQ(odd.size(), 2u);
  EXPECT_EQ(odd[0].event.id, "e3");
  EXPECT_TRUE(log.recent("", 5, 10).empty());
}

TEST(EventLogTest, reads_the_elements_bus_messages) {
  gst_init(nullptr, nullptr);
  EventLog log("", 0);
  GstStructure* alert = gst_structure_new(
      "internvl-alert", "id", G_TYPE_STRING, "cam-r-1", "stream-id", G_TYPE_STRING, "cam", "rule",
      G_TYPE_STRING, "r", "prompt", G_TYPE_STRING, "a cat", "state", G_TYPE_STRING, "end",
      "start-time", G_TYPE_UINT64, guint64{1000000000}, "end-time", G_TYPE_UINT64,
      guint64{3000000000}, "time", G_TYPE_UINT64, guint64{4000000000}, "probability", G_TYPE_DOUBLE,
      0.25, "peak-probability", G_TYPE_DOUBLE, 0.9, "snapshot", G_TYPE_STRING, "/x.jpg", "clip",
      G_TYPE_STRING, "", nullptr);
  GstMessage* message = gst_message_new_element(nullptr, alert);
  EXPECT_TRUE(log.handle(message));
  gst_message_unref(message);
  GstMessage* other = gst_message_new_element(nullptr, gst_structure_new_empty("something"));
  EXPECT_FALSE(log.handle(other));
  gst_message_unref(other);
  const auto events = log.recent("", std::nullopt, 10);
  ASSERT_EQ(events.size(), 1u);
  const pipeline::AlertEvent& e = events[0].event;
  EXPECT_EQ(e.id, "cam-r-1");
  EXPECT_EQ(e.stream_id, "cam");
  EXPECT_EQ(e.prompt, "a cat");
  EXPECT_EQ(e.state, pipeline::AlertState::kEnd);
  EXPECT_EQ(e.start_pts, 1000000000u);
  EXPECT_EQ(e.end_pts, 3000000000u);
  EXPECT_EQ(e.pts, 4000000000u);
  EXPECT_DOUBLE_EQ(e.probability, 0.25);
  EXPECT_DOUBLE_EQ(e.peak_probability, 0.9);
  EXPECT_EQ(e.snapshot_path, "/x.jpg");
}

TEST(EventLogTest, serves_only_logged_files_inside_the_recordings_folder) {
  const fs::path root = test::scratch_dir("event_log_served");
  const fs::path recordings = root / "recordings";
  write_file(recordings / "cam" / "e1.jpg", 10);
  write_file(recordings / "cam" / "e1.mp4", 10);
  write_file(root / "secret.jpg", 10);
  EventLog log(recordings.string(), 0);
  auto e1 = event("e1", "cam");
  e1.snapshot_path = (recordings / "cam" / "e1.jpg").string();
  log.add(e1);
  auto outside = event("e2", "cam");
  outside.snapshot_path = (recordings / "cam" / ".." / ".." / "secret.jpg").string();
  log.add(outside);
  EXPECT_EQ(log.snapshot_of("e1"), (recordings / "cam" / "e1.jpg").string());
  EXPECT_FALSE(log.snapshot_of("e2"));  // outside recordings_dir, whatever the message said
  EXPECT_FALSE(log.snapshot_of("e3"));  // not logged
  EXPECT_FALSE(log.clip_of("e1"));      // not complete yet
  log.note_clip("e1", (recordings / "cam" / "e1.mp4").string(), 10);
  EXPECT_EQ(log.clip_of("e1"), (recordings / "cam" / "e1.mp4").string());
  EXPECT_FALSE(EventLog("", 0).snapshot_of("e1"));  // no recordings_dir: nothing is served
}

TEST(EventLogTest, deletes_the_oldest_clips_past_the_disk_cap) {
  const fs::path recordings = test::scratch_dir("event_log_budget");
  EventLog log(recordings.string(), 25);
  for (const char* id : {"a", "b", "c"}) {
    log.add(event(id, "cam"));
    write_file(recordings / "cam" / (std::string(id) + ".mp4"), 10);
    log.note_clip(id, (recordings / "cam" / (std::string(id) + ".mp4")).string(), 10);
  }
  EXPECT_FALSE(fs::exists(recordings / "cam" / "a.mp4"));  // 30 bytes > 25: the oldest goes
  EXPECT_FALSE(log.clip_of("a"));
  EXPECT_TRUE(log.clip_of("b"));
  EXPECT_TRUE(log.clip_of("c"));
}

}  // namespace
}  // namespace ivs::service
