package io.nthlb.rules;

import java.math.BigInteger;
import java.util.Locale;
import java.util.Map;

/** The values options take (addresses, networks, ports, protocols, marks), read and printed as iptables does. */
final class OptionValues {
    private OptionValues() {
    }

    /**
     * Common service names and the protocols /etc/services (Debian's netbase) gives them, so that rules
     * need no /etc/services at run time; iptables looks names up per protocol ({@code ssh} is tcp only).
     */
    static final Map<String, Integer> TCP_SERVICES = Map.ofEntries(
            Map.entry("ftp-data", 20), Map.entry("ftp", 21), Map.entry("ssh", 22), Map.entry("telnet", 23),
            Map.entry("smtp", 25), Map.entry("domain", 53), Map.entry("http", 80), Map.entry("www", 80),
            Map.entry("pop3", 110), Map.entry("sunrpc", 111), Map.entry("imap", 143), Map.entry("imap2", 143),
            Map.entry("snmp", 161), Map.entry("ldap", 389), Map.entry("https", 443), Map.entry("submission", 587),
            Map.entry("ldaps", 636), Map.entry("imaps", 993), Map.entry("pop3s", 995), Map.entry("mysql", 3306),
            Map.entry("postgresql", 5432), Map.entry("redis", 6379), Map.entry("http-alt", 8080));
    static final Map<String, Integer> UDP_SERVICES = Map.ofEntries(
            Map.entry("domain", 53), Map.entry("tftp", 69), Map.entry("sunrpc", 111), Map.entry("ntp", 123),
            Map.entry("snmp", 161), Map.entry("ldap", 389), Map.entry("https", 443), Map.entry("ldaps", 636));

    static String natRangeText(int first, int last, PortRange ports) {
        StringBuilder sb = new StringBuilder();
        if (first != 0 || last != 0) {
            sb.append(Cidr.formatAddress(first));
            if (first != last) {
                sb.append('-').append(Cidr.formatAddress(last));
            }
        }
        if (ports != null) {
            sb.append(':').append(portRangeText(ports, "-"));
        }
        return sb.toString();
    }

    static String portRangeText(PortRange range, String separator) {
        return range.isSingle() ? Integer.toString(range.first()) : range.first() + separator + range.last();
    }

    /** Parses a dotted quad strictly (four decimal parts, each 0-255), or throws iptables' message. */
    static int parseAddress(String text) {
        Integer a = dottedQuad(text);
        if (a == null) {
            throw new RuleException("Bad IP address \"" + text + "\"");
        }
        return a;
    }

