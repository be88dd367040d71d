// SPDX-License-Identifier: Apache-2.0
#include "model/common/clip_image_processor.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "model/common/errors.h"
#include "model/common/pil_resize.h"

namespace ivs::model {
namespace {

using nlohmann::json;

constexpr int kChannels = 3;
constexpr int kPilBicubic = 3;

// Names the file and key in every error, so that an operator can fix the file without reading
// code. A null value counts as absent, as transformers treats it.
class JsonFields {
 public:
  JsonFields(const json& object, const std::string& path) : object_(object), path_(path) {}

  const json* find(const std::string& key) const {
    const auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }

  [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
    throw ConfigError("preprocessor config " + path_ + ": key \"" + key + "\" " + problem);
  }

  void read_bool(const std::string& key, bool& value) const {
    const json* field = find(key);
    if (field == nullptr) return;
    if (!field->is_boolean()) fail(key, "must be true or false, got " + field->dump());
    value = field->get<bool>();
  }

  int positive_int(const std::string& key, const json& field) const {
    if (!field.is_number_integer() || field.get<int64_t>() <= 0 ||
        field.get<int64_t>() > std::numeric_limits<int>::max()) {
      fail(key, "must be a positive integer, got " + field.dump());
    }
    return field.get<int>();
  }

  double number(const std::string& key, const json& field) const {
    if (!field.is_number()) fail(key, "must be a number, got " + field.dump());
    return field.get<double>();
  }

 private:
  const json& object_;
  const std::string& path_;
};

json parse_json_file(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) {
    throw ConfigError("preprocessor config " + path +
                      " does not exist: pass the model folder holding preprocessor_config.json");
  }
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot open preprocessor config " + path + ": check its permissions");
  json root;
  try {
    root = json::parse(in);
  } catch (const json::parse_error& error) {
    throw ConfigError("preprocessor config " + path + " is not valid JSON: " + error.what());
  }
  if (!root.is_object()) {
    throw ConfigError("preprocessor config " + path + " must hold a JSON object, got " +
                      std::string(root.type_name()));
  }
  return root;
}

// "size": 224, {"shortest_edge": 224} or {"height": 448, "width": 448}.
void read_size(const JsonFields& fields, ImageProcessorConfig& config) {
  const json* size = fields.find("size");
  if (size == nullptr) return;
  if (size->is_number()) {
    config.shortest_edge = fields.positive_int("size", *size);
  } else if (size->is_object() && size->size() == 1 && size->contains("shortest_edge")) {
    config.shortest_edge = fields.positive_int("size.shortest_edge", size->at("shortest_edge"));
  } else if (size->is_object() && size->size() == 2 && size->contains("height") &&
             size->contains("width")) {
    config.resize_height = fields.positive_int("size.height", size->at("height"));
    config.resize_width = fields.positive_int("size.width", size->at("width"));
  } else {
    fields.fail("size",
                "must be an integer, {\"shortest_edge\": n} or {\"height\": h, "
                "\"width\": w}, got " +
                    size->dump());
  }
}

// "crop_size": 224 or {"height": 224, "width": 224}.
void read_crop_size(const JsonFields& fields, ImageProcessorConfig& config) {
  const json* crop = fields.find("crop_size");
  if (crop == nullptr) return;
  if (crop->is_number()) {
    config.crop_height = config.crop_width = fields.positive_int("crop_size", *crop);
  } else if (crop->is_object() && crop->size() == 2 && crop->contains("height") &&
             crop->contains("width")) {
    config.crop_height = fields.positive_int("crop_size.height", crop->at("height"));
    config.crop_width = fields.positive_int("crop_size.width", crop->at("width"));
  } else {
    fields.fail("crop_size",
                "must be an integer or {\"height\": h, \"width\": w}, got " + crop->dump());
  }
}

// A list of 3 numbers, or one number for every channel (transformers accepts both).
void read_channels(const JsonFields& fields, const std::string& key, std::array<float, 3>& out) {
  const json* field = fields.find(key);
  if (field == nullptr) return;
  if (field->is_number()) {
    out.fill(static_cast<float>(field->get<double>()));
  } else if (field->is_array() && field->size() == kChannels) {
    for (int c = 0; c < kChannels; ++c) {
      // numpy builds the float32 array from the double values: one rounding, as here.
      out[c] = static_cast<float>(fields.number(key, field->at(c)));
    }
  } else {
    fields.fail(key, "must be a list of 3 numbers (R, G, B), got " + field->dump());
  }
}

void read_resample(const JsonFields& fields, ImageProcessorConfig& config) {
  const json* resample = fields.find("resample");
  if (resample == nullptr) return;
  if (!resample->is_number_integer() || resample->get<int64_t>() != kPilBicubic) {
    fields.fail("resample",
                "is " + resample->dump() + ", but only 3 (PIL BICUBIC) is supported: set it to 3");
  }
  config.resample = kPilBicubic;
}

}  // namespace

