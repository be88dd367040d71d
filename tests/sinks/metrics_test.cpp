// SPDX-License-Identifier: Apache-2.0
// Metrics are checked the way Prometheus sees them: a real HTTP scrape of a real exposer on a
// loopback ephemeral port, then a parse of the text exposition format.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

#include "sinks/prometheus/metrics.h"
#include "sinks/prometheus/metrics_exposer.h"
#include "tests/sinks/http_client.h"

namespace ivs::sinks {
namespace {

// One scrape, parsed: samples keyed by the series exactly as written ("name{a=\"x\"}"), and the
// family name -> type / help from the "# TYPE" and "# HELP" lines.
struct Exposition {
  std::map<std::string, double> samples;
  std::map<std::string, std::string> types;
  std::map<std::string, std::string> help;

  double value(const std::string& series) const {
    const auto it = samples.find(series);
    if (it == samples.end()) throw std::out_of_range("series not exposed: " + series);
    return it->second;
  }
  bool has(const std::string& series) const { return samples.count(series) != 0; }
};

void parse_comment(const std::string& line, Exposition& out) {
  std::istringstream in(line);
  std::string hash, kind, name, rest;
  in >> hash >> kind >> name;
  std::getline(in, rest);
  if (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
  if (kind == "TYPE") out.types[name] = rest;
  if (kind == "HELP") out.help[name] = rest;
}

Exposition parse_exposition(const std::string& text) {
  Exposition out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.front() == '#') {
      parse_comment(line, out);
      continue;
    }
    // Label values here never contain a space, so the value is after the last one.
    const auto space = line.rfind(' ');
    out.samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

Exposition scrape(const MetricsExposer& exposer) {
  const test::HttpResponse response = test::http_get("127.0.0.1", exposer.port(), "/metrics");
  EXPECT_EQ(response.status, 200);
  EXPECT_NE(response.header("content-type").value_or("").find("text/plain"), std::string::npos);
  return parse_exposition(response.body);
}

Metrics make_metrics() { return Metrics("1.2.3", "2.1.0", "cuda:0"); }

TEST(MetricsTest, labelled_counters_and_gauges_scrape_with_exact_values) {
  Metrics metrics = make_metrics();
  MetricsExposer exposer("127.0.0.1:0", metrics.registry());
  metrics.frames("cam01").Increment(3);
  metrics.frames("cam02").Increment();
  metrics.frames_decoded("cam01").Increment(2);
  metrics.frames_sampled("cam01", "caption").Increment(2);
  metrics.frames_dropped("cam01", "queue_full").Increment();
  metrics.queue_depth("caption").Set(7);
  metrics.stream_up("cam01").Set(1);
  metrics.stream_up("cam02").Set(0);
  metrics.messages_published("zmq").Increment(5);
  metrics.publish_errors("zmq").Increment();
  metrics.stream_restarts("cam02").Increment(2);
  metrics.caption_tokens().Increment(42);

  const Exposition e = scrape(exposer);
  EXPECT_EQ(e.value(R"(internvl_frames_total{stream="cam01"})"), 3);
  EXPECT_EQ(e.value(R"(internvl_frames_total{stream="cam02"})"), 1);
  EXPECT_EQ(e.value(R"(internvl_frames_decoded_total{stream="cam01"})"), 2);
  EXPECT_EQ(e.value(R"(internvl_frames_sampled_total{stream="cam01",task="caption"})"), 2);
  EXPECT_EQ(e.value(R"(internvl_frames_dropped_total{reason="queue_full",stream="cam01"})"), 1);
  EXPECT_EQ(e.value(R"(internvl_queue_depth{task="caption"})"), 7);
  EXPECT_EQ(e.value(R"(internvl_stream_up{stream="cam01"})"), 1);
  EXPECT_EQ(e.value(R"(internvl_stream_up{stream="cam02"})"), 0);
  EXPECT_EQ(e.value(R"(internvl_messages_published_total{sink="zmq"})"), 5);
  EXPECT_EQ(e.value(R"(internvl_publish_errors_total{sink="zmq"})"), 1);
  EXPECT_EQ(e.value(R"(internvl_stream_restarts_total{stream="cam02"})"), 2);
  EXPECT_EQ(e.value("internvl_caption_tokens_total"), 42);
}

TEST(MetricsTest, histogram_scrapes_cumulative_buckets_sum_and_count) {
  Metrics metrics = make_metrics();
  MetricsExposer exposer("127.0.0.1:0", metrics.registry());
  auto& duration = metrics.inference_duration("caption", "vision");
  duration.Observe(0.5);
  duration.Observe(2);
  duration.Observe(40);  // beyond the last bound: only +Inf counts it
  metrics.batch_size("caption").Observe(3);

  const Exposition e = scrape(exposer);
  const std::string d = "internvl_inference_duration_seconds";
  const std::string labels = R"(stage="vision",task="caption")";
  EXPECT_EQ(e.value(d + "_bucket{" + labels + R"(,le="0.001"})"), 0);
  EXPECT_EQ(e.value(d + "_bucket{" + labels + R"(,le="0.25"})"), 0);
  EXPECT_EQ(e.value(d + "_bucket{" + labels + R"(,le="0.5"})"), 1);
  EXPECT_EQ(e.value(d + "_bucket{" + labels + R"(,le="1"})"), 1);
  EXPECT_EQ(e.value(d + "_bucket{" + labels + R"(,le="2.5"})"), 2);
  EXPECT_EQ(e.value(d + "_bucket{" + labels + R"(,le="30"})"), 2);
  EXPECT_EQ(e.value(d + "_bucket{" + labels + R"(,le="+Inf"})"), 3);
  EXPECT_EQ(e.value(d + "_sum{" + labels + "}"), 42.5);
  EXPECT_EQ(e.value(d + "_count{" + labels + "}"), 3);
  EXPECT_EQ(e.types.at(d), "histogram");

  EXPECT_EQ(e.value(R"(internvl_batch_size_bucket{task="caption",le="2"})"), 0);
  EXPECT_EQ(e.value(R"(internvl_batch_size_bucket{task="caption",le="4"})"), 1);
  EXPECT_EQ(e.value(R"(internvl_batch_size_bucket{task="caption",le="256"})"), 1);
  EXPECT_EQ(e.value(R"(internvl_batch_size_count{task="caption"})"), 1);
}

TEST(MetricsTest, histogram_buckets_cover_one_millisecond_to_thirty_seconds) {
  Metrics metrics = make_metrics();
  MetricsExposer exposer("127.0.0.1:0", metrics.registry());
  metrics.result_latency("cam01", "caption").Observe(0.02);

  const Exposition e = scrape(exposer);
  std::set<std::string> bounds;
  const std::string prefix =
      R"(internvl_result_latency_seconds_bucket{stream="cam01",task="caption",le=")";
  for (const auto& [series, value] : e.samples) {
    if (series.rfind(prefix, 0) == 0) bounds.insert(series.substr(prefix.size()));
  }
  const std::set<std::string> expected = {R"(0.001"})", R"(0.0025"})", R"(0.005"})", R"(0.01"})",
                                          R"(0.025"})", R"(0.05"})",   R"(0.1"})",   R"(0.25"})",
                                          R"(0.5"})",   R"(1"})",      R"(2.5"})",   R"(5"})",
                                          R"(10"})",    R"(30"})",     R"(+Inf"})"};
  EXPECT_EQ(bounds, expected);
  EXPECT_EQ(e.value(prefix + R"(0.01"})"), 0);
  EXPECT_EQ(e.value(prefix + R"(0.025"})"), 1);
}

