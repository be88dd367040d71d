// SPDX-License-Identifier: Apache-2.0
#include "sinks/index/bench/synthetic_frames.h"

#include <cmath>
#include <cstdio>

#include "model/common/image.h"
#include "model/common/jpeg_writer.h"

namespace ivs::search {
namespace {

// splitmix64: a counter-based generator, so any frame's numbers are drawn without the others.
uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

class Draws {
 public:
  explicit Draws(uint64_t key) : state_(mix(key)) {}
  uint64_t next() { return mix(state_++); }
  double unit() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }  // (0, 1)

  // Adds `scale` * N(0, 1) to each of out[0, n) (Box-Muller, two values per pair of draws).
  void add_gaussian(float* out, int n, double scale) {
    constexpr double kTwoPi = 6.283185307179586;
    for (int j = 0; j < n; j += 2) {
      const double r = scale * std::sqrt(-2.0 * std::log(unit())), a = kTwoPi * unit();
      out[j] += static_cast<float>(r * std::cos(a));
      if (j + 1 < n) out[j + 1] += static_cast<float>(r * std::sin(a));
    }
  }

 private:
  uint64_t state_;
};

void normalise(float* v, int n) {
  double norm = 0.0;
  for (int j = 0; j < n; ++j) norm += static_cast<double>(v[j]) * v[j];
  const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
  for (int j = 0; j < n; ++j) v[j] *= scale;
}

// Keys of the separate random streams: no two uses share one.
constexpr uint64_t kCentreKey = 1ULL << 60, kSceneKey = 2ULL << 60, kFrameKey = 3ULL << 60,
                   kQueryKey = 4ULL << 60, kTopicKey = 5ULL << 60;

}  // namespace

SyntheticFrames::SyntheticFrames(const SyntheticFramesConfig& config)
    : config_(config), centres_(static_cast<size_t>(config.clusters) * config.dim, 0.0f) {
  for (int c = 0; c < config.clusters; ++c) {
    float* centre = centres_.data() + static_cast<size_t>(c) * config.dim;
    Draws(config.seed ^ (kCentreKey + static_cast<uint64_t>(c)))
        .add_gaussian(centre, config.dim, 1.0);
    normalise(centre, config.dim);
  }
}

std::string SyntheticFrames::stream(size_t i) const {
  char name[16];
  std::snprintf(name, sizeof name, "cam%03d", static_cast<int>(i % config_.streams));
  return name;
}

int64_t SyntheticFrames::frame_id(size_t i) const {
  return static_cast<int64_t>(i / static_cast<size_t>(config_.streams));
}

std::chrono::system_clock::time_point SyntheticFrames::epoch() {
  return std::chrono::system_clock::time_point(std::chrono::seconds(1796601600));
}

std::chrono::system_clock::time_point SyntheticFrames::wall_time(size_t i) const {
  return epoch() + std::chrono::seconds(frame_id(i));
}

std::chrono::system_clock::time_point SyntheticFrames::last_wall_time() const {
  return wall_time(config_.count == 0 ? 0 : config_.count - 1);
}

void SyntheticFrames::point(int topic, uint64_t scene_key, uint64_t frame_key, float* out) const {
  const int d = config_.dim;
  const float* centre = centres_.data() + static_cast<size_t>(topic) * d;
  for (int j = 0; j < d; ++j) out[j] = centre[j];
  const double per_dim = 1.0 / std::sqrt(static_cast<double>(d));
  Draws(config_.seed ^ scene_key).add_gaussian(out, d, config_.scene_spread * per_dim);
  Draws(config_.seed ^ frame_key).add_gaussian(out, d, config_.frame_spread * per_dim);
  normalise(out, d);
}

uint64_t SyntheticFrames::scene(size_t i) const {
  const auto camera = static_cast<uint64_t>(i % static_cast<size_t>(config_.streams));
  return (camera << 32) + static_cast<uint64_t>(frame_id(i) / config_.scene_frames);
}

void SyntheticFrames::embedding(size_t i, float* out) const {
  const uint64_t scene_key = kSceneKey + scene(i);
  const auto topic = static_cast<int>(Draws(config_.seed ^ kTopicKey ^ scene_key).next() %
                                      static_cast<uint64_t>(config_.clusters));
  point(topic, scene_key, kFrameKey + i, out);
}

std::vector<float> SyntheticFrames::query(size_t q) const {
  Draws draws(config_.seed ^ (kQueryKey + q));
  const auto topic = static_cast<int>(draws.next() % static_cast<uint64_t>(config_.clusters));
  std::vector<float> out(static_cast<size_t>(config_.dim));
  // A new scene of the topic: the query shares the topic with the data, not a scene.
  point(topic, kQueryKey + (q << 1), kQueryKey + (q << 1) + 1, out.data());
  return out;
}

IndexedFrame SyntheticFrames::frame(size_t i, bool thumbnail) const {
  IndexedFrame f;
  f.stream = stream(i);
  f.frame_id = frame_id(i);
  f.pts_ns = f.frame_id * 1000000000LL;
  f.wall_time = wall_time(i);
  f.mode = "c";
  f.embedding.resize(static_cast<size_t>(config_.dim));
  embedding(i, f.embedding.data());
  if (thumbnail) f.thumbnail_jpeg = synthetic_thumbnail(i % 64, kFrameKey + i);
  return f;
}

std::vector<uint8_t> synthetic_thumbnail(uint64_t topic, uint64_t frame_key, int width,
                                         int height) {
  model::RgbImage image;
  image.width = width;
  image.height = height;
  image.pixels.resize(static_cast<size_t>(width) * height * 3);
  Draws draws(frame_key);
  const uint64_t colour = mix(topic);
  const double period = 6.0 + 20.0 * draws.unit(), angle = 3.0 * draws.unit();
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      // Stripes at a random angle over a topic colour, plus sensor-like noise: compresses about
      // as hard as a real downscaled camera frame.
      const double t = (x * std::cos(angle) + y * std::sin(angle)) / period;
      const double shade = 0.6 + 0.3 * std::sin(6.283185307179586 * t) + 0.1 * (draws.unit() - 0.5);
      for (int c = 0; c < 3; ++c) {
        const double base = static_cast<double>((colour >> (8 * c)) & 0xFF);
        const double v = base * shade + 12.0 * (draws.unit() - 0.5);
        image.pixels[(static_cast<size_t>(y) * width + x) * 3 + c] =
            static_cast<uint8_t>(std::fmin(255.0, std::fmax(0.0, v)));
      }
    }
  }
  return model::encode_jpeg(image, 85);
}

}  // namespace ivs::search
