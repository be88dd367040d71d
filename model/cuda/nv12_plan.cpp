// SPDX-License-Identifier: Apache-2.0
#include "model/cuda/nv12_plan.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "model/common/pil_resize.h"

namespace ivs::model::cuda {
namespace {

// The outputs [begin, begin + n) of an axis, appended to `arrays`; returns the view's offsets.
struct AxisSlice {
  size_t first = 0, count = 0, weights = 0;
};

AxisSlice append_slice(const PilAxis& axis, int begin, int n, AxisView& view,
                       std::vector<int32_t>& arrays) {
  AxisSlice at;
  at.first = arrays.size();
  arrays.insert(arrays.end(), axis.first.begin() + begin, axis.first.begin() + begin + n);
  at.count = arrays.size();
  arrays.insert(arrays.end(), axis.count.begin() + begin, axis.count.begin() + begin + n);
  at.weights = arrays.size();
  const auto w = axis.weights.begin() + static_cast<std::ptrdiff_t>(begin) * axis.taps;
  arrays.insert(arrays.end(), w, w + static_cast<std::ptrdiff_t>(n) * axis.taps);
  view.outputs = n;
  view.taps = axis.taps;
  return at;
}

}  // namespace

YuvMatrix make_yuv_matrix(YuvStandard standard, bool full_range, bool chroma_cosited,
                          bool chroma_v_cosited) {
  double kr = 0.299, kb = 0.114;  // BT.601
  if (standard == YuvStandard::kBt709) kr = 0.2126, kb = 0.0722;
  if (standard == YuvStandard::kBt2020) kr = 0.2627, kb = 0.0593;
  const double kg = 1.0 - kr - kb;
  YuvMatrix m;
  m.luma_scale = static_cast<float>(full_range ? 1.0 : 255.0 / 219.0);
  m.luma_offset = full_range ? 0.0f : 16.0f;
  m.chroma_scale = static_cast<float>(full_range ? 1.0 : 255.0 / 224.0);
  m.r_cr = static_cast<float>(2.0 * (1.0 - kr));
  m.g_cb = static_cast<float>(-2.0 * kb * (1.0 - kb) / kg);
  m.g_cr = static_cast<float>(-2.0 * kr * (1.0 - kr) / kg);
  m.b_cb = static_cast<float>(2.0 * (1.0 - kb));
  m.chroma_cosited = chroma_cosited;
  m.chroma_v_cosited = chroma_v_cosited;
  return m;
}

Nv12Plan::Nv12Plan(int width, int height, const ImageProcessorConfig& config, ResizeMode mode)
    : width_(width), height_(height) {
  if (width <= 0 || height <= 0) {
    throw std::invalid_argument("NV12 preprocessing: frame size " + std::to_string(width) + "x" +
                                std::to_string(height) + " must be positive");
  }
  const bool squash = mode == ResizeMode::kSquash;
  auto [rw, rh] = squash ? std::pair<int, int>{config.crop_width, config.crop_height}
                         : (config.do_resize ? resized_size(width, height, config)
                                             : std::pair<int, int>{width, height});
  const bool crop = !squash && config.do_center_crop;
  plan_.crop_width = crop ? config.crop_width : rw;
  plan_.crop_height = crop ? config.crop_height : rh;
  plan_.crop_left = crop ? crop_offset(rw, config.crop_width) : 0;
  plan_.crop_top = crop ? crop_offset(rh, config.crop_height) : 0;
  plan_.column0 = std::max(0, plan_.crop_left);
  plan_.row0 = std::max(0, plan_.crop_top);
  const int columns = std::min(rw, plan_.crop_left + plan_.crop_width) - plan_.column0;
  const int rows = std::min(rh, plan_.crop_top + plan_.crop_height) - plan_.row0;
  const auto x_axis = pil_bicubic_axis(width, rw);
  const auto y_axis = pil_bicubic_axis(height, rh);
  const auto xs = append_slice(x_axis, plan_.column0, columns, plan_.columns, arrays_);
  const auto ys = append_slice(y_axis, plan_.row0, rows, plan_.rows, arrays_);
  column_first_ = xs.first, column_count_ = xs.count, column_weights_ = xs.weights;
  row_first_ = ys.first, row_count_ = ys.count, row_weights_ = ys.weights;
  plan_.source_row0 = y_axis.first[plan_.row0];
  const int last = plan_.row0 + rows - 1;
  plan_.source_rows = y_axis.first[last] + y_axis.count[last] - plan_.source_row0;
  plan_.rescale = config.rescale_factor;
  plan_.do_rescale = config.do_rescale;
  plan_.do_normalize = config.do_normalize;
  for (int c = 0; c < 3; ++c) {
    plan_.mean[c] = config.image_mean[c];
    plan_.std_dev[c] = config.image_std[c];
  }
}

PlanView Nv12Plan::view_at(const int32_t* base) const {
  PlanView p = plan_;
  p.columns.first = base + column_first_;
  p.columns.count = base + column_count_;
  p.columns.weights = base + column_weights_;
  p.rows.first = base + row_first_;
  p.rows.count = base + row_count_;
  p.rows.weights = base + row_weights_;
  return p;
}

PlanView Nv12Plan::view() const { return view_at(arrays_.data()); }

size_t Nv12Plan::scratch_bytes() const {
  return static_cast<size_t>(plan_.source_rows) * plan_.columns.outputs * 3;
}

size_t Nv12Plan::output_floats() const {
  return static_cast<size_t>(3) * plan_.crop_height * plan_.crop_width;
}

std::vector<float> preprocess_nv12_on_host(const Nv12View& frame, const YuvMatrix& matrix,
                                           const Nv12Plan& plan) {
  if (frame.width != plan.width() || frame.height != plan.height()) {
    throw std::invalid_argument("NV12 preprocessing: the frame is " + std::to_string(frame.width) +
                                "x" + std::to_string(frame.height) + " but the plan was made for " +
                                std::to_string(plan.width()) + "x" + std::to_string(plan.height()));
  }
  const PlanView p = plan.view();
  std::vector<uint8_t> rows(plan.scratch_bytes());
  for (int r = 0; r < p.source_rows; ++r) {
    for (int c = 0; c < p.columns.outputs; ++c) {
      horizontal_pixel(frame, matrix, p, p.source_row0 + r, c,
                       &rows[(static_cast<size_t>(r) * p.columns.outputs + c) * 3]);
    }
  }
  std::vector<float> out(plan.output_floats());
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < p.crop_height; ++y) {
      for (int x = 0; x < p.crop_width; ++x) {
        out[(static_cast<size_t>(c) * p.crop_height + y) * p.crop_width + x] =
            model_value(rows.data(), p, c, y, x);
      }
    }
  }
  return out;
}

}  // namespace ivs::model::cuda
