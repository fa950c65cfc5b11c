package io.nthlb.proxy;

import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.WriteBufferWaterMark;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * How the data plane runs: transport, threads, timeouts, binding and per-connection buffering; built once
 * from the command line.
 *
 * @param transport      the transport (already resolved: see {@link Transport#resolve})
 * @param threads        event-loop threads
 * @param connectTimeout how long a backend has to accept a connection before the client is reset
 * @param idleTimeout    how long a connection may carry nothing either way before both sides are reset
 * @param bindAny        set IP_FREEBIND on listeners, so they can bind an address this host does not own yet
 * @param waterMark      per-direction write-buffer bounds: reading the other side pauses above high and
 *                       resumes below low
 * @param allocator      where buffers come from (pooled direct by default)
 * @param clientAddressing how backends learn the real client: PROXY headers sent or accepted, transparent mode
 * @param limits         how many connections are served at once, in all and per client
 * @param sources        local addresses backend connections are spread over (bound with
 *                       IP_BIND_ADDRESS_NO_PORT), or none to let the kernel choose by route
 */
public record ProxyOptions(Transport transport, int threads, Duration connectTimeout, Duration idleTimeout,
                           boolean bindAny, WriteBufferWaterMark waterMark, ByteBufAllocator allocator,
                           ClientAddressing clientAddressing, Limits limits, List<InetAddress> sources) {

    /** The kernel's conntrack keeps an idle established TCP connection for 5 days; so does nthlb by default. */
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofDays(5);
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);
    /** Netty's own default, 32 KiB low and 64 KiB high: enough to keep loopback and LAN links busy. */
    public static final WriteBufferWaterMark DEFAULT_WATER_MARK = new WriteBufferWaterMark(32 * 1024, 64 * 1024);

    public ProxyOptions {
        Objects.requireNonNull(transport, "transport");
        Objects.requireNonNull(waterMark, "waterMark");
        Objects.requireNonNull(allocator, "allocator");
        Objects.requireNonNull(clientAddressing, "clientAddressing");
        Objects.requireNonNull(limits, "limits");
        sources = List.copyOf(sources);
        if (threads < 1) {
            throw new IllegalArgumentException("threads: " + threads + " (expected: >= 1)");
        }
        if (connectTimeout.isNegative() || connectTimeout.isZero() || connectTimeout.toMillis() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("connectTimeout: " + connectTimeout + " (expected: > 0 and < 24 days)");
        }
        if (idleTimeout.isNegative() || idleTimeout.isZero()) {
            throw new IllegalArgumentException("idleTimeout: " + idleTimeout + " (expected: > 0)");
        }
        if (bindAny && transport.freeBindOption() == null) {
            throw new IllegalArgumentException("--bind-any needs the epoll or io_uring transport (nio cannot set IP_FREEBIND)");
        }
        if (clientAddressing.transparent() && transport.transparentOption() == null) {
            throw new IllegalArgumentException("--transparent needs the epoll or io_uring transport"
                    + " (nio cannot set IP_TRANSPARENT)");
        }
        if (!sources.isEmpty() && !transport.bindsSourceWithoutPort()) {
            throw new IllegalArgumentException("--source needs the epoll or io_uring transport (nio cannot set"
                    + " IP_BIND_ADDRESS_NO_PORT, without which each source address would hold a port per connection"
                    + " for all backends at once)");
        }
        if (!sources.isEmpty() && clientAddressing.transparent()) {
            throw new IllegalArgumentException("--source and --transparent exclude each other (--transparent"
                    + " connects to backends from each client's own address)");
        }
    }

    /** The defaults on {@code transport}: {@link #defaultThreads()}, 5 s connect timeout, 5 days idle. */
    public static ProxyOptions defaults(Transport transport) {
        return new ProxyOptions(transport, defaultThreads(), DEFAULT_CONNECT_TIMEOUT,
                DEFAULT_IDLE_TIMEOUT, false, DEFAULT_WATER_MARK, ByteBufAllocator.DEFAULT, ClientAddressing.NONE,
                Limits.DEFAULT, List.of());
    }

    /**
     * One event loop more than there are cores: with one per core, a loop that sleeps can leave its core idle while
     * a thread it has just woken waits on another core, and a spare loop is usually runnable then.
     */
    public static int defaultThreads() {
        return Runtime.getRuntime().availableProcessors() + 1;
    }

    public ProxyOptions withThreads(int n) {
        return new ProxyOptions(transport, n, connectTimeout, idleTimeout, bindAny, waterMark, allocator,
                clientAddressing, limits, sources);
    }

    public ProxyOptions withConnectTimeout(Duration d) {
        return new ProxyOptions(transport, threads, d, idleTimeout, bindAny, waterMark, allocator,
                clientAddressing, limits, sources);
    }

    public ProxyOptions withIdleTimeout(Duration d) {
        return new ProxyOptions(transport, threads, connectTimeout, d, bindAny, waterMark, allocator,
                clientAddressing, limits, sources);
    }

    public ProxyOptions withBindAny(boolean b) {
        return new ProxyOptions(transport, threads, connectTimeout, idleTimeout, b, waterMark, allocator,
                clientAddressing, limits, sources);
    }

    public ProxyOptions withWaterMark(WriteBufferWaterMark w) {
        return new ProxyOptions(transport, threads, connectTimeout, idleTimeout, bindAny, w, allocator,
                clientAddressing, limits, sources);
    }

    public ProxyOptions withAllocator(ByteBufAllocator a) {
        return new ProxyOptions(transport, threads, connectTimeout, idleTimeout, bindAny, waterMark, a,
                clientAddressing, limits, sources);
    }

    public ProxyOptions withClientAddressing(ClientAddressing c) {
        return new ProxyOptions(transport, threads, connectTimeout, idleTimeout, bindAny, waterMark, allocator, c,
                limits, sources);
    }

    public ProxyOptions withLimits(Limits l) {
        return new ProxyOptions(transport, threads, connectTimeout, idleTimeout, bindAny, waterMark, allocator,
                clientAddressing, l, sources);
    }

    public ProxyOptions withSources(List<InetAddress> s) {
        return new ProxyOptions(transport, threads, connectTimeout, idleTimeout, bindAny, waterMark, allocator,
                clientAddressing, limits, s);
    }
}
