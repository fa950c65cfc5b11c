package io.nthlb.proxy;

import io.netty.channel.ChannelFactory;
import io.netty.channel.ChannelOption;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.SocketProtocolFamily;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringChannelOption;
import io.netty.channel.uring.IoUringDatagramChannel;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.nio.channels.spi.SelectorProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Netty transports nthlb can run on: native epoll (the default), NIO (the portable fallback) and
 * io_uring (only when asked for).
 */
public enum Transport {
    EPOLL("epoll") {
        @Override
        public boolean isAvailable() {
            return Epoll.isAvailable();
        }

        @Override
        public Throwable unavailabilityCause() {
            return Epoll.unavailabilityCause();
        }

        @Override
        IoHandlerFactory ioHandlerFactory() {
            return EpollIoHandler.newFactory();
        }

        @Override
        ChannelOption<Boolean> freeBindOption() {
            return EpollChannelOption.IP_FREEBIND;
        }

        @Override
        ChannelOption<Boolean> transparentOption() {
            return EpollChannelOption.IP_TRANSPARENT;
        }

        @Override
        boolean acceptsOnEveryEventLoop() {
            return true;
        }

        @Override
        boolean relaysDirectly() {
            return true;
        }

        @Override
        DatagramChannel newDatagramChannel() {
            return new EpollDatagramChannel(SocketProtocolFamily.INET);
        }

        @Override
        ChannelOption<Boolean> originalDestinationOption() {
            return EpollChannelOption.IP_RECVORIGDSTADDR;
        }
    },
    NIO("nio") {
        @Override
        public boolean isAvailable() {
            return true;
        }

        @Override
        public Throwable unavailabilityCause() {
            return null;
        }

        @Override
        IoHandlerFactory ioHandlerFactory() {
            return NioDeferredClose.factory();
        }

        @Override
        ChannelFactory<? extends ServerChannel> serverChannelFactory(InetSocketAddress local) {
            // The JDK opens an IPv6 socket unless told otherwise, and binds 0.0.0.0 on it as the dual-stack [::]:
            // an IPv4 address gets an IPv4 socket, so the wildcard is 0.0.0.0 as with epoll.
            SocketProtocolFamily family = local.getAddress() instanceof Inet6Address
                    ? SocketProtocolFamily.INET6 : SocketProtocolFamily.INET;
            return () -> new NioServerSocketChannel(SelectorProvider.provider(), family);
        }

        @Override
        SocketChannel newSocketChannel(InetSocketAddress target) {
            return new NioSocketChannel();
        }

        @Override
        ChannelOption<Boolean> freeBindOption() {
            return null;
        }

        @Override
        ChannelOption<Boolean> transparentOption() {
            return null;
        }

        @Override
        DatagramChannel newDatagramChannel() {
            return new NioDatagramChannel(SocketProtocolFamily.INET);
        }

        @Override
        boolean acceptsOnEveryEventLoop() {
            return false;
        }

        @Override
        boolean bindsSourceWithoutPort() {
            return false;
        }
    },
    IO_URING("io_uring") {
        @Override
        public boolean isAvailable() {
            return IoUring.isAvailable();
        }

        @Override
        public Throwable unavailabilityCause() {
            return IoUring.unavailabilityCause();
        }

        @Override
        IoHandlerFactory ioHandlerFactory() {
            return IoUringIoHandler.newFactory();
        }

        @Override
        ChannelFactory<? extends ServerChannel> serverChannelFactory(InetSocketAddress local) {
            // Netty's io_uring server channel has no choice of family: 0.0.0.0 is bound as the dual-stack [::].
            return IoUringServerSocketChannel::new;
        }

        @Override
        SocketChannel newSocketChannel(InetSocketAddress target) {
            return new IoUringSocketChannel();
        }

        @Override
        ChannelOption<Boolean> freeBindOption() {
            return IoUringChannelOption.IP_FREEBIND;
        }

        @Override
        ChannelOption<Boolean> transparentOption() {
            return IoUringChannelOption.IP_TRANSPARENT;
        }

        @Override
        DatagramChannel newDatagramChannel() {
            return new IoUringDatagramChannel(SocketProtocolFamily.INET);
        }

        @Override
        boolean acceptsOnEveryEventLoop() {
            return true;
        }
    };

    private static final Logger log = LoggerFactory.getLogger(Transport.class);

