// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_INTERNVL_CAPTION (gst_internvl_caption_get_type())
G_DECLARE_FINAL_TYPE(GstInternVLCaption, gst_internvl_caption, GST, INTERNVL_CAPTION,
                     GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE(internvlcaption);

G_END_DECLS
