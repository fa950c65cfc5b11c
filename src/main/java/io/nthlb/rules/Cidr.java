package io.nthlb.rules;

/**
 * An IPv4 network as iptables writes it after {@code -s} and {@code -d}: an address and a prefix length.
 *
 * <p>Addresses are held as the 32-bit big-endian int the kernel compares, so a match is one AND and
 * one compare. The address is stored already masked, as iptables stores it ({@code -d 10.0.1.7/24}
 * prints as {@code 10.0.1.0/24}).
 */
public record Cidr(int address, int prefixLength) {

    /** Any address: what iptables prints as {@code 0.0.0.0/0}. */
    public static final Cidr ANY = new Cidr(0, 0);

    public Cidr {
        if (prefixLength < 0 || prefixLength > 32) {
            throw new IllegalArgumentException("prefixLength: " + prefixLength + " (expected: 0-32)");
        }
        address &= mask(prefixLength);
    }

    /** The network mask for a prefix length, as an int ({@code /24} is {@code 0xFFFFFF00}). */
    public static int mask(int prefixLength) {
        return prefixLength == 0 ? 0 : -1 << (32 - prefixLength);
    }

    /** Whether {@code ip} lies in this network. */
    public boolean contains(int ip) {
        return (ip & mask(prefixLength)) == address;
    }

    /** Whether this network is a single host ({@code /32}). */
    public boolean isHost() {
        return prefixLength == 32;
    }

    /** Dotted-quad text of a 32-bit address ({@code 0x0A0001C8} is {@code 10.0.1.200}). */
    public static String formatAddress(int ip) {
        return (ip >>> 24) + "." + ((ip >>> 16) & 0xFF) + "." + ((ip >>> 8) & 0xFF) + "." + (ip & 0xFF);
    }

    /** The form {@code iptables -S} prints: {@code 10.0.1.200/32}. */
    @Override
    public String toString() {
        return formatAddress(address) + "/" + prefixLength;
    }
}