TEST(MetricsTest, build_info_is_one_with_its_labels) {
  Metrics metrics = make_metrics();
  MetricsExposer exposer("127.0.0.1:0", metrics.registry());
  const Exposition e = scrape(exposer);
  EXPECT_EQ(e.value(R"(internvl_build_info{device="cuda:0",torch="2.1.0",version="1.2.3"})"), 1);
  EXPECT_EQ(e.types.at("internvl_build_info"), "gauge");
}

TEST(MetricsTest, counters_move_between_two_scrapes) {
  Metrics metrics = make_metrics();
  MetricsExposer exposer("127.0.0.1:0", metrics.registry());
  const std::string series = R"(internvl_frames_total{stream="cam01"})";
  metrics.frames("cam01").Increment();
  const double before = scrape(exposer).value(series);
  metrics.frames("cam01").Increment(4);
  metrics.inference_duration("caption", "decode").Observe(0.1);
  const Exposition after = scrape(exposer);
  EXPECT_EQ(before, 1);
  EXPECT_EQ(after.value(series), 5);
  const std::string decode_count =
      R"(internvl_inference_duration_seconds_count{stage="decode",task="caption"})";
  EXPECT_EQ(after.value(decode_count), 1);
}

TEST(MetricsTest, the_same_labels_return_the_same_series) {
  Metrics metrics = make_metrics();
  EXPECT_EQ(&metrics.frames("cam01"), &metrics.frames("cam01"));
  EXPECT_NE(&metrics.frames("cam01"), &metrics.frames("cam02"));
  EXPECT_EQ(&metrics.result_latency("cam01", "caption"),
            &metrics.result_latency("cam01", "caption"));
  EXPECT_EQ(&metrics.caption_tokens(), &metrics.caption_tokens());
}

