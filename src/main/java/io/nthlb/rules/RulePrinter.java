package io.nthlb.rules;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;

/**
 * Prints a {@link Ruleset} the ways iptables does: {@code iptables -t nat -S}, {@code iptables-save}
 * and {@code iptables -t nat -nvL}. Every method is a function of its arguments.
 */
public final class RulePrinter {
    private static final long ALL_BITS = 0xFFFFFFFFL;
    private static final DateTimeFormatter CTIME =
            DateTimeFormatter.ofPattern("EEE MMM ppd HH:mm:ss yyyy", Locale.ROOT);

    private RulePrinter() {
    }

    // ---------------------------------------------------------------- -S

    /** {@code iptables -t nat -S}: policies, {@code -N} lines, then every rule, each line ending in a newline. */
    public static String listRules(Ruleset ruleset) {
        StringBuilder sb = new StringBuilder();
        for (Chain chain : ruleset.chains()) {
            if (chain.isBuiltIn()) {
                sb.append("-P ").append(chain.name()).append(' ').append(chain.policy()).append('\n');
            }
        }
        for (Chain chain : ruleset.chains()) {
            if (!chain.isBuiltIn()) {
                sb.append("-N ").append(chain.name()).append('\n');
            }
        }
        for (Chain chain : ruleset.chains()) {
            for (Rule rule : chain.rules()) {
                sb.append(rule(rule)).append('\n');
            }
        }
        return sb.toString();
    }

    /** The {@code -S} line of one rule ({@code -A CHAIN ...}), the canonical text for logs. */
    public static String rule(Rule rule) {
        StringBuilder sb = new StringBuilder("-A ").append(rule.chain());
        if (!rule.source().isAny()) {
            sb.append(rule.source().inverted() ? " ! -s " : " -s ").append(rule.source().network());
        }
        if (!rule.destination().isAny()) {
            sb.append(rule.destination().inverted() ? " ! -d " : " -d ").append(rule.destination().network());
        }
        if (rule.in() != null) {
            sb.append(rule.in().inverted() ? " ! -i " : " -i ").append(rule.in().name());
        }
        if (rule.out() != null) {
            sb.append(rule.out().inverted() ? " ! -o " : " -o ").append(rule.out().name());
        }
        if (rule.protocol() != null) {
            sb.append(rule.protocol().inverted() ? " ! -p " : " -p ").append(protocolName(rule.protocol().number()));
        }
        for (Match match : rule.matches()) {
            sb.append(matchOptions(match));
        }
        Target target = rule.target();
        if (target != null) {
            sb.append(target instanceof JumpTarget jump && jump.goTo() ? " -g " : " -j ")
                    .append(targetName(target)).append(targetOptions(target));
        }
        return sb.toString();
    }

    private static String matchOptions(Match match) {
        if (match instanceof PortMatch p) {
            StringBuilder sb = new StringBuilder(" -m ").append(p.protocol());
            if (!p.sourcePorts().equals(PortRange.ALL) || p.sourceInverted()) {
                sb.append(p.sourceInverted() ? " ! --sport " : " --sport ").append(ports(p.sourcePorts()));
            }
            if (!p.destinationPorts().equals(PortRange.ALL) || p.destinationInverted()) {
                sb.append(p.destinationInverted() ? " ! --dport " : " --dport ").append(ports(p.destinationPorts()));
            }
            return sb.toString();
        } else if (match instanceof MultiportMatch m) {
            String option = switch (m.direction()) {
                case SOURCE -> "--sports ";
                case DESTINATION -> "--dports ";
                case EITHER -> "--ports ";
            };
            return " -m multiport " + (m.inverted() ? "! " : "") + option + portList(m.ports());
        } else if (match instanceof NthMatch n) {
            return " -m statistic --mode nth " + (n.inverted() ? "! " : "") + "--every " + n.every()
                    + " --packet " + n.packet();
        } else if (match instanceof RandomMatch r) {
            return " -m statistic --mode random " + (r.inverted() ? "! " : "") + "--probability "
                    + probability(r.threshold());
        } else if (match instanceof CommentMatch c) {
            return " -m comment --comment " + quoted(c.text());
        } else if (match instanceof MarkMatch m) {
            return " -m mark " + (m.inverted() ? "! " : "") + "--mark " + valueMask(m.value(), m.mask());
        } else if (match instanceof AddrTypeMatch a) {
            return a.options();
        } else if (match instanceof RecentMatch r) {
            return r.options();
        }
        throw new IllegalStateException("unknown match " + match);
    }

