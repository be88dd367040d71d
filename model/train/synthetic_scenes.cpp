// SPDX-License-Identifier: Apache-2.0
#include "model/train/synthetic_scenes.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

namespace ivs::train {
namespace {

constexpr double kPi = 3.14159265358979323846;

struct Point {
  double x, y;
};

// Even-odd rule: true when (x, y) is inside the polygon.
bool inside_polygon(const std::vector<Point>& polygon, double x, double y) {
  bool inside = false;
  for (size_t i = 0, j = polygon.size() - 1; i < polygon.size(); j = i++) {
    const Point& a = polygon[i];
    const Point& b = polygon[j];
    if ((a.y > y) != (b.y > y) && x < (b.x - a.x) * (y - a.y) / (b.y - a.y) + a.x) inside = !inside;
  }
  return inside;
}

// The shape's outline in pixels (circle: none, tested analytically).
std::vector<Point> outline(Shape shape, double cx, double cy, double radius) {
  std::vector<Point> points;
  switch (shape) {
    case Shape::kSquare: {
      const double h = radius * 0.85;
      points = {{cx - h, cy - h}, {cx + h, cy - h}, {cx + h, cy + h}, {cx - h, cy + h}};
      break;
    }
    case Shape::kTriangle:
      for (int i = 0; i < 3; ++i) {
        const double angle = -kPi / 2 + i * 2 * kPi / 3;
        points.push_back(
            {cx + radius * std::cos(angle), cy + radius * std::sin(angle) + radius * 0.15});
      }
      break;
    case Shape::kStar:
      for (int i = 0; i < 10; ++i) {
        const double angle = -kPi / 2 + i * kPi / 5;
        const double r = i % 2 == 0 ? radius : radius * 0.42;
        points.push_back({cx + r * std::cos(angle), cy + r * std::sin(angle)});
      }
      break;
    case Shape::kCircle:
      break;
  }
  return points;
}

struct Rgb {
  uint8_t r, g, b;
};

void fill(std::vector<uint8_t>& rgb, int width, int x0, int x1, int y0, int y1, Rgb c) {
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) {
      uint8_t* p = &rgb[(static_cast<size_t>(y) * width + x) * 3];
      p[0] = c.r;
      p[1] = c.g;
      p[2] = c.b;
    }
  }
}

// The videotestsrc patterns, laid out as its RGB output measures (GStreamer 1.22).
std::vector<uint8_t> render_pattern(const Scene& scene, int width, int height) {
  std::vector<uint8_t> rgb(static_cast<size_t>(width) * height * 3);
  const auto at = [](int extent, double fraction) {
    return static_cast<int>(std::lround(extent * fraction));
  };
  if (scene.pattern == Pattern::kCheckers) {
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        const bool red = ((x / scene.cell) + (y / scene.cell)) % 2 == 0;
        fill(rgb, width, x, x + 1, y, y + 1, red ? Rgb{255, 0, 0} : Rgb{0, 255, 0});
      }
    }
    return rgb;
  }
  std::mt19937_64 noise(static_cast<uint64_t>(scene.cell));
  const auto snow = [&](int x0, int x1, int y0, int y1) {
    for (int y = y0; y < y1; ++y) {
      for (int x = x0; x < x1; ++x) {
        const auto v = static_cast<uint8_t>(noise() >> 56);  // grey, uniform in 0..255
        fill(rgb, width, x, x + 1, y, y + 1, Rgb{v, v, v});
      }
    }
  };
  if (scene.pattern == Pattern::kSnow) {
    snow(0, width, 0, height);
    return rgb;
  }
  // SMPTE bars: seven 100 % bars over the top two thirds, the reversed blue/magenta/cyan row down
  // to three quarters, then -I (navy), white, +Q (azure), black, a dark PLUGE step, and snow.
  static const Rgb kTop[] = {{255, 255, 255}, {255, 255, 0}, {0, 255, 255}, {0, 255, 0},
                             {255, 0, 255},   {255, 0, 0},   {0, 0, 255}};
  static const Rgb kMiddle[] = {{0, 0, 255},   {0, 0, 0}, {255, 0, 255},  {0, 0, 0},
                                {0, 255, 255}, {0, 0, 0}, {255, 255, 255}};
  const int top = at(height, 2.0 / 3), middle = at(height, 3.0 / 4);
  for (int i = 0; i < 7; ++i) {
    fill(rgb, width, at(width, i / 7.0), at(width, (i + 1) / 7.0), 0, top, kTop[i]);
    fill(rgb, width, at(width, i / 7.0), at(width, (i + 1) / 7.0), top, middle, kMiddle[i]);
  }
  fill(rgb, width, 0, at(width, 1 / 6.0), middle, height, {0, 0, 128});
  fill(rgb, width, at(width, 1 / 6.0), at(width, 2 / 6.0), middle, height, {255, 255, 255});
  fill(rgb, width, at(width, 2 / 6.0), at(width, 3 / 6.0), middle, height, {0, 128, 255});
  fill(rgb, width, at(width, 3 / 6.0), at(width, 0.64), middle, height, {0, 0, 0});
  fill(rgb, width, at(width, 0.64), at(width, 0.75), middle, height, {19, 19, 19});
  snow(at(width, 0.75), width, middle, height);
  return rgb;
}

