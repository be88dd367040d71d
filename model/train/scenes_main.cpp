// SPDX-License-Identifier: Apache-2.0
// internvl-scenes: the synthetic scenes of the demo model, for eyes and for the tokenizer.
//   internvl-scenes corpus FILE                  every caption, label and prompt, one per line
//                                                (the text spm_train builds the tokenizer from)
//   internvl-scenes labels FILE                  the zero-shot label set, one per line
//   internvl-scenes render --split held-out --count 8 --size 224 --seed 7 --out DIR
//                                                PNG files named after their captions
//   internvl-scenes video --scenes 8 --seconds 2 --fps 10 --size 256 --out scenes.rgb --timeline scenes.json
//                                                raw RGB frames of changing scenes (every other one
//                                                held out of training) for rawvideoparse, and when
//                                                each scene is on screen (what the semantic tests
//                                                and the demo compare results with)
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <stb/stb_image_write.h>

#include "model/train/synthetic_scenes.h"

namespace {

using namespace ivs::train;

int write_corpus(const std::string& path) {
  // The caption prompt and the text tower's retrieval prefix are part of every input.
  std::set<std::string> lines{"English caption:", "summarize:", "a photo of"};
  for (const auto& label : all_scene_labels()) lines.insert(label);
  SceneSampler sampler(1, Split::kAll, 0.1);
  for (int i = 0; i < 20000; ++i) lines.insert(scene_caption(sampler.next()));
  std::ofstream out(path);
  for (const auto& line : lines) out << line << "\n";
  if (!out) {
    std::fprintf(stderr, "internvl-scenes: cannot write %s\n", path.c_str());
    return 1;
  }
  std::printf("%s: %zu lines\n", path.c_str(), lines.size());
  return 0;
}

int write_labels(const std::string& path) {
  std::ofstream out(path);
  for (const auto& label : all_scene_labels()) out << label << "\n";
  if (!out) {
    std::fprintf(stderr, "internvl-scenes: cannot write %s\n", path.c_str());
    return 1;
  }
  return 0;
}

int render(const std::string& split_name, int count, int size, uint64_t seed,
           const std::string& out_dir) {
  const Split split = split_name == "train"      ? Split::kTrain
                      : split_name == "held-out" ? Split::kHeldOut
                                                 : Split::kAll;
  std::filesystem::create_directories(out_dir);
  SceneSampler sampler(seed, split);
  for (int i = 0; i < count; ++i) {
    const Scene scene = sampler.next();
    std::string name = scene_caption(scene);
    for (char& c : name) c = c == ' ' ? '_' : c;
    const std::string path = out_dir + "/" + std::to_string(i) + "_" + name + ".png";
    const auto rgb = render_scene(scene, size, size);
    if (stbi_write_png(path.c_str(), size, size, 3, rgb.data(), size * 3) == 0) {
      std::fprintf(stderr, "internvl-scenes: cannot write %s\n", path.c_str());
      return 1;
    }
    std::printf("%s\n", path.c_str());
  }
  return 0;
}

int video(int scenes, double seconds, int fps, int size, uint64_t seed, const std::string& out_path,
          const std::string& timeline_path) {
  SceneSampler train(seed, Split::kTrain, 0.0, 0.0);
  SceneSampler held(seed, Split::kHeldOut);
  std::ofstream out(out_path, std::ios::binary);
  nlohmann::json timeline = nlohmann::json::array();
  const int frames_per_scene = static_cast<int>(seconds * fps + 0.5);
  int64_t frame = 0;
  for (int i = 0; i < scenes; ++i) {
    const Scene scene = i % 2 == 0 ? train.next() : held.next();
    const auto rgb = render_scene(scene, size, size);
    for (int f = 0; f < frames_per_scene; ++f)
      out.write(reinterpret_cast<const char*>(rgb.data()), rgb.size());
    timeline.push_back({{"start_frame", frame},
                        {"end_frame", frame + frames_per_scene - 1},
                        {"start_time", static_cast<double>(frame) / fps},
                        {"end_time", static_cast<double>(frame + frames_per_scene) / fps},
                        {"label", scene_label(scene)},
                        {"caption", scene_caption(scene)},
                        {"held_out", held_out(scene)}});
    frame += frames_per_scene;
  }
  std::ofstream(timeline_path) << nlohmann::json{{"width", size},
                                                 {"height", size},
                                                 {"fps", fps},
                                                 {"frames", frame},
                                                 {"scenes", timeline}}
                                      .dump(2)
                               << "\n";
  if (!out) {
    std::fprintf(stderr, "internvl-scenes: cannot write %s\n", out_path.c_str());
    return 1;
  }
  std::printf("%s: %lld frames of %dx%d RGB at %d fps; timeline %s\n", out_path.c_str(),
              static_cast<long long>(frame), size, size, fps, timeline_path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"internvl-scenes: synthetic labelled scenes for the demo model"};
  app.require_subcommand(1);
  std::string corpus_path;
  auto* corpus = app.add_subcommand("corpus", "Write the text corpus (captions, labels, prompt)");
  corpus->add_option("file", corpus_path, "Output text file")->required();
  std::string labels_path;
  auto* labels = app.add_subcommand("labels", "Write the zero-shot label set, one label per line");
  labels->add_option("file", labels_path, "Output text file")->required();
  std::string split = "all";
  std::string out_dir;
  int count = 8;
  int size = 224;
  uint64_t seed = 7;
  auto* render_command = app.add_subcommand("render", "Write scenes as PNG files");
  render_command->add_option("--split", split, "train, held-out or all")
      ->check(CLI::IsMember({"train", "held-out", "all"}));
  render_command->add_option("--count", count, "How many")->check(CLI::Range(1, 100000));
  render_command->add_option("--size", size, "Width and height")->check(CLI::Range(8, 4096));
  render_command->add_option("--seed", seed, "Random seed");
  render_command->add_option("--out", out_dir, "Output directory")->required();
  int scenes = 8;
  double seconds = 2.0;
  int fps = 10;
  std::string timeline_path;
  auto* video_command =
      app.add_subcommand("video", "Write raw RGB frames of changing scenes and their timeline");
  video_command->add_option("--scenes", scenes, "Scenes (every other one held out)")
      ->check(CLI::Range(1, 10000));
  video_command->add_option("--seconds", seconds, "Seconds per scene")
      ->check(CLI::Range(0.1, 3600.0));
  video_command->add_option("--fps", fps, "Frames per second")->check(CLI::Range(1, 240));
  video_command->add_option("--size", size, "Width and height")->check(CLI::Range(8, 4096));
  video_command->add_option("--seed", seed, "Random seed");
  video_command->add_option("--out", out_dir, "Raw RGB output file")->required();
  video_command->add_option("--timeline", timeline_path, "Timeline JSON output file")->required();
  CLI11_PARSE(app, argc, argv);
  if (corpus->parsed()) return write_corpus(corpus_path);
  if (labels->parsed()) return write_labels(labels_path);
  if (video_command->parsed())
    return video(scenes, seconds, fps, size, seed, out_dir, timeline_path);
  return render(split, count, size, seed, out_dir);
}
