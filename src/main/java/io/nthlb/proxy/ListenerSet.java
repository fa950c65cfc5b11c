package io.nthlb.proxy;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoEventLoop;
import io.netty.channel.unix.UnixChannelOption;
import io.netty.util.concurrent.EventExecutor;
import java.io.Closeable;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The listening sockets, by the address they were asked for. With epoll and io_uring every address gets one
 * socket per event loop through SO_REUSEPORT, so the kernel spreads new connections over the loops; with NIO
 * one socket, whose connections are spread over the loops by Netty. Thread-safe: reload calls it from its
 * own thread. The TCP listeners are one set, the UDP ones ({@link UdpProxy}) another, made with their own
 * {@link SocketOpener}.
 */
public final class ListenerSet {

    private static final Logger log = LoggerFactory.getLogger(ListenerSet.class);

    private final ProxyOptions options;
    private final EventLoopGroup group;
    private final ChannelHandler childHandler;
    private final Map<InetSocketAddress, List<Listener>> open = new LinkedHashMap<>();

    private final ProxyServer server;
    private final SocketOpener opener;
    /** {@code ""} for TCP, {@code "udp "} for UDP: how the log names the listeners of this set. */
    private final String kind;

    /** Opens the sockets of one address: one per event loop, or one. */
    interface SocketOpener {
        /**
         * @param portIsOurs whether a listener of this set is already on the port, so that a probe bind without
         *                   SO_REUSEPORT would collide with it
         * @throws ListenException saying why, with nothing left open
         */
        List<Listener> open(InetSocketAddress address, boolean portIsOurs);
    }

    /** One listening socket. */
    interface Listener {
        /** Where it is bound: port 0 comes back as the port the kernel chose. */
        InetSocketAddress localAddress();

        /** Stops listening; connections it accepted go on. */
        void close();
    }

    /** A listener that is a Netty server channel (NIO, io_uring). */
    private record ChannelListener(Channel channel) implements Listener {
        @Override
        public InetSocketAddress localAddress() {
            return (InetSocketAddress) channel.localAddress();
        }

        @Override
        public void close() {
            channel.close().awaitUninterruptibly();
        }
    }

    ListenerSet(ProxyServer server, ProxyOptions options, EventLoopGroup group, ChannelHandler childHandler) {
        this.server = server;
        this.options = options;
        this.group = group;
        this.childHandler = childHandler;
        this.opener = this::openTcp;
        this.kind = "";
    }

    /** A set of listeners that {@code opener} opens (UDP's), named {@code kind} in the log. */
    ListenerSet(ProxyOptions options, SocketOpener opener, String kind) {
        this.server = null;
        this.options = options;
        this.group = null;
        this.childHandler = null;
        this.opener = opener;
        this.kind = kind;
    }

    /** The addresses listened on now, as they were asked for (port 0 stays 0; see {@link #boundAddress}). */
    public synchronized Set<InetSocketAddress> addresses() {
        return Set.copyOf(open.keySet());
    }

    /** Listening sockets open now (one per event loop per address with SO_REUSEPORT). */
    public synchronized int socketCount() {
        int n = 0;
        for (List<Listener> channels : open.values()) {
            n += channels.size();
        }
        return n;
    }

    /** Where the listener asked for as {@code address} is bound, or {@code null} when there is none. */
    public synchronized InetSocketAddress boundAddress(InetSocketAddress address) {
        List<Listener> channels = open.get(address);
        return channels == null ? null : channels.get(0).localAddress();
    }

    /**
     * Opens a listener on {@code address}; does nothing when there is one already. On failure nothing is left
     * open for it.
     *
     * @throws ListenException saying why and what to do about it
     */
    public synchronized void open(InetSocketAddress address) {
        if (open.containsKey(address)) {
            return;
        }
        // When one of ours is on the port (a reload moving 10.0.1.200:80 to *:80 opens the new one before closing
        // the old), a plain bind would collide with it.
        List<Listener> channels = opener.open(address, listensOnPort(address.getPort()));
        open.put(address, channels);
        log.info("listening on {}{} ({}, {} socket{})", kind, Addresses.format(channels.get(0).localAddress()),
                options.transport().label(), channels.size(), channels.size() == 1 ? "" : "s");
    }

