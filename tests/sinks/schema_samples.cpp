// SPDX-License-Identifier: Apache-2.0
// Writes the JSON-lines files the schema tests validate with tests/sinks/validate_messages.py:
//   schema_samples <valid.jsonl> <invalid.jsonl> <valid-1.1.jsonl> <invalid-1.1.jsonl>
// valid: the 1.0 messages (classification, caption), with and without source, Unicode, through
// JsonLinesWriter (the real path); both schemas accept them. valid-1.1: event messages, which
// only the 1.1 schema accepts. invalid: one message per line, each broken in one way both
// schemas must reject; invalid-1.1: broken event messages the 1.1 schema must reject.
// Embedding messages (1.1 too) go with the event ones.
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sinks/jsonl_writer.h"
#include "sinks/result_json.h"
#include "tests/sinks/sample_results.h"

namespace {

using ivs::sinks::FrameResult;
using nlohmann::ordered_json;

std::vector<FrameResult> valid_results() {
  std::vector<FrameResult> results = {ivs::test::sample_classification(),
                                      ivs::test::sample_caption(), ivs::test::sample_unicode()};
  FrameResult no_source_caption = ivs::test::sample_caption();
  no_source_caption.source.clear();
  no_source_caption.caption->text = "一只小熊猫坐在木台上";
  results.push_back(no_source_caption);
  FrameResult g_mode = ivs::test::sample_classification();
  g_mode.model_mode = "InternVL-G";
  g_mode.classification = {{"a", 0, 0.0}, {"b", 1, 1.0}};
  g_mode.classification[0].label = "bad\xff";  // replaced by U+FFFD, still valid
  results.push_back(g_mode);
  return results;
}

std::vector<FrameResult> valid_event_results() {
  FrameResult unicode = ivs::test::sample_event();
  unicode.sensor_id = "摄像头-01";
  unicode.source = "rtsp://10.0.0.5/stream1";
  unicode.model_mode = "InternVL-G";
  unicode.event->prompt = "门口有人";
  unicode.event->snapshot_path.clear();
  FrameResult no_clip = ivs::test::sample_event_end();
  no_clip.event->clip_path.clear();
  FrameResult stray = ivs::test::sample_event();  // the end of a start is not written
  stray.event->end_seconds = 1.0;
  stray.event->clip_path = "stray.mp4";
  stray.event->probability = 1.0000001;
  FrameResult embedding_g = ivs::test::sample_embedding();
  embedding_g.model_mode = "InternVL-G";
  embedding_g.embedding = std::vector<float>(768, 0.036084f);  // dim of the real model
  FrameResult stray_labels = ivs::test::sample_embedding();    // labels are not written
  stray_labels.classification = {{"a", 0, 0.5}};
  return {ivs::test::sample_event(),
          ivs::test::sample_event_end(),
          unicode,
          no_clip,
          stray,
          ivs::test::sample_embedding(),
          embedding_g,
          stray_labels};
}

// One message per mutation: `good_text` changed in that one way.
template <typename Mutations>
std::vector<std::string> mutated(const std::string& good_text, const Mutations& mutations) {
  const ordered_json good = ordered_json::parse(good_text);
  std::vector<std::string> out;
  for (const auto& mutate : mutations) {
    ordered_json message = good;
    mutate(message);
    out.push_back(message.dump());
  }
  return out;
}

using Mutation = void (*)(ordered_json&);

// Valid on their own, out of place in the message a mutation puts them in.
ordered_json stray_caption() {
  return {{"text", "t"}, {"prompt", "p"}, {"num_generated_tokens", 1}, {"num_input_tokens", 1}};
}
ordered_json stray_label() { return {{"label", "a"}, {"label_id", 0}, {"confidence", 1}}; }

std::vector<std::string> invalid_messages() {
  const Mutation mutations[] = {
      [](ordered_json& m) { m.erase("version"); },
      [](ordered_json& m) { m["version"] = "2.0"; },
      [](ordered_json& m) { m["kind"] = "detection"; },
      [](ordered_json& m) { m["extra"] = true; },
      [](ordered_json& m) { m["segment"]["duration"] = 1.4; },
      [](ordered_json& m) { m["timestamp"] = "2026-11-28 20:01:00"; },
      [](ordered_json& m) { m["classification"][0]["confidence"] = 1.5; },
      [](ordered_json& m) { m["classification"] = ordered_json::array(); },
      [](ordered_json& m) { m["kind"] = "caption"; },  // caption null, classification non-empty
      [](ordered_json& m) { m["metrics"]["batch_size"] = "8"; },
      [](ordered_json& m) { m["sensor_id"] = ""; },
      [](ordered_json& m) { m["model"]["mode"] = "c"; },
  };
  std::vector<std::string> out =
      mutated(ivs::sinks::result_to_json(ivs::test::sample_classification()), mutations);
  // What result_to_json itself writes for a producer bug: kind caption without a caption.
  FrameResult no_caption = ivs::test::sample_caption();
  no_caption.caption.reset();
  out.push_back(ivs::sinks::result_to_json(no_caption));
  out.push_back("not json");
  return out;
}

// Broken the ways the version rule and the embedding object forbid.
std::vector<std::string> invalid_embedding_messages() {
  const Mutation mutations[] = {
      [](ordered_json& m) { m.erase("embedding"); },
      [](ordered_json& m) { m["embedding"] = nullptr; },
      [](ordered_json& m) { m["version"] = "1.0"; },
      [](ordered_json& m) { m["embedding"]["extra"] = 1; },
      [](ordered_json& m) { m["embedding"].erase("dim"); },
      [](ordered_json& m) { m["embedding"]["dim"] = 0; },
      [](ordered_json& m) { m["embedding"]["vector"] = ordered_json::array(); },
      [](ordered_json& m) { m["embedding"]["vector"][0] = 1.5; },
      [](ordered_json& m) { m["embedding"]["vector"][0] = "0.5"; },
      [](ordered_json& m) { m["model"]["mode"] = "caption"; },
      [](ordered_json& m) { m["caption"] = stray_caption(); },
      [](ordered_json& m) { m["classification"] = ordered_json::array({stray_label()}); },
      [](ordered_json& m) { m["kind"] = "event"; },  // an event without its event object
      [](ordered_json& m) {                          // a classification carrying an embedding
        m["kind"] = "classification", m["classification"] = ordered_json::array({stray_label()});
      },
  };
  return mutated(ivs::sinks::result_to_json(ivs::test::sample_embedding()), mutations);
}

// Broken the ways the version rule and the event object forbid.
std::vector<std::string> invalid_event_messages() {
  const Mutation mutations[] = {
      [](ordered_json& m) { m.erase("event"); },
      [](ordered_json& m) { m["event"] = nullptr; },  // result_to_json's kind event without one
      [](ordered_json& m) { m["version"] = "1.0"; },  // 1.0 carries no event
      [](ordered_json& m) { m["version"] = "1.0", m.erase("event"); },  // 1.0 kind event
      [](ordered_json& m) {
        m["kind"] = "classification", m["classification"] = ordered_json::array({stray_label()});
      },
      [](ordered_json& m) { m["event"]["extra"] = 1; },
      [](ordered_json& m) { m["event"]["state"] = "paused"; },
      [](ordered_json& m) { m["event"]["id"] = ""; },
      [](ordered_json& m) { m["event"]["rule"] = ""; },
      [](ordered_json& m) { m["event"].erase("prompt"); },
      [](ordered_json& m) { m["event"]["start_time"] = -1; },
      [](ordered_json& m) { m["event"]["end_time"] = 1.0; },
      [](ordered_json& m) { m["event"]["clip_path"] = ""; },
      [](ordered_json& m) { m["event"]["state"] = "end", m["event"]["clip_path"] = ""; },
      [](ordered_json& m) { m["event"]["state"] = "end", m["event"]["end_time"] = 2.0; },
      [](ordered_json& m) { m["event"]["probability"] = 1.5; },
      [](ordered_json& m) { m["event"]["peak_probability"] = -0.1; },
      [](ordered_json& m) { m["event"]["frame_id"] = -1; },
      [](ordered_json& m) { m["event"]["start_frame_id"] = 1.5; },
      [](ordered_json& m) { m["event"]["snapshot_path"] = nullptr; },
      [](ordered_json& m) { m["classification"] = ordered_json::array({stray_label()}); },
      [](ordered_json& m) { m["caption"] = stray_caption(); },
      [](ordered_json& m) { m["model"]["mode"] = "caption"; },
  };
  std::vector<std::string> out =
      mutated(ivs::sinks::result_to_json(ivs::test::sample_event()), mutations);
  for (std::string& line : invalid_embedding_messages()) out.push_back(std::move(line));
  return out;
}

void write_results(const char* path, const std::vector<FrameResult>& results) {
  std::remove(path);
  ivs::sinks::JsonLinesWriter writer(path);
  for (const FrameResult& result : results) {
    if (!writer.publish(result)) throw std::runtime_error("cannot write " + writer.path());
  }
  writer.flush();
}

void write_lines(const char* path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  for (const std::string& line : lines) out << line << '\n';
  if (!out.flush()) throw std::runtime_error(std::string("cannot write ") + path);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: " << argv[0]
              << " <valid.jsonl> <invalid.jsonl> <valid-1.1.jsonl> <invalid-1.1.jsonl>\n";
    return 2;
  }
  try {
    write_results(argv[1], valid_results());
    write_lines(argv[2], invalid_messages());
    write_results(argv[3], valid_event_results());
    write_lines(argv[4], invalid_event_messages());
  } catch (const std::exception& e) {
    std::cerr << "schema_samples: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
