// SPDX-License-Identifier: Apache-2.0
// The properties of internvlpublish: their GEnums, the settings they hold, and the code that
// installs, writes and reads them. gstinternvlpublish.cpp holds the element's behaviour.
#pragma once

#include <gst/gst.h>

#include <string>

#include "pipeline/engine/result_records.h"
#include "sinks/zmq/zmq_publisher.h"

typedef enum {
  GST_INTERNVL_PUBLISH_FILE_FORMAT_JSON_LINES,
} GstInternVLPublishFileFormat;

/// Which messages internvlpublish sends: a set (GFlags), written "classification,embedding" or
/// "classification+embedding". `all` is every result kind of wire format 1.0 and events, not
/// embeddings: those are large and go out only when asked for ("all,embedding").
typedef enum {
  GST_INTERNVL_PUBLISH_INCLUDE_CLASSIFICATION = 1 << 0,
  GST_INTERNVL_PUBLISH_INCLUDE_CAPTION = 1 << 1,
  GST_INTERNVL_PUBLISH_INCLUDE_EVENT = 1 << 2,
  GST_INTERNVL_PUBLISH_INCLUDE_EMBEDDING = 1 << 3,
  GST_INTERNVL_PUBLISH_INCLUDE_ALL = GST_INTERNVL_PUBLISH_INCLUDE_CLASSIFICATION |
                                     GST_INTERNVL_PUBLISH_INCLUDE_CAPTION |
                                     GST_INTERNVL_PUBLISH_INCLUDE_EVENT,
} GstInternVLPublishInclude;

namespace ivs::plugins {

/// internvlpublish's property ids. The settings come first; from PROP_BOUND_ENDPOINT on they are
/// read-only reports of the running element, which the element reads itself.
enum PublishProperty : guint {
  PROP_0,
  PROP_ENDPOINT,
  PROP_FILE_PATH,
  PROP_FILE_FORMAT,
  PROP_SENSOR_ID,
  PROP_SOURCE,
  PROP_TOPIC_PREFIX,
  PROP_SEND_HWM,
  PROP_INCLUDE,
  PROP_METRICS_ADDRESS,
  PROP_BOUND_ENDPOINT,
  PROP_MESSAGES_PUBLISHED,
  PROP_MESSAGES_DROPPED,
  PROP_MESSAGES_SKIPPED,
  PROP_METRICS_PORT,
};

/// Property values, with their defaults; copied under the element's lock when it starts.
struct PublishSettings {
  std::string endpoint;   // empty: no ZeroMQ
  std::string file_path;  // empty: no file
  GstInternVLPublishFileFormat file_format = GST_INTERNVL_PUBLISH_FILE_FORMAT_JSON_LINES;
  std::string sensor_id;  // empty: the element's name
  std::string source;     // the `source` field of every message; may be empty
  std::string topic_prefix;
  int send_hwm = sinks::ZmqPublisherOptions().send_hwm;  // the publisher's own default
  GstInternVLPublishInclude include = GST_INTERNVL_PUBLISH_INCLUDE_ALL;
  std::string metrics_address;  // empty: record into the pipeline's hub without serving it
};

/// Installs every property of internvlpublish on `klass` and marks its GEnums as plugin API.
void publish_install_properties(GObjectClass* klass);

/// Writes settings property `id` from `value`; false when `id` is not a settings property.
bool publish_set_setting(PublishSettings& settings, guint id, const GValue* value);

/// Reads settings property `id` into `value`; false when `id` is not a settings property.
bool publish_get_setting(const PublishSettings& settings, guint id, GValue* value);

/// Whether `include` selects the messages of results of `type` (embeddings aside).
bool publish_includes(GstInternVLPublishInclude include, pipeline::ResultType type);

/// Whether `include` asks for an embedding message per sampled frame.
bool publish_includes_embeddings(GstInternVLPublishInclude include);

}  // namespace ivs::plugins
