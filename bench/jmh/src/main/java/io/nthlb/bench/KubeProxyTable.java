package io.nthlb.bench;

import io.nthlb.rules.AddressMatch;
import io.nthlb.rules.Chain;
import io.nthlb.rules.Cidr;
import io.nthlb.rules.CommentMatch;
import io.nthlb.rules.DnatTarget;
import io.nthlb.rules.JumpTarget;
import io.nthlb.rules.MarkTarget;
import io.nthlb.rules.Match;
import io.nthlb.rules.Origin;
import io.nthlb.rules.PortMatch;
import io.nthlb.rules.PortRange;
import io.nthlb.rules.ProtocolMatch;
import io.nthlb.rules.RandomMatch;
import io.nthlb.rules.Rule;
import io.nthlb.rules.Ruleset;
import io.nthlb.rules.Target;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.TreeMap;

/**
 * A generated kube-proxy nat table of S services with E endpoints each, as {@code iptables-save} prints what
 * kube-proxy's iptables mode writes: {@code KUBE-SERVICES} sends each cluster IP and port to its
 * {@code KUBE-SVC-*} chain, which picks an endpoint with random probabilities 1/E, 1/(E-1)... and an
 * unconditional last jump to a {@code KUBE-SEP-*} chain, which marks hairpin traffic and DNATs to the pod.
 *
 * <p>Service i has cluster IP 172.30.0.0 + i + 1 and port 80, 443, 8080 or 9090 (i mod 4); endpoint e of
 * service i is pod 10.244.0.0 + i * E + e + 2, port 8080.
 */
public final class KubeProxyTable {

    private static final String FILE = "kube-proxy.rules";
    private static final int[] SERVICE_PORTS = {80, 443, 8080, 9090};
    private static final int POD_PORT = 8080;

    private final int services;
    private final int endpoints;

    public KubeProxyTable(int services, int endpoints) {
        if (services < 1 || endpoints < 1) {
            throw new IllegalArgumentException("services, endpoints: " + services + ", " + endpoints
                    + " (expected: >= 1)");
        }
        this.services = services;
        this.endpoints = endpoints;
    }

    public int services() {
        return services;
    }

    public static int clusterIp(int service) {
        return (172 << 24 | 30 << 16) + service + 1;
    }

    public static int servicePort(int service) {
        return SERVICE_PORTS[service % SERVICE_PORTS.length];
    }

    private int podIp(int service, int endpoint) {
        return (10 << 24 | 244 << 16) + service * endpoints + endpoint + 2;
    }

    private static String name(int service) {
        return "ns" + service + "/svc" + service;
    }

