package io.nthlb.proxy;

import java.net.InetSocketAddress;

/** A read-only view of one relayed connection, for observers and the access log. */
public interface Connection {

    /** A number unique within this process, in accept order. */
    long id();

    /** The client's address and port, as accepted. */
    InetSocketAddress client();

    /** The local address and port the client connected to (the VIP). */
    InetSocketAddress local();

    /** The address the accepting listener is bound to (a wildcard address for a wildcard listener). */
    InetSocketAddress listener();

    /** The routing decision made for it. */
    Route route();

    /** Bytes read from the client so far (and written to the backend). */
    long bytesFromClient();

    /** Bytes read from the backend so far (and written to the client). */
    long bytesFromBackend();

    /** Nanoseconds since it was accepted, or its whole life once it has ended. */
    long durationNanos();

    /** How many backends were given up on (connect failed) before the one in {@link #route()}. */
    int retries();

    /** How it ended, or {@code null} while it is open. */
    Ending ending();
}
