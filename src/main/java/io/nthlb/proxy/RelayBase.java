package io.nthlb.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What every relay does apart from moving bytes: routing the accepted connection, the idle timer, the one
 * ending and everyone told about it (route counters, observer, open set, access log), and the reset a drain
 * that ran out of time asks for, and each {@link Side}'s byte counts and half-close. {@link ChannelRelay} moves
 * the bytes through Netty channels (NIO, io_uring), {@link EpollRelay} through epoll directly.
 *
 * <p>Every method runs on the client connection's event loop (the backend connection is made on the same
 * loop), so no field needs to be volatile.
 */
abstract class RelayBase implements Connection, Runnable {

    private static final Logger log = LoggerFactory.getLogger(RelayBase.class);

    final ProxyServer server;
    final long id;
    final EventLoop loop;
    /** The client and the address it connected to; with {@code --accept-proxy}, as its PROXY header says. */
    InetSocketAddress clientAddress;
    InetSocketAddress localAddress;
    final InetSocketAddress listenerAddress;
    final long startNanos;

    final Side clientSide = new Side(Direction.CLIENT_TO_BACKEND);
    final Side backendSide = new Side(Direction.BACKEND_TO_CLIENT);
    Route route;
    /** Backends given up on before this one: see {@link Route#retry}. */
    int retries;
    ConnectionObserver observer = ConnectionObserver.NONE;
    boolean backendConnected;
    /** With {@code --accept-proxy}, until the client's PROXY header has been read: the timer is its deadline. */
    boolean awaitingHeader;
    /**
     * With {@code --accept-proxy}: what the client has sent while its header is read; after it, the payload that
     * came with it, until {@link #backendPreface} takes that. Released when the connection ends, at the latest.
     */
    ByteBuf headerBytes;
    Ending ending;
    private long endNanos;
    long lastActivityNanos;
    private ScheduledFuture<?> timer;

    RelayBase(ProxyServer server, long id, EventLoop loop, InetSocketAddress client, InetSocketAddress local,
              InetSocketAddress listener) {
        this.server = server;
        this.id = id;
        this.loop = loop;
        this.clientAddress = client;
        this.localAddress = local;
        this.listenerAddress = listener;
        this.startNanos = System.nanoTime();
        this.lastActivityNanos = startNanos;
        clientSide.peer = backendSide;
        backendSide.peer = clientSide;
    }

    /**
     * One side of the connection, the client or the backend: the bytes read from it, and how far its half-close
     * has gone. Both relays keep their sides here, so that both end a connection by the same rules.
     */
    static final class Side {
        /** The direction of the bytes read from this side. */
        final Direction reads;
        Side peer;
        /** Bytes read from this side. */
        long bytes;
        /** Bytes read and not yet reported to the route and the observer. */
        long uncredited;
        /** End of input read here: this side's peer sent FIN, and nothing more will be read. */
        boolean inputShutdown;
        /** Our FIN went out on this side (or goes with its close), after every byte meant for it. */
        boolean outputShutdown;

        Side(Direction reads) {
            this.reads = reads;
        }

        void read(long n) {
            bytes += n;
            uncredited += n;
        }

        /**
         * Whether sending our FIN here takes a shutdown(2): not when this side's own FIN came first and everything
         * it sent was read, as the close that follows then sends ours cleanly.
         */
        boolean needsShutdownCall() {
            return !inputShutdown;
        }
    }

    /**
     * Asks the router where the connection goes and counts it as open. Returns the backend to connect to, or
     * {@code null} when no rule NATs it: the connection has then ended ({@link Ending#NO_RULE}) and the caller
     * resets the client.
     */
    final InetSocketAddress routeAndOpen() {
        try {
            route = server.router().route(clientAddress, localAddress);
        } catch (RuntimeException e) {
            // A bug in the router must not take the event loop down; the client sees what "no rule" gives.
            log.error("conn {}: routing failed", id, e);
            route = null;
        }
        if (route == null) {
            route = Route.none("-");
        }
        server.opened(this);
        observer = server.observer().accepted(this);
        InetSocketAddress target = route.backend();
        if (target == null) {
            end(Ending.NO_RULE);
            return null;
        }
        observer.connecting();
        return target;
    }

    /**
     * With {@code --accept-proxy}: the connection counts as open (a drain waits for it) but is not routed until
     * its PROXY header has been read, within the header timeout.
     */
    final void awaitProxyHeader() {
        awaitingHeader = true;
        route = Route.none("-");
        server.opened(this);
        timer = loop.schedule(this, server.options().clientAddressing().headerTimeout().toNanos(),
                TimeUnit.NANOSECONDS);
    }