    private static String chainName(String prefix, String key) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
            return prefix + HexFormat.of().withUpperCase().formatHex(digest, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every JDK has SHA-256", e);
        }
    }

    private static String svcChain(int service) {
        return chainName("KUBE-SVC-", name(service) + ":tcp");
    }

    private static String sepChain(int service, int endpoint) {
        return chainName("KUBE-SEP-", name(service) + ":tcp:" + endpoint);
    }

    /** {@code round(2^31 / (E - e))}: what iptables stores for kube-proxy's probability of endpoint e. */
    private long threshold(int endpoint) {
        return Math.round((1L << 31) / (double) (endpoints - endpoint));
    }

    /**
     * The table as an {@code iptables-save} file, in the order iptables-save prints it (built-in chains, then
     * user chains sorted by name, for the chain lines and the rules alike); {@code iptables-restore} takes it
     * and {@code iptables-save} gives it back unchanged.
     */
    public String rulesText() {
        TreeMap<String, StringBuilder> userRules = new TreeMap<>();
        userRules.put("KUBE-MARK-MASQ", new StringBuilder("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n"));
        StringBuilder services = new StringBuilder();
        userRules.put("KUBE-SERVICES", services);
        for (int s = 0; s < this.services; s++) {
            services.append("-A KUBE-SERVICES -d ").append(Cidr.formatAddress(clusterIp(s)))
                    .append("/32 -p tcp -m comment --comment \"").append(name(s)).append(" cluster IP\" -m tcp --dport ")
                    .append(servicePort(s)).append(" -j ").append(svcChain(s)).append('\n');
            StringBuilder svc = new StringBuilder();
            userRules.put(svcChain(s), svc);
            for (int e = 0; e < endpoints; e++) {
                String pod = Cidr.formatAddress(podIp(s, e));
                svc.append("-A ").append(svcChain(s)).append(" -m comment --comment \"").append(name(s))
                        .append(" -> ").append(pod).append(':').append(POD_PORT).append('"');
                if (e < endpoints - 1) {
                    svc.append(" -m statistic --mode random --probability ")
                            .append(String.format(Locale.ROOT, "%.11f", threshold(e) / (double) (1L << 31)));
                }
                svc.append(" -j ").append(sepChain(s, e)).append('\n');
                StringBuilder sep = new StringBuilder();
                userRules.put(sepChain(s, e), sep);
                sep.append("-A ").append(sepChain(s, e)).append(" -s ").append(pod).append("/32 -m comment --comment \"")
                        .append(name(s)).append("\" -j KUBE-MARK-MASQ\n");
                sep.append("-A ").append(sepChain(s, e)).append(" -p tcp -m comment --comment \"").append(name(s))
                        .append("\" -m tcp -j DNAT --to-destination ").append(pod).append(':').append(POD_PORT)
                        .append('\n');
            }
        }
        StringBuilder out = new StringBuilder(this.services * endpoints * 400);
        out.append("# Generated: ").append(this.services).append(" kube-proxy services x ").append(endpoints)
                .append(" endpoints\n*nat\n");
        for (String builtIn : Chain.BUILT_IN) {
            out.append(':').append(builtIn).append(" ACCEPT [0:0]\n");
        }
        for (String chain : userRules.keySet()) {
            out.append(':').append(chain).append(" - [0:0]\n");
        }
        out.append("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n");
        userRules.values().forEach(out::append);
        out.append("COMMIT\n");
        return out.toString();
    }

    /**
     * The same table built directly as the rule model, in the normalised form the parser produces, for
     * measuring the table without the parser.
     */
    public Ruleset ruleset() {
        List<Chain> chains = new ArrayList<>();
        ProtocolMatch tcp = new ProtocolMatch(ProtocolMatch.TCP, false);
        chains.add(new Chain("PREROUTING", "ACCEPT", List.of(rule("PREROUTING", AddressMatch.ANY, AddressMatch.ANY,
                null, List.of(new CommentMatch("kubernetes service portals")), new JumpTarget("KUBE-SERVICES", false)))));
        for (String builtIn : Chain.BUILT_IN.subList(1, Chain.BUILT_IN.size())) {
            chains.add(new Chain(builtIn, "ACCEPT", List.of()));
        }
        List<Chain> user = new ArrayList<>();
        user.add(new Chain("KUBE-MARK-MASQ", null, List.of(rule("KUBE-MARK-MASQ", AddressMatch.ANY, AddressMatch.ANY,
                null, List.of(), new MarkTarget(0x4000, 0x4000)))));
        List<Rule> serviceRules = new ArrayList<>();
        for (int s = 0; s < services; s++) {
            serviceRules.add(rule("KUBE-SERVICES", AddressMatch.ANY, host(clusterIp(s)), tcp,
                    List.of(new CommentMatch(name(s) + " cluster IP"),
                            new PortMatch("tcp", PortRange.ALL, false, PortRange.of(servicePort(s)), false)),
                    new JumpTarget(svcChain(s), false)));
            List<Rule> svc = new ArrayList<>();
            for (int e = 0; e < endpoints; e++) {
                int pod = podIp(s, e);
                List<Match> matches = new ArrayList<>();
                matches.add(new CommentMatch(name(s) + " -> " + Cidr.formatAddress(pod) + ":" + POD_PORT));
                if (e < endpoints - 1) {
                    matches.add(new RandomMatch(threshold(e), false));
                }
                svc.add(rule(svcChain(s), AddressMatch.ANY, AddressMatch.ANY, null, matches,
                        new JumpTarget(sepChain(s, e), false)));
                user.add(new Chain(sepChain(s, e), null, List.of(
                        rule(sepChain(s, e), host(pod), AddressMatch.ANY, null, List.of(new CommentMatch(name(s))),
                                new JumpTarget("KUBE-MARK-MASQ", false)),
                        rule(sepChain(s, e), AddressMatch.ANY, AddressMatch.ANY, tcp,
                                List.of(new CommentMatch(name(s)), new PortMatch("tcp", PortRange.ALL, false,
                                        PortRange.ALL, false)),
                                new DnatTarget(pod, pod, PortRange.of(POD_PORT), false, false)))));
            }
            user.add(new Chain(svcChain(s), null, svc));
        }
        user.add(new Chain("KUBE-SERVICES", null, serviceRules));
        user.sort((a, b) -> a.name().compareTo(b.name()));
        chains.addAll(user);
        return new Ruleset(chains);
    }

    private static AddressMatch host(int ip) {
        return new AddressMatch(new Cidr(ip, 32), false);
    }

    private static Rule rule(String chain, AddressMatch source, AddressMatch destination, ProtocolMatch protocol,
                             List<Match> matches, Target target) {
        return new Rule(chain, source, destination, null, null, protocol, matches, target, new Origin(FILE, 0));
    }
}
