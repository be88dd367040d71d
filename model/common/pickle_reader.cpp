// SPDX-License-Identifier: Apache-2.0
// Written from the pickle format description in CPython's Lib/pickletools.py (opcode bytes and
// argument encodings) and torch/serialization.py (what torch.save emits); no unpickler code was
// copied.
#include "model/common/pickle_reader.h"

#include <cstring>
#include <optional>
#include <unordered_map>
#include <utility>

#include "model/common/errors.h"
#include "model/common/pickle_torch.h"

namespace ivs::model {
namespace {

// Opcode bytes (pickletools.py names). Only these are understood; anything else is refused.
constexpr uint8_t kOpProto = 0x80;
constexpr uint8_t kOpFrame = 0x95;
constexpr uint8_t kOpStop = '.';
constexpr uint8_t kOpMark = '(';
constexpr uint8_t kOpEmptyDict = '}';
constexpr uint8_t kOpEmptyList = ']';
constexpr uint8_t kOpEmptyTuple = ')';
constexpr uint8_t kOpTuple = 't';
constexpr uint8_t kOpTuple1 = 0x85;
constexpr uint8_t kOpTuple2 = 0x86;
constexpr uint8_t kOpTuple3 = 0x87;
constexpr uint8_t kOpAppend = 'a';
constexpr uint8_t kOpAppends = 'e';
constexpr uint8_t kOpSetItem = 's';
constexpr uint8_t kOpSetItems = 'u';
constexpr uint8_t kOpBinPut = 'q';
constexpr uint8_t kOpLongBinPut = 'r';
constexpr uint8_t kOpMemoize = 0x94;
constexpr uint8_t kOpBinGet = 'h';
constexpr uint8_t kOpLongBinGet = 'j';
constexpr uint8_t kOpBinInt = 'J';
constexpr uint8_t kOpBinInt1 = 'K';
constexpr uint8_t kOpBinInt2 = 'M';
constexpr uint8_t kOpLong1 = 0x8a;
constexpr uint8_t kOpNewTrue = 0x88;
constexpr uint8_t kOpNewFalse = 0x89;
constexpr uint8_t kOpNone = 'N';
constexpr uint8_t kOpBinUnicode = 'X';
constexpr uint8_t kOpShortBinUnicode = 0x8c;
constexpr uint8_t kOpBinUnicode8 = 0x8d;
constexpr uint8_t kOpBinFloat = 'G';
constexpr uint8_t kOpGlobal = 'c';
constexpr uint8_t kOpStackGlobal = 0x93;
constexpr uint8_t kOpReduce = 'R';
constexpr uint8_t kOpBinPersId = 'Q';
constexpr uint8_t kOpBuild = 'b';

// Protocol 5 only adds out-of-band buffer opcodes, which the opcode check refuses anyway.
constexpr uint64_t kMaxProtocol = 5;

// Objects, references (stack entries, container items) and memo entries a pickle may make. A
// state dict makes about a dozen per tensor, so this admits ~150k tensors, while a pickle of
// repeated cheap opcodes (16 MB of EMPTY_LIST, DUP, APPENDS) can no longer make the reader
// allocate gigabytes: about 150 MB at the limit.
constexpr std::size_t kMaxPickleObjects = std::size_t{2} << 20;

constexpr const char* kDamagedAdvice =
    "the file is damaged or was not written by torch.save(state_dict); re-save it with "
    "torch.save or convert it to safetensors";

std::string hex_byte(uint8_t byte) {
  constexpr const char* kDigits = "0123456789abcdef";
  return std::string("0x") + kDigits[byte >> 4] + kDigits[byte & 0xf];
}

class RestrictedUnpickler {
 public:
  RestrictedUnpickler(std::string_view bytes, const std::string& source)
      : bytes_(bytes), source_(source) {}

  PickleResult run();

 private:
  // Dispatch, split by opcode family; each returns false for opcodes outside its family.
  bool structure_op(uint8_t code);
  bool container_op(uint8_t code);
  bool memo_op(uint8_t code);
  bool scalar_op(uint8_t code);
  bool call_op(uint8_t code);

  PickleResult finish();
  void set_items(bool single);
  void append_items(bool single);
  void build();
  void reduce();
  void persistent_load();
  void push_global(const std::string& module, const std::string& name);
  void push_string(std::size_t length);
  void push_long1();
  void push_float();
  void push_tuple(std::vector<std::size_t> items);

  // Input.
  std::string_view take(uint64_t count);
  uint64_t take_le(std::size_t count);
  std::string take_line();