    /*
     * io_uring's multishot accept keeps accepting while it is armed, whatever the listener asks: it would take in a
     * whole backlog past --max-connections, and out of descriptors it fails again at once, a hundred thousand
     * times a second. One accept at a time stops where nthlb stops asking. Set before Netty's IoUring class reads
     * it (its first use goes through this enum); a -D on the command line still wins.
     */
    static {
        if (System.getProperty("io.netty.iouring.acceptMultiShotEnabled") == null) {
            System.setProperty("io.netty.iouring.acceptMultiShotEnabled", "false");
        }
    }

    private final String label;

    Transport(String label) {
        this.label = label;
    }

    /** Whether this transport's native library loaded on this machine. */
    public abstract boolean isAvailable();

    /** Why {@link #isAvailable()} is false, or {@code null} when it is available. */
    public abstract Throwable unavailabilityCause();

    abstract IoHandlerFactory ioHandlerFactory();

    /**
     * The listening channels for {@code local} on a transport that relays through Netty channels (see
     * {@link #relaysDirectly}).
     */
    ChannelFactory<? extends ServerChannel> serverChannelFactory(InetSocketAddress local) {
        throw new UnsupportedOperationException(label + " relays without Netty channels");
    }

    /** A new, unregistered channel for connecting to {@code target}, on a transport that relays through channels. */
    SocketChannel newSocketChannel(InetSocketAddress target) {
        throw new UnsupportedOperationException(label + " relays without Netty channels");
    }

    /** A new, unregistered IPv4 UDP channel: a UDP listener, or a flow's socket towards its backend. */
    abstract DatagramChannel newDatagramChannel();

    /**
     * The channel option that makes a UDP socket report each datagram's destination address (IP_RECVORIGDSTADDR),
     * which a wildcard listener needs to know the address the client wrote to, or {@code null} when the transport
     * cannot set it.
     */
    ChannelOption<Boolean> originalDestinationOption() {
        return null;
    }

    /** The channel option that sets IP_FREEBIND, or {@code null} when the transport cannot set it. */
    abstract ChannelOption<Boolean> freeBindOption();

    /**
     * The channel option that sets IP_TRANSPARENT (a socket may bind an address this host does not own, the
     * client's), or {@code null} when the transport cannot set it.
     */
    abstract ChannelOption<Boolean> transparentOption();

    /**
     * Whether each event loop gets its own listening socket through SO_REUSEPORT, so the kernel spreads new
     * connections over the loops and no accepted channel is handed from one thread to another.
     */
    abstract boolean acceptsOnEveryEventLoop();

    /**
     * Whether backend sockets can be bound to a source address with IP_BIND_ADDRESS_NO_PORT (the port then chosen
     * at connect, per destination): epoll by a raw setsockopt, io_uring through its channel options; the JDK's
     * sockets behind NIO have no such option.
     */
    boolean bindsSourceWithoutPort() {
        return true;
    }

    /**
     * Whether connections are relayed by {@link EpollRelay} on sockets registered with the event loop directly,
     * rather than by {@link ChannelRelay} on Netty channels.
     */
    boolean relaysDirectly() {
        return false;
    }

    /** The name users type after {@code --transport}. */
    public String label() {
        return label;
    }

    /** The transport for a name typed by a user: {@code epoll}, {@code nio} or {@code io_uring}. */
    public static Transport forLabel(String label) {
        for (Transport t : values()) {
            if (t.label.equalsIgnoreCase(label) || t.name().equalsIgnoreCase(label)) {
                return t;
            }
        }
        throw new IllegalArgumentException("transport: " + label + " (expected: epoll, nio or io_uring)");
    }

    /**
     * The transport to run on when the user asked for {@code requested}: epoll falls back to NIO with a
     * warning, because epoll is only the default; io_uring asked for by name and not available is an error,
     * because a benchmark run on the wrong transport would measure the wrong thing.
     *
     * @throws UnavailableTransportException when io_uring was asked for and cannot run here
     */
    public static Transport resolve(Transport requested) {
        if (requested.isAvailable()) {
            return requested;
        }
        if (requested == EPOLL) {
            log.warn("epoll is not available ({}); using nio", describe(EPOLL.unavailabilityCause()));
            return NIO;
        }
        throw new UnavailableTransportException("transport " + requested.label + " is not available here ("
                + describe(requested.unavailabilityCause()) + "); use --transport epoll or --transport nio");
    }

    /** The innermost cause's message (the system call and its error, say), without the wrappers' class names. */
    static String describe(Throwable cause) {
        if (cause == null) {
            return "no reason given";
        }
        Throwable root = cause;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    }

    @Override
    public String toString() {
        return label;
    }
}