    private static Integer dottedQuad(String text) {
        // iptables reads "10.0.0" as 10.0.0.0: missing parts at the end are zero.
        String[] parts = text.split("\\.", -1);
        if (parts.length > 4) {
            return null;
        }
        int a = 0;
        for (String p : parts) {
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(c -> c >= '0' && c <= '9')) {
                return null;
            }
            int v = Integer.parseInt(p);
            if (v > 255) {
                return null;
            }
            a = (a << 8) | v;
        }
        return a << (8 * (4 - parts.length));
    }

    /** {@code -s}/{@code -d}: ADDR, ADDR/LEN or ADDR/MASK; hostnames are refused, nthlb does no DNS. */
    static Cidr parseNetwork(String text) {
        String addr = text;
        int prefix = 32;
        int slash = text.indexOf('/');
        if (slash >= 0) {
            addr = text.substring(0, slash);
            String mask = text.substring(slash + 1);
            if (mask.contains(".")) {
                Integer m = dottedQuad(mask);
                if (m == null) {
                    throw new RuleException("invalid mask `" + mask + "' specified");
                }
                int len = Integer.bitCount(m);
                if (Cidr.mask(len) != m) {
                    throw new RuleException("nthlb: non-contiguous mask `" + mask + "' is not supported");
                }
                prefix = len;
            } else {
                long len = parseUnsigned(mask, 10);
                if (len < 0 || len > 32) {
                    throw new RuleException("invalid mask `" + mask + "' specified");
                }
                prefix = (int) len;
            }
        }
        Integer a = dottedQuad(addr);
        if (a == null) {
            throw new RuleException("host/network `" + addr + "' not found");
        }
        return new Cidr(a, prefix);
    }

    /**
     * Protocol names iptables knows, from /etc/protocols (iptables reads that file; nthlb carries the common
     * ones so that it prints {@code -p 47} as {@code -p gre} without it).
     */
    static final Map<String, Integer> PROTOCOLS = Map.ofEntries(Map.entry("all", 0), Map.entry("icmp", 1),
            Map.entry("igmp", 2), Map.entry("tcp", ProtocolMatch.TCP), Map.entry("udp", ProtocolMatch.UDP),
            Map.entry("dccp", 33), Map.entry("ipv6", 41), Map.entry("gre", 47), Map.entry("esp", 50),
            Map.entry("ah", 51), Map.entry("ipv6-icmp", 58), Map.entry("ospf", 89), Map.entry("ipip", 94),
            Map.entry("sctp", 132), Map.entry("udplite", 136));

    static int parseProtocol(String text) {
        Integer known = PROTOCOLS.get(text.toLowerCase(Locale.ROOT));
        if (known != null) {
            return known;
        }
        long n = parseUnsigned(text, 10);
        if (n < 0 || n > 255) {
            throw new RuleException("unknown protocol \"" + text + "\" specified");
        }
        return (int) n;
    }

    /** A port or service name, for --sport/--dport and multiport. */
    static int parsePort(String text, String protocol) {
        Integer known = (protocol.equals("udp") ? UDP_SERVICES : TCP_SERVICES).get(text);
        if (known != null) {
            return known;
        }
        long n = parseUnsigned(text, 10);
        if (n < 0 || n > 65535) {
            throw new RuleException("invalid port/service `" + text + "' specified");
        }
        return (int) n;
    }

    /** {@code --dport} values: P, A:B, :B, A: (and A-B, which no iptables prints but some accept). */
    static PortRange parsePortRange(String text, String protocol) {
        int colon = text.indexOf(':');
        if (colon < 0) {
            return PortRange.of(parsePort(text, protocol));
        }
        int first = colon == 0 ? 0 : parsePort(text.substring(0, colon), protocol);
        int last = colon == text.length() - 1 ? 65535 : parsePort(text.substring(colon + 1), protocol);
        if (first > last) {
            throw new RuleException("invalid portrange (min > max)");
        }
        return new PortRange(first, last);
    }

    /** P or P1-P2 after a NAT target's colon or {@code --to-ports}. */
    static PortRange parseNatPortRange(String text) {
        int dash = text.indexOf('-');
        if (dash < 0) {
            return PortRange.of(parseNatPort(text));
        }
        int first = parseNatPort(text.substring(0, dash));
        int last = parseNatPort(text.substring(dash + 1));
        if (last < first) {
            throw new RuleException("Port range `" + text.substring(dash + 1) + "' funky");
        }
        return new PortRange(first, last);
    }

    private static int parseNatPort(String text) {
        long n = parseUnsigned(text, 10);
        if (n < 0 || n > 65535) {
            throw new RuleException("Port `" + text + "' not valid");
        }
        return (int) n;
    }

    /** VALUE[/MASK] as strtoul with base 0 reads it (0x hex, leading 0 octal), each within 32 bits. */
    static long[] parseValueMask(String text, String bad) {
        int slash = text.indexOf('/');
        String v = slash < 0 ? text : text.substring(0, slash);
        long value = parseUnsigned(v, 0);
        long mask = 0xFFFFFFFFL;
        if (slash >= 0) {
            mask = parseUnsigned(text.substring(slash + 1), 0);
        }
        if (value < 0 || value > 0xFFFFFFFFL || mask < 0 || mask > 0xFFFFFFFFL) {
            throw new RuleException(bad);
        }
        return new long[] {value, mask};
    }

    /** Parses a non-negative integer in {@code base} (0 means C's auto-detect), or gives -1 for anything else. */
    static long parseUnsigned(String text, int base) {
        if (text.isEmpty() || text.length() > 24) {
            return -1;
        }
        int radix = base;
        String digits = text;
        if (base == 0) {
            if (text.startsWith("0x") || text.startsWith("0X")) {
                radix = 16;
                digits = text.substring(2);
            } else if (text.length() > 1 && text.startsWith("0")) {
                radix = 8;
                digits = text.substring(1);
            } else {
                radix = 10;
            }
        }
        if (digits.isEmpty()) {
            return -1;
        }
        for (int i = 0; i < digits.length(); i++) {
            if (Character.digit(digits.charAt(i), radix) < 0) {
                return -1;
            }
        }
        BigInteger value = new BigInteger(digits, radix);
        return value.bitLength() > 62 ? -1 : value.longValue();
    }
}
