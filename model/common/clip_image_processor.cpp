// SPDX-License-Identifier: Apache-2.0
#include "model/common/clip_image_processor.h"
