package io.nthlb.nat;

import io.nthlb.rules.AddrTypeMatch;

/**
 * One walk's view of the connection it decides, reused per thread: the {@link HostNetwork} to ask, and its
 * answer about the incoming interface once asked, so that a chain of {@code -i} rules (Docker's DOCKER chain)
 * looks the route up once.
 */
final class Arrival {
    private HostNetwork network;
    private int clientIp;
    private int localIp;
    private String in;

    /** Starts a walk; {@code network} null means {@link HostNetwork#simulated} with no interface, destination local. */
    void reset(HostNetwork network, int clientIp, int localIp) {
        this.network = network;
        this.clientIp = clientIp;
        this.localIp = localIp;
        this.in = null;
    }

    /** The incoming interface, "" for one no rule names. */
    String in() {
        if (in == null) {
            String name = network == null ? "" : network.inInterface(clientIp);
            in = name == null ? "" : name;
        }
        return in;
    }

    /** The kernel's route type of {@code address}, looked up on {@code device} when not null. */
    int type(int address, String device) {
        boolean local;
        boolean broadcast;
        if (network == null) {
            local = (address >>> 24) == 127 || address == localIp;
            broadcast = false;
        } else {
            local = address == localIp ? network.isDestinationLocal(address, device)
                    : network.isLocal(address, device);
            broadcast = !local && network.isBroadcast(address, device);
        }
        return AddrTypeMatch.typeOf(address, local, broadcast);
    }
}