    private static String targetName(Target target) {
        if (target instanceof DnatTarget) {
            return "DNAT";
        } else if (target instanceof RedirectTarget) {
            return "REDIRECT";
        } else if (target instanceof VerdictTarget v) {
            return v.verdict().name();
        } else if (target instanceof JumpTarget j) {
            return j.chain();
        } else if (target instanceof PassiveTarget p) {
            return p.name();
        }
        throw new IllegalStateException("unknown target " + target);
    }

    private static String targetOptions(Target target) {
        if (target instanceof DnatTarget d) {
            return " --to-destination " + OptionValues.natRangeText(d.firstAddress(), d.lastAddress(), d.ports())
                    + (d.random() ? " --random" : "") + (d.persistent() ? " --persistent" : "");
        } else if (target instanceof RedirectTarget r) {
            return (r.ports() == null ? "" : " --to-ports " + OptionValues.portRangeText(r.ports(), "-"))
                    + (r.random() ? " --random" : "");
        } else if (target instanceof SnatTarget t) {
            return " --to-source " + OptionValues.natRangeText(t.firstAddress(), t.lastAddress(), t.ports())
                    + (t.random() ? " --random" : "") + (t.randomFully() ? " --random-fully" : "")
                    + (t.persistent() ? " --persistent" : "");
        } else if (target instanceof MasqueradeTarget t) {
            return (t.ports() == null ? "" : " --to-ports " + OptionValues.portRangeText(t.ports(), "-"))
                    + (t.random() ? " --random" : "") + (t.randomFully() ? " --random-fully" : "");
        } else if (target instanceof MarkTarget t) {
            return " --set-xmark 0x" + Long.toHexString(t.value()) + "/0x" + Long.toHexString(t.mask());
        } else if (target instanceof LogTarget t) {
            return (t.prefix() == null ? "" : " --log-prefix " + quoted(t.prefix()))
                    + (t.level() == LogTarget.DEFAULT_LEVEL ? "" : " --log-level " + t.level());
        }
        return "";
    }

