package io.nthlb.nat;

import io.nthlb.rules.AddressMatch;
import io.nthlb.rules.MarkMatch;
import io.nthlb.rules.Match;
import io.nthlb.rules.MultiportMatch;
import io.nthlb.rules.NthMatch;
import io.nthlb.rules.PortMatch;
import io.nthlb.rules.PortRange;
import io.nthlb.rules.RandomMatch;
import io.nthlb.rules.RecentMatch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Which rules of a chain a connection to a given local address and port can possibly match, in chain order,
 * so that a chain of ten thousand service rules is not walked one by one.
 *
 * <p>Skipping a rule must not change what the kernel would do, and the kernel's statistic counters move as
 * soon as a connection reaches them. So a rule is filed under a key only from what is tested before its
 * first match with a side effect (an nth counter, a random draw, a recent list): the fixed {@code -d} when it
 * names one host, and {@code --dport} / {@code multiport --dports} lists of single ports. A connection whose key differs
 * fails one of those options before it could touch a counter, which is exactly when skipping it is invisible.
 * Rules that cannot be filed (a network, a negation, a port range) are candidates for every connection.
 * Rules that can never match a TCP connection before a side effect (a {@code -p udp}, a mark test that fails
 * on mark 0) are left out entirely.
 *
 * <p>A candidate list is an {@code int[]} whose rule positions start at {@link #FIRST} (the slots before
 * hold the key it was filed under).
 */
final class CandidateIndex {

    /** Where rule positions start in a candidate list. */
    static final int FIRST = 2;

    /** Ports lists longer than this are not filed port by port; the rule is then unkeyed on the port. */
    private static final int MAX_KEYED_PORTS = 64;

    /** Shared lists {@code 0, 1, ... n-1} for small unindexed chains, so that thousands of them share a cache line. */
    private static final int[][] ALL_RULES = new int[64][];

    static {
        for (int n = 0; n < ALL_RULES.length; n++) {
            ALL_RULES[n] = list(0, 0, identity(n));
        }
    }

    private static final CandidateMap NONE = CandidateMap.of(new int[0][]);

    /** The index of a small chain without keyed rules, by its number of rules: shared, it holds nothing else. */
    private static final CandidateIndex[] PLAIN = new CandidateIndex[ALL_RULES.length];

    static {
        for (int n = 0; n < PLAIN.length; n++) {
            PLAIN[n] = new CandidateIndex(NONE, NONE, NONE, NONE, ALL_RULES[n]);
        }
    }

    /** Rules filed under both a host and a port, merged with the ones below: key {@code (ip, port)}. */
    private final CandidateMap byAddressAndPort;
    /** Rules filed under a host only, merged with {@link #unkeyed}: key {@code (ip, 0)}. */
    private final CandidateMap byAddress;
    /** Rules filed under a port only, merged with {@link #unkeyed}: key {@code (0, port)}. */
    private final CandidateMap byPort;
    /** Rules filed under a port only, not merged: for the rare host-only plus port-only mix. */
    private final CandidateMap portOnly;
    private final int[] unkeyed;
    /** No rule is filed under a key: every connection gets {@link #unkeyed} without a lookup. */
    private final boolean unkeyedOnly;

    private CandidateIndex(CandidateMap byAddressAndPort, CandidateMap byAddress, CandidateMap byPort,
                           CandidateMap portOnly, int[] unkeyed) {
        this.byAddressAndPort = byAddressAndPort;
        this.byAddress = byAddress;
        this.byPort = byPort;
        this.portOnly = portOnly;
        this.unkeyed = unkeyed;
        this.unkeyedOnly = byAddressAndPort.isEmpty() && byAddress.isEmpty() && byPort.isEmpty();
    }

    boolean unkeyedOnly() {
        return unkeyedOnly;
    }

    /** The lists filed under an address and a port: what {@link #candidates} answers when the key is theirs. */
    int[][] exactEntries() {
        return byAddressAndPort.entries();
    }

