package io.nthlb.nat;

import io.nthlb.rules.Cidr;
import java.net.InetSocketAddress;

/**
 * An address and port nthlb listens on to receive connections that the nat table rewrites.
 *
 * @param address the IPv4 address as a big-endian int, or {@link #WILDCARD} for every local address
 * @param port    the TCP or UDP port
 */
public record ListenAddress(int address, int port) implements Comparable<ListenAddress> {

    /** {@code 0.0.0.0}: listen on every local address. */
    public static final int WILDCARD = 0;

    public boolean isWildcard() {
        return address == WILDCARD;
    }

    /** The address to bind. */
    public InetSocketAddress toSocketAddress() {
        return new InetSocketAddress(DestinationRewrite.inetAddress(address), port);
    }

    /** By port, then by address with the wildcard first. */
    @Override
    public int compareTo(ListenAddress other) {
        int byPort = Integer.compare(port, other.port);
        return byPort != 0 ? byPort : Integer.compareUnsigned(address, other.address);
    }

    /** {@code 10.0.1.200:80}, or {@code *:80} for the wildcard. */
    @Override
    public String toString() {
        return (isWildcard() ? "*" : Cidr.formatAddress(address)) + ":" + port;
    }
}
