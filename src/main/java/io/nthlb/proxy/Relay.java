package io.nthlb.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.ChannelInputShutdownReadComplete;
import io.netty.channel.socket.DuplexChannel;
import io.netty.channel.socket.SocketChannelConfig;
import io.netty.channel.unix.Socket;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection and the backend connection made for it, relaying bytes both ways.
 *
 * <p>The backend channel is registered on the client channel's event loop, so every method here runs on
 * that one thread and no field needs to be volatile. Reading from the client starts only once the backend
 * has connected ({@code AUTO_READ} is off until then). Backpressure follows Pulsar's proxy: when the side
 * being written to passes its high watermark, reading from the other side stops until it drains.
 *
 * <p>Half-close passes through: an end of input on one side becomes a shutdown of output on the other once
 * everything before it has been flushed; the pair closes when both directions have ended that way. Any
 * error or unexpected close on one side resets the other (SO_LINGER 0), so a client never takes a broken
 * response for a complete one.
 */
final class Relay implements Connection, ChannelFutureListener, Runnable {

    private static final Logger log = LoggerFactory.getLogger(Relay.class);
    private static final Logger accessLog = LoggerFactory.getLogger("nthlb.access");

    private final ProxyServer server;
    private final long id;
    private final Channel client;
    private final InetSocketAddress clientAddress;
    private final InetSocketAddress localAddress;
    private final InetSocketAddress listenerAddress;
    private final long startNanos;
    final Side clientSide;
    private final Side backendSide;

    private Route route;
    private ConnectionObserver observer = ConnectionObserver.NONE;
    private Channel backend;
    private boolean backendConnected;
    private Ending ending;
    private long endNanos;
    private long lastActivityNanos;
    private ScheduledFuture<?> idleTimer;

    Relay(ProxyServer server, long id, Channel client) {
        this.server = server;
        this.id = id;
        this.client = client;
        this.clientAddress = (InetSocketAddress) client.remoteAddress();
        this.localAddress = (InetSocketAddress) client.localAddress();
        this.listenerAddress = client.parent() == null ? localAddress : (InetSocketAddress) client.parent().localAddress();
        this.startNanos = System.nanoTime();
        this.clientSide = new Side(Direction.CLIENT_TO_BACKEND);
        this.backendSide = new Side(Direction.BACKEND_TO_CLIENT);
        clientSide.peer = backendSide;
        backendSide.peer = clientSide;
    }

