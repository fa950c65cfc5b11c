package io.nthlb.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoEvent;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.epoll.LinuxSocket;
import io.netty.channel.unix.Buffer;
import io.netty.channel.unix.FileDescriptor;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A relay on the epoll transport that moves bytes with the socket calls themselves, without Netty channels:
 * each of its two sockets is an {@link EpollIoHandle} registered on the client's event loop (Netty 4.2's
 * public I/O-handle API), edge-triggered for input, output and peer shutdown at once, so after the two
 * {@code epoll_ctl(ADD)} calls a connection needs no other epoll call in its life. Netty's channels cost a new
 * connection about twice the system calls HAProxy makes; this relay makes about as many as HAProxy.
 *
 * <p>Bytes read from one socket are written to the other at once from a per-thread buffer. When the other
 * socket takes only part of them, the rest is kept (one buffer per direction at most) and reading this
 * socket stops until the other one drains: that is the backpressure, and what bounds memory per
 * connection. Reading from the client starts only once the backend has accepted: what the client sends
 * before that waits in its socket, and a backend that cannot be reached costs the client a reset and
 * nothing read. A backend on this host has usually accepted by the time connect(2) returns (getpeername
 * tells), and then the client is read at once, so its first bytes go out in the same turn of the loop.
 *
 * <p>Half-close passes through: end of input on one socket becomes {@code shutdown(SHUT_WR)} on the other
 * once the bytes kept for it are written, and the pair closes when both directions have ended. A reset or
 * error on one socket closes the other with SO_LINGER 0, so its peer sees a reset too.
 */
final class EpollRelay extends RelayBase {

    private static final Logger log = LoggerFactory.getLogger(EpollRelay.class);

    /** Up to this much is read per call: a bulk transfer needs few calls, and the buffer is one per thread. */
    static final int READ_SIZE = 256 * 1024;

    /** IPPROTO_TCP and TCP_CORK, SOL_IP and IP_TRANSPARENT, SOL_IPV6 and IPV6_TRANSPARENT: Linux's numbers. */
    private static final int IPPROTO_TCP = 6;
    private static final int TCP_CORK = 3;
    private static final int SOL_IP = 0;
    private static final int IP_TRANSPARENT = 19;
    private static final int SOL_IPV6 = 41;
    private static final int IPV6_TRANSPARENT = 75;
    /** IP_BIND_ADDRESS_NO_PORT (level SOL_IP): Linux's number. */
    private static final int IP_BIND_ADDRESS_NO_PORT = 24;
    private static final int IN = EpollIoOps.EPOLLIN.value();
    private static final int OUT = EpollIoOps.EPOLLOUT.value();
    private static final int RDHUP = EpollIoOps.EPOLLRDHUP.value();
    private static final int ERR = EpollIoOps.EPOLLERR.value();
    /** Edge-triggered: an event comes when something changes, so interest never needs to be changed. */
    private static final EpollIoOps INTEREST =
            EpollIoOps.EPOLLIN.with(EpollIoOps.EPOLLOUT).with(EpollIoOps.EPOLLRDHUP).with(EpollIoOps.EPOLLET);

    /** The buffer reads land in, one per event-loop thread, with its native address. */
    private static final FastThreadLocal<Scratch> SCRATCH = new FastThreadLocal<>() {
        @Override
        protected Scratch initialValue() {
            return new Scratch(ByteBuffer.allocateDirect(READ_SIZE));
        }
    };

    private record Scratch(ByteBuffer buffer, long address) {
        Scratch(ByteBuffer buffer) {
            this(buffer, Buffer.memoryAddress(buffer));
        }
    }

    private final IoEventLoop ioLoop;
    private final SideSocket client;
    private SideSocket backend;
    /**
     * What the backend gets before the client's next bytes (the PROXY header sent, payload that came with the one
     * accepted): written together with the client's first read, so that it costs no write of its own.
     */
    private byte[] preface;

    private EpollRelay(ProxyServer server, long id, IoEventLoop loop, int client, InetSocketAddress remote,
                       InetSocketAddress local, InetSocketAddress listener) {
        super(server, id, loop, remote, local, listener);
        this.ioLoop = loop;
        // A plain descriptor: a LinuxSocket would ask the kernel for the address family (getsockname) when it is
        // made, and most connections need no socket call on the client's side but read, write and close.
        this.client = new SideSocket(clientSide, new FileDescriptor(client), null);
    }

