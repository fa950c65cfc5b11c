package io.nthlb.cli;

import io.nthlb.nat.ListenAddress;
import io.nthlb.proxy.ClientAddressing;
import io.nthlb.proxy.ProxyHeader;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/** The options of {@code run} through which backends see the real client: PROXY headers and transparent mode. */
public final class ClientAddressOptions {

    @Option(names = "--send-proxy", paramLabel = "VERSION[@ADDR:PORT]",
            description = "start every backend connection with a PROXY protocol header, v1 (text) or v2 (binary),"
                    + " carrying the client's address and the VIP; with @ADDR:PORT only for connections to that"
                    + " listen address (0.0.0.0:PORT for a wildcard one); may be repeated")
    List<String> sendProxy = new ArrayList<>();

    @Option(names = "--accept-proxy",
            description = "every accepted connection must start with a PROXY protocol header (v1 or v2), as sent by"
                    + " an upstream balancer; rules, logs and --send-proxy use the addresses it carries; a"
                    + " connection without a valid one within 5s is reset")
    boolean acceptProxy;

    @Option(names = "--transparent",
            description = "connect to backends from the client's own address and port (IP_TRANSPARENT), so they"
                    + " see the client as behind DNAT; needs CAP_NET_ADMIN, policy routing for the replies,"
                    + " and the epoll or io_uring transport")
    boolean transparent;

    /**
     * The settings these options ask for, with every {@code @ADDR:PORT} checked against {@code listening}.
     *
     * @throws IllegalArgumentException naming the option value that is wrong and why
     */
    ClientAddressing toClientAddressing(Collection<ListenAddress> listening) {
        ProxyHeader.Version everywhere = null;
        Map<InetSocketAddress, ProxyHeader.Version> on = new LinkedHashMap<>();
        for (String value : sendProxy) {
            int at = value.indexOf('@');
            ProxyHeader.Version version;
            try {
                version = ProxyHeader.Version.forLabel(at < 0 ? value : value.substring(0, at));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--send-proxy " + value + ": " + e.getMessage());
            }
            if (at < 0) {
                if (everywhere != null && everywhere != version) {
                    throw new IllegalArgumentException("--send-proxy " + value + ": already given as --send-proxy "
                            + everywhere + " (expected: one version for all listeners)");
                }
                everywhere = version;
                continue;
            }
            InetSocketAddress listener = listenAddress(value, value.substring(at + 1), listening);
            ProxyHeader.Version before = on.put(listener, version);
            if (before != null && before != version) {
                throw new IllegalArgumentException("--send-proxy " + value + ": that listener was already given "
                        + before);
            }
        }
        return ClientAddressing.NONE.withSendProxy(everywhere).withSendProxyOn(on)
                .withAcceptProxy(acceptProxy).withTransparent(transparent);
    }

    private static InetSocketAddress listenAddress(String value, String text, Collection<ListenAddress> listening) {
        Endpoint e;
        try {
            e = Endpoint.parse(text);
        } catch (IllegalArgumentException ex) {
            throw new IllegalArgumentException("--send-proxy " + value + ": " + ex.getMessage());
        }
        if (e.port() < 0) {
            throw new IllegalArgumentException("--send-proxy " + value + ": no port (expected: VERSION@ADDR:PORT)");
        }
        ListenAddress wanted = new ListenAddress(e.address(), e.port());
        if (!listening.contains(wanted)) {
            List<String> known = listening.stream().map(a -> a.isWildcard() ? "0.0.0.0:" + a.port() : a.toString())
                    .toList();
            throw new IllegalArgumentException("--send-proxy " + value + ": nthlb does not listen on " + text
                    + " (it listens on " + String.join(", ", known) + ")");
        }
        return wanted.toSocketAddress();
    }
}
