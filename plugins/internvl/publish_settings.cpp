// SPDX-License-Identifier: Apache-2.0
#include "plugins/internvl/publish_settings.h"

namespace ivs::plugins {
namespace {

// Registers the enum on the first call, however many threads make it at once.
GType register_enum_once(GType* type, const char* name, const GEnumValue* values) {
  if (g_once_init_enter(type)) g_once_init_leave(type, g_enum_register_static(name, values));
  return *type;
}

GType gst_internvl_publish_file_format_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {GST_INTERNVL_PUBLISH_FILE_FORMAT_JSON_LINES, "One JSON message per line", "json-lines"},
      {0, nullptr, nullptr},
  };
  return register_enum_once(&type, "GstInternVLPublishFileFormat", values);
}

GType gst_internvl_publish_include_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {GST_INTERNVL_PUBLISH_INCLUDE_CLASSIFICATION, "Classifications only", "classification"},
      {GST_INTERNVL_PUBLISH_INCLUDE_CAPTION, "Captions only", "caption"},
      {GST_INTERNVL_PUBLISH_INCLUDE_EVENT, "Alert events only", "event"},
      {GST_INTERNVL_PUBLISH_INCLUDE_ALL, "Classifications, captions and events", "all"},
      {0, nullptr, nullptr},
  };
  return register_enum_once(&type, "GstInternVLPublishInclude", values);
}

// The string settings, each stored in one member (NULL is stored as "" and read back as NULL).
struct StringProperty {
  guint id;
  const char* name;
  const char* nick;
  const char* blurb;
  std::string PublishSettings::*member;
};

const StringProperty kStringProperties[] = {
    {PROP_ENDPOINT, "endpoint", "ZeroMQ endpoint",
     "ZeroMQ PUB endpoint: bind:tcp://127.0.0.1:5555 or connect:tcp://host:5555; without a prefix "
     "an address containing '*' binds, any other connects (NULL: no ZeroMQ)",
     &PublishSettings::endpoint},
    {PROP_FILE_PATH, "file-path", "File path",
     "Append messages to this file in file-format (NULL: no file)", &PublishSettings::file_path},
    {PROP_SENSOR_ID, "sensor-id", "Sensor id",
     "sensor_id of the messages and second part of the topic (NULL: the element's name)",
     &PublishSettings::sensor_id},
    {PROP_SOURCE, "source", "Source",
     "The source field of the messages, e.g. the stream's URI (NULL: no source)",
     &PublishSettings::source},
    {PROP_TOPIC_PREFIX, "topic-prefix", "Topic prefix",
     "Prepended to the ZeroMQ topic \"<kind>/<sensor_id>\"", &PublishSettings::topic_prefix},
    {PROP_METRICS_ADDRESS, "metrics-address", "Metrics address",
     "host:port to serve Prometheus /metrics on, e.g. 127.0.0.1:9464; host:0 picks a free port",
     &PublishSettings::metrics_address},
};

const StringProperty* find_string_property(guint id) {
  for (const auto& property : kStringProperties) {
    if (property.id == id) return &property;
  }
  return nullptr;
}

void install_counter(GObjectClass* klass, guint id, const char* name, const char* nick,
                     const char* blurb) {
  const auto flags = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property(klass, id,
                                  g_param_spec_uint64(name, nick, blurb, 0, G_MAXUINT64, 0, flags));
}

// The read-only reports of the running element.
void install_reports(GObjectClass* klass) {
  const auto read_only = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property(
      klass, PROP_METRICS_PORT,
      g_param_spec_uint("metrics-port", "Metrics port",
                        "The port /metrics is served on (0 when not serving)", 0, G_MAXUINT16, 0,
                        read_only));
  g_object_class_install_property(
      klass, PROP_BOUND_ENDPOINT,
      g_param_spec_string(
          "bound-endpoint", "Bound endpoint",
          "The ZeroMQ address actually bound or connected (port filled in), once started", nullptr,
          read_only));
  install_counter(klass, PROP_MESSAGES_PUBLISHED, "messages-published", "Messages published",
                  "Messages accepted by every sink since the element started");
  install_counter(
      klass, PROP_MESSAGES_DROPPED, "messages-dropped", "Messages dropped",
      "Messages lost to a full queue, a refused send or a failed write since the element started");
  install_counter(klass, PROP_MESSAGES_SKIPPED, "messages-skipped", "Messages skipped",
                  "Results the wire schema cannot carry (e.g. no label above threshold) since the "
                  "element started");
}

}  // namespace

