package io.nthlb.proxy;

import java.net.InetSocketAddress;

/**
 * Where a new connection goes: asked once per accepted connection, on that connection's event loop, with
 * the connection's real client and local (VIP) addresses. Implementations must be thread-safe and fast:
 * every event loop calls them.
 */
@FunctionalInterface
public interface Router {

    /** The route for a connection from {@code client} accepted on {@code local}; never {@code null}. */
    Route route(InetSocketAddress client, InetSocketAddress local);
}
