#!/usr/bin/env python3
"""A camera-like third-party RTSP server: GStreamer's rtsp-server, serving an
MP4 file (H.264 or H.265) the way NVRs and many cameras do.

usage: gst_rtsp_server.py PORT PATH FILE
Prints "ready" once it listens; runs until killed.
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    port, path, file = sys.argv[1], sys.argv[2], sys.argv[3]
    codec = "h265" if "265" in file else "h264"
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f"( filesrc location={file} ! qtdemux ! {codec}parse config-interval=-1 "
        f"! rtp{codec}pay name=pay0 pt=96 )"
    )
    factory.set_shared(True)
    server.get_mount_points().add_factory("/" + path, factory)
    if server.attach(None) == 0:
        sys.exit("cannot listen on port " + port)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
