package io.nthlb.cli;

import io.netty.util.NetUtil;
import java.io.IOException;
import java.math.BigInteger;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/**
 * A {@code --source} value: one address ({@code 10.0.0.5}) or a range of them ({@code 10.0.0.5-10.0.0.8}),
 * numeric only, as HAProxy's {@code source} takes them.
 */
final class SourceRange {

    /** More than enough: each address gives every backend its own ~28,000 source ports. */
    static final int MAX_ADDRESSES = 1024;

    private SourceRange() {
    }

    /**
     * The addresses {@code value} names, in order.
     *
     * @throws IllegalArgumentException naming the value and what is wrong with it
     */
    static List<InetAddress> parse(String value) {
        int dash = value.indexOf('-');
        InetAddress first = address(value, dash < 0 ? value : value.substring(0, dash));
        if (dash < 0) {
            return List.of(first);
        }
        InetAddress last = address(value, value.substring(dash + 1));
        if ((first instanceof Inet4Address) != (last instanceof Inet4Address)) {
            throw new IllegalArgumentException("--source " + value + ": both ends of a range must be IPv4, or both IPv6");
        }
        BigInteger from = new BigInteger(1, first.getAddress());
        BigInteger to = new BigInteger(1, last.getAddress());
        if (to.compareTo(from) < 0) {
            throw new IllegalArgumentException("--source " + value + ": the range ends before it starts");
        }
        if (to.subtract(from).compareTo(BigInteger.valueOf(MAX_ADDRESSES - 1)) > 0) {
            throw new IllegalArgumentException("--source " + value + ": more than " + MAX_ADDRESSES + " addresses");
        }
        List<InetAddress> addresses = new ArrayList<>();
        for (BigInteger a = from; a.compareTo(to) <= 0; a = a.add(BigInteger.ONE)) {
            addresses.add(toAddress(a, first.getAddress().length));
        }
        return addresses;
    }

    /**
     * Fails unless every address in {@code sources} is one this host can bind: otherwise every connection to a
     * backend would fail with EADDRNOTAVAIL, and it is better said once, at start-up.
     *
     * @throws IllegalArgumentException for the first address that cannot be bound
     */
    static void requireLocal(List<InetAddress> sources) {
        for (InetAddress a : sources) {
            try (Socket probe = new Socket()) {
                probe.bind(new InetSocketAddress(a, 0));
            } catch (IOException e) {
                throw new IllegalArgumentException("--source " + a.getHostAddress() + ": cannot bind it here ("
                        + e.getMessage() + "); give addresses of this host (ip -brief address)");
            }
        }
    }

    private static InetAddress address(String value, String text) {
        // Numeric only: InetAddress.getByName would ask the resolver about a name.
        InetAddress a = NetUtil.createInetAddressFromIpAddressString(text.trim());
        if (a == null) {
            throw new IllegalArgumentException("--source " + value + ": '" + text + "' is not a numeric IP address");
        }
        return a;
    }

    private static InetAddress toAddress(BigInteger n, int length) {
        byte[] raw = n.toByteArray();
        byte[] bytes = new byte[length];
        int copy = Math.min(raw.length, length);
        System.arraycopy(raw, raw.length - copy, bytes, length - copy, copy);
        try {
            return InetAddress.getByAddress(bytes);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e); // four or sixteen bytes: cannot happen
        }
    }
}
