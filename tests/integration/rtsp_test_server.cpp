// SPDX-License-Identifier: Apache-2.0
// A live H.264 RTSP camera on loopback for the service tests (gst-rtsp-server; Debian ships no
// test-launch binary). Usage: rtsp_test_server [PORT]   (0 or nothing: any free port)
// Prints "rtsp://127.0.0.1:PORT/test" on stdout once it listens; runs until SIGTERM/SIGINT.
#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

gboolean quit(gpointer loop) {
  g_main_loop_quit(static_cast<GMainLoop*>(loop));
  return G_SOURCE_REMOVE;
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  const std::string port = argc > 1 ? argv[1] : "0";
  GMainLoop* loop = g_main_loop_new(nullptr, FALSE);
  GstRTSPServer* server = gst_rtsp_server_new();
  gst_rtsp_server_set_address(server, "127.0.0.1");
  gst_rtsp_server_set_service(server, port.c_str());
  GstRTSPMediaFactory* factory = gst_rtsp_media_factory_new();
  gst_rtsp_media_factory_set_launch(
      factory,
      "( videotestsrc is-live=true pattern=ball ! "
      "video/x-raw,width=320,height=240,framerate=15/1,format=I420 "
      "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 "
      "! rtph264pay name=pay0 pt=96 config-interval=1 )");
  gst_rtsp_media_factory_set_shared(factory, TRUE);
  GstRTSPMountPoints* mounts = gst_rtsp_server_get_mount_points(server);
  gst_rtsp_mount_points_add_factory(mounts, "/test", factory);
  g_object_unref(mounts);
  if (gst_rtsp_server_attach(server, nullptr) == 0) {
    std::fprintf(stderr, "rtsp_test_server: cannot listen on 127.0.0.1:%s\n", port.c_str());
    return 1;
  }
  std::printf("rtsp://127.0.0.1:%d/test\n", gst_rtsp_server_get_bound_port(server));
  std::fflush(stdout);
  g_unix_signal_add(SIGTERM, &quit, loop);
  g_unix_signal_add(SIGINT, &quit, loop);
  g_main_loop_run(loop);
  g_object_unref(server);
  g_main_loop_unref(loop);
  return 0;
}