ImageProcessorConfig ImageProcessorConfig::from_json_file(const std::string& path) {
  const json root = parse_json_file(path);
  const JsonFields fields(root, path);
  ImageProcessorConfig config;
  fields.read_bool("do_resize", config.do_resize);
  read_size(fields, config);
  read_resample(fields, config);
  fields.read_bool("do_center_crop", config.do_center_crop);
  read_crop_size(fields, config);
  fields.read_bool("do_rescale", config.do_rescale);
  if (const json* factor = fields.find("rescale_factor")) {
    config.rescale_factor = fields.number("rescale_factor", *factor);
  }
  fields.read_bool("do_normalize", config.do_normalize);
  read_channels(fields, "image_mean", config.image_mean);
  read_channels(fields, "image_std", config.image_std);
  if (std::count(config.image_std.begin(), config.image_std.end(), 0.0f) > 0) {
    fields.fail("image_std", "must not contain 0 (it divides the pixel values)");
  }
  fields.read_bool("do_convert_rgb", config.do_convert_rgb);
  return config;
}

namespace {

RgbImage resize_shortest_edge(const RgbImage& image, const ImageProcessorConfig& config) {
  const auto [width, height] = resized_size(image.width, image.height, config);
  return resize_bicubic_pil(image, width, height);
}

RgbImage center_crop(const RgbImage& image, int crop_height, int crop_width) {
  if (image.height == crop_height && image.width == crop_width) return image;
  const int top = crop_offset(image.height, crop_height);
  const int left = crop_offset(image.width, crop_width);
  RgbImage out;
  out.width = crop_width;
  out.height = crop_height;
  out.pixels.assign(static_cast<std::size_t>(crop_width) * crop_height * kChannels, 0);
  const int x_begin = std::max(0, -left);
  const int x_end = std::min(crop_width, image.width - left);
  for (int y = std::max(0, -top); y < std::min(crop_height, image.height - top); ++y) {
    const auto src =
        image.pixels.begin() +
        (static_cast<std::ptrdiff_t>(y + top) * image.width + x_begin + left) * kChannels;
    std::copy(
        src, src + static_cast<std::ptrdiff_t>(x_end - x_begin) * kChannels,
        out.pixels.begin() + (static_cast<std::ptrdiff_t>(y) * crop_width + x_begin) * kChannels);
  }
  return out;
}

// HWC uint8 -> CHW float32 with transformers' rounding: rescale in double (numpy multiplies a
// uint8 array by a Python float), cast to float32, then normalise in float32.
std::vector<float> to_normalized_chw(const RgbImage& image, const ImageProcessorConfig& config) {
  const std::size_t plane = static_cast<std::size_t>(image.width) * image.height;
  std::vector<float> out(plane * kChannels);
  for (int c = 0; c < kChannels; ++c) {
    const float mean = config.image_mean[c];
    const float std_dev = config.image_std[c];
    float* dst = &out[c * plane];
    for (std::size_t i = 0; i < plane; ++i) {
      const uint8_t u8 = image.pixels[i * kChannels + c];
      float value = config.do_rescale
                        ? static_cast<float>(static_cast<double>(u8) * config.rescale_factor)
                        : static_cast<float>(u8);
      if (config.do_normalize) value = (value - mean) / std_dev;
      dst[i] = value;
    }
  }
  return out;
}

}  // namespace

std::pair<int, int> resized_size(int width, int height, const ImageProcessorConfig& config) {
  if (config.resize_height > 0 && config.resize_width > 0) {
    return {config.resize_width, config.resize_height};
  }
  const int edge = config.shortest_edge;
  const bool portrait = width <= height;
  const int short_side = portrait ? width : height;
  const int long_side = portrait ? height : width;
  const int new_long = static_cast<int>(static_cast<double>(edge) * long_side / short_side);
  return portrait ? std::pair<int, int>{edge, new_long} : std::pair<int, int>{new_long, edge};
}

int crop_offset(int size, int crop) {
  return size >= crop ? (size - crop) / 2 : -((crop - size + 1) / 2);
}

std::vector<float> preprocess_image(const RgbImage& image, const ImageProcessorConfig& config,
                                    ResizeMode mode) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<std::size_t>(image.width) * image.height * kChannels) {
    throw std::invalid_argument(
        "preprocess_image: the image is empty or its pixel buffer does "
        "not hold width * height * 3 bytes");
  }
  if (mode == ResizeMode::kSquash) {
    return to_normalized_chw(resize_bicubic_pil(image, config.crop_width, config.crop_height),
                             config);
  }
  if (config.do_resize && config.do_center_crop) {
    // Only the crop is computed when it lies inside the resized picture (the usual case).
    const auto [width, height] = resized_size(image.width, image.height, config);
    if (width >= config.crop_width && height >= config.crop_height) {
      return to_normalized_chw(
          resize_bicubic_pil_window(image, width, height, crop_offset(width, config.crop_width),
                                    crop_offset(height, config.crop_height), config.crop_width,
                                    config.crop_height),
          config);
    }
  }
  RgbImage resized = config.do_resize ? resize_shortest_edge(image, config) : image;
  if (config.do_center_crop) resized = center_crop(resized, config.crop_height, config.crop_width);
  return to_normalized_chw(resized, config);
}

}  // namespace ivs::model
