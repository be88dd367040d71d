// SPDX-License-Identifier: Apache-2.0
// Every difference between the LibTorch versions we build against lives here: Debian's 1.13
// (CPU only) and CUDA builds of 2.x from PyTorch wheels. Include only from torch translation units.
#pragma once

#include <torch/version.h>

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
// at::scaled_dot_product_attention exists from 2.0, but 2.0's memory-efficient kernel takes no
// mask (masked calls would fall back to a bf16 softmax); from 2.1 masks run fused. 1.13 only
// has a private, differently shaped variant.
#define INTERNVL_HAVE_SDPA 1
#else
#define INTERNVL_HAVE_SDPA 0
#endif

// CUDA graphs (model/internvl/image_graphs.cpp, compiled only against a LibTorch built with
// CUDA: INTERNVL_TORCH_CUDA). From 2.0, CUDAGraph::capture_begin takes the stream capture mode;
// 1.13 always captures in global mode, where a CUDA call of another thread during the capture
// (the caption worker, a decoder) breaks it.
#if TORCH_VERSION_MAJOR >= 2
#define INTERNVL_HAVE_CAPTURE_MODE 1
#else
#define INTERNVL_HAVE_CAPTURE_MODE 0
#endif

namespace ivs::model::compat {

/// "major.minor.patch" of the LibTorch we were compiled against, for build info and reports.
inline const char* torch_version() { return TORCH_VERSION; }

}  // namespace ivs::model::compat
