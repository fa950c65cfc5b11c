package io.nthlb.rules;

/**
 * {@code -j DNAT --to-destination A1[-A2][:P1[-P2]]}.
 *
 * @param firstAddress first address of the range (the only one when {@code firstAddress == lastAddress})
 * @param lastAddress  last address of the range
 * @param ports        the port range to rewrite to, or {@code null} to keep the port the client asked for
 * @param random       {@code --random}
 * @param persistent   {@code --persistent}
 */
public record DnatTarget(int firstAddress, int lastAddress, PortRange ports, boolean random, boolean persistent)
        implements Target {

    public boolean isSingleAddress() {
        return firstAddress == lastAddress;
    }
}
