package io.nthlb.rules;

/**
 * {@code -m statistic --mode random --probability p}, stored as iptables stores it: {@code round(p * 2^31)}.
 * The kernel matches when {@code (random_u32 & 0x7FFFFFFF) < threshold}.
 */
public record RandomMatch(long threshold, boolean inverted) implements Match {

    /** The probability iptables prints: the stored threshold over 2^31. */
    public double probability() {
        return threshold / (double) (1L << 31);
    }
}
