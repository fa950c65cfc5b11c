package io.nthlb.proxy;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** Records ended connections and flow-control pauses, so tests wait on the relay's own events. */
final class RecordingObserver implements RelayObserver {

    final BlockingQueue<Connection> ended = new LinkedBlockingQueue<>();
    final AtomicInteger pausedClientToBackend = new AtomicInteger();
    final AtomicInteger pausedBackendToClient = new AtomicInteger();
    final BlockingQueue<Direction> pauses = new LinkedBlockingQueue<>();
    /** Connections whose backend connect has been started. */
    final BlockingQueue<Connection> connecting = new LinkedBlockingQueue<>();

    /** Connections given another backend after a failed connect, once per retry. */
    final BlockingQueue<Connection> rerouted = new LinkedBlockingQueue<>();
    /** How each failed connect ended, in order. */
    final BlockingQueue<Ending> connectFailures = new LinkedBlockingQueue<>();

    @Override
    public ConnectionObserver accepted(Connection connection) {
        return observer(connection);
    }

    @Override
    public ConnectionObserver rerouted(Connection connection) {
        rerouted.add(connection);
        return observer(connection);
    }

    private ConnectionObserver observer(Connection connection) {
        return new ConnectionObserver() {
            @Override
            public void connectFailed(Ending ending) {
                connectFailures.add(ending);
            }

            @Override
            public void connecting() {
                RecordingObserver.this.connecting.add(connection);
            }

            @Override
            public void readingPaused(Direction direction) {
                (direction == Direction.CLIENT_TO_BACKEND ? pausedClientToBackend : pausedBackendToClient).incrementAndGet();
                pauses.add(direction);
            }

            @Override
            public void ended(Connection c) {
                ended.add(c);
            }
        };
    }

    /** The next connection to end, waiting up to 30 s for it. */
    Connection nextEnded() throws InterruptedException {
        Connection c = ended.poll(30, TimeUnit.SECONDS);
        if (c == null) {
            throw new AssertionError("no connection ended within 30 s");
        }
        return c;
    }
}
