package io.nthlb.rules;

import static io.nthlb.rules.OptionValues.parsePort;
import static io.nthlb.rules.OptionValues.parsePortRange;
import static io.nthlb.rules.OptionValues.parseUnsigned;
import static io.nthlb.rules.OptionValues.parseValueMask;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * A {@code -m} match being read: which options it takes, and the checks iptables runs when the rule ends.
 * The matches nthlb knows are its nested classes.
 */
interface MatchBuilder {
    boolean accepts(String option);

    void option(String option, RuleReader r);

    Match build();

    final class PortMatchBuilder implements MatchBuilder {
        private final String name;
        private PortRange sport = PortRange.ALL;
        private PortRange dport = PortRange.ALL;
        private boolean sportInv;
        private boolean dportInv;
        private boolean sportSeen;
        private boolean dportSeen;

        PortMatchBuilder(String name) {
            this.name = name;
        }

        @Override
        public boolean accepts(String o) {
            return Set.of("--sport", "--source-port", "--dport", "--destination-port").contains(o)
                    || name.equals("sctp") && o.equals("--chunk-types");
        }

        @Override
        public void option(String o, RuleReader r) {
            if (o.equals("--chunk-types")) {
                throw new RuleException("nthlb: sctp --chunk-types is not supported (nthlb relays TCP only)");
            }
            boolean inv = r.takeInvert();
            String arg = r.argument(o);
            if (o.equals("--sport") || o.equals("--source-port")) {
                if (sportSeen) {
                    throw new RuleException("Only one `--source-port' allowed");
                }
                sportSeen = true;
                sport = parsePortRange(arg, name);
                sportInv = inv;
            } else {
                if (dportSeen) {
                    throw new RuleException("Only one `--destination-port' allowed");
                }
                dportSeen = true;
                dport = parsePortRange(arg, name);
                dportInv = inv;
            }
        }

        @Override
        public Match build() {
            return new PortMatch(name, sport, sportInv, dport, dportInv);
        }

        void check(ProtocolMatch protocol) {
            int want = OptionValues.PROTOCOLS.get(name);
            if (name.equals("sctp") && (protocol == null || protocol.number() != want)) {
                // libxt_sctp leaves the protocol to the kernel, which refuses the rule at load.
                throw new InvalidRuleException();
            }
            if (protocol == null || protocol.number() != want) {
                throw new RuleException(name.toUpperCase(Locale.ROOT) + " match requires '-p " + name + "'");
            }
        }
    }

    final class MultiportBuilder implements MatchBuilder {
        private MultiportMatch.Direction direction;
        private List<PortRange> ports;
        private boolean inverted;

        @Override
        public boolean accepts(String o) {
            return Set.of("--sports", "--source-ports", "--dports", "--destination-ports", "--ports").contains(o);
        }

        @Override
        public void option(String o, RuleReader r) {
            if (!r.portProtocol()) {
                throw new RuleException("multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or `-p dccp'");
            }
            MultiportMatch.Direction given = switch (o) {
                case "--sports", "--source-ports" -> MultiportMatch.Direction.SOURCE;
                case "--dports", "--destination-ports" -> MultiportMatch.Direction.DESTINATION;
                default -> MultiportMatch.Direction.EITHER;
            };
            if (direction != null) {
                throw new RuleException("multiport: option \"" + longName(given)
                        + "\" cannot be used together with \"" + longName(direction) + "\".");
            }
            direction = given;
            inverted = r.takeInvert();
            String arg = r.argument(o);
            String protocol = r.protocol.number() == ProtocolMatch.UDP ? "udp" : "tcp";
            ports = new ArrayList<>();
            int slots = 0;
            for (String part : arg.split(",", -1)) {
                PortRange range;
                int colon = part.indexOf(':');
                if (colon >= 0) {
                    // Unlike --dport, multiport wants both ends of a range.
                    int first = parsePort(part.substring(0, colon), protocol);
                    int last = parsePort(part.substring(colon + 1), protocol);
                    if (first > last) {
                        throw new RuleException("invalid portrange specified");
                    }
                    range = new PortRange(first, last);
                    slots += 2;
                } else {
                    range = PortRange.of(parsePort(part, protocol));
                    slots += 1;
                }
                if (slots > 15) {
                    throw new RuleException("too many ports specified");
                }
                ports.add(range);
            }
        }

        private static String longName(MultiportMatch.Direction d) {
            return switch (d) {
                case SOURCE -> "--source-ports";
                case DESTINATION -> "--destination-ports";
                case EITHER -> "--ports";
            };
        }

        @Override
        public Match build() {
            if (direction == null) {
                throw new RuleException("multiport expection an option");
            }
            return new MultiportMatch(direction, ports, inverted);
        }
    }

    final class StatisticBuilder implements MatchBuilder {
        private String mode;
        private Long every;
        private Long packet;
        private Double probability;
        private boolean everyInv;
        private boolean probabilityInv;

