// SPDX-License-Identifier: Apache-2.0
// The synthetic scenes: reproducible from a seed, held-out combinations never in training (and
// training still covering every colour, shape and background), captions and labels as the
// templates say, pixels where the scene says.
#include "model/train/synthetic_scenes.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <tuple>

namespace ivs::train {
namespace {

uint64_t checksum(const std::vector<uint8_t>& bytes) {
  uint64_t hash = 14695981039346656037ull;
  for (uint8_t b : bytes) hash = (hash ^ b) * 1099511628211ull;
  return hash;
}

TEST(SyntheticScenesTest, a_seed_gives_the_same_scenes_and_pixels) {
  SceneSampler a(42, Split::kAll);
  SceneSampler b(42, Split::kAll);
  SceneSampler c(43, Split::kAll);
  bool differs = false;
  for (int i = 0; i < 50; ++i) {
    const Scene sa = a.next();
    const Scene sb = b.next();
    EXPECT_TRUE(sa == sb) << i;
    EXPECT_EQ(checksum(render_scene(sa, 64, 48)), checksum(render_scene(sb, 64, 48)));
    differs |= !(c.next() == sa);
  }
  EXPECT_TRUE(differs);
}

TEST(SyntheticScenesTest,
     held_out_combinations_never_reach_training_which_still_covers_everything) {
  SceneSampler train(1, Split::kTrain);
  SceneSampler held(1, Split::kHeldOut);
  std::set<int> colours, backgrounds, shapes;
  std::set<std::tuple<int, int, int>> train_combos, held_combos;
  int plain = 0;
  std::set<int> patterns;
  for (int i = 0; i < 5000; ++i) {
    const Scene t = train.next();
    ASSERT_FALSE(held_out(t));
    if (t.pattern != Pattern::kNone) {
      patterns.insert(static_cast<int>(t.pattern));
      continue;
    }
    if (t.plain) {
      ++plain;
      continue;
    }
    EXPECT_NE(t.colour, t.background);
    colours.insert(t.colour);
    backgrounds.insert(t.background);
    shapes.insert(static_cast<int>(t.shape));
    train_combos.insert({t.colour, static_cast<int>(t.shape), t.background});
    const Scene h = held.next();
    ASSERT_TRUE(held_out(h));
    ASSERT_TRUE(h.has_shape());
    held_combos.insert({h.colour, static_cast<int>(h.shape), h.background});
  }
  const size_t n = scene_colours().size();
  EXPECT_EQ(colours.size(), n);
  EXPECT_EQ(backgrounds.size(), n);
  EXPECT_EQ(shapes.size(), static_cast<size_t>(kShapeCount));
  EXPECT_EQ(patterns.size(), static_cast<size_t>(kPatternCount));
  EXPECT_GT(plain, 300);  // ~10 %
  EXPECT_LT(plain, 700);
  const size_t combos = n * (n - 1) * kShapeCount;
  EXPECT_EQ(train_combos.size() + held_combos.size(),
            combos);  // every combination, in exactly one split
  EXPECT_GT(held_combos.size(), combos / 10);
  EXPECT_LT(held_combos.size(), combos / 5);
  for (const auto& combo : held_combos) EXPECT_EQ(train_combos.count(combo), 0u);
}

TEST(SyntheticScenesTest, captions_and_labels_follow_the_templates) {
  Scene scene;
  scene.colour = 0;      // red
  scene.background = 2;  // blue
  scene.shape = Shape::kTriangle;
  EXPECT_EQ(scene_caption(scene), "a red triangle on a blue background");
  EXPECT_EQ(scene_label(scene), "a red triangle");
  scene.plain = true;
  scene.background = 1;
  EXPECT_EQ(scene_caption(scene), "a plain green image");
  EXPECT_EQ(scene_label(scene), "green");
  scene.plain = false;
  scene.colour = 4;  // orange
  scene.background = 4 == 0 ? 1 : 0;
  EXPECT_EQ(scene_caption(scene), "an orange triangle on a red background");
  scene.colour = 0;
  scene.background = 4;
  EXPECT_EQ(scene_caption(scene), "a red triangle on an orange background");
  scene.pattern = Pattern::kCheckers;
  EXPECT_EQ(scene_caption(scene), "a red and green checkerboard");
  EXPECT_EQ(scene_label(scene), "a checkerboard");
  EXPECT_FALSE(held_out(scene));
  const auto labels = all_scene_labels();
  EXPECT_EQ(labels.size(), scene_colours().size() * (kShapeCount + 1) + kPatternCount);
  EXPECT_EQ(std::set<std::string>(labels.begin(), labels.end()).size(), labels.size());
}

TEST(SyntheticScenesTest, pixels_show_the_shape_over_the_background) {
  Scene scene;
  scene.colour = 3;      // yellow
  scene.background = 7;  // black
  scene.shape = Shape::kSquare;
  scene.size = 0.5;
  scene.cx = 0.503;  // edges off the pixel grid
  scene.cy = 0.5;
  const int w = 100, h = 80;
  const auto rgb = render_scene(scene, w, h);
  ASSERT_EQ(rgb.size(), static_cast<size_t>(w * h * 3));
  auto at = [&](int x, int y) {
    const uint8_t* p = &rgb[(static_cast<size_t>(y) * w + x) * 3];
    return std::make_tuple(int(p[0]), int(p[1]), int(p[2]));
  };
  const auto& yellow = scene_colours()[3];
  const auto& black = scene_colours()[7];
  EXPECT_EQ(at(50, 40),
            std::make_tuple(int(yellow.r), int(yellow.g), int(yellow.b)));  // centre: the shape
  EXPECT_EQ(at(1, 1),
            std::make_tuple(int(black.r), int(black.g), int(black.b)));  // corner: background
  // The edge is anti-aliased: some pixel lies strictly between the two colours.
  bool blended = false;
  for (int x = 0; x < w && !blended; ++x) {
    const int r = std::get<0>(at(x, 40));
    blended = r > black.r && r < yellow.r;
  }
  EXPECT_TRUE(blended);
  for (int shape = 0; shape < kShapeCount; ++shape) {  // every shape covers its centre
    scene.shape = static_cast<Shape>(shape);
    const auto other = render_scene(scene, w, h);
    EXPECT_EQ(other[(40 * w + 50) * 3], yellow.r) << shape_name(scene.shape);
  }
  EXPECT_THROW(render_scene(scene, 0, 10), std::invalid_argument);
}

// Pixel values and layout as videotestsrc's RGB output at 224x224 measured them (GStreamer 1.22).
TEST(SyntheticScenesTest, test_patterns_look_like_videotestsrc) {
  const int w = 224, h = 224;
  auto pixel = [&](const std::vector<uint8_t>& rgb, int x, int y) {
    const uint8_t* p = &rgb[(static_cast<size_t>(y) * w + x) * 3];
    return std::make_tuple(int(p[0]), int(p[1]), int(p[2]));
  };
  Scene bars;
  bars.pattern = Pattern::kColourBars;
  const auto b = render_scene(bars, w, h);
  EXPECT_EQ(pixel(b, 16, 50), std::make_tuple(255, 255, 255));  // white
  EXPECT_EQ(pixel(b, 48, 50), std::make_tuple(255, 255, 0));    // yellow
  EXPECT_EQ(pixel(b, 208, 50), std::make_tuple(0, 0, 255));     // blue
  EXPECT_EQ(pixel(b, 16, 160), std::make_tuple(0, 0, 255));     // the reversed row
  EXPECT_EQ(pixel(b, 48, 160), std::make_tuple(0, 0, 0));
  EXPECT_EQ(pixel(b, 4, 200), std::make_tuple(0, 0, 128));      // -I
  EXPECT_EQ(pixel(b, 100, 200), std::make_tuple(0, 128, 255));  // +Q
  EXPECT_EQ(pixel(b, 156, 200), std::make_tuple(19, 19, 19));   // PLUGE
  Scene checkers;
  checkers.pattern = Pattern::kCheckers;
  checkers.cell = 8;
  const auto c = render_scene(checkers, w, h);
  EXPECT_EQ(pixel(c, 0, 0), std::make_tuple(255, 0, 0));
  EXPECT_EQ(pixel(c, 8, 0), std::make_tuple(0, 255, 0));
  EXPECT_EQ(pixel(c, 8, 8), std::make_tuple(255, 0, 0));
  Scene snow;
  snow.pattern = Pattern::kSnow;
  snow.cell = 5;
  const auto n = render_scene(snow, w, h);
  std::set<int> greys;
  for (size_t i = 0; i < n.size(); i += 3) {
    ASSERT_TRUE(n[i] == n[i + 1] && n[i] == n[i + 2]);
    greys.insert(n[i]);
  }
  EXPECT_GT(greys.size(), 250u);  // uniform grey noise
  EXPECT_EQ(n, render_scene(snow, w, h));
  snow.cell = 6;
  EXPECT_NE(n, render_scene(snow, w, h));
}

}  // namespace
}  // namespace ivs::train
