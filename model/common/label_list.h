// SPDX-License-Identifier: Apache-2.0
// Label sets and prompt templates as users write them: the one parser for the model, the CLI,
// the elements and the service. Torch-free, so every layer can include it.
#pragma once

#include <string>
#include <vector>

namespace ivs::model {

/// "a;b;c" -> labels (trimmed, empty entries dropped).
std::vector<std::string> parse_label_list(const std::string& text);

/// One entry per line, trimmed; blank lines and lines starting with '#' are skipped. `what` names
/// the setting in errors ("labels-file"). Throws InputError naming `what` and `path` when the file
/// cannot be read or holds nothing.
std::vector<std::string> read_lines_file(const std::string& path, const std::string& what);

/// Whether a template has a place for the label ("{}" or "{c}").
bool has_placeholder(const std::string& templ);

/// A template with the label substituted for "{}" / "{c}".
std::string format_template(const std::string& templ, const std::string& label);

}  // namespace ivs::model