        @Override
        public boolean accepts(String o) {
            return Set.of("--mode", "--every", "--packet", "--probability").contains(o);
        }

        @Override
        public void option(String o, RuleReader r) {
            boolean inv = r.takeInvert();
            String arg = r.argument(o);
            switch (o) {
                case "--mode" -> {
                    if (inv) {
                        throw new RuleException("statistic: option \"--mode\" cannot be inverted.");
                    }
                    if (!arg.equals("nth") && !arg.equals("random")) {
                        throw new RuleException("Bad mode \"" + arg + "\"");
                    }
                    mode = arg;
                }
                case "--every" -> {
                    if (probability != null) {
                        throw excludes("--every");
                    }
                    long n = parseUnsigned(arg, 0);
                    if (n < 1 || n > 0xFFFFFFFFL) {
                        throw new RuleException("statistic: bad value for option \"--every\", or out of range"
                                + " (1-4294967295).");
                    }
                    every = n;
                    everyInv = inv;
                }
                case "--packet" -> {
                    if (probability != null) {
                        throw excludes("--packet");
                    }
                    if (inv) {
                        throw new RuleException("statistic: option \"--packet\" cannot be inverted.");
                    }
                    long n = parseUnsigned(arg, 0);
                    if (n < 0 || n > 0xFFFFFFFFL) {
                        throw new RuleException("statistic: bad value for option \"--packet\", or out of range"
                                + " (0-4294967295).");
                    }
                    packet = n;
                }
                default -> {
                    if (every != null || packet != null) {
                        throw excludes(every != null ? "--every" : "--packet");
                    }
                    double p;
                    try {
                        p = arg.isBlank() || !arg.strip().equals(arg) ? Double.NaN : Double.parseDouble(arg);
                    } catch (NumberFormatException e) {
                        p = Double.NaN;
                    }
                    if (!(p >= 0 && p <= 1) || arg.endsWith("d") || arg.endsWith("f") || arg.endsWith("D")
                            || arg.endsWith("F")) {
                        throw new RuleException("statistic: bad value for option \"--probability\", or out of"
                                + " range (0-1).");
                    }
                    probability = p;
                    probabilityInv = inv;
                }
            }
        }

        /** iptables names --probability first whichever of the pair came first. */
        private static RuleException excludes(String nthOption) {
            return new RuleException("statistic: option \"--probability\" cannot be used together with \""
                    + nthOption + "\".");
        }

        @Override
        public Match build() {
            boolean nth = "nth".equals(mode);
            if (!nth && probability == null) {
                throw new RuleException("--probability must be specified when using random mode");
            }
            if (nth && every == null && packet == null) {
                throw new RuleException("--every and --packet must be specified when using nth mode");
            }
            if (!nth) {
                // iptables stores round(p * 2^31); the kernel compares 31 random bits against it.
                long threshold = Math.round(probability * 2147483648.0);
                return new RandomMatch(threshold, probabilityInv);
            }
            long n = every == null ? 1 : every;
            long p = packet == null ? 0 : packet;
            if (p > n - 1) {
                throw new RuleException("the --packet p must be 0 <= p <= n-1");
            }
            if (every != null && packet == null) {
                throw new RuleException("statistic: option \"--every\" also requires \"--packet\".");
            }
            if (packet != null && every == null) {
                throw new RuleException("statistic: option \"--packet\" also requires \"--every\".");
            }
            return new NthMatch(n, p, everyInv);
        }
    }

    final class CommentBuilder implements MatchBuilder {
        private String text;

        @Override
        public boolean accepts(String o) {
            return o.equals("--comment");
        }

        @Override
        public void option(String o, RuleReader r) {
            r.noInvert("--comment");
            if (text != null) {
                throw new RuleException("comment: option \"--comment\" can only be used once.");
            }
            String arg = r.argument(o);
            // iptables (nf_tables) cuts a longer comment to 255 characters without a word.
            text = arg.length() > 255 ? arg.substring(0, 255) : arg;
        }

        @Override
        public Match build() {
            if (text == null) {
                throw new RuleException("comment: option \"--comment\" must be specified");
            }
            return new CommentMatch(text);
        }
    }

    final class MarkBuilder implements MatchBuilder {
        private Long value;
        private long mask = 0xFFFFFFFFL;
        private boolean inverted;

        @Override
        public boolean accepts(String o) {
            return o.equals("--mark");
        }

        @Override
        public void option(String o, RuleReader r) {
            inverted = r.takeInvert();
            String arg = r.argument(o);
            long[] vm = parseValueMask(arg, "mark: bad integer value for option \"--mark\", or out of range.");
            value = vm[0];
            mask = vm[1];
        }

        @Override
        public Match build() {
            if (value == null) {
                throw new RuleException("mark: option \"--mark\" must be specified");
            }
            return new MarkMatch(value, mask, inverted);
        }
    }
}
