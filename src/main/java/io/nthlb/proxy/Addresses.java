package io.nthlb.proxy;

import java.net.Inet6Address;
import java.net.InetSocketAddress;

/** How nthlb prints socket addresses: {@code 10.0.1.200:80}, {@code [::1]:80}, never with a leading slash. */
public final class Addresses {

    private Addresses() {
    }

    /** {@code host:port} with the numeric host, or {@code -} for {@code null}. */
    public static String format(InetSocketAddress address) {
        if (address == null) {
            return "-";
        }
        if (address.getAddress() == null) {
            return address.getHostString() + ":" + address.getPort();
        }
        String host = address.getAddress().getHostAddress();
        return address.getAddress() instanceof Inet6Address ? "[" + host + "]:" + address.getPort()
                : host + ":" + address.getPort();
    }
}
