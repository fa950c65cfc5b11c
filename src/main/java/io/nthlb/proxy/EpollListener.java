package io.nthlb.proxy;

import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.epoll.LinuxSocket;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.NativeInetAddress;
import io.netty.util.NetUtil;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One listening socket of the epoll transport, on one event loop (every loop has its own, through
 * SO_REUSEPORT): it accepts and hands each new socket to an {@link EpollRelay} on the same loop. TCP_NODELAY
 * and SO_KEEPALIVE are set here once; Linux copies them to every socket accepted from it.
 *
 * <p>It takes a slot of {@link ConnectionLimits} before each accept: with none free it stops accepting (the
 * connections that keep coming wait in the kernel's backlog, as they would for a busy HAProxy) until a
 * connection closes.
 */
final class EpollListener implements EpollIoHandle, ListenerSet.Listener, ConnectionLimits.Gate {

    private static final Logger log = LoggerFactory.getLogger(EpollListener.class);

    /** SOL_IP and IP_FREEBIND: Linux's numbers. */
    static final int SOL_IP = 0;
    private static final int IP_FREEBIND = 15;
    /** As Netty's acceptor: at most this many accepts per event, so one busy port cannot starve the loop. */
    private static final int ACCEPTS_PER_EVENT = 16;

    private final ProxyServer server;
    private final IoEventLoop loop;
    private final LinuxSocket socket;
    private final InetSocketAddress bound;
    /** The local address of every accepted connection, or {@code null} for a wildcard listener (ask each). */
    private final InetSocketAddress fixedLocal;
    /** Netty's layout: the length in byte 0, then the address and the port. */
    private final byte[] acceptedAddress = new byte[26];
    private IoRegistration registration;
    /** Whether EPOLLIN is asked for; only the listener's loop changes it. */
    private boolean accepting = true;

    private EpollListener(ProxyServer server, IoEventLoop loop, LinuxSocket socket) {
        this.server = server;
        this.loop = loop;
        this.socket = socket;
        this.bound = socket.localAddress();
        this.fixedLocal = bound.getAddress().isAnyLocalAddress() ? null : bound;
    }

    /**
     * Binds {@code address} (port 0: a port the kernel picks) with SO_REUSEPORT, listens, and starts accepting on
     * {@code loop}.
     *
     * @throws IOException as bind(2) or listen(2) failed, for {@link ListenException#of} to explain
     */
    static EpollListener open(ProxyServer server, IoEventLoop loop, InetSocketAddress address, boolean freeBind)
            throws IOException {
        LinuxSocket socket = LinuxSocket.newSocketStream(address.getAddress() instanceof Inet6Address);
        try {
            socket.setReuseAddress(true);
            socket.setReusePort(true);
            socket.setTcpNoDelay(true);
            socket.setKeepAlive(true);
            if (freeBind) {
                socket.setIntOpt(SOL_IP, IP_FREEBIND, 1);
            }
            socket.bind(address);
            socket.listen(NetUtil.SOMAXCONN);
            EpollListener listener = new EpollListener(server, loop, socket);
            listener.registration = loop.register(listener).syncUninterruptibly().getNow();
            listener.registration.submit(EpollIoOps.EPOLLIN);
            return listener;
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    @Override
    public InetSocketAddress localAddress() {
        return bound;
    }

    @Override
    public FileDescriptor fd() {
        return socket;
    }

    @Override
    public void handle(IoRegistration registration, IoEvent event) {
        ConnectionLimits limits = server.limits();
        for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
            if (!limits.reserve()) {
                stopAccepting();
                long backOff = limits.backOffLeft();
                if (backOff > 0) {
                    loop.schedule(this::resumeAccepting, backOff, TimeUnit.NANOSECONDS);
                } else {
                    server.limitReached(bound);
                    limits.pause(this);
                }
                return;
            }
            int fd;
            try {
                fd = socket.accept(acceptedAddress);
            } catch (IOException e) {
                limits.release();
                acceptFailed(e);
                return;
            }
            if (fd < 0) {
                limits.release();
                return; // EAGAIN: nothing more waiting (level-triggered: what is left brings another event)
            }
            try {
                InetSocketAddress remote = NativeInetAddress.address(acceptedAddress, 1, acceptedAddress[0]);
                if (limits.perClient()) {
                    ClientLimit refusal = limits.admit(remote.getAddress());
                    if (refusal != null) {
                        refuse(fd);
                        limits.release();
                        server.clientRefused(remote, refusal);
                        continue;
                    }
                }
                EpollRelay.accepted(server, loop, fd, remote, fixedLocal, bound);
            } catch (RuntimeException e) {
                // Nothing may escape to Netty's loop (it would drop the batch's other events and pause a second).
                log.error("accepting on {}: handing over a connection failed", Addresses.format(bound), e);
            }
        }
    }

    /**
     * Accepting failed (file descriptors exhausted, say): report it, and stop accepting for a second as Netty's
     * acceptor does, rather than spin on an error that will not clear at once.
     */
    private void acceptFailed(IOException e) {
        server.acceptFailed(bound, e);
        if (!socket.isOpen()) {
            return;
        }
        stopAccepting();
        loop.schedule(this::resumeAccepting, 1, TimeUnit.SECONDS);
    }

    /** Listening sockets never report EPOLLERR: asking for it alone means no events for now. */
    private void stopAccepting() {
        if (accepting) {
            accepting = false;
            registration.submit(EpollIoOps.EPOLLERR);
        }
    }

    /** Resets a connection a per-client limit refuses, before anything is read from it. */
    private static void refuse(int fd) {
        LinuxSocket refused = LinuxSocket.newSocket(fd);
        try {
            refused.setSoLinger(0);
        } catch (IOException e) {
            // Already reset by the client: the close is all there is left to do.
        }
        try {
            refused.close();
        } catch (IOException e) {
            log.debug("closing a refused connection: {}", e.toString());
        }
    }

    @Override
    public void slotFreed() {
        try {
            loop.execute(this::resumeAccepting);
        } catch (RejectedExecutionException e) {
            // The loop has stopped, and closed this socket with it.
        }
    }

    private void resumeAccepting() {
        if (!accepting && socket.isOpen() && registration.isValid()) {
            accepting = true;
            // Level-triggered: connections that waited in the backlog meanwhile bring an event at once.
            registration.submit(EpollIoOps.EPOLLIN);
        }
    }

    /** Stops listening; connections accepted before go on. Callable from any thread. */
    @Override
    public void close() {
        if (loop.inEventLoop()) {
            closeNow();
            return;
        }
        try {
            loop.submit(this::closeNow).syncUninterruptibly();
        } catch (RejectedExecutionException e) {
            // The loop has stopped, and closed every socket registered on it.
        }
    }

    private void closeNow() {
        if (socket.isOpen()) {
            try {
                socket.close();
            } catch (IOException e) {
                log.debug("closing the listener on {}: {}", Addresses.format(bound), e.toString());
            }
            registration.cancel();
        }
    }
}