// The names are a contract with dashboards and alerts: exactly sinks/README.md's "Metrics", with
// these types.
TEST(MetricsTest, family_names_and_types_match_the_design_exactly) {
  Metrics metrics = make_metrics();
  MetricsExposer exposer("127.0.0.1:0", metrics.registry());
  metrics.frames("s").Increment();
  metrics.frames_sampled("s", "t").Increment();
  metrics.frames_dropped("s", "r").Increment();
  metrics.inference_duration("t", "g").Observe(1);
  metrics.batch_size("t").Observe(1);
  metrics.queue_depth("t").Set(1);
  metrics.result_latency("s", "t").Observe(1);
  metrics.caption_tokens().Increment();
  metrics.messages_published("k").Increment();
  metrics.publish_errors("k").Increment();
  metrics.stream_up("s").Set(1);
  metrics.stream_restarts("s").Increment();
  metrics.events("s", "r").Increment();
  metrics.alert_active("s", "r").Set(1);
  metrics.alert_probability("s", "r").Set(0.5);
  metrics.index_frames("s").Increment();
  metrics.index_frames_dropped("s").Increment();
  metrics.frames_decoded("s").Increment();

  const std::map<std::string, std::string> expected = {
      {"internvl_frames_total", "counter"},
      {"internvl_frames_decoded_total", "counter"},
      {"internvl_frames_sampled_total", "counter"},
      {"internvl_frames_dropped_total", "counter"},
      {"internvl_inference_duration_seconds", "histogram"},
      {"internvl_batch_size", "histogram"},
      {"internvl_queue_depth", "gauge"},
      {"internvl_result_latency_seconds", "histogram"},
      {"internvl_caption_tokens_total", "counter"},
      {"internvl_messages_published_total", "counter"},
      {"internvl_publish_errors_total", "counter"},
      {"internvl_stream_up", "gauge"},
      {"internvl_stream_restarts_total", "counter"},
      {"internvl_events_total", "counter"},
      {"internvl_alert_active", "gauge"},
      {"internvl_alert_probability", "gauge"},
      {"internvl_index_frames_total", "counter"},
      {"internvl_index_frames_dropped_total", "counter"},
      {"internvl_search_index_frames", "gauge"},  // unlabelled: exported from the start
      {"internvl_search_index_disk_bytes", "gauge"},
      {"internvl_search_query_seconds", "histogram"},
      {"internvl_build_info", "gauge"},
  };
  const Exposition e = scrape(exposer);
  std::map<std::string, std::string> ours;
  for (const auto& [name, type] : e.types) {
    if (name.rfind("internvl_", 0) == 0) ours[name] = type;
  }
  EXPECT_EQ(ours, expected);
  for (const auto& [name, type] : expected) {
    EXPECT_GE(e.help.count(name) ? e.help.at(name).size() : 0u, 20u) << name << " lacks help";
  }
}

