package io.nthlb.admin;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;

/** The seed on loopback: echo backends A and B, a free VIP port, and nthlb running the seed's cascade over them. */
final class SeedOnLoopback implements AutoCloseable {

    final EchoBackend a;
    final EchoBackend b;
    final int vipPort;
    final RunningNthlb nthlb;

    SeedOnLoopback(Path dir) throws IOException {
        a = new EchoBackend("A");
        b = new EchoBackend("B");
        vipPort = freePort();
        nthlb = new RunningNthlb(dir, new SeedRules().vip(vipPort, a.address(), b.address()).text());
    }

    /** A port nothing listens on now (the kernel just gave it out and it was closed again). */
    static int freePort() throws IOException {
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return probe.getLocalPort();
        }
    }

    @Override
    public void close() throws IOException {
        nthlb.close();
        a.close();
        b.close();
    }
}
