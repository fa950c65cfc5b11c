package io.nthlb.rules;

/** An {@code -s} or {@code -d} option: a network, possibly negated with {@code !}. */
public record AddressMatch(Cidr network, boolean inverted) {

    /** What a rule without the option holds: matches every address. */
    public static final AddressMatch ANY = new AddressMatch(Cidr.ANY, false);

    public boolean matches(int ip) {
        return network.contains(ip) != inverted;
    }

    /** Whether the option was absent (or written as {@code 0.0.0.0/0}), so iptables omits it. */
    public boolean isAny() {
        return network.prefixLength() == 0 && !inverted;
    }
}
