// SPDX-License-Identifier: Apache-2.0
#include "model/common/safetensors.h"

#include <gtest/gtest.h>
