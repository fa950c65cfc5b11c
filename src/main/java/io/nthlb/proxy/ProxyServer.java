package io.nthlb.proxy;

import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPromise;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.SocketChannelConfig;
import io.netty.channel.unix.IntegerUnixChannelOption;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The data plane: event loops, the listeners, and the relays of the connections they accept.
 *
 * <p>Two things can change while it runs, for reload: the {@link Router} new connections ask
 * ({@link #setRouter}) and the set of listeners ({@link #listeners()}); connections already open keep the
 * backend they were given.
 */
public final class ProxyServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ProxyServer.class);

    /**
     * How much one read may take: Netty's adaptive sizing (it grows while reads fill the buffer and shrinks when
     * they do not), with the ceiling raised from 64 KiB to 256 KiB so a bulk transfer needs fewer reads, writes
     * and wake-ups per megabyte. Small exchanges keep small buffers; idle connections hold none.
     */
    static final RecvByteBufAllocator READS = new AdaptiveRecvByteBufAllocator(64, 2048, 256 * 1024);

    /** IP_BIND_ADDRESS_NO_PORT for the io_uring channels (epoll's relay sets it by number itself). */
    private static final IntegerUnixChannelOption BIND_ADDRESS_NO_PORT =
            new IntegerUnixChannelOption("IP_BIND_ADDRESS_NO_PORT", EpollListener.SOL_IP, 24);

    private final ProxyOptions options;
    private final RelayObserver observer;
    private final EventLoopGroup group;
    private final int connectTimeoutMillis;
    private final ListenerSet listeners;
    private final long idleTimeoutNanos;
    private final AtomicLong connectionIds = new AtomicLong();
    private final Set<RelayBase> open = ConcurrentHashMap.newKeySet();
    private final CompletableFuture<Void> drained = new CompletableFuture<>();
    private final ConnectionLimits limits;
    private final Throttle throttle = new Throttle(Throttle.DEFAULT_INTERVAL);
    /** --source addresses by family, and the next to use: backend connections take them in turn. */
    private final List<InetSocketAddress> sources4;
    private final List<InetSocketAddress> sources6;
    private final AtomicInteger nextSource = new AtomicInteger();
    private volatile boolean draining;
    private volatile Router router;

    private ProxyServer(ProxyOptions options, Router router, RelayObserver observer) {
        this.options = options;
        this.router = Objects.requireNonNull(router, "router");
        this.observer = Objects.requireNonNull(observer, "observer");
        this.group = new MultiThreadIoEventLoopGroup(options.threads(),
                new DefaultThreadFactory("nthlb-" + options.transport().label()), options.transport().ioHandlerFactory());
        this.idleTimeoutNanos = saturatedNanos(options.idleTimeout());
        this.connectTimeoutMillis = (int) options.connectTimeout().toMillis();
        // Derived after the event loops exist, so the descriptors they hold are counted as taken; derived again,
        // lower, once the listeners are open (divideDescriptors).
        int max = options.limits().maxConnections() > 0 ? options.limits().maxConnections()
                : Limits.fromDescriptorLimit();
        this.limits = new ConnectionLimits(max, options.limits(), System::nanoTime);
        if (limits.perClient()) {
            group.next().scheduleAtFixedRate(limits::sweep, 1, 1, TimeUnit.SECONDS);
        }
        this.sources4 = sourcesOf(options.sources(), false);
        this.sources6 = sourcesOf(options.sources(), true);
        this.listeners = new ListenerSet(this, options, group, new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast(new ChannelRelay(ProxyServer.this, connectionIds.incrementAndGet(), ch).clientHandler);
            }
        });
    }

    /** Starts the event loops; nothing listens until {@link ListenerSet#open} or {@link ListenerSet#reconcile}. */
    public static ProxyServer start(ProxyOptions options, Router router, RelayObserver observer) {
        return new ProxyServer(options, router, observer);
    }

    /** The listening sockets, which reload reconciles against the addresses a new table needs. */
    public ListenerSet listeners() {
        return listeners;
    }

    /** The router new connections ask from now on; connections already open are not affected. */
    public void setRouter(Router router) {
        this.router = Objects.requireNonNull(router, "router");
    }

    public Router router() {
        return router;
    }

    public ProxyOptions options() {
        return options;
    }

    /** The event loops, for tests that need to hold one up. */
    EventLoopGroup eventLoops() {
        return group;
    }

    /** The relays open now, for tests. */
    List<RelayBase> openRelays() {
        return List.copyOf(open);
    }

    /** Connections accepted and not yet ended. */
    public int openConnections() {
        return open.size();
    }

    /**
     * Gives every event loop a task that does nothing and returns one future per loop, completed when that
     * loop has run it: a loop blocked in a call that does not return never completes its future, which is how
     * {@code /healthz} tells a data plane that cannot serve from one that can.
     *
     * @throws java.util.concurrent.RejectedExecutionException once the event loops are shutting down
     */
    public List<CompletableFuture<Void>> probeEventLoops() {
        List<CompletableFuture<Void>> ran = new ArrayList<>();
        for (EventExecutor loop : group) {
            CompletableFuture<Void> done = new CompletableFuture<>();
            loop.execute(() -> done.complete(null));
            ran.add(done);
        }
        return ran;
    }

    /**
     * Stops accepting, waits up to {@code timeout} for the open connections to end on their own, then resets
     * the ones still open and stops the event loops.
     *
     * @return how many connections had to be reset
     */
    public int drain(Duration timeout) {
        long deadline = System.nanoTime() + saturatedNanos(timeout);
        listeners.closeAll();
        awaitRegistrations(deadline);
        draining = true;
        if (open.isEmpty()) {
            drained.complete(null);
        }
        int cut = 0;
        try {
            drained.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            List<RelayBase> left = List.copyOf(open);
            cut = left.size();
            log.warn("drain timeout ({}) reached with {} connection(s) open; resetting them", timeout, cut);
            abortAll(left);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e);
        }
        shutdownEventLoops();
        return cut;
    }

    /**
     * Waits until every connection the closed listeners accepted is open. With NIO the accepting loop hands a
     * connection to another loop, which registers it (and opens its relay) from its task queue: a task queued
     * on every loop after the listeners closed runs after those registrations.
     */
    private void awaitRegistrations(long deadline) {
        List<Future<?>> barriers = new ArrayList<>();
        for (EventExecutor loop : group) {
            if (!loop.isShuttingDown()) {
                barriers.add(loop.submit(() -> { }));
            }
        }
        for (Future<?> barrier : barriers) {
            barrier.awaitUninterruptibly(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        }
    }

    /** Closes the listeners, resets every open connection and stops the event loops. */
    @Override
    public void close() {
        listeners.closeAll();
        abortAll(List.copyOf(open));
        shutdownEventLoops();
    }

    /**
     * Resets the connections and waits until the resets are done: an event loop that shuts down closes its
     * channels cleanly (FIN) before it runs the tasks still queued, and a cut connection must look cut.
     */
    private static void abortAll(List<RelayBase> relays) {
        List<Future<?>> resets = new ArrayList<>();
        for (RelayBase relay : relays) {
            resets.add(relay.abortForShutdown());
        }
        for (Future<?> reset : resets) {
            reset.awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
    }

    private void shutdownEventLoops() {
        // Quiet period 0: by now nothing new can arrive, and the resets above are already queued.
        group.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
    }

    RelayObserver observer() {
        return observer;
    }

    ConnectionLimits limits() {
        return limits;
    }

    /**
     * Derives again the limits the user did not give, now that the table's listeners (TCP, and {@code udp}'s) are
     * open and hold their descriptors, dividing what is left between TCP connections and UDP flows (see
     * {@link Limits#divide}). Called once, by the load balancer as it starts; a reload's listeners are not counted.
     */
    public void divideDescriptors(UdpProxy udp) {
        long[] limitAndOpen = Limits.descriptors();
        if (limitAndOpen == null) {
            return;
        }
        boolean tcp = listeners.socketCount() > 0;
        Set<InetSocketAddress> udpAddresses = udp.listeners().addresses();
        // A flow of a wildcard listener also holds the socket its replies leave from.
        int perFlow = udpAddresses.isEmpty() ? 0
                : udpAddresses.stream().anyMatch(a -> a.getAddress().isAnyLocalAddress()) ? 2 : 1;
        int given = options.limits().maxConnections();
        int givenFlows = udp.options().maxFlows();
        Limits.Budget budget = Limits.divide(limitAndOpen[0], limitAndOpen[1], given, givenFlows, tcp, perFlow);
        // Connections given may take the whole room unless flows were given too (derived flows get what is left).
        int room = Limits.divide(limitAndOpen[0], limitAndOpen[1], 0, givenFlows, tcp, givenFlows > 0 ? perFlow : 0)
                .maxConnections();
        if (given > room) {
            log.warn("--max-connections {} is more than the descriptor limit leaves room for ({} connections of two"
                    + " descriptors each): past that, accepting fails and some clients are reset (end=local-error);"
                    + " raise the limit (LimitNOFILE=, ulimit -n) or lower --max-connections", given, room);
        }
        limits.setMax(budget.maxConnections());
        udp.setMaxFlows(budget.maxFlows());
    }

    /** The global connection limit in force (given, or derived from the descriptor limit). */
    public int maxConnections() {
        return limits.max();
    }

    /** The client connection from {@code client} has closed: its slot, and its place in the per-client count, free up. */
    void clientClosed(InetSocketAddress client) {
        if (limits.perClient()) {
            limits.clientClosed(client.getAddress());
        }
        limits.release();
    }

    /** A listener stopped accepting at the connection limit. */
    void limitReached(InetSocketAddress listener) {
        observer.limitReached(listener);
        long n = throttle.occurred(Limits.class);
        if (n > 0) {
            log.warn("{} connections open, the limit (--max-connections): not accepting on {} until one closes;"
                    + " new clients wait in the kernel's backlog ({} time(s) in the last {} s)", limits.max(),
                    Addresses.format(listener), n, throttle.intervalSeconds());
        }
    }

    /** A per-client limit reset a connection as soon as it was accepted. */
    void clientRefused(InetSocketAddress client, ClientLimit limit) {
        observer.clientRefused(client, limit);
        long n = throttle.occurred(client.getAddress());
        if (n > 0) {
            log.warn("client {} over {}: connection reset on accept ({} in the last {} s)",
                    client.getAddress().getHostAddress(), limit.option(), n, throttle.intervalSeconds());
        }
    }

    /** Accepting on {@code listener} failed (out of descriptors, say): counted, and logged once per interval. */
    void acceptFailed(InetSocketAddress listener, Throwable cause) {
        if (LocalFailure.of(cause) == LocalFailure.DESCRIPTORS) {
            limits.backOff();
        }
        observer.acceptFailed(listener, cause);
        long n = throttle.occurred(listener);
        if (n > 0) {
            log.warn("accepting on {} failed: {}; retrying in a second ({} failure(s) in the last {} s)",
                    Addresses.format(listener), Transport.describe(cause), n, throttle.intervalSeconds());
        }
    }

    /** nthlb could not open a connection to the relay's backend itself; logged once per backend and cause per interval. */
    void localFailure(RelayBase relay, LocalFailure why, Throwable cause) {
        if (why == LocalFailure.DESCRIPTORS) {
            // The next clients could only be reset the same way: leave them in the backlog a while.
            limits.backOff();
        }
        long n = throttle.occurred(new LocalFailureKey(relay.route.backend(), why));
        if (n > 0) {
            log.warn("conn {}: cannot connect to {}: {} ({}); the backend is not at fault: {} ({} such failure(s)"
                    + " in the last {} s)", relay.id, Addresses.format(relay.route.backend()), why.description(),
                    Transport.describe(cause), why.remedy(), n, throttle.intervalSeconds());
        }
    }

    private record LocalFailureKey(InetSocketAddress backend, LocalFailure why) {
    }

    /** The --source address the next connection to {@code backend} binds, port 0; {@code null} when there is none. */
    InetSocketAddress sourceFor(InetSocketAddress backend) {
        List<InetSocketAddress> sources = backend.getAddress() instanceof Inet6Address ? sources6 : sources4;
        if (sources.isEmpty()) {
            return null;
        }
        return sources.get(Math.floorMod(nextSource.getAndIncrement(), sources.size()));
    }

    private static List<InetSocketAddress> sourcesOf(List<InetAddress> addresses, boolean v6) {
        return addresses.stream().filter(a -> (a instanceof Inet6Address) == v6)
                .map(a -> new InetSocketAddress(a, 0)).toList();
    }

    long idleTimeoutNanos() {
        return idleTimeoutNanos;
    }

    long nextConnectionId() {
        return connectionIds.incrementAndGet();
    }

    long connectTimeoutNanos() {
        return TimeUnit.MILLISECONDS.toNanos(connectTimeoutMillis);
    }

    /**
     * Starts connecting to {@code backend} from a new channel on {@code loop} (the client's own loop), with
     * {@code handler} as its only handler. Built by hand rather than by cloning a {@code Bootstrap}: this runs
     * once per connection, and a clone copies option maps and sets each option through a generic path.
     *
     * @param source with {@code --transparent}, the client's address to connect from; otherwise the next
     *               {@code --source} address ({@link #sourceFor}), or {@code null}
     */
    ChannelFuture connectBackend(EventLoop loop, ChannelHandler handler, InetSocketAddress backend,
                                 InetSocketAddress source) {
        SocketChannel channel = options.transport().newSocketChannel(backend);
        SocketChannelConfig config = channel.config();
        config.setAutoRead(false);
        config.setAllowHalfClosure(true);
        // No setTcpNoDelay: Netty turns TCP_NODELAY on in every socket channel's constructor already
        // (TransportTest pins that), and each extra setsockopt is a syscall per connection.
        config.setKeepAlive(true);
        config.setConnectTimeoutMillis(connectTimeoutMillis);
        config.setWriteBufferWaterMark(options.waterMark());
        config.setAllocator(options.allocator());
        config.setRecvByteBufAllocator(READS);
        if (source != null && options.clientAddressing().transparent()) {
            // As EpollRelay.bindToClient: the client's address and port, shared with other backends if need be.
            config.setOption(options.transport().transparentOption(), true);
            config.setOption(ChannelOption.SO_REUSEADDR, true);
        } else if (source != null) {
            // A --source address: the port is chosen at connect, per destination (see EpollRelay).
            config.setOption(BIND_ADDRESS_NO_PORT, 1);
        }
        channel.pipeline().addLast(handler);
        ChannelFuture registered = loop.register(channel);
        if (registered.isDone()) {
            // The usual case: registering on the loop we run on completes at once.
            return registered.isSuccess() ? channel.connect(backend, source) : registered;
        }
        ChannelPromise connected = channel.newPromise();
        registered.addListener(f -> {
            if (f.isSuccess()) {
                channel.connect(backend, source, connected);
            } else {
                connected.setFailure(f.cause());
            }
        });
        return connected;
    }

    void opened(RelayBase relay) {
        open.add(relay);
    }

    void closed(RelayBase relay) {
        open.remove(relay);
        if (draining && open.isEmpty()) {
            drained.complete(null);
        }
    }

    /**
     * Makes the listeners exactly {@code addresses} (see {@link ListenerSet#reconcile}) and returns where each
     * is bound, in the same order: port 0 comes back as the port the kernel chose.
     */
    public List<InetSocketAddress> listen(Collection<InetSocketAddress> addresses) {
        listeners.reconcile(addresses);
        return addresses.stream().map(listeners::boundAddress).toList();
    }

    private static long saturatedNanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE / 2;
        }
    }
}
