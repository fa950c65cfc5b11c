package io.nthlb.proxy;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.unix.UnixChannelOption;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The UDP side of the data plane, on the {@link ProxyServer}'s event loops: listeners for the UDP addresses the
 * table needs, and the flows they keep as conntrack keeps UDP "connections".
 *
 * <p>A datagram from a client address and port with no flow starts one: the {@link Router} decides it once,
 * and the flow gets a socket of its own connected to the backend, so the kernel matches the backend's replies
 * to it. Every later datagram of the flow goes through that socket; replies go back to the client through the
 * listener's socket, the one the client wrote to. A flow ends when it has carried nothing for its timeout
 * ({@link UdpOptions}), or when its backend answers with an ICMP error (port unreachable): the next datagram
 * then starts a new flow and is decided again.
 *
 * <p>With epoll and io_uring each event loop has its own socket per address (SO_REUSEPORT); the kernel sends all
 * datagrams of one client address and port to the same socket, so a flow lives on one loop with its backend
 * socket and nothing it owns is shared between threads.
 */
public final class UdpProxy implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(UdpProxy.class);

    /** A datagram of any size up to UDP's limit is read whole: one buffer per read, released once relayed. */
    static final RecvByteBufAllocator DATAGRAMS = new FixedRecvByteBufAllocator(65536);

    private final ProxyServer server;
    private final UdpOptions udpOptions;
    private final RelayObserver observer;
    private final ListenerSet listeners;
    private final long timeoutNanos;
    private final long streamTimeoutNanos;
    private final AtomicInteger flowCount = new AtomicInteger();
    /** The flow table's size: given, or derived and then divided with TCP once the listeners are open. */
    private volatile int maxFlows;
    private final AtomicLong droppedTableFull = new AtomicLong();
    /** Whether the table-full warning has been logged since the table was last below 90 %: one line per episode. */
    private final AtomicBoolean fullLogged = new AtomicBoolean();
    private final Set<UdpFlowTable> tables = ConcurrentHashMap.newKeySet();
    private volatile Router router;

    private UdpProxy(ProxyServer server, UdpOptions udpOptions, Router router, RelayObserver observer) {
        this.server = server;
        this.udpOptions = Objects.requireNonNull(udpOptions, "udpOptions");
        this.router = Objects.requireNonNull(router, "router");
        this.observer = Objects.requireNonNull(observer, "observer");
        this.timeoutNanos = udpOptions.timeout().toNanos();
        this.streamTimeoutNanos = udpOptions.streamTimeout().toNanos();
        this.maxFlows = udpOptions.maxFlows() > 0 ? udpOptions.maxFlows() : UdpOptions.defaultMaxFlows();
        this.listeners = new ListenerSet(server.options(), this::openSockets, "udp ");
    }

    /** UDP on {@code server}'s event loops; nothing listens until {@link ListenerSet#reconcile}. */
    public static UdpProxy start(ProxyServer server, UdpOptions udpOptions, Router router, RelayObserver observer) {
        return new UdpProxy(server, udpOptions, router, observer);
    }

    /** The UDP listening sockets, which reload reconciles against the UDP addresses a new table needs. */
    public ListenerSet listeners() {
        return listeners;
    }

    /** The router new flows ask from now on; flows already open keep their backend. */
    public void setRouter(Router router) {
        this.router = Objects.requireNonNull(router, "router");
    }

    public UdpOptions options() {
        return udpOptions;
    }

    /** The most flows kept at once (given, or derived from the descriptor limit). */
    public int maxFlows() {
        return maxFlows;
    }

    void setMaxFlows(int n) {
        maxFlows = n;
    }

    /** Flows kept now. */
    public int openFlows() {
        return flowCount.get();
    }

    /** Datagrams dropped because they would have started a flow while the table was full. */
    public long droppedTableFull() {
        return droppedTableFull.get();
    }

    /** Ends every flow and closes the listeners; waits for both. */
    @Override
    public void close() {
        listeners.closeAll();
        List<Future<?>> ends = new ArrayList<>();
        for (UdpFlowTable table : List.copyOf(tables)) {
            ends.add(table.loop().submit(() -> table.endAll(Ending.STOPPED)));
        }
        for (Future<?> end : ends) {
            end.awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
    }

    private List<ListenerSet.Listener> openSockets(InetSocketAddress address, boolean portIsOurs) {
        ProxyOptions options = server.options();
        boolean reusePort = options.transport().acceptsOnEveryEventLoop();
        List<ListenerSet.Listener> sockets = new ArrayList<>();
        try {
            if (reusePort && !portIsOurs) {
                ListenerSet.refuseIfTaken(address, true);
            }
            InetSocketAddress bindTo = address;
            for (EventExecutor executor : server.eventLoops()) {
                sockets.add(bind((EventLoop) executor, bindTo, reusePort));
                if (!reusePort) {
                    break;
                }
                // With port 0 the first socket picks the port; the others must share that one.
                bindTo = sockets.get(0).localAddress();
            }
        } catch (ListenException e) {
            sockets.forEach(ListenerSet.Listener::close);
            throw e;
        }
        return sockets;
    }

    private ListenerSet.Listener bind(EventLoop loop, InetSocketAddress address, boolean reusePort) {
        ProxyOptions options = server.options();
        UdpFlowTable table = new UdpFlowTable(this, loop, address);
        Bootstrap b = new Bootstrap()
                .group(loop)
                .channelFactory(options.transport()::newDatagramChannel)
                .option(ChannelOption.SO_REUSEADDR, true)
                .option(ChannelOption.ALLOCATOR, options.allocator())
                .option(ChannelOption.RCVBUF_ALLOCATOR, DATAGRAMS)
                .handler(table);
        if (reusePort) {
            b.option(UnixChannelOption.SO_REUSEPORT, true);
        }
        if (options.bindAny()) {
            b.option(options.transport().freeBindOption(), true);
        }
        if (address.getAddress().isAnyLocalAddress() && options.transport().originalDestinationOption() != null) {
            b.option(options.transport().originalDestinationOption(), true);
        }
        ChannelFuture f = b.bind(address).awaitUninterruptibly();
        if (!f.isSuccess()) {
            throw ListenException.of(address, f.cause());
        }
        tables.add(table);
        DatagramChannel channel = (DatagramChannel) f.channel();
        return new ListenerSet.Listener() {
            @Override
            public InetSocketAddress localAddress() {
                return channel.localAddress();
            }

            @Override
            public void close() {
                channel.close().awaitUninterruptibly();
                tables.remove(table);
            }
        };
    }

    Router router() {
        return router;
    }

    RelayObserver observer() {
        return observer;
    }

    ProxyServer server() {
        return server;
    }

    long timeoutNanos() {
        return timeoutNanos;
    }

    long streamTimeoutNanos() {
        return streamTimeoutNanos;
    }

    /** Takes a place in the flow table for a new flow; false (and the drop counted and logged) when it is full. */
    boolean reserveFlow() {
        while (true) {
            int n = flowCount.get();
            if (n >= maxFlows) {
                droppedTableFull.incrementAndGet();
                if (fullLogged.compareAndSet(false, true)) {
                    log.warn("udp flow table full ({} flows, --udp-max-flows): dropping datagrams that would start"
                            + " a new flow; flows already open go on", n);
                }
                return false;
            }
            if (flowCount.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    /** Gives back a flow's place. */
    void releaseFlow() {
        // Rearmed with room to spare, so that a table that stays at its limit logs once, not once per flow.
        int max = maxFlows;
        if (flowCount.decrementAndGet() < max - max / 10) {
            fullLogged.set(false);
        }
    }
}
