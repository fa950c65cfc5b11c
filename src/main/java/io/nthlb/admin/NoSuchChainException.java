package io.nthlb.admin;

/** A chain that a listing asked for and the table does not have. */
public final class NoSuchChainException extends RuntimeException {

    /** iptables' own words for it ({@code iptables -t nat -nvL NOSUCH}). */
    public static final String MESSAGE = "iptables: No chain/target/match by that name.";

    public NoSuchChainException(String chain) {
        super(MESSAGE + " (" + chain + ")");
    }
}
