package io.nthlb.rules;

/**
 * {@code -j MASQUERADE [--to-ports P[-Q]]}, kept to be printed: nthlb's backends see its own address anyway.
 *
 * @param ports       {@code --to-ports}, or {@code null}
 * @param random      {@code --random}
 * @param randomFully {@code --random-fully}
 */
public record MasqueradeTarget(PortRange ports, boolean random, boolean randomFully) implements PassiveTarget {
    @Override
    public String name() {
        return "MASQUERADE";
    }

    @Override
    public boolean terminates() {
        return true;
    }
}
