package io.nthlb.admin;

import java.net.InetSocketAddress;

/** Socket addresses as the rules write them, {@code 172.16.1.201:80}: never a host name, IPv6 in brackets. */
final class HostPort {

    private HostPort() {
    }

    static String text(InetSocketAddress address) {
        String host = address.getAddress() != null ? address.getAddress().getHostAddress() : address.getHostString();
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + address.getPort();
    }
}
