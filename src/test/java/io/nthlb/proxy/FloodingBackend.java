package io.nthlb.proxy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/**
 * A backend on 127.0.0.1 that accepts one connection and writes {@code total} bytes to it as fast as the socket
 * takes them, then half-closes. It writes without blocking and says when it is stuck: a write that took nothing
 * (the socket's send buffer is full) starts a wait for the socket to become writable, and {@link #awaitStuck}
 * lets a test wait for that state rather than guess it from a counter that stops moving.
 */
final class FloodingBackend implements AutoCloseable {

    private final ServerSocketChannel server;
    private final InetSocketAddress address;
    private final Thread thread;
    private final long total;

    // Guarded by this.
    private long written;
    /** How many times a write found the socket full; the current wait's number while {@link #stuck}. */
    private long waits;
    private boolean stuck;
    private boolean finished;
    private IOException failure;

    FloodingBackend(long total) throws IOException {
        this.total = total;
        server = ServerSocketChannel.open();
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1);
        address = (InetSocketAddress) server.getLocalAddress();
        thread = new Thread(this::serve, "test-flooding-backend");
        thread.setDaemon(true);
        thread.start();
    }

    InetSocketAddress address() {
        return address;
    }

    private void serve() {
        try (SocketChannel s = server.accept(); Selector selector = Selector.open()) {
            s.configureBlocking(false);
            s.register(selector, SelectionKey.OP_WRITE);
            byte[] chunk = new byte[64 * 1024];
            Arrays.fill(chunk, (byte) 'x');
            ByteBuffer buf = ByteBuffer.wrap(chunk);
            for (long left = total; left > 0; ) {
                if (!buf.hasRemaining()) {
                    buf.clear();
                }
                buf.limit((int) Math.min(buf.capacity(), buf.position() + left));
                int n = s.write(buf);
                if (n > 0) {
                    left -= n;
                    synchronized (this) {
                        written += n;
                    }
                    continue;
                }
                synchronized (this) {
                    waits++;
                    stuck = true;
                    notifyAll();
                }
                selector.select();
                selector.selectedKeys().clear();
                if (Thread.currentThread().isInterrupted()) {
                    return; // closed by the test
                }
                synchronized (this) {
                    stuck = false;
                }
            }
            s.shutdownOutput();
        } catch (IOException e) {
            synchronized (this) {
                failure = e;
            }
        } finally {
            synchronized (this) {
                finished = true;
                stuck = false;
                notifyAll();
            }
        }
    }

    /**
     * Waits until a write has found the socket full and the backend is waiting for it to drain; returns that
     * wait's number. Fails when the backend wrote everything (or failed) instead, or after {@code timeout}.
     */
    synchronized long awaitStuck(long timeout, TimeUnit unit) throws InterruptedException {
        long end = System.nanoTime() + unit.toNanos(timeout);
        while (!stuck) {
            if (finished) {
                throw new AssertionError("the backend wrote all " + written + " bytes: nothing held it back",
                        failure);
            }
            long left = end - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("the backend was not held back within " + timeout + " " + unit
                        + "; it wrote " + written + " bytes");
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return waits;
    }

    /** Whether the backend is still in wait number {@code wait}: it has written nothing since it began. */
    synchronized boolean stillStuckIn(long wait) {
        return stuck && waits == wait;
    }

    synchronized long written() {
        return written;
    }

    synchronized boolean finished() {
        return finished;
    }

    @Override
    public void close() throws IOException {
        server.close();
        thread.interrupt();
    }
}
