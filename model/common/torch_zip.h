// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <string>

#include "model/common/tensor_file.h"

namespace ivs::model {

/// Opens a PyTorch checkpoint written by torch.save in the zip format (torch >= 1.6), e.g. a
/// Hugging Face `pytorch_model.bin` or `pytorch_model-00001-of-00002.bin`, whose `data.pkl`
/// holds a dict or collections.OrderedDict of tensor name -> tensor.
///
/// The pickle is interpreted by a restricted unpickler of our own: it understands only the
/// opcodes torch.save emits for a state dict and only these globals:
/// collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and
/// the typed storage classes (torch.FloatStorage, torch.BFloat16Storage, torch.HalfStorage, ...).
/// Any other global (os.system, builtins.eval, ...) or opcode is refused with a WeightLoadError
/// naming the file and what was asked for; nothing in the pickle is ever executed.
///
/// Storages are read from the zip one at a time when a tensor is read (the legacy non-zip
/// torch.save format is refused with a message saying to re-save or convert it).
std::unique_ptr<TensorFile> open_torch_zip(const std::string& path);

}  // namespace ivs::model
