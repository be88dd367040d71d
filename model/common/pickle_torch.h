// SPDX-License-Identifier: Apache-2.0
// Private to model/common: the vocabulary of torch.save state-dict pickles (which globals they
// may name and what calling them builds), kept apart from the opcode machine in
// pickle_reader.cpp so that the allow-list is in one short place.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/common/pickle_reader.h"

namespace ivs::model {

/// The globals a state dict may name, for messages.
inline constexpr const char* kTorchAllowedGlobals =
    "collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter "
    "and torch.<Type>Storage";

/// A call or persistent id whose arguments are not what torch.save writes. The pickle machine
/// turns it into a WeightLoadError naming the file and the byte offset.
class PickleArgumentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The kGlobal value for `module`.`name` when it is one of kTorchAllowedGlobals; std::nullopt
/// for anything else (os.system, builtins.eval, torch.load, ...).
std::optional<PickleValue> torch_global(const std::string& module, const std::string& name);

/// Evaluates REDUCE of `callable` (a value from torch_global) on the tuple elements `args`.
/// Returns the index in result.values of what the call built: a new kDict or kTensor, or
/// args[0] for _rebuild_parameter (a Parameter is its data tensor). Throws PickleArgumentError.
std::size_t call_torch_global(PickleResult& result, PickleValue callable,
                              const std::vector<std::size_t>& args);

/// Evaluates BINPERSID on `id`, which must be torch.save's storage record
/// ('storage', torch.<Type>Storage, key, location, numel). Returns the index in result.values of
/// the new kStorage value. Throws PickleArgumentError.
std::size_t load_torch_storage(PickleResult& result, std::size_t id);

}  // namespace ivs::model