    /**
     * Takes over the socket {@code fd} just accepted on {@code listener}: routes it and starts connecting to its
     * backend, or resets it when no rule NATs it.
     *
     * @param local the connection's local address, or {@code null} to ask the socket (wildcard listeners)
     */
    static void accepted(ProxyServer server, IoEventLoop loop, int fd, InetSocketAddress remote,
                         InetSocketAddress local, InetSocketAddress listener) {
        if (local == null) {
            try {
                local = LinuxSocket.newSocket(fd).localAddress();
            } catch (RuntimeException e) {
                // Without its slot and descriptor given back, each such connection would shrink the limit by one.
                log.debug("accepted connection from {}: getsockname failed: {}", Addresses.format(remote), e.toString());
                try {
                    new FileDescriptor(fd).close();
                } catch (IOException closing) {
                    // The descriptor is released either way.
                }
                server.clientClosed(remote);
                return;
            }
        }
        EpollRelay relay = new EpollRelay(server, server.nextConnectionId(), loop, fd, remote, local, listener);
        try {
            if (server.options().clientAddressing().acceptProxy()) {
                relay.awaitProxyHeader();
                relay.client.register();
            } else {
                relay.start();
            }
        } catch (Exception e) {
            // As in handle: a bug costs this connection, not the listener's loop.
            log.error("conn {}: relay failed", relay.id, e);
            relay.reset(relay.clientSide, e);
            relay.resetBoth();
        }
    }

    private void start() {
        InetSocketAddress target = routeAndOpen();
        if (target == null) {
            client.close(true);
            return;
        }
        preface = backendPreface();
        releaseHeaderBytes();
        boolean connected = connect(target);
        if (client.closed) {
            return;
        }
        try {
            // After the first read: a client whose bytes were all read now brings no event for them. (With
            // --accept-proxy it was registered to read the header.)
            if (client.registration == null) {
                client.register();
            }
        } catch (Exception e) {
            reset(clientSide, e);
            return;
        }
        if (!connected && ending == null) {
            startConnectTimer();
        }
    }

    /**
     * Makes the backend socket and connects it to {@code target}; returns whether it connected at once (the
     * client has then been read). A failure retries at the next backend the route gives, or resets both.
     */
    private boolean connect(InetSocketAddress target) {
        LinuxSocket socket;
        try {
            socket = LinuxSocket.newSocketStream(target.getAddress() instanceof Inet6Address);
        } catch (RuntimeException e) {
            // Out of file descriptors, most likely: connectFailed tells it apart from a backend that failed.
            return backendFailed(e);
        }
        backend = new SideSocket(backendSide, socket, socket);
        backend.peer = client;
        client.peer = backend;
        boolean connected;
        try {
            socket.setTcpNoDelay(true);
            socket.setKeepAlive(true);
            if (server.options().clientAddressing().transparent()) {
                bindToClient(socket, target);
            } else {
                InetSocketAddress source = server.sourceFor(target);
                if (source != null) {
                    // The port is chosen at connect(2), per destination, so one source address serves every
                    // backend with its whole port range (bind alone would reserve a port for all destinations).
                    socket.setIntOpt(SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1);
                    socket.bind(source);
                }
            }
            backend.register();
            connected = socket.connect(target);
        } catch (Exception e) {
            return backendFailed(e);
        }
        if (!connected) {
            // On loopback and to this host's own addresses the handshake is done before connect(2) returns:
            // getpeername tells, and then the client's first bytes go out now instead of one loop turn later.
            connected = socket.remoteAddress() != null;
        }
        if (connected) {
            backendConnected();
            client.readable();
        }
        return connected;
    }

    /**
     * Connecting failed: closes the backend socket and connects to the next backend the route gives, or
     * resets both. Returns whether that next backend connected at once.
     */
    private boolean backendFailed(Throwable cause) {
        InetSocketAddress next = connectFailed(cause);
        if (backend != null) {
            backend.close(true);
        }
        if (next == null) {
            resetBoth();
            return false;
        }
        return connect(next);
    }

