// SPDX-License-Identifier: Apache-2.0
#include "model/common/torch_zip.h"
#include "model/common/regular_file.h"

#include <zip.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <optional>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "model/common/errors.h"
#include "model/common/pickle_reader.h"

namespace ivs::model {
namespace {

// A state dict pickles to roughly 200 bytes per tensor, so this admits ~80k tensors while
// bounding what a hostile data.pkl can make the unpickler allocate.
constexpr zip_uint64_t kMaxPickleBytes = zip_uint64_t{16} << 20;
constexpr zip_uint64_t kMaxByteorderBytes = 64;
// How much a storage entry may inflate when someone re-packed the archive with compression.
constexpr zip_uint64_t kMaxCompressionRatio = 16;

constexpr const char* kResaveAdvice =
    "re-save it with torch.save(state_dict, path, _use_new_zipfile_serialization=True) or "
    "convert it to safetensors";

struct ZipDiscard {
  void operator()(zip_t* zip) const { zip_discard(zip); }  // read-only: nothing to write back
};
using ZipPtr = std::unique_ptr<zip_t, ZipDiscard>;

struct ZipFileClose {
  void operator()(zip_file_t* file) const { zip_fclose(file); }
};
using ZipFilePtr = std::unique_ptr<zip_file_t, ZipFileClose>;

std::string zip_error_text(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string text = zip_error_strerror(&error);
  zip_error_fini(&error);
  return text;
}

std::string format_dims(const std::vector<int64_t>& dims) {
  std::string out = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) {
    out += (i == 0 ? "" : ", ") + std::to_string(dims[i]);
  }
  return out + "]";
}

const char* kind_name(PickleKind kind) {
  switch (kind) {
    case PickleKind::kNone:
      return "None";
    case PickleKind::kBool:
      return "a bool";
    case PickleKind::kInt:
      return "an int";
    case PickleKind::kFloat:
      return "a float";
    case PickleKind::kString:
      return "a string";
    case PickleKind::kTuple:
      return "a tuple";
    case PickleKind::kList:
      return "a list";
    case PickleKind::kDict:
      return "a dict";
    case PickleKind::kGlobal:
      return "a class or function";
    case PickleKind::kStorage:
      return "a bare storage";
    case PickleKind::kTensor:
      return "a tensor";
  }
  return "an unknown object";
}

// libzip reports "Not a zip archive" for legacy checkpoints and partial downloads too; say which.
[[noreturn]] void throw_not_zip(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[2] = {0, 0};
  in.read(head, sizeof(head));
  if (in.gcount() >= 1 && static_cast<uint8_t>(head[0]) == 0x80) {  // pickle PROTO opcode
    throw WeightLoadError(path +
                          ": legacy (pre-1.6, non-zip) torch.save format, which this "
                          "reader does not support; " +
                          kResaveAdvice);
  }
  if (in.gcount() == 2 && head[0] == 'P' && head[1] == 'K') {
    throw WeightLoadError(path +
                          ": a zip archive without its central directory, i.e. truncated "
                          "(an interrupted download or save?): download or save it again");
  }
  throw WeightLoadError(path +
                        ": not a zip archive, so not a torch.save checkpoint; if it is an "
                        "old checkpoint, " +
                        kResaveAdvice);
}

ZipPtr open_zip(const std::string& path) {
  const std::string not_file = special_file_kind(path);
  if (!not_file.empty()) {  // zip_open says it, below
    throw WeightLoadError(path + " " + not_file + ": pass the path of a checkpoint file");
  }
  int code = 0;
  zip_t* zip = zip_open(path.c_str(), ZIP_RDONLY, &code);
  if (zip != nullptr) return ZipPtr(zip);
  if (code == ZIP_ER_NOZIP) throw_not_zip(path);
  if (code == ZIP_ER_NOENT) {
    throw WeightLoadError(path + ": no such file; check the checkpoint path");
  }
  throw WeightLoadError("cannot open " + path + " as a zip archive (" + zip_error_text(code) +
                        "); if the file is damaged, download or save it again");
}

/// One storage of the archive: zip entry <archive>/data/<key>, raw little-endian elements.
struct StorageEntry {
  std::string entry_name;    // e.g. "pytorch_model/data/0"
  std::string first_tensor;  // the first tensor that uses it, for messages
  DType dtype = DType::kF32;
  int64_t numel = 0;
  zip_uint64_t zip_index = 0;
  std::size_t nbytes = 0;
};

/// Where one tensor's elements are: a strided view of a storage.
struct TensorEntry {
  std::size_t storage = 0;     // index into TorchZipFile::storages_
  int64_t storage_offset = 0;  // in elements
  std::vector<int64_t> strides;
};

class TorchZipFile final : public TensorFile {
 public:
  TorchZipFile(std::string path, ZipPtr zip) : path_(std::move(path)), zip_(std::move(zip)) {
    load_index();
  }

