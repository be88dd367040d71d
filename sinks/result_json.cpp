// SPDX-License-Identifier: Apache-2.0
#include "sinks/result_json.h"

#include <cmath>
#include <ctime>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ivs::sinks {
namespace {

using Json = nlohmann::json;
// ordered_json keeps the wire format's key order (sinks/README.md), so messages read the same in
// logs and diffs.
using OrderedJson = nlohmann::ordered_json;
using std::chrono::system_clock;

// "2026-11-28T20:01:00.123Z": 24 characters, fixed positions.
constexpr size_t kTimestampLength = 24;

// NaN and infinities have no JSON form (nlohmann would write null, which no consumer expects);
// a number that is not finite is a producer bug, so it is written as 0 rather than making the
// whole message unreadable.
double finite_or_zero(double value) { return std::isfinite(value) ? value : 0.0; }

// Softmax in float can give 1.0000001; the wire format promises a probability in [0, 1].
double probability(double value) {
  const double v = finite_or_zero(value);
  return v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v);
}

[[noreturn]] void fail(const std::string& field, const std::string& what) {
  throw std::invalid_argument("result message: field '" + field + "' " + what);
}

int parse_digits(const std::string& text, size_t pos, size_t count, const std::string& field) {
  int value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9')
      fail(field, "is not an RFC 3339 UTC time (\"" + text + "\")");
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

system_clock::time_point parse_timestamp(const std::string& text, const std::string& field) {
  const std::string bad =
      "must be RFC 3339 UTC with milliseconds, e.g. \"2026-11-28T20:01:00.123Z\" (got \"" + text +
      "\")";
  if (text.size() != kTimestampLength || text[4] != '-' || text[7] != '-' || text[10] != 'T' ||
      text[13] != ':' || text[16] != ':' || text[19] != '.' || text[23] != 'Z') {
    fail(field, bad);
  }
  std::tm tm{};
  tm.tm_year = parse_digits(text, 0, 4, field) - 1900;
  tm.tm_mon = parse_digits(text, 5, 2, field) - 1;
  tm.tm_mday = parse_digits(text, 8, 2, field);
  tm.tm_hour = parse_digits(text, 11, 2, field);
  tm.tm_min = parse_digits(text, 14, 2, field);
  tm.tm_sec = parse_digits(text, 17, 2, field);
  const int millis = parse_digits(text, 20, 3, field);
  const std::optional<std::time_t> t = checked_timegm(tm);
  if (!t) fail(field, bad);
  // A time_point counts nanoseconds in 64 bits (the years 1678 to 2261 in full): a later or
  // earlier date would overflow it (found by tests/fuzz/result_json_fuzz).
  constexpr std::time_t kLimit =
      std::chrono::duration_cast<std::chrono::seconds>(system_clock::duration::max()).count() - 1;
  if (*t > kLimit || *t < -kLimit) {
    fail(field, "must lie between the years 1678 and 2261, the times a clock holds (got \"" + text +
                    "\")");
  }
  return system_clock::time_point(std::chrono::seconds(*t) + std::chrono::milliseconds(millis));
}

ResultKind parse_kind(const std::string& name) {
  for (ResultKind kind : {ResultKind::kClassification, ResultKind::kCaption, ResultKind::kEvent,
                          ResultKind::kEmbedding}) {
    if (name == result_kind_name(kind)) return kind;
  }
  fail("kind", "must be \"classification\", \"caption\", \"event\" or \"embedding\" (got \"" +
                   name + "\")");
}

EventState parse_event_state(const std::string& name) {
  for (EventState state : {EventState::kStart, EventState::kEnd}) {
    if (name == event_state_name(state)) return state;
  }
  fail("event.state", "must be \"start\" or \"end\" (got \"" + name + "\")");
}

// Typed, strict access to one JSON object of a message of `version`; `path` names it in errors
// ("segment", "caption").
class FieldReader {
 public:
  FieldReader(const Json& object, std::string path, const char* version)
      : object_(object), path_(std::move(path)), version_(version) {
    if (!object_.is_object()) fail(path_.empty() ? "<message>" : path_, "must be an object");
  }

  // Unknown keys are errors: a typo in a producer must not pass silently.
  void allow_only(std::initializer_list<const char*> keys) const {
    for (const auto& item : object_.items()) {
      bool known = false;
      for (const char* key : keys) known = known || item.key() == key;
      if (!known) fail(name(item.key()), "is not part of version " + std::string(version_));
    }
  }

  bool has(const char* key) const { return object_.contains(key); }

  const Json& get(const char* key) const {
    const auto it = object_.find(key);
    if (it == object_.end()) fail(name(key), "is missing");
    return *it;
  }

  std::string string(const char* key, bool allow_empty = true) const {
    const Json& value = get(key);
    if (!value.is_string()) fail(name(key), "must be a string");
    if (!allow_empty && value.get_ref<const std::string&>().empty())
      fail(name(key), "must not be empty");
    return value.get<std::string>();
  }

  double number(const char* key, double min, double max) const {
    const Json& value = get(key);
    if (!value.is_number()) fail(name(key), "must be a number");
    const double v = value.get<double>();
    if (!(v >= min && v <= max)) fail(name(key), "is out of range");
    return v;
  }

  int64_t integer(const char* key, int64_t min) const {
    const Json& value = get(key);
    // Unsigned values above INT64_MAX would wrap in get<int64_t>().
    if (!value.is_number_integer() ||
        (value.is_number_unsigned() &&
         value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))) {
      fail(name(key), "must be an integer");
    }
    const int64_t v = value.get<int64_t>();
    if (v < min) fail(name(key), "must be >= " + std::to_string(min));
    return v;
  }

  FieldReader object(const char* key) const { return FieldReader(get(key), name(key), version_); }

  std::string name(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

 private:
  const Json& object_;
  std::string path_;
  const char* version_;
};

constexpr double kInf = std::numeric_limits<double>::infinity();

OrderedJson caption_to_json(const FrameResult& result) {
  if (result.kind != ResultKind::kCaption || !result.caption) return nullptr;
  const CaptionRecord& caption = *result.caption;
  return OrderedJson{{"text", caption.text},
                     {"prompt", caption.prompt},
                     {"num_generated_tokens", caption.num_generated_tokens},
                     {"num_input_tokens", caption.num_input_tokens}};
}

OrderedJson classification_to_json(const FrameResult& result) {
  OrderedJson labels = OrderedJson::array();
  if (result.kind != ResultKind::kClassification) return labels;
  for (const LabelScore& score : result.classification) {
    labels.push_back(OrderedJson{{"label", score.label},
                                 {"label_id", score.label_id},
                                 {"confidence", probability(score.confidence)}});
  }
  return labels;
}

// The end of an event (end_time, clip_path) is written only when it has ended, so a consumer
// never mistakes a placeholder 0 for a time.
OrderedJson event_to_json(const FrameResult& result) {
  if (!result.event) return nullptr;
  const EventInfo& event = *result.event;
  const bool ended = event.state == EventState::kEnd;
  OrderedJson out{{"id", event.id},
                  {"rule", event.rule},
                  {"prompt", event.prompt},
                  {"state", event_state_name(event.state)},
                  {"start_time", finite_or_zero(event.start_seconds)}};
  if (ended) out["end_time"] = finite_or_zero(event.end_seconds);
  out["probability"] = probability(event.probability);
  out["peak_probability"] = probability(event.peak_probability);
  out["start_frame_id"] = event.start_frame_id;
  out["frame_id"] = event.frame_id;
  out["snapshot_path"] = event.snapshot_path;
  if (ended) out["clip_path"] = event.clip_path;
  return out;
}

// Six decimals: a unit vector's components need no more for cosine similarity (error <= 5e-7
// each), and the text stays about 10 bytes a value instead of the 20 a float's exact double
// takes.
double embedding_value(float value) {
  return std::round(static_cast<double>(finite_or_zero(value)) * 1e6) / 1e6;
}

OrderedJson embedding_to_json(const FrameResult& result) {
  OrderedJson vector = OrderedJson::array();
  for (float value : result.embedding) vector.push_back(embedding_value(value));
  return OrderedJson{{"dim", result.embedding.size()}, {"vector", std::move(vector)}};
}

std::vector<LabelScore> classification_from_json(const Json& labels, const char* version) {
  if (!labels.is_array()) fail("classification", "must be an array");
  std::vector<LabelScore> out;
  for (size_t i = 0; i < labels.size(); ++i) {
    const FieldReader entry(labels[i], "classification[" + std::to_string(i) + "]", version);
    entry.allow_only({"label", "label_id", "confidence"});
    out.push_back(LabelScore{entry.string("label"), entry.integer("label_id", 0),
                             entry.number("confidence", 0.0, 1.0)});
  }
  return out;
}

std::optional<CaptionRecord> caption_from_json(const Json& caption, const char* version) {
  if (caption.is_null()) return std::nullopt;
  const FieldReader reader(caption, "caption", version);
  reader.allow_only({"text", "prompt", "num_generated_tokens", "num_input_tokens"});
  return CaptionRecord{reader.string("text"), reader.string("prompt"),
                       reader.integer("num_generated_tokens", 0),
                       reader.integer("num_input_tokens", 0)};
}

EventInfo event_from_json(const FieldReader& message) {
  const FieldReader reader = message.object("event");
  reader.allow_only({"id", "rule", "prompt", "state", "start_time", "end_time", "probability",
                     "peak_probability", "start_frame_id", "frame_id", "snapshot_path",
                     "clip_path"});
  EventInfo event;
  event.id = reader.string("id", false);
  event.rule = reader.string("rule", false);
  event.prompt = reader.string("prompt");
  event.state = parse_event_state(reader.string("state"));
  event.start_seconds = reader.number("start_time", 0.0, kInf);
  event.probability = reader.number("probability", 0.0, 1.0);
  event.peak_probability = reader.number("peak_probability", 0.0, 1.0);
  event.start_frame_id = reader.integer("start_frame_id", 0);
  event.frame_id = reader.integer("frame_id", 0);
  event.snapshot_path = reader.string("snapshot_path");
  if (event.state == EventState::kEnd) {
    event.end_seconds = reader.number("end_time", 0.0, kInf);
    event.clip_path = reader.string("clip_path");
  } else {
    for (const char* key : {"end_time", "clip_path"}) {
      if (reader.has(key)) fail(reader.name(key), "must be absent while the event has not ended");
    }
  }
  return event;
}

std::vector<float> embedding_from_json(const FieldReader& message) {
  const FieldReader reader = message.object("embedding");
  reader.allow_only({"dim", "vector"});
  const int64_t dim = reader.integer("dim", 1);
  const Json& vector = reader.get("vector");
  if (!vector.is_array()) fail("embedding.vector", "must be an array");
  if (static_cast<int64_t>(vector.size()) != dim) {
    fail("embedding.vector",
         "has " + std::to_string(vector.size()) + " values, dim says " + std::to_string(dim));
  }
  std::vector<float> out;
  out.reserve(vector.size());
  for (const Json& value : vector) {
    if (!value.is_number()) fail("embedding.vector", "must hold numbers only");
    const double v = value.get<double>();
    if (!(v >= -1.0 && v <= 1.0)) fail("embedding.vector", "holds a value outside [-1, 1]");
    out.push_back(static_cast<float>(v));
  }
  return out;
}

// "1.0" or "1.1", as the constant of that value: it outlives the parsed text, so readers keep it.
const char* parse_version(const FieldReader& message) {
  const std::string version = message.string("version");
  for (const char* known : {kResultVersion10, kResultVersion11}) {
    if (version == known) return known;
  }
  fail("version", "must be \"" + std::string(kResultVersion10) + "\" or \"" + kResultVersion11 +
                      "\" (got \"" + version + "\")");
}

// The same kind-dependent rules as the schema's if/then blocks.
void check_kind_consistency(const FrameResult& result) {
  if (result.kind == ResultKind::kClassification) {
    if (result.classification.empty())
      fail("classification", "must not be empty for kind classification");
    if (result.caption) fail("caption", "must be null for kind classification");
  } else if (result.kind == ResultKind::kCaption) {
    if (!result.caption) fail("caption", "must be an object for kind caption");
    if (!result.classification.empty()) fail("classification", "must be empty for kind caption");
  } else {
    const std::string kind = result_kind_name(result.kind);
    if (!result.classification.empty()) fail("classification", "must be empty for kind " + kind);
    if (result.caption) fail("caption", "must be null for kind " + kind);
    if (result.model_mode == "caption")
      fail("model.mode", "must be \"InternVL-C\" or \"InternVL-G\" for kind " + kind);
  }
}

// The event object belongs to kind event and the embedding object to kind embedding; both
// kinds need version 1.1 (the version rule).
void read_event_or_embedding(const FieldReader& message, const char* version, FrameResult& result) {
  const std::string kind = result_kind_name(result.kind);
  if (result.kind != ResultKind::kEvent && message.has("event"))
    fail("event", "must be absent for kind " + kind);
  if (result.kind != ResultKind::kEmbedding && message.has("embedding"))
    fail("embedding", "must be absent for kind " + kind);
  if (result.kind != ResultKind::kEvent && result.kind != ResultKind::kEmbedding) return;
  if (std::string_view(version) != kResultVersion11) {
    fail("version", "must be \"" + std::string(kResultVersion11) + "\" for kind " + kind +
                        " (got \"" + version + "\")");
  }
  if (result.kind == ResultKind::kEvent) {
    result.event = event_from_json(message);
  } else {
    result.embedding = embedding_from_json(message);
  }
}

void read_common(const FieldReader& message, FrameResult& result) {
  result.sensor_id = message.string("sensor_id", false);
  result.source = message.string("source");
  result.timestamp = parse_timestamp(message.string("timestamp"), "timestamp");
  const FieldReader segment = message.object("segment");
  segment.allow_only({"start_time", "end_time"});
  result.segment_start_seconds = segment.number("start_time", 0.0, kInf);
  result.segment_end_seconds = segment.number("end_time", 0.0, kInf);
  result.start_frame_id = message.integer("start_frame_id", 0);
  result.end_frame_id = message.integer("end_frame_id", 0);
  const FieldReader model = message.object("model");
  model.allow_only({"name", "mode"});
  result.model_name = model.string("name", false);
  result.model_mode = model.string("mode", false);
  if (result.model_mode != "InternVL-C" && result.model_mode != "InternVL-G" &&
      result.model_mode != "caption") {
    fail("model.mode", "must be \"InternVL-C\", \"InternVL-G\" or \"caption\" (got \"" +
                           result.model_mode + "\")");
  }
  const FieldReader metrics = message.object("metrics");
  metrics.allow_only({"latency_seconds", "queue_seconds", "batch_size"});
  result.latency_seconds = metrics.number("latency_seconds", 0.0, kInf);
  result.queue_seconds = metrics.number("queue_seconds", 0.0, kInf);
  result.batch_size = metrics.integer("batch_size", 0);
}

}  // namespace

