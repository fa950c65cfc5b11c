package io.nthlb.admin;

import io.nthlb.proxy.Addresses;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.regex.Pattern;

/**
 * Where the admin endpoint listens, or where {@code list}, {@code save} and {@code reload} find it:
 * {@code HOST:PORT}, with HOST an IPv4 literal, a bracketed IPv6 literal or {@code localhost}.
 *
 * <p>Host names other than {@code localhost} are refused rather than resolved: resolving one would ask a
 * name server, and an admin endpoint should never depend on (or leak to) the network to find itself.
 */
public record AdminAddress(InetSocketAddress socketAddress) {

    /** Where {@code run} listens and the client commands connect when {@code --admin} is not given. */
    public static final String DEFAULT = "127.0.0.1:9180";

    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

    public AdminAddress {
        if (socketAddress.isUnresolved()) {
            throw new IllegalArgumentException("socketAddress: " + socketAddress + " (expected: resolved)");
        }
    }

    /**
     * Parses {@code HOST:PORT}.
     *
     * @throws IllegalArgumentException with a message that quotes the input
     */
    public static AdminAddress parse(String text) {
        int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw bad(text, "expected HOST:PORT");
        }
        String host = text.substring(0, colon);
        String portText = text.substring(colon + 1);
        int port;
        try {
            port = Integer.parseInt(portText);
        } catch (NumberFormatException e) {
            throw bad(text, "bad port \"" + portText + "\"");
        }
        if (port < 0 || port > 65535) {
            throw bad(text, "port out of range (0-65535)");
        }
        InetAddress address;
        try {
            if (host.startsWith("[") && host.endsWith("]") && host.contains(":")) {
                // A literal with a colon is parsed by getByName without any lookup.
                address = InetAddress.getByName(host.substring(1, host.length() - 1));
            } else if (IPV4.matcher(host).matches()) {
                address = InetAddress.getByName(host);
            } else if (host.equals("localhost")) {
                address = InetAddress.getLoopbackAddress();
            } else {
                throw bad(text, "HOST must be an IP address or localhost");
            }
        } catch (UnknownHostException e) {
            throw bad(text, "bad IP address \"" + host + "\"");
        }
        return new AdminAddress(new InetSocketAddress(address, port));
    }

    public boolean isLoopback() {
        return socketAddress.getAddress().isLoopbackAddress();
    }

    /**
     * Checks that the admin endpoint may listen here: on loopback always, elsewhere only when the user said
     * so, because the endpoint has no authentication and {@code POST /reload} changes where traffic goes.
     *
     * @throws IllegalArgumentException naming the flag that allows it
     */
    public AdminAddress requireListenable(boolean allowRemote) {
        if (!isLoopback() && !allowRemote) {
            throw new IllegalArgumentException("admin address " + this + " is not a loopback address;"
                    + " add --admin-allow-remote to listen there (the endpoint has no authentication)");
        }
        return this;
    }

    /** {@code HOST:PORT} as a URL authority ({@code http://} + this), IPv6 in brackets. */
    public String authority() {
        return Addresses.format(socketAddress);
    }

    @Override
    public String toString() {
        return authority();
    }

    private static IllegalArgumentException bad(String text, String why) {
        return new IllegalArgumentException("admin address \"" + text + "\": " + why);
    }
}