    /** Routes the accepted connection and starts connecting to its backend, or resets it when none. */
    private void start() {
        lastActivityNanos = startNanos;
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
            abort(client);
            return;
        }
        observer.connecting();
        ChannelFuture connect = server.connectBackend(client.eventLoop(), backendSide, target);
        backend = connect.channel();
        connect.addListener(this);
    }

    /** The backend connection attempt finished. */
    @Override
    public void operationComplete(ChannelFuture future) {
        if (ending != null) {
            // The client went away while we were connecting.
            abort(backend);
            return;
        }
        if (!future.isSuccess()) {
            Ending failure = connectFailure(future.cause());
            if (log.isDebugEnabled()) {
                log.debug("conn {}: connect to {} failed: {}", id, Addresses.format(route.backend()),
                        future.cause().toString());
            }
            observer.connectFailed(failure);
            end(failure);
            abort(client);
            return;
        }
        backendConnected = true;
        observer.connected();
        if (clientSide.bytes != 0) {
            // Bytes the client sent early (epoll reads on EPOLLRDHUP even with AUTO_READ off) were queued.
            backend.flush();
        }
        if (clientSide.inputShutdown) {
            backendSide.shutdownOutputAfterFlush();
        }
        backend.config().setAutoRead(true);
        if (!clientSide.inputShutdown && backend.isWritable()) {
            client.config().setAutoRead(true);
        }
        idleTimer = client.eventLoop().schedule(this, server.idleTimeoutNanos(), TimeUnit.NANOSECONDS);
    }

    /** The idle timer: conntrack forgets a connection that carried nothing for the idle timeout. */
    @Override
    public void run() {
        if (ending != null) {
            return;
        }
        long left = server.idleTimeoutNanos() - (System.nanoTime() - lastActivityNanos);
        if (left > 0) {
            idleTimer = client.eventLoop().schedule(this, left, TimeUnit.NANOSECONDS);
            return;
        }
        end(Ending.IDLE_TIMEOUT);
        abort(client);
        abort(backend);
    }

    /** Resets both sides now, for a drain that ran out of time; callable from any thread. */
    Future<?> abortForShutdown() {
        return client.eventLoop().submit(() -> {
            if (ending == null) {
                end(Ending.DRAIN_TIMEOUT);
                abort(client);
                abort(backend);
            }
        });
    }

    private void reset(Side failed, Throwable cause) {
        if (ending != null) {
            return;
        }
        if (cause != null && log.isDebugEnabled()) {
            log.debug("conn {}: {} side failed: {}", id, failed == clientSide ? "client" : "backend", cause.toString());
        }
        end(failed == clientSide ? Ending.CLIENT_RESET : Ending.BACKEND_RESET);
        abort(failed.peer.channel);
        abort(failed.channel);
    }

    private void closeIfBothDirectionsEnded() {
        if (ending == null && clientSide.inputShutdown && backendSide.outputShutdown
                && backendSide.inputShutdown && clientSide.outputShutdown) {
            end(Ending.CLOSED);
            client.close();
            backend.close();
        }
    }

    /** Records how the connection ended, exactly once, and tells everyone who counts. */
    private void end(Ending how) {
        ending = how;
        endNanos = System.nanoTime();
        if (idleTimer != null) {
            idleTimer.cancel(false);
        }
        clientSide.credit();
        backendSide.credit();
        try {
            route.ended(how);
            observer.ended(this);
        } catch (RuntimeException e) {
            log.error("conn {}: an observer failed", id, e);
        }
        server.closed(this);
        if (accessLog.isInfoEnabled()) {
            accessLog.info("conn={} client={} vip={} rule={} backend={} from_client={} from_backend={} duration_us={} end={}",
                    id, Addresses.format(clientAddress), Addresses.format(localAddress), quoteIfSpaced(route.label()),
                    Addresses.format(route.backend()), clientSide.bytes, backendSide.bytes,
                    (endNanos - startNanos) / 1000, how.label());
        }
    }

    /** A label such as {@code PREROUTING policy ACCEPT} in quotes, so every access-log field is one word. */
    private static String quoteIfSpaced(String label) {
        return label.indexOf(' ') < 0 ? label : '"' + label + '"';
    }

    /** Closes {@code channel} with SO_LINGER 0, so its peer sees a reset rather than a clean end. */
    private static void abort(Channel channel) {
        if (channel == null || !channel.isOpen()) {
            return;
        }
        try {
            channel.config().setOption(ChannelOption.SO_LINGER, 0);
        } catch (ChannelException e) {
            // The socket is already gone (the peer reset it); closing it is all there is left to do.
        }
        channel.close();
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
    public long id() {
        return id;
    }

    @Override
    public InetSocketAddress client() {
        return clientAddress;
    }

    @Override
    public InetSocketAddress local() {
        return localAddress;
    }

    @Override
    public InetSocketAddress listener() {
        return listenerAddress;
    }

    @Override
    public Route route() {
        return route;
    }

    @Override
    public long bytesFromClient() {
        return clientSide.bytes;
    }

    @Override
    public long bytesFromBackend() {
        return backendSide.bytes;
    }

    @Override
    public long durationNanos() {
        return (ending == null ? System.nanoTime() : endNanos) - startNanos;
    }

    @Override
    public Ending ending() {
        return ending;
    }

    /**
     * The handler on one of the two channels: it reads that channel and writes what it reads to the peer.
     * One class for both sides, so both directions behave the same by construction.
     */
    final class Side extends ChannelInboundHandlerAdapter implements ChannelFutureListener {
        /** The direction of the bytes this side reads. */
        private final Direction reads;
        Channel channel;
        Side peer;
        /** Bytes read from this side's channel. */
        long bytes;
        private long uncredited;
        /** This side's peer sent FIN: nothing more will be read here. */
        boolean inputShutdown;
        /** Our FIN went out on this side's channel, after everything the other side sent before its FIN. */
        boolean outputShutdown;
        private boolean outputShutdownStarted;

        Side(Direction reads) {
            this.reads = reads;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            // Known before any event can reach this side, even one fired while connect() is still running.
            channel = ctx.channel();
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            if (this == clientSide) {
                start();
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (ending != null) {
                ReferenceCountUtil.release(msg);
                return;
            }
            ByteBuf buf = (ByteBuf) msg;
            int n = buf.readableBytes();
            bytes += n;
            uncredited += n;
            // Written now, flushed once per read batch in channelReadComplete.
            Channel out = peer.channel;
            out.write(buf, out.voidPromise());
            if (!out.isWritable() && backendConnected) {
                // Past the high watermark within the batch: flush now, and stop reading here only if that did not
                // drain it (the other side's socket is full). Pausing on every large read instead would cost two
                // epoll_ctl calls and a wake-up per read in a bulk transfer.
                out.flush();
                if (!out.isWritable()) {
                    channel.config().setAutoRead(false);
                    observer.readingPaused(reads);
                }
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (ending != null) {
                return;
            }
            if (backendConnected) {
                peer.channel.flush();
            }
            if (uncredited != 0) {
                lastActivityNanos = System.nanoTime();
                credit();
            }
        }

        /** Reports the bytes read since the last report. */
        void credit() {
            long n = uncredited;
            if (n != 0) {
                uncredited = 0;
                route.bytesRelayed(n);
                observer.bytesRelayed(reads, n);
            }
        }

        /** This side drained below its low watermark: the other side may read again (see channelRead). */
        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (backendConnected && ending == null && !peer.inputShutdown && channel.isWritable()
                    && !peer.channel.config().isAutoRead()) {
                peer.channel.config().setAutoRead(true);
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt == ChannelInputShutdownEvent.INSTANCE) {
                inputShutdown = true;
                // Before the backend connects, the client's FIN waits: the connect listener passes it on.
                if (ending == null && (this != clientSide || backendConnected)) {
                    peer.shutdownOutputAfterFlush();
                }
            } else if (evt != ChannelInputShutdownReadComplete.INSTANCE) {
                ctx.fireUserEventTriggered(evt);
            }
        }

        /** Sends FIN on this side once every byte written to it before has been flushed. */
        void shutdownOutputAfterFlush() {
            ChannelOutboundBuffer queued = channel.unsafe().outboundBuffer();
            if (queued != null && queued.isEmpty() && queued.totalPendingWriteBytes() == 0) {
                // Nothing is waiting to be written (the usual case: the read batch before the FIN was flushed).
                outputFlushed();
                return;
            }
            // Netty fails writes still queued when the output is shut down, so wait for them first: the
            // empty write completes only after everything written before it.
            channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(this);
        }

        /** The flush before the FIN completed, or (NIO and io_uring) Netty's shutdown of the output did. */
        @Override
        public void operationComplete(ChannelFuture future) {
            if (ending != null) {
                return;
            }
            if (!future.isSuccess()) {
                reset(this, future.cause());
            } else if (!outputShutdownStarted) {
                outputFlushed();
            } else {
                outputEnded();
            }
        }

        /** Everything written to this side has been flushed: send the FIN. */
        private void outputFlushed() {
            outputShutdownStarted = true;
            if (inputShutdown) {
                // This side had already sent its own FIN and everything it sent was read: the close that follows
                // sends our FIN (a close with nothing unread is clean), and the shutdown(2) call is saved.
                outputEnded();
                return;
            }
            if (!(channel instanceof EpollSocketChannel)) {
                ((DuplexChannel) channel).shutdownOutput().addListener(this);
                return;
            }
            // epoll: shutdown(2) on the socket itself. Netty's shutdownOutput() would do the same call, plus build
            // an exception with a stack trace (to fail writes that, after the flush above, cannot be there) and
            // fire an event nobody here listens to: a measurable cost on every connection.
            try {
                ((Socket) ((EpollSocketChannel) channel).fd()).shutdown(false, true);
            } catch (IOException | RuntimeException e) {
                reset(this, e);
                return;
            }
            // From now on, the peer's FIN means this socket is done both ways. Without half-closure Netty closes
            // it then (channelInactive below) instead of calling shutdown(SHUT_RD), which fails with ENOTCONN on
            // a socket whose both directions have ended, and is another exception on every connection.
            ((SocketChannelConfig) channel.config()).setAllowHalfClosure(false);
            outputEnded();
        }

        /** Our FIN is out on this side. */
        private void outputEnded() {
            outputShutdown = true;
            closeIfBothDirectionsEnded();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            reset(this, cause);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (ending == null && outputShutdown && !inputShutdown
                    && !((SocketChannelConfig) channel.config()).isAllowHalfClosure()) {
                // Our FIN had gone out and the peer's FIN came in: Netty closed the socket without half-closure
                // (see outputFlushed). A reset would have reached exceptionCaught first and ended the relay.
                inputShutdown = true;
                peer.shutdownOutputAfterFlush();
                return;
            }
            // Closed before both directions ended: to the other side that is a reset, never a clean end.
            reset(this, null);
        }
    }
}
