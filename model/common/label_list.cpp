// SPDX-License-Identifier: Apache-2.0
#include "model/common/label_list.h"
#include "model/common/regular_file.h"

#include <algorithm>
#include <fstream>

#include "model/common/errors.h"

namespace ivs::model {
namespace {

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

}  // namespace

std::vector<std::string> parse_label_list(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const auto end = std::min(text.find(';', start), text.size());
    auto item = trim(text.substr(start, end - start));
    if (!item.empty()) out.push_back(std::move(item));
    start = end + 1;
  }
  return out;
}

std::vector<std::string> read_lines_file(const std::string& path, const std::string& what) {
  const std::string not_file = special_file_kind(path);
  if (!not_file.empty()) {
    throw InputError(what + " '" + path + "' " + not_file + ": pass a text file");
  }
  std::ifstream in(path);
  if (!in) {
    throw InputError("cannot read " + what + " '" + path +
                     "': check that the file exists and is readable");
  }
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    auto item = trim(line);
    if (!item.empty() && item[0] != '#') out.push_back(std::move(item));
  }
  if (out.empty()) throw InputError(what + " '" + path + "' has no entries: put one per line");
  return out;
}

bool has_placeholder(const std::string& templ) {
  return templ.find("{}") != std::string::npos || templ.find("{c}") != std::string::npos;
}

std::string format_template(const std::string& templ, const std::string& label) {
  std::string out = templ;
  for (const char* placeholder : {"{c}", "{}"}) {
    const std::string p(placeholder);
    for (auto pos = out.find(p); pos != std::string::npos; pos = out.find(p, pos + label.size())) {
      out.replace(pos, p.size(), label);
    }
  }
  return out;
}

}  // namespace ivs::model
