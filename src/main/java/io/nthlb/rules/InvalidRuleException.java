package io.nthlb.rules;

/**
 * A rule the kernel refuses with {@code EINVAL} when it is loaded (a match's own check), which iptables reports
 * as {@code RULE_APPEND failed (Invalid argument)}, or {@code RULE_INSERT} for {@code -I}: the parser, which
 * knows the command, turns it into that message.
 */
final class InvalidRuleException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    InvalidRuleException() {
        super(null, null, false, false);
    }
}
