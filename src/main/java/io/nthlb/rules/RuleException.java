package io.nthlb.rules;

/** An error in iptables' words, raised deep in option parsing and caught once per line. */
final class RuleException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    RuleException(String message) {
        super(message, null, false, false);
    }
}