// "a red", "an orange".
std::string with_article(const std::string& word) {
  const bool vowel = !word.empty() && std::string("aeiou").find(word[0]) != std::string::npos;
  return (vowel ? "an " : "a ") + word;
}

}  // namespace

const std::vector<SceneColour>& scene_colours() {
  static const std::vector<SceneColour> colours = {
      {"red", 220, 30, 30},     {"green", 30, 170, 50},   {"blue", 30, 60, 220},
      {"yellow", 240, 220, 30}, {"orange", 245, 140, 20}, {"purple", 140, 40, 170},
      {"white", 245, 245, 245}, {"black", 15, 15, 15},
  };
  return colours;
}

const char* shape_name(Shape shape) {
  switch (shape) {
    case Shape::kCircle:
      return "circle";
    case Shape::kSquare:
      return "square";
    case Shape::kTriangle:
      return "triangle";
    case Shape::kStar:
      return "star";
  }
  return "shape";
}

namespace {

const char* pattern_label(Pattern pattern) {
  switch (pattern) {
    case Pattern::kColourBars:
      return "colour bars";
    case Pattern::kSnow:
      return "static noise";
    case Pattern::kCheckers:
      return "a checkerboard";
    case Pattern::kNone:
      break;
  }
  return "";
}

const char* pattern_caption(Pattern pattern) {
  switch (pattern) {
    case Pattern::kColourBars:
      return "a test card with colour bars";
    case Pattern::kSnow:
      return "a screen of static noise";
    case Pattern::kCheckers:
      return "a red and green checkerboard";
    case Pattern::kNone:
      break;
  }
  return "";
}

}  // namespace

bool Scene::operator==(const Scene& other) const {
  return pattern == other.pattern && cell == other.cell && plain == other.plain &&
         background == other.background && colour == other.colour && shape == other.shape &&
         size == other.size && cx == other.cx && cy == other.cy;
}

std::string scene_caption(const Scene& scene) {
  const auto& colours = scene_colours();
  if (scene.pattern != Pattern::kNone) return pattern_caption(scene.pattern);
  if (scene.plain) return std::string("a plain ") + colours.at(scene.background).name + " image";
  return with_article(colours.at(scene.colour).name) + " " + shape_name(scene.shape) + " on " +
         with_article(colours.at(scene.background).name) + " background";
}

std::string scene_label(const Scene& scene) {
  const auto& colours = scene_colours();
  if (scene.pattern != Pattern::kNone) return pattern_label(scene.pattern);
  if (scene.plain) return colours.at(scene.background).name;
  return with_article(colours.at(scene.colour).name) + " " + shape_name(scene.shape);
}

bool held_out(const Scene& scene) {
  if (!scene.has_shape()) return false;
  return (scene.colour * 3 + static_cast<int>(scene.shape) * 5 + scene.background) % 7 == 0;
}