  const std::string& path() const override { return path_; }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  TensorView read(const std::string& name) override;

 private:
  void load_index();
  zip_uint64_t find_data_pkl();
  void check_byteorder();
  void add_tensor(const std::string& name, const PickleStorage& storage,
                  const PickleTensor& tensor);
  std::size_t add_storage(const PickleStorage& storage, const std::string& tensor);
  void check_view(const std::string& name, const PickleTensor& tensor,
                  const StorageEntry& storage) const;
  std::string read_small_entry(zip_uint64_t index, zip_uint64_t max_bytes, const std::string& what);
  void read_entry(zip_uint64_t index, void* dest, std::size_t nbytes, const std::string& what);
  void load_storage(std::size_t storage, const std::string& tensor);

  std::string path_;
  ZipPtr zip_;
  std::string prefix_;  // archive folder including the slash, e.g. "pytorch_model/"
  std::vector<TensorInfo> infos_;
  std::vector<TensorEntry> entries_;  // parallel to infos_
  std::unordered_map<std::string, std::size_t> by_name_;
  std::vector<StorageEntry> storages_;
  std::unordered_map<std::string, std::size_t> storage_by_key_;
  // The one storage held in memory; several tensors may view it, so it is kept until a tensor
  // of another storage is read.
  std::optional<std::size_t> cached_storage_;
  std::unique_ptr<std::byte[]> cache_;
};

void TorchZipFile::load_index() {
  const zip_uint64_t pkl_index = find_data_pkl();
  check_byteorder();
  const std::string source = path_ + " (entry " + prefix_ + "data.pkl)";
  const std::string pickle = read_small_entry(pkl_index, kMaxPickleBytes, "data.pkl");
  const PickleResult result = read_restricted_pickle(pickle, source);
  const PickleValue& root = result.values[result.root];
  if (root.kind != PickleKind::kDict) {
    throw WeightLoadError(source + ": the pickle holds " + kind_name(root.kind) +
                          ", not a dict of tensor name -> tensor; save model.state_dict() "
                          "itself, not the model or a wrapper object");
  }
  for (std::size_t i = 0; i + 1 < root.items.size(); i += 2) {
    const PickleValue& key = result.values[root.items[i]];
    const PickleValue& value = result.values[root.items[i + 1]];
    if (key.kind != PickleKind::kString) {
      throw WeightLoadError(source + ": key #" + std::to_string(i / 2) + " of the state dict is " +
                            kind_name(key.kind) + ", not a tensor name");
    }
    if (value.kind != PickleKind::kTensor) {
      throw WeightLoadError(source + ": entry '" + key.text + "' is " + kind_name(value.kind) +
                            ", not a tensor; this is not a flat state dict (a training "
                            "checkpoint?): save the model's state_dict() alone");
    }
    const PickleTensor& tensor = result.tensors[static_cast<std::size_t>(value.number)];
    add_tensor(key.text, result.storages[tensor.storage], tensor);
  }
}

// The archive folder is whatever name torch.save chose ("archive", the file's stem, ...).
zip_uint64_t TorchZipFile::find_data_pkl() {
  constexpr std::string_view kSuffix = "/data.pkl";
  std::optional<zip_uint64_t> found;
  const zip_int64_t count = zip_get_num_entries(zip_.get(), 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    const char* raw = zip_get_name(zip_.get(), static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
    const std::string_view name = raw == nullptr ? std::string_view() : std::string_view(raw);
    if (name.size() < kSuffix.size() || name.substr(name.size() - kSuffix.size()) != kSuffix) {
      continue;
    }
    if (found) {
      throw WeightLoadError(path_ + ": holds two pickles, " + prefix_ + "data.pkl and " +
                            std::string(name) + "; a torch.save archive has exactly one");
    }
    found = static_cast<zip_uint64_t>(i);
    prefix_ = std::string(name.substr(0, name.size() - kSuffix.size() + 1));
  }
  if (!found) {
    throw WeightLoadError(path_ +
                          ": a zip archive without a <archive>/data.pkl entry, so not "
                          "a torch.save checkpoint; " +
                          kResaveAdvice);
  }
  return *found;
}

// torch >= 2.0 records the byte order of the storages; older files are always little-endian.
void TorchZipFile::check_byteorder() {
  const std::string name = prefix_ + "byteorder";
  const zip_int64_t index = zip_name_locate(zip_.get(), name.c_str(), ZIP_FL_ENC_RAW);
  if (index < 0) return;
  std::string order = read_small_entry(static_cast<zip_uint64_t>(index), kMaxByteorderBytes, name);
  while (!order.empty() && (order.back() == '\n' || order.back() == ' ')) order.pop_back();
  if (order != "little") {
    throw WeightLoadError(path_ + ": " + name + " says the storages are '" + order +
                          "'-endian; only little-endian checkpoints are supported: convert it "
                          "to safetensors on the machine that wrote it");
  }
}

void TorchZipFile::add_tensor(const std::string& name, const PickleStorage& storage,
                              const PickleTensor& tensor) {
  if (by_name_.count(name) != 0) {
    throw WeightLoadError(path_ + ": the state dict names tensor '" + name +
                          "' twice; the file is damaged or hand-made: save it again");
  }
  const std::size_t storage_index = add_storage(storage, name);
  check_view(name, tensor, storages_[storage_index]);
  by_name_.emplace(name, infos_.size());
  infos_.push_back(TensorInfo{name, storage.dtype, tensor.size});
  entries_.push_back(TensorEntry{storage_index, tensor.storage_offset, tensor.stride});
}

std::size_t TorchZipFile::add_storage(const PickleStorage& storage, const std::string& tensor) {
  const auto known = storage_by_key_.find(storage.key);
  if (known != storage_by_key_.end()) {
    const StorageEntry& entry = storages_[known->second];
    if (entry.dtype != storage.dtype || entry.numel != storage.numel) {
      throw WeightLoadError(path_ + ": storage " + entry.entry_name + " is declared as " +
                            std::to_string(entry.numel) + " " + dtype_display_name(entry.dtype) +
                            " elements for tensor '" + entry.first_tensor + "' but as " +
                            std::to_string(storage.numel) + " " +
                            dtype_display_name(storage.dtype) + " elements for tensor '" + tensor +
                            "'; save the file again");
    }
    return known->second;
  }
  StorageEntry entry;
  entry.entry_name = prefix_ + "data/" + storage.key;
  entry.first_tensor = tensor;
  entry.dtype = storage.dtype;
  entry.numel = storage.numel;
  const zip_int64_t index = zip_name_locate(zip_.get(), entry.entry_name.c_str(), ZIP_FL_ENC_RAW);
  if (index < 0) {
    throw WeightLoadError(path_ + ": tensor '" + tensor + "' uses storage " + entry.entry_name +
                          ", which is missing from the archive; the file is truncated or "
                          "damaged: download or save it again");
  }
  entry.zip_index = static_cast<zip_uint64_t>(index);
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat_index(zip_.get(), entry.zip_index, 0, &stat) != 0 ||
      (stat.valid & ZIP_STAT_SIZE) == 0) {
    throw WeightLoadError(path_ + ": cannot read the size of " + entry.entry_name + " (" +
                          zip_strerror(zip_.get()) + ")");
  }
  uint64_t expected = 0;
  const bool overflow = __builtin_mul_overflow(static_cast<uint64_t>(storage.numel),
                                               dtype_size(storage.dtype), &expected);
  if (overflow || stat.size != expected || expected > SIZE_MAX) {
    throw WeightLoadError(path_ + ": storage " + entry.entry_name + " of tensor '" + tensor +
                          "' holds " + std::to_string(stat.size) +
                          " bytes but the pickle "
                          "declares " +
                          std::to_string(storage.numel) + " " + dtype_display_name(storage.dtype) +
                          " elements (" + (overflow ? "overflow" : std::to_string(expected)) +
                          " bytes); the file is damaged: download or save it again");
  }
  // torch.save stores storages uncompressed, and weights hardly compress: an entry that
  // inflates many times over is a zip bomb (1 MB of file, a 1 GiB buffer) or not a checkpoint.
  if ((stat.valid & ZIP_STAT_COMP_SIZE) != 0 && (stat.valid & ZIP_STAT_COMP_METHOD) != 0 &&
      stat.comp_method != ZIP_CM_STORE && stat.size / kMaxCompressionRatio > stat.comp_size) {
    throw WeightLoadError(path_ + ": storage " + entry.entry_name + " of tensor '" + tensor +
                          "' inflates from " + std::to_string(stat.comp_size) + " to " +
                          std::to_string(stat.size) + " bytes, more than " +
                          std::to_string(kMaxCompressionRatio) +
                          " times (torch.save does not compress, weights hardly compress): "
                          "refusing it; " +
                          kResaveAdvice);
  }
  entry.nbytes = static_cast<std::size_t>(expected);
  storage_by_key_.emplace(storage.key, storages_.size());
  storages_.push_back(std::move(entry));
  return storages_.size() - 1;
}

// The view touches elements offset + sum(i_d * stride_d) for 0 <= i_d < size_d; all of them
// must lie inside the storage, computed without signed overflow.
void TorchZipFile::check_view(const std::string& name, const PickleTensor& tensor,
                              const StorageEntry& storage) const {
  bool valid = tensor.storage_offset >= 0;
  bool empty = false;
  int64_t last = tensor.storage_offset;  // highest element index touched
  for (std::size_t d = 0; valid && d < tensor.size.size(); ++d) {
    valid = tensor.size[d] >= 0 && tensor.stride[d] >= 0;
    empty = empty || tensor.size[d] == 0;
    int64_t reach = 0;
    if (valid && tensor.size[d] > 0) {
      valid = !__builtin_mul_overflow(tensor.size[d] - 1, tensor.stride[d], &reach) &&
              !__builtin_add_overflow(last, reach, &last);
    }
  }
  // An empty view touches nothing, but its data pointer must still point into the storage.
  valid = valid && (empty ? tensor.storage_offset <= storage.numel : last < storage.numel);
  if (!valid) {
    throw WeightLoadError(path_ + ": tensor '" + name + "' (shape " + format_dims(tensor.size) +
                          ", stride " + format_dims(tensor.stride) + ", storage offset " +
                          std::to_string(tensor.storage_offset) +
                          ") does not fit inside its "
                          "storage " +
                          storage.entry_name + " of " + std::to_string(storage.numel) +
                          " elements (negative and overflowing values are refused too); the "
                          "file is damaged or hostile: do not use it");
  }
}

std::string TorchZipFile::read_small_entry(zip_uint64_t index, zip_uint64_t max_bytes,
                                           const std::string& what) {
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat_index(zip_.get(), index, 0, &stat) != 0 || (stat.valid & ZIP_STAT_SIZE) == 0) {
    throw WeightLoadError(path_ + ": cannot read the size of " + what + " (" +
                          zip_strerror(zip_.get()) + ")");
  }
  if (stat.size > max_bytes) {
    throw WeightLoadError(path_ + ": " + what + " is " + std::to_string(stat.size) +
                          " bytes, more than the " + std::to_string(max_bytes) +
                          " this reader accepts; the file is not a plain state dict");
  }
  std::string bytes(static_cast<std::size_t>(stat.size), '\0');
  read_entry(index, bytes.data(), bytes.size(), what);
  return bytes;
}

