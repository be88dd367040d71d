// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <stdexcept>
#include <string>

namespace ivs::model {

/// A checkpoint file or directory cannot be read or does not fit the model. The message names
/// the file and, where one applies, every offending tensor, with expected vs actual.
class WeightLoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A configuration file (config.json, preprocessor_config.json) is missing, malformed or
/// inconsistent. The message names the file and the key.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A user-supplied input (image file, label file, text) cannot be used. The message names the
/// input and says what to do about it.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace ivs::model
