package io.nthlb.proxy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * A blocking backend on 127.0.0.1, one thread per connection, running a behaviour the test chooses; it
 * records what happened to each connection so tests can wait on it.
 */
final class LoopbackBackend implements AutoCloseable {

    /** What the backend does with one accepted connection. */
    @FunctionalInterface
    interface Behaviour {
        void serve(Socket socket) throws IOException;
    }

    private final ServerSocket server;
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "test-backend");
        t.setDaemon(true);
        return t;
    });
    /** One entry per connection served: "ok", or the exception that ended it. */
    final BlockingQueue<Object> outcomes = new LinkedBlockingQueue<>();

    LoopbackBackend(Behaviour behaviour) throws IOException {
        server = new ServerSocket(0, 1024, InetAddress.getLoopbackAddress());
        threads.execute(() -> {
            while (!server.isClosed()) {
                Socket s;
                try {
                    s = server.accept();
                } catch (IOException e) {
                    return;
                }
                threads.execute(() -> {
                    try (s) {
                        behaviour.serve(s);
                        outcomes.add("ok");
                    } catch (IOException | RuntimeException e) {
                        outcomes.add(e);
                    }
                });
            }
        });
    }

    /** Echoes every byte and half-closes after the client's FIN, as an echo server should. */
    static LoopbackBackend echo() throws IOException {
        return new LoopbackBackend(s -> {
            s.setTcpNoDelay(true);
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            byte[] buf = new byte[64 * 1024];
            for (int n; (n = in.read(buf)) >= 0; ) {
                out.write(buf, 0, n);
            }
            s.shutdownOutput();
        });
    }

    InetSocketAddress address() {
        return (InetSocketAddress) server.getLocalSocketAddress();
    }

    @Override
    public void close() throws IOException {
        server.close();
        threads.shutdownNow();
    }
}