    private List<Listener> openTcp(InetSocketAddress address, boolean portIsOurs) {
        List<Listener> channels = new ArrayList<>();
        try {
            if (options.transport().acceptsOnEveryEventLoop()) {
                if (!portIsOurs) {
                    refuseIfTaken(address, false);
                }
                InetSocketAddress bindTo = address;
                for (EventExecutor executor : group) {
                    EventLoop loop = (EventLoop) executor;
                    Listener listener = options.transport().relaysDirectly()
                            ? openDirect((IoEventLoop) loop, bindTo) : bind(serverBootstrap(loop, loop, true, bindTo), bindTo);
                    channels.add(listener);
                    // With port 0 the first socket picks the port; the others must share that one.
                    bindTo = listener.localAddress();
                }
            } else {
                channels.add(bind(serverBootstrap(group, group, false, address), address));
            }
        } catch (ListenException e) {
            channels.forEach(Listener::close);
            throw e;
        }
        return channels;
    }

    /** Closes the listener asked for as {@code address}; the connections it accepted go on. */
    public synchronized void close(InetSocketAddress address) {
        List<Listener> channels = open.remove(address);
        if (channels != null) {
            // The address as bound, as "listening on" gave it (io_uring binds a wildcard as [::]).
            String bound = Addresses.format(channels.get(0).localAddress());
            channels.forEach(Listener::close);
            log.info("stopped listening on {}{}", kind, bound);
        }
    }

    /**
     * Makes the open listeners exactly {@code wanted}: opens the missing ones first, then closes the ones no
     * longer wanted. If one cannot be opened, the ones this call opened are closed again and the set is as it
     * was.
     *
     * @throws ListenException for the first address that could not be opened
     */
    public synchronized void reconcile(Collection<InetSocketAddress> wanted) {
        Set<InetSocketAddress> toOpen = new LinkedHashSet<>(wanted);
        toOpen.removeAll(open.keySet());
        Set<InetSocketAddress> toClose = new LinkedHashSet<>(open.keySet());
        toClose.removeAll(wanted);
        List<InetSocketAddress> opened = new ArrayList<>();
        try {
            for (InetSocketAddress address : toOpen) {
                open(address);
                opened.add(address);
            }
        } catch (ListenException e) {
            opened.forEach(this::close);
            throw e;
        }
        toClose.forEach(this::close);
    }

    /** Closes every listener. */
    public synchronized void closeAll() {
        List.copyOf(open.keySet()).forEach(this::close);
    }

