package io.nthlb.rules;

/**
 * {@code -m tcp}, {@code -m udp} or {@code -m sctp} with {@code --sport} and {@code --dport}; each side may be
 * absent ({@link PortRange#ALL}) or negated.
 *
 * @param protocol {@code "tcp"}, {@code "udp"} or {@code "sctp"}, the module name iptables prints
 */
public record PortMatch(String protocol, PortRange sourcePorts, boolean sourceInverted,
                        PortRange destinationPorts, boolean destinationInverted) implements Match {

    public boolean matches(int sourcePort, int destinationPort) {
        return sourcePorts.contains(sourcePort) != sourceInverted
                && destinationPorts.contains(destinationPort) != destinationInverted;
    }
}
