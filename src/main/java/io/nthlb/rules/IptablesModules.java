package io.nthlb.rules;

import java.util.Set;

/**
 * The IPv4 match and target extensions iptables 1.8.9 ships ({@code libxt_*} and {@code libipt_*}), so that a
 * rule using one nthlb does not run is refused as unsupported rather than with iptables' "Couldn't load match"
 * or "Chain does not exist", which would say the name is wrong when it is not.
 */
final class IptablesModules {

    /** What nthlb does run, for the messages. */
    static final String SUPPORTED = "nthlb runs -m tcp, udp, sctp, multiport, statistic, comment, mark, addrtype and"
            + " recent; -j DNAT, REDIRECT, RETURN, ACCEPT, MASQUERADE, SNAT, MARK, LOG and user chains";

    static final Set<String> MATCHES = Set.of("ah", "bpf", "cgroup", "cluster", "connbytes", "connlabel",
            "connlimit", "connmark", "conntrack", "cpu", "dccp", "devgroup", "dscp", "ecn", "esp", "hashlimit",
            "helper", "icmp", "ipcomp", "iprange", "ipvs", "length", "limit", "mac", "nfacct", "osf", "owner",
            "physdev", "pkttype", "policy", "quota", "rateest", "realm", "rpfilter", "set", "socket",
            "state", "string", "tcpmss", "time", "tos", "ttl", "u32");

    static final Set<String> TARGETS = Set.of("AUDIT", "CHECKSUM", "CLASSIFY", "CLUSTERIP", "CONNMARK",
            "CONNSECMARK", "CT", "DSCP", "ECN", "HMARK", "IDLETIMER", "LED", "NETMAP", "NFLOG", "NFQUEUE", "NOTRACK",
            "RATEEST", "REJECT", "SECMARK", "SET", "SYNPROXY", "TCPMSS", "TCPOPTSTRIP", "TEE", "TOS", "TPROXY",
            "TRACE", "TTL", "ULOG");

    private IptablesModules() {
    }
}
