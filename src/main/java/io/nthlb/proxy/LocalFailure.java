package io.nthlb.proxy;

import io.netty.channel.unix.Errors;
import java.util.Locale;

/**
 * Why nthlb itself could not open a connection to a backend, as opposed to the backend refusing or not
 * answering: the connection ends {@link Ending#LOCAL_ERROR}, and the backend is not blamed for it.
 */
public enum LocalFailure {
    /** EMFILE or ENFILE: this process, or the whole system, is out of file descriptors. */
    DESCRIPTORS("descriptors", "out of file descriptors",
            "raise the descriptor limit (LimitNOFILE= in the unit, ulimit -n) or lower --max-connections", 24, 23,
            "Too many open files"),
    /**
     * EADDRNOTAVAIL: no source port is free toward this backend (they are all in use or in TIME_WAIT), or a
     * --source address is not an address of this host.
     */
    SOURCE_PORTS("source-ports", "no source address and port free toward the backend",
            "set net.ipv4.tcp_tw_reuse=1, widen net.ipv4.ip_local_port_range, or add --source addresses", 99, 99,
            "Cannot assign requested address"),
    /** ENOBUFS or ENOMEM: the kernel could not allocate the socket's memory. */
    MEMORY("memory", "the kernel is out of socket memory", "see net.ipv4.tcp_mem and the host's free memory",
            105, 12, "No buffer space available", "Cannot allocate memory");

    private final String label;
    private final String description;
    private final String remedy;
    private final int errno;
    private final int otherErrno;
    private final String[] messages;

    LocalFailure(String label, String description, String remedy, int errno, int otherErrno, String... messages) {
        this.label = label;
        this.description = description;
        this.remedy = remedy;
        this.errno = errno;
        this.otherErrno = otherErrno;
        this.messages = messages;
    }

    /** The metric label: {@code descriptors}, {@code source-ports} or {@code memory}. */
    public String label() {
        return label;
    }

    /** What happened, in a few words, for the log. */
    public String description() {
        return description;
    }

    /** What to do about it, for the log. */
    public String remedy() {
        return remedy;
    }

    /**
     * The local failure behind {@code cause}, or {@code null} when it is not one (the backend refused, say). The
     * native transports give the errno; the JDK's sockets give only strerror's words, which are matched instead.
     */
    public static LocalFailure of(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
            for (LocalFailure f : values()) {
                if (f.matches(t)) {
                    return f;
                }
            }
        }
        return null;
    }

    private boolean matches(Throwable t) {
        if (t instanceof Errors.NativeIoException n) {
            int e = -n.expectedErr();
            if (e == errno || e == otherErrno) {
                return true;
            }
        }
        String message = String.valueOf(t.getMessage()).toLowerCase(Locale.ROOT);
        for (String m : messages) {
            if (message.contains(m.toLowerCase(Locale.ROOT))) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return label;
    }
}
