// SPDX-License-Identifier: Apache-2.0
// The service's small pure pieces: restart backoff, URI handling, the status page's escaping.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "pipeline/service/status_page.h"
#include "pipeline/service/stream_pipeline.h"
#include "pipeline/service/supervisor.h"

namespace ivs::service {
namespace {

TEST(BackoffTest, doubles_per_failure_is_bounded_and_jittered_within_half) {
  EXPECT_DOUBLE_EQ(backoff_delay_seconds(1, 60, 1, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(backoff_delay_seconds(1, 60, 2, 1.0), 2.0);
  EXPECT_DOUBLE_EQ(backoff_delay_seconds(1, 60, 5, 1.0), 16.0);
  EXPECT_DOUBLE_EQ(backoff_delay_seconds(1, 60, 7, 1.0), 60.0);     // 64 capped
  EXPECT_DOUBLE_EQ(backoff_delay_seconds(1, 60, 1000, 1.0), 60.0);  // no overflow
  EXPECT_DOUBLE_EQ(backoff_delay_seconds(1, 60, 5, 0.0), 8.0);      // jitter: half at least
  for (double r = 0.0; r < 1.0; r += 0.05) {
    const double delay = backoff_delay_seconds(0.5, 10, 3, r);
    EXPECT_GE(delay, 1.0);
    EXPECT_LE(delay, 2.0);
  }
}

TEST(StreamUriTest, credentials_are_removed_for_display) {
  EXPECT_EQ(redact_uri("rtsp://admin:pa55@10.0.0.5:554/stream1"), "rtsp://10.0.0.5:554/stream1");
  EXPECT_EQ(redact_uri("rtsp://user@cam/s"), "rtsp://cam/s");
  EXPECT_EQ(redact_uri("rtsp://10.0.0.5/path@odd"),
            "rtsp://10.0.0.5/path@odd");  // '@' in the path stays
  EXPECT_EQ(redact_uri("file:///videos/a.mp4"), "file:///videos/a.mp4");
}

TEST(StreamUriTest, live_schemes_are_known_before_opening) {
  EXPECT_TRUE(uri_is_live("rtsp://h/s"));
  EXPECT_TRUE(uri_is_live("srt://h:9000"));
  EXPECT_TRUE(uri_is_live("udp://0.0.0.0:5000"));
  EXPECT_FALSE(uri_is_live("file:///a.mp4"));
  EXPECT_FALSE(uri_is_live("https://example.com/a.mp4"));  // decided by NO_PREROLL when it plays
}

TEST(StatusPageTest, escapes_everything_a_camera_name_or_caption_could_inject) {
  EXPECT_EQ(escape_html("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
  StreamStatus status;
  status.id = "cam01";
  status.state = StreamState::kBackoff;
  status.last_error = "<b>down</b>";
  status.latest_caption = "a <cat>";
  status.latest_labels = {{"a dog", 0, 0.75}};
  const std::string page = render_status_page({status});
  EXPECT_NE(page.find("data-stream=\"cam01\""), std::string::npos);
  EXPECT_NE(page.find("backoff"), std::string::npos);
  EXPECT_NE(page.find("&lt;b&gt;down&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(page.find("a &lt;cat&gt;"), std::string::npos);
  EXPECT_NE(page.find("a dog 0.75"), std::string::npos);
  EXPECT_EQ(page.find("<cat>"), std::string::npos);
}

TEST(StatusPageTest, shows_the_frame_and_the_clip_labels_each_under_its_kind) {
  StreamStatus status;
  status.id = "cam01";
  status.latest_labels = {{"a dog", 0, 0.75}};
  status.latest_clip_labels = {{"a cat", 1, 0.40}};
  const std::string page = render_status_page({status});
  const auto frame = page.find("frame:</span> a dog 0.75");
  const auto clip = page.find("clip:</span> a cat 0.40");
  ASSERT_NE(frame, std::string::npos) << page;
  ASSERT_NE(clip, std::string::npos) << page;
  EXPECT_LT(frame, clip);
}

// Search on the status page: the form keeps what was asked, moments come with their
// thumbnails, each stream with its newest indexed frame, and none of it without search.
TEST(StatusPageTest, search_shows_the_form_the_moments_with_thumbnails_and_the_stream_pictures) {
  StreamStatus status;
  status.id = "cam01";
  SearchView search;
  search.enabled = true;
  search.query = {{"q", "a <red> van"}, {"k", "5"}, {"stream", "cam01"}};
  search::Moment moment;
  moment.stream = "cam01";
  moment.start_seconds = 12.0;
  moment.end_seconds = 14.5;
  moment.score = 0.31;
  moment.best_frame_id = 360;
  moment.best_id = 42;
  moment.has_thumbnail = true;
  moment.frames = 6;
  search.outcome.moments = {moment};
  search.latest = {{"cam01", 77}};
  const std::string page = render_status_page({status}, {}, search);
  EXPECT_NE(page.find("<form id=\"search\""), std::string::npos) << page;
  EXPECT_NE(page.find("value=\"a &lt;red&gt; van\""), std::string::npos) << page;
  EXPECT_NE(page.find("<option value=\"cam01\" selected>"), std::string::npos) << page;
  EXPECT_NE(page.find("data-moment=\"42\""), std::string::npos) << page;
  EXPECT_NE(page.find("src=\"/api/v1/thumbnails/42.jpg\""), std::string::npos) << page;
  EXPECT_NE(page.find("12.0&ndash;14.5 s"), std::string::npos) << page;
  EXPECT_NE(page.find("1970-01-01T00:00:00.000Z"), std::string::npos) << page;
  // The stream's picture sits in its row, before its labels.
  const auto row = page.find("data-stream=\"cam01\"");
  const auto picture = page.find("class=\"latest\" src=\"/api/v1/thumbnails/77.jpg\"");
  ASSERT_NE(picture, std::string::npos) << page;
  EXPECT_LT(row, picture);
  // The search box and results stay outside the part the page refreshes.
  EXPECT_LT(page.find("id=\"moments\""), page.find("<div id=\"live\">"));

  search.outcome = {{}, "k must be an integer from 1 to 1000", 400};
  const std::string refused = render_status_page({status}, {}, search);
  EXPECT_NE(refused.find("id=\"search-error\">k must be"), std::string::npos) << refused;
  EXPECT_EQ(render_status_page({status}).find("id=\"search\""), std::string::npos);
  EXPECT_EQ(render_status_page({status}).find("Latest frame"), std::string::npos);
}

TEST(SearchApiTest, moments_become_json_with_wall_times_and_a_thumbnail_url) {
  search::Moment moment;
  moment.stream = "cam01";
  moment.start_seconds = 1.5;
  moment.end_seconds = 2.0;
  moment.start_wall =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(1796630400123));
  moment.end_wall = moment.start_wall + std::chrono::milliseconds(500);
  moment.score = 0.25;
  moment.best_frame_id = 45;
  moment.best_id = 9;
  moment.frames = 2;
  nlohmann::json json = moment_with_thumbnail(moment);
  EXPECT_EQ(json["start_time"], "2026-12-07T08:00:00.123Z");
  EXPECT_EQ(json["end_time"], "2026-12-07T08:00:00.623Z");
  EXPECT_EQ(json["frame_id"], 45);
  EXPECT_EQ(json["id"], 9);
  EXPECT_TRUE(json["thumbnail_url"].is_null());
  moment.has_thumbnail = true;
  EXPECT_EQ(moment_with_thumbnail(moment)["thumbnail_url"], "/api/v1/thumbnails/9.jpg");
}

}  // namespace
}  // namespace ivs::service
