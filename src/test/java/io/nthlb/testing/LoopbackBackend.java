package io.nthlb.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A blocking backend on 127.0.0.1 port 0, one thread per connection, running a behaviour the test chooses; it
 * records what happened to each connection so tests can wait on it.
 */
public final class LoopbackBackend implements AutoCloseable {

    /** What the backend does with one accepted connection. */
    @FunctionalInterface
    public interface Behaviour {
        void serve(Socket socket) throws IOException;
    }

    private final ServerSocket server;
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "test-backend");
        t.setDaemon(true);
        return t;
    });
    /** One entry per connection served: "ok", or the exception that ended it. */
    public final BlockingQueue<Object> outcomes = new LinkedBlockingQueue<>();
    /** Connections accepted so far. */
    public final AtomicInteger accepted = new AtomicInteger();

    public LoopbackBackend(Behaviour behaviour) throws IOException {
        server = new ServerSocket(0, 1024, InetAddress.getLoopbackAddress());
        threads.execute(() -> {
            while (!server.isClosed()) {
                Socket s;
                try {
                    s = server.accept();
                    accepted.incrementAndGet();
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
    public static LoopbackBackend echo() throws IOException {
        return echo("");
    }

    /**
     * Answers each connection with {@code name} and a colon, then echoes every byte until the client's FIN, so a
     * client can tell which backend it reached and whether any byte was lost.
     */
    public static LoopbackBackend echo(String name) throws IOException {
        byte[] greeting = (name.isEmpty() ? "" : name + ":").getBytes(StandardCharsets.US_ASCII);
        return new LoopbackBackend(s -> {
            s.setTcpNoDelay(true);
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            out.write(greeting);
            byte[] buf = new byte[64 * 1024];
            for (int n; (n = in.read(buf)) >= 0; ) {
                out.write(buf, 0, n);
            }
            s.shutdownOutput();
        });
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) server.getLocalSocketAddress();
    }

    @Override
    public void close() throws IOException {
        server.close();
        threads.shutdownNow();
    }
}