    @Override
    void connectTimedOut() {
        if (backendFailed(new ConnectTimeoutException("connection timed out: " + Addresses.format(route.backend())))
                || ending != null) {
            return;
        }
        startConnectTimer();
    }

    /**
     * Nothing is read from the client before its backend accepts but a PROXY header and what came with it, and
     * those wait in the preface until a backend accepts.
     */
    @Override
    boolean clientBytesReplayable() {
        return true;
    }

    /**
     * {@code --transparent}: the backend connection leaves from the client's own address and port, as a DNATed
     * one does. SO_REUSEADDR lets the same client port reach two backends at once (a client may use one port
     * towards two VIPs); only the very same four-tuple twice fails, at connect, as unreachable.
     */
    private void bindToClient(LinuxSocket socket, InetSocketAddress target) throws IOException {
        socket.setReuseAddress(true);
        if (target.getAddress() instanceof Inet6Address) {
            socket.setIntOpt(SOL_IPV6, IPV6_TRANSPARENT, 1);
        } else {
            socket.setIntOpt(SOL_IP, IP_TRANSPARENT, 1);
        }
        socket.bind(clientAddress);
    }

    /** The backend answered: the client is read from here on, starting with what it sent meanwhile. */
    private void connected() {
        backendConnected();
        if (client.readPending || preface != null) {
            client.readable();
        }
    }

    /**
     * {@code --accept-proxy}: reads the client's PROXY header, never past it where its length is known, and
     * routes the connection once it is complete.
     */
    private void readProxyHeader() {
        if (headerBytes == null) {
            headerBytes = server.options().allocator().directBuffer(ProxyHeader.V1_MAX);
        }
        for (;;) {
            int upTo = proxyHeaderReceived(headerBytes);
            if (upTo < 0) {
                resetBoth();
                return;
            }
            if (upTo == 0) {
                // Read with the header, these are the client's first bytes: they go out in the backend preface.
                clientSide.read(headerBytes.readableBytes());
                // The rest may be in the socket already, and no new edge would announce it.
                client.readPending = true;
                start();
                return;
            }
            int at = headerBytes.writerIndex();
            headerBytes.ensureWritable(upTo - at);
            int n;
            try {
                ByteBuffer nio = headerBytes.internalNioBuffer(at, upTo - at);
                n = client.fd.read(nio, nio.position(), nio.limit());
            } catch (IOException | RuntimeException e) {
                reset(clientSide, e);
                return;
            }
            if (n == 0) {
                return; // EAGAIN: the next edge brings more, or the header timeout ends it
            }
            if (n < 0) {
                badProxyHeader("the client ended its output after " + at + " byte(s)");
                resetBoth();
                return;
            }
            headerBytes.writerIndex(at + n);
        }
    }

    @Override
    void resetBoth() {
        client.close(true);
        if (backend != null) {
            backend.close(true);
        }
    }

    @Override
    void closeBoth() {
        client.close(false);
        backend.close(false);
    }

    /** Both sockets, client first (the backend's is {@code null} before it is made); for tests, on the loop. */
    LinuxSocket[] sockets() {
        return new LinuxSocket[] {client.socket(), backend == null ? null : backend.socket()};
    }

    /** One side's socket: it reads that socket and writes what it reads to the peer's. */
    private final class SideSocket implements EpollIoHandle {
        private final Side side;
        /** The descriptor that reads, writes and closes go to. */
        private final FileDescriptor fd;
        /** The same descriptor as a socket, for the socket calls (shutdown, options); made when first needed. */
        private LinuxSocket socket;
        private SideSocket peer;
        private IoRegistration registration;
        /** An input event came while reading could not start or was paused: read when it can. */
        boolean readPending;
        /** The socket reported EPOLLRDHUP: read until end of input rather than stop at a short read. */
        private boolean rdHup;
        /** Bytes read from the peer that this socket has not taken yet; reading the peer waits for them. */
        private ByteBuf held;
        private boolean closed;
        /** TCP_CORK is on: the peer's input has ended and the FIN will follow the last bytes (see cork). */
        private boolean corked;

        SideSocket(Side side, FileDescriptor fd, LinuxSocket socket) {
            this.side = side;
            this.fd = fd;
            this.socket = socket;
        }