    private ServerBootstrap serverBootstrap(EventLoopGroup parent, EventLoopGroup children, boolean reusePort,
                                            InetSocketAddress address) {
        ServerBootstrap b = new ServerBootstrap()
                .group(parent, children)
                .channelFactory(options.transport().serverChannelFactory(address))
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                // TCP_NODELAY is on already: Netty sets it in every socket channel's constructor.
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, options.waterMark())
                .childOption(ChannelOption.ALLOCATOR, options.allocator())
                .childOption(ChannelOption.RCVBUF_ALLOCATOR, ProxyServer.READS)
                .handler(new AcceptGate())
                .childHandler(childHandler);
        b.childOption(ChannelOption.SO_KEEPALIVE, true);
        if (reusePort) {
            b.option(UnixChannelOption.SO_REUSEPORT, true);
        }
        if (options.bindAny()) {
            b.option(options.transport().freeBindOption(), true);
        }
        return b;
    }

    /**
     * SO_REUSEPORT lets a second socket of the same user bind a port that is already taken, and the kernel then
     * splits new connections between the two: a second nthlb started by mistake would take half of them, each
     * counting its own nth sequence. So before binding with SO_REUSEPORT, a plain bind(2) (no listen: it can
     * take no connection) checks the port as a bind without SO_REUSEPORT would.
     */
    private boolean listensOnPort(int port) {
        return open.values().stream().anyMatch(c -> c.get(0).localAddress().getPort() == port);
    }

    static void refuseIfTaken(InetSocketAddress address, boolean udp) {
        if (address.getPort() == 0) {
            return;
        }
        try (Closeable probe = udp ? new DatagramSocket(address) : bindTcp(address)) {
            // bound: the port is free
        } catch (IOException e) {
            if (String.valueOf(e.getMessage()).contains("Address already in use")) {
                throw ListenException.of(address, e);
            }
            // Anything else (not an address of this host, a privileged port) the bind that follows reports
            // with its own advice.
        }
    }

    private static Socket bindTcp(InetSocketAddress address) throws IOException {
        Socket probe = new Socket();
        try {
            probe.setReuseAddress(true); // a connection in TIME_WAIT does not make the port taken
            probe.bind(address);
            return probe;
        } catch (IOException e) {
            probe.close();
            throw e;
        }
    }

    private static Listener bind(ServerBootstrap b, InetSocketAddress address) {
        ChannelFuture f = b.bind(address).awaitUninterruptibly();
        if (!f.isSuccess()) {
            throw ListenException.of(address, f.cause());
        }
        return new ChannelListener(f.channel());
    }

    private Listener openDirect(IoEventLoop loop, InetSocketAddress address) {
        try {
            return EpollListener.open(server, loop, address, options.bindAny());
        } catch (IOException | RuntimeException e) {
            throw ListenException.of(address, e);
        }
    }

    /**
     * The first handler of a listening channel (NIO, io_uring), before Netty's acceptor: it holds each accepted
     * channel to the connection limits, and reports errors accepting (file descriptors exhausted, say) and
     * pauses accepting after one. These transports accept before anyone can ask
     * (NIO a batch at a time, io_uring with accepts in flight), so a connection accepted past the limit waits
     * here, registered nowhere and unread, for the next slot; the listener stops accepting meanwhile.
     */
    private final class AcceptGate extends ChannelInboundHandlerAdapter implements ConnectionLimits.Gate {
        private Channel listener;

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            listener = ctx.channel();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            Channel child = (Channel) msg;
            ConnectionLimits limits = server.limits();
            if (limits.reserve()) {
                admit(ctx, child);
                return;
            }
            // One read can hand over a batch of accepted children: the first past the limit stops accepting, and
            // the stop is counted once.
            boolean wasAccepting = listener.config().isAutoRead();
            listener.config().setAutoRead(false);
            long backOff = limits.backOffLeft();
            if (backOff > 0) {
                resumeAfter(ctx, backOff);
            } else {
                if (wasAccepting) {
                    server.limitReached(localAddress());
                }
                limits.pause(this);
            }
            limits.waitForSlot(() -> {
                try {
                    ctx.executor().execute(() -> admit(ctx, child));
                } catch (RejectedExecutionException e) {
                    // Shutting down: the connection was never served.
                    child.unsafe().closeForcibly();
                    limits.release();
                }
            });
        }

        /** Passes {@code child}, which holds a slot, on to Netty's acceptor, unless a per-client limit refuses it. */
        private void admit(ChannelHandlerContext ctx, Channel child) {
            InetSocketAddress client = (InetSocketAddress) child.remoteAddress();
            ConnectionLimits limits = server.limits();
            if (limits.perClient()) {
                ClientLimit refusal = limits.admit(client.getAddress());
                if (refusal != null) {
                    try {
                        child.config().setOption(ChannelOption.SO_LINGER, 0);
                    } catch (ChannelException e) {
                        // Already reset by the client: the close is all there is left to do.
                    }
                    child.unsafe().closeForcibly();
                    limits.release();
                    server.clientRefused(client, refusal);
                    return;
                }
            }
            // The slot goes back once the connection's descriptors are closed, which on NIO is after its loop's next
            // select.
            child.closeFuture().addListener(f -> NioDeferredClose.afterClose(child, () -> server.clientClosed(client)));
            ctx.fireChannelRead(child);
        }

        @Override
        public void slotFreed() {
            listener.config().setAutoRead(true);
        }

        /**
         * Accepting failed: stop accepting for a second, as Netty's acceptor would. Not passed on to it: the
         * acceptor would pass it to the pipeline's tail, which logs every one at WARN.
         */
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            server.acceptFailed(localAddress(), cause);
            listener.config().setAutoRead(false);
            resumeAfter(ctx, Math.max(server.limits().backOffLeft(), TimeUnit.SECONDS.toNanos(1)));
        }

        /** Resumes accepting after {@code nanos}, first giving the connections parked meanwhile their slots. */
        private void resumeAfter(ChannelHandlerContext ctx, long nanos) {
            ctx.executor().schedule(() -> {
                server.limits().admitWaiting();
                slotFreed();
            }, nanos, TimeUnit.NANOSECONDS);
        }

        private InetSocketAddress localAddress() {
            return (InetSocketAddress) listener.localAddress();
        }
    }
}
