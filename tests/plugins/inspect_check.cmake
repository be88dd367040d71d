# SPDX-License-Identifier: Apache-2.0
# Runs gst-inspect-1.0 ELEMENT and checks that it succeeds and lists every property in EXPECT
# (comma-separated). Used by CTest with GST_PLUGIN_PATH and a private GST_REGISTRY.
execute_process(COMMAND gst-inspect-1.0 ${ELEMENT}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 100)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gst-inspect-1.0 ${ELEMENT} failed (${rc}):\n${out}\n${err}")
endif()
string(REPLACE "," ";" expected "${EXPECT}")
foreach(property IN LISTS expected)
  string(REGEX MATCH "\n  ${property} +:" found "${out}")
  if(NOT found)
    message(FATAL_ERROR "gst-inspect-1.0 ${ELEMENT}: property '${property}' not listed:\n${out}")
  endif()
endforeach()
message(STATUS "gst-inspect-1.0 ${ELEMENT}: all properties listed")
