package io.nthlb.testing;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Short connections in which the client closes first, for tests that run it as a process of its own (in a
 * network namespace, say). {@code backend PORT} listens on every address and, on each connection, echoes the
 * first byte, then waits for the client's end of input and closes after it. {@code client HOST PORT COUNT RATE}
 * makes COUNT connections at RATE a second, each sending a byte, reading its echo and closing, and prints one
 * line of results: {@code ok=N failed=N reset=N maxFailMillis=N seconds=S rate=R} plus the first failures.
 */
public final class ChurnLoad {

    /** Connections in flight at most: a client stalled by a busy machine slows the churn instead of piling up. */
    private static final int IN_FLIGHT = 16;

    private ChurnLoad() {
    }

    public static void main(String[] args) throws Exception {
        if (args[0].equals("backend")) {
            backend(Integer.parseInt(args[1]));
        } else {
            client(args[1], Integer.parseInt(args[2]), Integer.parseInt(args[3]), Integer.parseInt(args[4]));
        }
    }

    private static void backend(int port) throws IOException {
        ServerSocket server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(port), 1024);
        ExecutorService threads = Executors.newCachedThreadPool();
        System.out.println("listening on port " + server.getLocalPort());
        System.out.flush();
        while (true) {
            Socket s = server.accept();
            threads.execute(() -> {
                try (s) {
                    InputStream in = s.getInputStream();
                    int b = in.read();
                    if (b >= 0) {
                        s.getOutputStream().write(b);
                        in.read(); // the client's end of input: the backend closes second
                    }
                } catch (IOException e) {
                    // The client side reports what came of it.
                }
            });
        }
    }

    private static void client(String host, int port, int count, int rate) throws Exception {
        InetSocketAddress target = new InetSocketAddress(host, port);
        ExecutorService threads = Executors.newFixedThreadPool(IN_FLIGHT);
        Semaphore inFlight = new Semaphore(IN_FLIGHT);
        AtomicLong ok = new AtomicLong();
        AtomicLong reset = new AtomicLong();
        AtomicLong maxFailNanos = new AtomicLong();
        Map<String, Long> failures = new TreeMap<>();
        long interval = TimeUnit.SECONDS.toNanos(1) / rate;
        long start = System.nanoTime();
        long next = start;
        for (int i = 0; i < count; i++) {
            // Paced without catching up: behind schedule, the next one starts now rather than in a burst.
            long wait = next - System.nanoTime();
            if (wait > 0) {
                LockSupport.parkNanos(wait);
            }
            next = Math.max(next + interval, System.nanoTime());
            inFlight.acquire();
            threads.execute(() -> {
                long began = System.nanoTime();
                try (Socket s = new Socket()) {
                    s.connect(target, 5_000);
                    s.setSoTimeout(10_000);
                    began = System.nanoTime();
                    s.getOutputStream().write('x');
                    int echo = s.getInputStream().read();
                    if (echo != 'x') {
                        throw new IOException("closed before the echo");
                    }
                    ok.incrementAndGet();
                } catch (IOException e) {
                    long took = System.nanoTime() - began;
                    maxFailNanos.accumulateAndGet(took, Math::max);
                    boolean wasReset = e instanceof SocketException && String.valueOf(e.getMessage()).contains("reset");
                    if (wasReset) {
                        reset.incrementAndGet();
                    }
                    String kind = e instanceof SocketTimeoutException ? "timeout" : e.toString();
                    synchronized (failures) {
                        failures.merge(kind, 1L, Long::sum);
                    }
                } finally {
                    inFlight.release();
                }
            });
        }
        threads.shutdown();
        threads.awaitTermination(1, TimeUnit.MINUTES);
        double seconds = (System.nanoTime() - start) / 1e9;
        long failed = count - ok.get();
        System.out.printf(Locale.ROOT, "ok=%d failed=%d reset=%d maxFailMillis=%d seconds=%.2f rate=%.0f failures=%s%n", ok.get(),
                failed, reset.get(), TimeUnit.NANOSECONDS.toMillis(maxFailNanos.get()), seconds, count / seconds,
                failures);
    }
}
