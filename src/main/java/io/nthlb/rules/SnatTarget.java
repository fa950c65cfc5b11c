package io.nthlb.rules;

/**
 * {@code -j SNAT --to-source A[-B][:P[-Q]]}, kept to be printed: nthlb's backends see its own address anyway.
 *
 * @param firstAddress the first address of the range, or 0 with {@code lastAddress} 0 when only ports are given
 * @param lastAddress  the last address of the range
 * @param ports        the port range after the colon, or {@code null}
 * @param random       {@code --random}
 * @param randomFully  {@code --random-fully}
 * @param persistent   {@code --persistent}
 */
public record SnatTarget(int firstAddress, int lastAddress, PortRange ports, boolean random, boolean randomFully,
                         boolean persistent) implements PassiveTarget {
    @Override
    public String name() {
        return "SNAT";
    }

    @Override
    public boolean terminates() {
        return true;
    }
}
