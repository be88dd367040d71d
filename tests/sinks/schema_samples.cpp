// SPDX-License-Identifier: Apache-2.0
// Writes the JSON-lines files the schema tests validate with tests/sinks/validate_messages.py:
//   schema_samples <valid.jsonl> <invalid.jsonl>
// valid: every kind, with and without source, Unicode, through JsonLinesWriter (the real path).
// invalid: one message per line, each broken in one way the schema must reject.
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
                                      ivs::test::sample_caption(), ivs::test::sample_event(),
                                      ivs::test::sample_unicode()};
  FrameResult no_source_caption = ivs::test::sample_caption();
  no_source_caption.source.clear();
  no_source_caption.caption->text = "一只小熊猫坐在木台上";
  results.push_back(no_source_caption);
  FrameResult g_mode = ivs::test::sample_classification();
  g_mode.model_mode = "InternVL-G";
  g_mode.classification = {{"a", 0, 0.0}, {"b", 1, 1.0}};
  g_mode.classification[0].label = "bad\xff";  // replaced by U+FFFD, still valid
  results.push_back(g_mode);
  FrameResult empty_event = ivs::test::sample_event();
  empty_event.classification.clear();
  results.push_back(empty_event);
  return results;
}

std::vector<std::string> invalid_messages() {
  const ordered_json good =
      ordered_json::parse(ivs::sinks::result_to_json(ivs::test::sample_classification()));
  std::vector<std::string> out;
  auto add = [&](auto mutate) {
    ordered_json message = good;
    mutate(message);
    out.push_back(message.dump());
  };
  add([](ordered_json& m) { m.erase("version"); });
  add([](ordered_json& m) { m["version"] = "2.0"; });
  add([](ordered_json& m) { m["kind"] = "detection"; });
  add([](ordered_json& m) { m["extra"] = true; });
  add([](ordered_json& m) { m["segment"]["duration"] = 1.4; });
  add([](ordered_json& m) { m["timestamp"] = "2026-11-28 20:01:00"; });
  add([](ordered_json& m) { m["classification"][0]["confidence"] = 1.5; });
  add([](ordered_json& m) { m["classification"] = ordered_json::array(); });
  add([](ordered_json& m) { m["kind"] = "caption"; });  // caption null, classification non-empty
  add([](ordered_json& m) { m["metrics"]["batch_size"] = "8"; });
  add([](ordered_json& m) { m["sensor_id"] = ""; });
  add([](ordered_json& m) { m["model"]["mode"] = "c"; });
  // What result_to_json itself writes for a producer bug: kind caption without a caption.
  FrameResult no_caption = ivs::test::sample_caption();
  no_caption.caption.reset();
  out.push_back(ivs::sinks::result_to_json(no_caption));
  out.push_back("not json");
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: " << argv[0] << " <valid.jsonl> <invalid.jsonl>\n";
    return 2;
  }
  try {
    std::remove(argv[1]);
    ivs::sinks::JsonLinesWriter writer(argv[1]);
    for (const FrameResult& result : valid_results()) {
      if (!writer.publish(result)) throw std::runtime_error("cannot write " + writer.path());
    }
    writer.flush();
    std::ofstream invalid(argv[2], std::ios::binary | std::ios::trunc);
    for (const std::string& line : invalid_messages()) invalid << line << '\n';
    if (!invalid.flush()) throw std::runtime_error(std::string("cannot write ") + argv[2]);
  } catch (const std::exception& e) {
    std::cerr << "schema_samples: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
