package io.nthlb.admin;

/** The admin endpoint could not be reached or did not answer: the message says which, for the user. */
public final class AdminUnreachableException extends RuntimeException {

    public AdminUnreachableException(String message, Throwable cause) {
        super(message, cause);
    }
}
