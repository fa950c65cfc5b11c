package io.nthlb.proxy;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * How the real client's address crosses nthlb: a PROXY header to the backends ({@code --send-proxy}), one
 * expected from an upstream balancer ({@code --accept-proxy}), or backend connections made from the client's
 * own address ({@code --transparent}). Built once at start; reload keeps it.
 *
 * @param sendProxy       the header every backend connection starts with, or {@code null} for none
 * @param sendProxyOn     per listener (the address it was asked for), the header its connections send; it
 *                        overrides {@code sendProxy} there
 * @param acceptProxy     every accepted connection must start with a PROXY header, read before any decision
 * @param transparent     connect to backends from the client's own address and port (IP_TRANSPARENT)
 * @param headerTimeout   how long an accepted connection has to send its whole PROXY header
 */
public record ClientAddressing(ProxyHeader.Version sendProxy, Map<InetSocketAddress, ProxyHeader.Version> sendProxyOn,
                               boolean acceptProxy, boolean transparent, Duration headerTimeout) {

    /** An upstream balancer sends its header at once; 5 s is HAProxy's usual {@code timeout client} floor. */
    public static final Duration DEFAULT_HEADER_TIMEOUT = Duration.ofSeconds(5);

    /** nthlb's default, as the kernel: backends see nthlb's address, and nothing is expected or sent. */
    public static final ClientAddressing NONE =
            new ClientAddressing(null, Map.of(), false, false, DEFAULT_HEADER_TIMEOUT);

    public ClientAddressing {
        sendProxyOn = Map.copyOf(sendProxyOn);
        Objects.requireNonNull(headerTimeout, "headerTimeout");
        if (headerTimeout.isNegative() || headerTimeout.isZero()) {
            throw new IllegalArgumentException("headerTimeout: " + headerTimeout + " (expected: > 0)");
        }
    }

    /** The header to send on connections accepted by the listener asked for as {@code listener}, or {@code null}. */
    public ProxyHeader.Version sendProxyFor(InetSocketAddress listener) {
        if (sendProxyOn.isEmpty()) {
            return sendProxy;
        }
        ProxyHeader.Version v = sendProxyOn.get(listener);
        if (v == null && listener.getAddress().isAnyLocalAddress()) {
            // io_uring reports a 0.0.0.0 listener as [::]: a wildcard matches a wildcard on the same port.
            for (Map.Entry<InetSocketAddress, ProxyHeader.Version> e : sendProxyOn.entrySet()) {
                if (e.getKey().getPort() == listener.getPort() && e.getKey().getAddress().isAnyLocalAddress()) {
                    v = e.getValue();
                }
            }
        }
        return v != null ? v : sendProxy;
    }

    public ClientAddressing withAcceptProxy(boolean b) {
        return new ClientAddressing(sendProxy, sendProxyOn, b, transparent, headerTimeout);
    }

    public ClientAddressing withTransparent(boolean b) {
        return new ClientAddressing(sendProxy, sendProxyOn, acceptProxy, b, headerTimeout);
    }

    public ClientAddressing withSendProxy(ProxyHeader.Version v) {
        return new ClientAddressing(v, sendProxyOn, acceptProxy, transparent, headerTimeout);
    }

    public ClientAddressing withSendProxyOn(Map<InetSocketAddress, ProxyHeader.Version> on) {
        return new ClientAddressing(sendProxy, on, acceptProxy, transparent, headerTimeout);
    }

    public ClientAddressing withHeaderTimeout(Duration d) {
        return new ClientAddressing(sendProxy, sendProxyOn, acceptProxy, transparent, d);
    }
}
