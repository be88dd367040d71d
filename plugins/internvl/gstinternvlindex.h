// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_INTERNVL_INDEX (gst_internvl_index_get_type())
G_DECLARE_FINAL_TYPE(GstInternVLIndex, gst_internvl_index, GST, INTERNVL_INDEX, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE(internvlindex);

G_END_DECLS
