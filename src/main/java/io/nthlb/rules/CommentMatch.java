package io.nthlb.rules;

/** {@code -m comment --comment TEXT}: always matches; printed back bare or quoted as iptables does. */
public record CommentMatch(String text) implements Match {
}
