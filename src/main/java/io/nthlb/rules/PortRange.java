package io.nthlb.rules;

/** A port or an inclusive range of ports, as {@code --dport 80} or {@code --dport 8000:8080} give it. */
public record PortRange(int first, int last) {

    /** {@code 0:65535}: what an absent port option matches. */
    public static final PortRange ALL = new PortRange(0, 65535);

    public static PortRange of(int port) {
        return new PortRange(port, port);
    }

    public boolean contains(int port) {
        return port >= first && port <= last;
    }

    public boolean isSingle() {
        return first == last;
    }
}