TEST(MetricsTest, removing_a_stream_drops_every_series_labelled_with_it_and_only_those) {
  Metrics metrics = make_metrics();
  MetricsExposer exposer("127.0.0.1:0", metrics.registry());
  for (const std::string stream : {"gone", "kept"}) {
    metrics.frames(stream).Increment();
    metrics.frames_decoded(stream).Increment();
    metrics.frames_sampled(stream, "classify").Increment();
    metrics.frames_dropped(stream, "queue_full").Increment();
    metrics.result_latency(stream, "classify").Observe(0.1);
    metrics.stream_up(stream).Set(1);
    metrics.stream_restarts(stream).Increment();
    metrics.events(stream, "fence").Increment();
    metrics.alert_active(stream, "fence").Set(1);
    metrics.alert_probability(stream, "fence").Set(0.5);
    metrics.index_frames(stream).Increment();
    metrics.index_frames_dropped(stream).Increment();
  }
  metrics.queue_depth("classify").Set(1);
  metrics.remove_stream("gone");
  const Exposition e = scrape(exposer);
  size_t gone = 0;
  size_t kept = 0;
  for (const auto& [series, value] : e.samples) {
    gone += series.find(R"(stream="gone")") != std::string::npos;
    kept += series.find(R"(stream="kept")") != std::string::npos;
  }
  EXPECT_EQ(gone, 0u);
  EXPECT_EQ(kept, 11u + 17u);  // 11 single series, the histogram's 15 buckets + sum + count
  EXPECT_EQ(e.value(R"(internvl_queue_depth{task="classify"})"), 1);
  metrics.frames("gone").Increment();  // a stream added again with the same id starts anew
  EXPECT_EQ(scrape(exposer).value(R"(internvl_frames_total{stream="gone"})"), 1);
}

TEST(MetricsTest, two_metrics_objects_are_independent) {
  Metrics first = make_metrics();
  Metrics second("9.9.9", "none", "cpu");
  EXPECT_NE(first.registry(), second.registry());
  MetricsExposer first_exposer("127.0.0.1:0", first.registry());
  MetricsExposer second_exposer("127.0.0.1:0", second.registry());
  first.frames("cam01").Increment(3);
  second.frames("cam01").Increment(1);

  const Exposition a = scrape(first_exposer);
  const Exposition b = scrape(second_exposer);
  EXPECT_EQ(a.value(R"(internvl_frames_total{stream="cam01"})"), 3);
  EXPECT_EQ(b.value(R"(internvl_frames_total{stream="cam01"})"), 1);
  EXPECT_FALSE(a.has(R"(internvl_build_info{device="cpu",torch="none",version="9.9.9"})"));
  EXPECT_TRUE(b.has(R"(internvl_build_info{device="cpu",torch="none",version="9.9.9"})"));
}

TEST(MetricsExposerTest, port_zero_picks_a_free_port) {
  Metrics metrics = make_metrics();
  MetricsExposer exposer("127.0.0.1:0", metrics.registry());
  EXPECT_NE(exposer.port(), 0);
  EXPECT_EQ(exposer.address(), "127.0.0.1:0");
  EXPECT_EQ(test::http_get("127.0.0.1", exposer.port(), "/metrics").status, 200);
}

TEST(MetricsExposerTest, address_in_use_throws_runtime_error_naming_it) {
  Metrics metrics = make_metrics();
  MetricsExposer taken("127.0.0.1:0", metrics.registry());
  const std::string address = "127.0.0.1:" + std::to_string(taken.port());
  try {
    MetricsExposer second(address, metrics.registry());
    FAIL() << "binding " << address << " twice did not throw";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(address), std::string::npos) << message;
    EXPECT_NE(message.find("another port"), std::string::npos) << message;
  }
  // The first exposer is unharmed by the failed attempt.
  EXPECT_EQ(test::http_get("127.0.0.1", taken.port(), "/metrics").status, 200);
}

// A documentation-range address (RFC 5737) is never local, so binding it fails without any traffic.
TEST(MetricsExposerTest, non_local_host_throws_runtime_error_naming_it) {
  Metrics metrics = make_metrics();
  try {
    MetricsExposer exposer("203.0.113.7:0", metrics.registry());
    FAIL() << "binding a non-local address did not throw";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("203.0.113.7:0"), std::string::npos) << e.what();
  }
}

TEST(MetricsExposerTest, null_registry_is_rejected) {
  EXPECT_THROW(MetricsExposer("127.0.0.1:0", nullptr), std::runtime_error);
}

}  // namespace
}  // namespace ivs::sinks