std::optional<std::time_t> checked_timegm(std::tm tm) {
  const std::tm wanted = tm;
  const std::time_t t = timegm(&tm);
  // timegm normalises out-of-range fields (Feb 30 -> Mar 2); a changed field means a bad date.
  if (tm.tm_year != wanted.tm_year || tm.tm_mon != wanted.tm_mon || tm.tm_mday != wanted.tm_mday ||
      tm.tm_hour != wanted.tm_hour || tm.tm_min != wanted.tm_min || tm.tm_sec != wanted.tm_sec) {
    return std::nullopt;
  }
  return t;
}

std::string format_timestamp(system_clock::time_point when) {
  using namespace std::chrono;
  // floor, not duration_cast: times before 1970 must not round towards zero.
  const auto ms = floor<milliseconds>(when.time_since_epoch());
  const auto secs = floor<seconds>(ms);
  const auto millis = static_cast<int>((ms - secs).count());
  const std::time_t t = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  out += '.';
  out += static_cast<char>('0' + millis / 100);
  out += static_cast<char>('0' + millis / 10 % 10);
  out += static_cast<char>('0' + millis % 10);
  out += 'Z';
  return out;
}

const char* result_version(const FrameResult& result) {
  const bool new_kind = result.kind == ResultKind::kEvent || result.kind == ResultKind::kEmbedding;
  return new_kind ? kResultVersion11 : kResultVersion10;
}

