package io.nthlb.admin;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A backend on 127.0.0.1 port 0 that answers each connection with its name, then echoes every byte until the
 * client's FIN, so a client can tell which backend it reached and whether any byte was lost.
 */
final class EchoBackend implements AutoCloseable {

    final String name;
    final AtomicInteger accepted = new AtomicInteger();
    private final ServerSocket server;

    EchoBackend(String name) throws IOException {
        this.name = name;
        this.server = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(this::acceptLoop, "echo-" + name);
        acceptor.setDaemon(true);
        acceptor.start();
    }

    InetSocketAddress address() {
        return (InetSocketAddress) server.getLocalSocketAddress();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket socket = server.accept();
                accepted.incrementAndGet();
                Thread worker = new Thread(() -> echo(socket), "echo-" + name + "-conn");
                worker.setDaemon(true);
                worker.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void echo(Socket socket) {
        try (socket) {
            InputStream in = socket.getInputStream();
            OutputStream out = socket.getOutputStream();
            out.write((name + ":").getBytes(StandardCharsets.US_ASCII));
            in.transferTo(out);
            socket.shutdownOutput();
        } catch (IOException e) {
            // The client went away; nothing to echo to.
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