  // Stack, marks and memo.
  void push(PickleValue value);
  std::size_t fence() const { return marks_.empty() ? 0 : marks_.back(); }
  std::size_t pop();
  std::size_t top();
  std::vector<std::size_t> pop_to_mark();
  void memo_put(uint64_t index);
  void memo_get(uint64_t index);

  // Typed access for arguments; `what` names the argument in the message.
  const PickleValue& expect(std::size_t index, PickleKind kind, const char* what);

  [[noreturn]] void fail(const std::string& what) const;

  std::string_view bytes_;
  const std::string& source_;
  std::size_t pos_ = 0;
  std::size_t op_pos_ = 0;  // offset of the opcode being executed, for messages
  uint8_t code_ = 0;        // the opcode being executed, for messages
  PickleResult result_;
  std::vector<std::size_t> stack_;
  std::vector<std::size_t> marks_;  // stack sizes at each open MARK
  std::unordered_map<uint64_t, std::size_t> memo_;
  std::size_t objects_ = 0;  // made so far, against kMaxPickleObjects

  // Counts `count` more objects, references or memo entries; fails past the limit.
  void charge(std::size_t count);
};

PickleResult RestrictedUnpickler::run() {
  for (;;) {
    op_pos_ = pos_;
    if (pos_ >= bytes_.size()) fail("the pickle ends before its STOP opcode; it is truncated");
    code_ = static_cast<uint8_t>(bytes_[pos_++]);
    if (code_ == kOpStop) return finish();
    if (structure_op(code_) || container_op(code_) || memo_op(code_) || scalar_op(code_) ||
        call_op(code_)) {
      continue;
    }
    fail("unsupported opcode (torch.save never writes it for a state dict)");
  }
}

PickleResult RestrictedUnpickler::finish() {
  if (!marks_.empty() || stack_.size() != 1) {
    fail("STOP leaves " + std::to_string(stack_.size()) + " objects and " +
         std::to_string(marks_.size()) + " open MARKs instead of exactly one object");
  }
  result_.root = stack_.back();
  return std::move(result_);
}

bool RestrictedUnpickler::structure_op(uint8_t code) {
  switch (code) {
    case kOpProto: {
      const auto protocol = take_le(1);
      if (protocol > kMaxProtocol) {
        fail("pickle protocol " + std::to_string(protocol) + " is newer than this reader knows");
      }
      return true;
    }
    case kOpFrame:
      take_le(8);  // framing only groups opcodes for buffered I/O; the opcodes follow inline
      return true;
    case kOpMark:
      marks_.push_back(stack_.size());
      return true;
    case kOpEmptyTuple:
      push_tuple({});
      return true;
    case kOpTuple:
      push_tuple(pop_to_mark());
      return true;
    case kOpTuple1:
    case kOpTuple2:
    case kOpTuple3: {
      std::vector<std::size_t> items(code - kOpTuple1 + 1);
      for (auto it = items.rbegin(); it != items.rend(); ++it) *it = pop();
      push_tuple(std::move(items));
      return true;
    }
    default:
      return false;
  }
}

bool RestrictedUnpickler::container_op(uint8_t code) {
  switch (code) {
    case kOpEmptyDict:
      push(PickleValue(PickleKind::kDict));
      return true;
    case kOpEmptyList:
      push(PickleValue(PickleKind::kList));
      return true;
    case kOpAppend:
    case kOpAppends:
      append_items(code == kOpAppend);
      return true;
    case kOpSetItem:
    case kOpSetItems:
      set_items(code == kOpSetItem);
      return true;
    case kOpBuild:
      build();
      return true;
    default:
      return false;
  }
}

bool RestrictedUnpickler::memo_op(uint8_t code) {
  switch (code) {
    case kOpBinPut:
      memo_put(take_le(1));
      return true;
    case kOpLongBinPut:
      memo_put(take_le(4));
      return true;
    case kOpMemoize:
      memo_put(memo_.size());
      return true;
    case kOpBinGet:
      memo_get(take_le(1));
      return true;
    case kOpLongBinGet:
      memo_get(take_le(4));
      return true;
    default:
      return false;
  }
}

bool RestrictedUnpickler::scalar_op(uint8_t code) {
  PickleValue value;
  switch (code) {
    case kOpBinInt:
      value =
          PickleValue(PickleKind::kInt, static_cast<int32_t>(static_cast<uint32_t>(take_le(4))));
      break;
    case kOpBinInt1:
      value = PickleValue(PickleKind::kInt, static_cast<int64_t>(take_le(1)));
      break;
    case kOpBinInt2:
      value = PickleValue(PickleKind::kInt, static_cast<int64_t>(take_le(2)));
      break;
    case kOpNewTrue:
    case kOpNewFalse:
      value = PickleValue(PickleKind::kBool, code == kOpNewTrue ? 1 : 0);
      break;
    case kOpNone:
      break;
    case kOpLong1:
      push_long1();
      return true;
    case kOpBinFloat:
      push_float();
      return true;
    case kOpShortBinUnicode:
      push_string(take_le(1));
      return true;
    case kOpBinUnicode:
      push_string(take_le(4));
      return true;
    case kOpBinUnicode8:
      push_string(take_le(8));
      return true;
    default:
      return false;
  }
  push(std::move(value));
  return true;
}

bool RestrictedUnpickler::call_op(uint8_t code) {
  switch (code) {
    case kOpGlobal: {
      const std::string module = take_line();
      const std::string name = take_line();
      push_global(module, name);
      return true;
    }
    case kOpStackGlobal: {
      const std::string name = expect(pop(), PickleKind::kString, "STACK_GLOBAL name").text;
      const std::string module = expect(pop(), PickleKind::kString, "STACK_GLOBAL module").text;
      push_global(module, name);
      return true;
    }
    case kOpReduce:
      reduce();
      return true;
    case kOpBinPersId:
      persistent_load();
      return true;
    default:
      return false;
  }
}

void RestrictedUnpickler::push_global(const std::string& module, const std::string& name) {
  std::optional<PickleValue> global = torch_global(module, name);
  if (!global) {
    throw WeightLoadError("refusing to load " + source_ + ": the pickle asks for " +
                          pickle_printable(module + "." + name) + " (at byte " +
                          std::to_string(op_pos_) + "); only tensor storages are allowed (" +
                          kTorchAllowedGlobals +
                          "). Nothing was executed; do not load this file "
                          "unless you trust its origin, and then convert it to safetensors");
  }
  push(std::move(*global));
}

void RestrictedUnpickler::push_string(std::size_t length) {
  PickleValue value = PickleValue(PickleKind::kString);
  value.text = std::string(take(length));
  push(std::move(value));
}

void RestrictedUnpickler::push_long1() {
  const auto width = static_cast<std::size_t>(take_le(1));
  if (width > 8) fail("integer of " + std::to_string(width) + " bytes does not fit 64 bits");
  uint64_t bits = take_le(width);
  // Two's complement of `width` bytes: sign-extend from the top bit of the last byte.
  if (width > 0 && width < 8 && (bits >> (width * 8 - 1)) != 0) bits |= ~uint64_t{0} << (width * 8);
  int64_t number = 0;
  std::memcpy(&number, &bits, sizeof(number));
  push(PickleValue(PickleKind::kInt, number));
}

void RestrictedUnpickler::push_float() {
  const std::string_view raw = take(8);
  uint64_t bits = 0;
  for (char c : raw) bits = (bits << 8) | static_cast<uint8_t>(c);  // big-endian IEEE 754
  PickleValue value = PickleValue(PickleKind::kFloat);
  std::memcpy(&value.real, &bits, sizeof(value.real));
  push(std::move(value));
}

void RestrictedUnpickler::push_tuple(std::vector<std::size_t> items) {
  PickleValue value = PickleValue(PickleKind::kTuple);
  value.items = std::move(items);
  push(std::move(value));
}

void RestrictedUnpickler::append_items(bool single) {
  std::vector<std::size_t> items;
  if (single) {
    items.push_back(pop());
  } else {
    items = pop_to_mark();
  }
  auto& list = result_.values[top()];
  if (list.kind != PickleKind::kList) fail("APPEND(S) target is not a list");
  charge(items.size());
  list.items.insert(list.items.end(), items.begin(), items.end());
}

// Keys and values are kept in order, duplicates included; open_torch_zip() refuses a state
// dict that names a tensor twice instead of silently keeping the last one.
void RestrictedUnpickler::set_items(bool single) {
  std::vector<std::size_t> items;
  if (single) {
    const std::size_t value = pop();
    items = {pop(), value};
  } else {
    items = pop_to_mark();
    if (items.size() % 2 != 0) fail("SETITEMS with an odd number of keys and values");
  }
  auto& dict = result_.values[top()];
  if (dict.kind != PickleKind::kDict) fail("SETITEM(S) target is not a dict");
  charge(items.size());
  dict.items.insert(dict.items.end(), items.begin(), items.end());
}

// Module.state_dict() returns an OrderedDict carrying a `_metadata` attribute (module
// versions), which pickles as BUILD with the attribute dict. The reader has no use for it.
void RestrictedUnpickler::build() {
  const std::size_t state = pop();
  const auto& target = result_.values[top()];
  if (target.kind != PickleKind::kDict || !target.ordered) {
    fail("BUILD on something other than an OrderedDict");
  }
  expect(state, PickleKind::kDict, "BUILD state");
}

// The callables are evaluated by pickle_torch.cpp; errors there gain the file and offset here.
void RestrictedUnpickler::reduce() {
  const std::size_t args = pop();
  const PickleValue callable = expect(pop(), PickleKind::kGlobal, "REDUCE callable");
  const std::vector<std::size_t> items = expect(args, PickleKind::kTuple, "REDUCE args").items;
  try {
    charge(1);
    stack_.push_back(call_torch_global(result_, callable, items));
  } catch (const PickleArgumentError& error) {
    fail(error.what());
  }
}

void RestrictedUnpickler::persistent_load() {
  const std::size_t id = pop();
  try {
    charge(1);
    stack_.push_back(load_torch_storage(result_, id));
  } catch (const PickleArgumentError& error) {
    fail(error.what());
  }
}

std::string_view RestrictedUnpickler::take(uint64_t count) {
  if (count > bytes_.size() - pos_) {
    fail("needs " + std::to_string(count) + " argument bytes but the pickle ends at byte " +
         std::to_string(bytes_.size()) + "; the file is truncated");
  }
  const std::string_view out = bytes_.substr(pos_, static_cast<std::size_t>(count));
  pos_ += static_cast<std::size_t>(count);
  return out;
}

uint64_t RestrictedUnpickler::take_le(std::size_t count) {
  const std::string_view raw = take(count);
  uint64_t value = 0;
  for (std::size_t i = raw.size(); i-- > 0;) value = (value << 8) | static_cast<uint8_t>(raw[i]);
  return value;
}

std::string RestrictedUnpickler::take_line() {
  const std::size_t end = bytes_.find('\n', pos_);
  if (end == std::string_view::npos) fail("GLOBAL name runs past the end of the pickle");
  std::string line(bytes_.substr(pos_, end - pos_));
  pos_ = end + 1;
  return line;
}

void RestrictedUnpickler::push(PickleValue value) {
  charge(1 + value.items.size());
  result_.values.push_back(std::move(value));
  stack_.push_back(result_.values.size() - 1);
}

std::size_t RestrictedUnpickler::pop() {
  const std::size_t value = top();
  stack_.pop_back();
  return value;
}

std::size_t RestrictedUnpickler::top() {
  if (stack_.size() <= fence()) fail("needs an object but the stack is empty");
  return stack_.back();
}

std::vector<std::size_t> RestrictedUnpickler::pop_to_mark() {
  if (marks_.empty()) fail("needs a MARK but none is open");
  const auto begin = stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back());
  std::vector<std::size_t> items(begin, stack_.end());
  stack_.erase(begin, stack_.end());
  marks_.pop_back();
  return items;
}

void RestrictedUnpickler::memo_put(uint64_t index) {
  charge(1);
  memo_[index] = top();
}

void RestrictedUnpickler::charge(std::size_t count) {
  objects_ += count;
  if (objects_ > kMaxPickleObjects) {
    fail("makes more than " + std::to_string(kMaxPickleObjects) +
         " objects, references and memo entries (a state dict makes about a dozen per tensor); "
         "refusing to allocate for it");
  }
}

void RestrictedUnpickler::memo_get(uint64_t index) {
  const auto found = memo_.find(index);
  if (found == memo_.end()) fail("memo entry " + std::to_string(index) + " was never stored");
  charge(1);
  stack_.push_back(found->second);
}

const PickleValue& RestrictedUnpickler::expect(std::size_t index, PickleKind kind,
                                               const char* what) {
  const PickleValue& value = result_.values[index];
  if (value.kind != kind) fail(std::string(what) + " has an unexpected type");
  return value;
}

void RestrictedUnpickler::fail(const std::string& what) const {
  std::string where = "at byte " + std::to_string(op_pos_);
  if (op_pos_ < bytes_.size()) {
    std::string opcode = hex_byte(code_);
    if (code_ >= 0x20 && code_ < 0x7f) opcode += std::string(" '") + static_cast<char>(code_) + "'";
    where = "pickle opcode " + opcode + " " + where;
  }
  throw WeightLoadError(source_ + ": " + where + ": " + what + "; " + kDamagedAdvice);
}

}  // namespace

PickleResult read_restricted_pickle(std::string_view bytes, const std::string& source) {
  return RestrictedUnpickler(bytes, source).run();
}

std::string pickle_printable(std::string_view text) {
  constexpr std::size_t kMaxChars = 80;
  std::string out;
  for (char c : text.substr(0, kMaxChars)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > kMaxChars) out += "...";
  return out;
}

}  // namespace ivs::model
