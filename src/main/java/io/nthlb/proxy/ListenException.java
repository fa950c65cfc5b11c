package io.nthlb.proxy;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;

/**
 * A listener that could not be opened; the message names the address and says what to do about it
 * ({@code ip addr add}, {@code CAP_NET_BIND_SERVICE}, {@code --bind-any}, or which port is taken).
 */
public final class ListenException extends RuntimeException {

    private final InetSocketAddress address;

    ListenException(InetSocketAddress address, String message, Throwable cause) {
        super(message, cause);
        this.address = address;
    }

    /** The address nthlb tried to listen on. */
    public InetSocketAddress address() {
        return address;
    }

    /** Linux's net.ipv4.ip_unprivileged_port_start: binding a port below it needs CAP_NET_BIND_SERVICE. */
    private static final Path UNPRIVILEGED_PORT_START = Path.of("/proc/sys/net/ipv4/ip_unprivileged_port_start");

    /** The user-facing explanation for a failed bind of {@code address}. */
    public static ListenException of(InetSocketAddress address, Throwable cause) {
        return of(address, cause, unprivilegedPortStart(UNPRIVILEGED_PORT_START));
    }

    /** The first port anyone may bind, as {@code file} gives it; 1024 (the kernel's default) if it cannot tell. */
    static int unprivilegedPortStart(Path file) {
        try {
            return Sysctl.ints(file)[0];
        } catch (IOException e) {
            return 1024;
        }
    }

    static ListenException of(InetSocketAddress address, Throwable cause, int unprivilegedPortStart) {
        String where = Addresses.format(address);
        String why = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        String message;
        if (why.contains("Cannot assign requested address")) {
            String host = address.getAddress().getHostAddress();
            message = "cannot listen on " + where + ": " + host + " is not an address of this host; add it"
                    + " (ip addr add " + host + "/32 dev lo, or to the interface that receives its traffic),"
                    + " or start with --bind-any to listen before this host owns it";
        } else if (why.contains("Permission denied") && address.getPort() < unprivilegedPortStart) {
            message = "cannot listen on " + where + ": ports below " + unprivilegedPortStart + " need root or"
                    + " CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=+ep on the java binary,"
                    + " AmbientCapabilities=CAP_NET_BIND_SERVICE in the systemd unit, or sysctl"
                    + " net.ipv4.ip_unprivileged_port_start=" + address.getPort() + ")";
        } else if (why.contains("Permission denied")) {
            message = "cannot listen on " + where + ": permission denied, though this host lets anyone bind ports"
                    + " from " + unprivilegedPortStart + " up (net.ipv4.ip_unprivileged_port_start): a security"
                    + " module (SELinux, AppArmor) or a seccomp policy forbids it";
        } else if (why.contains("Address already in use")) {
            message = "cannot listen on " + where + ": the port is in use by another program"
                    + " (ss -ltnp 'sport = :" + address.getPort() + "' shows which); stop it or change the rule";
        } else {
            message = "cannot listen on " + where + ": " + why;
        }
        return new ListenException(address, message, cause);
    }
}