    /** The candidate rules for a connection to {@code localIp:localPort}: positions from {@link #FIRST} on. */
    int[] candidates(int localIp, int localPort) {
        if (unkeyedOnly) {
            return unkeyed;
        }
        int[] exact = byAddressAndPort.get(localIp, localPort);
        if (exact != null) {
            return exact;
        }
        int[] host = byAddress.get(localIp, 0);
        if (host != null) {
            int[] port = portOnly.get(0, localPort);
            // A host-only rule and a port-only rule that both apply without a host+port rule: rare enough
            // (no generated table does it) to merge on the spot rather than precompute every pair.
            return port == null ? host : list(0, 0, merge(positions(host), positions(port)));
        }
        int[] port = byPort.get(0, localPort);
        return port != null ? port : unkeyed;
    }

    static CandidateIndex of(CompiledRule[] rules) {
        boolean plain = rules.length < ALL_RULES.length;
        for (int i = 0; plain && i < rules.length; i++) {
            plain = rules[i].canMatch && !mayBeKeyed(rules[i]);
        }
        if (plain) {
            // The common small chain (KUBE-SVC-*, KUBE-SEP-*): every rule is a candidate for everyone.
            return PLAIN[rules.length];
        }
        Map<Long, List<Integer>> hostAndPort = new HashMap<>();
        Map<Integer, List<Integer>> hostOnly = new HashMap<>();
        Map<Integer, List<Integer>> portOnlyLists = new HashMap<>();
        List<Integer> unkeyedList = new ArrayList<>();
        for (CompiledRule rule : rules) {
            Key key = Key.of(rule);
            if (key == null) {
                continue;
            }
            if (key.host && key.ports != null) {
                for (int port : key.ports) {
                    hostAndPort.computeIfAbsent(((long) key.address << 32) | port, k -> new ArrayList<>(1))
                            .add(rule.index);
                }
            } else if (key.host) {
                hostOnly.computeIfAbsent(key.address, k -> new ArrayList<>(1)).add(rule.index);
            } else if (key.ports != null) {
                for (int port : key.ports) {
                    portOnlyLists.computeIfAbsent(port, k -> new ArrayList<>(1)).add(rule.index);
                }
            } else {
                unkeyedList.add(rule.index);
            }
        }
        int[] unkeyedPositions = toArray(unkeyedList);
        int[] unkeyed = unkeyedPositions.length < ALL_RULES.length
                && Arrays.equals(unkeyedPositions, identity(unkeyedPositions.length))
                ? ALL_RULES[unkeyedPositions.length] : list(0, 0, unkeyedPositions);
        if (hostAndPort.isEmpty() && hostOnly.isEmpty() && portOnlyLists.isEmpty()) {
            return new CandidateIndex(NONE, NONE, NONE, NONE, unkeyed);
        }

        List<int[]> exact = new ArrayList<>(hostAndPort.size());
        for (Map.Entry<Long, List<Integer>> e : hostAndPort.entrySet()) {
            long key = e.getKey();
            int address = (int) (key >>> 32);
            int port = (int) key;
            exact.add(list(address, port, merge(merge(toArray(e.getValue()), toArray(hostOnly.get(address))),
                    merge(toArray(portOnlyLists.get(port)), unkeyedPositions))));
        }
        List<int[]> hosts = new ArrayList<>(hostOnly.size());
        for (Map.Entry<Integer, List<Integer>> e : hostOnly.entrySet()) {
            hosts.add(list(e.getKey(), 0, merge(toArray(e.getValue()), unkeyedPositions)));
        }
        List<int[]> ports = new ArrayList<>(portOnlyLists.size());
        List<int[]> portsAlone = new ArrayList<>(portOnlyLists.size());
        for (Map.Entry<Integer, List<Integer>> e : portOnlyLists.entrySet()) {
            ports.add(list(0, e.getKey(), merge(toArray(e.getValue()), unkeyedPositions)));
            portsAlone.add(list(0, e.getKey(), toArray(e.getValue())));
        }
        return new CandidateIndex(CandidateMap.of(exact.toArray(new int[0][])),
                CandidateMap.of(hosts.toArray(new int[0][])), CandidateMap.of(ports.toArray(new int[0][])),
                CandidateMap.of(portsAlone.toArray(new int[0][])), unkeyed);
    }

