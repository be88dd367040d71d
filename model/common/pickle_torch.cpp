// SPDX-License-Identifier: Apache-2.0
// The call signatures follow torch/serialization.py and torch/_utils.py (torch 1.13 and 2.x):
// they describe what torch.save writes; nothing here executes anything from the pickle.
#include "model/common/pickle_torch.h"

#include <array>
#include <utility>

namespace ivs::model {
namespace {

struct StorageClass {
  const char* name;
  DType dtype;
};

constexpr std::array<StorageClass, 10> kStorageClasses{{
    {"DoubleStorage", DType::kF64},
    {"FloatStorage", DType::kF32},
    {"HalfStorage", DType::kF16},
    {"BFloat16Storage", DType::kBF16},
    {"LongStorage", DType::kI64},
    {"IntStorage", DType::kI32},
    {"ShortStorage", DType::kI16},
    {"CharStorage", DType::kI8},
    {"ByteStorage", DType::kU8},
    {"BoolStorage", DType::kBool},
}};

const PickleValue& expect(const PickleResult& result, std::size_t index, PickleKind kind,
                          const char* what) {
  const PickleValue& value = result.values[index];
  if (value.kind != kind) throw PickleArgumentError(std::string(what) + " has an unexpected type");
  return value;
}

std::vector<int64_t> expect_int_tuple(const PickleResult& result, std::size_t index,
                                      const char* what) {
  std::vector<int64_t> out;
  for (std::size_t item : expect(result, index, PickleKind::kTuple, what).items) {
    out.push_back(expect(result, item, PickleKind::kInt, what).number);
  }
  return out;
}

// The optional metadata holds flags such as conj/neg bits that change what the raw bytes mean.
// None of them is set on a real-valued state dict; refuse rather than return wrong numbers.
void check_tensor_metadata(const PickleResult& result, std::size_t metadata) {
  if (result.values[metadata].kind == PickleKind::kNone) return;
  const PickleValue& dict = expect(result, metadata, PickleKind::kDict, "tensor metadata");
  for (std::size_t i = 1; i < dict.items.size(); i += 2) {
    const PickleValue& flag = result.values[dict.items[i]];
    if (flag.kind != PickleKind::kBool || flag.number != 0) {
      throw PickleArgumentError("tensor metadata sets " +
                                pickle_printable(result.values[dict.items[i - 1]].text) +
                                ", which this reader does not apply");
    }
  }
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks
// [, metadata]); requires_grad and the (empty) hooks do not matter for inference weights. The
// view itself is validated against its storage by open_torch_zip(), which knows the tensor name.
std::size_t rebuild_tensor(PickleResult& result, const std::vector<std::size_t>& args) {
  if (args.size() != 6 && args.size() != 7) {
    throw PickleArgumentError("_rebuild_tensor_v2 takes 6 or 7 arguments, the pickle passes " +
                              std::to_string(args.size()));
  }
  PickleTensor tensor;
  tensor.storage = static_cast<std::size_t>(
      expect(result, args[0], PickleKind::kStorage, "tensor storage").number);
  tensor.storage_offset = expect(result, args[1], PickleKind::kInt, "tensor storage_offset").number;
  tensor.size = expect_int_tuple(result, args[2], "tensor size");
  tensor.stride = expect_int_tuple(result, args[3], "tensor stride");
  if (tensor.size.size() != tensor.stride.size()) {
    throw PickleArgumentError("tensor size has " + std::to_string(tensor.size.size()) +
                              " dimensions but stride has " + std::to_string(tensor.stride.size()));
  }
  expect(result, args[4], PickleKind::kBool, "tensor requires_grad");
  expect(result, args[5], PickleKind::kDict, "tensor backward_hooks");
  if (args.size() == 7) check_tensor_metadata(result, args[6]);
  result.tensors.push_back(std::move(tensor));
  result.values.emplace_back(PickleKind::kTensor, static_cast<int64_t>(result.tensors.size() - 1));
  return result.values.size() - 1;
}

// _rebuild_parameter(data, requires_grad, backward_hooks): an nn.Parameter is its data tensor.
std::size_t rebuild_parameter(const PickleResult& result, const std::vector<std::size_t>& args) {
  if (args.size() != 3) {
    throw PickleArgumentError("_rebuild_parameter takes 3 arguments, the pickle passes " +
                              std::to_string(args.size()));
  }
  expect(result, args[0], PickleKind::kTensor, "parameter data");
  expect(result, args[1], PickleKind::kBool, "parameter requires_grad");
  expect(result, args[2], PickleKind::kDict, "parameter backward_hooks");
  return args[0];
}

}  // namespace

std::optional<PickleValue> torch_global(const std::string& module, const std::string& name) {
  PickleValue value(PickleKind::kGlobal);
  value.text = module + "." + name;
  if (module == "collections" && name == "OrderedDict") {
    value.global = PickleGlobal::kOrderedDict;
    return value;
  }
  if (module == "torch._utils" && name == "_rebuild_tensor_v2") {
    value.global = PickleGlobal::kRebuildTensorV2;
    return value;
  }
  if (module == "torch._utils" && name == "_rebuild_parameter") {
    value.global = PickleGlobal::kRebuildParameter;
    return value;
  }
  for (const auto& storage : kStorageClasses) {
    if (module == "torch" && name == storage.name) {
      value.global = PickleGlobal::kStorageClass;
      value.storage_dtype = storage.dtype;
      return value;
    }
  }
  return std::nullopt;
}

std::size_t call_torch_global(PickleResult& result, PickleValue callable,
                              const std::vector<std::size_t>& args) {
  switch (callable.global) {
    case PickleGlobal::kOrderedDict: {
      if (!args.empty()) throw PickleArgumentError("collections.OrderedDict called with arguments");
      PickleValue dict(PickleKind::kDict);
      dict.ordered = true;
      result.values.push_back(std::move(dict));
      return result.values.size() - 1;
    }
    case PickleGlobal::kRebuildTensorV2:
      return rebuild_tensor(result, args);
    case PickleGlobal::kRebuildParameter:
      return rebuild_parameter(result, args);
    case PickleGlobal::kStorageClass:
      break;
  }
  throw PickleArgumentError(pickle_printable(callable.text) +
                            " called directly; a storage may only appear in a persistent id");
}

std::size_t load_torch_storage(PickleResult& result, std::size_t id) {
  const std::vector<std::size_t> fields =
      expect(result, id, PickleKind::kTuple, "persistent id").items;
  if (fields.size() != 5 ||
      expect(result, fields[0], PickleKind::kString, "persistent id tag").text != "storage") {
    throw PickleArgumentError(
        "persistent id is not a ('storage', class, key, location, numel) "
        "tuple");
  }
  const PickleValue& storage_class =
      expect(result, fields[1], PickleKind::kGlobal, "storage class");
  if (storage_class.global != PickleGlobal::kStorageClass) {
    throw PickleArgumentError("persistent id names " + pickle_printable(storage_class.text) +
                              " instead of a storage class");
  }
  PickleStorage storage;
  storage.dtype = storage_class.storage_dtype;
  storage.key = expect(result, fields[2], PickleKind::kString, "storage key").text;
  storage.location = expect(result, fields[3], PickleKind::kString, "storage location").text;
  storage.numel = expect(result, fields[4], PickleKind::kInt, "storage numel").number;
  if (storage.numel < 0) {
    throw PickleArgumentError("storage numel " + std::to_string(storage.numel) + " is negative");
  }
  result.storages.push_back(std::move(storage));
  result.values.emplace_back(PickleKind::kStorage,
                             static_cast<int64_t>(result.storages.size() - 1));
  return result.values.size() - 1;
}

}  // namespace ivs::model
