package io.nthlb.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

/**
 * A backend for tests that run it as a process of its own (in a network namespace, say): it listens on
 * 127.0.0.1 and the port given, accepts every connection and keeps it open, silent, until its standard input
 * ends, then exits.
 */
public final class HoldingBackend {

    private HoldingBackend() {
    }

    public static void main(String[] args) throws IOException {
        ServerSocket server = new ServerSocket(Integer.parseInt(args[0]), 50, InetAddress.getByName("127.0.0.1"));
        Thread accepting = new Thread(() -> {
            List<Socket> kept = new ArrayList<>();
            while (true) {
                try {
                    kept.add(server.accept());
                } catch (IOException e) {
                    return;
                }
            }
        });
        accepting.setDaemon(true);
        accepting.start();
        System.out.println("listening on 127.0.0.1:" + server.getLocalPort());
        System.out.flush();
        System.in.transferTo(java.io.OutputStream.nullOutputStream());
        System.exit(0);
    }
}
