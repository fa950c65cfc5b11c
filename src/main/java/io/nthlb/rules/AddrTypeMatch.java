package io.nthlb.rules;

import java.util.List;
import java.util.Locale;

/**
 * {@code -m addrtype [!] --src-type T[,T...] [!] --dst-type T[,T...] [--limit-iface-in|--limit-iface-out]}:
 * the route type the kernel's local routing table gives the packet's source or destination address.
 *
 * <p>The types are bit sets, bit {@code i} for the kernel's route type {@code i} ({@code RTN_UNICAST} is 1,
 * {@code RTN_LOCAL} 2, ...); 0 means the option is absent. An address has exactly one type: see
 * {@link #typeOf}.
 *
 * @param sourceTypes         {@code --src-type}, or 0
 * @param sourceInverted      {@code ! --src-type}
 * @param destinationTypes    {@code --dst-type}, or 0
 * @param destinationInverted {@code ! --dst-type}
 * @param limit               which interface the lookup is limited to
 */
public record AddrTypeMatch(int sourceTypes, boolean sourceInverted, int destinationTypes,
                            boolean destinationInverted, Limit limit) implements Match {

    /** The kernel's route type names, by their number ({@code rtn_names} in iptables' libxt_addrtype.c). */
    public static final List<String> TYPE_NAMES = List.of("UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST",
            "MULTICAST", "BLACKHOLE", "UNREACHABLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE");
    public static final int UNICAST = 1;
    public static final int LOCAL = 2;
    public static final int BROADCAST = 3;
    public static final int MULTICAST = 5;

    /** {@code --limit-iface-in} and {@code --limit-iface-out}: only addresses of that interface are local. */
    public enum Limit { NONE, IN, OUT }

    /**
     * The type {@code inet_dev_addr_type} gives an IPv4 address: 0.0.0.0/8 and 255.255.255.255 are BROADCAST,
     * 224.0.0.0/4 MULTICAST; otherwise what the local routing table holds for it (LOCAL for the host's own
     * addresses, BROADCAST for an interface's broadcast address), and UNICAST for everything else.
     */
    public static int typeOf(int address, boolean local, boolean broadcast) {
        if ((address >>> 24) == 0 || address == -1) {
            return BROADCAST;
        }
        if ((address >>> 28) == 0xE) {
            return MULTICAST;
        }
        return local ? LOCAL : broadcast ? BROADCAST : UNICAST;
    }

    /** Whether an address of type {@code type} passes a type option. */
    public static boolean passes(int types, boolean inverted, int type) {
        return types == 0 || ((types & (1 << type)) != 0) != inverted;
    }

    /** The options as {@code iptables -S} prints them, with a leading space. */
    String options() {
        StringBuilder sb = new StringBuilder(" -m addrtype");
        if (sourceTypes != 0) {
            sb.append(sourceInverted ? " ! --src-type " : " --src-type ").append(names(sourceTypes));
        }
        if (destinationTypes != 0) {
            sb.append(destinationInverted ? " ! --dst-type " : " --dst-type ").append(names(destinationTypes));
        }
        return sb.append(limitText(" --limit-iface-in", " --limit-iface-out")).toString();
    }

    /** The words {@code iptables -L} prints, with a leading space. */
    String description() {
        StringBuilder sb = new StringBuilder(" ADDRTYPE match");
        if (sourceTypes != 0) {
            sb.append(" src-type ").append(sourceInverted ? "!" : "").append(names(sourceTypes));
        }
        if (destinationTypes != 0) {
            sb.append(" dst-type ").append(destinationInverted ? "!" : "").append(names(destinationTypes));
        }
        return sb.append(limitText(" limit-in", " limit-out")).toString();
    }

    private String limitText(String in, String out) {
        return switch (limit) {
            case NONE -> "";
            case IN -> in;
            case OUT -> out;
        };
    }

    private static String names(int types) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < TYPE_NAMES.size(); i++) {
            if ((types & (1 << i)) != 0) {
                sb.append(sb.length() == 0 ? "" : ",").append(TYPE_NAMES.get(i));
            }
        }
        return sb.toString();
    }

    /** Reads the options as iptables 1.8.9 does, with its messages. */
    static final class Reader implements MatchBuilder {
        private final String chain;
        private int source;
        private boolean sourceInv;
        private int destination;
        private boolean destinationInv;
        private Limit limit = Limit.NONE;

        /** {@code chain}: the chain the rule is added to, where the kernel checks the interface limits. */
        Reader(String chain) {
            this.chain = chain;
        }

        @Override
        public boolean accepts(String option) {
            return switch (option) {
                case "--src-type", "--dst-type", "--limit-iface-in", "--limit-iface-out" -> true;
                default -> false;
            };
        }

        @Override
        public void option(String option, RuleReader r) {
            boolean inverted = r.takeInvert();
            String argument = option.endsWith("-type") ? r.argument(option) : null;
            switch (option) {
                case "--src-type" -> {
                    if (source != 0) {
                        throw once(option);
                    }
                    source = parseTypes(argument);
                    sourceInv = inverted;
                }
                case "--dst-type" -> {
                    if (destination != 0) {
                        throw once(option);
                    }
                    destination = parseTypes(argument);
                    destinationInv = inverted;
                }
                default -> {
                    if (inverted) {
                        throw new RuleException("addrtype: option \"" + option + "\" cannot be inverted.");
                    }
                    Limit given = option.equals("--limit-iface-in") ? Limit.IN : Limit.OUT;
                    if (limit == given) {
                        throw once(option);
                    }
                    if (limit != Limit.NONE) {
                        throw new RuleException("addrtype: option \"--limit-iface-in\" cannot be used"
                                + " together with \"--limit-iface-out\".");
                    }
                    limit = given;
                }
            }
        }

        private static RuleException once(String option) {
            return new RuleException("addrtype: option \"" + option + "\" can only be used once.");
        }

        /**
         * A comma list of type names, each matched case-insensitively as a prefix of the first type name it
         * begins ({@code loc} is LOCAL, {@code u} UNSPEC), as libxt_addrtype's {@code parse_types} does.
         */
        static int parseTypes(String text) {
            int mask = 0;
            String rest = text;
            int comma;
            while ((comma = rest.indexOf(',')) >= 0) {
                int type = comma == 0 ? -1 : type(rest.substring(0, comma));
                if (type < 0) {
                    throw new RuleException("addrtype: bad type `" + rest + "'");
                }
                mask |= 1 << type;
                rest = rest.substring(comma + 1);
            }
            int type = rest.isEmpty() ? -1 : type(rest);
            if (type < 0) {
                throw new RuleException("addrtype: bad type \"" + rest + "\"");
            }
            return mask | 1 << type;
        }

        private static int type(String word) {
            String upper = word.toUpperCase(Locale.ROOT);
            for (int i = 0; i < TYPE_NAMES.size(); i++) {
                if (TYPE_NAMES.get(i).startsWith(upper)) {
                    return i;
                }
            }
            return -1;
        }

        @Override
        public Match build() {
            if (source == 0 && destination == 0) {
                throw new RuleException("addrtype: you must specify --src-type or --dst-type");
            }
            // The kernel refuses an interface limit where that interface does not exist (addrtype_mt_checkentry_v1).
            boolean noIn = chain.equals("OUTPUT") || chain.equals("POSTROUTING");
            boolean noOut = chain.equals("PREROUTING") || chain.equals("INPUT");
            if (limit == Limit.IN && noIn || limit == Limit.OUT && noOut) {
                throw new InvalidRuleException();
            }
            return new AddrTypeMatch(source, sourceInv, destination, destinationInv, limit);
        }
    }
}