void TorchZipFile::read_entry(zip_uint64_t index, void* dest, std::size_t nbytes,
                              const std::string& what) {
  ZipFilePtr file(zip_fopen_index(zip_.get(), index, 0));
  if (!file) {
    throw WeightLoadError(path_ + ": cannot open " + what + " in the archive (" +
                          zip_strerror(zip_.get()) + "); download or save the file again");
  }
  auto* out = static_cast<std::byte*>(dest);
  std::size_t done = 0;
  while (done < nbytes) {
    const zip_int64_t got = zip_fread(file.get(), out + done, nbytes - done);
    if (got <= 0) {
      throw WeightLoadError(path_ + ": reading " + what + " stopped after " + std::to_string(done) +
                            " of " + std::to_string(nbytes) + " bytes (" +
                            (got < 0 ? zip_file_strerror(file.get()) : "unexpected end") +
                            "); the file is damaged: download or save it again");
    }
    done += static_cast<std::size_t>(got);
  }
  // libzip checks the entry's CRC-32 only when a read reaches its end: read on to it, so
  // flipped bits under a stale CRC are an error instead of silently different weights.
  std::byte past_end{};
  const zip_int64_t extra = zip_fread(file.get(), &past_end, 1);
  if (extra != 0) {
    throw WeightLoadError(path_ + ": " + what + " is damaged (" +
                          (extra < 0 ? zip_file_strerror(file.get()) : "longer than its size") +
                          "); download or save the file again");
  }
}

