package io.nthlb.rules;

/** A {@code -p} option: an IP protocol number (6 for tcp, 17 for udp), possibly negated. */
public record ProtocolMatch(int number, boolean inverted) {

    public static final int TCP = 6;
    public static final int UDP = 17;
    public static final int SCTP = 132;

    public boolean matches(int protocol) {
        return (number == protocol) != inverted;
    }
}
