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
import io.netty.channel.nio.AbstractNioChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.ChannelInputShutdownReadComplete;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;

/**
 * One client connection and the backend connection made for it, relaying bytes both ways through Netty channels:
 * the relay of the NIO and io_uring transports ({@link EpollRelay} is epoll's).
 *
 * <p>The backend channel is registered on the client channel's event loop, so every method here runs on
 * that one thread and no field needs to be volatile. Reading from the client starts only once the backend
 * has connected ({@code AUTO_READ} is off until then); on NIO it is then read at once, so that what it sent
 * meanwhile leaves in the same write as the backend preface. Backpressure follows Pulsar's proxy: when the side
 * being written to passes its high watermark, reading from the other side stops until it drains.
 *
 * <p>Half-close passes through: an end of input on one side becomes a shutdown of output on the other once
 * everything before it has been flushed; the pair closes when both directions have ended that way. Any
 * error or unexpected close on one side resets the other (SO_LINGER 0), so a client never takes a broken
 * response for a complete one.
 */
final class ChannelRelay extends RelayBase implements ChannelFutureListener {

    private final Channel client;
    final SideHandler clientHandler;
    /** The handler of the backend being connected to or relayed with; a new one for each backend tried. */
    private SideHandler backendHandler;
    /** What goes to the backend before the client's bytes (see RelayBase.backendPreface), or {@code null}. */
    private byte[] preface;
    /** How many of the client's bytes {@link #preface} holds: those that came with its PROXY header. */
    private long prefaceClientBytes;
    private Channel backend;

    ChannelRelay(ProxyServer server, long id, Channel client) {
        super(server, id, client.eventLoop(), (InetSocketAddress) client.remoteAddress(),
                (InetSocketAddress) client.localAddress(),
                client.parent() == null ? (InetSocketAddress) client.localAddress()
                        : (InetSocketAddress) client.parent().localAddress());
        this.client = client;
        this.clientHandler = new SideHandler(clientSide);
        this.backendHandler = new SideHandler(backendSide);
        clientHandler.peer = backendHandler;
        backendHandler.peer = clientHandler;
    }

    /** Routes the accepted connection and starts connecting to its backend, or resets it when none. */
    private void start() {
        InetSocketAddress target = routeAndOpen();
        if (target == null) {
            abort(client);
            return;
        }
        preface = backendPreface();
        releaseHeaderBytes();
        prefaceClientBytes = clientSide.bytes;
        connect(target);
    }

    private void connect(InetSocketAddress target) {
        // Wrapped anew for each backend tried: the byte array outlives the buffer a failed attempt released.
        backendHandler.preface = preface == null ? null : Unpooled.wrappedBuffer(preface);
        InetSocketAddress source = server.options().clientAddressing().transparent() ? clientAddress
                : server.sourceFor(target);
        ChannelFuture connect;
        try {
            connect = server.connectBackend(client.eventLoop(), backendHandler, target, source);
        } catch (RuntimeException e) {
            // NIO opens the socket in the channel's constructor: out of descriptors, it throws here. Such a
            // local failure is never retried; anything else may be, as a failed connect would.
            InetSocketAddress next = connectFailed(e);
            if (next == null) {
                abort(client);
            } else {
                connect(next);
            }
            return;
        }
        backend = connect.channel();
        connect.addListener(this);
    }

    /**
     * {@code --accept-proxy}: keeps what the client sends until its PROXY header is complete, then routes the
     * connection; what came after the header is relayed first.
     */
    private void proxyHeaderRead(ByteBuf buf) {
        if (headerBytes == null) {
            headerBytes = buf;
        } else {
            headerBytes.writeBytes(buf);
            buf.release();
        }
        int upTo = proxyHeaderReceived(headerBytes);
        if (upTo < 0) {
            abort(client);
        } else if (upTo == 0) {
            // What followed the header is the client's: counted as such, relayed as the backend preface's tail.
            clientSide.read(headerBytes.readableBytes());
            start();
        } else {
            client.read();
        }
    }

    /** The backend connection attempt finished (Netty's own connect timeout included). */
    @Override
    public void operationComplete(ChannelFuture future) {
        if (future.channel() != backend) {
            return; // an attempt already given up on
        }
        if (ending != null) {
            // The client went away while we were connecting.
            abort(backend);
            return;
        }
        if (!future.isSuccess()) {
            backendFailed(future.cause());
            return;
        }
        backendConnected();
        boolean finWaiting = clientSide.inputShutdown;
        backend.config().setAutoRead(true);
        if (!finWaiting && backend.isWritable()) {
            client.config().setAutoRead(true);
            if (client.unsafe() instanceof AbstractNioChannel.NioUnsafe nio) {
                // Read now rather than at the next select: what the client sent while the backend connected is
                // written behind the preface and flushed with it (channelReadComplete), in one write. io_uring
                // cannot read on the spot; its client's bytes follow in a write of their own.
                nio.read();
            }
        }
        if (ending == null && (clientSide.bytes != 0 || backendHandler.prefaceQueued)) {
            // What was queued before the backend connected (the preface: see SideHandler.channelRegistered) goes
            // now if the read above has not taken it, as the backend may speak first.
            backend.flush();
        }
        if (finWaiting) {
            backendHandler.shutdownOutputAfterFlush();
        }
    }

