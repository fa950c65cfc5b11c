package io.nthlb.testing;

import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
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

    /** A UDP port on 127.0.0.1 nothing is bound to now. */
    public static int udpOnLoopback() throws IOException {
        try (DatagramSocket probe = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            return probe.getLocalPort();
        }
    }
}
