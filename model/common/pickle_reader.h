// SPDX-License-Identifier: Apache-2.0
// Private to model/common: the restricted unpickler behind open_torch_zip(). It interprets the
// `data.pkl` of a torch.save zip archive without executing anything: the few callables a state
// dict needs are recognised by name and evaluated by pickle_torch.cpp; every other global is
// refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/common/dtype.h"

namespace ivs::model {

/// The globals a torch.save state dict may name. Everything else is refused while reading.
enum class PickleGlobal {
  kOrderedDict,       // collections.OrderedDict
  kRebuildTensorV2,   // torch._utils._rebuild_tensor_v2
  kRebuildParameter,  // torch._utils._rebuild_parameter
  kStorageClass,      // torch.FloatStorage, torch.BFloat16Storage, ...
};

enum class PickleKind {
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,
  kTuple,
  kList,
  kDict,
  kGlobal,
  kStorage,
  kTensor
};

/// A storage named by a persistent id ('storage', <class>, key, location, numel).
struct PickleStorage {
  DType dtype = DType::kF32;
  std::string key;       // e.g. "0": the zip entry <archive>/data/0
  std::string location;  // e.g. "cpu" or "cuda:0"; informative only
  int64_t numel = 0;     // elements of `dtype` (not bytes)
};

/// A tensor rebuilt by torch._utils._rebuild_tensor_v2: a strided view of one storage. The
/// numbers are exactly as pickled; open_torch_zip() validates them against the storage.
struct PickleTensor {
  std::size_t storage = 0;      // index into PickleResult::storages
  int64_t storage_offset = 0;   // in elements
  std::vector<int64_t> size;    // e.g. {3, 4}; empty for a 0-dim tensor
  std::vector<int64_t> stride;  // in elements, same length as `size`
};

/// One object the pickle built. Containers refer to their elements by index into
/// PickleResult::values, so objects shared through the memo stay shared.
struct PickleValue {
  PickleValue() = default;
  explicit PickleValue(PickleKind value_kind, int64_t value_number = 0)
      : kind(value_kind), number(value_number) {}

  PickleKind kind = PickleKind::kNone;
  int64_t number = 0;  // kBool (0/1), kInt; kStorage/kTensor: index into their list
  double real = 0.0;   // kFloat
  std::string text;    // kString; "module.name" for kGlobal
  PickleGlobal global = PickleGlobal::kOrderedDict;  // kGlobal
  DType storage_dtype = DType::kF32;                 // kGlobal of kind kStorageClass
  std::vector<std::size_t> items;  // kTuple/kList elements; kDict: key, value, key, value, ...
  bool ordered = false;            // kDict made by collections.OrderedDict()
};

/// Everything a pickle built. `values` is an arena: objects never own each other, so cycles a
/// hostile pickle builds through the memo can neither leak nor recurse on destruction.
struct PickleResult {
  std::vector<PickleValue> values;
  std::vector<PickleStorage> storages;
  std::vector<PickleTensor> tensors;
  std::size_t root = 0;  // index into `values` of the object STOP returned
};

/// Interprets `bytes` (protocol 2 to 4) with the opcodes torch.save emits for a state dict and
/// the globals listed in PickleGlobal. `source` names the pickle in messages, e.g.
/// "/models/pytorch_model.bin (entry archive/data.pkl)". Throws WeightLoadError naming `source`
/// and the byte offset for any other opcode or global, a truncated pickle, or malformed
/// arguments. Does not check what the root object is.
PickleResult read_restricted_pickle(std::string_view bytes, const std::string& source);

/// Text taken from a pickle, made safe for a message: printable ASCII, at most 80 characters.
std::string pickle_printable(std::string_view text);

}  // namespace ivs::model