    /**
     * Looks for the PROXY header in {@code received}, everything the client has sent so far. Returns how many
     * bytes there must be in all before it can tell (read no more than that: see {@link ProxyHeader.Incomplete}),
     * or 0 when the header is complete: its bytes are skipped, what is left in {@code received} is payload, and
     * the connection's client and local addresses are the ones it carries. Returns -1 when it is not a valid
     * header: the connection has ended and the caller resets the client.
     */
    final int proxyHeaderReceived(ByteBuf received) {
        ProxyHeader.Parse parse = ProxyHeader.parse(received);
        if (parse instanceof ProxyHeader.Incomplete incomplete) {
            return incomplete.readUpTo();
        }
        if (parse instanceof ProxyHeader.Malformed malformed) {
            badProxyHeader(malformed.reason());
            return -1;
        }
        ProxyHeader.Header header = (ProxyHeader.Header) parse;
        received.skipBytes(header.length());
        if (header.source() != null) {
            clientAddress = header.source();
            localAddress = header.destination();
        }
        awaitingHeader = false;
        timer.cancel(false);
        timer = null;
        return 0;
    }

    /** The client's PROXY header is missing, malformed or truncated: ends the connection (the caller resets). */
    final void badProxyHeader(String why) {
        if (log.isDebugEnabled()) {
            log.debug("conn {}: bad PROXY header from {}: {}", id, Addresses.format(clientAddress), why);
        }
        end(Ending.BAD_PROXY_HEADER);
    }

    /**
     * What the backend must receive before anything more the client sends: the PROXY header for this listener's
     * {@code --send-proxy}, then the payload that arrived with an accepted header (what is left in
     * {@link #headerBytes}, which this takes); {@code null} when both are empty.
     */
    final byte[] backendPreface() {
        ByteBuf payload = headerBytes;
        ProxyHeader.Version version = server.options().clientAddressing().sendProxyFor(listenerAddress);
        int more = payload == null ? 0 : payload.readableBytes();
        if (version == null && more == 0) {
            return null;
        }
        byte[] header = version == null ? new byte[0] : ProxyHeader.encode(version, clientAddress, localAddress);
        if (more == 0) {
            return header;
        }
        byte[] preface = Arrays.copyOf(header, header.length + more);
        payload.readBytes(preface, header.length, more);
        return preface;
    }

    final void releaseHeaderBytes() {
        if (headerBytes != null) {
            headerBytes.release();
            headerBytes = null;
        }
    }

    /** Arms the timer that resets a backend which does not answer within the connect timeout. */
    final void startConnectTimer() {
        if (timer != null) {
            timer.cancel(false); // a retry's attempt gets the whole timeout again
        }
        timer = loop.schedule(this, server.connectTimeoutNanos(), TimeUnit.NANOSECONDS);
    }

    /** The backend answered: the connect timer becomes the idle timer. */
    final void backendConnected() {
        backendConnected = true;
        if (timer != null) {
            timer.cancel(false);
        }
        observer.connected();
        timer = loop.schedule(this, server.idleTimeoutNanos(), TimeUnit.NANOSECONDS);
    }

    /**
     * The backend could not be reached, or nthlb could not open the connection to it: tells the observer,
     * then, for a backend that failed, asks the route for another backend. Returns it when there is one (the
     * caller connects there; the route and observer are the new backend's now), or {@code null} after ending
     * the connection (the caller resets the client at once). A local failure (out of descriptors or source
     * ports) is never retried: another backend would fail the same way.
     */
    final InetSocketAddress connectFailed(Throwable cause) {
        LocalFailure local = LocalFailure.of(cause);
        if (local != null) {
            server.localFailure(this, local, cause);
            observer.connectFailedLocally(local);
            end(Ending.LOCAL_ERROR);
            return null;
        }
        Ending failure = connectFailure(cause);
        if (log.isDebugEnabled()) {
            log.debug("conn {}: connect to {} failed: {}", id, Addresses.format(route.backend()), cause.toString());
        }
        observer.connectFailed(failure);
        Route next = clientBytesReplayable() ? retryRoute(failure) : null;
        if (next == null || next.backend() == null) {
            end(failure);
            return null;
        }
        if (log.isDebugEnabled()) {
            log.debug("conn {}: retrying at {} ({})", id, Addresses.format(next.backend()), next.label());
        }
        retries++;
        route = next;
        observer.abandoned();
        observer = server.observer().rerouted(this);
        observer.connecting();
        return next.backend();
    }

    private Route retryRoute(Ending failure) {
        try {
            return route.retry(failure);
        } catch (RuntimeException e) {
            // As in routeAndOpen: a bug in the router costs this connection, not the event loop.
            log.error("conn {}: routing a retry failed", id, e);
            return null;
        }
    }