    /** Connecting failed: tries the next backend the route gives, on a new channel, or resets the client. */
    private void backendFailed(Throwable cause) {
        InetSocketAddress next = connectFailed(cause);
        if (next == null) {
            abort(backend);
            abort(client);
            return;
        }
        // A handler that is not @Sharable goes into one pipeline only: the new channel gets a new handler (the
        // backend's Side, which counted nothing yet, stays). Made before the failed channel closes, so that what its
        // close fails (a queued preface) is a stale handler's.
        SideHandler failed = backendHandler;
        backendHandler = new SideHandler(backendSide);
        backendHandler.peer = clientHandler;
        clientHandler.peer = backendHandler;
        abort(failed.channel);
        connect(next);
    }

    /** Client bytes read beyond those in the preface were written to the failed channel. */
    @Override
    boolean clientBytesReplayable() {
        return clientSide.bytes == prefaceClientBytes;
    }

    @Override
    void connectTimedOut() {
        backendFailed(new ConnectTimeoutException("connection timed out: " + Addresses.format(route.backend())));
    }

    @Override
    void resetBoth() {
        abort(client);
        abort(backend);
    }

    @Override
    void closeBoth() {
        client.close();
        backend.close();
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

    /**
     * The handler on one side's channel: it reads that channel and writes what it reads to the peer's. One class
     * for both sides, so both directions behave the same by construction.
     */
    final class SideHandler extends ChannelInboundHandlerAdapter implements ChannelFutureListener {
        private final Side side;
        Channel channel;
        SideHandler peer;
        /** On the backend side: what goes out before any of the client's bytes (see RelayBase.backendPreface). */
        ByteBuf preface;
        boolean prefaceQueued;
        private boolean outputShutdownStarted;

        SideHandler(Side side) {
            this.side = side;
        }

        /** Whether this is the handler of the client or of the backend now used; not of one given up on. */
        private boolean current() {
            return this == clientHandler || this == backendHandler;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            // Known before any event can reach this side, even one fired while connect() is still running.
            channel = ctx.channel();
        }

        @Override
        public void channelRegistered(ChannelHandlerContext ctx) {
            if (preface != null) {
                // Queued before connect, so it is ahead of anything the client sends; flushed once connected.
                ctx.write(preface, ctx.voidPromise());
                preface = null;
                prefaceQueued = true;
            }
            ctx.fireChannelRegistered();
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            if (this != clientHandler) {
                return;
            }
            if (server.options().clientAddressing().acceptProxy()) {
                awaitProxyHeader();
                client.read();
            } else {
                start();
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (ending != null || !current()) {
                ReferenceCountUtil.release(msg);
                return;
            }
            ByteBuf buf = (ByteBuf) msg;
            if (awaitingHeader) {
                proxyHeaderRead(buf);
                return;
            }
            side.read(buf.readableBytes());
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
                    observer.readingPaused(side.reads);
                }
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (ending != null || !current()) {
                return;
            }
            if (backendConnected) {
                peer.channel.flush();
            }
            if (side.uncredited != 0) {
                lastActivityNanos = System.nanoTime();
                credit(side);
            }
        }

        /** This side drained below its low watermark: the other side may read again (see channelRead). */
        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (backendConnected && ending == null && current() && !side.peer.inputShutdown && channel.isWritable()
                    && !peer.channel.config().isAutoRead()) {
                peer.channel.config().setAutoRead(true);
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt == ChannelInputShutdownEvent.INSTANCE && !current()) {
                return;
            } else if (evt == ChannelInputShutdownEvent.INSTANCE && awaitingHeader && ending == null) {
                side.inputShutdown = true;
                badProxyHeader("the client ended its output before its header was complete");
                resetBoth();
            } else if (evt == ChannelInputShutdownEvent.INSTANCE) {
                side.inputShutdown = true;
                // Before the backend connects, the client's FIN waits: the connect listener passes it on.
                if (ending == null && (this != clientHandler || backendConnected)) {
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

        /** The flush before the FIN completed, or Netty's shutdown of the output did. */
        @Override
        public void operationComplete(ChannelFuture future) {
            if (ending != null || !current()) {
                return; // or a write to a backend given up on, failed by its close
            }
            if (!future.isSuccess()) {
                reset(side, future.cause());
            } else if (!outputShutdownStarted) {
                outputFlushed();
            } else {
                outputEnded(side);
            }
        }

        /** Everything written to this side has been flushed: send the FIN. */
        private void outputFlushed() {
            outputShutdownStarted = true;
            if (side.needsShutdownCall()) {
                ((DuplexChannel) channel).shutdownOutput().addListener(this);
            } else {
                outputEnded(side);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (current()) {
                reset(side, cause);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            // Closed before both directions ended: to the other side that is a reset, never a clean end. A backend
            // given up on closes as it should.
            if (current()) {
                reset(side, null);
            }
        }
    }
}
