// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <gst/base/gstbasetransform.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_INTERNVL_PUBLISH (gst_internvl_publish_get_type())
G_DECLARE_FINAL_TYPE(GstInternVLPublish, gst_internvl_publish, GST, INTERNVL_PUBLISH,
                     GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE(internvlpublish);

G_END_DECLS