        LinuxSocket socket() {
            if (socket == null) {
                socket = LinuxSocket.newSocket(fd.intValue());
            }
            return socket;
        }

        void register() throws Exception {
            Future<IoRegistration> registered = ioLoop.register(this);
            // On the loop's own thread registering completes at once.
            registration = registered.getNow();
            if (registration == null) {
                registered.cancel(false);
                throw new IllegalStateException("registration did not complete on the event loop",
                        registered.cause());
            }
            registration.submit(INTEREST);
        }

        @Override
        public FileDescriptor fd() {
            // The object the close goes through: Netty asks it isOpen() when the registration is cancelled, and
            // the plain descriptor, once a socket wraps the same number, would still say yes after the close, so
            // that Netty would make an epoll_ctl(DEL) on a closed number and build an exception for its EBADF.
            return socket != null ? socket : fd;
        }

        @Override
        public void handle(IoRegistration registration, IoEvent event) {
            if (closed) {
                return;
            }
            try {
                handle(((EpollIoEvent) event).ops().value());
            } catch (RuntimeException | Error e) {
                // Nothing may escape to Netty's loop: it would drop the rest of the batch's events and pause the
                // loop for a second. A bug here costs this one connection instead.
                log.error("conn {}: relay failed", id, e);
                reset(side, e);
                resetBoth();
                if (e instanceof Error) {
                    throw (Error) e;
                }
            }
        }

        private void handle(int ops) {
            if (this == backend && !backendConnected) {
                // The connect finished: writable without an error means it succeeded (the socket leaves SYN_SENT
                // for ESTABLISHED before it reports EPOLLOUT, and a failure sets its error), which saves the
                // getsockopt(SO_ERROR) Netty makes on every connection; with an error, SO_ERROR says which.
                if ((ops & ERR) != 0) {
                    if (!finishConnect()) {
                        return;
                    }
                } else if ((ops & OUT) != 0) {
                    connected();
                    if (ending != null) {
                        return;
                    }
                } else {
                    return;
                }
            } else if ((ops & ERR) != 0 && failed()) {
                return;
            }
            if ((ops & RDHUP) != 0) {
                rdHup = true;
            }
            if ((ops & OUT) != 0 && held != null) {
                writable();
            }
            if ((ops & (IN | RDHUP)) != 0) {
                readable();
            }
        }

        /** EPOLLERR: a pending error (a reset, say) resets the pair; returns whether there was one. */
        private boolean failed() {
            int error;
            try {
                error = socket().getSoError();
            } catch (IOException | RuntimeException e) {
                reset(side, e);
                return true;
            }
            if (error == 0) {
                return false;
            }
            reset(side, new IOException("socket error " + error + " (errno)"));
            return true;
        }

        /** Finishes a connect the backend socket reported on; returns whether the relay goes on. */
        private boolean finishConnect() {
            try {
                if (!socket.finishConnect()) {
                    return false;
                }
            } catch (IOException | RuntimeException e) {
                if (ending == null && !backendFailed(e) && ending == null) {
                    startConnectTimer();
                }
                return false;
            }
            connected();
            return ending == null;
        }

        /** Reads this socket and writes what it reads to the peer until it has nothing more or the peer is full. */
        void readable() {
            if (closed || side.inputShutdown || ending != null) {
                return;
            }
            if (awaitingHeader) {
                readProxyHeader();
                return;
            }
            if (!backendConnected || peer.held != null) {
                // The backend has not accepted yet, or has not taken the last read: read when it has.
                readPending = true;
                return;
            }
            readPending = false;
            Scratch scratch = SCRATCH.get();
            long address = scratch.address;
            // The preface goes first in the buffer, so it leaves in the same write as the client's first bytes.
            int first = 0;
            if (this == client && preface != null) {
                first = preface.length;
                scratch.buffer.put(0, preface);
                preface = null;
            }
            for (;;) {
                int n;
                try {
                    n = fd.readAddress(address, first, READ_SIZE);
                } catch (IOException | RuntimeException e) {
                    reset(side, e);
                    return;
                }
                if (n > 0) {
                    side.read(n);
                }
                // With nothing read (EAGAIN or the end), a preface still goes out: the backend may speak first.
                int total = first + Math.max(n, 0);
                first = 0;
                if (total > 0) {
                    int written;
                    try {
                        if (rdHup && !peer.corked) {
                            peer.cork();
                        }
                        written = peer.fd.writeAddress(address, 0, total);
                    } catch (IOException | RuntimeException e) {
                        reset(side.peer, e);
                        return;
                    }
                    if (written < total) {
                        // An end of input behind these bytes is read again once they are written.
                        peer.hold(scratch.buffer, written, total);
                        observer.readingPaused(side.reads);
                        break;
                    }
                }
                if (n == 0) {
                    break; // EAGAIN: the next edge brings more
                }
                if (n < 0) {
                    inputEnded();
                    break;
                }
                if (total < READ_SIZE && !rdHup) {
                    break; // a short read emptied the socket; only an end of input could hide behind it
                }
            }
            if (side.uncredited != 0) {
                lastActivityNanos = System.nanoTime();
                credit(side);
            }
        }

