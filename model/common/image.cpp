// SPDX-License-Identifier: Apache-2.0
#include "model/common/image.h"
