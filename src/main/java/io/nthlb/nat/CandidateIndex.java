package io.nthlb.nat;

import io.nthlb.rules.Match;
import io.nthlb.rules.MultiportMatch;
import io.nthlb.rules.PortMatch;
import io.nthlb.rules.PortRange;
import java.util.ArrayList;
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
 * first match with a side effect (an nth counter or a random draw): the fixed {@code -d} when it names one
 * host, and {@code --dport} / {@code multiport --dports} lists of single ports. A connection whose key differs
 * fails one of those options before it could touch a counter, which is exactly when skipping it is invisible.
 * Rules that cannot be filed (a network, a negation, a port range) are candidates for every connection.
 * Rules that can never match a TCP connection before a side effect (a {@code -p udp}, a mark test that fails
 * on mark 0) are left out entirely.
 */
final class CandidateIndex {

    /** Ports lists longer than this are not filed port by port; the rule is then unkeyed on the port. */
    private static final int MAX_KEYED_PORTS = 64;

    /** Rules filed under both a host and a port, merged with the ones below: key {@code ip << 32 | port}. */
    private final CandidateMap byAddressAndPort;
    /** Rules filed under a host only, merged with {@link #unkeyed}: key {@code ip}. */
    private final CandidateMap byAddress;
    /** Rules filed under a port only, merged with {@link #unkeyed}: key {@code port}. */
    private final CandidateMap byPort;
    /** Rules filed under a port only, not merged: for the rare host-only plus port-only mix. */
    private final CandidateMap portOnly;
    private final int[] unkeyed;

    private CandidateIndex(CandidateMap byAddressAndPort, CandidateMap byAddress, CandidateMap byPort,
                           CandidateMap portOnly, int[] unkeyed) {
        this.byAddressAndPort = byAddressAndPort;
        this.byAddress = byAddress;
        this.byPort = byPort;
        this.portOnly = portOnly;
        this.unkeyed = unkeyed;
    }

    /** The candidate rules, by 0-based position, for a connection to {@code localIp:localPort}. */
    int[] candidates(int localIp, int localPort) {
        int[] exact = byAddressAndPort.get(((long) localIp << 32) | localPort);
        if (exact != null) {
            return exact;
        }
        int[] host = byAddress.get(localIp & 0xFFFFFFFFL);
        if (host != null) {
            int[] port = portOnly.get(localPort);
            // A host-only rule and a port-only rule that both apply without a host+port rule: rare enough
            // (no generated table does it) to merge on the spot rather than precompute every pair.
            return port == null ? host : merge(host, port);
        }
        int[] port = byPort.get(localPort);
        return port != null ? port : unkeyed;
    }

    static CandidateIndex of(CompiledRule[] rules) {
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
                    hostAndPort.computeIfAbsent(((long) key.address << 32) | port, k -> new ArrayList<>())
                            .add(rule.index);
                }
            } else if (key.host) {
                hostOnly.computeIfAbsent(key.address, k -> new ArrayList<>()).add(rule.index);
            } else if (key.ports != null) {
                for (int port : key.ports) {
                    portOnlyLists.computeIfAbsent(port, k -> new ArrayList<>()).add(rule.index);
                }
            } else {
                unkeyedList.add(rule.index);
            }
        }
        int[] unkeyed = toArray(unkeyedList);

        long[] exactKeys = new long[hostAndPort.size()];
        int[][] exactValues = new int[exactKeys.length][];
        int i = 0;
        for (Map.Entry<Long, List<Integer>> e : hostAndPort.entrySet()) {
            long key = e.getKey();
            int address = (int) (key >>> 32);
            int port = (int) key;
            exactKeys[i] = key;
            exactValues[i] = merge(merge(toArray(e.getValue()), toArray(hostOnly.get(address))),
                    merge(toArray(portOnlyLists.get(port)), unkeyed));
            i++;
        }

        long[] hostKeys = new long[hostOnly.size()];
        int[][] hostValues = new int[hostKeys.length][];
        i = 0;
        for (Map.Entry<Integer, List<Integer>> e : hostOnly.entrySet()) {
            hostKeys[i] = e.getKey() & 0xFFFFFFFFL;
            hostValues[i] = merge(toArray(e.getValue()), unkeyed);
            i++;
        }

        long[] portKeys = new long[portOnlyLists.size()];
        int[][] portValues = new int[portKeys.length][];
        int[][] portOnlyValues = new int[portKeys.length][];
        i = 0;
        for (Map.Entry<Integer, List<Integer>> e : portOnlyLists.entrySet()) {
            portKeys[i] = e.getKey();
            portOnlyValues[i] = toArray(e.getValue());
            portValues[i] = merge(portOnlyValues[i], unkeyed);
            i++;
        }
        return new CandidateIndex(CandidateMap.of(exactKeys, exactValues), CandidateMap.of(hostKeys, hostValues),
                CandidateMap.of(portKeys, portValues), CandidateMap.of(portKeys, portOnlyValues), unkeyed);
    }

    /** What a rule can be filed under, or {@code null} when it can never match a TCP connection. */
    private static final class Key {
        boolean host;
        int address;
        /** Sorted single ports, or {@code null} for any port. */
        int[] ports;

        static Key of(CompiledRule rule) {
            if (!rule.admitsTcp) {
                return null;
            }
            Key key = new Key();
            var destination = rule.rule.destination();
            if (destination != null && destination.network().isHost() && !destination.inverted()) {
                key.host = true;
                key.address = destination.network().address();
            }
            TreeSet<Integer> ports = null;
            List<Match> matches = rule.rule.matches();
            for (int i = 0; i < matches.size(); i++) {
                MatchStep step = rule.steps[i];
                if (step.hasSideEffect()) {
                    break;
                }
                if (step == MatchStep.Constant.FALSE) {
                    return null;
                }
                TreeSet<Integer> these = destinationPorts(matches.get(i));
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
                key.ports = ports.stream().mapToInt(Integer::intValue).toArray();
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
        return n == out.length ? out : java.util.Arrays.copyOf(out, n);
    }
}
