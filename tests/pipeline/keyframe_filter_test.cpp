// SPDX-License-Identifier: Apache-2.0
#include "pipeline/keyframe_filter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "pipeline/frame_sampler.h"

namespace {

using ivs::pipeline::DecodeFrames;
using ivs::pipeline::FrameSampler;
using ivs::pipeline::KeyframeFilter;
using ivs::pipeline::SamplingNeed;
using Verdict = KeyframeFilter::Verdict;

constexpr uint64_t kSecond = 1'000'000'000;

struct Frame {
  uint64_t pts;
  bool key;
};

// 30 fps without B-frames (decoding order = PTS order), a key frame every `gop` frames from
// frame `first` on (0 = every `gop` frames from the start); gop 0: only the first is a key frame.
std::vector<Frame> stream_30fps(uint64_t frames, uint64_t gop, uint64_t first_pts = 0) {
  std::vector<Frame> out;
  for (uint64_t i = 0; i < frames; ++i) {
    out.push_back({first_pts + i * kSecond / 30, gop == 0 ? i == 0 : i % gop == 0});
  }
  return out;
}

SamplingNeed need_fps(double fps) { return SamplingNeed{fps, false, 1}; }

// Indices of the frames the filter passes.
std::vector<size_t> passed(KeyframeFilter& filter, const std::vector<Frame>& frames,
                           const SamplingNeed& need) {
  std::vector<size_t> out;
  for (size_t i = 0; i < frames.size(); ++i) {
    if (filter.push(frames[i].pts, frames[i].key, need) != Verdict::kDrop) out.push_back(i);
  }
  return out;
}

// Indices of the frames a consumer sampling at `fps` samples among `indices` of `frames`.
std::vector<size_t> sampled(const std::vector<Frame>& frames, const std::vector<size_t>& indices,
                            double fps) {
  FrameSampler sampler({0, fps});
  std::vector<size_t> out;
  for (size_t i : indices) {
    if (sampler.should_sample(frames[i].pts)) out.push_back(i);
  }
  return out;
}

std::vector<size_t> all_indices(size_t n) {
  std::vector<size_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = i;
  return out;
}

TEST(KeyframeFilterTest, names_are_the_property_nicks_in_value_order) {
  EXPECT_EQ(ivs::pipeline::decode_frames_names(),
            (std::vector<std::string>{"auto", "all", "keyframes"}));
  EXPECT_EQ(ivs::pipeline::decode_frames_name(DecodeFrames::kKeyframes), "keyframes");
}

TEST(KeyframeFilterTest, one_second_gop_at_one_sample_per_second_decodes_key_frames_only) {
  const auto frames = stream_30fps(300, 30);  // 10 s, key frames at 0, 1, ..., 9 s
  KeyframeFilter filter({});
  const std::vector<size_t> decoded = passed(filter, frames, need_fps(1.0));
  // Key frames only, from the first on (the spacing is assumed short until measured).
  const std::vector<size_t> expected{0, 30, 60, 90, 120, 150, 180, 210, 240, 270};
  EXPECT_EQ(decoded, expected);
  const KeyframeFilter::Status status = filter.status();
  EXPECT_EQ(status.decoding, DecodeFrames::kKeyframes);
  ASSERT_TRUE(status.gop_seconds.has_value());
  EXPECT_NEAR(*status.gop_seconds, 1.0, 1e-6);
  EXPECT_EQ(status.frames_in, 300u);
  EXPECT_EQ(status.frames_passed, expected.size());
  // The consumer samples the same frames as when everything is decoded.
  EXPECT_EQ(sampled(frames, decoded, 1.0), sampled(frames, all_indices(300), 1.0));
}

TEST(KeyframeFilterTest, key_frames_more_often_than_samples_are_thinned_to_the_grid) {
  const auto frames = stream_30fps(300, 15);  // key frames every 0.5 s
  KeyframeFilter filter({});
  const std::vector<size_t> decoded = passed(filter, frames, need_fps(1.0));
  // One key frame per second, on the grid.
  EXPECT_EQ(decoded, (std::vector<size_t>{0, 30, 60, 90, 120, 150, 180, 210, 240, 270}));
  // Every frame decoded is sampled, and the samples are those of decoding everything.
  EXPECT_EQ(sampled(frames, decoded, 1.0), sampled(frames, all_indices(300), 1.0));
}

TEST(KeyframeFilterTest, gop_longer_than_the_sampling_period_decodes_everything) {
  const auto frames = stream_30fps(300, 60);  // 2 s GOP, 1 sample/s
  KeyframeFilter filter({});
  // The first GOP is guessed short: its key frame only; from the second key frame on, all.
  std::vector<size_t> expected{0};
  for (size_t i = 60; i < 300; ++i) expected.push_back(i);
  EXPECT_EQ(passed(filter, frames, need_fps(1.0)), expected);
  EXPECT_EQ(filter.status().decoding, DecodeFrames::kAll);
  EXPECT_NEAR(*filter.status().gop_seconds, 2.0, 1e-6);
}

TEST(KeyframeFilterTest, the_same_gop_at_a_lower_rate_decodes_key_frames_only) {
  const auto frames = stream_30fps(600, 60);  // 2 s GOP, one sample every 2 s
  KeyframeFilter filter({});
  const std::vector<size_t> decoded = passed(filter, frames, need_fps(0.5));
  EXPECT_EQ(filter.status().decoding, DecodeFrames::kKeyframes);
  EXPECT_EQ(decoded.size(), 10u);  // the key frames
  EXPECT_EQ(sampled(frames, decoded, 0.5), sampled(frames, all_indices(600), 0.5));
}

TEST(KeyframeFilterTest, consumers_counting_frames_or_none_at_all_get_every_frame) {
  const auto frames = stream_30fps(300, 30);
  for (const SamplingNeed& need :
       {SamplingNeed{}, SamplingNeed{1.0, true, 2}, SamplingNeed{0.0, false, 1}}) {
    KeyframeFilter filter({});
    EXPECT_EQ(passed(filter, frames, need), all_indices(300));
    EXPECT_EQ(filter.status().decoding, DecodeFrames::kAll);
  }
}

TEST(KeyframeFilterTest, a_stream_without_key_frames_after_the_first_decodes_everything) {
  const auto frames = stream_30fps(300, 0);
  KeyframeFilter filter({});
  std::vector<Verdict> verdicts;
  for (const Frame& f : frames) verdicts.push_back(filter.push(f.pts, f.key, need_fps(1.0)));
  // No second key frame within four sampling periods: every frame from there (4.03 s) on.
  EXPECT_EQ(verdicts[0], Verdict::kPass);
  for (size_t i = 1; i <= 120; ++i) EXPECT_EQ(verdicts[i], Verdict::kDrop) << i;
  EXPECT_EQ(verdicts[121], Verdict::kResume);
  for (size_t i = 122; i < frames.size(); ++i) EXPECT_EQ(verdicts[i], Verdict::kPass) << i;
  EXPECT_EQ(filter.status().decoding, DecodeFrames::kAll);
  EXPECT_FALSE(filter.status().gop_seconds.has_value());
}

TEST(KeyframeFilterTest, a_gop_change_mid_stream_switches_the_decoding_at_key_frames) {
  // 10 s with a 1 s GOP, 12 s with a 3 s GOP, 10 s with a 1 s GOP again.
  std::vector<Frame> frames = stream_30fps(300, 30);
  for (const Frame& f : stream_30fps(360, 90, 10 * kSecond)) frames.push_back(f);
  for (const Frame& f : stream_30fps(300, 30, 22 * kSecond)) frames.push_back(f);
  KeyframeFilter filter({});
  std::vector<DecodeFrames> at_key_frames;
  std::vector<size_t> decoded;
  for (size_t i = 0; i < frames.size(); ++i) {
    if (filter.push(frames[i].pts, frames[i].key, need_fps(1.0)) != Verdict::kDrop)
      decoded.push_back(i);
    if (frames[i].key) at_key_frames.push_back(filter.status().decoding);
  }
  // Key frames at 0..9 s, 10, 13, 16, 19 s, then 22..31 s.
  ASSERT_EQ(at_key_frames.size(), 10u + 4u + 10u);
  EXPECT_EQ(at_key_frames[9], DecodeFrames::kKeyframes);
  EXPECT_EQ(at_key_frames[11], DecodeFrames::kAll);  // 13 s: a 3 s spacing measured
  EXPECT_EQ(at_key_frames[13], DecodeFrames::kAll);
  // Back to key frames once the 3 s spacing left the window of three.
  EXPECT_EQ(at_key_frames[16], DecodeFrames::kAll);  // 24 s: spacings 3, 1, 1
  EXPECT_EQ(at_key_frames[17], DecodeFrames::kKeyframes);
  EXPECT_EQ(at_key_frames.back(), DecodeFrames::kKeyframes);
  // Every frame of the long-GOP part reached the decoder after the switch (13 s on).
  for (size_t i = 390; i < 660; ++i) {
    EXPECT_TRUE(std::binary_search(decoded.begin(), decoded.end(), i)) << "frame " << i;
  }
}

TEST(KeyframeFilterTest, key_frames_that_stop_coming_resume_decoding_every_frame) {
  std::vector<Frame> frames = stream_30fps(300, 30);
  for (const Frame& f : stream_30fps(300, 0, 10 * kSecond)) frames.push_back({f.pts, false});
  KeyframeFilter filter({});
  std::vector<Verdict> verdicts;
  for (const Frame& f : frames) verdicts.push_back(filter.push(f.pts, f.key, need_fps(1.0)));
  // The last key frame is at 9 s; three GOPs later (12 s, frame 360) decoding resumes.
  EXPECT_EQ(verdicts[359], Verdict::kDrop);
  EXPECT_EQ(verdicts[361], Verdict::kResume);
  for (size_t i = 362; i < frames.size(); ++i) EXPECT_EQ(verdicts[i], Verdict::kPass) << i;
  EXPECT_EQ(filter.status().decoding, DecodeFrames::kAll);
}

TEST(KeyframeFilterTest, forced_modes_and_rate_override_what_consumers_say) {
  const auto frames = stream_30fps(300, 30);
  KeyframeFilter all({DecodeFrames::kAll, 0.0});
  EXPECT_EQ(passed(all, frames, need_fps(1.0)), all_indices(300));

  KeyframeFilter keyframes({DecodeFrames::kKeyframes, 0.0});  // no rate known: every key frame
  EXPECT_EQ(passed(keyframes, frames, SamplingNeed{}),
            (std::vector<size_t>{0, 30, 60, 90, 120, 150, 180, 210, 240, 270}));

  KeyframeFilter thinned({DecodeFrames::kKeyframes, 0.5});
  EXPECT_EQ(passed(thinned, frames, SamplingNeed{}), (std::vector<size_t>{0, 60, 120, 180, 240}));

  KeyframeFilter rate({DecodeFrames::kAuto, 1.0});  // nobody answers, the rate is set
  EXPECT_EQ(passed(rate, frames, SamplingNeed{}).size(), 10u);
}

TEST(KeyframeFilterTest, timestamps_starting_over_are_not_a_spacing) {
  const auto frames = stream_30fps(300, 30);
  KeyframeFilter filter({});
  passed(filter, frames, need_fps(1.0));
  filter.restart();  // a seek back, a looping file
  const std::vector<size_t> again = passed(filter, frames, need_fps(1.0));
  // The decision and the GOP stay: key frames only from the first key frame on.
  EXPECT_EQ(again, (std::vector<size_t>{0, 30, 60, 90, 120, 150, 180, 210, 240, 270}));
  EXPECT_NEAR(*filter.status().gop_seconds, 1.0, 1e-6);
  // Without a restart, going back in time is not measured as a spacing either.
  passed(filter, frames, need_fps(1.0));
  EXPECT_NEAR(*filter.status().gop_seconds, 1.0, 1e-6);
}

}  // namespace