std::string result_to_json(const FrameResult& result) {
  OrderedJson message{
      {"version", result_version(result)},
      {"kind", result_kind_name(result.kind)},
      {"sensor_id", result.sensor_id},
      {"source", result.source},
      {"timestamp", format_timestamp(result.timestamp)},
      {"segment",
       {{"start_time", finite_or_zero(result.segment_start_seconds)},
        {"end_time", finite_or_zero(result.segment_end_seconds)}}},
      {"start_frame_id", result.start_frame_id},
      {"end_frame_id", result.end_frame_id},
      {"model", {{"name", result.model_name}, {"mode", result.model_mode}}},
      {"classification", classification_to_json(result)},
      {"caption", caption_to_json(result)},
  };
  // Only events carry the key, so 1.0 messages stay byte-for-byte what they were.
  if (result.kind == ResultKind::kEvent) message["event"] = event_to_json(result);
  if (result.kind == ResultKind::kEmbedding) message["embedding"] = embedding_to_json(result);
  message["metrics"] = {{"latency_seconds", finite_or_zero(result.latency_seconds)},
                        {"queue_seconds", finite_or_zero(result.queue_seconds)},
                        {"batch_size", result.batch_size}};
  // replace: labels and captions come from model output and files; a bad byte becomes U+FFFD
  // instead of an exception on the streaming thread.
  return message.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

FrameResult result_from_json(const std::string& text) {
  Json parsed;
  try {
    parsed = Json::parse(text);
  } catch (const Json::exception& e) {
    throw std::invalid_argument(std::string("result message: not valid JSON: ") + e.what());
  }
  // The version is read first: it decides which keys are known.
  const char* version = parse_version(FieldReader(parsed, "", kResultVersion10));
  const FieldReader message(parsed, "", version);
  if (std::string_view(version) == kResultVersion10) {
    message.allow_only({"version", "kind", "sensor_id", "source", "timestamp", "segment",
                        "start_frame_id", "end_frame_id", "model", "classification", "caption",
                        "metrics"});
  } else {
    message.allow_only({"version", "kind", "sensor_id", "source", "timestamp", "segment",
                        "start_frame_id", "end_frame_id", "model", "classification", "caption",
                        "event", "embedding", "metrics"});
  }
  FrameResult result;
  result.kind = parse_kind(message.string("kind"));
  read_common(message, result);
  result.classification = classification_from_json(message.get("classification"), version);
  result.caption = caption_from_json(message.get("caption"), version);
  read_event_or_embedding(message, version, result);
  check_kind_consistency(result);
  return result;
}

std::string result_topic(const FrameResult& result, const std::string& prefix) {
  return prefix + result_kind_name(result.kind) + "/" + result.sensor_id;
}

}  // namespace ivs::sinks
