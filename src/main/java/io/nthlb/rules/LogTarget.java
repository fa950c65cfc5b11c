package io.nthlb.rules;

/**
 * {@code -j LOG}, kept to be printed.
 *
 * @param prefix {@code --log-prefix}, at most 29 characters, or {@code null}
 * @param level  {@code --log-level} as a number, 0 (emerg) to 7 (debug); 4 (warning) when not given
 */
public record LogTarget(String prefix, int level) implements PassiveTarget {
    /** The level iptables gives a LOG rule without {@code --log-level}. */
    public static final int DEFAULT_LEVEL = 4;

    @Override
    public String name() {
        return "LOG";
    }

    @Override
    public boolean terminates() {
        return false;
    }
}
