package io.nthlb.rules;

import java.util.List;

/** {@code -m multiport --dports|--sports|--ports a,b:c,...}, possibly negated. */
public record MultiportMatch(Direction direction, List<PortRange> ports, boolean inverted) implements Match {

    /** Which port of the connection the list is compared with. */
    public enum Direction {
        /** {@code --sports} */
        SOURCE,
        /** {@code --dports} */
        DESTINATION,
        /** {@code --ports}: either port. */
        EITHER
    }

    public MultiportMatch {
        ports = List.copyOf(ports);
    }

    public boolean matches(int sourcePort, int destinationPort) {
        boolean hit = false;
        for (PortRange range : ports) {
            if ((direction != Direction.DESTINATION && range.contains(sourcePort))
                    || (direction != Direction.SOURCE && range.contains(destinationPort))) {
                hit = true;
                break;
            }
        }
        return hit != inverted;
    }
}
