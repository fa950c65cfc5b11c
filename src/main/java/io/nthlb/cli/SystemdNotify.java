package io.nthlb.cli;

import io.netty.channel.epoll.Epoll;
import io.netty.channel.unix.Socket;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells systemd where nthlb is in its life (a {@code Type=notify} unit): ready once every listener is open,
 * reloading and ready again around a reload, stopping when it drains. The messages are datagrams on the
 * Unix socket named by {@code $NOTIFY_SOCKET}, as {@code sd_notify(3)} sends them; where the variable is
 * unset (not started by systemd) every call does nothing.
 *
 * <p>The JDK has no Unix datagram sockets; Netty's native transport library, which nthlb loads anyway for
 * epoll, has them.
 */
final class SystemdNotify {

    private static final Logger log = LoggerFactory.getLogger(SystemdNotify.class);

    /** Does nothing: for processes systemd did not start. */
    static final SystemdNotify NONE = new SystemdNotify(null);

    private final byte[] path;

    private SystemdNotify(byte[] path) {
        this.path = path;
    }

    /** The notifier for {@code $NOTIFY_SOCKET} in {@code env}; {@link #NONE} where it is unset or unusable. */
    static SystemdNotify fromEnvironment(Map<String, String> env) {
        String socket = env.get("NOTIFY_SOCKET");
        if (socket == null || socket.isEmpty()) {
            return NONE;
        }
        if (!Epoll.isAvailable()) {
            log.warn("NOTIFY_SOCKET is set but Netty's native library cannot load ({}), so systemd will not hear"
                    + " that nthlb is ready; use Type=exec in the unit", Epoll.unavailabilityCause().toString());
            return NONE;
        }
        // A leading '@' names a socket in the abstract namespace, whose address starts with a NUL byte.
        String name = socket.startsWith("@") ? "\0" + socket.substring(1) : socket;
        return new SystemdNotify(name.getBytes(StandardCharsets.UTF_8));
    }

    /** Every listener is open: start-up is over. */
    void ready(String status) {
        // One variable per line: a status of several lines would end the message early.
        send("READY=1\nSTATUS=" + status.replace('\n', ' ') + "\nMAINPID=" + ProcessHandle.current().pid());
    }

    /** A reload of the rules file begins; {@link #ready} ends it. */
    void reloading() {
        // systemd (Type=notify-reload) wants the time of the reload request with it; CLOCK_MONOTONIC is
        // the clock System.nanoTime reads on Linux.
        send("RELOADING=1\nMONOTONIC_USEC=" + TimeUnit.NANOSECONDS.toMicros(System.nanoTime()));
    }

    /** Draining for a stop begins. */
    void stopping() {
        send("STOPPING=1\nSTATUS=draining");
    }

    private void send(String message) {
        if (path == null) {
            return;
        }
        byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buffer = ByteBuffer.allocateDirect(bytes.length).put(bytes).flip();
        Socket socket = Socket.newSocketDomainDgram();
        try {
            socket.sendToDomainSocket(buffer, 0, bytes.length, path);
        } catch (IOException e) {
            log.warn("could not tell systemd {} on NOTIFY_SOCKET: {}", message.lines().findFirst().orElse(""),
                    e.getMessage());
        } finally {
            try {
                socket.close();
            } catch (IOException e) {
                log.debug("closing the notify socket", e);
            }
        }
    }
}
