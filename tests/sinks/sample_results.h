// SPDX-License-Identifier: Apache-2.0
// Fixed FrameResults of every kind, shared by the sinks tests and the schema sample writer.
#pragma once

#include <chrono>
#include <string>

#include "sinks/frame_result.h"

namespace ivs::test {

/// 2026-11-28T20:01:00.123Z: a whole number of milliseconds, so it survives the wire format.
inline std::chrono::system_clock::time_point sample_timestamp() {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(1795896060123LL));
}

/// The example message of sinks/README.md ("Wire format").
inline sinks::FrameResult sample_classification() {
  sinks::FrameResult r;
  r.kind = sinks::ResultKind::kClassification;
  r.sensor_id = "cam01";
  r.source = "rtsp://10.0.0.5/stream1";
  r.timestamp = sample_timestamp();
  r.segment_start_seconds = 12.0;
  r.segment_end_seconds = 13.4;
  r.start_frame_id = 360;
  r.end_frame_id = 402;
  r.model_name = "InternVL-14B-224px";
  r.model_mode = "InternVL-C";
  r.classification = {{"playing guitar", 3, 0.91}};
  r.latency_seconds = 0.042;
  r.queue_seconds = 0.003;
  r.batch_size = 8;
  return r;
}

inline sinks::FrameResult sample_caption() {
  sinks::FrameResult r = sample_classification();
  r.kind = sinks::ResultKind::kCaption;
  r.model_mode = "caption";
  r.classification.clear();
  r.caption =
      sinks::CaptionRecord{"a red panda sitting on a wooden platform", "English caption:", 9, 5};
  r.batch_size = 1;
  return r;
}

/// The start of an alert (wire format 1.1): segment from the start to the deciding sample.
inline sinks::FrameResult sample_event() {
  sinks::FrameResult r = sample_classification();
  r.kind = sinks::ResultKind::kEvent;
  r.source.clear();
  r.classification.clear();
  r.segment_start_seconds = 12.0;
  r.segment_end_seconds = 12.5;
  r.start_frame_id = 360;
  r.end_frame_id = 375;
  sinks::EventInfo& event = r.event.emplace();
  event.id = "cam01-person-1";
  event.rule = "person";
  event.prompt = "a person at the door";
  event.state = sinks::EventState::kStart;
  event.start_seconds = 12.0;
  event.probability = 0.84;
  event.peak_probability = 0.88;
  event.start_frame_id = 360;
  event.frame_id = 375;
  event.snapshot_path = "/var/lib/internvl/snapshots/cam01-person-1.jpg";
  return r;
}

/// The end of sample_event()'s alert, with its clip: segment from the start to the end.
inline sinks::FrameResult sample_event_end() {
  sinks::FrameResult r = sample_event();
  r.segment_end_seconds = 20.25;
  r.end_frame_id = 607;
  r.event->state = sinks::EventState::kEnd;
  r.event->end_seconds = 20.25;
  r.event->probability = 0.12;
  r.event->peak_probability = 0.97;
  r.event->frame_id = 607;
  r.event->clip_path = "/var/lib/internvl/clips/cam01-person-1.mp4";
  return r;
}

/// A sampled frame's embedding (wire format 1.1): dim 4, a unit vector whose values need no
/// rounding at 6 decimals.
inline sinks::FrameResult sample_embedding() {
  sinks::FrameResult r = sample_classification();
  r.kind = sinks::ResultKind::kEmbedding;
  r.classification.clear();
  r.segment_end_seconds = r.segment_start_seconds;
  r.end_frame_id = r.start_frame_id;
  r.embedding = {0.5f, -0.5f, 0.5f, -0.5f};
  return r;
}

/// Chinese labels and caption: UTF-8 must pass through unescaped and unchanged.
inline sinks::FrameResult sample_unicode() {
  sinks::FrameResult r = sample_classification();
  r.sensor_id = "摄像头-01";
  r.classification = {{"弹吉他", 0, 0.75}, {"跳舞", 1, 0.25}};
  return r;
}

}  // namespace ivs::test
