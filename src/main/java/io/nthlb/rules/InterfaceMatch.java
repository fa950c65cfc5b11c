package io.nthlb.rules;

/**
 * An {@code -i} or {@code -o} option: an interface name, or a prefix when it ends in {@code +}
 * ({@code veth+}; {@code +} alone is any name), possibly negated.
 */
public record InterfaceMatch(String name, boolean inverted) {

    /**
     * Whether a packet on interface {@code device} passes, as the kernel compares names: the whole name, or only
     * the part before the {@code +}. A packet without that interface has the empty name, which only {@code +}
     * matches.
     */
    public boolean matches(String device) {
        boolean same = name.endsWith("+") ? device.startsWith(name.substring(0, name.length() - 1))
                : device.equals(name);
        return same != inverted;
    }
}