std::vector<uint8_t> render_scene(const Scene& scene, int width, int height) {
  if (width <= 0 || height <= 0)
    throw std::invalid_argument("render_scene: width and height must be positive");
  if (scene.pattern != Pattern::kNone) return render_pattern(scene, width, height);
  const auto& colours = scene_colours();
  const SceneColour& bg = colours.at(scene.background);
  std::vector<uint8_t> rgb(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0; i < rgb.size(); i += 3) {
    rgb[i] = bg.r;
    rgb[i + 1] = bg.g;
    rgb[i + 2] = bg.b;
  }
  if (scene.plain) return rgb;
  const SceneColour& fg = colours.at(scene.colour);
  const double radius = scene.size * std::min(width, height) / 2.0;
  const double cx = scene.cx * width;
  const double cy = scene.cy * height;
  const std::vector<Point> polygon = outline(scene.shape, cx, cy, radius);
  const int x0 = std::max(0, static_cast<int>(cx - radius - 2));
  const int x1 = std::min(width - 1, static_cast<int>(cx + radius + 2));
  const int y0 = std::max(0, static_cast<int>(cy - radius - 2));
  const int y1 = std::min(height - 1, static_cast<int>(cy + radius + 2));
  constexpr int kSamples = 4;
  for (int y = y0; y <= y1; ++y) {
    for (int x = x0; x <= x1; ++x) {
      int covered = 0;
      for (int sy = 0; sy < kSamples; ++sy) {
        for (int sx = 0; sx < kSamples; ++sx) {
          const double px = x + (sx + 0.5) / kSamples;
          const double py = y + (sy + 0.5) / kSamples;
          const bool in = scene.shape == Shape::kCircle
                              ? (px - cx) * (px - cx) + (py - cy) * (py - cy) <= radius * radius
                              : inside_polygon(polygon, px, py);
          covered += in ? 1 : 0;
        }
      }
      if (covered == 0) continue;
      const double a = static_cast<double>(covered) / (kSamples * kSamples);
      uint8_t* pixel = &rgb[(static_cast<size_t>(y) * width + x) * 3];
      pixel[0] = static_cast<uint8_t>(std::lround(a * fg.r + (1 - a) * bg.r));
      pixel[1] = static_cast<uint8_t>(std::lround(a * fg.g + (1 - a) * bg.g));
      pixel[2] = static_cast<uint8_t>(std::lround(a * fg.b + (1 - a) * bg.b));
    }
  }
  return rgb;
}

SceneSampler::SceneSampler(uint64_t seed, Split split, double plain_fraction,
                           double pattern_fraction)
    : random_(seed),
      split_(split),
      plain_fraction_(plain_fraction),
      pattern_fraction_(pattern_fraction) {}

uint64_t SceneSampler::below(uint64_t n) { return random_() % n; }  // bias < 2^-50 for small n

double unit_interval(std::mt19937_64& random) {
  return static_cast<double>(random() >> 11) * 0x1.0p-53;
}

double SceneSampler::unit() { return unit_interval(random_); }

Scene SceneSampler::next() {
  const int colour_count = static_cast<int>(scene_colours().size());
  for (;;) {
    Scene scene;
    if (split_ != Split::kHeldOut && unit() < pattern_fraction_) {
      scene.pattern = static_cast<Pattern>(1 + below(kPatternCount));
      static const int kCells[] = {4, 8, 16};  // videotestsrc's checkers-4, -8 and -16
      scene.cell =
          scene.pattern == Pattern::kCheckers ? kCells[below(3)] : static_cast<int>(below(1 << 30));
      return scene;
    }
    scene.plain = split_ != Split::kHeldOut && unit() < plain_fraction_;
    scene.background = static_cast<int>(below(colour_count));
    if (!scene.plain) {
      scene.colour =
          static_cast<int>((scene.background + 1 + below(colour_count - 1)) % colour_count);
      scene.shape = static_cast<Shape>(below(kShapeCount));
      scene.size = 0.45 + 0.35 * unit();
      const double margin = scene.size / 2 + 0.05;
      scene.cx = margin + (1 - 2 * margin) * unit();
      scene.cy = margin + (1 - 2 * margin) * unit();
    }
    const bool out = held_out(scene);
    if (split_ == Split::kAll || (split_ == Split::kTrain) != out) return scene;
  }
}

std::vector<std::string> all_scene_labels() {
  std::vector<std::string> labels;
  const auto& colours = scene_colours();
  for (const auto& colour : colours) {
    for (int shape = 0; shape < kShapeCount; ++shape) {
      labels.push_back(with_article(colour.name) + " " + shape_name(static_cast<Shape>(shape)));
    }
  }
  for (const auto& colour : colours) labels.push_back(colour.name);
  for (int p = 1; p <= kPatternCount; ++p) labels.push_back(pattern_label(static_cast<Pattern>(p)));
  return labels;
}

}  // namespace ivs::train