void TorchZipFile::load_storage(std::size_t storage, const std::string& tensor) {
  // Free the previous storage first: never hold two at once.
  cache_.reset();
  cached_storage_.reset();
  const StorageEntry& entry = storages_[storage];
  // operator new[] aligns to __STDCPP_DEFAULT_NEW_ALIGNMENT__, enough for every DType.
  cache_.reset(new std::byte[entry.nbytes]);
  read_entry(entry.zip_index, cache_.get(), entry.nbytes,
             entry.entry_name + " (tensor '" + tensor + "')");
  cached_storage_ = storage;
}

TensorView TorchZipFile::read(const std::string& name) {
  const auto found = by_name_.find(name);
  if (found == by_name_.end()) {
    throw WeightLoadError(path_ + ": no tensor named '" + name + "' (the file holds " +
                          std::to_string(infos_.size()) + " tensors)");
  }
  const TensorInfo& info = infos_[found->second];
  const TensorEntry& entry = entries_[found->second];
  if (cached_storage_ != entry.storage) load_storage(entry.storage, name);
  const std::size_t byte_offset =
      static_cast<std::size_t>(entry.storage_offset) * dtype_size(info.dtype);
  return TensorView{info.dtype, info.shape, entry.strides, cache_.get() + byte_offset};
}

}  // namespace

std::unique_ptr<TensorFile> open_torch_zip(const std::string& path) {
  return std::make_unique<TorchZipFile>(path, open_zip(path));
}

}  // namespace ivs::model
