package io.nthlb.rules;

/**
 * {@code -m mark --mark VALUE[/MASK]}. nthlb's connections carry no firewall mark, so at run time the
 * mark is 0: the match holds when {@code (0 & mask) == value}, negated by {@code !}.
 */
public record MarkMatch(long value, long mask, boolean inverted) implements Match {

    public boolean matches(long mark) {
        return ((mark & mask) == value) != inverted;
    }
}
