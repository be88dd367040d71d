// SPDX-License-Identifier: Apache-2.0
// Labelled synthetic scenes for training and testing the demo model (issue 5): coloured shapes
// of several sizes and positions on coloured backgrounds, and plain colours, each with a
// templated caption ("a red circle on a blue background") and label names ("a red circle",
// "red", "circle"). Deterministic: a seed gives the same scenes and pixels on every machine
// (raw std::mt19937_64 output only; the standard distributions differ between libraries).
// Some colour/shape/background combinations are held out of training, so that zero-shot accuracy
// and caption exact-match are measured on combinations the model never saw.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace ivs::train {

struct SceneColour {
  const char* name;
  uint8_t r, g, b;
};

/// The palette, in a fixed order (index = colour id).
const std::vector<SceneColour>& scene_colours();

enum class Shape { kCircle, kSquare, kTriangle, kStar };
inline constexpr int kShapeCount = 4;
const char* shape_name(Shape shape);  // "circle", "square", "triangle", "star"

/// Frames like GStreamer's videotestsrc draws them (pattern=smpte, snow, checkers-N), as measured
/// from its RGB output, so that a test source gets a right answer too.
enum class Pattern { kNone, kColourBars, kSnow, kCheckers };
inline constexpr int kPatternCount = 3;  // not counting kNone

struct Scene {
  Pattern pattern = Pattern::kNone;  // a test pattern: no colours, no shape
  int cell = 8;                      // checkers: square side in pixels; snow: seed of the noise
  bool plain = false;                // background only
  int background = 0;                // colour id
  int colour = 0;                    // colour id of the shape (unused when plain)
  Shape shape = Shape::kCircle;
  double size = 0.4;  // shape extent as a fraction of the shorter image side
  double cx = 0.5;    // shape centre, fractions of width and height
  double cy = 0.5;

  bool operator==(const Scene& other) const;
  bool has_shape() const { return !plain && pattern == Pattern::kNone; }
};

/// "a red circle on a blue background", "a plain green image", "a red and green checkerboard".
std::string scene_caption(const Scene& scene);
/// "a red circle", "green" for a plain scene, "a checkerboard": the zero-shot label of the scene.
std::string scene_label(const Scene& scene);

/// Whether the scene's combination is kept out of training (about one in seven shape scenes;
/// every colour, shape and background still occurs in training).
bool held_out(const Scene& scene);

/// RGB, row-major, `width * height * 3` bytes. Shape edges are anti-aliased (4x4 supersampling).
std::vector<uint8_t> render_scene(const Scene& scene, int width, int height);

/// Uniform in [0, 1) from the top 53 bits of one draw: the same on every standard library.
double unit_interval(std::mt19937_64& random);

enum class Split { kTrain, kHeldOut, kAll };

/// Draws scenes from one split, deterministically from `seed`.
class SceneSampler {
 public:
  /// Held-out draws are shape scenes only (plain colours and patterns are no combinations).
  SceneSampler(uint64_t seed, Split split, double plain_fraction = 0.1,
               double pattern_fraction = 0.06);
  Scene next();

 private:
  uint64_t below(uint64_t n);  // uniform in [0, n)
  double unit();               // uniform in [0, 1)

  std::mt19937_64 random_;
  Split split_;
  double plain_fraction_;
  double pattern_fraction_;
};

/// Every label of the shape scenes ("a red circle", ...), then every plain-colour label, then the
/// test patterns' labels.
std::vector<std::string> all_scene_labels();

}  // namespace ivs::train