    /** A comment or log prefix as iptables-save writes it: bare when only letters and digits, else quoted. */
    static String quoted(String text) {
        boolean bare = !text.isEmpty();
        for (int i = 0; i < text.length() && bare; i++) {
            char c = text.charAt(i);
            bare = c < 128 && Character.isLetterOrDigit(c);
        }
        if (bare) {
            return text;
        }
        StringBuilder sb = new StringBuilder("\"");
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '"' || c == '\\' || c == '\'') {
                sb.append('\\');
            }
            sb.append(c);
        }
        return sb.append('"').toString();
    }

    private static String ports(PortRange range) {
        return OptionValues.portRangeText(range, ":");
    }

    private static String portList(List<PortRange> list) {
        StringBuilder sb = new StringBuilder();
        for (PortRange r : list) {
            if (sb.length() > 0) {
                sb.append(',');
            }
            sb.append(ports(r));
        }
        return sb.toString();
    }

    /** The stored threshold over 2^31 with 11 decimals, as {@code printf("%.11f")} rounds it. */
    static String probability(long threshold) {
        return new BigDecimal(threshold).divide(BigDecimal.valueOf(1L << 31))
                .setScale(11, RoundingMode.HALF_EVEN).toPlainString();
    }

    private static String valueMask(long value, long mask) {
        return "0x" + Long.toHexString(value) + (mask == ALL_BITS ? "" : "/0x" + Long.toHexString(mask));
    }

    static String protocolName(int number) {
        for (var e : OptionValues.PROTOCOLS.entrySet()) {
            if (e.getValue() == number) {
                return e.getKey();
            }
        }
        return Integer.toString(number);
    }

    // ---------------------------------------------------------------- iptables-save

    /**
     * {@code iptables-save -t nat} ({@code -c} when {@code ruleCounters}): the {@code -S} rules framed by
     * {@code *nat}, chain lines with the policy counters, {@code COMMIT} and the two {@code #} lines, which
     * name {@code generator} (e.g. {@code "nthlb 0.1.0"}) and {@code when} in C's ctime form.
     */
    public static String save(Ruleset ruleset, CounterView counters, boolean ruleCounters, String generator,
                              ZonedDateTime when) {
        String stamp = CTIME.format(when);
        StringBuilder sb = new StringBuilder();
        sb.append("# Generated by ").append(generator).append(" on ").append(stamp).append('\n');
        sb.append("*nat\n");
        for (Chain chain : ruleset.chains()) {
            if (chain.isBuiltIn()) {
                sb.append(':').append(chain.name()).append(' ').append(chain.policy()).append(" [")
                        .append(counters.policyPackets(chain.name())).append(':')
                        .append(counters.policyBytes(chain.name())).append("]\n");
            } else {
                sb.append(':').append(chain.name()).append(" - [0:0]\n");
            }
        }
        for (Chain chain : ruleset.chains()) {
            for (int i = 0; i < chain.rules().size(); i++) {
                if (ruleCounters) {
                    sb.append('[').append(counters.packets(chain.name(), i)).append(':')
                            .append(counters.bytes(chain.name(), i)).append("] ");
                }
                sb.append(rule(chain.rules().get(i))).append('\n');
            }
        }
        sb.append("COMMIT\n");
        sb.append("# Completed on ").append(stamp).append('\n');
        return sb.toString();
    }

    // ---------------------------------------------------------------- -nvL

    /**
     * {@code iptables -t nat -nvL [CHAIN]} ({@code -nvxL} when {@code exact}); {@code onlyChain} null lists
     * every chain. Returns null when {@code onlyChain} names no chain.
     */
    public static String list(Ruleset ruleset, CounterView counters, boolean exact, String onlyChain) {
        StringBuilder sb = new StringBuilder();
        boolean first = true;
        for (Chain chain : ruleset.chains()) {
            if (onlyChain != null && !onlyChain.equals(chain.name())) {
                continue;
            }
            if (!first) {
                sb.append('\n');
            }
            first = false;
            sb.append("Chain ").append(chain.name());
            if (chain.isBuiltIn()) {
                sb.append(" (policy ").append(chain.policy()).append(' ')
                        .append(number(counters.policyPackets(chain.name()), exact).strip()).append(" packets, ")
                        .append(number(counters.policyBytes(chain.name()), exact).strip()).append(" bytes)\n");
            } else {
                sb.append(" (").append(references(ruleset, chain.name())).append(" references)\n");
            }
            sb.append(exact ? "    pkts      bytes" : " pkts bytes")
                    .append(" target     prot opt in     out     source               destination         \n");
            for (int i = 0; i < chain.rules().size(); i++) {
                Rule rule = chain.rules().get(i);
                sb.append(number(counters.packets(chain.name(), i), exact)).append(' ')
                        .append(number(counters.bytes(chain.name(), i), exact)).append(' ')
                        .append(listLine(rule)).append('\n');
            }
        }
        return first ? null : sb.toString();
    }

    private static int references(Ruleset ruleset, String name) {
        int n = 0;
        for (Chain chain : ruleset.chains()) {
            for (Rule rule : chain.rules()) {
                if (rule.target() instanceof JumpTarget j && j.chain().equals(name)) {
                    n++;
                }
            }
        }
        return n;
    }

    /** A counter as iptables shows it: up to 99999 as is, then rounded with K, M, G or T; exact with -x. */
    static String number(long n, boolean exact) {
        if (exact) {
            return String.format(Locale.ROOT, "%8d", n);
        }
        if (n <= 99999) {
            return String.format(Locale.ROOT, "%5d", n);
        }
        String suffixes = "KMGT";
        long v = n;
        int i = 0;
        v = (v + 500) / 1000;
        while (v > 9999 && i < suffixes.length() - 1) {
            v = (v + 500) / 1000;
            i++;
        }
        return String.format(Locale.ROOT, "%4d%c", v, suffixes.charAt(i));
    }

    /** The part of a {@code -nvL} line after the counters: target, prot, opt, in, out, addresses, matches. */
    static String listLine(Rule rule) {
        String target = rule.target() == null ? "" : targetName(rule.target());
        ProtocolMatch p = rule.protocol();
        char protocolInvert = p != null && p.inverted() ? '!' : ' ';
        String protocol = p == null ? "all" : protocolName(p.number());
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-9s %c%-4s --  %-6s %-6s %c%-19s %c%-19s ",
                target, protocolInvert, protocol, iface(rule.in()), iface(rule.out()),
                rule.source().inverted() ? '!' : ' ', address(rule.source()),
                rule.destination().inverted() ? '!' : ' ', address(rule.destination())));
        if (rule.target() instanceof JumpTarget j && j.goTo()) {
            sb.append("[goto] ");
        }
        for (Match match : rule.matches()) {
            sb.append(matchDescription(match));
        }
        if (rule.target() != null) {
            sb.append(targetDescription(rule.target()));
        }
        return sb.toString();
    }

    private static String iface(InterfaceMatch i) {
        return i == null ? "*" : (i.inverted() ? "!" : "") + i.name();
    }

    /** The address column without its {@code !}, which iptables prints in the column's leading space. */
    private static String address(AddressMatch a) {
        if (a.network().prefixLength() == 0) {
            return "0.0.0.0/0";
        }
        Cidr c = a.network();
        return Cidr.formatAddress(c.address())
                + (c.isHost() ? "" : "/" + c.prefixLength());
    }

    private static String matchDescription(Match match) {
        if (match instanceof PortMatch p) {
            return " " + p.protocol() + portDescription("spt", p.sourcePorts(), p.sourceInverted())
                    + portDescription("dpt", p.destinationPorts(), p.destinationInverted());
        } else if (match instanceof MultiportMatch m) {
            String which = switch (m.direction()) {
                case SOURCE -> "sports ";
                case DESTINATION -> "dports ";
                case EITHER -> "ports ";
            };
            return " multiport " + which + (m.inverted() ? " !" : "") + portList(m.ports());
        } else if (match instanceof NthMatch n) {
            return " statistic mode nth " + (n.inverted() ? "! " : "") + "every " + n.every()
                    + (n.packet() > 0 ? " packet " + n.packet() : "");
        } else if (match instanceof RandomMatch r) {
            return " statistic mode random " + (r.inverted() ? "! " : "") + "probability " + probability(r.threshold());
        } else if (match instanceof CommentMatch c) {
            return " /* " + c.text() + " */";
        } else if (match instanceof MarkMatch m) {
            return " mark match " + (m.inverted() ? "! " : "") + valueMask(m.value(), m.mask());
        } else if (match instanceof AddrTypeMatch a) {
            return a.description();
        } else if (match instanceof RecentMatch r) {
            return r.description();
        }
        throw new IllegalStateException("unknown match " + match);
    }

    private static String portDescription(String name, PortRange range, boolean inverted) {
        if (range.equals(PortRange.ALL) && !inverted) {
            return "";
        }
        String not = inverted ? "!" : "";
        return range.isSingle() ? " " + name + ":" + not + range.first()
                : " " + name + "s:" + not + range.first() + ":" + range.last();
    }

    private static String targetDescription(Target target) {
        if (target instanceof DnatTarget d) {
            return " to:" + OptionValues.natRangeText(d.firstAddress(), d.lastAddress(), d.ports())
                    + (d.random() ? " random" : "") + (d.persistent() ? " persistent" : "");
        } else if (target instanceof RedirectTarget r) {
            return (r.ports() == null ? "" : " redir ports " + OptionValues.portRangeText(r.ports(), "-"))
                    + (r.random() ? " random" : "");
        } else if (target instanceof SnatTarget t) {
            return " to:" + OptionValues.natRangeText(t.firstAddress(), t.lastAddress(), t.ports())
                    + (t.random() ? " random" : "") + (t.randomFully() ? " random-fully" : "")
                    + (t.persistent() ? " persistent" : "");
        } else if (target instanceof MasqueradeTarget t) {
            return (t.ports() == null ? "" : " masq ports: " + OptionValues.portRangeText(t.ports(), "-"))
                    + (t.random() ? " random" : "") + (t.randomFully() ? " random-fully" : "");
        } else if (target instanceof MarkTarget t) {
            return markDescription(t.value(), t.mask());
        } else if (target instanceof LogTarget t) {
            return " LOG flags 0 level " + t.level() + (t.prefix() == null ? "" : " prefix \"" + t.prefix() + '"');
        }
        return "";
    }

    /** How {@code -L} names a MARK: by the variant that gives the same value and mask. */
    private static String markDescription(long v, long m) {
        String hexV = "0x" + Long.toHexString(v);
        if (m == ALL_BITS) {
            return " MARK set " + hexV;
        } else if (v == 0) {
            return " MARK and 0x" + Long.toHexString(~m & ALL_BITS);
        } else if (v == m) {
            return " MARK or " + hexV;
        } else if (m == 0) {
            return " MARK xor " + hexV;
        }
        return " MARK xset " + hexV + "/0x" + Long.toHexString(m);
    }
}
