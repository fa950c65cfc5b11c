package io.nthlb.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;

/** A port for a test to name in rules before anything listens on it. */
public final class FreePort {

    private FreePort() {
    }

    /** A port on 127.0.0.1 nothing listens on now (the kernel just gave it out and it was closed again). */
    public static int onLoopback() throws IOException {
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return probe.getLocalPort();
        }
    }
}