void publish_install_properties(GObjectClass* klass) {
  const PublishSettings defaults;
  const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                              GST_PARAM_MUTABLE_READY);
  for (const auto& p : kStringProperties) {
    g_object_class_install_property(klass, p.id,
                                    g_param_spec_string(p.name, p.nick, p.blurb, nullptr, flags));
  }
  g_object_class_install_property(
      klass, PROP_FILE_FORMAT,
      g_param_spec_enum("file-format", "File format", "Format of file-path",
                        gst_internvl_publish_file_format_get_type(), defaults.file_format, flags));
  g_object_class_install_property(
      klass, PROP_SEND_HWM,
      g_param_spec_int("send-hwm", "Send high-water mark",
                       "Messages ZeroMQ queues per subscriber before dropping", 1, G_MAXINT,
                       defaults.send_hwm, flags));
  g_object_class_install_property(
      klass, PROP_INCLUDE,
      g_param_spec_enum("include", "Include", "Which results to publish",
                        gst_internvl_publish_include_get_type(), defaults.include, flags));
  install_reports(klass);
  gst_type_mark_as_plugin_api(gst_internvl_publish_file_format_get_type(),
                              static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(gst_internvl_publish_include_get_type(),
                              static_cast<GstPluginAPIFlags>(0));
}

bool publish_set_setting(PublishSettings& settings, guint id, const GValue* value) {
  if (const StringProperty* property = find_string_property(id)) {
    const gchar* text = g_value_get_string(value);
    settings.*property->member = text != nullptr ? text : "";
    return true;
  }
  switch (id) {
    case PROP_FILE_FORMAT:
      settings.file_format = static_cast<GstInternVLPublishFileFormat>(g_value_get_enum(value));
      return true;
    case PROP_SEND_HWM:
      settings.send_hwm = g_value_get_int(value);
      return true;
    case PROP_INCLUDE:
      settings.include = static_cast<GstInternVLPublishInclude>(g_value_get_enum(value));
      return true;
    default:
      return false;
  }
}

bool publish_get_setting(const PublishSettings& settings, guint id, GValue* value) {
  if (const StringProperty* property = find_string_property(id)) {
    const std::string& text = settings.*property->member;
    g_value_set_string(value, text.empty() ? nullptr : text.c_str());
    return true;
  }
  switch (id) {
    case PROP_FILE_FORMAT:
      g_value_set_enum(value, settings.file_format);
      return true;
    case PROP_SEND_HWM:
      g_value_set_int(value, settings.send_hwm);
      return true;
    case PROP_INCLUDE:
      g_value_set_enum(value, settings.include);
      return true;
    default:
      return false;
  }
}

bool publish_includes(GstInternVLPublishInclude include, pipeline::ResultType type) {
  switch (include) {
    case GST_INTERNVL_PUBLISH_INCLUDE_CLASSIFICATION:
      return type == pipeline::ResultType::kClassification ||
             type == pipeline::ResultType::kClipClassification;
    case GST_INTERNVL_PUBLISH_INCLUDE_CAPTION:
      return type == pipeline::ResultType::kCaption;
    case GST_INTERNVL_PUBLISH_INCLUDE_EVENT:
      return type == pipeline::ResultType::kEvent;
    case GST_INTERNVL_PUBLISH_INCLUDE_ALL:
      break;
  }
  return true;
}

}  // namespace ivs::plugins
