package io.nthlb.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.unix.UnixChannelOption;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One UDP flow, as conntrack keeps one: the datagrams from one client address and port to one listener, decided
 * once, and the socket connected to the backend that carries them there and the replies back.
 *
 * <p>It lives on its listener's event loop, with its backend socket registered on the same loop, so no field
 * needs to be volatile. Its timer runs out {@link UdpOptions#timeout()} after the last datagram either way, or
 * {@link UdpOptions#streamTimeout()} once the backend has answered and the flow is older than
 * {@value UdpOptions#STREAM_AFTER_SECONDS} s, as the kernel refreshes a UDP conntrack entry on every packet.
 */
final class UdpFlow extends ChannelInboundHandlerAdapter implements Connection, Runnable {

    private static final Logger log = LoggerFactory.getLogger(UdpFlow.class);
    /** The most datagrams held while a backend socket connects: a burst's first few, not a queue. */
    private static final int MAX_PENDING = 64;
    private static final long STREAM_AFTER_NANOS = TimeUnit.SECONDS.toNanos(UdpOptions.STREAM_AFTER_SECONDS);

    private final UdpProxy proxy;
    private final UdpFlowTable table;
    private final long id;
    private final InetSocketAddress client;
    private final InetSocketAddress local;
    private final InetSocketAddress listener;
    private final long startNanos;
    private Route route;
    private ConnectionObserver observer = ConnectionObserver.NONE;
    /** The socket towards the backend, or {@code null} when no rule NATs the flow (its datagrams are dropped). */
    private DatagramChannel backend;
    /**
     * For a flow of a wildcard listener: a socket bound to the address the client wrote to and connected to the
     * client, so that replies leave from that address (a wildcard socket's would leave from whichever address the
     * route to the client prefers). Being connected, it also receives the flow's later datagrams. {@code null}
     * when the listener is bound to one address, or the transport cannot tell the address the client used.
     */
    private DatagramChannel clientSide;
    /** Datagrams from the client while the backend socket connects (io_uring only), or {@code null}. */
    private ArrayDeque<ByteBuf> pending;
    private boolean replied;
    private long expiresAtNanos;
    private ScheduledFuture<?> timer;
    private long fromClient;
    private long fromBackend;
    private Ending ending;
    private long endNanos;

    UdpFlow(UdpProxy proxy, UdpFlowTable table, InetSocketAddress client, InetSocketAddress local,
            InetSocketAddress listener) {
        this.proxy = proxy;
        this.table = table;
        this.id = proxy.server().nextConnectionId();
        this.client = client;
        this.local = local;
        this.listener = listener;
        this.startNanos = System.nanoTime();
        this.expiresAtNanos = startNanos + proxy.timeoutNanos();
    }

    /**
     * Decides the flow and opens its backend socket. A flow no rule NATs is kept all the same, as conntrack keeps
     * an entry without NAT: its datagrams are dropped until it times out, and are not decided again.
     */
    void open() {
        try {
            route = proxy.router().route(client, local);
        } catch (RuntimeException e) {
            log.error("conn {}: routing failed", id, e);
        }
        if (route == null) {
            route = Route.none("-");
        }
        observer = proxy.observer().accepted(this);
        timer = table.loop().schedule(this, proxy.timeoutNanos(), TimeUnit.NANOSECONDS);
        InetSocketAddress target = route.backend();
        if (target == null) {
            return;
        }
        observer.connecting();
        ProxyOptions options = proxy.server().options();
        DatagramChannel channel;
        try {
            channel = options.transport().newDatagramChannel();
        } catch (ChannelException e) {
            // No socket to be had (too many open files): the flow ends now rather than drop datagrams for 30 s.
            log.warn("conn {}: no udp socket for {}: {}", id, Addresses.format(target), e.getMessage());
            observer.connectFailed(Ending.UNREACHABLE);
            end(Ending.UNREACHABLE);
            return;
        }
        channel.config().setAllocator(options.allocator());
        channel.config().setRecvByteBufAllocator(UdpProxy.DATAGRAMS);
        channel.config().setOption(ChannelOption.WRITE_BUFFER_WATER_MARK, options.waterMark());
        channel.pipeline().addLast(this);
        backend = channel;
        ChannelFuture registered = table.loop().register(channel);
        if (registered.isDone()) {
            // epoll and nio: registering and connecting a UDP socket on the loop it runs on completes at once.
            ChannelFuture connected = registered.isSuccess() ? channel.connect(target) : registered;
            if (connected.isDone()) {
                backendConnected(connected);
                return;
            }
            waitForConnect(connected);
            return;
        }
        // io_uring registers and connects asynchronously: the client's datagrams wait for it (a few, no more).
        pending = new ArrayDeque<>();
        registered.addListener(f -> {
            if (f.isSuccess()) {
                waitForConnect(channel.connect(target));
            } else {
                backendConnected((ChannelFuture) f);
            }
        });
    }

    private void waitForConnect(ChannelFuture connected) {
        if (pending == null) {
            pending = new ArrayDeque<>();
        }
        connected.addListener(f -> backendConnected((ChannelFuture) f));
    }

    /** The backend socket is connected, or could not be: the flow goes on (datagrams held are sent) or ends. */
    private void backendConnected(ChannelFuture connected) {
        if (ending != null) {
            return;
        }
        if (!connected.isSuccess()) {
            log.debug("conn {}: udp socket to {} failed: {}", id, Addresses.format(route.backend()),
                    String.valueOf(connected.cause()));
            observer.connectFailed(Ending.UNREACHABLE);
            end(Ending.UNREACHABLE);
            return;
        }
        observer.connected();
        if (listener.getAddress().isAnyLocalAddress() && !local.getAddress().isAnyLocalAddress()) {
            clientSide = replySocket(proxy.server().options());
        }
        ArrayDeque<ByteBuf> held = pending;
        pending = null;
        if (held != null && !held.isEmpty()) {
            for (ByteBuf datagram : held) {
                backend.write(datagram, backend.voidPromise());
            }
            backend.flush();
        }
    }

    /** The socket replies leave from, for a flow of a wildcard listener; {@code null} if it cannot be made. */
    private DatagramChannel replySocket(ProxyOptions options) {
        DatagramChannel channel = options.transport().newDatagramChannel();
        channel.config().setAllocator(options.allocator());
        channel.config().setRecvByteBufAllocator(UdpProxy.DATAGRAMS);
        // The listener's port is taken by the listener's own sockets, which allow this one beside them.
        channel.config().setOption(ChannelOption.SO_REUSEADDR, true);
        if (options.transport().acceptsOnEveryEventLoop()) {
            channel.config().setOption(UnixChannelOption.SO_REUSEPORT, true);
        }
        channel.pipeline().addLast(new ClientSide());
        ChannelFuture registered = table.loop().register(channel);
        ChannelFuture bound = registered.isSuccess() ? channel.bind(local) : registered;
        ChannelFuture connected = bound.isSuccess() ? channel.connect(client) : bound;
        if (!connected.isSuccess()) {
            log.debug("conn {}: no reply socket on {}: {}", id, Addresses.format(local),
                    connected.cause() == null ? "not done" : connected.cause().toString());
            channel.close();
            return null;
        }
        return channel;
    }

    /** The client's side of a {@link #clientSide} socket: the flow's datagrams that arrive on it. */
    private final class ClientSide extends ChannelInboundHandlerAdapter {
        private boolean written;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            written |= fromClient(msg instanceof ByteBufHolder holder ? holder.content() : (ByteBuf) msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (written) {
                written = false;
                flushToBackend();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // An ICMP error for a reply: the client went away; the flow's timer forgets it.
            if (log.isDebugEnabled()) {
                log.debug("conn {}: client {} failed: {}", id, Addresses.format(client), cause.toString());
            }
        }
    }

    /**
     * A datagram from the client: written (not yet flushed) to the backend. Returns whether it was written, so
     * that the listener flushes the flow when its read batch ends.
     */
    boolean fromClient(ByteBuf content) {
        DatagramChannel b = backend;
        boolean held = pending != null;
        if (ending != null || b == null || (held ? pending.size() >= MAX_PENDING : !b.isWritable())) {
            // No rule, or a backend socket that cannot take more: dropped, as a full socket buffer drops it.
            content.release();
            return false;
        }
        refresh();
        int n = content.readableBytes();
        fromClient += n;
        route.bytesRelayed(n);
        observer.bytesRelayed(Direction.CLIENT_TO_BACKEND, n);
        if (held) {
            pending.add(content);
            return false;
        }
        b.write(content, b.voidPromise());
        return true;
    }

    void flushToBackend() {
        if (backend != null && ending == null && pending == null) {
            backend.flush();
        }
    }

    /** A datagram from the backend, on the flow's own socket: sent to the client from the listener's socket. */
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf content = msg instanceof ByteBufHolder holder ? holder.content() : (ByteBuf) msg;
        Channel out = clientSide != null ? clientSide : table.channel();
        if (ending != null || out == null || !out.isWritable()) {
            ReferenceCountUtil.release(msg);
            return;
        }
        refresh();
        replied = true;
        int n = content.readableBytes();
        fromBackend += n;
        route.bytesRelayed(n);
        observer.bytesRelayed(Direction.BACKEND_TO_CLIENT, n);
        out.write(clientSide != null ? content : new DatagramPacket(content, client), out.voidPromise());
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        Channel out = clientSide != null ? clientSide : table.channel();
        if (out != null) {
            out.flush();
        }
    }

    /**
     * An error on the backend socket: an ICMP port unreachable (the backend has no socket on the port) ends the
     * flow, and so does any other ICMP error reported on it, as conntrack drops an entry whose destination answers
     * with one; the next datagram from the client is a new flow, decided again.
     */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (ending != null) {
            return;
        }
        if (log.isDebugEnabled()) {
            log.debug("conn {}: backend {} failed: {}", id, Addresses.format(route.backend()), cause.toString());
        }
        end(cause instanceof PortUnreachableException || String.valueOf(cause.getMessage()).contains("refused")
                ? Ending.REFUSED : Ending.UNREACHABLE);
    }

    /** A datagram went through: the timer restarts, with the stream timeout once answered and old enough. */
    private void refresh() {
        long now = System.nanoTime();
        expiresAtNanos = now + (isStream(replied, now - startNanos) ? proxy.streamTimeoutNanos() : proxy.timeoutNanos());
    }

    /**
     * Whether a datagram refreshes the flow with the stream timeout: the kernel's rule (udp_packet, stream_ts) is a reply
     * seen before this datagram and a flow older than {@value UdpOptions#STREAM_AFTER_SECONDS} s, so that a single
     * request and answer (DNS) is forgotten after the short timeout.
     */
    static boolean isStream(boolean replied, long ageNanos) {
        return replied && ageNanos > STREAM_AFTER_NANOS;
    }

    /** The timer: ends the flow when nothing refreshed it, else waits for the new expiry. */
    @Override
    public void run() {
        if (ending != null) {
            return;
        }
        long left = expiresAtNanos - System.nanoTime();
        if (left > 0) {
            timer = table.loop().schedule(this, left, TimeUnit.NANOSECONDS);
            return;
        }
        end(Ending.UDP_TIMEOUT);
    }

    /** Ends the flow once: its backend socket closed, its place freed, the counters, observer and access log told. */
    void end(Ending how) {
        if (ending != null) {
            return;
        }
        ending = how;
        endNanos = System.nanoTime();
        if (timer != null) {
            timer.cancel(false);
        }
        if (backend != null) {
            backend.close();
        }
        if (pending != null) {
            pending.forEach(ByteBuf::release);
            pending = null;
        }
        if (clientSide != null) {
            clientSide.close();
        }
        table.remove(this);
        proxy.releaseFlow();
        try {
            route.ended(how);
            observer.ended(this);
        } catch (RuntimeException e) {
            log.error("conn {}: an observer failed", id, e);
        }
        AccessLogLine.ended(this);
    }

    @Override
    public long id() {
        return id;
    }

    @Override
    public InetSocketAddress client() {
        return client;
    }

    @Override
    public InetSocketAddress local() {
        return local;
    }

    @Override
    public InetSocketAddress listener() {
        return listener;
    }

    @Override
    public Route route() {
        return route;
    }

    @Override
    public long bytesFromClient() {
        return fromClient;
    }

    @Override
    public long bytesFromBackend() {
        return fromBackend;
    }

    @Override
    public long durationNanos() {
        return (ending == null ? System.nanoTime() : endNanos) - startNanos;
    }

    @Override
    public Ending ending() {
        return ending;
    }

    /** A flow is never retried on another backend: it has no connect that could fail. */
    @Override
    public int retries() {
        return 0;
    }
}
