package io.nthlb.nat;

/**
 * What the kernel knows about a connection's arrival that a socket does not say: the interface it came in on
 * ({@code -i}) and which addresses are the host's own ({@code -m addrtype}). {@link NatTable#decide} asks only
 * when a rule tests them, at most once per connection for the interface.
 */
public interface HostNetwork {

    /** The interface a connection from {@code clientIp} arrived on, or "" for one that no rule names. */
    String inInterface(int clientIp);

    /**
     * Whether {@code address} is one of the host's own (the kernel's local routing table says {@code local});
     * with {@code device} not null, only the addresses of that interface count ({@code --limit-iface-in}).
     */
    boolean isLocal(int address, String device);

    /**
     * Whether the connection's own destination {@code address} is local (on {@code device}, if given). By default
     * what {@link #isLocal} says; a host whose sockets accepted the connection knows it is.
     */
    default boolean isDestinationLocal(int address, String device) {
        return isLocal(address, device);
    }

    /** Whether {@code address} is the broadcast address of one of the host's interfaces ({@code device}'s, if given). */
    boolean isBroadcast(int address, String device);

    /**
     * A host seen from outside its sockets: connections arrive on {@code inInterface} ("" for one no rule names),
     * and its own addresses are 127.0.0.0/8 and {@code localAddress} when {@code destinationLocal}. This is what
     * {@code nthlb simulate} assumes, and what {@link NatTable#decide(int, int, int, int)} assumes with the
     * connection's destination as {@code localAddress}.
     */
    static HostNetwork simulated(String inInterface, int localAddress, boolean destinationLocal) {
        return new Simulated(inInterface, localAddress, destinationLocal);
    }

    /** See {@link #simulated}. */
    record Simulated(String inInterface, int localAddress, boolean destinationLocal) implements HostNetwork {
        @Override
        public String inInterface(int clientIp) {
            return inInterface;
        }

        @Override
        public boolean isLocal(int address, String device) {
            return (address >>> 24) == 127 || destinationLocal && address == localAddress;
        }

        @Override
        public boolean isBroadcast(int address, String device) {
            return false;
        }
    }
}
