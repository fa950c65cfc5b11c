package io.nthlb.proxy;

/** Which way bytes flow through a relayed connection. */
public enum Direction {
    /** Read from the client, written to the backend. */
    CLIENT_TO_BACKEND,
    /** Read from the backend, written to the client. */
    BACKEND_TO_CLIENT
}
