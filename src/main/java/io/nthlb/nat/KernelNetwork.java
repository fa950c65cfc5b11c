package io.nthlb.nat;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InterfaceAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * This host as the kernel sees it, for {@code nthlb run}: a connection's incoming interface is taken to be the
 * interface of the route back to its client (main routing table, {@code /proc/net/route}; a client on one of the
 * host's own addresses arrives on {@code lo}), and the host's addresses and broadcast addresses come from its
 * interfaces. Both are read again at most once a second, when a connection needs them.
 *
 * <p>Where this can differ from the kernel: with asymmetric routing (the reply leaves by another interface
 * than the request came in), with policy routing ({@code ip rule}: only the main table is read), and for up to a
 * second after an interface or route changes.
 */
public final class KernelNetwork implements HostNetwork {
    private static final long REFRESH_NANOS = 1_000_000_000L;
    private static final KernelNetwork HOST = new KernelNetwork(Path.of("/proc/net/route"));

    private final Path routeFile;
    private final AtomicBoolean refreshing = new AtomicBoolean();
    private volatile Snapshot snapshot;

    KernelNetwork(Path routeFile) {
        this.routeFile = routeFile;
    }

    /** The host this process runs on. */
    public static KernelNetwork host() {
        return HOST;
    }

    @Override
    public String inInterface(int clientIp) {
        Snapshot s = current();
        String local = s.localDevice(clientIp);
        return local != null ? "lo" : s.routeDevice(clientIp);
    }

    @Override
    public boolean isLocal(int address, String device) {
        String owner = current().localDevice(address);
        return owner != null && (device == null || device.equals(owner));
    }

    /**
     * A connection nthlb accepted was sent to this host, so its destination is local even when the address list
     * read last has not caught up yet (an address just added, or taken with --bind-any); limited to an interface,
     * it is local there unless another interface is known to hold it.
     */
    @Override
    public boolean isDestinationLocal(int address, String device) {
        String owner = current().localDevice(address);
        return device == null || owner == null || device.equals(owner);
    }

    @Override
    public boolean isBroadcast(int address, String device) {
        for (Address a : current().broadcasts) {
            if (a.address == address && (device == null || device.equals(a.device))) {
                return true;
            }
        }
        return false;
    }

    private Snapshot current() {
        Snapshot s = snapshot;
        long now = System.nanoTime();
        if (s == null || now - s.readAt > REFRESH_NANOS) {
            // One thread reads while the others go on with the snapshot they have; the first read is waited for.
            if (refreshing.compareAndSet(false, true)) {
                try {
                    s = read(now);
                    snapshot = s;
                } finally {
                    refreshing.set(false);
                }
            } else if (s == null) {
                s = read(now);
            }
        }
        return s;
    }

    private Snapshot read(long now) {
        List<Route> routes;
        try {
            routes = parseRoutes(Files.readString(routeFile));
        } catch (IOException e) {
            routes = List.of();
        }
        List<Address> locals = new ArrayList<>();
        List<Address> broadcasts = new ArrayList<>();
        try {
            for (NetworkInterface nif : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                if (!nif.isUp()) {
                    continue;
                }
                for (InterfaceAddress ia : nif.getInterfaceAddresses()) {
                    if (ia.getAddress() instanceof Inet4Address v4) {
                        locals.add(new Address(toInt(v4), nif.getName()));
                        if (ia.getBroadcast() != null) {
                            broadcasts.add(new Address(toInt(ia.getBroadcast()), nif.getName()));
                        }
                    }
                }
            }
        } catch (SocketException e) {
            // No interfaces to read: only the loopback network counts as local.
        }
        return new Snapshot(now, routes, locals, broadcasts);
    }

    private static int toInt(java.net.InetAddress address) {
        byte[] b = address.getAddress();
        return (b[0] & 0xFF) << 24 | (b[1] & 0xFF) << 16 | (b[2] & 0xFF) << 8 | (b[3] & 0xFF);
    }

    /**
     * The routes of {@code /proc/net/route} that are up: interface, destination and mask, written there as the
     * hexadecimal of the address's bytes read as a little-endian number.
     */
    static List<Route> parseRoutes(String text) {
        List<Route> routes = new ArrayList<>();
        String[] lines = text.split("\n");
        for (int i = 1; i < lines.length; i++) {
            String[] f = lines[i].trim().split("\\s+");
            if (f.length < 8) {
                continue;
            }
            try {
                int flags = Integer.parseInt(f[3], 16);
                if ((flags & 1) == 0) {
                    continue; // RTF_UP
                }
                int destination = Integer.reverseBytes((int) Long.parseLong(f[1], 16));
                int mask = Integer.reverseBytes((int) Long.parseLong(f[7], 16));
                routes.add(new Route(f[0], destination, mask, Integer.parseInt(f[6])));
            } catch (NumberFormatException e) {
                // A line this reader does not understand is not a route it can use.
            }
        }
        return routes;
    }

    /** One route of the main table. */
    record Route(String device, int destination, int mask, int metric) {
    }

    private record Address(int address, String device) {
    }

    private record Snapshot(long readAt, List<Route> routes, List<Address> locals, List<Address> broadcasts) {
        /** The interface holding {@code address}, "lo" for 127.0.0.0/8, or null when it is not the host's. */
        String localDevice(int address) {
            if ((address >>> 24) == 127) {
                return "lo";
            }
            for (Address a : locals) {
                if (a.address == address) {
                    return a.device;
                }
            }
            return null;
        }

        /** The longest-prefix route's interface (the lowest metric among equals), or "" for none. */
        String routeDevice(int address) {
            Route best = null;
            for (Route r : routes) {
                if ((address & r.mask) == r.destination && (best == null
                        || Integer.compareUnsigned(r.mask, best.mask) > 0
                        || r.mask == best.mask && r.metric < best.metric)) {
                    best = r;
                }
            }
            return best == null ? "" : best.device;
        }
    }
}