        /**
         * The peer's FIN has come, so these are the last bytes this socket will carry: hold back a last partial
         * segment so that the FIN which follows them goes out in the same segment, as HAProxy does with
         * MSG_MORE (one segment less, and the receiver reads the bytes and the end at once). The peer's input is
         * read to its end in the same call (or, when this socket is full, as soon as it drains), and the
         * shutdown(2) or close(2) that sends the FIN then pushes everything out.
         */
        private void cork() throws IOException {
            corked = true;
            socket().setIntOpt(IPPROTO_TCP, TCP_CORK, 1);
        }

        /** Keeps bytes {@code from..to} of {@code scratch} until this socket can take them. */
        private void hold(ByteBuffer scratch, int from, int to) {
            ByteBuffer rest = scratch.duplicate();
            rest.limit(to).position(from);
            held = server.options().allocator().directBuffer(to - from);
            held.writeBytes(rest);
        }

        /** This socket can take more: write what is held for it, then let the peer read again. */
        private void writable() {
            ByteBuf h = held;
            int written;
            try {
                ByteBuffer nio = h.internalNioBuffer(h.readerIndex(), h.readableBytes());
                written = fd.write(nio, nio.position(), nio.limit());
            } catch (IOException | RuntimeException e) {
                reset(side, e);
                return;
            }
            h.skipBytes(written);
            if (h.isReadable()) {
                return; // the next EPOLLOUT edge comes when it drains further
            }
            h.release();
            held = null;
            // The peer may have bytes, or its end of input, waiting that no new edge will announce.
            peer.readable();
        }

        /** Read only while nothing is held for the peer (see readable), so the peer's FIN can go at once. */
        private void inputEnded() {
            side.inputShutdown = true;
            peer.shutdownOutput();
        }

        /** Every byte meant for this socket is written: send FIN. */
        private void shutdownOutput() {
            if (side.needsShutdownCall()) {
                try {
                    socket().shutdown(false, true);
                } catch (IOException | RuntimeException e) {
                    reset(side, e);
                    return;
                }
            }
            outputEnded(side);
        }

        /** Closes the socket, with SO_LINGER 0 when {@code reset} so that its peer sees a reset. */
        void close(boolean reset) {
            if (closed) {
                return;
            }
            closed = true;
            if (held != null) {
                held.release();
                held = null;
            }
            if (reset) {
                try {
                    socket().setSoLinger(0);
                } catch (IOException | RuntimeException e) {
                    // Already reset by the peer: the close below is all there is left to do.
                }
            }
            try {
                // Through one object only (the one Netty asks isOpen()): a second close(2) of the number could close
                // someone else's descriptor.
                fd().close();
            } catch (IOException | RuntimeException e) {
                // Nothing to do: the descriptor is released either way.
            }
            if (this == client) {
                server.clientClosed(clientAddress);
            }
            // After the close: a closed descriptor has left epoll by itself, so this saves an epoll_ctl(DEL).
            if (registration != null) {
                registration.cancel();
            }
        }

        /** The event loop is shutting down with this socket still open. */
        @Override
        public void close() {
            if (ending == null) {
                end(Ending.DRAIN_TIMEOUT);
            }
            resetBoth();
        }
    }
}
