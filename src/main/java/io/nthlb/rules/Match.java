package io.nthlb.rules;

/**
 * One {@code -m} match of a rule, in the order it was written: the kernel tests them left to right and
 * stops at the first that fails, which is what decides whether a statistic counter moves.
 */
public sealed interface Match permits PortMatch, MultiportMatch, NthMatch, RandomMatch, CommentMatch, MarkMatch,
        AddrTypeMatch, RecentMatch {
}