    /** A cheap first look: whether {@link Key#of} might file the rule under a host or a port. */
    private static boolean mayBeKeyed(CompiledRule rule) {
        AddressMatch destination = rule.rule.destination();
        if (destination != null && destination.network().isHost() && !destination.inverted()) {
            return true;
        }
        for (Match match : rule.rule.matches()) {
            if (match instanceof NthMatch || match instanceof RandomMatch || match instanceof RecentMatch) {
                return false;
            }
            if (match instanceof MarkMatch || match instanceof MultiportMatch
                    || match instanceof PortMatch m && !PortRange.ALL.equals(m.destinationPorts())) {
                return true;
            }
        }
        return false;
    }

    /** What a rule can be filed under, or {@code null} when it can never match a TCP connection. */
    private static final class Key {
        boolean host;
        int address;
        /** Sorted single ports, or {@code null} for any port. */
        int[] ports;

        static Key of(CompiledRule rule) {
            if (!rule.canMatch) {
                return null;
            }
            Key key = new Key();
            AddressMatch destination = rule.rule.destination();
            if (destination != null && destination.network().isHost() && !destination.inverted()) {
                key.host = true;
                key.address = destination.network().address();
            }
            TreeSet<Integer> ports = null;
            for (Match match : rule.rule.matches()) {
                if (match instanceof NthMatch || match instanceof RandomMatch || match instanceof RecentMatch) {
                    break;
                }
                if (match instanceof MarkMatch mark && !mark.matches(0)) {
                    return null;
                }
                TreeSet<Integer> these = destinationPorts(match);
                if (these != null) {
                    if (ports == null) {
                        ports = these;
                    } else {
                        ports.retainAll(these);
                    }
                    if (ports.isEmpty()) {
                        return null;
                    }
                }
            }
            if (ports != null) {
                key.ports = new int[ports.size()];
                int i = 0;
                for (int port : ports) {
                    key.ports[i++] = port;
                }
            }
            return key;
        }

        /** The single destination ports a match requires, or {@code null} when it cannot be filed by port. */
        private static TreeSet<Integer> destinationPorts(Match match) {
            List<PortRange> ranges;
            if (match instanceof PortMatch m && !m.destinationInverted()
                    && !PortRange.ALL.equals(m.destinationPorts())) {
                ranges = List.of(m.destinationPorts());
            } else if (match instanceof MultiportMatch m && !m.inverted()
                    && m.direction() == MultiportMatch.Direction.DESTINATION) {
                ranges = m.ports();
            } else {
                return null;
            }
            TreeSet<Integer> ports = new TreeSet<>();
            for (PortRange range : ranges) {
                int first = Math.min(range.first(), range.last());
                int last = Math.max(range.first(), range.last());
                if (last - first + 1 > MAX_KEYED_PORTS - ports.size()) {
                    return null;
                }
                for (int p = first; p <= last; p++) {
                    ports.add(p);
                }
            }
            return ports;
        }
    }

    private static int[] identity(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        return a;
    }

    /** A candidate list: the key, then the positions. */
    private static int[] list(int high, int low, int[] positions) {
        int[] out = new int[FIRST + positions.length];
        out[CandidateMap.KEY_HIGH] = high;
        out[CandidateMap.KEY_LOW] = low;
        System.arraycopy(positions, 0, out, FIRST, positions.length);
        return out;
    }

    private static int[] positions(int[] list) {
        return Arrays.copyOfRange(list, FIRST, list.length);
    }

    private static int[] toArray(List<Integer> list) {
        if (list == null) {
            return new int[0];
        }
        int[] a = new int[list.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = list.get(i);
        }
        return a;
    }

    /** Merges two ascending arrays of distinct positions into one ascending array. */
    static int[] merge(int[] a, int[] b) {
        if (a.length == 0) {
            return b;
        }
        if (b.length == 0) {
            return a;
        }
        int[] out = new int[a.length + b.length];
        int i = 0;
        int j = 0;
        int n = 0;
        while (i < a.length && j < b.length) {
            if (a[i] < b[j]) {
                out[n++] = a[i++];
            } else if (a[i] > b[j]) {
                out[n++] = b[j++];
            } else {
                out[n++] = a[i++];
                j++;
            }
        }
        while (i < a.length) {
            out[n++] = a[i++];
        }
        while (j < b.length) {
            out[n++] = b[j++];
        }
        return n == out.length ? out : Arrays.copyOf(out, n);
    }
}