    /**
     * The timer: before the backend answers it is the connect timeout; after, the idle timeout (conntrack
     * forgets a connection that carried nothing that long).
     */
    @Override
    public final void run() {
        if (ending != null) {
            return;
        }
        if (awaitingHeader) {
            badProxyHeader("none within " + server.options().clientAddressing().headerTimeout());
            resetBoth();
            return;
        }
        if (!backendConnected) {
            connectTimedOut();
            return;
        }
        long left = server.idleTimeoutNanos() - (System.nanoTime() - lastActivityNanos);
        if (left > 0) {
            timer = loop.schedule(this, left, TimeUnit.NANOSECONDS);
            return;
        }
        end(Ending.IDLE_TIMEOUT);
        resetBoth();
    }

    /** Resets both sides now, for a drain that ran out of time; callable from any thread. */
    final Future<?> abortForShutdown() {
        return loop.submit(() -> {
            if (ending == null) {
                end(Ending.DRAIN_TIMEOUT);
                resetBoth();
            }
        });
    }

    /** Closes both sockets (those that exist) with SO_LINGER 0, so each peer sees a reset. */
    abstract void resetBoth();

    /** The connect timer ran out before the backend answered: retry elsewhere or reset both sides. */
    abstract void connectTimedOut();

    /**
     * Whether everything read from the client so far could still go to another backend: a connection whose
     * bytes went to the failed socket cannot be retried.
     */
    abstract boolean clientBytesReplayable();

    /** Closes both sockets cleanly: both directions have ended, so the closes send FIN where none went yet. */
    abstract void closeBoth();

    /** Reports the bytes read on both sides since the last report to the route and the observer. */
    private void creditAll() {
        credit(clientSide);
        credit(backendSide);
    }

    /** Reports the bytes read on {@code side} since the last report to the route and the observer. */
    final void credit(Side side) {
        long n = side.uncredited;
        if (n != 0) {
            side.uncredited = 0;
            route.bytesRelayed(n);
            observer.bytesRelayed(side.reads, n);
        }
    }

    /** Our FIN is out on {@code side}: once it is out on both, the connection has ended cleanly. */
    final void outputEnded(Side side) {
        side.outputShutdown = true;
        if (ending == null && clientSide.inputShutdown && backendSide.outputShutdown
                && backendSide.inputShutdown && clientSide.outputShutdown) {
            end(Ending.CLOSED);
            closeBoth();
        }
    }

    /** {@code failed} was reset or failed: ends the connection and resets both sides, once. */
    final void reset(Side failed, Throwable cause) {
        if (ending != null) {
            return;
        }
        if (cause != null && log.isDebugEnabled()) {
            log.debug("conn {}: {} side failed: {}", id, failed == clientSide ? "client" : "backend", cause.toString());
        }
        end(failed == clientSide ? Ending.CLIENT_RESET : Ending.BACKEND_RESET);
        resetBoth();
    }

    /** Records how the connection ended, exactly once, and tells everyone who counts. */
    final void end(Ending how) {
        if (awaitingHeader) {
            // Never routed: observers hear of it as of a connection no rule NATs, accepted and ended at once.
            awaitingHeader = false;
            observer = server.observer().accepted(this);
        }
        ending = how;
        endNanos = System.nanoTime();
        releaseHeaderBytes();
        if (timer != null) {
            timer.cancel(false);
        }
        creditAll();
        try {
            route.ended(how);
            observer.ended(this);
        } catch (RuntimeException e) {
            log.error("conn {}: an observer failed", id, e);
        }
        server.closed(this);
        AccessLogLine.ended(this);
    }

    static Ending connectFailure(Throwable cause) {
        if (cause instanceof ConnectTimeoutException) {
            return Ending.TIMEOUT;
        }
        String message = String.valueOf(cause.getMessage());
        if (cause instanceof ConnectException && message.contains("refused")) {
            return Ending.REFUSED;
        }
        if (message.contains("timed out")) {
            return Ending.TIMEOUT;
        }
        return Ending.UNREACHABLE;
    }

    @Override
    public final long id() {
        return id;
    }

    @Override
    public final InetSocketAddress client() {
        return clientAddress;
    }

    @Override
    public final InetSocketAddress local() {
        return localAddress;
    }

    @Override
    public final InetSocketAddress listener() {
        return listenerAddress;
    }

    @Override
    public final Route route() {
        return route;
    }

    @Override
    public final long bytesFromClient() {
        return clientSide.bytes;
    }

    @Override
    public final long bytesFromBackend() {
        return backendSide.bytes;
    }

    @Override
    public final long durationNanos() {
        return (ending == null ? System.nanoTime() : endNanos) - startNanos;
    }

    @Override
    public final int retries() {
        return retries;
    }

    @Override
    public final Ending ending() {
        return ending;
    }
}
