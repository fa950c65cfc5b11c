package io.nthlb.rules;

import static io.nthlb.rules.OptionValues.parseAddress;
import static io.nthlb.rules.OptionValues.parseNatPortRange;
import static io.nthlb.rules.OptionValues.parseUnsigned;
import static io.nthlb.rules.OptionValues.parseValueMask;

import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * A {@code -j} target being read: its options and the checks iptables runs when the rule ends. The targets
 * nthlb knows are its nested classes.
 */
abstract class TargetBuilder {
    boolean accepts(String option) {
        return false;
    }

    void option(String option, RuleReader r) {
        throw new RuleException("unknown option \"" + option + "\"");
    }

    abstract Target build();

    static final class FixedTarget extends TargetBuilder {
        private final Target target;

        FixedTarget(Target target) {
            this.target = target;
        }

        @Override
        Target build() {
            return target;
        }
    }

    /** The NAT targets: flags that take no value (each target accepts its own), and one option that does. */
    abstract static class NatFlagsBuilder extends TargetBuilder {
        boolean random;
        boolean randomFully;
        boolean persistent;

        @Override
        final void option(String o, RuleReader r) {
            r.noInvert(o);
            switch (o) {
                case "--random" -> random = true;
                case "--random-fully" -> randomFully = true;
                case "--persistent" -> persistent = true;
                default -> valueOption(o, r);
            }
        }

        /** The target's option that takes a value. */
        abstract void valueOption(String o, RuleReader r);
    }

    /** DNAT and SNAT: one address range with an optional port range, plus flags. */
    static final class NatTargetBuilder extends NatFlagsBuilder {
        private final String name;
        private final String toOption;
        private String to;
        private int[] range;
        private PortRange ports;

        NatTargetBuilder(String name, String toOption) {
            this.name = name;
            this.toOption = toOption;
        }

        @Override
        boolean accepts(String o) {
            return o.equals(toOption) || o.equals("--random") || o.equals("--persistent")
                    || (name.equals("SNAT") && o.equals("--random-fully"));
        }

        @Override
        void valueOption(String o, RuleReader r) {
            if (to != null) {
                throw new RuleException(name + ": option \"" + toOption + "\" can only be used once.");
            }
            to = r.argument(o);
            parseTo(to, r);
        }

        private void parseTo(String text, RuleReader r) {
            String addr = text;
            int colon = text.indexOf(':');
            if (colon >= 0) {
                if (!r.portProtocol()) {
                    throw new RuleException("Need TCP, UDP, SCTP or DCCP with port specification");
                }
                addr = text.substring(0, colon);
                ports = parseNatPortRange(text.substring(colon + 1));
            }
            if (addr.isEmpty()) {
                range = new int[] {0, 0};
                return;
            }
            int dash = addr.indexOf('-');
            if (dash < 0) {
                int a = parseAddress(addr);
                range = new int[] {a, a};
            } else {
                range = new int[] {parseAddress(addr.substring(0, dash)), parseAddress(addr.substring(dash + 1))};
            }
        }

        @Override
        Target build() {
            if (to == null) {
                throw new RuleException(name + ": option \"" + toOption + "\" must be specified");
            }
            if (name.equals("DNAT")) {
                return new DnatTarget(range[0], range[1], ports, random, persistent);
            }
            return new SnatTarget(range[0], range[1], ports, random, randomFully, persistent);
        }
    }

    /** REDIRECT and MASQUERADE: an optional port range and flags. */
    static final class PortsTargetBuilder extends NatFlagsBuilder {
        private final String name;
        private PortRange ports;

        PortsTargetBuilder(String name) {
            this.name = name;
        }

        @Override
        boolean accepts(String o) {
            return o.equals("--to-ports") || o.equals("--random")
                    || (name.equals("MASQUERADE") && o.equals("--random-fully"));
        }

        @Override
        void valueOption(String o, RuleReader r) {
            String text = r.argument(o);
            if (!r.portProtocol()) {
                throw new RuleException("Need TCP, UDP, SCTP or DCCP with port specification");
            }
            ports = parseNatPortRange(text);
        }

        @Override
        Target build() {
            if (name.equals("REDIRECT")) {
                return new RedirectTarget(ports, random);
            }
            return new MasqueradeTarget(ports, random, randomFully);
        }
    }

    static final class MarkTargetBuilder extends TargetBuilder {
        private Long value;
        private long mask;
        private String given;

        @Override
        boolean accepts(String o) {
            return Set.of("--set-mark", "--set-xmark", "--or-mark", "--and-mark", "--xor-mark").contains(o);
        }

        @Override
        void option(String o, RuleReader r) {
            r.noInvert(o);
            if (given != null) {
                throw new RuleException("MARK: option \"" + o + "\" cannot be used together with \"" + given + "\".");
            }
            given = o;
            String arg = r.argument(o);
            String bad = "MARK: bad integer value for option \"" + o + "\", or out of range.";
            switch (o) {
                case "--set-xmark", "--set-mark" -> {
                    long[] vm = parseValueMask(arg, bad);
                    value = vm[0];
                    // --set-mark v/m zeroes the masked bits then sets v, which is --set-xmark v/m
                    // only when v lies inside m; iptables prints it that way regardless.
                    mask = vm[1];
                }
                default -> {
                    long v = parseUnsigned(arg, 0);
                    if (v < 0 || v > 0xFFFFFFFFL) {
                        throw new RuleException(bad);
                    }
                    switch (o) {
                        case "--or-mark" -> {
                            value = v;
                            mask = v;
                        }
                        case "--and-mark" -> {
                            value = 0L;
                            mask = ~v & 0xFFFFFFFFL;
                        }
                        default -> {
                            value = v;
                            mask = 0;
                        }
                    }
                }
            }
        }

        @Override
        Target build() {
            if (value == null) {
                throw new RuleException("MARK: One of the --set-xmark, --{and,or,xor,set}-mark options is required");
            }
            return new MarkTarget(value, mask);
        }
    }

    static final class LogTargetBuilder extends TargetBuilder {
        private String prefix;
        private Integer level;

        @Override
        boolean accepts(String o) {
            return o.equals("--log-prefix") || o.equals("--log-level");
        }

        @Override
        void option(String o, RuleReader r) {
            r.noInvert(o);
            String arg = r.argument(o);
            if (o.equals("--log-prefix")) {
                // iptables (nf_tables) cuts a longer prefix to 29 characters without a word.
                prefix = arg.length() > 29 ? arg.substring(0, 29) : arg;
            } else {
                List<String> names = List.of("emerg", "alert", "crit", "error", "warning", "notice", "info", "debug");
                int idx = names.indexOf(arg.toLowerCase(Locale.ROOT));
                if (arg.equalsIgnoreCase("panic")) {
                    idx = 0;
                } else if (arg.equalsIgnoreCase("err")) {
                    idx = 3;
                } else if (arg.equalsIgnoreCase("warn")) {
                    idx = 4;
                }
                if (idx < 0) {
                    long n = parseUnsigned(arg, 10);
                    if (n < 0 || n > 7) {
                        throw new RuleException("log level \"" + arg + "\" unknown");
                    }
                    idx = (int) n;
                }
                level = idx;
            }
        }

        @Override
        Target build() {
            return new LogTarget(prefix, level == null ? LogTarget.DEFAULT_LEVEL : level);
        }
    }
}
