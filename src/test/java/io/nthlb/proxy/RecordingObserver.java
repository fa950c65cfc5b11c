package io.nthlb.proxy;

import java.net.InetSocketAddress;
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
    /** Listeners that stopped accepting at the connection limit, once per stop. */
    final BlockingQueue<InetSocketAddress> limitReached = new LinkedBlockingQueue<>();
    /** Connections a per-client limit reset on accept. */
    final BlockingQueue<ClientLimit> clientRefused = new LinkedBlockingQueue<>();
    /** Backend connections nthlb could not open itself. */
    final BlockingQueue<LocalFailure> localFailures = new LinkedBlockingQueue<>();
    /** How each backend connect that failed at the backend (refused, unreachable, timed out) ended, in order. */
    final BlockingQueue<Ending> connectFailures = new LinkedBlockingQueue<>();

    @Override
    public void limitReached(InetSocketAddress listener) {
        limitReached.add(listener);
    }

    @Override
    public void clientRefused(InetSocketAddress client, ClientLimit limit) {
        clientRefused.add(limit);
    }

    /** Connections given another backend after a failed connect, once per retry. */
    final BlockingQueue<Connection> rerouted = new LinkedBlockingQueue<>();

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
            public void connecting() {
                RecordingObserver.this.connecting.add(connection);
            }

            @Override
            public void connectFailed(Ending ending) {
                connectFailures.add(ending);
            }

            @Override
            public void connectFailedLocally(LocalFailure why) {
                localFailures.add(why);
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
        return next(ended, "connection ended");
    }

    /** The next element of {@code queue}, waiting up to 30 s for it. */
    static <T> T next(BlockingQueue<T> queue, String what) throws InterruptedException {
        T t = queue.poll(30, TimeUnit.SECONDS);
        if (t == null) {
            throw new AssertionError("no " + what + " within 30 s");
        }
        return t;
    }
}
