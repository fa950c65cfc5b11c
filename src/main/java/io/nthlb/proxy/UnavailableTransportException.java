package io.nthlb.proxy;

/** A transport asked for by name that cannot run on this machine; the message says what to use instead. */
public final class UnavailableTransportException extends RuntimeException {
    public UnavailableTransportException(String message) {
        super(message);
    }
}
