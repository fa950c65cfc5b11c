package io.nthlb.rules;

/**
 * {@code -m statistic --mode nth --every N --packet P}: of the connections that reach this match,
 * number them 0, 1, 2...; connection i matches when {@code i mod N == P} (negated with {@code !}).
 * The counter that implements this lives in the run-time table, not here.
 */
public record NthMatch(long every, long packet, boolean inverted) implements Match {
}
