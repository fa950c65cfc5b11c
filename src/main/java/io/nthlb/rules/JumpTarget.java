package io.nthlb.rules;

/**
 * {@code -j CHAIN} (or {@code -g CHAIN} when {@code goTo}): walk a user chain; on its end or on
 * {@code RETURN}, a jump comes back to the next rule, a goto to the caller's caller.
 */
public record JumpTarget(String chain, boolean goTo) implements Target {
}
